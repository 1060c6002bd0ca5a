// fleetbench propose: bad proposal files exit 2 naming the field; a tiny proposal runs end to end,
// resumes from its files, and its HTML opens in headless Chromium with every chart drawn.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.ts';
import { propose, type ProposeOutput } from '../src/propose/propose.ts';
import { PROPOSAL_SCHEMA } from '../src/propose/schema.ts';
import { readProposalResult } from '../src/propose/result-schema.ts';
import { LIMITS } from '../src/model/defaults.ts';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);

const THREAD_LIMIT = 20;
const BASE_THREADS = LIMITS.baseThreadsPerNode.value;

let dir: string;

/** 8 FEs under a 20-thread limit (7 peers + 11 base = 18 fit); adding 4 pushes every FE past it. */
const TINY_SCENARIO = {
  name: 'tiny-outage',
  description: 'eight FEs just under a 20-thread limit get four more',
  nodes: 8,
  // joins are learned within the membership lag plus a poll period (≤ 7 s): the tail is after that
  durationMs: 12000,
  limits: { threadsPerNode: THREAD_LIMIT },
  reshards: { perSec: 2, untilMs: 8000 },
  tailMs: 2000,
  events: [{ type: 'add', atMs: 1000, count: 4, overMs: 500 }],
};

function tinyProposal(): Record<string, unknown> {
  return {
    schema: PROPOSAL_SCHEMA,
    name: 'tiny',
    question: 'Which design survives adding four FEs?',
    scenario: './tiny-outage.json',
    fleet: { todayNodes: 8, growthPerYear: 0.5 },
    slos: ['misrouteRate<=0.5'],
    seeds: [1, 2],
    ceiling: { scenario: 'steady', durationMs: 2000, startNodes: 4, maxNodes: 32, maxRunWallMs: 120000, seed: 1 },
    baseline: { name: 'tpp', title: 'thread per peer', protocol: 'thread-per-peer', models: 'threads per peer', leavesOut: 'construction failure' },
    alternatives: [
      {
        name: 'bigger',
        title: 'half as many FEs, twice the cores and memory',
        protocol: 'thread-per-peer',
        fleet: { nodes: 0.5, perNode: { cores: 2, memory: 2, requestShare: 2 } },
        models: 'fewer FEs, fewer threads each',
        leavesOut: 'request CPU per FE',
      },
      { name: 'async', title: 'one event loop', protocol: 'async-multiplexed', models: 'no thread per peer', leavesOut: 'rewrite cost' },
    ],
  };
}

