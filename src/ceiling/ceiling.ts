/**
 * ceiling(): the largest healthy fleet size for one protocol and scenario in the simulator.
 *
 * Search: N = start, 2·start, 4·start … (capped at maxNodes) until a run is unhealthy, then
 * bisection between the last healthy and the first unhealthy N. This assumes health is monotone
 * in N (true of resource limits; an SLO that flickers with N can mislead it: the runs are kept as
 * evidence so a reader can see).
 *
 * A run is healthy when it completed, its built-in health checks pass (no host limit hit, tail
 * misroute rate, view accuracy) and every --slo holds. The binding limit of the first failing N is
 * its earliest host limit (summary.limitsHit), else the first failed SLO, else the first failed
 * health check.
 *
 * Before each run the search estimates its peak RSS and wall time from the runs so far (power-law
 * fits over fleet size). If the estimate exceeds this machine's budget the search stops measuring
 * and projects instead: per-node resources above their process baseline (threads, connections,
 * memory, protocol CPU) are fitted as a·N^b over the healthy runs and solved for the N that meets
 * each limit. The projection is stored apart from the measured answer and labelled "projected".
 */
import type { HostsSpec } from '../live/hosts.ts';
import os from 'node:os';
import v8 from 'node:v8';
import { UsageError } from '../errors.ts';
import { resolveRun, type RunConfig } from '../harness/run-config.ts';
import { getRuntime, type TransportKind } from '../runtimes.ts';
import { BASE_BYTES, checkSimCapacity, estimateSimCapacity } from '../sim/capacity.ts';
import { machineInfo, toolInfo } from '../results/meta.ts';
import type { Result } from '../results/schema.ts';
import { powerFit } from '../compare/stats.ts';
import { CEILING_SCHEMA, type Binding, type CeilingResult, type CeilingRun, type Projection } from './schema.ts';
import { evaluateSlo, parseSlo, type Slo } from './slo.ts';

export const DEFAULT_MAX_NODES = 100_000;
export const DEFAULT_START_NODES = 2;
/** wall-clock budget for one simulator run before the search projects instead of measuring */
export const DEFAULT_MAX_RUN_WALL_MS = 10 * 60_000;

export interface CeilingOptions {
  protocol: string;
  scenario: string;
  slos?: readonly string[];
  maxNodes?: number;
  startNodes?: number;
  sets?: readonly string[];
  seed?: number;
  durationMs?: number;
  /** what this machine can afford for one run; default: 75 % of memory (or 2× the V8 heap limit, if less) and 10 min */
  budget?: { rssBytes?: number; wallMs?: number };
  onRun?: (run: CeilingRun, phase: 'grow' | 'bisect') => void;
  shouldStop?: () => boolean;
  /** a cost profile (shipped name or file), applied before `sets` */
  costsFile?: string;
  /** a registered runtime (default sim) and, live, its transport */
  runtime?: string;
  transport?: TransportKind;
  /** live: where node processes run (--hosts; default local) */
  hosts?: HostsSpec;
}

export function defaultBudget(): { rssBytes: number; wallMs: number } {
  return { rssBytes: Math.min(os.totalmem() * 0.75, 2 * v8.getHeapStatistics().heap_size_limit), wallMs: DEFAULT_MAX_RUN_WALL_MS };
}

/** Why a run is unhealthy, most binding first; empty when healthy. */
export function failuresOf(r: Result, slos: readonly Slo[]): Binding[] {
  const out: Binding[] = [];
  for (const l of r.summary.limitsHit) {
    out.push({ kind: 'limit', name: l.limit, detail: `${l.limit} limit hit on ${l.nodes} node(s), first at ${(l.firstAtMs / 1000).toFixed(1)} s (limit ${r.run.limits[limitKey(l.limit)] ?? '?'})` });
  }
  for (const s of slos) {
    const e = evaluateSlo(s, r);
    if (!e.ok) out.push({ kind: 'slo', name: s.text, detail: e.note });
  }
  for (const c of r.summary.healthChecks) {
    if (!c.ok && c.name !== 'limitsHit') out.push({ kind: 'health', name: c.name, detail: `${c.value} (${c.rule}; threshold ${c.threshold})` });
  }
  if (!r.run.completed) out.push({ kind: 'health', name: 'completed', detail: 'the run was stopped before the end' });
  return out;
}

function limitKey(limit: string): string {
  return ({ threads: 'threadsPerNode', fds: 'fdsPerNode', memory: 'memoryBytesPerNode', cpu: 'coresPerNode' } as Record<string, string>)[limit] ?? limit;
}

