// The live runtime: real node processes, real Workers, real WebSockets on loopback. Small fleets
// and short runs (the whole file stays within ~90 s on 2 cores); assertions are on behaviour and
// on counts the protocols fix exactly, never on speed. Bigger runs live in bench/live.ts.
import { pollUntil } from './helpers.ts';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveRun } from '../src/harness/run-config.ts';
import { loadScenario, parseScenario } from '../src/harness/scenario.ts';
import { cgroupUnavailableReason } from '../src/live/cgroup.ts';
import { planFleet } from '../src/live/capacity.ts';
import { processAlive } from '../src/live/procfs.ts';
import { runLive, type LiveOptions } from '../src/live/coordinator.ts';
import { checkUwsBinary, UwsUnavailableError } from '../src/live/uws.ts';
import { ResultSchema, type Result } from '../src/results/schema.ts';
import { runSim } from '../src/sim/run.ts';
import { tapBackend, type DriverCall } from '../src/fleet/recording.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function scenario(name: string, fields: Record<string, unknown>) {
  return parseScenario({ name, description: `live test: ${name}`, ...fields }, name);
}


/** Runs live, validates the result against the schema, and checks nothing the run made survives it. */
async function live(req: Parameters<typeof resolveRun>[0], opts: LiveOptions): Promise<Result> {
  let started: { pids: number[]; cgroups: string[] } | null = null;
  const r = await runLive(resolveRun(req), { ...opts, onStarted: (i) => (started = i) });
  ResultSchema.parse(r);
  expect(r.run.runtime).toBe('live');
  expect(r.sim).toBeNull();
  expect(started).not.toBeNull();
  // every child has exited (the reaper may need a moment after its 'done')
  await pollUntil(() => !started!.pids.some(processAlive), 40, 50);
  expect(started!.pids.filter(processAlive)).toEqual([]);
  expect(started!.cgroups.filter((d) => existsSync(d))).toEqual([]);
  return r;
}

const STEADY = scenario('live-steady', { nodes: 6, durationMs: 4000, reshards: { perSec: 1 } });

describe.each([
  ['async-multiplexed', 'ws'],
  ['thread-per-peer', 'uws'],
] as const)('%s over %s', (protocol, transport) => {
  it('steady: sends as many messages per node per second as the simulator (±10 %), loss-free, views exact', async () => {
    const n = protocol === 'thread-per-peer' ? 5 : 6;
    const r = await live({ protocol, scenario: STEADY, nodes: n }, { transport });
    const sim = await runSim(resolveRun({ protocol, scenario: STEADY, nodes: n }));
    expect(r.summary.messages.dropped).toBe(0);
    const ratio = r.summary.messages.perNodePerSec / sim.summary.messages.perNodePerSec;
    expect(ratio).toBeGreaterThan(0.9);
    expect(ratio).toBeLessThan(1.1);
    expect(r.summary.membership.viewAccuracy).toBe(1);
    expect(r.summary.membership.falsePositives).toBe(0);
    expect(r.summary.requests.total).toBeGreaterThan(1000);
    expect(r.summary.requests.failed).toBe(0);
    expect(r.live!.transport).toBe(transport);
    // figures come from the OS: a node process has at least its base threads and some RSS
    expect(r.summary.threads.peakPerNode).toBeGreaterThanOrEqual(r.live!.perNode.baseThreads);
    expect(r.summary.memory.peakBytesPerNode).toBeGreaterThan(20e6);
    // one dialed and one accepted connection per peer
    expect(r.summary.connections.peakPerNode).toBe(2 * (n - 1));
    if (protocol === 'thread-per-peer') {
      // one real Worker per peer: the OS sees their threads
      expect(r.live!.nodes.every((x) => x.workersPeak === n - 1)).toBe(true);
      expect(r.summary.threads.peakPerNode).toBeGreaterThanOrEqual(r.live!.perNode.baseThreads + n - 1);
    }
  });

  it('join and crash: the joiner becomes known to all, the crashed node is detected by all', async () => {
    const s = scenario('live-join-crash', {
      nodes: 5,
      durationMs: 9000,
      fleet: { membershipLagMs: 500 },
      reshards: { perSec: 1 },
      // crash first, so the node crashed is never the joiner
      events: [
        { type: 'crash', atMs: 1000, count: 1 },
        { type: 'add', atMs: 1500, count: 1 },
      ],
    });
    const r = await live({ protocol, scenario: s, sets: ['membershipPollMs=1000'] }, { transport });
    const m = r.summary.membership;
    expect(m.unconvergedJoins).toBe(0);
    expect(m.joinConvergenceMs).not.toBeNull();
    expect(m.undetectedCrashes).toBe(0);
    expect(m.detectionMs.first).not.toBeNull();
    expect(m.detectionMs.all).not.toBeNull();
    // failAfterIntervals × syncIntervalMs = 3 s: nobody declares it before that, less one interval of phase
    expect(m.detectionMs.first!.p50).toBeGreaterThanOrEqual(2000);
    expect(m.falsePositives).toBe(0);
    expect(m.viewAccuracy).toBe(1);
    expect(r.live!.nodes.filter((x) => x.end === 'crashed')).toHaveLength(1);
  });
});

