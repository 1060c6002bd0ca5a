/**
 * sweep(): runs a grid (protocols × fleet sizes × seeds, one scenario) in any runtime, writing each
 * result as soon as it finishes: simulator cells in parallel worker threads (tinypool), live cells
 * one at a time in this process (a live run takes the whole machine).
 *
 * - Resumable: a cell whose result file exists, validates and matches the cell is skipped; a
 *   corrupt or mismatched file is run again. Results are written temp-file-then-rename, so an
 *   interrupted sweep leaves whole files or none.
 * - Interruptible: abort the signal and running cells stop at their next check without writing;
 *   queued cells never start. Re-running the same command resumes.
 * - Shardable: `shard: {i, n}` runs every n-th cell; `merge` joins the part directories.
 * - The directory's sweep.json names the grid; asking for another grid in it is an error.
 */
import os from 'node:os';
import { existsSync, lstatSync, readdirSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Tinypool from 'tinypool';
import { UsageError } from '../errors.ts';
import { resolveRun } from '../harness/run-config.ts';
import { readResult, writeResultAtomic } from '../results/schema.ts';
import { checkTransport, getRuntime, type TransportKind } from '../runtimes.ts';
import { checkSimCapacity } from '../sim/capacity.ts';
import { gridCells, shardCells, type Cell } from './grid.ts';
import { MANIFEST_FILE, gridDifference, readManifest, sameGrid, writeManifest, type Grid, type Manifest } from './manifest.ts';
import type { CellOutcome, CellTask } from './run-cell.ts';

export interface SweepOptions {
  protocols: readonly string[];
  nodes: readonly number[];
  /** scenario name or path to a scenario .json */
  scenario: string;
  repeat?: number;
  /** a registered runtime (default sim) */
  runtime?: string;
  /** live runtime: ws or uws (default uws) */
  transport?: string;
  /** worker threads; default: available parallelism (live: always one run at a time) */
  jobs?: number;
  shard?: { i: number; n: number } | null;
  out: string;
  sets?: readonly string[];
  /** first seed; repeats use seed, seed+1, … (default 1) */
  seed?: number;
  /** simulated time per run (default: the scenario's) */
  durationMs?: number | null;
  /**
   * Re-run every cell even if its result is finished, and adopt this grid even if the directory
   * held another: its sweep.json is replaced and the result files it listed whose cells are no
   * longer in the grid are deleted (never a file sweep.json does not list). For refreshing a
   * baseline; never needed to resume.
   */
  fresh?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: SweepEvent) => void;
}

export type SweepEvent =
  | { type: 'plan'; total: number; toRun: number; skipped: number }
  | { type: 'rerun'; cell: Cell; reason: string }
  | { type: 'done'; cell: Cell; outcome: CellOutcome; done: number; toRun: number };

export interface SweepSummary {
  out: string;
  grid: Grid;
  /** cells of this shard */
  cells: Cell[];
  skipped: string[];
  ran: string[];
  /** cells whose existing file was corrupt or belonged to another cell, run again */
  rerun: string[];
  /** cells not finished because of an interrupt */
  unfinished: string[];
  failures: { file: string; error: string }[];
  interrupted: boolean;
}

export const WORKER_URL = new URL('./worker.mjs', import.meta.url);

