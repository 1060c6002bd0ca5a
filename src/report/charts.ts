/**
 * The report's charts as Vega-Lite specs, built from ReportData. Each chart is a named spec; the
 * HTML inlines their SVG renderings. Data is always inline (`data.values`).
 */
import type { TopLevelSpec } from 'vega-lite';
import { CHART_HEIGHT, CHART_WIDTH } from './render.ts';
import { fitText, type ReportData } from './data.ts';

export interface Chart {
  id: string;
  title: string;
  caption: string;
  spec: TopLevelSpec;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

interface ScalingDef {
  id: string;
  metrics: { name: string; label: string }[];
  title: string;
  yTitle: string;
  scale: number;
  logY: boolean;
  caption: string;
}

const MIB = 1024 * 1024;

const SCALING: ScalingDef[] = [
  {
    id: 'memory',
    metrics: [{ name: 'peakMemory/node', label: 'peak' }],
    title: 'Peak memory per node',
    yTitle: 'MiB per node',
    scale: 1 / MIB,
    logY: true,
    caption: 'Modelled per-node memory (process base + threads + connections + member records + shard map).',
  },
  {
    id: 'threads',
    metrics: [{ name: 'peakThreads/node', label: 'peak' }],
    title: 'Threads per node',
    yTitle: 'threads per node',
    scale: 1,
    logY: true,
    caption: 'Peak OS threads per node, including the base threads of the process.',
  },
  {
    id: 'messages',
    metrics: [{ name: 'messages/node/s', label: 'messages' }],
    title: 'Protocol messages per node per second',
    yTitle: 'messages / node / s',
    scale: 1,
    logY: true,
    caption: 'Messages sent by the protocol, per live node-second.',
  },
  {
    id: 'convergence',
    metrics: [
      { name: 'joinConvergence.p99', label: 'join p99' },
      { name: 'shardStaleness.p99', label: 'shard-map staleness p99' },
    ],
    title: 'Convergence',
    yTitle: 'seconds',
    scale: 1 / 1000,
    logY: false,
    caption: 'Join: time until every node knows a new member. Staleness: time until every live node has a reshard (never-converged reshards count up to the end of the run).',
  },
  {
    id: 'detection',
    metrics: [
      { name: 'detection.first.p99', label: 'first node p99' },
      { name: 'detection.all.p99', label: 'all nodes p99' },
    ],
    title: 'Failure detection',
    yTitle: 'seconds',
    scale: 1 / 1000,
    logY: false,
    caption: 'Time from a crash until the first node, and until every node, removed the member.',
  },
];

const FIT_METRIC_OF: Record<string, string> = { memory: 'peakMemory/node', threads: 'peakThreads/node', messages: 'messages/node/s' };

export function buildCharts(d: ReportData): { charts: Chart[]; notes: string[] } {
  const charts: Chart[] = [];
  const notes: string[] = [];
  for (const scenario of d.scalingScenarios) {
    const pts = d.points.filter((p) => p.scenario === scenario);
    for (const def of SCALING) {
      const values: { protocol: string; series: string; nodes: number; y: number }[] = [];
      for (const p of pts) {
        for (const m of def.metrics) {
          const v = p.values[m.name];
          if (v === null || v === undefined || (def.logY && v <= 0)) continue;
          values.push({ protocol: p.protocol + (p.runtime === 'live' ? ' (live)' : ''), series: m.label, nodes: p.nodes, y: v * def.scale });
        }
      }
      const title = `${def.title} vs N — ${scenario}`;
      if (values.length === 0) {
        notes.push(`${title}: not drawn, no run of ${scenario} measured it (e.g. detection needs a crash, join convergence an addition).`);
        continue;
      }
      const fitMetric = FIT_METRIC_OF[def.id];
      const subtitle = fitMetric
        ? d.fits.filter((f) => f.scenario === scenario && f.metric === fitMetric).map((f) => `${f.protocol}: ${fitText(f)}`)
        : [];
      const multi = def.metrics.length > 1;
      charts.push({
        id: `${def.id}-${scenario}`,
        title,
        caption: def.caption + (def.logY ? ' Log–log axes; exponents are least-squares fits of log y on log N.' : ' Log N axis.'),
        spec: {
          $schema: SCHEMA,
          width: CHART_WIDTH,
          height: CHART_HEIGHT,
          title: { text: title, subtitle: subtitle.length ? subtitle : undefined, anchor: 'start' },
          data: { values },
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'nodes', type: 'quantitative', scale: { type: 'log', nice: false }, title: 'fleet size N' },
            y: { field: 'y', type: 'quantitative', scale: def.logY ? { type: 'log' } : { zero: true }, title: def.yTitle },
            color: { field: 'protocol', type: 'nominal', title: 'protocol' },
            ...(multi ? { strokeDash: { field: 'series', type: 'nominal', title: 'measure' }, detail: { field: 'series' } } : {}),
            tooltip: [{ field: 'protocol' }, { field: 'nodes' }, { field: 'y', format: '.3~g' }],
          },
        } as TopLevelSpec,
      });
    }
  }
  if (d.scalingScenarios.length === 0) notes.push('Scaling charts: not drawn, no scenario was run at two or more fleet sizes (run a sweep).');

  if (d.timeline.length) {
    charts.push({
      id: 'kinesis-timeline',
      title: 'kinesis-2020: misrouted requests over time',
      caption: 'Share of routed requests misrouted in each one-second sample; the capacity addition starts at 15 s.',
      spec: {
        $schema: SCHEMA,
        width: CHART_WIDTH,
        height: CHART_HEIGHT,
        title: { text: 'kinesis-2020: misrouted requests per second', anchor: 'start' },
        data: { values: d.timeline },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: {
          x: { field: 'tSec', type: 'quantitative', title: 'time (s)' },
          y: { field: 'misroutePct', type: 'quantitative', title: 'misrouted (%)' },
          color: { field: 'series', type: 'nominal', title: 'protocol' },
          tooltip: [{ field: 'series' }, { field: 'tSec' }, { field: 'misroutePct', format: '.3~g' }, { field: 'liveNodes' }],
        },
      } as TopLevelSpec,
    });
  } else {
    notes.push('kinesis-2020 timeline: not drawn, no kinesis-2020 result among the inputs.');
  }

  const ceilingBars = d.ceilings.flatMap((c) => {
    const label = `${c.protocol} (${c.scenario}${c.sets.length ? `, ${c.sets.join(' ')}` : ''})`;
    const binding = c.firstFailing?.binding.name ?? c.projection?.binding?.name ?? 'none found';
    if (c.status === 'beyond-machine' && c.projection?.ceiling) return [{ label, nodes: c.projection.ceiling, kind: 'projected', binding }];
    if (c.ceiling === null) return [];
    return [{ label, nodes: c.ceiling, kind: c.status === 'found' ? 'measured' : 'at least (max reached)', binding }];
  });
  if (ceilingBars.length) {
    charts.push({
      id: 'ceilings',
      title: 'Scaling ceilings',
      caption: 'Largest healthy fleet size per protocol; colour is the binding limit or SLO at the first failing size.',
      spec: {
        $schema: SCHEMA,
        width: CHART_WIDTH,
        height: Math.max(60, 28 * ceilingBars.length),
        // labels carry the --set overrides and can be long
        config: { axisY: { labelLimit: 360 } },
        title: { text: 'Ceiling: largest healthy N', anchor: 'start' },
        data: { values: ceilingBars },
        mark: { type: 'bar' },
        encoding: {
          y: { field: 'label', type: 'nominal', title: null, sort: '-x' },
          // log bars need a start other than 0: they grow from N = 1
          x: { field: 'nodes', type: 'quantitative', scale: { type: 'log' }, title: 'nodes' },
          x2: { datum: 1 },
          color: { field: 'binding', type: 'nominal', title: 'binding' },
          opacity: { field: 'kind', type: 'ordinal', title: 'ceiling', scale: { domain: ['measured', 'at least (max reached)', 'projected'], range: [1, 0.7, 0.4] } },
          tooltip: [{ field: 'label' }, { field: 'nodes' }, { field: 'binding' }, { field: 'kind' }],
        },
      } as TopLevelSpec,
    });
  }
  return { charts, notes };
}
