import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { simulate, scenarioLike } from './helpers.ts';
import type { Result } from '../src/results/schema.ts';
import { UsageError } from '../src/errors.ts';
import { compare, failed, formatMarkdown, formatText } from '../src/compare/compare.ts';
import { registerCompareCommand, parseThreshold } from '../src/compare/cli.ts';
import { mannWhitneyU, medianCI, median, powerFit } from '../src/compare/stats.ts';
import { MICRO_SCHEMA, type MicroResult } from '../src/compare/micro-schema.ts';

let sim: Result;
let dir: string;

function write(path: string, data: unknown): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, JSON.stringify(data));
  return path;
}

const clone = <T>(x: T): T => structuredClone(x);

/** A live-runtime sample of the cell with peak memory scaled by `factor` and a little noise. */
function liveSample(i: number, factor: number): Result {
  const r = clone(sim);
  r.run.runtime = 'live';
  r.run.seed = i;
  const noise = 1 + ((i * 7919) % 13) / 1000; // deterministic jitter under 1.3 %
  r.summary.memory.peakBytesPerNode = Math.round(50e6 * factor * noise);
  return r;
}

function micro(scale: number): MicroResult {
  return {
    schema: MICRO_SCHEMA,
    tool: { version: '0', gitCommit: null },
    machine: { cpuModel: 'x', cpus: 2, memBytes: 1, node: 'v20', os: 'linux' },
    rounds: 6,
    timeMsPerRound: 100,
    tasks: [
      { name: 'queue', unit: 'ns/op', opsPerIteration: 1, samples: [100, 101, 99, 102, 98, 100].map((v) => v * scale), median: 100 * scale },
      { name: 'codec', unit: 'ns/op', opsPerIteration: 1, samples: [50, 51, 49, 52, 48, 50], median: 50 },
    ],
  };
}

beforeAll(async () => {
  sim = await simulate({ protocol: 'async-multiplexed', scenario: scenarioLike('steady', { durationMs: 3000 }), nodes: 8 });
  dir = mkdtempSync(join(tmpdir(), 'fleetbench-compare-'));
});

