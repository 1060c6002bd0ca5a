// `fleetbench validate`: the row arithmetic (ratio, tolerance), aggregation over trials, and bad
// input rejected with one line naming the field before any agent starts.
import { mkdtempSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.ts';
import { buildRows, row, TOLERANCE } from '../src/validate/validate.ts';
import { ValidateDocSchema, type ModelTrial, type RealTrial } from '../src/validate/schema.ts';
import { readVersioned } from '../src/results/files.ts';

describe('validate rows', () => {
  it.each([
    ['detection.first.p50', 5000, 5500, 5000 / 5500, true],
    ['detection.first.p50', 4000, 5000, 0.8, false],
    ['detection.all.p50', 5750, 5000, 1.15, true],
    ['falsePositives', 0, 0, null, true],
    ['falsePositives', 1, 0, null, false],
    ['messagesPerNodePerSec', null, 4, null, false],
  ] as const)('%s: model %s vs real %s → ratio %s, within %s', (measure, model, real, ratio, within) => {
    const r = row(measure, 8, model, real, 'ms');
    if (ratio === null) expect(r.ratio).toBeNull();
    else expect(r.ratio).toBeCloseTo(ratio, 6);
    expect(r.withinTolerance).toBe(within);
    expect(r.tolerance).toBe(TOLERANCE[measure].tolerance);
  });

  it('p50 rows are the median of trial p50s and p99 rows the largest trial p99, on both sides', () => {
    const p = (p50: number, p99: number) => ({ p50, p99, max: p99 });
    const model: ModelTrial[] = [p(1, 2), p(3, 9), p(5, 6)].map((d, i) => ({
      scenario: 'crash', fault: 'crash', n: 8, seed: i, detectionFirstMs: d, detectionAllMs: d, joinMs: null,
      undetectedCrashes: 0, unconvergedJoins: 0, falsePositives: 0, messagesPerNodePerSec: 4, bytesPerNodePerSec: 100,
    }));
    const beliefs = (xs: number[]) => ({ detectionFirstMs: xs, detectionAllMs: xs, joinMs: [], falsePositives: 0, falsePositivesBeforeFault: 0, undetectedCrashes: 0, unconvergedJoins: 0 });
    const real: RealTrial[] = [[1, 2, 3], [4, 5, 10]].map((xs, i) => ({
      scenario: 'crash', fault: 'crash', n: 8, seed: i, crashed: ['a', 'b', 'c'], log: beliefs(xs), stream: beliefs(xs.map((x) => x + 1)),
      messagesPerNodePerSec: 5, bytesPerNodePerSec: 200, windowMs: 1, diagnostics: { ownSuspicionMs: {}, declared: [], maxHealthScore: 0, degradedProbes: 0 }, loadavg: { start: [], end: [] },
    }));
    const rows = buildRows([8], model, real);
    const get = (m: string) => rows.find((r) => r.measure === m)!;
    expect([get('detection.first.p50').model, get('detection.first.p50').real, get('detection.first.p50').realStream]).toEqual([3, 3.5, 4.5]);
    expect([get('detection.all.p99').model, get('detection.all.p99').real]).toEqual([9, 10]);
    expect([get('messagesPerNodePerSec').model, get('messagesPerNodePerSec').real]).toEqual([4, 5]);
    expect(rows.some((r) => r.measure.startsWith('join'))).toBe(false);
  });
});

describe('fleetbench validate: bad input', () => {
  let dir: string;
  let stderr = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fleetbench-validate-'));
    stderr = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
    rmSync(dir, { recursive: true, force: true });
  });
  it.each([
    ['an unknown implementation', ['swim', '--against', 'consul'], /--against: "consul" is not known; known: serf/],
    ['a protocol serf is not the reference for', ['thread-per-peer', '--against', 'serf'], /serf is the reference for swim, not "thread-per-peer"/],
    ['a fleet too small', ['swim', '--against', 'serf', '-n', '8,2'], /--nodes: "2" is not an integer ≥ 3/],
    ['a scenario without one crash or add', ['swim', '--against', 'serf', '--scenarios', 'steady'], /--scenarios: scenario steady must have exactly one crash or one add event/],
    ['zero trials', ['swim', '--against', 'serf', '--trials', '0'], /--trials: expected an integer ≥ 1, got "0"/],
  ])('%s exits 2 with one line and writes nothing', async (_name, args, message) => {
    const out = join(dir, 'v.json');
    expect(await main(['validate', ...args, '-o', out])).toBe(2);
    expect(stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });
});

describe('fleetbench validate --real-from: the model side against recorded real trials', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fleetbench-validate-'));
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
    rmSync(dir, { recursive: true, force: true });
  });
  it('writes a valid fleetbench/validate@1 file and its Markdown table, with the recorded real figures', async () => {
    const beliefs = { detectionFirstMs: [], detectionAllMs: [], joinMs: [250], falsePositives: 0, falsePositivesBeforeFault: 0, undetectedCrashes: 0, unconvergedJoins: 0 };
    const recorded = {
      schema: 'fleetbench/validate@1', protocol: 'swim', params: ['lifeguard=true'], against: { name: 'serf', version: 'test', profile: 'lan' },
      nodes: [8], scenarios: ['join'], trials: { model: 1, real: 1 }, aggregation: '', createdAt: '', wallMs: 0, machine: {}, tool: {}, rows: [], model: [],
      real: [{ scenario: 'join', fault: 'join', n: 8, seed: 1, crashed: [], log: beliefs, stream: { ...beliefs, joinMs: [1250] }, messagesPerNodePerSec: 4, bytesPerNodePerSec: 350, windowMs: 9000, loadavg: { start: [1], end: [1] } }],
    };
    const from = join(dir, 'recorded.json');
    writeFileSync(from, JSON.stringify(recorded));
    const out = join(dir, 'v.json');
    expect(await main(['validate', 'swim', '--against', 'serf', '-n', '8', '--scenarios', 'join', '--model-trials', '1', '--real-from', from, '-o', out, '-q'])).toBe(0);
    const doc = readVersioned(out, 'fleetbench/validate@1', ValidateDocSchema);
    const joinRow = doc.rows.find((r) => r.measure === 'join.p50')!;
    expect([joinRow.real, joinRow.realStream]).toEqual([250, 1250]);
    expect(joinRow.model).toBeGreaterThan(0);
    expect(doc.realFrom).toBe(from);
    expect(readFileSync(join(dir, 'v.md'), 'utf8')).toMatch(/\| join\.p50 \| 8 \|/);
  });
});
