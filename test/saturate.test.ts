// The saturation search: theory it is held against, the search on a known threshold, and in the
// simulator a capacity within what queueing theory allows, a p99-bound capacity that matches
// M/D/1, and an overhead that grows with N for an all-to-all protocol but not for SWIM.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.ts';
import { ALL_TO_ALL_PARAMS } from '../protocols/shared/all-to-all.ts';
import { COSTS, NETWORK } from '../src/model/defaults.ts';
import { loadScenario } from '../src/harness/scenario.ts';
import { saturate } from '../src/saturate/saturate.ts';
import { readSaturate, type LoadRun } from '../src/saturate/schema.ts';
import { searchLoad, type SearchBounds } from '../src/saturate/search.ts';
import { mdOneLoadAtP99, mdOneWaitCdf, requestOnlyPerNode, serviceMs, unloadedLatencyMs } from '../src/saturate/theory.ts';

/** request-load: 0.01-core FEs, so a handful of nodes saturates in a few simulated seconds */
const SCENARIO = loadScenario('request-load');
const CORES = SCENARIO.limits!.coresPerNode!;
const REQ_US = COSTS.cpuUsPerRequest.value;
const MSG_US = COSTS.cpuUsPerMessage.value;
const RTT_MS = 1; // NETWORK.backendRttMs default; request-load does not change it
// the client's round trip to the FE at its mean (NETWORK.latencyMeanMs default 0.3 ms each way); theory takes it as fixed
const HOP_MS = 2 * NETWORK.latencyMeanMs.value;
const SYNC_S = (ALL_TO_ALL_PARAMS.syncIntervalMs.default as number) / 1000;
const DURATION_MS = 5000;
const D_S = DURATION_MS / 1000;
const RESOLUTION = 0.01;
const MIN_GOODPUT = 0.99;

describe('saturation theory', () => {
  it.each([
    // cores, µs per request → service ms, request-only bound per node
    [0.01, 40, 4, 250],
    [1, 40, 0.04, 25_000],
    [4, 40, 0.04, 100_000],
    [1.5, 30, 0.04, 50_000], // two cores at 0.75 each
  ])('service_time_and_request_only_bound: %s cores, %s µs', (cores, us, s, bound) => {
    expect(serviceMs(us, cores)).toBeCloseTo(s, 9);
    expect(requestOnlyPerNode(us, cores)).toBeCloseTo(bound, 6);
    expect(unloadedLatencyMs(us, cores, RTT_MS)).toBeCloseTo(s + RTT_MS, 9);
  });

  it.each([0.3, 0.5, 0.7])('md1_wait_distribution_has_the_pollaczek_khinchine_mean: rho %s', (rho) => {
    // P(W = 0) = 1 − ρ, and ∫(1 − F) = E[W] = ρS / (2(1 − ρ)) for deterministic service S
    expect(mdOneWaitCdf(0, rho, 1)).toBeCloseTo(1 - rho, 12);
    let mean = 0;
    for (let t = 0, c = mdOneWaitCdf(0.005, rho, 1); c !== null && t < 60; t += 0.01, c = mdOneWaitCdf(t + 0.005, rho, 1)) mean += (1 - c) * 0.01;
    expect(mean).toBeCloseTo(rho / (2 * (1 - rho)), 3);
  });

  it('md1_load_at_a_p99_bound_falls_as_the_bound_tightens', () => {
    const s = serviceMs(REQ_US, CORES);
    const loads = [20, 35, 50].map((m) => mdOneLoadAtP99(m, s, RTT_MS)!);
    expect(loads[0]).toBeLessThan(loads[1]);
    expect(loads[1]).toBeLessThan(loads[2]);
    expect(loads[2]).toBeLessThan(requestOnlyPerNode(REQ_US, CORES));
    expect(mdOneLoadAtP99(s + RTT_MS - 0.1, s, RTT_MS)).toBeNull();
  });
});

/** a system that carries any load up to `threshold` and nothing above it */
const step = (threshold: number) => async (load: number): Promise<LoadRun> => ({
  fleetRequestsPerSec: load,
  perNodePerSec: load,
  offeredPerNodePerSec: load,
  goodputPerNodePerSec: Math.min(load, threshold),
  goodputRatio: Math.min(1, threshold / load),
  latencyMs: null,
  protocolUsPerNodePerSec: 0,
  falsePositives: 0,
  limitsHit: [],
  pass: load <= threshold,
  broke: load <= threshold ? [] : ['goodput'],
  wallMs: 0,
});
const BOUNDS: SearchBounds = { start: 100, maxLoad: 3200, minLoad: 1, resolution: 0.01, maxRuns: 40, deadline: Infinity };