/**
 * A simulator run's cost grows at most quadratically with N (all-to-all state and messages are
 * O(N²)); a steeper fit is noise between runs at close sizes (bisection measures N, N+8, N+16…),
 * which once projected hundreds of GiB and years of wall time from runs of a few seconds.
 */
const MAX_GROWTH_EXPONENT = 2;

function estimate(runs: readonly CeilingRun[], n: number): { peakRssBytes: number; wallMs: number } | null {
  const pts = [...runs].sort((a, b) => a.nodes - b.nodes).slice(-4);
  if (pts.length < 2) return null;
  const largest = pts[pts.length - 1];
  const grow = (get: (r: CeilingRun) => number) => {
    const fit = powerFit(pts.map((r) => ({ x: r.nodes, y: get(r) })));
    if (!fit) return null;
    // never project a shrinking cost (the largest measured value is a floor), nor a steeper than quadratic one
    const b = Math.min(Math.max(fit.b, 0), MAX_GROWTH_EXPONENT);
    return Math.max(get(largest) * (n / largest.nodes) ** b, ...pts.map(get));
  };
  const peakRssBytes = grow((r) => r.result.sim?.peakRssBytes ?? NaN);
  const wallMs = grow((r) => r.result.sim?.wallMs ?? NaN);
  if (peakRssBytes === null || wallMs === null) return null;
  return { peakRssBytes, wallMs };
}

/** Per-node resources the projection fits, with the baseline that does not grow with N and the limit. */
function resources(cfg: RunConfig) {
  return [
    { metric: 'threads', get: (r: Result) => r.summary.threads.peakPerNode, base: cfg.limits.baseThreadsPerNode, limit: cfg.limits.threadsPerNode },
    { metric: 'fds', get: (r: Result) => r.summary.connections.peakPerNode, base: 0, limit: cfg.limits.fdsPerNode },
    { metric: 'memory', get: (r: Result) => r.summary.memory.peakBytesPerNode, base: cfg.costs.baseProcessBytes, limit: cfg.limits.memoryBytesPerNode },
    { metric: 'cpu', get: (r: Result) => r.summary.cpu.protocolUsPerNodePerSec, base: 0, limit: cfg.limits.coresPerNode * 1e6 },
  ];
}

function project(cfg: RunConfig, runs: readonly CeilingRun[], blockedAt: number, est: { peakRssBytes: number; wallMs: number }, budget: { rssBytes: number; wallMs: number }, maxNodes: number): Projection {
  const healthy = runs.filter((r) => r.healthy).sort((a, b) => a.nodes - b.nodes).slice(-4);
  const fits: Projection['fits'] = [];
  let best: { n: number; metric: string; limit: number } | null = null;
  for (const res of resources(cfg)) {
    const f = powerFit(healthy.map((r) => ({ x: r.nodes, y: res.get(r.result) - res.base })));
    if (!f) continue;
    fits.push({ metric: `${res.metric} per node above baseline`, a: f.a, b: f.b, r2: f.r2, points: f.n });
    if (f.b <= 0 || res.limit - res.base <= 0) continue;
    const n = Math.floor(((res.limit - res.base) / f.a) ** (1 / f.b));
    if (n <= maxNodes && (!best || n < best.n)) best = { n, metric: res.metric, limit: res.limit };
  }
  const over = est.peakRssBytes > budget.rssBytes ? `peak RSS ≈ ${(est.peakRssBytes / 2 ** 30).toFixed(2)} GiB > budget ${(budget.rssBytes / 2 ** 30).toFixed(2)} GiB` : `wall time ≈ ${(est.wallMs / 1000).toFixed(0)} s > budget ${(budget.wallMs / 1000).toFixed(0)} s`;
  return {
    label: 'projected',
    reason: `a run at N=${blockedAt} is beyond this machine (estimated ${over}, fitted from ${runs.length} smaller runs); ` +
      (best ? `fitted growth of per-node ${best.metric} reaches its limit (${best.limit}) at N≈${best.n}` : `no fitted per-node resource reaches its limit below N=${maxNodes}`) +
      '; SLO and health failures other than resource limits cannot be projected',
    blockedAtNodes: blockedAt,
    estimate: est,
    budget,
    ceiling: best ? best.n : null,
    binding: best ? { kind: 'limit', name: best.metric, detail: `projected: per-node ${best.metric} fit crosses ${best.limit} at N≈${best.n}` } : null,
    fits,
  };
}

