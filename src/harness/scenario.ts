/**
 * Scenarios are data: JSON files under bench/scenarios (or any path), validated on load.
 * A scenario says how big the fleet is, how long to run, what the back end and traffic look like,
 * which limits and network apply, and what happens when (add capacity, crash, pause, loss...).
 */
import { readdirSync, existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { UsageError, escapeControl } from '../errors.ts';
import { MAX_SMALL_DOCUMENT_BYTES, parseJsonText, readTextCapped } from '../results/files.ts';

/**
 * Bounds that match what the code can hold. The simulator keeps per-node typed arrays and a
 * node × node bit-matrix, so a fleet past MAX_NODES cannot be represented at all (the capacity
 * estimate in src/sim/capacity.ts refuses far smaller fleets on a given machine); a rate past
 * its maximum schedules events closer than the clock's resolution, so simulated time would stop.
 */
export const MAX_NODES = 1_000_000;
/** one simulated day: a sample per second makes a result file of ~30 MB */
export const MAX_DURATION_MS = 86_400_000;
export const MAX_RESHARDS_PER_SEC = 10_000;
export const MAX_REQUESTS_PER_SEC = 1_000_000;
export const MAX_SHARDS = 1 << 20;
export const MAX_CLUSTERS = 1 << 16;
/** reshards in one storm: each is a pending reshard with a bitset over the fleet */
export const MAX_STORM = 1_000_000;
export const MAX_EVENTS = 100_000;

const nonNeg = z.number().finite().nonnegative();
const ms = nonNeg.max(MAX_DURATION_MS);
const count = z.number().int().min(1).max(MAX_NODES);
const at = { atMs: ms };

export const ScenarioEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('add'), ...at, count, overMs: ms.default(0) }).strict(),
  z.object({ type: z.literal('remove'), ...at, count }).strict(),
  z.object({ type: z.literal('crash'), ...at, count }).strict(),
  z.object({ type: z.literal('pause'), ...at, count, forMs: z.number().positive().max(MAX_DURATION_MS) }).strict(),
  z.object({ type: z.literal('loss'), ...at, rate: z.number().min(0).max(1) }).strict(),
  z.object({ type: z.literal('partition'), ...at, fraction: z.number().gt(0).lt(1) }).strict(),
  z.object({ type: z.literal('heal'), ...at }).strict(),
  z.object({ type: z.literal('reshardStorm'), ...at, count: z.number().int().min(1).max(MAX_STORM), overMs: ms.default(0) }).strict(),
  /** `count` running FEs restart: killed, then a cold start (the map rebuilt from the store) before they serve */
  z.object({ type: z.literal('restart'), ...at, count }).strict(),
  /** every FE running at atMs (or the first `count` of them) restarts, one after another at `perHour` */
  z.object({ type: z.literal('rollingRestart'), ...at, perHour: z.number().positive().max(3.6e9), count: count.optional() }).strict(),
  /** every node of one cell crashes (protocols with cells only); `cell` defaults to a random one */
  z.object({ type: z.literal('crashCell'), ...at, cell: z.number().int().min(0).max(MAX_NODES - 1).optional() }).strict(),
]);
export type ScenarioEvent = z.infer<typeof ScenarioEventSchema>;

export const LimitsSchema = z
  .object({
    threadsPerNode: z.number().int().min(1).max(1e9),
    baseThreadsPerNode: z.number().int().min(0).max(1e6),
    fdsPerNode: z.number().int().min(1).max(1e9),
    memoryBytesPerNode: z.number().positive().max(2 ** 53),
    coresPerNode: z.number().positive().max(1e4),
  })
  .partial()
  .strict();

export const NetworkSchema = z
  .object({
    latencyMinMs: ms,
    latencyMeanMs: ms,
    backendRttMs: ms,
    tcpRtoMinMs: z.number().positive().max(3_600_000),
    tcpRetries: z.number().int().min(0).max(100),
    linkBytesPerSec: z.number().positive().max(1e15),
    lossRate: z.number().min(0).max(1),
  })
  .partial()
  .strict();

