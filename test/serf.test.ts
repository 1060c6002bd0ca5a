/**
 * HashiCorp Serf as a black box: the RPC client against a real agent, a small real cluster that
 * detects a SIGKILLed member at every survivor, and hygiene (no agent process, port or temp dir
 * left behind, even when the parent is SIGKILLed). Skips, saying why, where `serf` is missing
 * (scripts/install-serf.sh installs Debian's package).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Reaper } from '../src/blackbox/reaper.ts';
import { freeLoopbackPort, portInUse } from '../src/blackbox/ports.ts';
import { StatsdReceiver, metricName } from '../src/blackbox/statsd.ts';
import { SerfAgent, serfUnavailableReason } from '../src/blackbox/serf/agent.ts';
import { runCluster } from '../src/blackbox/cluster.ts';
import { serfAdapter } from '../src/blackbox/serf/adapter.ts';
import { formatAddr, type StreamEvent } from '../src/blackbox/serf/rpc.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const reason = serfUnavailableReason();
const skip = reason !== null;
const because = reason ? ` — skipped: ${reason}` : '';

const alive = (pid: number) => {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s[s.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) return false;
    await sleep(50);
  }
  return true;
}

describe('statsd parsing (no agent needed)', () => {
  it.each([
    ['serf-agent.memberlist.udp.sent', 'memberlist.udp.sent'],
    ['serf-agent.host-1.example.memberlist.tcp.sent', 'memberlist.tcp.sent'],
    ['memberlist.udp.received', 'memberlist.udp.received'],
    ['serf-agent.serf.member.join', 'serf.member.join'],
  ])('metric %s is summed as %s', (key, name) => {
    expect(metricName(key)).toBe(name);
  });
});

describe.skipIf(skip)(`serf agent over RPC${because}`, () => {
  let reaper: Reaper;
  const agents: SerfAgent[] = [];
  let statsd: StatsdReceiver;

  beforeAll(async () => {
    reaper = await Reaper.start();
    statsd = await StatsdReceiver.start();
    for (const name of ['a', 'b']) {
      agents.push(
        await SerfAgent.start({
          name,
          bindPort: await freeLoopbackPort(),
          rpcPort: await freeLoopbackPort(),
          statsdAddr: name === 'a' ? statsd.address : undefined,
          tags: { role: `fe-${name}` },
          reaper,
        }),
      );
    }
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    statsd?.close();
    reaper?.close();
  });

  it('members lists the agent itself with its tags, address and status alive', async () => {
    const c = await agents[0].rpc();
    try {
      const ms = await c.members();
      expect(ms.map((m) => [m.Name, m.Status, m.Tags.role, `${formatAddr(m.Addr)}:${m.Port}`])).toEqual([['a', 'alive', 'fe-a', agents[0].bindAddr]]);
    } finally {
      c.close();
    }
  });

  it('join, member events and user events arrive on the stream; a bad filter is an error and the connection lives on', async () => {
    const ca = await agents[0].rpc();
    const cb = await agents[1].rpc();
    const events: StreamEvent[] = [];
    try {
      await expect(ca.stream('no-such-event', () => {})).rejects.toThrow(/Invalid event filter/);
      await ca.stream('member-join,user:shard', (e) => events.push(e));
      expect(await cb.join([agents[0].bindAddr])).toBe(1);
      expect(await until(() => events.some((e) => e.Event === 'member-join' && e.Members.some((m) => m.Name === 'b')), 10_000)).toBe(true);
      await cb.userEvent('shard', new Uint8Array([7, 1, 2]));
      expect(await until(() => events.some((e) => e.Event === 'user'), 10_000)).toBe(true);
      const user = events.find((e) => e.Event === 'user');
      expect(user).toMatchObject({ Event: 'user', Name: 'shard' });
      expect([...(user as { Payload: Uint8Array }).Payload]).toEqual([7, 1, 2]);
      expect((await ca.members()).map((m) => m.Name).sort()).toEqual(['a', 'b']);
    } finally {
      ca.close();
      cb.close();
    }
  });

  it("memberlist's own traffic counters reach the statsd receiver", async () => {
    expect(await until(() => statsd.traffic().udpPacketsSent > 0, 10_000)).toBe(true);
    const t = statsd.traffic();
    expect(t.udpBytesSent).toBeGreaterThan(t.udpPacketsSent); // bytes, not a count
    expect(statsd.malformed).toBe(0);
  });
});

describe.skipIf(skip)(`a real serf cluster${because}`, () => {
  it('every survivor of a 4-agent cluster detects a SIGKILLed member, and nothing is left behind', async () => {
    const r = await runCluster({ adapter: serfAdapter, nodes: 4, fault: { kind: 'crash', count: 1 }, seed: 3, settleMs: 1000, tailMs: 500, faultTimeoutMs: 40_000 });
    expect(r.crashed).toHaveLength(1);
    for (const source of [r.log, r.stream]) {
      expect(source.undetectedCrashes).toBe(0);
      expect(source.detectionAllMs).toHaveLength(1);
      expect(source.falsePositives).toBe(0);
    }
    // the agent's coalescer holds member events at least its 1 s quiescent period
    expect(r.stream.detectionAllMs[0]).toBeGreaterThan(r.log.detectionAllMs[0]);
    expect(r.traffic.messagesPerNodePerSec).toBeGreaterThan(0);
    // the oldest agent's age at the fault (validate models the same age): at least the quiet time
    expect(r.timeline.agentAgeAtFaultMs).toBeGreaterThanOrEqual(1000);
    expect(r.timeline.agentAgeAtFaultMs).toBeLessThanOrEqual(r.timeline.faultAtMs);
    for (const a of r.agents) {
      expect(alive(a.pid)).toBe(false);
      for (const port of a.ports) expect(await portInUse(port)).toBe(false);
    }
  });

  it('a member joining a running 3-agent cluster is in every view, and the join is timed once', async () => {
    const r = await runCluster({ adapter: serfAdapter, nodes: 3, fault: { kind: 'join' }, seed: 1, settleMs: 500, tailMs: 500, faultTimeoutMs: 30_000 });
    expect(r.agents).toHaveLength(4);
    for (const source of [r.log, r.stream]) {
      expect(source.unconvergedJoins).toBe(0);
      expect(source.joinMs).toHaveLength(1);
      expect(source.falsePositives).toBe(0);
    }
    for (const a of r.agents) expect(alive(a.pid)).toBe(false);
  });

  it('an agent dies with its parent: the reaper kills it when the parent is SIGKILLed', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/fixtures/serf-orphan.ts')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (b) => (out += b));
    try {
      expect(await until(() => out.includes('\n'), 30_000)).toBe(true);
      const info = JSON.parse(out.split('\n')[0]) as { pid: number; reaper: number; rpcPort: number };
      expect(alive(info.pid)).toBe(true);
      child.kill('SIGKILL');
      expect(await until(() => !alive(info.pid), 10_000)).toBe(true);
      expect(await until(() => !alive(info.reaper), 10_000)).toBe(true);
      expect(await until(async () => !(await portInUse(info.rpcPort)), 5000)).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
