/**
 * A cost profile: modelled costs measured on a machine (`fleetbench calibrate`), loaded by the
 * simulator with `--costs FILE` so simulated fleets use measured figures instead of the defaults.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { UsageError } from '../errors.ts';
import { COSTS, type Costs } from './defaults.ts';

export const COST_PROFILE_SCHEMA = 'fleetbench/costs@1';

const costShape = Object.fromEntries(Object.keys(COSTS).map((k) => [k, z.number().finite().nonnegative()])) as Record<keyof Costs, z.ZodNumber>;

export const CostProfileSchema = z.object({
  schema: z.literal(COST_PROFILE_SCHEMA),
  measuredOn: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
  costs: z.object(costShape).partial().strict(),
});
export type CostProfile = z.infer<typeof CostProfileSchema>;

export function loadCostProfile(path: string): CostProfile {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`--costs: cannot read ${path} (${(e as Error).message})`);
  }
  const parsed = CostProfileSchema.safeParse(data);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new UsageError(`--costs ${path}: ${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  }
  return parsed.data;
}
