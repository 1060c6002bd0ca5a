/**
 * The sweep grid: protocols × fleet sizes × seeds for one scenario, in a fixed order, with one
 * result file per cell. Sharding takes every n-th cell (round-robin, so large and small fleet
 * sizes spread evenly over shards).
 */
import { UsageError } from '../errors.ts';
import type { Grid } from './manifest.ts';

export interface Cell {
  protocol: string;
  nodes: number;
  seed: number;
  /** file name inside the sweep directory, as `fleetbench run` names its default output */
  file: string;
  /** position in the whole grid (stable across shards) */
  index: number;
}

export function cellFile(scenarioName: string, protocol: string, nodes: number, seed: number): string {
  return `${scenarioName}-${protocol}-n${nodes}-s${seed}.json`;
}

export function gridCells(grid: Grid, scenarioName: string): Cell[] {
  const cells: Cell[] = [];
  for (const protocol of grid.protocols) {
    for (const nodes of grid.nodes) {
      for (let r = 0; r < grid.repeat; r++) {
        const seed = grid.seed + r;
        cells.push({ protocol, nodes, seed, file: cellFile(scenarioName, protocol, nodes, seed), index: cells.length });
      }
    }
  }
  return cells;
}

export function shardCells(cells: readonly Cell[], shard: { i: number; n: number } | null): Cell[] {
  if (!shard) return [...cells];
  return cells.filter((c) => c.index % shard.n === shard.i - 1);
}

/** "2/4" → { i: 2, n: 4 }; shards are numbered from 1. */
export function parseShard(text: string): { i: number; n: number } {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UsageError(`--shard: "${text}" is not i/n (e.g. 1/4; shards are numbered 1..n)`);
  const i = Number(m[1]), n = Number(m[2]);
  if (n < 1 || i < 1 || i > n) throw new UsageError(`--shard: ${text}: need 1 ≤ i ≤ n (shards are numbered 1..n)`);
  return { i, n };
}

/** "100,300,1000" → [100, 300, 1000] (sorted, unique). */
export function parseNodeList(text: string, field = '--nodes'): number[] {
  const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new UsageError(`${field}: give fleet sizes separated by commas, e.g. 100,300,1000`);
  const out = parts.map((p) => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`${field}: "${p}" is not a fleet size (an integer ≥ 1)`);
    return n;
  });
  return [...new Set(out)].sort((a, b) => a - b);
}

export function parseList(text: string, field: string): string[] {
  const parts = [...new Set(text.split(',').map((s) => s.trim()).filter(Boolean))];
  if (parts.length === 0) throw new UsageError(`${field}: give one or more names separated by commas`);
  return parts;
}
