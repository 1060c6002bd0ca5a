/**
 * Scenarios are data: JSON files under bench/scenarios (or any path), validated on load.
 * A scenario says how big the fleet is, how long to run, what the back end and traffic look like,
 * which limits and network apply, and what happens when (add capacity, crash, pause, loss...).
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { UsageError } from '../errors.ts';

const nonNeg = z.number().finite().nonnegative();
const count = z.number().int().min(1);
const at = { atMs: nonNeg };

export const ScenarioEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('add'), ...at, count, overMs: nonNeg.default(0) }).strict(),
  z.object({ type: z.literal('remove'), ...at, count }).strict(),
  z.object({ type: z.literal('crash'), ...at, count }).strict(),
  z.object({ type: z.literal('pause'), ...at, count, forMs: z.number().positive() }).strict(),
  z.object({ type: z.literal('loss'), ...at, rate: z.number().min(0).max(1) }).strict(),
  z.object({ type: z.literal('partition'), ...at, fraction: z.number().gt(0).lt(1) }).strict(),
  z.object({ type: z.literal('heal'), ...at }).strict(),
  z.object({ type: z.literal('reshardStorm'), ...at, count, overMs: nonNeg.default(0) }).strict(),
  /** every node of one cell crashes (protocols with cells only); `cell` defaults to a random one */
  z.object({ type: z.literal('crashCell'), ...at, cell: z.number().int().min(0).optional() }).strict(),
]);
export type ScenarioEvent = z.infer<typeof ScenarioEventSchema>;

export const LimitsSchema = z
  .object({
    threadsPerNode: z.number().int().min(1),
    baseThreadsPerNode: z.number().int().min(0),
    fdsPerNode: z.number().int().min(1),
    memoryBytesPerNode: z.number().positive(),
    coresPerNode: z.number().positive(),
  })
  .partial()
  .strict();

export const NetworkSchema = z
  .object({
    latencyMinMs: nonNeg,
    latencyMeanMs: nonNeg,
    lossRate: z.number().min(0).max(1),
  })
  .partial()
  .strict();

export const FleetSchema = z
  .object({
    shards: z.number().int().min(1).max(1 << 20),
    clusters: z.number().int().min(2),
    membershipLagMs: nonNeg,
    requestsPerSec: nonNeg,
    traffic: z.enum(['uniform', 'zipf']),
    zipfExponent: z.number().positive(),
    /** time-series resolution */
    sampleEveryMs: z.number().positive(),
  })
  .partial()
  .strict();

export const ScenarioSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
    description: z.string().min(1),
    nodes: z.number().int().min(1),
    durationMs: z.number().positive(),
    fleet: FleetSchema.default({}),
    reshards: z
      .object({ perSec: nonNeg, fromMs: nonNeg.default(0), untilMs: nonNeg.optional() })
      .strict()
      .default({ perSec: 0, fromMs: 0 }),
    limits: LimitsSchema.default({}),
    network: NetworkSchema.default({}),
    /** Window at the end of the run whose misroute rate says whether the run converged. */
    tailMs: z.number().positive().optional(),
    events: z.array(ScenarioEventSchema).default([]),
  })
  .strict();

export type Scenario = z.infer<typeof ScenarioSchema>;
export type ScenarioLimits = z.infer<typeof LimitsSchema>;
export type ScenarioNetwork = z.infer<typeof NetworkSchema>;

/** Formats the first zod issue as "field: what is allowed". */
export function describeIssue(err: z.ZodError): string {
  const issue = err.issues[0];
  const path = issue.path.length ? issue.path.map(String).join('.') : '(root)';
  return `${path}: ${issue.message}`;
}

export const SCENARIO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../bench/scenarios');

export function scenarioNames(): string[] {
  return readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => basename(f, '.json'))
    .sort();
}

export function parseScenario(data: unknown, origin: string): Scenario {
  const parsed = ScenarioSchema.safeParse(data);
  if (!parsed.success) throw new UsageError(`scenario ${origin}: ${describeIssue(parsed.error)}`);
  const s = parsed.data;
  for (const [i, e] of s.events.entries()) {
    if (e.atMs > s.durationMs) {
      throw new UsageError(`scenario ${origin}: events.${i}.atMs: ${e.atMs} is after the end of the run (durationMs ${s.durationMs})`);
    }
  }
  if (s.network.latencyMinMs !== undefined && s.network.latencyMeanMs !== undefined && s.network.latencyMeanMs < s.network.latencyMinMs) {
    throw new UsageError(`scenario ${origin}: network.latencyMeanMs must be ≥ network.latencyMinMs`);
  }
  return s;
}

/** Loads a scenario by name (bench/scenarios/NAME.json) or by path. */
export function loadScenario(nameOrPath: string): Scenario {
  const byName = join(SCENARIO_DIR, `${nameOrPath}.json`);
  const file = /[/\\]|\.json$/.test(nameOrPath) ? resolve(nameOrPath) : byName;
  if (!existsSync(file)) {
    throw new UsageError(`--scenario: unknown scenario "${nameOrPath}"; known: ${scenarioNames().join(', ')} (or a path to a .json file)`);
  }
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`scenario ${file}: not valid JSON (${(e as Error).message})`);
  }
  return parseScenario(data, nameOrPath);
}
