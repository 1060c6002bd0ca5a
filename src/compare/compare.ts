/**
 * compare(base, head): a benchstat-style comparison of two sets of files.
 *
 * - Cells are matched by identity: runtime, scenario, protocol, nodes, and for the simulator the
 *   seed (a sim cell is one deterministic run). Micro-benchmark tasks match by name; ceilings by
 *   protocol, scenario and --set overrides.
 * - Simulator figures are compared exactly: any difference is a change, reported with its delta.
 * - Repeated samples (several live result files for one cell, or micro-benchmark rounds) are
 *   summarised as median ± 95 % CI and tested with a two-sided Mann–Whitney U test; `~` when
 *   p ≥ 0.05.
 * - A regression is a change in the worse direction that is exact or significant and larger than
 *   the threshold.
 * Files that cannot be compared (unknown schema, nothing in common, base and head of different
 * kinds) are a UsageError naming the field, never a misleading table.
 */
import { UsageError } from '../errors.ts';
import type { Result } from '../results/schema.ts';
import { RESULT_METRICS, formatValue, type Direction, type Unit } from './metrics.ts';
import { loadInputs, isEmpty, type Inputs } from './inputs.ts';
import { ALPHA, geomean, mannWhitneyU, median, relativeSpread } from './stats.ts';

export const DEFAULT_THRESHOLD = 0.1;

export interface CompareOptions {
  /** relative change beyond which a worse, significant change is a regression (0.1 = 10 %) */
  threshold?: number;
  failOnRegression?: boolean;
  /** fail on any change in an exact (deterministic) figure, better or worse */
  failOnChange?: boolean;
}

export type Verdict = 'unchanged' | 'changed' | 'not-significant' | 'significant';

export interface Side {
  n: number;
  /** the value (exact) or the median (sampled); null when the figure is absent (e.g. no crash, no detection) */
  value: number | null;
  /** ± as a fraction of the median, 95 % CI; 0 for exact values, Infinity when too few samples */
  spread: number;
}

export interface Row {
  cell: string;
  base: Side;
  head: Side;
  exact: boolean;
  /** (head − base) / |base|; ±Infinity from zero; null when either side is absent */
  delta: number | null;
  p: number | null;
  verdict: Verdict;
  better: boolean;
  worse: boolean;
  regression: boolean;
}

export interface MetricTable {
  metric: string;
  unit: Unit;
  direction: Direction;
  rows: Row[];
  geomean: { base: number; head: number; delta: number; rows: number } | null;
}

export interface Comparison {
  threshold: number;
  tables: MetricTable[];
  regressions: { metric: string; row: Row }[];
  /** exact figures that changed (any direction) */
  changes: { metric: string; row: Row }[];
  onlyInBase: string[];
  onlyInHead: string[];
  notes: string[];
}

interface Cell {
  key: string;
  exact: boolean;
  /** per metric: one entry per sample (null = figure absent in that sample) */
  values: Map<string, (number | null)[]>;
  units: Map<string, { unit: Unit; direction: Direction }>;
  /** configuration text of exact result cells, to explain a change */
  config?: Record<string, string>;
  identity: Record<string, string | number>;
  paths: string[];
}

function resultKey(r: Result): { key: string; identity: Record<string, string | number> } {
  const identity: Record<string, string | number> = { runtime: r.run.runtime, scenario: r.run.scenario, protocol: r.run.protocol, nodes: r.run.nodes };
  if (r.run.runtime === 'sim') identity.seed = r.run.seed;
  const key = `${r.run.runtime}/${r.run.scenario}/${r.run.protocol}/n${r.run.nodes}` + (r.run.runtime === 'sim' ? `/s${r.run.seed}` : '');
  return { key, identity };
}

function configOf(r: Result): Record<string, string> {
  const out: Record<string, string> = { durationMs: String(r.run.durationMs) };
  for (const group of ['params', 'limits', 'costs', 'network', 'fleet'] as const) {
    for (const [k, v] of Object.entries(r.run[group])) {
      // limits.enforcement is per limit in live results since CPU and memory are enforced
      if (typeof v === 'object') for (const [k2, v2] of Object.entries(v)) out[`${group}.${k}.${k2}`] = String(v2);
      else out[`${group}.${k}`] = String(v);
    }
  }
  return out;
}

function deterministicText(r: Result): string {
  const { machine: _m, sim: _s, tool: _t, ...rest } = r;
  return JSON.stringify(rest);
}

