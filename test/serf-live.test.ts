// Serf as a black-box protocol in the live runtime (`--runtime live -p serf`): every FE node
// process supervises a real `serf agent`. N = 16, short scenarios (the file stays within ~90 s on
// 2 cores); bounds come from memberlist's LAN parameters, never from speed. Skips, naming the
// reason, where serf does not run.
import { pollUntil } from './helpers.ts';
import { readFileSync, readdirSync, readlinkSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serfUnavailableReason } from '../src/blackbox/serf/agent.ts';
import { portInUse } from '../src/blackbox/ports.ts';
import { resolveRun, type RunRequest } from '../src/harness/run-config.ts';
import { parseScenario } from '../src/harness/scenario.ts';
import { processAlive } from '../src/live/procfs.ts';
import { ResultSchema, type Result } from '../src/results/schema.ts';
import { getRuntime } from '../src/runtimes.ts';
import { spawn } from 'node:child_process';
import { LiveBackend } from '../src/live/backend.ts';
import type { NodeProc } from '../src/live/node-proc.ts';
import type { FleetDriver } from '../src/fleet/driver.ts';
import type { LiveSampler } from '../src/live/sampler.ts';

const SERF = serfUnavailableReason();
const N = 16;

/** memberlist DefaultLANConfig: SuspicionMult 4, ProbeInterval 1 s; suspicion min = 4 × max(1, log10 N) s */
const SUSPICION_MIN_MS = 4 * Math.max(1, Math.log10(N)) * 1000;

interface Agent {
  pid: number;
  ports: number[];
  cwd: string;
}

