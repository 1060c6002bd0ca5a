import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runMicro, writeMicro } from '../bench/micro/run.ts';
import { buildTasks } from '../bench/micro/tasks.ts';
import { readMicro } from '../src/compare/micro-schema.ts';
import { compare } from '../src/compare/compare.ts';
import { PROTOCOLS } from '../src/protocols.ts';

describe('micro-benchmarks', () => {
  it('cover_the_hot_paths', () => {
    const names = buildTasks().map((t) => t.name);
    for (const needle of ['event-queue push+pop', 'all-to-all encode', 'all-to-all decode', 'membership merge', 'shard-map lookup (async-multiplexed)']) {
      expect(names.some((n) => n.startsWith(needle)), needle).toBe(true);
    }
    if (PROTOCOLS.has('swim')) expect(names).toContain('swim message handling (onMessage)');
  });

  it('write_a_micro_file_that_compare_reads', async () => {
    const r = await runMicro({ rounds: 2, timeMs: 5, filter: 'event-queue' });
    expect(r.tasks).toHaveLength(1);
    expect(r.tasks[0].samples).toHaveLength(2);
    for (const s of r.tasks[0].samples) expect(s).toBeGreaterThan(0);
    const path = join(mkdtempSync(join(tmpdir(), 'fleetbench-micro-')), 'micro.json');
    writeMicro(path, r);
    expect(readMicro(path)).toEqual(r);
    const c = compare(path, path);
    expect(c.tables[0].rows[0]).toMatchObject({ cell: 'micro/event-queue push+pop (1k pending)', verdict: 'not-significant' });
  });

  it('rejects_a_filter_that_matches_nothing', async () => {
    await expect(runMicro({ rounds: 1, timeMs: 5, filter: 'no such task' })).rejects.toThrow(/--filter/);
  });
});