export const FleetSchema = z
  .object({
    shards: z.number().int().min(1).max(MAX_SHARDS),
    clusters: z.number().int().min(2).max(MAX_CLUSTERS),
    membershipLagMs: ms,
    /** a joiner is listed after a lag drawn uniform in [membershipLagMs, membershipLagMaxMs] */
    membershipLagMaxMs: ms,
    requestsPerSec: nonNeg.max(MAX_REQUESTS_PER_SEC),
    traffic: z.enum(['uniform', 'zipf']),
    zipfExponent: z.number().positive().max(100),
    /** time-series resolution */
    sampleEveryMs: ms.min(1),
    /** the configuration store cold starts read (src/fleet/config-store.ts) */
    storeReadsPerSec: z.number().positive().max(1e9),
    storeEntriesPerRead: z.number().int().min(1).max(MAX_SHARDS),
    storeReadLatencyMs: ms,
  })
  .partial()
  .strict();

export const ScenarioSchema = z
  .object({
    name: z.string().max(100).regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
    description: z.string().min(1).max(2000).optional(),
    nodes: count,
    durationMs: z.number().positive().max(MAX_DURATION_MS),
    fleet: FleetSchema.default({}),
    reshards: z
      .object({ perSec: nonNeg.max(MAX_RESHARDS_PER_SEC), fromMs: ms.default(0), untilMs: ms.optional() })
      .strict()
      .default({ perSec: 0, fromMs: 0 }),
    limits: LimitsSchema.default({}),
    network: NetworkSchema.default({}),
    /** a shipped cost profile's name (src/model/profiles/) the scenario's FEs are modelled with; --costs overrides it */
    costs: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a shipped cost profile name').optional(),
    /** Window at the end of the run whose misroute rate says whether the run converged. */
    tailMs: z.number().positive().max(MAX_DURATION_MS).optional(),
    events: z.array(ScenarioEventSchema).max(MAX_EVENTS).default([]),
  })
  .strict();

export type Scenario = z.infer<typeof ScenarioSchema>;
export type ScenarioLimits = z.infer<typeof LimitsSchema>;
export type ScenarioNetwork = z.infer<typeof NetworkSchema>;

function formatIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length ? issue.path.map(String).join('.') : '(root)';
  return escapeControl(`${path}: ${issue.message}`);
}

/** Formats the first zod issue as "field: what is allowed". */
export function describeIssue(err: z.ZodError): string {
  return formatIssue(err.issues[0]);
}

/** Every zod issue as "field: what is allowed", one per entry (control characters escaped). */
export function describeIssues(err: z.ZodError): string[] {
  return err.issues.map(formatIssue);
}

export const SCENARIO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../bench/scenarios');

export function scenarioNames(): string[] {
  return readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => basename(f, '.json'))
    .sort();
}

/** Validates a scenario; every problem is reported, one line each, prefixed with the origin. */
export function parseScenario(data: unknown, origin: string): Scenario {
  const where = `scenario ${escapeControl(origin)}`;
  const parsed = ScenarioSchema.safeParse(data);
  if (!parsed.success) throw new UsageError(describeIssues(parsed.error).map((l) => `${where}: ${l}`).join('\n'));
  const s = parsed.data;
  const problems: string[] = [];
  let fleet = s.nodes;
  for (const [i, e] of s.events.entries()) {
    if (e.atMs > s.durationMs) problems.push(`events.${i}.atMs: ${e.atMs} is after the end of the run (durationMs ${s.durationMs})`);
    if (e.type === 'add' && (fleet += e.count) > MAX_NODES) {
      problems.push(`events.${i}.count: the fleet would grow to ${fleet} nodes; at most ${MAX_NODES} in all (nodes plus every add)`);
    }
  }
  if (s.network.latencyMinMs !== undefined && s.network.latencyMeanMs !== undefined && s.network.latencyMeanMs < s.network.latencyMinMs) {
    problems.push('network.latencyMeanMs must be ≥ network.latencyMinMs');
  }
  if (problems.length) throw new UsageError(problems.map((l) => `${where}: ${l}`).join('\n'));
  return s;
}

/** Loads a scenario by name (bench/scenarios/NAME.json) or by path; the file is read with a size cap. */
export function loadScenario(nameOrPath: string): Scenario {
  const byName = join(SCENARIO_DIR, `${nameOrPath}.json`);
  const file = /[/\\]|\.json$/.test(nameOrPath) ? resolve(nameOrPath) : byName;
  if (!existsSync(file)) {
    throw new UsageError(`--scenario: unknown scenario "${escapeControl(nameOrPath)}"; known: ${scenarioNames().join(', ')} (or a path to a .json file)`);
  }
  const label = `scenario ${file}`;
  const data = parseJsonText(readTextCapped(file, MAX_SMALL_DOCUMENT_BYTES, label), label);
  return parseScenario(data, nameOrPath);
}