describe('compare', () => {
  it('flags_a_synthetic_20pct_regression_in_repeated_samples', () => {
    for (let i = 0; i < 6; i++) {
      write(join(dir, 'reg/base', `${i}.json`), liveSample(i, 1));
      write(join(dir, 'reg/head', `${i}.json`), liveSample(i + 6, 1.2));
    }
    const opts = { threshold: 0.1, failOnRegression: true };
    const c = compare(join(dir, 'reg/base'), join(dir, 'reg/head'), opts);
    const mem = c.tables.find((t) => t.metric === 'peakMemory/node')!;
    expect(mem.rows).toHaveLength(1);
    expect(mem.rows[0].verdict).toBe('significant');
    expect(mem.rows[0].delta!).toBeGreaterThan(0.15);
    expect(mem.rows[0].p!).toBeLessThan(0.05);
    expect(c.regressions.map((r) => r.metric)).toEqual(['peakMemory/node']);
    expect(failed(c, opts)).toBe(true);
    expect(formatText(c)).toMatch(/peakMemory\/node[\s\S]*REGRESSION/);
    // the unchanged figures of these samples are `~`
    const msgs = c.tables.find((t) => t.metric === 'messages/node/s')!;
    expect(msgs.rows[0].verdict).toBe('not-significant');
    // a 20 % regression under a 25 % threshold is significant but not a regression
    expect(compare(join(dir, 'reg/base'), join(dir, 'reg/head'), { threshold: 0.25 }).regressions).toEqual([]);
  });

  it('reports_identical_inputs_as_unchanged', () => {
    const a = write(join(dir, 'same/a.json'), sim);
    const b = write(join(dir, 'same/b.json'), sim);
    const c = compare(a, b, { failOnRegression: true, failOnChange: true });
    expect(c.tables.length).toBeGreaterThan(5);
    for (const t of c.tables) for (const r of t.rows) expect(r.verdict).toBe('unchanged');
    expect(c.regressions).toEqual([]);
    expect(c.changes).toEqual([]);
    expect(failed(c, { failOnRegression: true, failOnChange: true })).toBe(false);
    for (let i = 0; i < 6; i++) write(join(dir, 'same-live/a', `${i}.json`), liveSample(i, 1));
    const live = compare(join(dir, 'same-live/a'), join(dir, 'same-live/a'));
    for (const t of live.tables) for (const r of t.rows) expect(r.verdict).toBe('not-significant');
    expect(formatText(live)).not.toMatch(/REGRESSION/);
  });

  it('compares_simulator_figures_exactly', () => {
    const head = clone(sim);
    head.summary.messages.perNodePerSec *= 1.005; // +0.5 %: a change, below the threshold
    head.summary.threads.peakPerNode *= 1.2; // +20 % worse: a regression
    head.summary.requests.goodputPerSec *= 1.3; // better
    head.machine.cpuModel = 'another machine'; // wall-clock and machine fields are not compared
    head.sim!.wallMs *= 3;
    const c = compare(write(join(dir, 'exact/base.json'), sim), write(join(dir, 'exact/head.json'), head), { threshold: 0.1 });
    const row = (m: string) => c.tables.find((t) => t.metric === m)!.rows[0];
    expect(row('messages/node/s')).toMatchObject({ exact: true, verdict: 'changed', regression: false, worse: true });
    expect(row('messages/node/s').delta!).toBeCloseTo(0.005, 6);
    expect(row('peakThreads/node')).toMatchObject({ verdict: 'changed', regression: true });
    expect(row('goodputPerSec')).toMatchObject({ verdict: 'changed', better: true, regression: false });
    expect(row('peakMemory/node').verdict).toBe('unchanged');
    expect(c.changes.map((x) => x.metric).sort()).toEqual(['goodputPerSec', 'messages/node/s', 'peakThreads/node']);
    expect(c.regressions.map((x) => x.metric)).toEqual(['peakThreads/node']);
    expect(failed(c, { failOnChange: true })).toBe(true);
    expect(formatMarkdown(c)).toContain('| sim/steady/async-multiplexed/n8/s1 |');
    const brief = formatText(c, { changedOnly: true });
    expect(brief).toMatch(/unchanged in every cell: .*peakMemory\/node/);
    expect(brief).toContain('peakThreads/node (lower is better)');
    expect(brief).not.toContain('misrouteRate (lower is better)');
  });

  it('names_configuration_differences_behind_a_change', () => {
    const head = clone(sim);
    head.run.costs.cpuUsPerMessage = 6;
    const c = compare(write(join(dir, 'cfg/base.json'), sim), write(join(dir, 'cfg/head.json'), head));
    expect(c.notes.join('\n')).toContain('costs.cpuUsPerMessage 5.5 → 6');
  });

  it.each([
    ['a different scenario', (r: Result) => { r.run.scenario = 'kinesis-2020'; }, /scenario: steady vs kinesis-2020/],
    ['a different fleet size', (r: Result) => { r.run.nodes = 9; }, /nodes: 8 vs 9/],
  ])('rejects_mismatched_files: %s', (_name, patch, message) => {
    const head = clone(sim);
    patch(head);
    const b = write(join(dir, 'mm/base.json'), sim);
    const h = write(join(dir, 'mm', `${_name}.json`), head);
    expect(() => compare(b, h)).toThrow(UsageError);
    expect(() => compare(b, h)).toThrow(message);
  });

  it('rejects_files_of_another_schema_or_kind', () => {
    const b = write(join(dir, 'bad/base.json'), sim);
    const other = write(join(dir, 'bad/other.json'), { ...sim, schema: 'fleetbench/result@0' });
    expect(() => compare(b, other)).toThrow(/schema is "fleetbench\/result@0"/);
    const corrupt = join(dir, 'bad/corrupt.json');
    writeFileSync(corrupt, '{"schema": "fleetbench/result@1", ');
    expect(() => compare(b, corrupt)).toThrow(UsageError);
    const m = write(join(dir, 'bad/micro.json'), micro(1));
    expect(() => compare(b, m)).toThrow(/base holds result files, head holds micro-benchmark files/);
    expect(() => compare(b, join(dir, 'nope'))).toThrow(/does not exist/);
    const invalid = clone(sim) as unknown as { summary: { requests: { misrouteRate: unknown } } };
    invalid.summary.requests.misrouteRate = 'high';
    expect(() => compare(b, write(join(dir, 'bad/invalid.json'), invalid))).toThrow(/summary\.requests\.misrouteRate/);
  });

  it('compares_micro_benchmark_rounds', () => {
    const c = compare(write(join(dir, 'micro/base.json'), micro(1)), write(join(dir, 'micro/head.json'), micro(1.2)), { failOnRegression: true });
    const t = c.tables.find((x) => x.metric === 'time/op')!;
    const byCell = Object.fromEntries(t.rows.map((r) => [r.cell, r]));
    expect(byCell['micro/queue']).toMatchObject({ verdict: 'significant', regression: true });
    expect(byCell['micro/codec'].verdict).toBe('not-significant');
    expect(t.geomean!.delta).toBeGreaterThan(0.05);
  });

  it('cli_exits_1_on_regression_and_parses_the_threshold', async () => {
    expect(parseThreshold('10%')).toBeCloseTo(0.1);
    expect(parseThreshold('0.2')).toBeCloseTo(0.2);
    expect(() => parseThreshold('ten')).toThrow(/--threshold/);
    const program = new Command().exitOverride();
    registerCompareCommand(program);
    const md = join(dir, 'cli/summary.md');
    const out: string[] = [];
    const orig = process.stdout.write.bind(process.stdout);
    const origErr = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      await program.parseAsync(['compare', join(dir, 'reg/base'), join(dir, 'reg/head'), '--threshold', '10%', '--fail-on-regression', '--markdown', md], { from: 'user' });
    } finally {
      process.stdout.write = orig;
      process.stderr.write = origErr;
    }
    expect(process.exitCode).toBe(1);
    process.exitCode = 0;
    expect(out.join('')).toContain('REGRESSION');
  });
});