function writeProposal(name: string, data: unknown): string {
  const f = join(dir, name);
  writeFileSync(f, typeof data === 'string' ? data : JSON.stringify(data));
  return f;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleetbench-propose-'));
  writeFileSync(join(dir, 'tiny-outage.json'), JSON.stringify(TINY_SCENARIO));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fleetbench propose: bad proposal files', () => {
  const patch = (f: (p: Record<string, any>) => void) => {
    const p = tinyProposal() as Record<string, any>;
    f(p);
    return p;
  };
  const cases: Array<[string, unknown, RegExp]> = [
    ['not JSON', '{ nope', /not valid JSON/],
    ['wrong schema', patch((p) => (p.schema = 'fleetbench/proposal@2')), /schema: Invalid input: expected "fleetbench\/proposal@1"/],
    ['no question', patch((p) => delete p.question), /question: /],
    ['negative growth', patch((p) => (p.fleet.growthPerYear = -0.1)), /fleet\.growthPerYear: Too small/],
    ['zero FEs today', patch((p) => (p.fleet.todayNodes = 0)), /fleet\.todayNodes: Too small/],
    ['no seeds', patch((p) => (p.seeds = [])), /seeds: Too small/],
    ['repeated seed', patch((p) => (p.seeds = [1, 1])), /seeds: each seed at most once/],
    ['no alternatives', patch((p) => (p.alternatives = [])), /alternatives: Too small/],
    ['alternative without its note', patch((p) => delete p.alternatives[0].leavesOut), /alternatives\.0\.leavesOut: /],
    ['unknown design field', patch((p) => (p.alternatives[1].colour = 'red')), /alternatives\.1: Unrecognized key: "colour"/],
    ['duplicate design name', patch((p) => (p.alternatives[1].name = 'tpp')), /alternatives\.1\.name: "tpp" is used by two designs/],
    ['bad set', patch((p) => (p.alternatives[1].set = ['fanout'])), /alternatives\.1\.set\.0: key=value/],
    ['request share against the fleet change', patch((p) => (p.alternatives[0].fleet.perNode.requestShare = 3)), /alternatives\.0\.fleet\.perNode\.requestShare: traffic is fleet-wide .* = 2; got 3/],
    ['unknown protocol', patch((p) => (p.alternatives[1].protocol = 'paxos')), /alternatives\.1 \(async\): --protocol: unknown protocol "paxos"/],
    ['unknown parameter', patch((p) => (p.alternatives[1].set = ['fanout=3'])), /alternatives\.1 \(async\): --set fanout: async-multiplexed has no parameter "fanout"/],
    ['unknown scenario', patch((p) => (p.scenario = 'no-such-scenario')), /scenario \(tpp\): --scenario: unknown scenario "no-such-scenario"/],
    ['bad SLO', patch((p) => (p.slos = ['goodness>=1'])), /slos\.0: "goodness" is not a numeric figure/],
  ];
  it.each(cases)('%s: exit 2, one line naming the field', async (_name, data, message) => {
    const f = writeProposal('bad.json', data);
    let stderr = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
    try {
      expect(await main(['propose', '-q', f, '--out', join(dir, 'bad-out')])).toBe(2);
    } finally {
      spy.mockRestore();
      process.exitCode = undefined;
    }
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(dir, 'bad-out', 'proposal-result.json'))).toBe(false);
  });
});

