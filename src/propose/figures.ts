/**
 * The figures a decision document compares, read from result files. Some come from fields that
 * result@1 does not carry yet (issue 10: recovery, alarms, failedRate, goodput); they are read when
 * a result has them and are null otherwise, and the document shows "—" with a footnote naming the
 * missing field. Results are read as plain objects for that reason: a schema that strips unknown
 * keys would hide a newer file's figures.
 */
import type { Result } from '../results/schema.ts';
import type { Unit } from '../compare/metrics.ts';
import { median } from '../compare/stats.ts';

export type FigureKey =
  | 'failedRate'
  | 'misrouteRate'
  | 'timeToRecoverMs'
  | 'alarmLeadMs'
  | 'memoryPerNode'
  | 'threadsPerNode'
  | 'fdsPerNode'
  | 'messagesPerNodePerSec'
  | 'cpuUsPerNodePerSec';

export interface FigureDef {
  key: FigureKey;
  label: string;
  unit: Unit;
  group: 'outcome' | 'cost' | 'alarm';
  /** what a null means, for the footnote: the result field that is absent */
  missing?: string;
  get: (r: Result) => number | null;
}

const get = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);
const numOrNull = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Samples taken at today's N: those before the scenario's first event (all of them if it has none). */
export function samplesBeforeFirstEvent(r: Result, firstEventAtMs: number | null): Result['timeseries'] {
  const before = firstEventAtMs === null ? r.timeseries : r.timeseries.filter((s) => s.tMs <= firstEventAtMs);
  return before.length ? before : r.timeseries.slice(0, 1);
}

export function figureDefs(firstEventAtMs: number | null): FigureDef[] {
  const early = (r: Result) => samplesBeforeFirstEvent(r, firstEventAtMs);
  const maxOf = (r: Result, f: (s: Result['timeseries'][number]) => number) => {
    const ss = early(r);
    return ss.length ? Math.max(...ss.map(f)) : null;
  };
  return [
    {
      key: 'failedRate',
      label: 'failed requests',
      unit: 'ratio',
      group: 'outcome',
      get: (r) => numOrNull(get(r.summary, 'requests', 'failedRate')) ?? (r.summary.requests.total > 0 ? r.summary.requests.failed / r.summary.requests.total : 0),
    },
    { key: 'misrouteRate', label: 'misrouted requests', unit: 'ratio', group: 'outcome', get: (r) => r.summary.requests.misrouteRate },
    {
      key: 'timeToRecoverMs',
      label: 'time to recover',
      unit: 'ms',
      group: 'outcome',
      missing: 'summary.recovery.timeToRecoverMs',
      get: (r) => numOrNull(get(r.summary, 'recovery', 'timeToRecoverMs')),
    },
    {
      key: 'memoryPerNode',
      label: 'memory/node',
      unit: 'bytes',
      group: 'cost',
      get: (r) => maxOf(r, (s) => s.memoryMaxBytesPerNode),
    },
    { key: 'threadsPerNode', label: 'threads/node', unit: 'count', group: 'cost', get: (r) => maxOf(r, (s) => s.threadsMaxPerNode) },
    { key: 'fdsPerNode', label: 'fds/node', unit: 'count', group: 'cost', get: (r) => maxOf(r, (s) => s.connectionsMaxPerNode) },
    {
      key: 'messagesPerNodePerSec',
      label: 'msgs/node/s',
      unit: 'per-s',
      group: 'cost',
      get: (r) => {
        const ss = early(r);
        const every = Number(r.run.fleet['sampleEveryMs'] ?? 1000) / 1000;
        const nodeSec = ss.reduce((a, s) => a + s.liveNodes * every, 0);
        return nodeSec > 0 ? ss.reduce((a, s) => a + s.messages, 0) / nodeSec : null;
      },
    },
    // CPU is not in the time series: the whole run's figure
    { key: 'cpuUsPerNodePerSec', label: 'CPU/node (whole run)', unit: 'us-per-s', group: 'cost', get: (r) => r.summary.cpu.protocolUsPerNodePerSec },
    {
      key: 'alarmLeadMs',
      label: 'alarm lead time',
      unit: 'ms',
      group: 'alarm',
      missing: 'summary.alarms[].leadMs',
      get: (r) => {
        const alarms = get(r.summary, 'alarms');
        if (!Array.isArray(alarms) || alarms.length === 0) return null;
        const first = [...alarms].sort((a, b) => (numOrNull(get(a, 'firstAtMs')) ?? Infinity) - (numOrNull(get(b, 'firstAtMs')) ?? Infinity))[0];
        return numOrNull(get(first, 'leadMs'));
      },
    },
  ];
}

export interface Spread {
  /** one value per seed, in seed order; null where the result lacks the figure */
  values: (number | null)[];
  min: number | null;
  median: number | null;
  max: number | null;
}

export function spread(values: (number | null)[]): Spread {
  const xs = values.filter((v): v is number => v !== null);
  if (!xs.length) return { values, min: null, median: null, max: null };
  return { values, min: Math.min(...xs), median: median(xs), max: Math.max(...xs) };
}

/** Two spreads overlap when their [min, max] intervals meet (both missing counts as no evidence either way). */
export function overlaps(a: Spread, b: Spread): boolean {
  if (a.min === null || b.min === null) return true;
  return a.min <= b.max! && b.min <= a.max!;
}

export const fmtX = (h: number) => `${h >= 100 ? h.toFixed(0) : h >= 10 ? h.toFixed(1) : h.toFixed(2)}×`;
export const fmtYears = (y: number) => (y === 0 ? '0 years' : y < 0.1 ? '< 0.1 years' : `${y >= 10 ? y.toFixed(0) : y.toFixed(1)} years`);
