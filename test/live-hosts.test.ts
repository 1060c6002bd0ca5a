// Live runs with nodes placed on hosts (--hosts): K network namespaces made by the run, and host
// agents listed in a hosts file. The namespace runs need root and namespaces (skipped with the
// reason otherwise). Every run checks that nothing it made survives it: processes, cgroups,
// namespaces, links, qdiscs and nftables rules (a namespace takes its qdiscs and ports with it).
import { pollUntil } from './helpers.ts';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../src/harness/scenario.ts';
import { resolveRun } from '../src/harness/run-config.ts';
import { runLive, type LiveOptions } from '../src/live/coordinator.ts';
import { startHostAgent } from '../src/live/host-agent.ts';
import { HOSTS_SCHEMA, parseHostsSpec } from '../src/live/hosts.ts';
import { describeSide, sideToHosts } from '../src/live/netns-faults.ts';
import { names } from '../src/live/netns-sweep.mjs';
import { netnsRuns, netnsUnavailableReason, runLeftovers } from '../src/live/netns.ts';
import { processAlive } from '../src/live/procfs.ts';
import { main } from '../src/cli/main.ts';
import { ResultSchema, type Result } from '../src/results/schema.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const reason = await netnsUnavailableReason();
const scenario = (name: string, fields: Record<string, unknown>) => parseScenario({ name, description: `live hosts test: ${name}`, ...fields }, name);

describe('sideToHosts: the driver\'s partition side on whole hosts', () => {
  // live: [node, host] with node i on host i % k (placeNode)
  const live = (n: number, k: number) => Array.from({ length: n }, (_, i): [number, number] => [i, i % k]);
  it.each([
    // side exactly the nodes of hosts 1 and 3: the kernel split is the driver's
    { side: [1, 3, 5, 7, 9, 11, 13, 15], n: 16, k: 4, groups: [[1, 3], [0, 2]], separated: 64, sameHost: 0, extra: 0 },
    // side 0–7: every host holds two of each side, so half of the driver's pairs share a host or a side
    { side: [0, 1, 2, 3, 4, 5, 6, 7], n: 16, k: 4, groups: [[0, 1], [2, 3]], separated: 32, sameHost: 16, extra: 32 },
    // one node: one host of four goes (at least one host per side)
    { side: [6], n: 8, k: 4, groups: [[2], [0, 1, 3]], separated: 6, sameHost: 1, extra: 6 },
  ])('side $side of $n nodes on $k hosts → $groups, $separated pairs separated, $sameHost on one host', ({ side, n, k, groups, separated, sameHost, extra }) => {
    const s = sideToHosts(side, live(n, k), k);
    expect(s.groups).toEqual(groups);
    expect(s.separated).toBe(separated);
    expect(s.sameHost).toBe(sameHost);
    expect(s.extra).toBe(extra);
    expect(s.separated + s.sameHost + s.sameGroup).toBe(s.driverPairs);
    expect(s.driverPairs).toBe(side.length * (n - side.length));
    expect(describeSide(s, side.length, n)).toContain(`of ${s.driverPairs} node pairs the driver separates the kernel separates ${separated}`);
  });
});

