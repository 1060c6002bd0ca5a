/**
 * merge(parts, out): joins the directories of a sharded sweep into one. Every part must describe
 * the same grid (its sweep.json); every result file is validated. A cell present in two places
 * must have the same deterministic figures (a rerun of a sim cell is byte-for-byte the same
 * outside machine, sim and tool). Only the grid's cells are copied: any other file in a part is
 * left behind (listed in `ignored`). Nothing is written until all checks pass, and an existing
 * file in the output directory is never replaced.
 */
import { existsSync, lstatSync, readFileSync, readdirSync, statSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { loadScenario } from '../harness/scenario.ts';
import { readResult, type Result } from '../results/schema.ts';
import { gridCells } from './grid.ts';
import { MANIFEST_FILE, gridDifference, readManifest, sameGrid, writeManifest, type Grid } from './manifest.ts';
import { staleReason } from './sweep.ts';
import { writeFileAtomic } from '../results/files.ts';

export interface MergeOptions {
  /** merge even if cells of the grid are missing from every part */
  allowMissing?: boolean;
}

export interface MergeSummary {
  out: string;
  grid: Grid;
  copied: string[];
  alreadyPresent: string[];
  missing: string[];
  /** files in the parts that are not cells of the grid: never copied */
  ignored: string[];
}

function deterministic(r: Result): string {
  const { machine: _m, sim: _s, tool: _t, ...rest } = r;
  return JSON.stringify(rest);
}

/** Sub-directories of `dir` that are sweeps (what `sweep --preset` writes: one per scenario). */
function sweepSubdirs(dir: string): string[] {
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory() || readManifest(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, MANIFEST_FILE)))
    .map((e) => e.name)
    .sort();
}

/**
 * Merges sweep directories, or directories of them (the parts of a sharded `sweep --preset`):
 * those are merged sub-directory by sub-directory into <out>/<name>.
 */
export function mergeTree(parts: readonly string[], outDir: string, opts: MergeOptions = {}): MergeSummary[] {
  const subdirs = parts.map((p) => sweepSubdirs(resolve(p)));
  if (parts.length === 0 || subdirs.some((s) => s.length === 0)) return [merge(parts, outDir, opts)];
  const names = [...new Set(subdirs.flat())].sort();
  const summaries: MergeSummary[] = [];
  for (const name of names) {
    summaries.push(merge(parts.map((p) => join(p, name)).filter((p) => existsSync(p)), join(outDir, name), opts));
  }
  return summaries;
}

export function merge(parts: readonly string[], outDir: string, opts: MergeOptions = {}): MergeSummary {
  if (parts.length === 0) throw new UsageError('merge: give one or more sweep directories');
  const out = resolve(outDir);
  let grid: Grid | null = null;
  let gridFrom = '';
  const chosen = new Map<string, { path: string; result: Result }>();
  const ignored: string[] = [];
  let gridFiles: Set<string> | null = null;
  for (const raw of parts) {
    const dir = resolve(raw);
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`merge: ${raw} is not a directory`);
    const m = readManifest(dir);
    if (!m) throw new UsageError(`merge: ${raw} has no ${MANIFEST_FILE}; it is not a sweep directory`);
    if (grid && !sameGrid(grid, m.grid)) throw new UsageError(`merge: ${raw} is part of another sweep than ${gridFrom} (${gridDifference(grid, m.grid)})`);
    if (!grid) [grid, gridFrom] = [m.grid, raw];
    gridFiles ??= new Set(gridCells(m.grid, loadScenario(m.grid.scenario).name).map((c) => c.file));
    for (const f of readdirSync(dir).sort()) {
      if (f === MANIFEST_FILE) continue;
      const path = join(dir, f);
      if (!gridFiles.has(f) || !statSync(path).isFile()) {
        ignored.push(path);
        continue;
      }
      const result = readResult(path); // a corrupt file is an error here: re-run that shard to repair it
      const prev = chosen.get(f);
      if (prev && deterministic(prev.result) !== deterministic(result)) {
        throw new UsageError(`merge: ${prev.path} and ${path} are the same cell with different figures; keep one`);
      }
      if (!prev) chosen.set(f, { path, result });
    }
  }
  const g = grid!;
  const scenarioName = loadScenario(g.scenario).name;
  const cells = gridCells(g, scenarioName);
  const missing = cells.filter((c) => {
    const got = chosen.get(c.file);
    return !got || staleReason(got.path, c, scenarioName) !== null;
  }).map((c) => c.file);
  if (missing.length && !opts.allowMissing) {
    throw new UsageError(`merge: ${missing.length} cell(s) of the grid are in no part (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}); run the missing shards, or pass --allow-missing`);
  }
  const existing = readManifest(out);
  if (existing && !sameGrid(existing.grid, g)) throw new UsageError(`--out: ${out} holds another sweep (${gridDifference(existing.grid, g)})`);
  const summary: MergeSummary = { out, grid: g, copied: [], alreadyPresent: [], missing, ignored };
  const writes: { target: string; text: string }[] = [];
  for (const [f, { path, result }] of [...chosen.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const target = join(out, f);
    if (lstatSync(target, { throwIfNoEntry: false })) {
      let same = false;
      try {
        same = deterministic(readResult(target)) === deterministic(result);
      } catch {
        same = false;
      }
      if (!same) throw new UsageError(`--out: ${target} already exists with other figures; merge into an empty directory`);
      summary.alreadyPresent.push(f);
      continue;
    }
    writes.push({ target, text: readFileSync(path, 'utf8') });
    summary.copied.push(f);
  }
  try {
    mkdirSync(out, { recursive: true });
    for (const { target, text } of writes) writeFileAtomic(target, text);
    const files = new Set([...(existing?.files ?? []), ...summary.copied, ...summary.alreadyPresent]);
    writeManifest(out, { schema: 'fleetbench/sweep@1', grid: g, shard: null, files: [...files].sort() });
  } catch (e) {
    throw new UsageError(`--out: cannot write to ${out} (${(e as Error).message})`);
  }
  return summary;
}