function buildCells(inputs: Inputs, side: 'base' | 'head'): Map<string, Cell> {
  const cells = new Map<string, Cell>();
  const seenExact = new Map<string, { text: string; path: string }>();
  const cellFor = (key: string, exact: boolean, identity: Record<string, string | number>): Cell => {
    let c = cells.get(key);
    if (!c) cells.set(key, (c = { key, exact, values: new Map(), units: new Map(), identity, paths: [] }));
    return c;
  };
  for (const { path, data: r } of inputs.results) {
    const { key, identity } = resultKey(r);
    const exact = r.run.runtime === 'sim';
    if (exact) {
      const text = deterministicText(r);
      const prev = seenExact.get(key);
      if (prev) {
        if (prev.text !== text) {
          throw new UsageError(`${side}: ${prev.path} and ${path} are the same deterministic cell (${key}) with different figures; keep one`);
        }
        continue; // the same run twice: one sample
      }
      seenExact.set(key, { text, path });
    }
    const c = cellFor(key, exact, identity);
    c.paths.push(path);
    if (exact) c.config = configOf(r);
    for (const m of RESULT_METRICS) {
      if (!c.values.has(m.name)) c.values.set(m.name, []);
      c.values.get(m.name)!.push(m.get(r));
      c.units.set(m.name, { unit: m.unit, direction: m.direction });
    }
  }
  for (const { path, data } of inputs.micro) {
    for (const t of data.tasks) {
      const c = cellFor(`micro/${t.name}`, false, { micro: t.name });
      c.paths.push(path);
      const name = 'time/op';
      if (!c.values.has(name)) c.values.set(name, []);
      c.values.get(name)!.push(...t.samples);
      c.units.set(name, { unit: 'ns', direction: 'lower' });
    }
  }
  for (const { path, data } of inputs.ceilings) {
    const key = `ceiling/${data.scenario}/${data.protocol}` + (data.sets.length ? `[${data.sets.join(',')}]` : '');
    if (cells.has(key)) throw new UsageError(`${side}: two ceiling files for ${key} (${cells.get(key)!.paths[0]}, ${path}); keep one`);
    const c = cellFor(key, true, { ceiling: `${data.scenario}/${data.protocol}` });
    c.paths.push(path);
    c.values.set('ceiling', [data.ceiling]);
    c.units.set('ceiling', { unit: 'nodes', direction: 'higher' });
  }
  return cells;
}

function kinds(i: Inputs): string[] {
  const k: string[] = [];
  if (i.results.length) k.push('result');
  if (i.micro.length) k.push('micro-benchmark');
  if (i.ceilings.length) k.push('ceiling');
  return k;
}

/** Names the identity fields in which two cells differ: "scenario: steady vs kinesis-2020". */
function identityDifference(a: Cell, b: Cell): string {
  const fields = new Set([...Object.keys(a.identity), ...Object.keys(b.identity)]);
  const diffs: string[] = [];
  for (const f of fields) if (a.identity[f] !== b.identity[f]) diffs.push(`${f}: ${a.identity[f] ?? '(none)'} vs ${b.identity[f] ?? '(none)'}`);
  return diffs.join('; ');
}

function compareRow(cell: string, base: (number | null)[], head: (number | null)[], exact: boolean, direction: Direction, threshold: number): Row | null {
  const delta = (b: number | null, h: number | null): number | null => {
    if (b === null || h === null) return null;
    if (b === h) return 0;
    if (b === 0) return h > 0 ? Infinity : -Infinity;
    return (h - b) / Math.abs(b);
  };
  const judge = (d: number | null, changed: boolean) => {
    const better = changed && d !== null && d !== 0 && (direction === 'lower' ? d < 0 : d > 0);
    const worse = changed && d !== null && d !== 0 && (direction === 'lower' ? d > 0 : d < 0);
    return { better, worse, regression: worse && Math.abs(d!) > threshold };
  };
  if (exact) {
    const b = base[0] ?? null, h = head[0] ?? null;
    if (b === null && h === null) return null;
    const changed = b !== h;
    const d = delta(b, h);
    return {
      cell,
      base: { n: 1, value: b, spread: 0 },
      head: { n: 1, value: h, spread: 0 },
      exact: true,
      delta: d,
      p: null,
      verdict: changed ? 'changed' : 'unchanged',
      ...judge(d, changed),
    };
  }
  const bs = base.filter((v): v is number => v !== null), hs = head.filter((v): v is number => v !== null);
  if (bs.length === 0 && hs.length === 0) return null;
  const bm = bs.length ? median(bs) : null, hm = hs.length ? median(hs) : null;
  const d = delta(bm, hm);
  const p = bs.length && hs.length ? mannWhitneyU(bs, hs).p : null;
  const significant = p !== null && p < ALPHA;
  return {
    cell,
    base: { n: bs.length, value: bm, spread: bs.length ? relativeSpread(bs) : 0 },
    head: { n: hs.length, value: hm, spread: hs.length ? relativeSpread(hs) : 0 },
    exact: false,
    delta: d,
    p,
    verdict: significant ? 'significant' : 'not-significant',
    ...judge(d, significant),
  };
}

