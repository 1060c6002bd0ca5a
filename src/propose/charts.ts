/**
 * The decision document's charts as Vega-Lite specs with inline data, rendered to SVG by
 * src/report/render.ts: headroom per design; the scenario timeline per design with its fault
 * windows shaded; per-node cost against N with each design's ceiling marked.
 */
import type { TopLevelSpec } from 'vega-lite';
import { CHART_HEIGHT, CHART_WIDTH } from '../report/render.ts';
import type { ProposalResult } from './result-schema.ts';

export interface Chart {
  id: string;
  title: string;
  caption: string;
  spec: TopLevelSpec;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const MIB = 1024 * 1024;

function headroomChart(r: ProposalResult): Chart | null {
  const bars = r.designs
    .filter((d) => d.ceiling?.headroom !== null && d.ceiling?.headroom !== undefined)
    .map((d) => ({
      design: d.name,
      headroom: Math.max(d.ceiling!.headroom!, 0.01),
      kind: d.ceiling!.kind === 'projected' ? 'projected' : d.ceiling!.kind === 'lower-bound' ? 'lower bound' : 'measured',
      label: `${d.ceiling!.bound === 'at-least' ? '≥ ' : d.ceiling!.bound === 'at-most' ? '≤ ' : ''}${d.ceiling!.headroom!.toPrecision(3)}×`,
    }));
  if (!bars.length) return null;
  const lo = Math.min(0.5, ...bars.map((b) => b.headroom / 2));
  return {
    id: 'headroom',
    title: 'Headroom per design',
    caption: `Ceiling ÷ today's FE count (${r.proposal.todayNodes} in the baseline's shape). Bars start at ${lo.toPrecision(2)}; the rule at 1 is today. Faded bars are projected or lower bounds, not measured ceilings.`,
    spec: {
      $schema: SCHEMA,
      width: CHART_WIDTH,
      height: Math.max(80, 30 * bars.length),
      title: { text: 'Headroom: ceiling ÷ today\'s fleet', anchor: 'start' },
      config: { axisY: { labelLimit: 260 } },
      layer: [
        {
          data: { values: bars },
          mark: { type: 'bar' },
          encoding: {
            y: { field: 'design', type: 'nominal', title: null, sort: null },
            x: { field: 'headroom', type: 'quantitative', scale: { type: 'log', domainMin: lo }, title: 'headroom (×, log)' },
            x2: { datum: lo },
            opacity: { field: 'kind', type: 'ordinal', title: 'ceiling', scale: { domain: ['measured', 'projected', 'lower bound'], range: [1, 0.45, 0.65] } },
            tooltip: [{ field: 'design' }, { field: 'label', title: 'headroom' }, { field: 'kind' }],
          },
        },
        {
          data: { values: bars },
          mark: { type: 'text', align: 'left', dx: 4 },
          encoding: { y: { field: 'design', type: 'nominal', sort: null }, x: { field: 'headroom', type: 'quantitative' }, text: { field: 'label' } },
        },
        { data: { values: [{ x: 1 }] }, mark: { type: 'rule', color: '#c00', strokeDash: [4, 3] }, encoding: { x: { field: 'x', type: 'quantitative' } } },
      ],
    } as TopLevelSpec,
  };
}

function timelineChart(r: ProposalResult, d: ProposalResult['designs'][number]): Chart | null {
  if (!d.timeline.length) return null;
  const values = d.timeline.flatMap((s) => [
    { tSec: s.tSec, series: 'failed', pct: s.failedPct },
    { tSec: s.tSec, series: 'misrouted', pct: s.misroutedPct },
  ]);
  const layers: unknown[] = [];
  if (r.faultWindows.length) {
    layers.push({
      data: { values: r.faultWindows },
      mark: { type: 'rect', color: '#f4c542', opacity: 0.25 },
      encoding: { x: { field: 'fromSec', type: 'quantitative' }, x2: { field: 'toSec' }, tooltip: [{ field: 'label', title: 'fault' }] },
    });
  }
  layers.push({
    data: { values },
    mark: { type: 'line', interpolate: 'step-after' },
    encoding: {
      x: { field: 'tSec', type: 'quantitative', title: 'time (s)' },
      y: { field: 'pct', type: 'quantitative', title: '% of requests', scale: { domainMin: 0 } },
      color: { field: 'series', type: 'nominal', title: null, scale: { domain: ['failed', 'misrouted'], range: ['#d62728', '#1f77b4'] } },
      tooltip: [{ field: 'series' }, { field: 'tSec' }, { field: 'pct', format: '.3~g' }],
    },
  });
  return {
    id: `timeline-${d.name}`,
    title: `${r.proposal.scenario}: ${d.name}`,
    caption: `Failed and misrouted requests per second, seed ${d.runs[0]?.seed ?? '?'}, N=${d.scenarioNodes}. Shaded: ${r.faultWindows.map((w) => `${w.label} (${w.fromSec}–${w.toSec} s)`).join(', ') || 'no fault windows'}.`,
    spec: {
      $schema: SCHEMA,
      width: CHART_WIDTH,
      height: Math.round(CHART_HEIGHT / 2),
      title: { text: `${d.name}: ${r.proposal.scenario}`, anchor: 'start' },
      layer: layers,
    } as TopLevelSpec,
  };
}

function costChart(r: ProposalResult, id: string, field: 'memoryPerNode' | 'threadsPerNode', title: string, yTitle: string, scale: number): Chart | null {
  const values = r.designs.flatMap((d) => (d.ceiling?.points ?? []).filter((p) => p[field] > 0).map((p) => ({ design: d.name, nodes: p.nodes, y: p[field] * scale })));
  if (!values.length) return null;
  const marks = r.designs
    .filter((d) => d.ceiling?.nodes && d.ceiling.bound !== 'at-least')
    .map((d) => ({ design: d.name, nodes: d.ceiling!.nodes!, kind: d.ceiling!.kind === 'projected' ? 'projected ceiling' : 'measured ceiling' }));
  const layers: unknown[] = [
    {
      data: { values },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'nodes', type: 'quantitative', scale: { type: 'log', nice: false }, title: 'fleet size N (log)' },
        y: { field: 'y', type: 'quantitative', scale: { type: 'log' }, title: yTitle },
        color: { field: 'design', type: 'nominal', title: 'design' },
        tooltip: [{ field: 'design' }, { field: 'nodes' }, { field: 'y', format: '.3~g' }],
      },
    },
  ];
  if (marks.length) {
    layers.push({
      data: { values: marks },
      mark: { type: 'rule', strokeWidth: 1.5 },
      encoding: {
        x: { field: 'nodes', type: 'quantitative' },
        color: { field: 'design', type: 'nominal' },
        strokeDash: { field: 'kind', type: 'nominal', title: 'ceiling', scale: { domain: ['measured ceiling', 'projected ceiling'], range: [[1, 0], [5, 4]] } },
        tooltip: [{ field: 'design' }, { field: 'nodes', title: 'ceiling N' }, { field: 'kind' }],
      },
    });
  }
  return {
    id,
    title,
    caption: `Per node, at each fleet size the ceiling search simulated (${r.proposal.ceiling.scenario}); vertical rules mark each design's ceiling (dashed: projected). Designs whose search found no limit have no rule.`,
    spec: {
      $schema: SCHEMA,
      width: CHART_WIDTH,
      height: CHART_HEIGHT,
      title: { text: title, anchor: 'start' },
      layer: layers,
    } as TopLevelSpec,
  };
}

export function buildCharts(r: ProposalResult): { charts: Chart[]; notes: string[] } {
  const charts: Chart[] = [];
  const notes: string[] = [];
  const h = headroomChart(r);
  if (h) charts.push(h);
  else notes.push('Headroom chart: not drawn, no ceiling search finished.');
  for (const d of r.designs) {
    const t = timelineChart(r, d);
    if (t) charts.push(t);
    else notes.push(`Timeline of ${d.name}: not drawn, no scenario run finished.`);
  }
  for (const c of [
    costChart(r, 'cost-memory', 'memoryPerNode', 'Memory per node against N', 'MiB per node (log)', 1 / MIB),
    costChart(r, 'cost-threads', 'threadsPerNode', 'Threads per node against N', 'threads per node (log)', 1),
  ]) {
    if (c) charts.push(c);
  }
  if (!r.designs.some((d) => d.ceiling?.points.length)) notes.push('Cost-against-N charts: not drawn, no ceiling search finished.');
  return { charts, notes };
}
