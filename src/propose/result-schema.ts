/**
 * proposal-result.json, `schema: "fleetbench/proposal-result@1"`: what `fleetbench propose` decided
 * and from which files. The Markdown and HTML documents are renderings of this file; every figure
 * in them is here with its spread over seeds, and every run and ceiling file it came from is named
 * with the command that reproduces it.
 */
import { z } from 'zod';
import { BindingSchema } from '../ceiling/schema.ts';
import { readVersioned } from '../results/files.ts';

export const PROPOSAL_RESULT_SCHEMA = 'fleetbench/proposal-result@1';

const N = z.number();
const SpreadSchema = z.object({ values: z.array(N.nullable()), min: N.nullable(), median: N.nullable(), max: N.nullable() });

const FIGURE_KEYS = ['failedRate', 'misrouteRate', 'timeToRecoverMs', 'alarmLeadMs', 'memoryPerNode', 'threadsPerNode', 'fdsPerNode', 'messagesPerNodePerSec', 'cpuUsPerNodePerSec'] as const;
const FiguresSchema = z.object(Object.fromEntries(FIGURE_KEYS.map((k) => [k, SpreadSchema])) as Record<(typeof FIGURE_KEYS)[number], typeof SpreadSchema>);

export const RunEvidenceSchema = z.object({
  seed: z.number().int(),
  /** relative to the proposal's output folder */
  file: z.string(),
  command: z.string(),
  healthy: z.boolean(),
  failures: z.array(BindingSchema),
  reused: z.boolean(),
  wallMs: N.nullable(),
});

export const CeilingSummarySchema = z.object({
  file: z.string(),
  command: z.string(),
  status: z.enum(['found', 'max-reached', 'beyond-machine', 'none-healthy']),
  /** measured: a failing N was simulated; projected: fitted growth of per-node resources; lower-bound: healthy as far as the search went */
  kind: z.enum(['measured', 'projected', 'lower-bound']),
  nodes: N.nullable(),
  /** how `nodes` and `headroom` read: exactly, at least, or at most */
  bound: z.enum(['exact', 'at-least', 'at-most']),
  binding: BindingSchema.nullable(),
  /** the smallest N measured unhealthy, if any */
  firstFailingNodes: N.nullable(),
  detail: z.string(),
  headroom: N.nullable(),
  years: N.nullable(),
  /** per-node cost at each measured N (the search's runs) */
  points: z.array(z.object({ nodes: N, healthy: z.boolean(), memoryPerNode: N, threadsPerNode: N, fdsPerNode: N, messagesPerNodePerSec: N })),
  reused: z.boolean(),
});
export type CeilingSummary = z.infer<typeof CeilingSummarySchema>;

export const DesignOutcomeSchema = z.object({
  name: z.string(),
  title: z.string(),
  role: z.enum(['baseline', 'alternative']),
  protocol: z.string(),
  models: z.string(),
  leavesOut: z.string(),
  sets: z.array(z.string()),
  costs: z.string().nullable(),
  fleet: z.object({ nodes: N, cores: N, memory: N, requestShare: N }),
  todayNodes: N,
  scenarioNodes: N,
  /** the scaled scenario written for this design (relative), or null when it runs the named one */
  scenarioFile: z.string().nullable(),
  runs: z.array(RunEvidenceSchema),
  /** null: no run finished */
  survives: z.boolean().nullable(),
  failureNames: z.array(z.string()),
  figures: FiguresSchema,
  /** cost figures at today's N: measured in the scenario runs, or projected from the ceiling runs when the scenario ran at another N */
  costAtToday: z.object({ kind: z.enum(['measured', 'projected', 'missing']), note: z.string() }),
  ceiling: CeilingSummarySchema.nullable(),
  /** the scenario's per-second series of the first seed, for the timeline chart */
  timeline: z.array(z.object({ tSec: N, failedPct: N, misroutedPct: N, liveNodes: N })),
});
export type DesignOutcome = z.infer<typeof DesignOutcomeSchema>;

export const ProposalResultSchema = z.object({
  schema: z.literal(PROPOSAL_RESULT_SCHEMA),
  proposal: z.object({
    file: z.string(),
    name: z.string(),
    question: z.string(),
    scenario: z.string(),
    scenarioDescription: z.string(),
    todayNodes: N,
    growthPerYear: N,
    scenarioNodes: N,
    slos: z.array(z.string()),
    seeds: z.array(z.number().int()),
    quick: z.boolean(),
    ceiling: z.object({ scenario: z.string(), durationMs: N.nullable(), maxNodes: N, maxRunWallMs: N, seed: N }),
  }),
  tool: z.object({ version: z.string(), gitCommit: z.string().nullable() }),
  machine: z.object({ cpuModel: z.string(), cpus: N, memBytes: N, node: z.string(), os: z.string() }),
  /** false when interrupted: the document covers what finished; rerun to resume */
  complete: z.boolean(),
  command: z.string(),
  faultWindows: z.array(z.object({ label: z.string(), fromSec: N, toSec: N })),
  designs: z.array(DesignOutcomeSchema),
  verdict: z.object({
    survivors: z.array(z.string()),
    failing: z.array(z.string()),
    lines: z.array(z.string()),
    indistinguishable: z.array(z.object({ designs: z.array(z.string()), on: z.string() })),
  }),
  footnotes: z.array(z.string()),
});
export type ProposalResult = z.infer<typeof ProposalResultSchema>;

export function readProposalResult(path: string): ProposalResult {
  return readVersioned(path, PROPOSAL_RESULT_SCHEMA, ProposalResultSchema);
}
