/**
 * saturate(): one protocol's data-plane capacity per node at fleet size N, and how much of it the
 * membership protocol takes.
 *
 * Two load searches (search.ts) with the same harness, criteria, seed and duration:
 * - the protocol as configured, at N;
 * - the baseline: by default ('free') the same N with every protocol CPU cost (costs.cpu* other
 *   than cpuUsPerRequest) set to 0, so the only difference between the two is the CPU the
 *   membership protocol spends — same fleet size, same per-node Poisson arrivals, same routing.
 *   The live runtime cannot make real CPU free: there the baseline is 'single', the same search
 *   at N = 1 (a node with no peers sends no membership messages).
 * overhead = 1 − capacity ÷ baseline capacity. Every run uses the same seed (common random
 * numbers), so neighbouring loads differ only by the load.
 */
import { UsageError } from '../errors.ts';
import { resolveRun, type RunConfig } from '../harness/run-config.ts';
import { MAX_REQUESTS_PER_SEC } from '../harness/scenario.ts';
import { machineInfo, toolInfo } from '../results/meta.ts';
import { getRuntime, type TransportKind } from '../runtimes.ts';
import type { HostsSpec } from '../live/hosts.ts';
import { DEFAULT_MIN_GOODPUT_RATIO, judge, type Criteria } from './criteria.ts';
import { SATURATE_SCHEMA, type LoadRun, type SaturateResult, type Search } from './schema.ts';
import { searchLoad } from './search.ts';
import { DEFAULT_LATENCY_MULTIPLE, mdOneLoadAtP99, requestOnlyPerNode, serviceMs, sharedCapacityPerNode, theoreticalOverhead, unloadedLatencyMs } from './theory.ts';

/** the first load tried, as a share of the request-only bound */
export const START_FRACTION = 1 / 8;
/** growth stops at this multiple of the request-only bound (a live cost profile may underestimate a request) */
export const MAX_LOAD_MULTIPLE = 4;
/** halving stops at this share of the request-only bound */
export const MIN_LOAD_FRACTION = 1 / 1024;
export const DEFAULT_RESOLUTION = 0.01;
export const DEFAULT_MAX_RUNS = 16;
export const DEFAULT_MAX_WALL_MS = 10 * 60_000;

export type BaselineMethod = 'free' | 'single' | 'none';

export interface SaturateOptions {
  protocol: string;
  scenario: string;
  nodes?: number;
  seed?: number;
  durationMs?: number;
  sets?: readonly string[];
  costsFile?: string;
  minGoodputRatio?: number;
  /** a fixed p99 bound, ms; null: none; undefined: latencyMultiple × unloaded latency */
  p99MaxMs?: number | null;
  latencyMultiple?: number;
  resolution?: number;
  /** per search */
  maxRuns?: number;
  /** the whole command, both searches */
  maxWallMs?: number;
  /** default: free in the simulator, single live */
  baseline?: BaselineMethod;
  runtime?: string;
  transport?: TransportKind;
  hosts?: HostsSpec;
  shouldStop?: () => boolean;
  onRun?: (run: LoadRun, which: 'protocol' | 'baseline') => void;
}

function check(field: string, v: number | undefined, ok: (v: number) => boolean, allowed: string): void {
  if (v !== undefined && !(Number.isFinite(v) && ok(v))) throw new UsageError(`${field}: expected ${allowed}, got ${v}`);
}

/** --set entries that make every protocol CPU cost free (all costs.cpu* but the request's own) */
export function freeProtocolSets(cfg: RunConfig): string[] {
  return Object.keys(cfg.costs)
    .filter((k) => k.startsWith('cpu') && k !== 'cpuUsPerRequest')
    .map((k) => `costs.${k}=0`);
}