/** Compares already-loaded inputs (the file-reading wrapper is compare()). */
export function compareInputs(base: Inputs, head: Inputs, opts: CompareOptions = {}): Comparison {
  const threshold = opts.threshold ?? DEFAULT_THRESHOLD;
  if (!(threshold >= 0)) throw new UsageError(`--threshold: expected a fraction ≥ 0 such as 10% or 0.1, got ${threshold}`);
  const bk = kinds(base), hk = kinds(head);
  if (!bk.some((k) => hk.includes(k))) {
    throw new UsageError(`base holds ${bk.join(' and ')} files, head holds ${hk.join(' and ')} files: compare like with like`);
  }
  const bc = buildCells(base, 'base'), hc = buildCells(head, 'head');
  const common = [...bc.keys()].filter((k) => hc.has(k)).sort();
  if (common.length === 0) {
    const a = [...bc.values()][0], b = [...hc.values()][0];
    throw new UsageError(
      `base and head have no cell in common (${identityDifference(a, b)}); compare results of the same scenario, protocol, fleet size${a.exact ? ' and seed' : ''}`,
    );
  }
  const notes: string[] = [];
  const onlyInBase = [...bc.keys()].filter((k) => !hc.has(k)).sort();
  const onlyInHead = [...hc.keys()].filter((k) => !bc.has(k)).sort();
  for (const key of common) {
    const b = bc.get(key)!, h = hc.get(key)!;
    if (b.exact !== h.exact) throw new UsageError(`${key}: deterministic in one side and sampled in the other (${b.paths[0]}, ${h.paths[0]})`);
    if (b.config && h.config) {
      const diffs = [...new Set([...Object.keys(b.config), ...Object.keys(h.config)])]
        .filter((k) => b.config![k] !== h.config![k])
        .map((k) => `${k} ${b.config![k] ?? '(none)'} → ${h.config![k] ?? '(none)'}`);
      if (diffs.length) notes.push(`${key}: configuration differs: ${diffs.join(', ')}`);
    }
  }
  const metricNames: string[] = [];
  for (const key of common) for (const m of bc.get(key)!.values.keys()) if (!metricNames.includes(m)) metricNames.push(m);

  const tables: MetricTable[] = [];
  const regressions: Comparison['regressions'] = [];
  const changes: Comparison['changes'] = [];
  for (const metric of metricNames) {
    let meta: { unit: Unit; direction: Direction } | undefined;
    const rows: Row[] = [];
    for (const key of common) {
      const b = bc.get(key)!, h = hc.get(key)!;
      if (!b.values.has(metric) || !h.values.has(metric)) continue;
      meta = b.units.get(metric)!;
      const row = compareRow(key, b.values.get(metric)!, h.values.get(metric)!, b.exact, meta.direction, threshold);
      if (!row) continue;
      rows.push(row);
      if (row.regression) regressions.push({ metric, row });
      if (row.exact && row.verdict === 'changed') changes.push({ metric, row });
    }
    if (!meta || rows.length === 0) continue;
    const both = rows.filter((r) => (r.base.value ?? 0) > 0 && (r.head.value ?? 0) > 0);
    const gb = geomean(both.map((r) => r.base.value!)), gh = geomean(both.map((r) => r.head.value!));
    tables.push({
      metric,
      unit: meta.unit,
      direction: meta.direction,
      rows,
      geomean: both.length ? { base: gb, head: gh, delta: gh / gb - 1, rows: both.length } : null,
    });
  }
  return { threshold, tables, regressions, changes, onlyInBase, onlyInHead, notes };
}

export function compare(base: string | readonly string[], head: string | readonly string[], opts: CompareOptions = {}): Comparison {
  const b = loadInputs(typeof base === 'string' ? [base] : base, 'base');
  const h = loadInputs(typeof head === 'string' ? [head] : head, 'head');
  if (isEmpty(b)) throw new UsageError(`base: no result, micro-benchmark or ceiling files in ${String(base)}`);
  if (isEmpty(h)) throw new UsageError(`head: no result, micro-benchmark or ceiling files in ${String(head)}`);
  return compareInputs(b, h, opts);
}

/**
 * True when the comparison should fail the build under the given options. Under failOnChange a
 * cell the baseline has and the head lacks is a change too: a sweep that silently stops
 * producing a cell must not pass CI.
 */
export function failed(c: Comparison, opts: CompareOptions): boolean {
  return (
    (opts.failOnRegression === true && c.regressions.length > 0) ||
    (opts.failOnChange === true && (c.changes.length > 0 || c.onlyInBase.length > 0))
  );
}

// ---------------------------------------------------------------- rendering

