/**
 * report(inputs, outDir): one self-contained HTML file (charts inlined as SVG, data inlined as
 * JSON; it opens from disk with no network) and a Markdown summary for PRs and CI job summaries.
 * Output is deterministic: the same inputs give byte-identical files (no timestamps).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { formatValue } from '../compare/metrics.ts';
import { isEmpty, loadInputs } from '../compare/inputs.ts';
import { median } from '../compare/stats.ts';
import { buildCharts, type Chart } from './charts.ts';
import { buildReportData, fitText, type ReportData } from './data.ts';
import { renderSvg } from './render.ts';
import type { CeilingResult } from '../ceiling/schema.ts';
import { writeFileAtomic } from '../results/files.ts';

export const HTML_FILE = 'report.html';
export const MARKDOWN_FILE = 'report.md';
/** the Markdown lists only the headline fits; the HTML has them all */
const MARKDOWN_FITS = ['peakMemory/node', 'peakThreads/node', 'messages/node/s'];

export interface ReportOutput {
  html: string;
  markdown: string;
  charts: string[];
  notes: string[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');


interface Table {
  head: string[];
  rows: string[][];
}

function resultsTable(d: ReportData): Table {
  return {
    head: ['scenario', 'protocol', 'runtime', 'N', 'files', 'healthy', 'misroutes', 'threads/node', 'memory/node', 'msgs/node/s', 'staleness p99', 'limits hit'],
    rows: d.points.map((p) => [
      p.scenario,
      p.protocol,
      p.runtime,
      String(p.nodes),
      String(p.samples),
      `${p.healthy}/${p.samples}`,
      formatValue(p.values['misrouteRate'], 'ratio'),
      formatValue(p.values['peakThreads/node'], 'count'),
      formatValue(p.values['peakMemory/node'], 'bytes'),
      formatValue(p.values['messages/node/s'], 'count'),
      formatValue(p.values['shardStaleness.p99'], 'ms'),
      p.limitsHit || 'none',
    ]),
  };
}

function ceilingCell(c: CeilingResult): string {
  switch (c.status) {
    case 'found':
      return String(c.ceiling);
    case 'max-reached':
      return `≥ ${c.ceiling} (max reached)`;
    case 'none-healthy':
      return `< ${c.firstFailing?.nodes ?? '?'}`;
    case 'beyond-machine':
      return `≥ ${c.ceiling ?? '?'} measured; projected ${c.projection?.ceiling ?? 'none below max'}`;
  }
}

function ceilingTable(d: ReportData): Table {
  return {
    head: ['protocol', 'scenario', 'overrides', 'ceiling (largest healthy N)', 'first failing N', 'binding', 'detail', 'runs'],
    rows: d.ceilings.map((c) => [
      c.protocol,
      c.scenario,
      c.sets.join(' ') || '–',
      ceilingCell(c),
      c.firstFailing ? String(c.firstFailing.nodes) : c.projection ? `projected: ${c.projection.blockedAtNodes}+` : '–',
      c.firstFailing ? `${c.firstFailing.binding.kind}: ${c.firstFailing.binding.name}` : c.projection?.binding ? `projected ${c.projection.binding.kind}: ${c.projection.binding.name}` : '–',
      c.firstFailing?.binding.detail ?? c.projection?.reason ?? '–',
      c.runs.map((r) => `${r.nodes}${r.healthy ? '✓' : '✗'}`).join(' '),
    ]),
  };
}

function microTable(d: ReportData): Table {
  const rows: string[][] = [];
  for (const m of d.micro) {
    for (const t of m.data.tasks) rows.push([t.name, formatValue(median(t.samples), 'ns'), String(t.samples.length), m.data.machine.cpuModel]);
  }
  return { head: ['task', 'median time/op', 'rounds', 'machine'], rows };
}

function kinesisSummary(d: ReportData): Table {
  const series = [...new Set(d.timeline.map((s) => s.series))];
  return {
    head: ['protocol', 'peak misrouted (1 s)', 'seconds with any misroute', 'last second with misroutes'],
    rows: series.map((s) => {
      const ss = d.timeline.filter((x) => x.series === s);
      const bad = ss.filter((x) => x.misroutePct > 0);
      return [s, `${Math.max(...ss.map((x) => x.misroutePct)).toFixed(2)}%`, String(bad.length), bad.length ? `${bad[bad.length - 1].tSec}s` : '–'];
    }),
  };
}

function htmlTable(t: Table, cls = ''): string {
  return (
    `<table class="${cls}"><thead><tr>${t.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>` +
    t.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('') +
    '</tbody></table>'
  );
}

function mdTable(t: Table): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return [`| ${t.head.map(cell).join(' | ')} |`, `|${t.head.map(() => '---').join('|')}|`, ...t.rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.charts{display:flex;flex-wrap:wrap;gap:1.5rem}
figure.chart{margin:0;flex:0 1 540px}figure.chart svg{max-width:100%;height:auto}
figcaption{color:#555;font-size:.85rem;max-width:520px}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}
th{background:#f5f5f5}td:nth-child(n+4){font-variant-numeric:tabular-nums}
.note{color:#7a5b00}.projected{color:#8a2be2;font-weight:600}
`;

function buildHtml(d: ReportData, charts: Chart[], svgs: string[], notes: string[]): string {
  const figure = (c: Chart, svg: string) =>
    `<figure class="chart" data-chart="${esc(c.id)}">${svg}<figcaption>${esc(c.caption)}</figcaption></figure>`;
  const section = (title: string, ids: (c: Chart) => boolean) => {
    const parts = charts.map((c, i) => (ids(c) ? figure(c, svgs[i]) : '')).filter(Boolean);
    return parts.length ? `<h2>${esc(title)}</h2><div class="charts">${parts.join('\n')}</div>` : '';
  };
  const fits = d.fits.length
    ? `<h2>Growth exponents</h2><p>Least-squares fits of log y on log N (y ≈ a·N<sup>b</sup>), per scenario and protocol.</p>` +
      htmlTable({ head: ['scenario', 'protocol', 'fit', 'r²', 'points'], rows: d.fits.map((f) => [f.scenario, f.protocol, fitText(f), f.r2.toFixed(3), String(f.points)]) })
    : '';
  const ceil = d.ceilings.length
    ? `<h2>Scaling ceilings</h2>${htmlTable(ceilingTable(d), 'ceilings')}` +
      d.ceilings
        .filter((c) => c.projection)
        .map((c) => `<p class="projected">Projected, not measured — ${esc(c.protocol)} (${esc(c.scenario)}): ${esc(c.projection!.reason)}</p>`)
        .join('')
    : '';
  const data = JSON.stringify({ points: d.points, fits: d.fits, ceilings: d.ceilings.map(({ runs: _r, ...c }) => c) }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>fleetbench report</title><style>${CSS}</style></head>
<body>
<h1>fleetbench report</h1>
<p>${d.points.length} result cell(s) over ${new Set(d.points.map((p) => p.scenario)).size} scenario(s); ${d.ceilings.length} ceiling search(es); ${d.micro.length} micro-benchmark file(s).</p>
${section('Scaling', (c) => !['kinesis-timeline', 'ceilings'].includes(c.id))}
${fits}
${section('kinesis-2020 timeline', (c) => c.id === 'kinesis-timeline')}
${d.timeline.length ? htmlTable(kinesisSummary(d)) : ''}
${section('Ceilings', (c) => c.id === 'ceilings')}
${ceil}
<h2>Results</h2>
${htmlTable(resultsTable(d))}
${d.micro.length ? `<h2>Micro-benchmarks</h2>${htmlTable(microTable(d))}` : ''}
${notes.length ? `<h2>Notes</h2><ul>${notes.map((n) => `<li class="note">${esc(n)}</li>`).join('')}</ul>` : ''}
<script type="application/json" id="fleetbench-data">${data}</script>
</body></html>
`;
}

function buildMarkdown(d: ReportData, charts: Chart[], notes: string[]): string {
  const out: string[] = ['## fleetbench report', ''];
  out.push(`${d.points.length} result cell(s), ${d.ceilings.length} ceiling search(es), ${d.micro.length} micro-benchmark file(s); ${charts.length} chart(s) in ${HTML_FILE}.`, '');
  if (d.ceilings.length) {
    out.push('### Scaling ceilings', '', mdTable(ceilingTable(d)), '');
    for (const c of d.ceilings.filter((x) => x.projection)) out.push(`> **Projected, not measured** — ${c.protocol} (${c.scenario}): ${c.projection!.reason}`, '');
  }
  if (d.fits.length) {
    out.push('### Growth exponents', '', 'Fits over three or more fleet sizes when there are any; every fit is in the HTML report.', '');
    const headline = d.fits.filter((x) => MARKDOWN_FITS.includes(x.metric));
    const wellFounded = headline.filter((x) => x.points >= 3);
    for (const f of wellFounded.length ? wellFounded : headline) out.push(`- ${f.scenario} / ${f.protocol}: ${fitText(f)} (r² ${f.r2.toFixed(3)}, ${f.points} sizes)`);
    out.push('');
  }
  if (d.timeline.length) out.push('### kinesis-2020', '', mdTable(kinesisSummary(d)), '');
  out.push('### Results', '', mdTable(resultsTable(d)), '');
  if (d.micro.length) out.push('### Micro-benchmarks', '', mdTable(microTable(d)), '');
  if (notes.length) out.push('### Notes', '', ...notes.map((n) => `- ${n}`), '');
  return out.join('\n');
}

export async function report(inputs: string | readonly string[], outDir: string): Promise<ReportOutput> {
  const paths = typeof inputs === 'string' ? [inputs] : inputs;
  if (paths.length === 0) throw new UsageError('report: give at least one result directory or file');
  const loaded = loadInputs(paths, 'report');
  if (isEmpty(loaded)) throw new UsageError(`report: no result, ceiling or micro-benchmark files in ${paths.join(', ')}`);
  const out = resolve(outDir);
  try {
    mkdirSync(out, { recursive: true });
  } catch (e) {
    throw new UsageError(`--out: cannot create ${out} (${(e as Error).message})`);
  }
  const d = buildReportData(loaded);
  const { charts, notes } = buildCharts(d);
  const svgs: string[] = [];
  for (const c of charts) svgs.push(await renderSvg(c.spec));
  const html = join(out, HTML_FILE), markdown = join(out, MARKDOWN_FILE);
  writeFileAtomic(html, buildHtml(d, charts, svgs, notes));
  writeFileAtomic(markdown, buildMarkdown(d, charts, notes));
  return { html, markdown, charts: charts.map((c) => c.id), notes };
}