export async function saturate(o: SaturateOptions): Promise<SaturateResult> {
  const started = Date.now();
  check('--min-goodput', o.minGoodputRatio, (v) => v > 0 && v <= 1, 'a ratio in (0, 1]');
  check('--p99-max', o.p99MaxMs ?? undefined, (v) => v > 0, 'a time > 0');
  check('--latency-multiple', o.latencyMultiple, (v) => v > 1, 'a number > 1');
  check('--resolution', o.resolution, (v) => v > 0 && v < 1, 'a ratio in (0, 1)');
  check('--max-runs', o.maxRuns, (v) => Number.isInteger(v) && v >= 2, 'an integer ≥ 2');
  check('--max-wall', o.maxWallMs, (v) => v > 0, 'a time > 0');
  if (o.p99MaxMs !== undefined && o.latencyMultiple !== undefined) throw new UsageError('--latency-multiple: give it or --p99-max, not both');
  const runtime = getRuntime(o.runtime ?? 'sim');
  const method: BaselineMethod = o.baseline ?? (runtime.name === 'live' ? 'single' : 'free');
  if (method === 'free' && runtime.name === 'live') throw new UsageError('--baseline: free makes the protocol\'s modelled CPU free, which a live run cannot; use single or none');
  const sets = [...(o.sets ?? [])];
  if (sets.some((s) => /^\s*fleet\.requestsPerSec\s*=/.test(s))) throw new UsageError('--set fleet.requestsPerSec: saturate sets the offered load itself; leave it out');
  const configFor = (nodes: number | undefined, extra: readonly string[], load: number) =>
    resolveRun({ protocol: o.protocol, scenario: o.scenario, nodes, seed: o.seed, durationMs: o.durationMs, sets: [...sets, ...extra, `fleet.requestsPerSec=${load}`], costsFile: o.costsFile });
  const cfg = configFor(o.nodes, [], 0); // validates every input before any run
  const nodes = cfg.nodes;
  const cores = cfg.limits.coresPerNode, us = cfg.costs.cpuUsPerRequest, rtt = cfg.network.backendRttMs;
  // the client's round trip to the FE, at its mean (the simulator draws it; theory takes it as fixed)
  const hop = 2 * cfg.network.latencyMeanMs;
  if (!(us > 0)) throw new UsageError(`costs.cpuUsPerRequest: must be > 0 to saturate (requests must cost CPU), got ${us}`);

  const unloaded = unloadedLatencyMs(us, cores, rtt + hop);
  const multiple = o.latencyMultiple ?? DEFAULT_LATENCY_MULTIPLE;
  const p99MaxMs = o.p99MaxMs === undefined ? multiple * unloaded : o.p99MaxMs;
  const p99Source =
    o.p99MaxMs === null ? 'none (no latency criterion)'
    : o.p99MaxMs !== undefined ? 'given (--p99-max)'
    : `${multiple} × unloaded latency (${serviceMs(us, cores).toPrecision(3)} ms service + ${rtt} ms back-end RTT + ${hop.toPrecision(3)} ms client round trip = ${unloaded.toPrecision(3)} ms)`;
  const criteria: Criteria = { minGoodputRatio: o.minGoodputRatio ?? DEFAULT_MIN_GOODPUT_RATIO, p99MaxMs };
  const resolution = o.resolution ?? DEFAULT_RESOLUTION;
  const bound = requestOnlyPerNode(us, cores);
  const deadline = started + (o.maxWallMs ?? DEFAULT_MAX_WALL_MS);

  const search = async (n: number, extra: string[], which: 'protocol' | 'baseline'): Promise<Search> => {
    // the fleet rate is bounded by the scenario schema; a load beyond it cannot be offered
    const maxLoad = Math.min(MAX_LOAD_MULTIPLE * bound, MAX_REQUESTS_PER_SEC / n);
    const measure = async (perNode: number) => {
      const fleet = Math.round(perNode * n * 1000) / 1000;
      const c = configFor(n, extra, fleet);
      const t0 = Date.now();
      const r = await runtime.run(c, { shouldStop: o.shouldStop, transport: o.transport, hosts: o.hosts });
      if (!r.run.completed) return 'stopped' as const;
      const run = judge(r, fleet / n, criteria, Date.now() - t0);
      o.onRun?.(run, which);
      return run;
    };
    const s = await searchLoad(measure, { start: START_FRACTION * bound, maxLoad, minLoad: MIN_LOAD_FRACTION * bound, resolution, maxRuns: o.maxRuns ?? DEFAULT_MAX_RUNS, deadline }, { shouldStop: o.shouldStop });
    return { nodes: n, sets: [...sets, ...extra], ...s };
  };

  const main = await search(nodes, [], 'protocol');
  let baseline: SaturateResult['baseline'] = null;
  if (method !== 'none' && main.status !== 'interrupted') {
    baseline = method === 'free' ? { method, search: await search(nodes, freeProtocolSets(cfg), 'baseline') } : { method, search: await search(1, [], 'baseline') };
  }
  // protocol CPU at the capacity run; when none passed, at the lightest load (it barely depends on load).
  // Live, the figure is the node process's whole CPU, requests included: no protocol share to derive.
  const at = runtime.name !== 'sim' ? null : (main.runs.find((r) => r.pass && r.perNodePerSec === main.capacityPerNodePerSec) ?? main.runs[0] ?? null);
  const baseCap = baseline?.search.capacityPerNodePerSec ?? 0;
  return {
    schema: SATURATE_SCHEMA,
    tool: toolInfo(),
    machine: machineInfo(),
    runtime: runtime.name,
    protocol: cfg.protocol.name,
    scenario: cfg.scenario.name,
    nodes,
    seed: cfg.seed,
    durationMs: cfg.durationMs,
    sets,
    costProfile: cfg.costProfile,
    model: { coresPerNode: cores, cpuUsPerRequest: us, backendRttMs: rtt },
    criteria: { ...criteria, p99Source, resolution },
    theory: {
      serviceMs: serviceMs(us, cores),
      unloadedLatencyMs: unloaded,
      requestOnlyPerNodePerSec: bound,
      requestOnlyAtP99PerNodePerSec: p99MaxMs !== null && Math.ceil(cores) === 1 ? mdOneLoadAtP99(p99MaxMs, serviceMs(us, cores), rtt + hop) : null,
      sharedCapacityPerNodePerSec: at ? sharedCapacityPerNode(us, cores, at.protocolUsPerNodePerSec) : null,
      overhead: at ? theoreticalOverhead(cores, at.protocolUsPerNodePerSec) : null,
    },
    search: main,
    baseline,
    overhead: baseline && baseCap > 0 ? 1 - main.capacityPerNodePerSec / baseCap : null,
    wallMs: Date.now() - started,
  };
}
