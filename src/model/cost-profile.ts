/**
 * A cost profile: modelled costs measured on a machine (`fleetbench calibrate`), loaded by the
 * simulator with `--costs FILE` so simulated fleets use measured figures instead of the defaults.
 */
import { z } from 'zod';
import { UsageError, escapeControl } from '../errors.ts';
import { MAX_SMALL_DOCUMENT_BYTES, parseJsonText, readTextCapped } from '../results/files.ts';
import { COSTS, type Costs } from './defaults.ts';

export const COST_PROFILE_SCHEMA = 'fleetbench/costs@1';

const costShape = Object.fromEntries(Object.keys(COSTS).map((k) => [k, z.number().finite().nonnegative()])) as Record<keyof Costs, z.ZodNumber>;

/** A key of a free-form record: not a name Object.prototype already has (`constructor`, `__proto__`…). */
const ownKey = z
  .string()
  .min(1)
  .max(200)
  .refine((k) => k !== '__proto__' && !(k in Object.prototype), 'a name Object.prototype already has is not allowed here');

/** Strict at every level: an unknown or inherited name is refused, never ignored. */
export const CostProfileSchema = z.strictObject({
  schema: z.literal(COST_PROFILE_SCHEMA),
  measuredOn: z.record(ownKey, z.union([z.string().max(10_000), z.number()])).optional(),
  costs: z.strictObject(costShape).partial(),
  /** how each figure was obtained (calibrate writes it) */
  details: z.record(ownKey, z.union([z.string().max(10_000), z.number(), z.boolean(), z.null()])).optional(),
});
export type CostProfile = z.infer<typeof CostProfileSchema>;

/** Reads a cost profile with a size cap; every problem is reported, one line each. */
export function loadCostProfile(path: string): CostProfile {
  const label = `--costs ${path}`;
  const data = parseJsonText(readTextCapped(path, MAX_SMALL_DOCUMENT_BYTES, label), label);
  const parsed = CostProfileSchema.safeParse(data);
  if (!parsed.success) {
    throw new UsageError(parsed.error.issues.map((i) => escapeControl(`${label}: ${i.path.map(String).join('.') || '(root)'}: ${i.message}`)).join('\n'));
  }
  return parsed.data;
}