export async function ceiling(o: CeilingOptions): Promise<CeilingResult> {
  const maxNodes = o.maxNodes ?? DEFAULT_MAX_NODES;
  const start = o.startNodes ?? DEFAULT_START_NODES;
  if (!Number.isInteger(maxNodes) || maxNodes < 1) throw new UsageError(`--max-nodes: expected an integer ≥ 1, got ${maxNodes}`);
  if (!Number.isInteger(start) || start < 1 || start > maxNodes) throw new UsageError(`--start-nodes: expected an integer from 1 to --max-nodes (${maxNodes}), got ${start}`);
  const slos = (o.slos ?? []).map(parseSlo);
  const runtime = getRuntime(o.runtime ?? 'sim');
  const budget = { ...defaultBudget(), ...o.budget };
  const configFor = (nodes: number) =>
    resolveRun({ protocol: o.protocol, scenario: o.scenario, nodes, seed: o.seed, durationMs: o.durationMs, sets: o.sets, costsFile: o.costsFile });
  const cfg0 = configFor(start); // validates protocol, scenario and every --set before any run
  configFor(maxNodes);

  const runs: CeilingRun[] = [];
  const byN = new Map<number, CeilingRun>();
  let projection: Projection | null = null;
  const measure = async (nodes: number, phase: 'grow' | 'bisect'): Promise<CeilingRun | 'blocked' | 'stopped'> => {
    const known = byN.get(nodes);
    if (known) return known;
    if (o.shouldStop?.()) return 'stopped';
    const est = estimate(runs, nodes);
    if (est && (est.peakRssBytes > budget.rssBytes || est.wallMs > budget.wallMs)) {
      projection = project(cfg0, runs, nodes, est, budget, maxNodes);
      return 'blocked';
    }
    const cfg = configFor(nodes);
    if (runtime.name === 'sim') {
      // a run the simulator cannot hold here is beyond this machine: project instead of crashing
      try {
        checkSimCapacity(cfg);
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        const c = estimateSimCapacity(cfg);
        projection = project(cfg0, runs, nodes, { peakRssBytes: c.typedBytes + c.heapBytes + BASE_BYTES, wallMs: est?.wallMs ?? 0 }, budget, maxNodes);
        return 'blocked';
      }
    }
    const result = await runtime.run(cfg, { shouldStop: o.shouldStop, transport: o.transport, hosts: o.hosts });
    if (!result.run.completed) return 'stopped';
    const failures = failuresOf(result, slos);
    const run: CeilingRun = { nodes, healthy: failures.length === 0, failures, result };
    runs.push(run);
    byN.set(nodes, run);
    o.onRun?.(run, phase);
    return run;
  };

  let lo = 0; // largest healthy N measured
  let hi = 0; // smallest unhealthy N measured (0: none yet)
  let status: CeilingResult['status'] = 'found';
  // grow
  for (let n = start; ; n = Math.min(2 * n, maxNodes)) {
    const r = await measure(n, 'grow');
    if (r === 'blocked') {
      status = 'beyond-machine';
      break;
    }
    if (r === 'stopped') throw new UsageError('ceiling: interrupted before an answer; nothing written');
    if (!r.healthy) {
      hi = n;
      break;
    }
    lo = n;
    if (n === maxNodes) {
      status = 'max-reached';
      break;
    }
  }
  // bisect (also when the start size already failed: down towards 1)
  while (hi && hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const r = await measure(mid === 0 ? 1 : mid, 'bisect');
    if (r === 'blocked') {
      status = 'beyond-machine';
      break;
    }
    if (r === 'stopped') throw new UsageError('ceiling: interrupted before an answer; nothing written');
    if (r.healthy) lo = r.nodes;
    else hi = r.nodes;
  }
  if (status === 'found' && lo === 0) status = 'none-healthy';
  const failing = hi ? byN.get(hi)! : null;
  return {
    schema: CEILING_SCHEMA,
    tool: toolInfo(),
    machine: machineInfo(),
    protocol: cfg0.protocol.name,
    scenario: cfg0.scenario.name,
    runtime: 'sim',
    seed: cfg0.seed,
    durationMs: cfg0.durationMs,
    sets: [...(o.sets ?? [])],
    slos: slos.map((s) => s.text),
    maxNodes,
    status,
    ceiling: lo || null,
    firstFailing: failing ? { nodes: failing.nodes, binding: failing.failures[0] } : null,
    projection,
    runs: [...runs].sort((a, b) => a.nodes - b.nodes),
  };
}