describe('load search', () => {
  it.each([
    ['threshold above the start', 777, 'found'],
    ['threshold below the start: halves first', 13.3, 'found'],
    ['threshold exactly at a doubling', 400, 'found'],
    ['threshold past the largest load', 10_000, 'max-load'],
    ['threshold below the smallest load', 0.5, 'none-passing'],
  ] as const)('%s', async (_name, threshold, status) => {
    const s = await searchLoad(step(threshold), BOUNDS);
    expect(s.status).toBe(status);
    if (status === 'found') {
      expect(s.capacityPerNodePerSec).toBeLessThanOrEqual(threshold);
      expect(s.capacityPerNodePerSec).toBeGreaterThanOrEqual(threshold * (1 - BOUNDS.resolution));
      expect(s.firstFailing!.perNodePerSec).toBeGreaterThan(threshold);
      expect(s.firstFailing!.perNodePerSec - s.capacityPerNodePerSec).toBeLessThanOrEqual(BOUNDS.resolution * s.firstFailing!.perNodePerSec);
    }
    if (status === 'max-load') expect(s.capacityPerNodePerSec).toBe(BOUNDS.maxLoad);
    if (status === 'none-passing') expect(s.capacityPerNodePerSec).toBe(0);
    // doubling then bisection: a bounded number of runs, log2 of the ranges involved
    expect(s.runs.length).toBeLessThanOrEqual(Math.ceil(Math.log2(BOUNDS.maxLoad / BOUNDS.minLoad)) + Math.ceil(Math.log2(1 / BOUNDS.resolution)) + 2);
  });

  it('stops_at_max_runs_with_what_it_has', async () => {
    const s = await searchLoad(step(777), { ...BOUNDS, maxRuns: 5 });
    expect(s.status).toBe('budget');
    expect(s.runs).toHaveLength(5);
    expect(s.capacityPerNodePerSec).toBeGreaterThan(0);
    expect(s.capacityPerNodePerSec).toBeLessThanOrEqual(777);
  });

  it('stops_when_interrupted_and_keeps_the_runs_so_far', async () => {
    let calls = 0;
    const s = await searchLoad(async (l) => (++calls, step(777)(l)), BOUNDS, { shouldStop: () => calls >= 3 });
    expect(s.status).toBe('interrupted');
    expect(s.runs).toHaveLength(3);
    expect(s.capacityPerNodePerSec).toBe(400);
  });

  it('stops_at_the_wall_clock_deadline', async () => {
    let t = 0;
    const s = await searchLoad(async (l) => ((t += 10), step(777)(l)), { ...BOUNDS, deadline: 25 }, { now: () => t });
    expect(s.status).toBe('budget');
    expect(s.runs).toHaveLength(3);
  });
});

/**
 * The lower edge of a goodput-only capacity, from M/D/1: a run starts with an empty queue, and
 * what is still queued at the end is offered but not answered. In the stationary queue
 * Lq = ρ²/(2(1 − ρ)); a load passes surely while Lq is at most half the shortfall allowed,
 * ½(1 − g)·ρμD (the other half for the queue's randomness at the end), i.e. ρ/(1 − ρ) ≤ (1 − g)μD.
 */
function goodputOnlyLowerRho(mu: number): number {
  const k = (1 - MIN_GOODPUT) * mu * D_S;
  return k / (1 + k);
}

/**
 * The upper edge: goodput can never exceed the service rate μ, so a carried load is at most
 * μ / g, plus the Poisson noise of the offered count (3 σ of λND requests).
 */
function goodputOnlyUpper(mu: number, nodes: number): number {
  return (mu / MIN_GOODPUT) * (1 + 3 / Math.sqrt(mu * nodes * D_S));
}