/** Why an existing file does not count as this cell's result, or null when it does. */
export function staleReason(path: string, cell: Cell, scenarioName: string, runtime = 'sim'): string | null {
  if (!existsSync(path)) return 'missing';
  try {
    const r = readResult(path);
    const want = { protocol: cell.protocol, nodes: cell.nodes, seed: cell.seed, scenario: scenarioName, runtime };
    for (const [k, v] of Object.entries(want)) {
      const got = (r.run as Record<string, unknown>)[k];
      if (got !== v) return `run.${k} is ${JSON.stringify(got)}, expected ${JSON.stringify(v)}`;
    }
    if (!r.run.completed) return 'the run was stopped before the end';
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The result files a manifest owns: those it lists, or (an older manifest) its grid's cells. */
export function ownedFiles(m: Manifest | null, scenarioName: string): Set<string> {
  if (!m) return new Set();
  if (m.files) return new Set(m.files);
  return new Set(gridCells(m.grid, scenarioName).map((c) => c.file));
}

/**
 * Removes temp files left by a killed writer (pid no longer alive) of a file this sweep owns;
 * never touches a live writer's, nor anyone else's.
 */
function removeStaleTemps(dir: string, owned: ReadonlySet<string>): void {
  for (const f of readdirSync(dir)) {
    const m = /^(.*)\.(\d+)\.tmp$/.exec(f);
    if (!m) continue;
    if (!owned.has(m[1]) && m[1] !== MANIFEST_FILE && m[1] !== '.fleetbench' && m[1] !== '.fleetbench-') continue;
    const pid = Number(m[2]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (e) {
      alive = (e as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) {
      try {
        unlinkSync(join(dir, f));
      } catch {
        /* already gone */
      }
    }
  }
}

/** --fresh: deletes the result files this sweep owns that the new grid no longer has. */
function removeDroppedCells(dir: string, owned: ReadonlySet<string>, keep: ReadonlySet<string>): void {
  for (const f of owned) {
    if (keep.has(f)) continue;
    try {
      unlinkSync(join(dir, f));
    } catch {
      /* already gone */
    }
  }
}

/** The scenario name an older manifest's cells were named with (its grid may name another scenario). */
function manifestScenarioName(m: Manifest, fallback: string): string {
  try {
    return resolveRun({ protocol: m.grid.protocols[0], scenario: m.grid.scenario, nodes: m.grid.nodes[0], seed: m.grid.seed }).scenario.name;
  } catch {
    return fallback;
  }
}

function scenarioArg(s: string): string {
  return /[/\\]|\.json$/.test(s) ? resolve(s) : s;
}

export function planSweep(o: SweepOptions): { grid: Grid; scenarioName: string; cells: Cell[]; out: string } {
  const runtime = getRuntime(o.runtime ?? 'sim');
  const transport: TransportKind | null = runtime.name === 'live' ? checkTransport(o.transport ?? 'uws') : null;
  if (o.protocols.length === 0) throw new UsageError('--protocols: give at least one protocol');
  if (o.nodes.length === 0) throw new UsageError('--nodes: give at least one fleet size');
  const repeat = o.repeat ?? 1;
  if (!Number.isInteger(repeat) || repeat < 1) throw new UsageError(`--repeat: expected an integer ≥ 1, got ${repeat}`);
  if (o.jobs !== undefined && (!Number.isInteger(o.jobs) || o.jobs < 1)) throw new UsageError(`--jobs: expected an integer ≥ 1, got ${o.jobs}`);
  if (o.shard && !(o.shard.i >= 1 && o.shard.i <= o.shard.n)) throw new UsageError(`--shard: need 1 ≤ i ≤ n, got ${o.shard.i}/${o.shard.n}`);
  const scenario = scenarioArg(o.scenario);
  const seed = o.seed ?? 1;
  // validate every protocol, fleet size and --set before anything runs or is written
  let scenarioName = '';
  for (const protocol of o.protocols) {
    for (const nodes of o.nodes) {
      const cfg = resolveRun({ protocol, scenario, nodes, seed, durationMs: o.durationMs ?? undefined, sets: o.sets });
      if (runtime.name === 'sim') checkSimCapacity(cfg);
      scenarioName = cfg.scenario.name;
    }
  }
  const grid: Grid = {
    protocols: [...o.protocols],
    nodes: [...o.nodes],
    scenario,
    runtime: runtime.name,
    transport,
    repeat,
    seed,
    durationMs: o.durationMs ?? null,
    sets: [...(o.sets ?? [])],
  };
  return { grid, scenarioName, cells: shardCells(gridCells(grid, scenarioName), o.shard ?? null), out: resolve(o.out) };
}

export async function sweep(o: SweepOptions): Promise<SweepSummary> {
  const { grid, scenarioName, cells, out } = planSweep(o);
  const existing = readManifest(out);
  if (existing && !sameGrid(existing.grid, grid) && !o.fresh) {
    throw new UsageError(`--out: ${out} holds another sweep (${gridDifference(existing.grid, grid)}); use a new --out directory or the same settings to resume`);
  }
  // a file named like a cell that this sweep did not write is the user's: never replace it
  const owned = ownedFiles(existing, existing ? (sameGrid(existing.grid, grid) ? scenarioName : manifestScenarioName(existing, scenarioName)) : scenarioName);
  const gridFiles = new Set(gridCells(grid, scenarioName).map((c) => c.file));
  const foreign = cells.map((c) => c.file).filter((f) => !owned.has(f) && lstatSync(join(out, f), { throwIfNoEntry: false }));
  if (foreign.length) {
    throw new UsageError(
      `--out: ${join(out, foreign[0])}${foreign.length > 1 ? ` (and ${foreign.length - 1} more)` : ''} exists but was not written by this sweep (${MANIFEST_FILE} does not list it); move it away or use another --out`,
    );
  }
  const claimed = new Set([...owned].filter((f) => !o.fresh || gridFiles.has(f)));
  for (const c of cells) claimed.add(c.file);
  try {
    writeManifest(out, { schema: 'fleetbench/sweep@1', grid, shard: o.shard ?? null, files: [...claimed].sort() });
  } catch (e) {
    throw new UsageError(`--out: cannot write to ${out} (${(e as Error).message})`);
  }
  removeStaleTemps(out, claimed);
  if (o.fresh) removeDroppedCells(out, owned, gridFiles);

  const summary: SweepSummary = { out, grid, cells, skipped: [], ran: [], rerun: [], unfinished: [], failures: [], interrupted: false };
  const todo: Cell[] = [];
  for (const cell of cells) {
    const reason = o.fresh ? 'missing' : staleReason(join(out, cell.file), cell, scenarioName, grid.runtime);
    if (reason === null) summary.skipped.push(cell.file);
    else {
      if (reason !== 'missing') {
        summary.rerun.push(cell.file);
        o.onEvent?.({ type: 'rerun', cell, reason });
      }
      todo.push(cell);
    }
  }
  // longest first: all-to-all cost grows with N², so big cells should not start last
  todo.sort((a, b) => b.nodes - a.nodes || a.index - b.index);
  o.onEvent?.({ type: 'plan', total: cells.length, toRun: todo.length, skipped: summary.skipped.length });
  if (todo.length === 0) return summary;

  const concurrent = getRuntime(grid.runtime).concurrent;
  const jobs = concurrent ? Math.min(o.jobs ?? os.availableParallelism(), todo.length) : 1;
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const onAbort = () => Atomics.store(stop, 0, 1);
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const pool = concurrent ? new Tinypool({ filename: WORKER_URL.href, minThreads: jobs, maxThreads: jobs, idleTimeout: 1000 }) : null;
  let next = 0, done = 0;
  const worker = async () => {
    while (next < todo.length && Atomics.load(stop, 0) === 0) {
      const cell = todo[next++];
      const task: CellTask = {
        protocol: cell.protocol,
        scenario: grid.scenario,
        nodes: cell.nodes,
        seed: cell.seed,
        durationMs: grid.durationMs,
        sets: grid.sets,
        out: join(out, cell.file),
        stop,
      };
      try {
        const outcome = pool ? ((await pool.run(task)) as CellOutcome) : await runCellHere(task, grid.runtime, grid.transport);
        if (outcome.written) {
          summary.ran.push(cell.file);
          o.onEvent?.({ type: 'done', cell, outcome, done: ++done, toRun: todo.length });
        } else summary.unfinished.push(cell.file);
      } catch (e) {
        summary.failures.push({ file: cell.file, error: (e as Error).message });
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: jobs }, worker));
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await pool?.destroy();
  }
  summary.interrupted = Atomics.load(stop, 0) === 1;
  if (summary.interrupted) for (const c of todo.slice(next)) summary.unfinished.push(c.file);
  return summary;
}

/** A cell of a runtime that cannot share the machine (live), run in this process. */
async function runCellHere(task: CellTask, runtime: string, transport: TransportKind | null): Promise<CellOutcome> {
  const cfg = resolveRun({ protocol: task.protocol, scenario: task.scenario, nodes: task.nodes, seed: task.seed, durationMs: task.durationMs ?? undefined, sets: task.sets });
  const started = Date.now();
  const result = await getRuntime(runtime).run(cfg, { transport: transport ?? undefined, shouldStop: () => Atomics.load(task.stop, 0) === 1 });
  const stats = { wallMs: Date.now() - started, peakRssBytes: result.live?.perNode.rssPeakBytes ?? result.sim?.peakRssBytes ?? 0, healthy: result.summary.healthy };
  if (!result.run.completed) return { out: task.out, written: false, ...stats };
  writeResultAtomic(task.out, result);
  return { out: task.out, written: true, ...stats };
}
