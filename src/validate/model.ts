/**
 * The model side of `validate`: one simulator run of a protocol on a scenario. Kept to this one
 * function because the simulator's entry points (src/sim/run.ts, src/harness/run-config.ts) are
 * being reshaped; only this file needs to follow them.
 */
import { resolveRun } from '../harness/run-config.ts';
import { loadScenario } from '../harness/scenario.ts';
import type { Result } from '../results/schema.ts';
import { runSim } from '../sim/run.ts';

export interface ModelRun {
  protocol: string;
  scenario: string;
  nodes: number;
  seed: number;
  durationMs: number;
  sets: readonly string[];
  /**
   * Drop the scenario's reshards: the real agents carry no shard map, and the model's shard-map
   * updates ride its gossip queue (extra gossip rounds, bigger packets), so traffic would not be
   * like for like.
   */
  withoutReshards?: boolean;
  /** move the scenario's one fault (crash or add) to this time: the real clusters' age at theirs */
  faultAtMs?: number;
}

export async function runModel(run: ModelRun): Promise<Result> {
  const loaded = loadScenario(run.scenario);
  let scenario = run.withoutReshards ? { ...loaded, reshards: { perSec: 0, fromMs: 0 } } : loaded;
  if (run.faultAtMs !== undefined) {
    const at = Math.round(run.faultAtMs);
    scenario = { ...scenario, events: scenario.events.map((e) => (e.type === 'crash' || e.type === 'add' ? { ...e, atMs: at } : e)) };
  }
  return runSim(resolveRun({ protocol: run.protocol, scenario, nodes: run.nodes, seed: run.seed, durationMs: run.durationMs, sets: run.sets }));
}
