/**
 * The result file: one JSON document per run, `schema: "fleetbench/result@1"`, validated on read.
 * Reports, compare and CI read these files, never console output. Wall-clock figures live only
 * under `sim` and `machine`, so two runs with the same seed and inputs differ nowhere else.
 */
import { z } from 'zod';
import { readVersioned, writeJsonAtomic } from './files.ts';
import { LiveSectionSchema } from '../live/schema.ts';

export const RESULT_SCHEMA = 'fleetbench/result@1';

/**
 * Strict and own-property throughout: an unknown name anywhere is refused (a typo or a file from
 * another tool must not pass as a result), a dictionary key may not be a name Object.prototype
 * already has (`constructor`, `__proto__`, …), and counts, sizes and times are never negative.
 */
const Num = z.number();
const Count = z.number().finite().nonnegative();
const Pct = z.strictObject({ p50: Count, p99: Count, max: Count }).nullable();
export const OwnKey = z
  .string()
  .min(1)
  .max(200)
  .refine((k) => k !== '__proto__' && !(k in Object.prototype), 'a name Object.prototype already has is not allowed here');
const Dict = z.record(OwnKey, z.union([z.number(), z.boolean(), z.string()]));

/** How the live runtime applied each limit (`run.limits.enforcement` in live results). */
export const LimitsEnforcementSchema = z.strictObject({
  threads: z.enum(['cgroup', 'emulated']),
  cpu: z.enum(['cgroup', 'none']),
  memory: z.enum(['cgroup', 'none']),
  fds: z.literal('emulated'),
});
export type LimitsEnforcement = z.infer<typeof LimitsEnforcementSchema>;

/**
 * The run's limits (numbers) and, in live results, `enforcement`: per limit since CPU and memory
 * are enforced. Live files from before hold one string there (the thread limit's, 'cgroup' or
 * 'emulated') beside `fdsEnforcement: "emulated"`; they still validate, and limitsEnforcementOf
 * reads both shapes. Only `enforcement` may be an object.
 */
const Limits = z.record(OwnKey, z.union([z.number(), z.boolean(), z.string(), LimitsEnforcementSchema])).superRefine((limits, ctx) => {
  for (const [k, v] of Object.entries(limits)) {
    if (typeof v === 'object' && k !== 'enforcement') ctx.addIssue({ code: 'custom', path: [k], message: 'only limits.enforcement may be an object' });
  }
});

/** Per-limit enforcement of a result, old or new shape; null for simulator results (nothing enforced). */
export function limitsEnforcementOf(limits: Result['run']['limits']): LimitsEnforcement | null {
  const e = limits.enforcement;
  if (e === undefined) return null;
  if (typeof e === 'object') return e;
  // before CPU and memory were enforced: the string was the thread limit's, nothing bound cpu or memory
  return { threads: e === 'cgroup' ? 'cgroup' : 'emulated', cpu: 'none', memory: 'none', fds: 'emulated' };
}

export const SampleSchema = z.strictObject({
  tMs: Count,
  liveNodes: Count,
  requests: Count,
  misrouted: Count,
  failed: Count,
  messages: Count,
  bytes: Count,
  threadsMaxPerNode: Count,
  connectionsMaxPerNode: Count,
  memoryMaxBytesPerNode: Count,
  viewAccuracy: Count,
  unconvergedReshards: Count,
  /** share (0–1) of live FEs without a usable shard map at the sample (absent in files before it existed) */
  unroutableNodes: Count.default(0),
});

export const HealthCheckSchema = z.strictObject({ name: z.string(), ok: z.boolean(), value: Num, threshold: Num, rule: z.string() });