/** The processes whose parent is one of `parents` (a node's agent), with the ports and dir they use. */
function agentsOf(parents: number[]): Agent[] {
  const out: Agent[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!parents.includes(ppid)) continue;
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (!argv.includes('agent')) continue;
      const ports = argv.flatMap((a) => /^-(?:bind|rpc-addr)=127\.0\.0\.1:(\d+)$/.exec(a)?.slice(1) ?? []).map(Number);
      out.push({ pid: Number(d), ports, cwd: readlinkSync(`/proc/${d}/cwd`) });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Runs through the runtime registry (as the CLI does) and checks nothing the run made survives it. */
async function live(req: RunRequest): Promise<Result> {
  let started: { pids: number[]; cgroups: string[] } | null = null;
  let agents: Agent[] = [];
  const r = await getRuntime('live').run(resolveRun(req), {
    transport: 'ws',
    onStarted: (i) => {
      started = i;
      agents = agentsOf(i.pids);
    },
  });
  ResultSchema.parse(r);
  expect(started).not.toBeNull();
  // one agent per node process, each with its gossip and RPC port
  expect(agents.length).toBe(r.live!.nodes.length);
  for (const a of agents) expect(a.ports).toHaveLength(2);
  const pids = [...started!.pids, ...agents.map((a) => a.pid)];
  await pollUntil(() => !pids.some(processAlive), 60, 50);
  expect(pids.filter(processAlive)).toEqual([]);
  expect(started!.cgroups.filter((d) => existsSync(d))).toEqual([]);
  const busy: number[] = [];
  for (const p of agents.flatMap((a) => a.ports)) if (await portInUse(p)) busy.push(p);
  expect(busy).toEqual([]);
  expect(agents.map((a) => a.cwd).filter((d) => existsSync(d))).toEqual([]);
  return r;
}

/** The node's figures are host + agent: more threads than a node host alone has (7–11). */
function expectHostAndAgentCounted(r: Result): void {
  const per = r.live!.perNode;
  expect(per.threadsPeak).toBeGreaterThan(11);
  expect(per.rssPeakBytes).toBeGreaterThan(0);
  expect(r.live!.framing).toMatch(/node host process \+ its agent process/);
  expect(r.live!.faults).toMatch(/SIGSTOP then SIGCONT of the node process and its agent/);
}

describe.skipIf(SERF !== null)(`--runtime live -p serf at N = ${N}${SERF ? ` (skipped: ${SERF})` : ''}`, () => {
  it('steady: every view whole, every request answered, traffic from memberlist\'s own counters', async () => {
    const scenario = parseScenario({ name: 'serf-steady', description: 'serf live test', nodes: N, durationMs: 5000, reshards: { perSec: 2 } }, 'serf-steady');
    const r = await live({ protocol: 'serf', scenario, nodes: N });
    expect(r.live!.warmup.converged).toBe(true);
    expect(r.summary.membership.viewAccuracy).toBe(1);
    expect(r.summary.membership.falsePositives).toBe(0);
    expect(r.summary.requests.failed).toBe(0);
    expect(r.summary.requests.total).toBeGreaterThan(0);
    // every member pings once per ProbeInterval (1 s) and acks the pings it gets
    expect(r.summary.messages.perNodePerSec).toBeGreaterThanOrEqual(1);
    expect(r.summary.messages.bytesPerNodePerSec).toBeGreaterThan(r.summary.messages.perNodePerSec);
    expectHostAndAgentCounted(r);
  });

  it('crash: every survivor drops the 3 crashed members, no sooner than memberlist\'s suspicion minimum', async () => {
    const scenario = parseScenario(
      { name: 'serf-crash', description: 'serf live test', nodes: N, durationMs: 20_000, reshards: { perSec: 1 }, events: [{ type: 'crash', atMs: 2000, count: 3 }] },
      'serf-crash',
    );
    const r = await live({ protocol: 'serf', scenario, nodes: N });
    const m = r.summary.membership;
    expect(m.undetectedCrashes).toBe(0);
    expect(m.detectionMs.first).not.toBeNull();
    expect(m.detectionMs.all).not.toBeNull();
    expect(m.detectionMs.first!.p50).toBeGreaterThanOrEqual(SUSPICION_MIN_MS);
    expect(m.detectionMs.all!.max).toBeGreaterThanOrEqual(m.detectionMs.first!.max);
    expect(m.falsePositives).toBe(0);
    expect(r.live!.nodes.filter((n) => n.end === 'crashed')).toHaveLength(3);
    expectHostAndAgentCounted(r);
  });

  it('kinesis-2020-mini: the 2 added FEs join every view; a constant-thread agent hits no thread limit', async () => {
    const r = await live({ protocol: 'serf', scenario: 'kinesis-2020-mini', nodes: N });
    const m = r.summary.membership;
    expect(m.unconvergedJoins).toBe(0);
    expect(m.joinConvergenceMs).not.toBeNull();
    expect(m.viewAccuracy).toBe(1);
    expect(r.summary.limitsHit).toEqual([]);
    expect(r.summary.requests.failed).toBe(0);
    expectHostAndAgentCounted(r);
  });
});

const procState = (pid: number) => {
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return st[st.lastIndexOf(')') + 2];
};

describe.skipIf(SERF !== null)(`serf agents and a SIGKILLed coordinator${SERF ? ` (skipped: ${SERF})` : ''}`, () => {
  it('no agent survives its coordinator, a paused node\'s (stopped) agent included', async () => {
    const root = resolve(import.meta.dirname, '..');
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(root, 'src/live/fixtures/coordinator-child.ts'), 'serf', '4', 'ws'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const info = await new Promise<{ pids: number[]; cgroups: string[] }>((res, rej) => {
        let buf = '';
        child.stdout!.on('data', (d: Buffer) => {
          buf += d.toString();
          const line = buf.split('\n').find((l) => l.startsWith('{'));
          if (line) res(JSON.parse(line));
        });
        child.once('exit', (code) => rej(new Error(`coordinator exited early (${code})`)));
      });
      const agents = agentsOf(info.pids);
      expect(agents).toHaveLength(4);
      await new Promise((r) => setTimeout(r, 500)); // the pause (at 100 ms) has happened
      child.kill('SIGKILL');
      const pids = [...info.pids, ...agents.map((a) => a.pid)];
      await pollUntil(() => !pids.some(processAlive) && !info.cgroups.some((d) => existsSync(d)), 100, 100);
      expect(pids.filter(processAlive)).toEqual([]);
      expect(info.cgroups.filter((d) => existsSync(d))).toEqual([]);
      expect(agents.map((a) => a.cwd).filter((d) => existsSync(d))).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('a node\'s second process (a black-box agent)', () => {
  it('is stopped by pause and continued by resume, with the node', async () => {
    const agent = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => agent.once('spawn', r));
      const signals: string[] = [];
      const node = { id: 0, exited: false, paused: false, extraPids: [agent.pid!], child: { kill: (s: string) => signals.push(s) } } as unknown as NodeProc;
      const driver = { cfg: { network: { lossRate: 0 } } } as unknown as FleetDriver;
      const backend = new LiveBackend(driver, [node], {} as LiveSampler, { fail: () => {}, ended: () => false, toLoadgen: () => {}, leaveGraceMs: 0 });
      backend.pause(0);
      await pollUntil(() => procState(agent.pid!) === 'T', 40, 25);
      expect([signals, procState(agent.pid!)]).toEqual([['SIGSTOP'], 'T']);
      backend.resume(0);
      await pollUntil(() => procState(agent.pid!) !== 'T', 40, 25);
      expect(signals).toEqual(['SIGSTOP', 'SIGCONT']);
      expect(procState(agent.pid!)).not.toBe('T');
    } finally {
      agent.kill('SIGKILL');
    }
  });
});

describe('a black-box protocol outside the live runtime', () => {
  it('the simulator refuses serf in one line', async () => {
    const cfg = resolveRun({ protocol: 'serf', scenario: 'steady', nodes: 4, durationMs: 1000 });
    await expect(getRuntime('sim').run(cfg)).rejects.toThrow(/^serf is a black-box protocol: live runtime only$/);
  });

  it.skipIf(SERF !== null)('the live runtime refuses loss and partition, which its drop filters cannot apply to an agent\'s UDP', async () => {
    for (const scenario of ['loss', 'partition']) {
      const cfg = resolveRun({ protocol: 'serf', scenario, nodes: 4, durationMs: 1000 });
      await expect(getRuntime('live').run(cfg)).rejects.toThrow(new RegExp(`^scenario ${scenario}: its ${scenario} event at \\d+ ms cannot be applied to serf`));
    }
  });
});