describe('kinesis-2020 in miniature, with a real thread limit', () => {
  const reason = cgroupUnavailableReason();
  // 6 FEs: 5 peer Workers + 11 base threads fit under 16; two joiners need 7 each and every
  // existing FE one more, which the kernel refuses
  const mini = loadScenario('kinesis-2020-mini');
  const sets = ['membershipPollMs=1000'];

  it.skipIf(reason !== null)(`thread-per-peer goes from healthy to failing requests when capacity is added (cgroup pids.max)${reason ? ` — skipped: ${reason}` : ''}`, async () => {
    const r = await live({ protocol: 'thread-per-peer', scenario: mini, sets }, { transport: 'ws' });
    expect(r.run.limits.enforcement).toMatchObject({ threads: 'cgroup' });
    expect(r.live!.perNode.baseThreads).toBeLessThanOrEqual(11); // else 6 FEs would not fit before the addition
    const threads = r.summary.limitsHit.find((l) => l.limit === 'threads');
    expect(threads).toBeDefined();
    expect(threads!.firstAtMs).toBeGreaterThanOrEqual(1500);
    expect(r.summary.protocolCounters.spawnRefused).toBeGreaterThan(0);
    // the kernel held every node at the limit
    expect(r.summary.threads.peakPerNode).toBe(16);
    // before the addition it was healthy; after it the kernel refused threads, every FE's shard-map
    // construction failed and requests fail (not only misroute), as in 2020
    expect(r.live!.warmup.converged).toBe(true);
    expect(r.timeseries.filter((x) => x.tMs <= 1500).reduce((a, x) => a + x.failed, 0)).toBe(0);
    expect(r.summary.requests.tailFailedRate).toBeGreaterThan(0.5);
    expect(r.summary.routing.unroutableNodesPeak).toBeGreaterThanOrEqual(0.9);
    expect(r.summary.healthy).toBe(false);
  });

  it('async-multiplexed stays healthy through the same addition', async () => {
    const r = await live({ protocol: 'async-multiplexed', scenario: mini, sets }, { transport: 'uws' });
    expect(r.summary.limitsHit).toEqual([]);
    expect(r.summary.requests.tailMisrouteRate).toBeLessThanOrEqual(0.001);
    expect(r.summary.membership.unconvergedJoins).toBe(0);
    expect(r.summary.healthy).toBe(true);
  });

  // swim needs no thread per peer, so the addition costs it nothing in threads. Its tail misroute
  // rate is not asserted: a reshard gossiped while a joiner was not yet known to the gossipers
  // reaches the joiner only at the next push-pull (30 s), after this 10 s run — as memberlist does;
  // pinned in the simulator by swim_a_reshard_gossiped_before_a_joiner_is_known_reaches_it_at_the_next_push_pull.
  it('swim hits no thread limit through the same addition and every node learns the joiners', async () => {
    const r = await live({ protocol: 'swim', scenario: mini }, { transport: 'uws' });
    expect(r.summary.limitsHit).toEqual([]);
    expect(r.summary.threads.peakPerNode).toBeLessThan(16);
    expect(r.summary.membership.unconvergedJoins).toBe(0);
    expect(r.summary.membership.viewAccuracy).toBe(1);
  });
});

