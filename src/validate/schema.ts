/** `fleetbench/validate@1`: a model checked against a real implementation, measure by measure. */
import { z } from 'zod';

export const VALIDATE_SCHEMA = 'fleetbench/validate@1';

const Percentile = z.object({ p50: z.number(), p99: z.number(), max: z.number() }).nullable();

export const ValidateRowSchema = z.object({
  measure: z.string(),
  n: z.number().int().positive(),
  /** the simulator's figure (aggregated over its trials) */
  model: z.number().nullable(),
  /** the real implementation's figure: memberlist's decisions (agent log) */
  real: z.number().nullable(),
  /** model / real; null when either is missing or real is 0 */
  ratio: z.number().nullable(),
  withinTolerance: z.boolean(),
  /** allowed |model − real| / real */
  tolerance: z.number().nonnegative(),
  unit: z.string(),
  /** what an application sees: the agent's coalesced member events (detection and join only) */
  realStream: z.number().nullable(),
});

const Fault = z.enum(['crash', 'join']);

const ModelTrialSchema = z.object({
  scenario: z.string(),
  fault: Fault,
  n: z.number().int(),
  seed: z.number().int(),
  detectionFirstMs: Percentile,
  detectionAllMs: Percentile,
  joinMs: Percentile,
  undetectedCrashes: z.number(),
  unconvergedJoins: z.number(),
  falsePositives: z.number(),
  messagesPerNodePerSec: z.number(),
  bytesPerNodePerSec: z.number(),
  /** when the model's fault happened, ms after its fleet booted (absent in older files: the scenario's) */
  faultAtMs: z.number().optional(),
});

const RealTrialSchema = z.object({
  scenario: z.string(),
  fault: Fault,
  n: z.number().int(),
  seed: z.number().int(),
  crashed: z.array(z.string()),
  log: z.object({ detectionFirstMs: z.array(z.number()), detectionAllMs: z.array(z.number()), joinMs: z.array(z.number()), falsePositives: z.number(), falsePositivesBeforeFault: z.number().default(0), undetectedCrashes: z.number(), unconvergedJoins: z.number() }),
  stream: z.object({ detectionFirstMs: z.array(z.number()), detectionAllMs: z.array(z.number()), joinMs: z.array(z.number()), falsePositives: z.number(), falsePositivesBeforeFault: z.number().default(0), undetectedCrashes: z.number(), unconvergedJoins: z.number() }),
  messagesPerNodePerSec: z.number(),
  bytesPerNodePerSec: z.number(),
  windowMs: z.number(),
  /** how long the oldest agent had run at the fault (absent in older files) */
  agentAgeAtFaultMs: z.number().optional(),
  /** absent in files written before diagnostics were collected */
  diagnostics: z
    .object({
    ownSuspicionMs: z.record(z.string(), z.array(z.number())),
    declared: z.array(z.object({ member: z.string(), by: z.string(), atMs: z.number(), confirmations: z.number() })),
    maxHealthScore: z.number(),
    degradedProbes: z.number(),
  })
    .optional(),
  loadavg: z.object({ start: z.array(z.number()), end: z.array(z.number()) }),
});

export const ValidateDocSchema = z.object({
  schema: z.literal(VALIDATE_SCHEMA),
  protocol: z.string(),
  params: z.array(z.string()),
  against: z.object({ name: z.string(), version: z.string(), profile: z.string() }),
  nodes: z.array(z.number().int().positive()),
  scenarios: z.array(z.string()),
  trials: z.object({ model: z.number().int(), real: z.number().int() }),
  /** the earlier validate file whose real trials were reused, or null when agents ran */
  realFrom: z.string().nullable().default(null),
  /** what the model's scenarios were changed for like-for-like comparison */
  modelScenarioChanges: z.string().default('none'),
  aggregation: z.string(),
  createdAt: z.string(),
  wallMs: z.number(),
  machine: z.record(z.string(), z.unknown()),
  tool: z.record(z.string(), z.unknown()),
  rows: z.array(ValidateRowSchema),
  /** real trials that could not run (e.g. the cluster did not converge), with the reason */
  failedTrials: z.array(z.object({ scenario: z.string(), n: z.number().int(), seed: z.number().int(), error: z.string() })).default([]),
  model: z.array(ModelTrialSchema),
  real: z.array(RealTrialSchema),
});

export type ValidateRow = z.infer<typeof ValidateRowSchema>;
export type ValidateDoc = z.infer<typeof ValidateDocSchema>;
export type ModelTrial = z.infer<typeof ModelTrialSchema>;
export type RealTrial = z.infer<typeof RealTrialSchema>;
