import { resolveRun, type RunRequest } from '../src/harness/run-config.ts';
import { runSim } from '../src/sim/run.ts';
import type { Result } from '../src/results/schema.ts';
import type { Scenario } from '../src/harness/scenario.ts';
import { loadScenario, parseScenario } from '../src/harness/scenario.ts';

export async function simulate(req: RunRequest): Promise<Result> {
  return runSim(resolveRun(req));
}

/** A scenario derived from a shipped one, with fields replaced. */
/** A scenario derived from a shipped one, with fields replaced, validated like a file. */
export function scenarioLike(name: string, patch: Partial<Scenario>): Scenario {
  return parseScenario({ ...loadScenario(name), ...patch }, `${name} (patched)`);
}

/** The result without its wall-clock fields (machine and sim), which legitimately differ. */
export function deterministicPart(r: Result): unknown {
  const { machine: _m, sim: _s, ...rest } = r;
  return rest;
}