describe('one scenario interpreter', () => {
  it('the live backend receives the same driver calls as the simulator for the same scenario and seed', async () => {
    const scn = scenario('live-parity', {
      nodes: 5,
      durationMs: 6000,
      fleet: { requestsPerSec: 40, membershipLagMs: 300 },
      reshards: { perSec: 2 },
      events: [
        { type: 'pause', atMs: 500, count: 1, forMs: 800 },
        { type: 'remove', atMs: 800, count: 1 },
        { type: 'crash', atMs: 1500, count: 1 },
        { type: 'add', atMs: 2000, count: 2, overMs: 400 },
        { type: 'partition', atMs: 3000, fraction: 0.5 },
        { type: 'heal', atMs: 4000 },
        { type: 'loss', atMs: 4500, rate: 0.1 },
        { type: 'reshardStorm', atMs: 5000, count: 3, overMs: 200 },
      ],
    });
    const req = { protocol: "async-multiplexed", scenario: scn, seed: 5 } as const;
    const liveCalls: DriverCall[] = [];
    await live(req, { transport: 'uws', onDriver: (d) => d.wrapBackend((b) => tapBackend(b, liveCalls)) });
    const simCalls: DriverCall[] = [];
    await runSim(resolveRun(req), { onDriver: (d) => d.wrapBackend((b) => tapBackend(b, simCalls)) });
    expect(liveCalls.length).toBeGreaterThan(100);
    expect(liveCalls).toEqual(simCalls);
  });
});

describe('hygiene', () => {
  it('no node process, Worker or cgroup survives a SIGKILLed coordinator (a paused node included)', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/live/fixtures/coordinator-child.ts'), 'thread-per-peer', '3', 'ws'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const info = await new Promise<{ pids: number[]; cgroups: string[] }>((res, rej) => {
      let buf = '';
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const line = buf.split('\n').find((l) => l.startsWith('{'));
        if (line) res(JSON.parse(line));
      });
      child.once('exit', (code) => rej(new Error(`coordinator exited early (${code})`)));
    });
    expect(info.pids.length).toBe(5); // 3 nodes, the load generator, the reaper
    await new Promise((r) => setTimeout(r, 500)); // the pause (at 100 ms) has happened
    child.kill('SIGKILL');
    await pollUntil(() => !info.pids.some(processAlive) && !info.cgroups.some((d) => existsSync(d)), 100, 100);
    expect(info.pids.filter(processAlive)).toEqual([]);
    expect(info.cgroups.filter((d) => existsSync(d))).toEqual([]);
  });

  it('refuses up front, with the numbers, a fleet the machine cannot hold', () => {
    const cfg = resolveRun({ protocol: 'thread-per-peer', scenario: STEADY, nodes: 2000 });
    expect(() => planFleet(cfg)).toThrow(/cannot hold thread-per-peer at 2000 nodes: memory: .*GB/);
  });

  it('never measures the JavaScript fallback under the uWS name', () => {
    expect(() => checkUwsBinary('/nonexistent/uws_linux_x64_115.node')).toThrow(UwsUnavailableError);
    expect(() => checkUwsBinary('/nonexistent/uws_linux_x64_115.node')).toThrow(/fall back/);
  });
});
