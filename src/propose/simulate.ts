/**
 * The one place `propose` starts a simulation. The runtime registry will replace
 * `runSim(resolveRun(...))` here; nothing else in src/propose/ runs a protocol.
 */
import { resolveRun, type RunRequest } from '../harness/run-config.ts';
import { runSim, type SimHooks } from '../sim/run.ts';
import type { Result } from '../results/schema.ts';

export function simulate(req: RunRequest, hooks: SimHooks = {}): Promise<Result> {
  return runSim(resolveRun(req), hooks);
}
