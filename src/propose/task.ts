/**
 * One unit of a proposal's work, run in a tinypool worker: a scenario run (through simulate()) or a
 * ceiling search, written atomically to its file. A task stopped by an interrupt writes nothing, so
 * a rerun does it again in full; files are the only thing tasks hand back.
 */
import type { RunRequest } from '../harness/run-config.ts';
import { ceiling, type CeilingOptions } from '../ceiling/ceiling.ts';
import { writeJsonAtomic } from '../results/files.ts';
import { simulate } from './simulate.ts';

export type Task =
  | { kind: 'run'; req: RunRequest; out: string; stop: Int32Array }
  | { kind: 'ceiling'; opts: Omit<CeilingOptions, 'onRun' | 'shouldStop'>; out: string; stop: Int32Array };

export interface TaskOutcome {
  written: boolean;
  wallMs: number;
}

export async function runTask(t: Task): Promise<TaskOutcome> {
  const shouldStop = () => Atomics.load(t.stop, 0) === 1;
  const t0 = performance.now();
  if (t.kind === 'run') {
    const r = await simulate(t.req, { shouldStop });
    if (!r.run.completed) return { written: false, wallMs: performance.now() - t0 };
    writeJsonAtomic(t.out, r);
    return { written: true, wallMs: performance.now() - t0 };
  }
  try {
    const c = await ceiling({ ...t.opts, shouldStop });
    writeJsonAtomic(t.out, c);
    return { written: true, wallMs: performance.now() - t0 };
  } catch (e) {
    // the search throws when stopped before an answer; anything else is a real failure
    if (shouldStop()) return { written: false, wallMs: performance.now() - t0 };
    throw e;
  }
}
