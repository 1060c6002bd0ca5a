/**
 * The model side of `validate`: one simulator run of a protocol on a scenario. Kept to this one
 * function because the simulator's entry points (src/sim/run.ts, src/harness/run-config.ts) are
 * being reshaped; only this file needs to follow them.
 */
import { resolveRun } from '../harness/run-config.ts';
import type { Result } from '../results/schema.ts';
import { runSim } from '../sim/run.ts';

export interface ModelRun {
  protocol: string;
  scenario: string;
  nodes: number;
  seed: number;
  durationMs: number;
  sets: readonly string[];
}

export async function runModel(run: ModelRun): Promise<Result> {
  return runSim(resolveRun({ protocol: run.protocol, scenario: run.scenario, nodes: run.nodes, seed: run.seed, durationMs: run.durationMs, sets: run.sets }));
}
