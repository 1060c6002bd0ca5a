/** The one place `propose` starts a run: through the runtime registry, in the simulator. */
import { resolveRun, type RunRequest } from '../harness/run-config.ts';
import { getRuntime, type RunHooks } from '../runtimes.ts';
import type { Result } from '../results/schema.ts';

export function simulate(req: RunRequest, hooks: RunHooks = {}): Promise<Result> {
  return getRuntime('sim').run(resolveRun(req), hooks);
}
