/**
 * The sweep manifest, `<out>/sweep.json` (`schema: "fleetbench/sweep@1"`): which grid a directory
 * holds. A re-run into the same directory must ask for the same grid, or its finished cells would
 * be wrongly skipped; merge checks that every part describes one grid. The shard is recorded but is
 * not part of the grid's identity (parts of one grid differ only in it).
 *
 * Ownership: `files` lists every result file this sweep (or merge) has claimed in the directory,
 * written before a cell starts. `--fresh`, resume and the clean-up of dead temp files touch only
 * those; any other file, even one named like a cell, is the user's and is never replaced or
 * deleted. A manifest from before `files` existed owns the files of its own grid's cells.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors.ts';
import { describeIssue } from '../harness/scenario.ts';
import { MAX_SMALL_DOCUMENT_BYTES, parseJsonText, readTextCapped, writeJsonAtomic } from '../results/files.ts';

export const SWEEP_SCHEMA = 'fleetbench/sweep@1';
export const MANIFEST_FILE = 'sweep.json';

export const GridSchema = z.object({
  protocols: z.array(z.string()).min(1),
  nodes: z.array(z.number().int().min(1)).min(1),
  scenario: z.string(),
  runtime: z.enum(['sim', 'live']),
  /** live runs: the WebSocket server library; null in the simulator */
  transport: z.enum(['ws', 'uws']).nullable().default(null),
  repeat: z.number().int().min(1),
  /** seeds are seed, seed+1, … seed+repeat−1 */
  seed: z.number().int().min(0),
  /** null: the scenario's own duration */
  durationMs: z.number().positive().nullable(),
  sets: z.array(z.string()),
});
export type Grid = z.infer<typeof GridSchema>;

export const ManifestSchema = z.object({
  schema: z.literal(SWEEP_SCHEMA),
  grid: GridSchema,
  /** 1-based shard of n, or null for the whole grid */
  shard: z.object({ i: z.number().int().min(1), n: z.number().int().min(1) }).nullable(),
  /** result files this sweep claimed (absent in manifests written before ownership was recorded) */
  files: z.array(z.string().regex(/^[^/\\]+\.json$/, 'a file name in the sweep directory')).optional(),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export function sameGrid(a: Grid, b: Grid): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The first field in which two grids differ, for error messages. */
export function gridDifference(a: Grid, b: Grid): string {
  for (const k of Object.keys(a) as (keyof Grid)[]) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return `${k}: ${JSON.stringify(a[k])} vs ${JSON.stringify(b[k])}`;
  }
  return '(none)';
}

export function readManifest(dir: string): Manifest | null {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) return null;
  const data = parseJsonText(readTextCapped(path, MAX_SMALL_DOCUMENT_BYTES, path), `${path} (a sweep manifest; delete it or use another --out)`);
  const parsed = ManifestSchema.safeParse(data);
  if (!parsed.success) throw new UsageError(`${path}: ${describeIssue(parsed.error)}`);
  return parsed.data;
}

export function writeManifest(dir: string, m: Manifest): void {
  writeJsonAtomic(join(dir, MANIFEST_FILE), m);
}