describe('--hosts on the command line', () => {
  it.each([
    [['run', '-p', 'swim', '-s', 'steady', '--hosts', 'netns:2'], 'needs --runtime live'],
    [['run', '-p', 'swim', '-s', 'steady', '--runtime', 'live', '--hosts', 'netns:0'], 'netns:K needs K in 1–250'],
    [['run', '-p', 'swim', '-s', 'steady', '--runtime', 'live', '--hosts', 'cluster'], 'expected local, netns:K or agents:FILE'],
    [['run', '-p', 'swim', '-s', 'steady', '--runtime', 'live', '--hosts', 'agents:/nonexistent/hosts.json'], '/nonexistent/hosts.json'],
    [['ceiling', '-p', 'swim', '-s', 'steady', '--hosts', 'netns:2'], 'needs --runtime live'],
    [['run', '-p', 'swim', '-s', 'partition', '-n', '4', '--runtime', 'live', '--hosts', 'netns:1', '-o', join(tmpdir(), 'fleetbench-never-written.json')], 'a kernel partition needs at least 2 namespace hosts'],
  ])('%j is refused with exit code 2, naming the problem', async (argv, says) => {
    let err = '';
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((c: string) => ((err += c), true)) as typeof process.stderr.write;
    try {
      expect(await main(argv)).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(err).toContain(says);
  });
});

/** The namespace a process is in, as the inode of its /proc/<pid>/ns/net link. */
const netnsInode = (pid: number) => Number(/net:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/net`))![1]);

interface Seen {
  pids: number[];
  cgroups: string[];
  netnsRunId: string | null;
  /** namespace index of each node pid at t0 (−1: not one of the run's) */
  hostOfPid: Map<number, number>;
}

/** Runs live with `hosts`; checks the result's schema and that nothing of the run survives it. */
async function live(req: Parameters<typeof resolveRun>[0], hosts: string, extra: Partial<LiveOptions> = {}): Promise<{ r: Result; seen: Seen }> {
  const seen: Seen = { pids: [], cgroups: [], netnsRunId: null, hostOfPid: new Map() };
  const spec = parseHostsSpec(hosts);
  const r = await runLive(resolveRun(req), {
    transport: 'ws',
    hosts: spec,
    ...extra,
    onHosts: (h) => (seen.netnsRunId = h.netnsRunId),
    onStarted: (i) => {
      seen.pids = i.pids;
      seen.cgroups = i.cgroups;
      if (seen.netnsRunId) {
        const n = names(seen.netnsRunId);
        const k = spec.kind === 'netns' ? spec.hosts : 0;
        const inodes = Array.from({ length: k }, (_, h) => statSync(`/run/netns/${n.ns(h)}`).ino);
        for (const p of i.pids) if (processAlive(p)) seen.hostOfPid.set(p, inodes.indexOf(netnsInode(p)));
      }
      extra.onStarted?.(i);
    },
  });
  ResultSchema.parse(r);
  await pollUntil(() => !seen.pids.some(processAlive), 60, 50);
  expect(seen.pids.filter(processAlive)).toEqual([]);
  expect(seen.cgroups.filter((d) => existsSync(d))).toEqual([]);
  if (seen.netnsRunId) {
    expect(runLeftovers(seen.netnsRunId)).toEqual({ namespaces: [], links: [], tables: [] });
    expect(netnsRuns()).not.toContain(seen.netnsRunId);
  }
  return { r, seen };
}

const STEADY = scenario('hosts-steady', { nodes: 16, durationMs: 2000, reshards: { perSec: 1 } });

describe.skipIf(reason !== null)(`--hosts netns:4${reason ? ` — skipped: ${reason}` : ''}`, () => {
  it.each(['async-multiplexed', 'swim', 'thread-per-peer'])('%s: 16 nodes, 4 to each namespace, bound to its address, all peers tracked; nothing left after', async (protocol) => {
    // thread-per-peer's 240 Workers do not reach exact views within a bounded warm-up on 2 busy
    // cores, on one machine as on namespace hosts; the others converge in well under a second
    const { r, seen } = await live({ protocol, scenario: STEADY, nodes: 16 }, 'netns:4', { warmupTimeoutMs: 6000 });
    expect(r.live!.hosts!.kind).toBe('netns');
    expect(r.live!.hosts!.perHost.map((h) => h.nodes)).toEqual([4, 4, 4, 4]);
    // the 16 node processes sit in the run's namespaces, 4 in each (the load generator and reaper stay here)
    const perHost = [0, 1, 2, 3].map((h) => [...seen.hostOfPid.values()].filter((x) => x === h).length);
    expect(perHost).toEqual([4, 4, 4, 4]);
    if (protocol === 'thread-per-peer') expect(r.live!.nodes.map((n) => n.workersPeak)).toEqual(new Array(16).fill(15));
    else expect(r.summary.membership.viewAccuracy).toBe(1);
    expect(r.summary.requests.total).toBeGreaterThan(0);
    expect(r.live!.nodes.every((n) => n.rssPeakBytes > 0 && n.badFrames === 0)).toBe(true);
    expect(r.live!.faultLog).toEqual([]);
  }, 60_000);

  it('loss, partition and heal are kernel faults between whole hosts, logged with how each was applied', async () => {
    const sc = scenario('hosts-partition', {
      nodes: 8,
      durationMs: 3000,
      events: [{ type: 'loss', atMs: 200, rate: 0.02 }, { type: 'partition', atMs: 500, fraction: 0.5 }, { type: 'heal', atMs: 2000 }],
    });
    const { r } = await live({ protocol: 'async-multiplexed', scenario: sc, nodes: 8 }, 'netns:2');
    const log = r.live!.faultLog!;
    expect(log.map((l) => l.line.split(' ')[0])).toEqual(['loss', 'partition', 'heal:']);
    // tc netem where the kernel has it, else an nftables random drop: either way on both links
    expect(log[0].line).toMatch(/^loss 2% on all 2 host-to-host links \((tc netem|nftables random drop)/);
    expect(log[0].line).toContain('12 of 28 node pairs share a host and are not affected');
    expect(log[1].line).toMatch(/nftables drop rules .* driver side 4 of 8 live nodes → hosts \{h[01]\} holding 4 nodes/);
    expect(log.map((l) => l.atMs >= [200, 500, 2000][log.indexOf(l)])).toEqual([true, true, true]);
    expect(r.live!.faults).toContain('kernel faults between namespace hosts');
    // the transport dropped nothing: the kernel did
    expect(r.summary.messages.dropped).toBe(0);
  }, 60_000);

  it('Ctrl-C (shouldStop) mid-run leaves no process, cgroup, namespace, link or rule', async () => {
    let t0 = 0;
    const { r } = await live({ protocol: 'swim', scenario: scenario('hosts-stop', { nodes: 6, durationMs: 30_000 }), nodes: 6 }, 'netns:3', {
      onStarted: () => (t0 = Date.now()),
      shouldStop: () => t0 > 0 && Date.now() - t0 > 500,
    });
    expect(r.run.completed).toBe(false);
  }, 60_000);

  it('SIGKILL of the coordinator: the watchdogs remove its node processes, cgroups, namespaces, links and rules', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/live/fixtures/coordinator-child.ts'), 'async-multiplexed', '4', 'ws', 'netns:2'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const info = await new Promise<{ pids: number[]; cgroups: string[]; netnsRunId: string }>((res, rej) => {
      let buf = '';
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const line = buf.split('\n').find((l) => l.startsWith('{'));
        if (line) res(JSON.parse(line));
      });
      child.once('exit', (code) => rej(new Error(`coordinator exited early (${code})`)));
    });
    expect(info.netnsRunId).toMatch(/^[0-9a-f]{8}$/);
    expect(info.pids.filter((p) => p !== child.pid && processAlive(p)).length).toBeGreaterThanOrEqual(4);
    child.kill('SIGKILL');
    const gone = () => {
      const left = runLeftovers(info.netnsRunId);
      return info.pids.every((p) => !processAlive(p)) && info.cgroups.every((d) => !existsSync(d)) && left.namespaces.length + left.links.length + left.tables.length === 0;
    };
    await pollUntil(gone, 150, 100);
    expect(info.pids.filter(processAlive)).toEqual([]);
    expect(info.cgroups.filter((d) => existsSync(d))).toEqual([]);
    expect(runLeftovers(info.netnsRunId)).toEqual({ namespaces: [], links: [], tables: [] });
  }, 60_000);
});

describe('--hosts agents:FILE with one agent (what the k8s Job runs)', () => {
  it('places every node through the agent, reads /proc there, and leaves nothing when the run ends', async () => {
    const token = 'a'.repeat(64);
    const agent = await startHostAgent({ bind: '127.0.0.1', token });
    const dir = mkdtempSync(join(tmpdir(), 'fleetbench-hosts-'));
    const file = join(dir, 'hosts.json');
    writeFileSync(file, JSON.stringify({ schema: HOSTS_SCHEMA, agents: [{ host: '127.0.0.1', port: agent.port }], tokenEnv: 'FLEETBENCH_TEST_AGENT_TOKEN' }));
    process.env.FLEETBENCH_TEST_AGENT_TOKEN = token;
    try {
      const { r } = await live({ protocol: 'async-multiplexed', scenario: scenario('hosts-agents', { nodes: 4, durationMs: 2000 }), nodes: 4 }, `agents:${file}`);
      expect(r.live!.hosts).toMatchObject({ kind: 'agents', perHost: [{ host: 0, address: '127.0.0.1', nodes: 4 }] });
      expect(r.live!.enforcement.threads).toBe('emulated');
      expect(r.summary.membership.viewAccuracy).toBe(1);
      // the agent's /proc figures reached the result
      expect(r.live!.nodes.every((n) => n.rssPeakBytes > 0 && n.threadsPeak > 0)).toBe(true);
      expect(r.live!.faultLog).toBeUndefined();
    } finally {
      delete process.env.FLEETBENCH_TEST_AGENT_TOKEN;
      await agent.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
