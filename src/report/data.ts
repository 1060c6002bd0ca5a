/**
 * Turns loaded files into what the report draws: per (scenario, protocol, N) points (median over
 * repeated seeds), power-law fits of per-node costs against N, misroute timelines and ceilings.
 */
import type { Result } from '../results/schema.ts';
import { RESULT_METRICS } from '../compare/metrics.ts';
import { median, powerFit } from '../compare/stats.ts';
import type { Inputs } from '../compare/inputs.ts';
import type { CeilingResult } from '../ceiling/schema.ts';
import type { MicroResult } from '../compare/micro-schema.ts';

export const TIMELINE_SCENARIO = 'kinesis-2020';

export interface Point {
  scenario: string;
  protocol: string;
  runtime: string;
  nodes: number;
  /** how many result files (seeds or live repeats) the medians are over */
  samples: number;
  healthy: number;
  limitsHit: string;
  values: Record<string, number | null>;
}

export interface Fit {
  scenario: string;
  protocol: string;
  metric: string;
  /** y ≈ a · N^b, least squares in log–log space */
  a: number;
  b: number;
  r2: number;
  points: number;
}

export interface TimelineSample {
  series: string;
  protocol: string;
  nodes: number;
  tSec: number;
  misroutePct: number;
  liveNodes: number;
}

export interface ReportData {
  points: Point[];
  /** scenarios with at least two fleet sizes: the ones scaling charts are drawn for */
  scalingScenarios: string[];
  fits: Fit[];
  timeline: TimelineSample[];
  ceilings: CeilingResult[];
  micro: { file: string; data: MicroResult }[];
}

/** Metrics fitted as power laws (per-node costs); their charts are log–log. */
export const FITTED_METRICS = ['peakMemory/node', 'peakThreads/node', 'peakConnections/node', 'messages/node/s', 'bytes/node/s'] as const;

function groupKey(r: Result): string {
  return `${r.run.scenario}\u0000${r.run.protocol}\u0000${r.run.runtime}\u0000${r.run.nodes}`;
}

export function buildPoints(results: readonly Result[]): Point[] {
  const groups = new Map<string, Result[]>();
  for (const r of results) {
    const k = groupKey(r);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(r);
  }
  const points: Point[] = [];
  for (const rs of groups.values()) {
    const r0 = rs[0];
    const values: Record<string, number | null> = {};
    for (const m of RESULT_METRICS) {
      const vs = rs.map(m.get).filter((v): v is number => v !== null);
      values[m.name] = vs.length ? median(vs) : null;
    }
    const limits = new Set(rs.flatMap((r) => r.summary.limitsHit.map((l) => l.limit)));
    points.push({
      scenario: r0.run.scenario,
      protocol: r0.run.protocol,
      runtime: r0.run.runtime,
      nodes: r0.run.nodes,
      samples: rs.length,
      healthy: rs.filter((r) => r.summary.healthy).length,
      limitsHit: [...limits].sort().join(', '),
      values,
    });
  }
  return points.sort((a, b) => a.scenario.localeCompare(b.scenario) || a.protocol.localeCompare(b.protocol) || a.runtime.localeCompare(b.runtime) || a.nodes - b.nodes);
}

export function buildFits(points: readonly Point[], scenarios: readonly string[]): Fit[] {
  const fits: Fit[] = [];
  for (const scenario of scenarios) {
    const protocols = [...new Set(points.filter((p) => p.scenario === scenario).map((p) => p.protocol))].sort();
    for (const protocol of protocols) {
      const ps = points.filter((p) => p.scenario === scenario && p.protocol === protocol);
      for (const metric of FITTED_METRICS) {
        const f = powerFit(ps.map((p) => ({ x: p.nodes, y: p.values[metric] ?? NaN })));
        if (f) fits.push({ scenario, protocol, metric, a: f.a, b: f.b, r2: f.r2, points: f.n });
      }
    }
  }
  return fits;
}

export function buildTimeline(results: readonly Result[]): TimelineSample[] {
  const rs = results.filter((r) => r.run.scenario === TIMELINE_SCENARIO);
  const sizes = new Set(rs.map((r) => r.run.nodes));
  // one line per protocol (and fleet size, when several); repeated seeds: the first seed only
  const chosen = new Map<string, Result>();
  for (const r of [...rs].sort((a, b) => a.run.seed - b.run.seed)) {
    const series = sizes.size > 1 ? `${r.run.protocol} n${r.run.nodes}` : r.run.protocol;
    const key = `${series}/${r.run.runtime}`;
    if (!chosen.has(key)) chosen.set(key, r);
  }
  const out: TimelineSample[] = [];
  for (const [key, r] of [...chosen.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const series = key.slice(0, key.lastIndexOf('/')) + (r.run.runtime === 'live' ? ' (live)' : '');
    for (const s of r.timeseries) {
      if (s.requests <= 0) continue;
      out.push({ series, protocol: r.run.protocol, nodes: r.run.nodes, tSec: s.tMs / 1000, misroutePct: (100 * s.misrouted) / s.requests, liveNodes: s.liveNodes });
    }
  }
  return out;
}

export function buildReportData(inputs: Inputs): ReportData {
  const results = inputs.results.map((l) => l.data);
  const points = buildPoints(results);
  const scalingScenarios = [...new Set(points.map((p) => p.scenario))]
    .filter((s) => new Set(points.filter((p) => p.scenario === s).map((p) => p.nodes)).size >= 2)
    .sort();
  return {
    points,
    scalingScenarios,
    fits: buildFits(points, scalingScenarios),
    timeline: buildTimeline(results),
    ceilings: inputs.ceilings.map((c) => c.data).sort((a, b) => a.scenario.localeCompare(b.scenario) || a.protocol.localeCompare(b.protocol)),
    micro: inputs.micro.map((m) => ({ file: m.path, data: m.data })),
  };
}

/** "messages/node/s ∝ N^1.00" */
export function fitText(f: Fit): string {
  return `${f.metric} ∝ N^${f.b.toFixed(2)}`;
}
