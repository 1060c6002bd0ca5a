/**
 * The proposal file, `schema: "fleetbench/proposal@1"`: a design question put as data. It names a
 * scenario, today's fleet and how it grows, the objectives a design must meet, the seeds, and a
 * baseline design with named alternatives. `fleetbench propose FILE` runs it (propose.ts).
 *
 * A design is a protocol with parameters (`--set`-style), limits, an optional cost profile and
 * fleet changes (e.g. half as many FEs, each with twice the cores and memory). Each alternative
 * says in one line what it models and what it leaves out, so a reader can weigh it.
 *
 * Validated on load like a scenario: the first problem is reported as one line naming the field,
 * exit code 2 (UsageError).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors.ts';
import { describeIssue } from '../harness/scenario.ts';
import { parseSlo } from '../ceiling/slo.ts';

export const PROPOSAL_SCHEMA = 'fleetbench/proposal@1';

const positive = z.number().finite().positive();

/** The same limit names as a scenario's `limits`; each becomes `--set limits.NAME=value`. */
const LimitsSchema = z
  .object({
    threadsPerNode: z.number().int().min(1),
    baseThreadsPerNode: z.number().int().min(0),
    fdsPerNode: z.number().int().min(1),
    memoryBytesPerNode: positive,
    coresPerNode: positive,
  })
  .partial()
  .strict();

/**
 * How a design changes the fleet relative to today's. `nodes` scales the FE count (and the
 * scenario's add/remove/crash/pause counts with it); `perNode` scales each FE's cores and memory
 * limits. Traffic is fleet-wide in the model, so each FE's request share is 1 ÷ `nodes` of
 * today's; `requestShare`, if written, must say the same (it documents the design, it is not a knob).
 */
const FleetChangeSchema = z
  .object({
    nodes: positive.default(1),
    perNode: z
      .object({ cores: positive.default(1), memory: positive.default(1), requestShare: positive.optional() })
      .strict()
      .default({ cores: 1, memory: 1 }),
  })
  .strict();

export const DesignSchema = z
  .object({
    /** a short identifier: file names and chart labels use it */
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
    /** one line a reader of the decision document understands */
    title: z.string().min(1),
    protocol: z.string().min(1),
    /** protocol parameters and limits./costs./network./fleet. overrides, as `--set` takes them */
    set: z.array(z.string().regex(/^[^=\s]+=.+$/, 'key=value, as --set takes it')).default([]),
    limits: LimitsSchema.default({}),
    /** a cost profile (`fleetbench/costs@1`), relative to the proposal file */
    costs: z.string().min(1).optional(),
    fleet: FleetChangeSchema.default({ nodes: 1, perNode: { cores: 1, memory: 1 } }),
    /** one line each: what this design's runs model, and what they leave out */
    models: z.string().min(1),
    leavesOut: z.string().min(1),
  })
  .strict();
export type Design = z.infer<typeof DesignSchema>;

const CeilingSettingsSchema = z
  .object({
    /** the scenario the ceiling search grows N on (default steady: the cost of the design itself) */
    scenario: z.string().min(1).default('steady'),
    durationMs: positive.optional(),
    startNodes: z.number().int().min(1).optional(),
    maxNodes: z.number().int().min(2).default(100_000),
    /** wall-clock budget for one run; past it the search projects from fitted growth instead of measuring */
    maxRunWallMs: positive.default(60_000),
    /** the seed of the ceiling runs (one search per design) */
    seed: z.number().int().min(0).default(1),
  })
  .strict();

/** What --quick changes: fewer seeds, shorter ceiling runs, a tighter budget per run. No defaults: what is not written stays as in the full settings. */
const QuickSchema = z
  .object({
    seeds: z.array(z.number().int().min(0)).min(1).optional(),
    scenarioNodes: z.number().int().min(1).optional(),
    ceiling: z
      .object({
        scenario: z.string().min(1),
        durationMs: positive,
        startNodes: z.number().int().min(1),
        maxNodes: z.number().int().min(2),
        maxRunWallMs: positive,
        seed: z.number().int().min(0),
      })
      .partial()
      .strict()
      .optional(),
  })
  .strict();