export const ResultSchema = z.strictObject({
  schema: z.literal(RESULT_SCHEMA),
  run: z.strictObject({
    protocol: z.string(),
    runtime: z.enum(['sim', 'live']),
    nodes: z.number().int().min(1),
    scenario: z.string(),
    seed: z.number().int().min(0),
    durationMs: Count,
    simulatedMs: Count,
    completed: z.boolean(),
    params: Dict,
    limits: Limits,
    costs: Dict,
    /** the cost profile file (`fleetbench calibrate`) the costs came from; null = built-in defaults */
    costProfile: z.string().nullable().default(null),
    network: Dict,
    fleet: Dict,
    /** alarm thresholds (absent in files before alarms existed) */
    alarms: Dict.default({}),
  }),
  machine: z.strictObject({ cpuModel: z.string(), cpus: Count, memBytes: Count, node: z.string(), os: z.string() }),
  tool: z.strictObject({ version: z.string(), gitCommit: z.string().nullable() }),
  summary: z.strictObject({
    requests: z.strictObject({
      total: Count,
      misrouted: Count,
      failed: Count,
      misrouteRate: Count,
      tailMisrouteRate: Count,
      /** failed ÷ total: the FE answered with an error (no usable shard map, frozen, no FE for the cell) */
      failedRate: Count.default(0),
      tailFailedRate: Count.default(0),
      /** correctly routed requests per second of run */
      goodputPerSec: Count.default(0),
      /**
       * an alias of goodputPerSec in files written since requests are work; older simulator files
       * hold a modelled capacity here (cores × node-seconds less protocol CPU, ÷ cpuUsPerRequest)
       */
      throughputPerSec: Count,
      /** requests issued per second of run (open loop: whether answered or not) */
      offeredPerSec: Count.default(0),
      /** answered requests, issue → answer, ms; null when none was answered or it was not measured */
      latencyMs: Pct.default(null),
    }),
    /**
     * From the first failed request until every live FE routes again (null: nothing failed, or the
     * fleet had not recovered by the end); the failed requests in that span; restarts made, and
     * from the first restart until every FE routes (a rolling restart's own length)
     */
    recovery: z
      .strictObject({
        firstFailedAtMs: Num.nullable(),
        recoveredAtMs: Num.nullable(),
        timeToRecoverMs: Num.nullable(),
        failedRequests: Count,
        restarts: Count,
        firstRestartAtMs: Num.nullable(),
        restartPhaseMs: Num.nullable(),
      })
      .default({ firstFailedAtMs: null, recoveredAtMs: null, timeToRecoverMs: null, failedRequests: 0, restarts: 0, firstRestartAtMs: null, restartPhaseMs: null }),
    /** FEs without a usable shard map: the largest share of live FEs at once (0–1) */
    routing: z.strictObject({ unroutableNodesPeak: Count }).default({ unroutableNodesPeak: 0 }),
    /**
     * Alarms the post-event summary asked for: when a node first crossed the threshold, on how many
     * nodes, and the lead time to the first failed request (null: no request failed after it)
     */
    alarms: z
      .array(z.strictObject({ name: z.string(), threshold: Count, firstAtMs: Count, nodes: Count, leadMs: Num.nullable() }))
      .default([]),
    messages: z.strictObject({ total: Count, dropped: Count, perNodePerSec: Count, bytesPerNodePerSec: Count }),
    memory: z.strictObject({ peakBytesPerNode: Count, meanBytesPerNode: Count }),
    threads: z.strictObject({ peakPerNode: Count }),
    connections: z.strictObject({ peakPerNode: Count }),
    cpu: z.strictObject({ protocolUsPerNodePerSec: Count }),
    limitsHit: z.array(z.strictObject({ limit: z.enum(['threads', 'fds', 'memory', 'cpu']), nodes: Count, firstAtMs: Count })),
    membership: z.strictObject({
      joinConvergenceMs: Pct,
      unconvergedJoins: Count,
      detectionMs: z.strictObject({ first: Pct, all: Pct }),
      undetectedCrashes: Count,
      falsePositives: Count,
      viewAccuracy: Count,
    }),
    shardMap: z.strictObject({ reshards: Count, stalenessMs: Pct, unconverged: Count, superseded: Count }),
    protocolCounters: z.record(OwnKey, Count),
    /** partitioned fleets only (null for flat ones) */
    cells: z
      .strictObject({
        count: Count,
        cellSize: Count,
        nodesPerCell: z.strictObject({ min: Count, max: Count }),
        shardsPerCell: z.strictObject({ min: Count, max: Count }),
        /** share of requests failed or misrouted from the first crashCell event to the end; null without one */
        blastRadius: Count.nullable(),
        /** share of shards owned by the cells crashed by crashCell: the blast radius cells promise */
        outageShardShare: Count.nullable(),
      })
      .nullable(),
    healthy: z.boolean(),
    healthChecks: z.array(HealthCheckSchema),
  }),
  timeseries: z.array(SampleSchema),
  sim: z
    .strictObject({ events: Count, eventsPerSec: Count, wallMs: Count, simSecondsPerWallSecond: Count, peakRssBytes: Count })
    .nullable(),
  /** live runs only: enforcement, wiring and OS figures (src/live/schema.ts) */
  live: LiveSectionSchema.optional(),
});

export type Result = z.infer<typeof ResultSchema>;

/** Writes a result without ever leaving a half-written or truncated file: temp file, then rename. */
export function writeResultAtomic(path: string, result: Result): void {
  writeJsonAtomic(path, result);
}

/** Reads and validates a result file; bad files get one clear line. */
export function readResult(path: string): Result {
  return readVersioned(path, RESULT_SCHEMA, ResultSchema);
}