describe('fleetbench propose: a tiny proposal end to end', () => {
  let out: string;
  let first: ProposeOutput;
  const lines: string[] = [];
  beforeAll(async () => {
    out = join(dir, 'tiny-out');
    first = await propose({ file: writeProposal('tiny.json', tinyProposal()), out, jobs: 2, onProgress: (l) => lines.push(l) });
  });

  it('writes_markdown_html_and_a_valid_proposal_result', () => {
    for (const f of [first.files.markdown, first.files.html, first.files.json]) expect(existsSync(f), f).toBe(true);
    const r = readProposalResult(first.files.json);
    expect(r.complete).toBe(true);
    expect(r.designs.map((d) => d.name)).toEqual(['tpp', 'bigger', 'async']);
    for (const d of r.designs) {
      expect(d.runs.map((x) => x.seed)).toEqual([1, 2]);
      for (const x of d.runs) expect(existsSync(join(out, x.file)), x.file).toBe(true);
      expect(d.ceiling && existsSync(join(out, d.ceiling.file))).toBe(true);
    }
    // 3 designs × (2 seeds + 1 ceiling search)
    expect(lines.filter((l) => /^\[\d+\/9\]/.test(l))).toHaveLength(9);
  });

  it('verdict_says_the_baseline_fails_on_threads_and_the_alternatives_survive', () => {
    const r = first.result;
    expect(r.verdict.failing).toEqual(['tpp']);
    expect(r.verdict.survivors).toEqual(['bigger', 'async']);
    expect(r.designs[0].failureNames).toContain('limit threads');
    expect(r.verdict.lines[0]).toMatch(/^Survive tiny-outage on every seed \(1, 2\): bigger, async\.$/);
  });

  it('ceiling_of_thread_per_peer_is_where_peers_plus_base_threads_meet_the_limit', () => {
    // N − 1 peer threads + base threads ≤ limit  ⇒  N ≤ limit − base + 1
    const want = THREAD_LIMIT - BASE_THREADS + 1;
    for (const name of ['tpp', 'bigger']) {
      const c = first.result.designs.find((d) => d.name === name)!.ceiling!;
      expect(c.kind).toBe('measured');
      expect(c.nodes).toBe(want);
      expect(c.binding?.name).toBe('threads');
    }
    const tpp = first.result.designs[0];
    expect(tpp.ceiling!.headroom).toBeCloseTo(want / 8, 9);
    expect(tpp.ceiling!.years).toBeCloseTo(Math.log(want / 8) / Math.log(1.5), 9);
    // bigger servers: today's FEs in its own shape are 8 × 0.5
    expect(first.result.designs[1].todayNodes).toBe(4);
    expect(first.result.designs[1].ceiling!.headroom).toBeCloseTo(want / 4, 9);
  });

  it('bigger_servers_run_half_the_fleet_with_the_addition_halved_and_twice_the_cores', () => {
    const d = first.result.designs[1];
    expect(d.scenarioNodes).toBe(4);
    const scenario = JSON.parse(readFileSync(join(out, d.scenarioFile!), 'utf8'));
    expect(scenario.events[0].count).toBe(2);
    expect(d.sets).toContain(`limits.coresPerNode=${LIMITS.coresPerNode.value * 2}`);
  });

  it('shows_a_dash_and_a_footnote_for_figures_results_do_not_carry_yet', () => {
    const md = readFileSync(first.files.markdown, 'utf8');
    expect(md).toMatch(/\| time to recover \|/);
    expect(md).toMatch(/time to recover: "—" because no result carries `summary\.recovery\.timeToRecoverMs`/);
    // results carry alarms now: the baseline's thread alarm leads its first failed request
    expect(md).not.toMatch(/alarm lead time: "—" because no result carries/);
    expect(md).toMatch(/\| tpp \(baseline\) \|.*\| \d+(\.\d+)? s \(/);
    expect(md).toMatch(/npx fleetbench run -p thread-per-peer .*--seed 2 /);
    expect(md).toMatch(/npx fleetbench ceiling -p async-multiplexed -s steady /);
  });

  it('a_rerun_reuses_every_finished_file_and_decides_the_same', async () => {
    const again: string[] = [];
    const second = await propose({ file: join(dir, 'tiny.json'), out, jobs: 2, onProgress: (l) => again.push(l) });
    expect(again.filter((l) => /reused/.test(l))).toHaveLength(9);
    expect(second.result.verdict).toEqual(first.result.verdict);
  });

  it('an_interrupted_proposal_writes_what_finished_and_says_it_is_incomplete', async () => {
    const o = await propose({ file: join(dir, 'tiny.json'), out: join(dir, 'stopped'), shouldStop: () => true });
    expect(o.interrupted).toBe(true);
    expect(o.result.complete).toBe(false);
    expect(o.result.verdict.lines[0]).toMatch(/^INCOMPLETE/);
    expect(o.resume).toMatch(/fleetbench propose .*tiny\.json --out/);
  });

  describe.skipIf(!HAVE_CHROMIUM)(`in a browser${HAVE_CHROMIUM ? '' : ` (skipped: ${CHROMIUM} is absent)`}`, () => {
    it('opens_from_disk_with_the_verdict_the_table_and_every_chart_drawn', async () => {
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
        await page.goto(pathToFileURL(first.files.html).href, { waitUntil: 'load' });
        expect(await page.textContent('#verdict')).toMatch(/Survive tiny-outage on every seed/);
        expect(await page.$$eval('table.side tbody tr', (rows) => rows.length)).toBe(3);
        const drawn = await page.$$eval('figure.chart', (figs) =>
          figs.map((f) => ({
            id: f.getAttribute('data-chart'),
            marks: [...f.querySelectorAll('svg g[class*="role-mark"] path, svg g[class*="role-mark"] line, svg g[class*="role-mark"] rect')].filter(
              (m) => !/NaN|Infinity/.test(m.getAttribute('d') ?? '') && !/NaN/.test(m.getAttribute('transform') ?? ''),
            ).length,
            width: f.querySelector('svg')?.getBoundingClientRect().width ?? 0,
          })),
        );
        expect(drawn.map((d) => d.id)).toEqual(['headroom', 'timeline-tpp', 'timeline-bigger', 'timeline-async', 'cost-memory', 'cost-threads']);
        for (const d of drawn) {
          expect(d.marks, `${d.id} has marks`).toBeGreaterThan(0);
          expect(d.width, `${d.id} is laid out`).toBeGreaterThan(0);
        }
        expect(errors).toEqual([]);
        expect(fetched).toEqual([]);
      } finally {
        await browser.close();
      }
    });
  });
});
