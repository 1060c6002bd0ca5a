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

/**
 * Polls `done` every `everyMs` ms until it holds or `tries` polls have passed: process exits and
 * cgroup removal happen after the call that causes them returns. The caller asserts afterwards.
 */
export async function pollUntil(done: () => boolean, tries: number, everyMs: number): Promise<void> {
  for (let i = 0; i < tries && !done(); i++) await new Promise((r) => setTimeout(r, everyMs));
}
