/**
 * The ceiling file: `schema: "fleetbench/ceiling@1"`, written by `fleetbench ceiling`, read by
 * report and compare. It carries the answer (largest healthy N, first failing N, the binding limit
 * or SLO) and the runs that are its evidence, each with its full result. A projection beyond what
 * this machine can simulate is kept apart, under `projection`, and says so in `projection.label`.
 */
import { z } from 'zod';
import { ResultSchema } from '../results/schema.ts';
import { parseDocument, readVersioned } from '../results/files.ts';

export const CEILING_SCHEMA = 'fleetbench/ceiling@1';

export const BindingSchema = z.object({
  /** limit: a host limit from summary.limitsHit; slo: a --slo that failed; health: a built-in health check */
  kind: z.enum(['limit', 'slo', 'health']),
  name: z.string(),
  detail: z.string(),
});
export type Binding = z.infer<typeof BindingSchema>;

export const CeilingRunSchema = z.object({
  nodes: z.number().int(),
  healthy: z.boolean(),
  failures: z.array(BindingSchema),
  result: ResultSchema,
});
export type CeilingRun = z.infer<typeof CeilingRunSchema>;

const FitSchema = z.object({ metric: z.string(), a: z.number(), b: z.number(), r2: z.number(), points: z.number() });

export const ProjectionSchema = z.object({
  label: z.literal('projected'),
  /** why the search stopped measuring: the N it would have had to run and the estimate that ruled it out */
  reason: z.string(),
  blockedAtNodes: z.number().int(),
  estimate: z.object({ peakRssBytes: z.number(), wallMs: z.number() }),
  budget: z.object({ rssBytes: z.number(), wallMs: z.number() }),
  /** projected ceiling: the largest N below which no fitted resource crosses its limit; null if none crosses below maxNodes */
  ceiling: z.number().int().nullable(),
  binding: BindingSchema.nullable(),
  fits: z.array(FitSchema),
});
export type Projection = z.infer<typeof ProjectionSchema>;

export const CeilingResultSchema = z.object({
  schema: z.literal(CEILING_SCHEMA),
  tool: z.object({ version: z.string(), gitCommit: z.string().nullable() }),
  machine: z.object({ cpuModel: z.string(), cpus: z.number(), memBytes: z.number(), node: z.string(), os: z.string() }),
  protocol: z.string(),
  scenario: z.string(),
  runtime: z.literal('sim'),
  seed: z.number().int(),
  durationMs: z.number(),
  sets: z.array(z.string()),
  slos: z.array(z.string()),
  maxNodes: z.number().int(),
  /**
   * found: a failing N was measured; max-reached: healthy up to maxNodes; beyond-machine: the next
   * N to measure would not fit this machine (see projection); none-healthy: even the smallest N failed
   */
  status: z.enum(['found', 'max-reached', 'beyond-machine', 'none-healthy']),
  ceiling: z.number().int().nullable(),
  firstFailing: z.object({ nodes: z.number().int(), binding: BindingSchema }).nullable(),
  projection: ProjectionSchema.nullable(),
  runs: z.array(CeilingRunSchema),
});
export type CeilingResult = z.infer<typeof CeilingResultSchema>;

export function parseCeiling(path: string, data: unknown): CeilingResult {
  return parseDocument(path, data, CeilingResultSchema);
}

export function readCeiling(path: string): CeilingResult {
  return readVersioned(path, CEILING_SCHEMA, CeilingResultSchema);
}