describe('saturate in the simulator', () => {
  it('goodput_only_capacity_is_the_cpu_left_after_the_all_to_all_protocol', async () => {
    // N = 32: each node sends and receives one Sync per peer per interval, cpuUsPerMessage each.
    // Its bursts (31 sends back to back, 17 ms on a 0.01-core FE) add < 4 % to the wait, below the margins.
    const nodes = 32;
    const protocolUs = (2 * (nodes - 1) * MSG_US) / SYNC_S;
    const mu = (CORES * 1e6 - protocolUs) / REQ_US;
    const r = await saturate({ protocol: 'async-multiplexed', scenario: 'request-load', nodes, durationMs: DURATION_MS, p99MaxMs: null, resolution: RESOLUTION });
    expect(r.search.status).toBe('found');
    const cap = r.search.capacityPerNodePerSec;
    expect(cap).toBeGreaterThanOrEqual(goodputOnlyLowerRho(mu) * mu * (1 - RESOLUTION));
    expect(cap).toBeLessThanOrEqual(goodputOnlyUpper(mu, nodes));
    // the search breaks on goodput (there is no latency criterion) just past the capacity
    expect(r.search.firstFailing!.broke).toEqual(['goodput']);
    // the free baseline has the whole CPU: the request-only bound
    const bound = requestOnlyPerNode(REQ_US, CORES);
    expect(r.theory.requestOnlyPerNodePerSec).toBeCloseTo(bound, 9);
    const base = r.baseline!.search.capacityPerNodePerSec;
    expect(r.baseline!.method).toBe('free');
    expect(base).toBeGreaterThanOrEqual(goodputOnlyLowerRho(bound) * bound * (1 - RESOLUTION));
    expect(base).toBeLessThanOrEqual(goodputOnlyUpper(bound, nodes));
    expect(r.baseline!.search.runs.every((x) => x.protocolUsPerNodePerSec === 0)).toBe(true);
  }, 60_000);

  it('p99_bound_capacity_of_request_only_work_is_the_md1_load_at_that_bound', async () => {
    // with protocol CPU free each FE is an M/D/1 queue; the default bound is 10 × (S + RTT + the client's mean round trip)
    const nodes = 16;
    const r = await saturate({ protocol: 'async-multiplexed', scenario: 'request-load', nodes, durationMs: DURATION_MS, resolution: RESOLUTION, baseline: 'free' });
    const s = serviceMs(REQ_US, CORES);
    expect(r.criteria.p99MaxMs).toBeCloseTo(10 * (s + (RTT_MS + HOP_MS)), 9);
    const expected = mdOneLoadAtP99(r.criteria.p99MaxMs!, s, (RTT_MS + HOP_MS))!;
    expect(r.theory.requestOnlyAtP99PerNodePerSec).toBeCloseTo(expected, 6);
    // the measured p99 is a sample quantile: about one independent wait per busy period
    // (1/(1 − ρ) requests), so its level is 0.99 ± 3·sqrt(0.99·0.01/n); the capacity lies between
    // the M/D/1 loads at those levels, less the resolution
    const rho = expected / requestOnlyPerNode(REQ_US, CORES);
    const n = expected * nodes * D_S * (1 - rho);
    const spread = 3 * Math.sqrt((0.99 * 0.01) / n);
    const lo = mdOneLoadAtP99(r.criteria.p99MaxMs!, s, (RTT_MS + HOP_MS), 0.99 + spread)!;
    const hi = mdOneLoadAtP99(r.criteria.p99MaxMs!, s, (RTT_MS + HOP_MS), 0.99 - spread)!;
    const base = r.baseline!.search;
    expect(base.capacityPerNodePerSec).toBeGreaterThanOrEqual(lo * (1 - RESOLUTION));
    expect(base.capacityPerNodePerSec).toBeLessThanOrEqual(hi);
    expect(base.firstFailing!.broke).toContain('latency');
  }, 60_000);

  describe('membership overhead against fleet size', () => {
    // 4 × the default message cost, so the protocols' shares stand well clear of the search's resolution
    const sets = [`costs.cpuUsPerMessage=${4 * MSG_US}`];
    const overhead = async (protocol: string, nodes: number) =>
      (await saturate({ protocol, scenario: 'request-load', nodes, durationMs: DURATION_MS, sets, p99MaxMs: null, resolution: RESOLUTION })).overhead!;
    const [small, large] = [8, 48];
    /** two capacities, each within the resolution, and their run-to-run noise near the threshold (the lower-edge margin) */
    const noise = 2 * RESOLUTION + (1 - goodputOnlyLowerRho(requestOnlyPerNode(REQ_US, CORES)));

    it('grows_with_n_for_async_multiplexed', async () => {
      const a = await overhead('async-multiplexed', small);
      const b = await overhead('async-multiplexed', large);
      // at least the growth of its CPU share, 2(N−1)·c per interval over the node's CPU, less the noise
      const share = (n: number) => (2 * (n - 1) * 4 * MSG_US) / SYNC_S / (CORES * 1e6);
      expect(b - a).toBeGreaterThanOrEqual(share(large) - share(small) - noise);
      expect(b).toBeGreaterThanOrEqual(share(large) - noise);
    }, 60_000);

    it('stays_near_flat_for_swim', async () => {
      const a = await overhead('swim', small);
      const b = await overhead('swim', large);
      // a few messages per probe period whatever N: the difference is within the search's noise
      expect(Math.abs(b - a)).toBeLessThanOrEqual(noise);
    }, 60_000);
  });
});