describe('compare statistics', () => {
  it('mann_whitney_exact_p_values', () => {
    // complete separation of 4 vs 4: p = 2/70
    expect(mannWhitneyU([1, 2, 3, 4], [5, 6, 7, 8]).p).toBeCloseTo(2 / 70, 10);
    expect(mannWhitneyU([1, 2, 3], [4, 5, 6]).p).toBeCloseTo(0.1, 10);
    expect(mannWhitneyU([1, 2, 3, 4], [1, 2, 3, 4]).p).toBe(1);
    // large samples use the normal approximation
    const a = Array.from({ length: 60 }, (_, i) => i), b = a.map((x) => x + 30);
    expect(mannWhitneyU(a, b).p).toBeLessThan(0.001);
  });

  it('median_ci_is_unbounded_below_6_samples', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(medianCI([1, 2, 3, 4, 5]).hi).toBe(Infinity);
    const ci = medianCI([1, 2, 3, 4, 5, 6]);
    expect(ci).toEqual({ lo: 1, hi: 6 });
  });

  it('power_fit_recovers_the_exponent', () => {
    const f = powerFit([10, 100, 1000].map((x) => ({ x, y: 3 * x ** 2 })))!;
    expect(f.b).toBeCloseTo(2, 10);
    expect(f.a).toBeCloseTo(3, 8);
    expect(powerFit([{ x: 5, y: 1 }])).toBeNull();
  });
});