function fmtDelta(d: number | null): string {
  if (d === null) return 'n/a';
  if (d === Infinity) return '+∞%';
  if (d === -Infinity) return '-∞%';
  return `${d >= 0 ? '+' : ''}${(d * 100).toFixed(2)}%`;
}

function fmtSide(s: Side, unit: Unit, exact: boolean): string {
  const v = formatValue(s.value, unit);
  if (exact || s.value === null) return v;
  return `${v} ${s.spread === Infinity ? '± ∞' : `± ${(s.spread * 100).toFixed(0)}%`}`;
}

export function rowDeltaText(r: Row): string {
  const n = `n=${r.base.n}+${r.head.n}`;
  const mark = r.regression ? ' REGRESSION' : '';
  if (r.exact) return r.verdict === 'unchanged' ? '= (exact)' : `${fmtDelta(r.delta)} (exact)${mark}`;
  const p = r.p === null ? 'p=n/a' : `p=${r.p.toFixed(3)}`;
  return r.verdict === 'significant' ? `${fmtDelta(r.delta)} (${p} ${n})${mark}` : `~ (${p} ${n})`;
}

/** Rows that changed: exact changes and significant sampled differences. */
function isChange(r: Row): boolean {
  return r.verdict === 'changed' || r.verdict === 'significant';
}

export interface FormatOptions {
  /** show only changed rows; tables without any collapse into one line */
  changedOnly?: boolean;
}

function visible(c: Comparison, o: FormatOptions): { tables: MetricTable[]; quiet: string[] } {
  if (!o.changedOnly) return { tables: c.tables, quiet: [] };
  const tables: MetricTable[] = [];
  const quiet: string[] = [];
  for (const t of c.tables) {
    const rows = t.rows.filter(isChange);
    if (rows.length) tables.push({ ...t, rows });
    else quiet.push(t.metric);
  }
  return { tables, quiet };
}

function tableCells(t: MetricTable): string[][] {
  const rows = t.rows.map((r) => [r.cell, fmtSide(r.base, t.unit, r.exact), fmtSide(r.head, t.unit, r.exact), rowDeltaText(r)]);
  if (t.geomean) rows.push(['geomean', formatValue(t.geomean.base, t.unit), formatValue(t.geomean.head, t.unit), fmtDelta(t.geomean.delta)]);
  return rows;
}

function headline(c: Comparison): string {
  const rows = c.tables.reduce((a, t) => a + t.rows.length, 0);
  const sig = c.tables.reduce((a, t) => a + t.rows.filter((r) => r.verdict === 'significant').length, 0);
  return (
    `${c.regressions.length} regression(s) beyond ${(c.threshold * 100).toFixed(0)}%, ` +
    `${c.changes.length} exact change(s), ${sig} significant sampled change(s), in ${rows} figure(s)`
  );
}

function trailer(c: Comparison): string[] {
  const out: string[] = [];
  if (c.onlyInBase.length) out.push(`only in base (missing from head): ${c.onlyInBase.join(', ')}`);
  if (c.onlyInHead.length) out.push(`only in head (not compared): ${c.onlyInHead.join(', ')}`);
  out.push(...c.notes);
  return out;
}

export function formatText(c: Comparison, o: FormatOptions = {}): string {
  const out: string[] = [headline(c), ''];
  const { tables, quiet } = visible(c, o);
  if (quiet.length) out.push(`unchanged in every cell: ${quiet.join(', ')}`, '');
  for (const t of tables) {
    const rows = [['', 'base', 'head', 'delta'], ...tableCells(t)];
    const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length)));
    out.push(`${t.metric} (${t.direction} is better)`);
    for (const r of rows) out.push(r.map((c, i) => (i === 3 ? c : c.padEnd(w[i]))).join('  ').trimEnd());
    out.push('');
  }
  out.push(...trailer(c));
  return out.join('\n').trimEnd() + '\n';
}

export function formatMarkdown(c: Comparison, o: FormatOptions = {}): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const out: string[] = [`**${headline(c)}**`, ''];
  const { tables, quiet } = visible(c, o);
  if (quiet.length) out.push(`Unchanged in every cell: ${quiet.join(', ')}.`, '');
  if (c.regressions.length) {
    out.push('Regressions:', '');
    for (const { metric, row } of c.regressions) out.push(`- \`${row.cell}\` ${metric}: ${rowDeltaText(row)}`);
    out.push('');
  }
  for (const t of tables) {
    out.push(`#### ${t.metric} (${t.direction} is better)`, '', '| cell | base | head | delta |', '|---|---:|---:|---|');
    for (const r of tableCells(t)) out.push(`| ${r.map(esc).join(' | ')} |`);
    out.push('');
  }
  for (const line of trailer(c)) out.push(`- ${esc(line)}`);
  return out.join('\n').trimEnd() + '\n';
}
