/**
 * The saturation file: `schema: "fleetbench/saturate@1"`, written by `fleetbench saturate`. It
 * carries the criteria (stated, with where the defaults came from), the theory the answer is held
 * against, the protocol's search and the baseline search, each with the runs that are its evidence
 * (compact: the request figures and protocol CPU of each run, not whole result files), and the
 * membership overhead = 1 − capacity ÷ baseline capacity.
 */
import { z } from 'zod';
import { readVersioned } from '../results/files.ts';

export const SATURATE_SCHEMA = 'fleetbench/saturate@1';

const Lat = z.object({ p50: z.number(), p99: z.number(), max: z.number() }).nullable();

export const LoadRunSchema = z.object({
  /** the offered load set for the run: fleet.requestsPerSec, and the same ÷ N */
  fleetRequestsPerSec: z.number(),
  perNodePerSec: z.number(),
  /** measured: issued and answered-and-correctly-routed per second per node, latency of answered requests */
  offeredPerNodePerSec: z.number(),
  goodputPerNodePerSec: z.number(),
  goodputRatio: z.number(),
  latencyMs: Lat,
  protocolUsPerNodePerSec: z.number(),
  falsePositives: z.number(),
  limitsHit: z.array(z.string()),
  pass: z.boolean(),
  /** why it failed: 'goodput' and/or 'latency' */
  broke: z.array(z.enum(['goodput', 'latency'])),
  wallMs: z.number(),
});
export type LoadRun = z.infer<typeof LoadRunSchema>;

export const SearchSchema = z.object({
  /** the nodes and --set of this search's runs */
  nodes: z.number().int(),
  sets: z.array(z.string()),
  /**
   * found: a passing and a failing load bracket the capacity within the resolution;
   * max-load: every load up to the largest tried passed (capacity is at least that);
   * none-passing: even the smallest load tried failed; budget: runs or wall time ran out first;
   * interrupted: Ctrl-C (capacity is the best passing load so far)
   */
  status: z.enum(['found', 'max-load', 'none-passing', 'budget', 'interrupted']),
  /** the largest passing load, requests/s per node (0 when none passed) */
  capacityPerNodePerSec: z.number(),
  /** the smallest failing load and what broke there; null when none failed */
  firstFailing: z.object({ perNodePerSec: z.number(), broke: z.array(z.enum(['goodput', 'latency'])) }).nullable(),
  runs: z.array(LoadRunSchema),
});
export type Search = z.infer<typeof SearchSchema>;

export const SaturateResultSchema = z.object({
  schema: z.literal(SATURATE_SCHEMA),
  tool: z.object({ version: z.string(), gitCommit: z.string().nullable() }),
  machine: z.object({ cpuModel: z.string(), cpus: z.number(), memBytes: z.number(), node: z.string(), os: z.string() }),
  runtime: z.enum(['sim', 'live']),
  protocol: z.string(),
  scenario: z.string(),
  nodes: z.number().int(),
  seed: z.number().int(),
  durationMs: z.number(),
  sets: z.array(z.string()),
  costProfile: z.string().nullable(),
  model: z.object({ coresPerNode: z.number(), cpuUsPerRequest: z.number(), backendRttMs: z.number() }),
  criteria: z.object({
    /** a load passes while goodput ≥ this × offered */
    minGoodputRatio: z.number(),
    /** and while request latency p99 ≤ this, ms; null: no latency criterion */
    p99MaxMs: z.number().nullable(),
    /** where p99MaxMs came from, in words (e.g. "10 × unloaded latency (4 ms service + 1 ms back-end RTT)") */
    p99Source: z.string(),
    /** bisection stops when (fail − pass) ≤ resolution × fail */
    resolution: z.number(),
  }),
  theory: z.object({
    serviceMs: z.number(),
    unloadedLatencyMs: z.number(),
    /** cores × 1e6 ÷ cpuUsPerRequest: the throughput bound with no protocol work */
    requestOnlyPerNodePerSec: z.number(),
    /**
     * the load at which a single-core FE serving only requests (M/D/1) has p99 = p99MaxMs; null with
     * no latency criterion, more than one core (M/D/c), or a bound past the formula's precision
     */
    requestOnlyAtP99PerNodePerSec: z.number().nullable(),
    /**
     * the same less the protocol CPU measured at the capacity run (the lightest run when none
     * passed); null without a run, and live (there the CPU figure is the whole process's)
     */
    sharedCapacityPerNodePerSec: z.number().nullable(),
    /** protocol CPU ÷ node CPU at that run */
    overhead: z.number().nullable(),
  }),
  search: SearchSchema,
  baseline: z
    .object({
      /** free: the same N with every protocol CPU cost set to 0; single: the same search at N = 1 (no peers) */
      method: z.enum(['free', 'single']),
      search: SearchSchema,
    })
    .nullable(),
  /** 1 − capacity ÷ baseline capacity; null without a baseline or when the baseline found none */
  overhead: z.number().nullable(),
  wallMs: z.number(),
});
export type SaturateResult = z.infer<typeof SaturateResultSchema>;

export function readSaturate(path: string): SaturateResult {
  return readVersioned(path, SATURATE_SCHEMA, SaturateResultSchema);
}