export const ProposalSchema = z
  .object({
    schema: z.literal(PROPOSAL_SCHEMA),
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
    question: z.string().min(1),
    /** a scenario name (bench/scenarios) or a path relative to the proposal file */
    scenario: z.string().min(1),
    fleet: z
      .object({
        /** today's FE count: headroom is ceiling ÷ this (for the baseline shape of the fleet) */
        todayNodes: z.number().int().min(1),
        /** compound growth of the fleet's capacity, e.g. 0.3 for +30 % a year */
        growthPerYear: z.number().finite().positive().max(100),
        /**
         * the fleet size the scenario is simulated at, when today's is too large to simulate in
         * reasonable time; figures at today's N are then projected from the ceiling runs and say so
         */
        scenarioNodes: z.number().int().min(1).optional(),
      })
      .strict(),
    /** extra objectives every scenario run and ceiling run must meet, as `fleetbench ceiling --slo` takes them */
    slos: z.array(z.string().min(1)).default([]),
    seeds: z.array(z.number().int().min(0)).min(1),
    ceiling: CeilingSettingsSchema.default({ scenario: 'steady', maxNodes: 100_000, maxRunWallMs: 60_000, seed: 1 }),
    quick: QuickSchema.default({}),
    baseline: DesignSchema,
    alternatives: z.array(DesignSchema).min(1),
  })
  .strict();
export type Proposal = z.infer<typeof ProposalSchema>;

/** A proposal as loaded: paths resolved against its file. */
export interface LoadedProposal {
  file: string;
  proposal: Proposal;
  designs: Design[];
}

function resolveRelative(base: string, p: string): string {
  return isAbsolute(p) ? p : resolve(base, p);
}

/** Validates a parsed proposal; `origin` names it in errors. */
export function parseProposal(data: unknown, origin: string): Proposal {
  const parsed = ProposalSchema.safeParse(data);
  if (!parsed.success) throw new UsageError(`proposal ${origin}: ${describeIssue(parsed.error)}`);
  const p = parsed.data;
  const designs = [p.baseline, ...p.alternatives];
  const seen = new Set<string>();
  for (const [i, d] of designs.entries()) {
    const field = i === 0 ? 'baseline' : `alternatives.${i - 1}`;
    if (seen.has(d.name)) throw new UsageError(`proposal ${origin}: ${field}.name: "${d.name}" is used by two designs; names must be unique`);
    seen.add(d.name);
    const share = d.fleet.perNode.requestShare;
    if (share !== undefined && Math.abs(share * d.fleet.nodes - 1) > 1e-9) {
      throw new UsageError(
        `proposal ${origin}: ${field}.fleet.perNode.requestShare: traffic is fleet-wide in the model, so each FE's share is 1 ÷ fleet.nodes = ${+(1 / d.fleet.nodes).toPrecision(4)}; got ${share}`,
      );
    }
  }
  if (new Set(p.seeds).size !== p.seeds.length) throw new UsageError(`proposal ${origin}: seeds: each seed at most once`);
  for (const [i, text] of p.slos.entries()) {
    try {
      parseSlo(text);
    } catch (e) {
      if (e instanceof UsageError) throw new UsageError(`proposal ${origin}: slos.${i}: ${e.message.replace(/^--slo: /, '')}`);
      throw e;
    }
  }
  return p;
}

/** Reads and validates a proposal file; scenario and cost-profile paths become absolute. */
export function loadProposal(path: string): LoadedProposal {
  const file = resolve(path);
  if (!existsSync(file)) throw new UsageError(`propose: no proposal file at ${file}`);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`proposal ${path}: not valid JSON (${(e as Error).message})`);
  }
  const proposal = parseProposal(data, path);
  const base = dirname(file);
  const asPath = (s: string) => (/[/\\]|\.json$/.test(s) ? resolveRelative(base, s) : s);
  proposal.scenario = asPath(proposal.scenario);
  proposal.ceiling.scenario = asPath(proposal.ceiling.scenario);
  if (proposal.quick.ceiling?.scenario) proposal.quick.ceiling.scenario = asPath(proposal.quick.ceiling.scenario);
  const designs = [proposal.baseline, ...proposal.alternatives];
  for (const d of designs) if (d.costs) d.costs = resolveRelative(base, d.costs);
  return { file, proposal, designs };
}