describe('saturate runs', () => {
  const small = { protocol: 'swim', scenario: 'request-load', nodes: 4, durationMs: 2000, maxRuns: 6 } as const;
  /** the file without its wall-clock fields */
  const stable = (r: Awaited<ReturnType<typeof saturate>>) =>
    JSON.parse(JSON.stringify({ ...r, tool: null, machine: null, wallMs: 0 }, (k, v) => (k === 'wallMs' ? 0 : v)));

  it('same_seed_same_saturation_file', async () => {
    expect(stable(await saturate(small))).toEqual(stable(await saturate(small)));
  }, 60_000);

  it('an_interrupt_keeps_the_runs_measured_and_skips_the_baseline', async () => {
    let runs = 0;
    const r = await saturate({ ...small, onRun: () => runs++, shouldStop: () => runs >= 2 });
    expect(r.search.status).toBe('interrupted');
    expect(r.search.runs).toHaveLength(2);
    expect(r.baseline).toBeNull();
    expect(r.overhead).toBeNull();
  }, 60_000);
});

describe('fleetbench saturate (CLI)', () => {
  let dir: string;
  let stderr: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fleetbench-saturate-'));
    stderr = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
    rmSync(dir, { recursive: true, force: true });
  });
  const sat = (...args: string[]) => main(['saturate', '-q', '-p', 'swim', '-s', 'request-load', ...args]);

  it.each([
    ['goodput ratio out of range', ['--min-goodput', '1.5'], /--min-goodput: expected a ratio in \(0, 1\], got 1.5/],
    ['goodput ratio not a number', ['--min-goodput', 'most'], /--min-goodput: expected a number, got "most"/],
    ['bad p99 bound', ['--p99-max', 'soon'], /--p99-max: "soon" is not a duration/],
    ['both p99 forms', ['--p99-max', '20ms', '--latency-multiple', '5'], /--latency-multiple: give it or --p99-max, not both/],
    ['latency multiple at most 1', ['--latency-multiple', '1'], /--latency-multiple: expected a number > 1, got 1/],
    ['resolution out of range', ['--resolution', '1'], /--resolution: expected a ratio in \(0, 1\), got 1/],
    ['too few runs', ['--max-runs', '1'], /--max-runs: expected an integer ≥ 2, got 1/],
    ['unknown baseline', ['--baseline', 'zero'], /--baseline: expected free, single or none, got "zero"/],
    ['the load is the search\'s', ['--set', 'fleet.requestsPerSec=10'], /--set fleet.requestsPerSec: saturate sets the offered load itself/],
    ['free baseline live', ['--runtime', 'live', '--baseline', 'free'], /--baseline: free makes the protocol's modelled CPU free/],
    ['requests that cost nothing', ['--set', 'costs.cpuUsPerRequest=0'], /costs.cpuUsPerRequest: must be > 0/],
    ['bad node count', ['-n', '0'], /--nodes: expected an integer ≥ 1/],
  ])('%s: one line, exit 2', async (_name, args, message) => {
    expect(await sat(...args)).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('writes_a_valid_saturation_file', async () => {
    const out = join(dir, 'sat.json');
    expect(await sat('-n', '4', '-d', '2s', '--max-runs', '6', '--baseline', 'single', '-o', out)).toBe(0);
    const r = readSaturate(out);
    expect(r).toMatchObject({ schema: 'fleetbench/saturate@1', protocol: 'swim', nodes: 4, runtime: 'sim', baseline: { method: 'single', search: { nodes: 1 } } });
    expect(r.search.runs.length).toBeGreaterThan(0);
    expect(r.search.runs.length).toBeLessThanOrEqual(6);
    expect(r.criteria.p99Source).toMatch(/10 × unloaded latency/);
  }, 60_000);
});
