/**
 * The decision document, rendered from proposal-result.json: the verdict first, one side-by-side
 * table with spread over seeds, the charts, the designs with what each models and leaves out, and
 * the evidence (every file, seed, version and the command reproducing each figure).
 * Markdown (GitHub-flavoured; charts beside it as SVG files) and one self-contained HTML page
 * (charts inlined; opens from disk, fetches nothing). Deterministic: no timestamps.
 */
import { join } from 'node:path';
import { formatValue, type Unit } from '../compare/metrics.ts';
import { writeFileAtomic, writeJsonAtomic } from '../results/files.ts';
import { renderSvg } from '../report/render.ts';
import { buildCharts, type Chart } from './charts.ts';
import { figureDefs, fmtX, fmtYears, type FigureKey, type Spread } from './figures.ts';
import type { DesignOutcome, ProposalResult } from './result-schema.ts';

export interface DocumentFiles {
  markdown: string;
  html: string;
  json: string;
  charts: string[];
}

export const MARKDOWN_FILE = 'proposal.md';
export const HTML_FILE = 'proposal.html';
export const JSON_FILE = 'proposal-result.json';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const DASH = '—';

interface Table {
  head: string[];
  rows: string[][];
}

/** "median (min–max)" when seeds disagree, the value when they agree, "—" when no result has it. */
function spreadCell(s: Spread, unit: Unit): string {
  if (s.median === null) return DASH;
  const f = (v: number) => (unit === 'ms' ? `${(v / 1000).toPrecision(3)} s` : formatValue(v, unit));
  const n = s.values.filter((v) => v !== null).length;
  if (n <= 1 || f(s.min!) === f(s.max!)) return f(s.median);
  return `${f(s.median)} (${f(s.min!)}–${f(s.max!)})`;
}

function ceilingCell(d: DesignOutcome): string {
  const c = d.ceiling;
  if (!c) return DASH;
  const op = c.bound === 'at-least' ? '≥ ' : c.bound === 'at-most' ? '≤ ' : '';
  const bind = c.binding
    ? `${c.binding.kind === 'limit' ? `${c.binding.name} limit` : `${c.binding.kind}: ${c.binding.name}`}${c.firstFailingNodes !== null && c.bound === 'at-least' ? ` at ${c.firstFailingNodes}` : ''}`
    : 'no limit reached';
  return `${op}${c.nodes ?? '?'} (${bind}; ${c.kind === 'lower-bound' ? 'lower bound' : c.kind})`;
}

function headroomCell(d: DesignOutcome): string {
  const c = d.ceiling;
  if (!c || c.headroom === null) return DASH;
  const op = c.bound === 'at-least' ? '≥ ' : c.bound === 'at-most' ? '≤ ' : '';
  return `${op}${fmtX(c.headroom)}${c.kind === 'projected' ? ' (projected)' : ''}`;
}

function yearsCell(d: DesignOutcome): string {
  const c = d.ceiling;
  if (!c || c.years === null) return DASH;
  return `${c.bound === 'at-least' ? '≥ ' : ''}${fmtYears(c.years)}`;
}

export function sideBySide(r: ProposalResult): Table {
  const defs = new Map(figureDefs(null).map((d) => [d.key, d]));
  const fig = (d: DesignOutcome, k: FigureKey) => spreadCell(d.figures[k], defs.get(k)!.unit);
  const cost = (d: DesignOutcome, k: FigureKey) => fig(d, k) + (d.costAtToday.kind === 'projected' && d.figures[k].median !== null ? ' (projected)' : '');
  return {
    head: [
      'design',
      'survives',
      'failed requests',
      'misrouted',
      'time to recover',
      'ceiling N (binding)',
      'headroom',
      'years of growth',
      'memory/node',
      'threads/node',
      'fds/node',
      'msgs/node/s',
      'CPU/node',
      'alarm lead time',
    ],
    rows: r.designs.map((d) => [
      d.name + (d.role === 'baseline' ? ' (baseline)' : ''),
      d.survives === null ? 'not run' : d.survives ? 'yes' : `no: ${d.failureNames.join(', ')}`,
      fig(d, 'failedRate'),
      fig(d, 'misrouteRate'),
      fig(d, 'timeToRecoverMs'),
      ceilingCell(d),
      headroomCell(d),
      yearsCell(d),
      cost(d, 'memoryPerNode'),
      cost(d, 'threadsPerNode'),
      cost(d, 'fdsPerNode'),
      cost(d, 'messagesPerNodePerSec'),
      cost(d, 'cpuUsPerNodePerSec'),
      fig(d, 'alarmLeadMs'),
    ]),
  };
}

