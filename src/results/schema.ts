/**
 * The result file: one JSON document per run, `schema: "fleetbench/result@1"`, validated on read.
 * Reports, compare and CI read these files, never console output. Wall-clock figures live only
 * under `sim` and `machine`, so two runs with the same seed and inputs differ nowhere else.
 */
import { z } from 'zod';
import { readVersioned, writeJsonAtomic } from './files.ts';
import { LiveSectionSchema } from '../live/schema.ts';

export const RESULT_SCHEMA = 'fleetbench/result@1';

const Pct = z.object({ p50: z.number(), p99: z.number(), max: z.number() }).nullable();
const Num = z.number();
const Dict = z.record(z.string(), z.union([z.number(), z.boolean(), z.string()]));

export const SampleSchema = z.object({
  tMs: Num,
  liveNodes: Num,
  requests: Num,
  misrouted: Num,
  failed: Num,
  messages: Num,
  bytes: Num,
  threadsMaxPerNode: Num,
  connectionsMaxPerNode: Num,
  memoryMaxBytesPerNode: Num,
  viewAccuracy: Num,
  unconvergedReshards: Num,
});

export const HealthCheckSchema = z.object({ name: z.string(), ok: z.boolean(), value: Num, threshold: Num, rule: z.string() });

export const ResultSchema = z.object({
  schema: z.literal(RESULT_SCHEMA),
  run: z.object({
    protocol: z.string(),
    runtime: z.enum(['sim', 'live']),
    nodes: z.number().int(),
    scenario: z.string(),
    seed: z.number().int(),
    durationMs: Num,
    simulatedMs: Num,
    completed: z.boolean(),
    params: Dict,
    limits: Dict,
    costs: Dict,
    /** the cost profile file (`fleetbench calibrate`) the costs came from; null = built-in defaults */
    costProfile: z.string().nullable().default(null),
    network: Dict,
    fleet: Dict,
  }),
  machine: z.object({ cpuModel: z.string(), cpus: Num, memBytes: Num, node: z.string(), os: z.string() }),
  tool: z.object({ version: z.string(), gitCommit: z.string().nullable() }),
  summary: z.object({
    requests: z.object({ total: Num, misrouted: Num, failed: Num, misrouteRate: Num, tailMisrouteRate: Num, throughputPerSec: Num }),
    messages: z.object({ total: Num, dropped: Num, perNodePerSec: Num, bytesPerNodePerSec: Num }),
    memory: z.object({ peakBytesPerNode: Num, meanBytesPerNode: Num }),
    threads: z.object({ peakPerNode: Num }),
    connections: z.object({ peakPerNode: Num }),
    cpu: z.object({ protocolUsPerNodePerSec: Num }),
    limitsHit: z.array(z.object({ limit: z.enum(['threads', 'fds', 'memory', 'cpu']), nodes: Num, firstAtMs: Num })),
    membership: z.object({
      joinConvergenceMs: Pct,
      unconvergedJoins: Num,
      detectionMs: z.object({ first: Pct, all: Pct }),
      undetectedCrashes: Num,
      falsePositives: Num,
      viewAccuracy: Num,
    }),
    shardMap: z.object({ reshards: Num, stalenessMs: Pct, unconverged: Num, superseded: Num }),
    protocolCounters: z.record(z.string(), Num),
    /** partitioned fleets only (null for flat ones) */
    cells: z
      .object({
        count: Num,
        cellSize: Num,
        nodesPerCell: z.object({ min: Num, max: Num }),
        shardsPerCell: z.object({ min: Num, max: Num }),
        /** share of requests failed or misrouted from the first crashCell event to the end; null without one */
        blastRadius: Num.nullable(),
        /** share of shards owned by the cells crashed by crashCell: the blast radius cells promise */
        outageShardShare: Num.nullable(),
      })
      .nullable(),
    healthy: z.boolean(),
    healthChecks: z.array(HealthCheckSchema),
  }),
  timeseries: z.array(SampleSchema),
  sim: z
    .object({ events: Num, eventsPerSec: Num, wallMs: Num, simSecondsPerWallSecond: Num, peakRssBytes: Num })
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
