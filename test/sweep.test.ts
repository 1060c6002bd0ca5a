import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sweep, type SweepOptions } from '../src/sweep/sweep.ts';
import { merge, mergeTree } from '../src/sweep/merge.ts';
import { parseNodeList, parseShard } from '../src/sweep/grid.ts';
import { readResult } from '../src/results/schema.ts';
import { getPreset } from '../src/sweep/presets.ts';
import { UsageError } from '../src/errors.ts';
import { deterministicPart } from './helpers.ts';

const tmp = (name: string) => mkdtempSync(join(tmpdir(), `fleetbench-sweep-${name}-`));

/** A tiny grid: 2 protocols × 2 sizes × 2 seeds, 2 simulated seconds each. */
const base = (out: string, extra: Partial<SweepOptions> = {}): SweepOptions => ({
  protocols: ['thread-per-peer', 'async-multiplexed'],
  nodes: [4, 8],
  scenario: 'steady',
  repeat: 2,
  durationMs: 2000,
  jobs: 2,
  out,
  ...extra,
});

const resultFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'sweep.json').sort();

describe('sweep', () => {
  it('runs_every_cell_once_and_resumes_by_skipping_finished_cells', async () => {
    const out = tmp('full');
    const first = await sweep(base(out));
    expect(first.ran).toHaveLength(8);
    expect(first.failures).toEqual([]);
    expect(resultFiles(out)).toEqual(first.cells.map((c) => c.file).sort());
    expect(resultFiles(out)).toContain('steady-thread-per-peer-n8-s2.json');
    for (const f of resultFiles(out)) expect(readResult(join(out, f)).run.completed).toBe(true);
    const again = await sweep(base(out));
    expect(again.ran).toEqual([]);
    expect(again.skipped).toHaveLength(8);
  });

  it('reruns_corrupt_or_foreign_files_and_clears_dead_temp_files', async () => {
    const out = tmp('repair');
    await sweep(base(out));
    writeFileSync(join(out, 'steady-async-multiplexed-n4-s1.json'), '{"schema": "fleetbench/res'); // truncated
    // a valid result under another cell's name
    writeFileSync(join(out, 'steady-async-multiplexed-n8-s1.json'), readFileSync(join(out, 'steady-thread-per-peer-n8-s1.json')));
    const deadTemp = join(out, 'steady-thread-per-peer-n4-s1.json.999999999.tmp');
    writeFileSync(deadTemp, '{');
    const reasons: string[] = [];
    const s = await sweep({ ...base(out), onEvent: (e) => e.type === 'rerun' && reasons.push(e.cell.file) });
    expect(s.rerun.sort()).toEqual(['steady-async-multiplexed-n4-s1.json', 'steady-async-multiplexed-n8-s1.json']);
    expect(reasons.sort()).toEqual(s.rerun);
    expect(s.ran.sort()).toEqual(s.rerun);
    expect(readResult(join(out, 'steady-async-multiplexed-n8-s1.json')).run.protocol).toBe('async-multiplexed');
    expect(existsSync(deadTemp)).toBe(false);
  });

  it('interrupted_sweep_leaves_only_whole_files_and_resumes', async () => {
    const out = tmp('interrupt');
    const ac = new AbortController();
    const s = await sweep({ ...base(out), jobs: 1, signal: ac.signal, onEvent: (e) => e.type === 'done' && ac.abort() });
    expect(s.interrupted).toBe(true);
    expect(s.ran.length).toBeGreaterThanOrEqual(1);
    expect(s.ran.length + s.unfinished.length).toBe(8);
    for (const f of readdirSync(out)) expect(f).not.toMatch(/\.tmp$/);
    for (const f of resultFiles(out)) expect(readResult(join(out, f)).run.completed).toBe(true);
    const resumed = await sweep(base(out));
    expect(resumed.skipped.sort()).toEqual(s.ran.sort());
    expect(resumed.ran).toHaveLength(8 - s.ran.length);
  });

  it('refuses_another_grid_in_the_same_directory', async () => {
    const out = tmp('grid');
    await sweep(base(out, { protocols: ['async-multiplexed'], nodes: [4], repeat: 1 }));
    await expect(sweep(base(out, { protocols: ['async-multiplexed'], nodes: [4], repeat: 1, sets: ['limits.fdsPerNode=2'] }))).rejects.toThrow(
      /holds another sweep \(sets: \[\] vs \["limits.fdsPerNode=2"\]\)/,
    );
  });

  it('fresh_reruns_everything_and_adopts_the_new_grid', async () => {
    const out = tmp('fresh');
    await sweep(base(out, { protocols: ['async-multiplexed'], nodes: [4, 8], repeat: 1 }));
    const s = await sweep(base(out, { protocols: ['async-multiplexed'], nodes: [4], repeat: 1, fresh: true }));
    expect(s.ran).toEqual(['steady-async-multiplexed-n4-s1.json']);
    expect(resultFiles(out)).toEqual(['steady-async-multiplexed-n4-s1.json']); // n8 left the grid
  });

  it('merges_directories_of_sweeps_per_scenario', async () => {
    const r1 = tmp('tree1'), r2 = tmp('tree2'), out = join(tmp('tree-out'), 'all');
    const small = { protocols: ['async-multiplexed'], nodes: [4, 8], repeat: 1 };
    await sweep(base(join(r1, 'steady'), { ...small, shard: { i: 1, n: 2 } }));
    await sweep(base(join(r2, 'steady'), { ...small, shard: { i: 2, n: 2 } }));
    const [s] = mergeTree([r1, r2], out);
    expect(s.out).toBe(join(out, 'steady'));
    expect(resultFiles(join(out, 'steady'))).toEqual(['steady-async-multiplexed-n4-s1.json', 'steady-async-multiplexed-n8-s1.json']);
  });

  it('presets_name_their_scenarios_and_refuse_unknown_names', () => {
    expect(getPreset('quick').map((p) => p.scenario)).toEqual(['steady', 'crash', 'join', 'kinesis-2020']);
    expect(() => getPreset('slow')).toThrow(/--preset: unknown preset "slow"; known: quick/);
  });

  it('rejects_bad_input_before_writing', async () => {
    const out = join(tmp('bad'), 'never');
    await expect(sweep(base(out, { protocols: ['nope'] }))).rejects.toThrow(/--protocol: unknown protocol "nope"/);
    await expect(sweep(base(out, { sets: ['limits.bogus=1'] }))).rejects.toThrow(/--set limits\.bogus/);
    await expect(sweep(base(out, { runtime: 'bogus' }))).rejects.toThrow(/--runtime: expected sim or live/);
    await expect(sweep(base(out, { runtime: 'live', transport: 'tcp' }))).rejects.toThrow(/--transport: expected ws or uws/);
    expect(existsSync(out)).toBe(false);
    expect(() => parseShard('3/2')).toThrow(UsageError);
    expect(() => parseShard('x')).toThrow(/--shard/);
    expect(parseShard('2/3')).toEqual({ i: 2, n: 3 });
    expect(parseNodeList('300,100,100')).toEqual([100, 300]);
    expect(() => parseNodeList('100,-3')).toThrow(/--nodes: "-3"/);
  });

  it('shards_partition_the_grid_and_merge_joins_them', async () => {
    const whole = tmp('whole');
    await sweep(base(whole));
    const p1 = tmp('p1'), p2 = tmp('p2'), merged = join(tmp('merged'), 'out');
    const s1 = await sweep(base(p1, { shard: { i: 1, n: 2 } }));
    expect(() => merge([p1], merged)).toThrow(/4 cell\(s\) of the grid are in no part/);
    const s2 = await sweep(base(p2, { shard: { i: 2, n: 2 } }));
    expect(s1.cells.length + s2.cells.length).toBe(8);
    expect(s1.ran.filter((f) => s2.ran.includes(f))).toEqual([]);
    const m = merge([p1, p2], merged);
    expect(m.copied).toHaveLength(8);
    expect(m.missing).toEqual([]);
    expect(resultFiles(merged)).toEqual(resultFiles(whole));
    for (const f of resultFiles(whole)) {
      expect(deterministicPart(readResult(join(merged, f)))).toEqual(deterministicPart(readResult(join(whole, f))));
    }
    // merging again is idempotent; a part of another grid is refused
    expect(merge([p1, p2], merged).alreadyPresent).toHaveLength(8);
    const other = tmp('other');
    await sweep(base(other, { nodes: [4], repeat: 1, protocols: ['async-multiplexed'] }));
    expect(() => merge([p1, other], join(tmp('x'), 'out'))).toThrow(/part of another sweep/);
  });
});