function designsTable(r: ProposalResult): Table {
  return {
    head: ['design', 'protocol', 'FEs today', 'per FE', 'settings', 'models', 'leaves out'],
    rows: r.designs.map((d) => [
      `${d.name}: ${d.title}`,
      d.protocol,
      `${d.todayNodes}${d.fleet.nodes !== 1 ? ` (×${d.fleet.nodes})` : ''}`,
      [d.fleet.cores !== 1 ? `cores ×${d.fleet.cores}` : '', d.fleet.memory !== 1 ? `memory ×${d.fleet.memory}` : '', d.fleet.requestShare !== 1 ? `request share ×${+d.fleet.requestShare.toPrecision(3)}` : '']
        .filter(Boolean)
        .join(', ') || 'as today',
      [...d.sets, ...(d.costs ? [`costs: ${d.costs}`] : [])].join(' ') || '(defaults)',
      d.models,
      d.leavesOut,
    ]),
  };
}

function htmlTable(t: Table, cls: string): string {
  return (
    `<table class="${cls}"><thead><tr>${t.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>` +
    t.rows.map((row) => `<tr>${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n') +
    '</tbody></table>'
  );
}

function mdTable(t: Table): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [`| ${t.head.map(cell).join(' | ')} |`, `|${t.head.map(() => '---').join('|')}|`, ...t.rows.map((row) => `| ${row.map(cell).join(' | ')} |`)].join('\n');
}

function evidenceLines(r: ProposalResult): string[] {
  const out: string[] = [];
  out.push(`Produced by \`${r.command}\` with fleetbench ${r.tool.version} (commit ${r.tool.gitCommit ?? 'unknown'}), Node ${r.machine.node}, on ${r.machine.cpuModel} (${r.machine.cpus} cores, ${(r.machine.memBytes / 2 ** 30).toFixed(0)} GiB), ${r.machine.os}. Simulator runs: deterministic, same seed → same figures.`);
  out.push(`Seeds: ${r.proposal.seeds.join(', ')}${r.proposal.quick ? ' (quick settings)' : ''}; ceiling searches on ${r.proposal.ceiling.scenario}, seed ${r.proposal.ceiling.seed}, up to N=${r.proposal.ceiling.maxNodes}, ${r.proposal.ceiling.maxRunWallMs / 1000} s of wall time per run before projecting.`);
  return out;
}

function evidenceDesign(d: DesignOutcome): { title: string; items: { what: string; file: string; command: string }[] } {
  const items = d.runs.map((x) => ({ what: `scenario, seed ${x.seed}${x.reused ? ' (reused)' : ''}`, file: x.file, command: x.command }));
  if (d.ceiling) items.push({ what: `ceiling search${d.ceiling.reused ? ' (reused)' : ''}`, file: d.ceiling.file, command: d.ceiling.command });
  if (d.scenarioFile) items.push({ what: 'scenario with the fleet change applied', file: d.scenarioFile, command: '(written by propose)' });
  return { title: d.name, items };
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.verdict{background:#f6f8fa;border-left:4px solid #0366d6;padding:.5rem 1rem}
.verdict li{margin:.2rem 0}.incomplete{color:#b00;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:1.5rem}
figure.chart{margin:0;flex:0 1 540px}figure.chart svg{max-width:100%;height:auto}
figcaption{color:#555;font-size:.85rem;max-width:520px}
table{border-collapse:collapse;margin:.5rem 0;font-size:.82rem}th,td{border:1px solid #ddd;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}table.side td{font-variant-numeric:tabular-nums}
code{font-size:.8rem;word-break:break-all}.note{color:#7a5b00}
`;

function buildHtml(r: ProposalResult, charts: Chart[], svgs: string[], notes: string[]): string {
  const fig = (c: Chart, i: number) => `<figure class="chart" data-chart="${esc(c.id)}">${svgs[i]}<figcaption>${esc(c.caption)}</figcaption></figure>`;
  const group = (pred: (c: Chart) => boolean) => charts.map((c, i) => (pred(c) ? fig(c, i) : '')).filter(Boolean).join('\n');
  const data = JSON.stringify({ verdict: r.verdict, designs: r.designs.map(({ timeline: _t, ...d }) => d) }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>fleetbench proposal: ${esc(r.proposal.name)}</title><style>${CSS}</style></head>
<body>
<h1>${esc(r.proposal.question)}</h1>
<p>Proposal <code>${esc(r.proposal.name)}</code>: ${r.designs.length} designs on <b>${esc(r.proposal.scenario)}</b> (${esc(r.proposal.scenarioDescription)}) at N=${r.proposal.scenarioNodes}, seeds ${r.proposal.seeds.join(', ')}${r.proposal.quick ? ' (quick settings)' : ''}; today ${r.proposal.todayNodes} FEs growing ${Math.round(r.proposal.growthPerYear * 100)} %/year.</p>
<section id="verdict" class="verdict"><h2>Verdict</h2><ul>
${r.verdict.lines.map((l) => `<li${l.startsWith('INCOMPLETE') ? ' class="incomplete"' : ''}>${esc(l)}</li>`).join('\n')}
</ul></section>
<h2>Side by side</h2>
${htmlTable(sideBySide(r), 'side')}
<ol class="footnotes">${r.footnotes.map((f) => `<li>${esc(f)}</li>`).join('')}</ol>
<h2>Headroom</h2><div class="charts">${group((c) => c.id === 'headroom')}</div>
<h2>${esc(r.proposal.scenario)}, per design</h2><div class="charts">${group((c) => c.id.startsWith('timeline-'))}</div>
<h2>Per-node cost against N</h2><div class="charts">${group((c) => c.id.startsWith('cost-'))}</div>
<h2>Designs</h2>
${htmlTable(designsTable(r), 'designs')}
<h2>Evidence</h2>
${evidenceLines(r).map((l) => `<p>${esc(l)}</p>`).join('\n')}
${r.designs
  .map((d) => evidenceDesign(d))
  .map((e) => `<h3>${esc(e.title)}</h3><ul>${e.items.map((it) => `<li>${esc(it.what)}: <code>${esc(it.file)}</code><br><code>${esc(it.command)}</code></li>`).join('')}</ul>`)
  .join('\n')}
${notes.length ? `<h2>Notes</h2><ul>${notes.map((n) => `<li class="note">${esc(n)}</li>`).join('')}</ul>` : ''}
<script type="application/json" id="fleetbench-proposal">${data}</script>
</body></html>
`;
}

function buildMarkdown(r: ProposalResult, charts: Chart[], notes: string[]): string {
  const out: string[] = [`## ${r.proposal.question}`, ''];
  out.push(`Proposal \`${r.proposal.name}\`: ${r.designs.length} designs on **${r.proposal.scenario}** at N=${r.proposal.scenarioNodes}, seeds ${r.proposal.seeds.join(', ')}${r.proposal.quick ? ' (quick settings)' : ''}; today ${r.proposal.todayNodes} FEs growing ${Math.round(r.proposal.growthPerYear * 100)} %/year.`, '');
  out.push('### Verdict', '', ...r.verdict.lines.map((l) => `- ${l.startsWith('INCOMPLETE') ? `**${l}**` : l}`), '');
  out.push('### Side by side', '', mdTable(sideBySide(r)), '');
  out.push(...r.footnotes.map((f, i) => `${i + 1}. ${f}`), '');
  out.push('### Charts', '', ...charts.map((c) => `![${c.title}](charts/${c.id}.svg)  \n*${c.caption}*`), '');
  out.push('### Designs', '', mdTable(designsTable(r)), '');
  out.push('### Evidence', '', ...evidenceLines(r).map((l) => `${l}`), '');
  for (const d of r.designs) {
    const e = evidenceDesign(d);
    out.push(`**${e.title}**`, '', ...e.items.map((it) => `- ${it.what}: \`${it.file}\`  \n  \`${it.command}\``), '');
  }
  if (notes.length) out.push('### Notes', '', ...notes.map((n) => `- ${n}`), '');
  return out.join('\n');
}

export async function writeDocuments(r: ProposalResult, outDir: string): Promise<DocumentFiles> {
  const { charts, notes } = buildCharts(r);
  const svgs: string[] = [];
  const chartFiles: string[] = [];
  for (const c of charts) {
    const svg = await renderSvg(c.spec);
    svgs.push(svg);
    const f = join(outDir, 'charts', `${c.id}.svg`);
    writeFileAtomic(f, svg);
    chartFiles.push(f);
  }
  const json = join(outDir, JSON_FILE), markdown = join(outDir, MARKDOWN_FILE), html = join(outDir, HTML_FILE);
  writeJsonAtomic(json, r);
  writeFileAtomic(markdown, buildMarkdown(r, charts, notes));
  writeFileAtomic(html, buildHtml(r, charts, svgs, notes));
  return { markdown, html, json, charts: chartFiles };
}
