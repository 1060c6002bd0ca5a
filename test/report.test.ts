import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { scenarioLike, simulate } from './helpers.ts';
import { writeResultAtomic, type Result } from '../src/results/schema.ts';
import { report } from '../src/report/report.ts';
import { UsageError } from '../src/errors.ts';
import { CEILING_SCHEMA, type CeilingResult } from '../src/ceiling/schema.ts';
import { MICRO_SCHEMA } from '../src/compare/micro-schema.ts';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const PROTOCOLS = ['thread-per-peer', 'async-multiplexed'];

let inDir: string;
let outDir: string;
let charts: string[];

/** Small, fast versions of the shipped scenarios: enough to draw every chart. */
const SMALL = {
  steady: scenarioLike('steady', { durationMs: 3000 }),
  crash: scenarioLike('crash', { durationMs: 5000, events: [{ type: 'crash', atMs: 1000, count: 1 }] }),
  join: scenarioLike('join', { durationMs: 5000, events: [{ type: 'add', atMs: 1000, count: 1, overMs: 0 }] }),
  'kinesis-2020': scenarioLike('kinesis-2020', {
    durationMs: 8000,
    limits: { threadsPerNode: 32 },
    reshards: { perSec: 2, fromMs: 0, untilMs: 6000 },
    tailMs: 2000,
    events: [{ type: 'add', atMs: 2000, count: 6, overMs: 1000 }],
  }),
} as const;

function ceilingFile(protocol: string, runs: Result[]): CeilingResult {
  return {
    schema: CEILING_SCHEMA,
    tool: runs[0].tool,
    machine: runs[0].machine,
    protocol,
    scenario: 'steady',
    runtime: 'sim',
    seed: 1,
    durationMs: 3000,
    sets: ['limits.threadsPerNode=20'],
    slos: [],
    maxNodes: 64,
    status: 'found',
    ceiling: 8,
    firstFailing: { nodes: 16, binding: { kind: 'limit', name: 'threads', detail: 'threads: 16 nodes at 0.0 s' } },
    projection: null,
    runs: runs.map((r) => ({ nodes: r.run.nodes, healthy: r.summary.healthy, failures: [], result: r })),
  };
}

beforeAll(async () => {
  inDir = mkdtempSync(join(tmpdir(), 'fleetbench-report-in-'));
  outDir = mkdtempSync(join(tmpdir(), 'fleetbench-report-out-'));
  const runs: Result[] = [];
  for (const protocol of PROTOCOLS) {
    for (const [name, scenario] of Object.entries(SMALL)) {
      for (const nodes of name === 'kinesis-2020' ? [24] : [4, 8]) {
        const r = await simulate({ protocol, scenario, nodes });
        writeResultAtomic(join(inDir, `${name}-${protocol}-n${nodes}.json`), r);
        runs.push(r);
      }
    }
  }
  writeFileSync(join(inDir, 'ceiling-tpp.json'), JSON.stringify(ceilingFile('thread-per-peer', runs.slice(0, 2))));
  writeFileSync(
    join(inDir, 'micro.json'),
    JSON.stringify({
      schema: MICRO_SCHEMA,
      tool: runs[0].tool,
      machine: runs[0].machine,
      rounds: 3,
      timeMsPerRound: 10,
      tasks: [{ name: 'event-queue push+pop', unit: 'ns/op', opsPerIteration: 1, samples: [40, 41, 42], median: 41 }],
    }),
  );
  charts = (await report([inDir], outDir)).charts;
});

describe('report', () => {
  it('draws_every_required_chart', () => {
    for (const id of ['memory-steady', 'threads-steady', 'messages-steady', 'convergence-join', 'detection-crash', 'kinesis-timeline', 'ceilings']) {
      expect(charts).toContain(id);
    }
  });

  it('prints_fitted_growth_exponents_and_the_ceiling_table', () => {
    const md = readFileSync(join(outDir, 'report.md'), 'utf8');
    expect(md).toMatch(/steady \/ async-multiplexed: messages\/node\/s ∝ N\^\d\.\d\d/);
    expect(md).toMatch(/\| thread-per-peer \| steady \| limits\.threadsPerNode=20 \| 8 \| 16 \| limit: threads \|/);
    const html = readFileSync(join(outDir, 'report.html'), 'utf8');
    expect(html).toMatch(/peakThreads\/node ∝ N\^/);
  });

  it('is_self_contained_and_deterministic', async () => {
    const html = readFileSync(join(outDir, 'report.html'), 'utf8');
    // nothing fetched: no scripts or stylesheets by URL, no images by URL
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|<img[^>]+src="http|url\(http/);
    const again = mkdtempSync(join(tmpdir(), 'fleetbench-report-again-'));
    await report([inDir], again);
    expect(readFileSync(join(again, 'report.html'), 'utf8')).toBe(html);
  });

  it('rejects_inputs_without_results', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'fleetbench-report-empty-'));
    await expect(report([empty], outDir)).rejects.toThrow(UsageError);
    writeFileSync(join(empty, 'x.json'), '{"schema":"something/else@1"}');
    await expect(report([empty], outDir)).rejects.toThrow(/x\.json: schema is "something\/else@1"/);
  });
});

describe.skipIf(!HAVE_CHROMIUM)(`report in a browser${HAVE_CHROMIUM ? '' : ` (skipped: ${CHROMIUM} is absent; apt-get install -y chromium)`}`, () => {
  it('opens_from_disk_with_every_chart_drawn_and_no_console_error', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      const fetched: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('request', (r) => {
        if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) fetched.push(r.url());
      });
      await page.goto(pathToFileURL(join(outDir, 'report.html')).href, { waitUntil: 'load' });
      const drawn = await page.$$eval('figure.chart', (figs) =>
        figs.map((f) => ({
          id: f.getAttribute('data-chart'),
          svgs: f.querySelectorAll('svg').length,
          // data marks only (role-mark), not axes or legends; a mark with a NaN path was not drawn
          marks: [...f.querySelectorAll('svg g[class*="role-mark"] path, svg g[class*="role-mark"] line, svg g[class*="role-mark"] rect')].filter(
            (m) => !/NaN|Infinity/.test(m.getAttribute('d') ?? '') && !/NaN/.test(m.getAttribute('transform') ?? ''),
          ).length,
          box: f.querySelector('svg')?.getBoundingClientRect().width ?? 0,
        })),
      );
      expect(drawn.map((d) => d.id)).toEqual(charts);
      for (const d of drawn) {
        expect(d.svgs, `${d.id} has an svg`).toBeGreaterThan(0);
        expect(d.marks, `${d.id} has marks`).toBeGreaterThan(0);
        expect(d.box, `${d.id} is laid out`).toBeGreaterThan(0);
      }
      expect(errors).toEqual([]);
      expect(fetched).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
