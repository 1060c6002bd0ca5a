/**
 * One sweep cell, run inside a tinypool worker: resolve, simulate, write the result atomically
 * (temp file + rename, so a killed sweep never leaves a half-written result). A run stopped by an
 * interrupt is not written, so that resuming the sweep runs the cell again in full.
 */
import { resolveRun } from '../harness/run-config.ts';
import { getRuntime } from '../runtimes.ts';
import { writeResultAtomic } from '../results/schema.ts';

export interface CellTask {
  protocol: string;
  /** scenario name or absolute path */
  scenario: string;
  nodes: number;
  seed: number;
  durationMs: number | null;
  sets: string[];
  out: string;
  /** Int32Array over a SharedArrayBuffer: element 0 becomes 1 when the sweep is interrupted */
  stop: Int32Array;
}

export interface CellOutcome {
  out: string;
  written: boolean;
  healthy: boolean;
  wallMs: number;
  peakRssBytes: number;
}

export async function runCell(task: CellTask): Promise<CellOutcome> {
  const cfg = resolveRun({
    protocol: task.protocol,
    scenario: task.scenario,
    nodes: task.nodes,
    seed: task.seed,
    durationMs: task.durationMs ?? undefined,
    sets: task.sets,
  });
  // worker threads run the simulator only: a live sweep runs its cells in the main thread
  const result = await getRuntime('sim').run(cfg, { shouldStop: () => Atomics.load(task.stop, 0) === 1 });
  const stats = { wallMs: result.sim?.wallMs ?? 0, peakRssBytes: result.sim?.peakRssBytes ?? 0, healthy: result.summary.healthy };
  if (!result.run.completed) return { out: task.out, written: false, ...stats };
  writeResultAtomic(task.out, result);
  return { out: task.out, written: true, ...stats };
}
