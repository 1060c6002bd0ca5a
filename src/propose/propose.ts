/**
 * propose(): runs every design of a proposal on its scenario over its seeds, searches each design's
 * ceiling, and writes the decision document (Markdown, HTML, proposal-result.json).
 *
 * Files are the checkpoints: each finished run is a result file under runs/, each finished ceiling
 * search a ceiling file under ceilings/. A rerun reuses every file whose configuration matches and
 * runs only the rest, so an interrupted proposal resumes where it stopped. An interrupted run is
 * not written (it would be a different run); the document is written over what finished and says
 * it is incomplete.
 */
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import Tinypool from 'tinypool';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ResultSchema, type Result } from '../results/schema.ts';
import { checkWritable, readJson, writeJsonAtomic } from '../results/files.ts';
import { machineInfo, toolInfo } from '../results/meta.ts';
import { failuresOf } from '../ceiling/ceiling.ts';
import { CeilingResultSchema, type CeilingResult } from '../ceiling/schema.ts';
import { parseSlo } from '../ceiling/slo.ts';
import { powerFit } from '../compare/stats.ts';
import type { Scenario } from '../harness/scenario.ts';
import { loadProposal } from './schema.ts';
import { ceilingCommand, effectiveSettings, planDesigns, runCommand, type DesignPlan, type RunPlan, type Settings } from './plan.ts';
import { figureDefs, fmtX, fmtYears, overlaps, spread, type FigureKey, type Spread } from './figures.ts';
import type { Task, TaskOutcome } from './task.ts';
import { PROPOSAL_RESULT_SCHEMA, type CeilingSummary, type DesignOutcome, type ProposalResult } from './result-schema.ts';
import { writeDocuments, type DocumentFiles } from './document.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// beside results/runs, not in it: `fleetbench report results/runs` reads every JSON file there and rejects schemas it does not know
export const PROPOSALS_DIR = resolve(ROOT, 'results/proposals');
const WORKER_URL = new URL('./worker.mjs', import.meta.url);

/** a scenario argument as a reader would type it: names stay, paths become relative to the working directory */
export const displayPath = (s: string) => (/[/\\]/.test(s) ? relative(process.cwd(), s) : s);

const ranNow = (todo: readonly { task: Task }[], path: string) => todo.some((t) => t.task.out === path);

/** The progress line for a finished task, read from the file it wrote. */
function describeFile(t: Task, slos: readonly string[]): string {
  const raw = readJson(t.out);
  if (t.kind === 'run') {
    const failures = failuresOf(raw as Result, slos.map(parseSlo));
    return failures.length ? `UNHEALTHY (${failures.map((x) => x.name).join(', ')})` : 'healthy';
  }
  const c = raw as CeilingResult;
  const n = c.status === 'beyond-machine' ? (c.projection?.ceiling !== null && c.projection?.ceiling !== undefined ? `${c.projection.ceiling} projected` : `≥ ${c.maxNodes} projected`) : c.status === 'max-reached' ? `≥ ${c.ceiling}` : String(c.ceiling ?? `< ${c.firstFailing?.nodes}`);
  const b = c.firstFailing?.binding.name ?? c.projection?.binding?.name;
  return `ceiling ${n} FEs${b ? ` (${b})` : ''}, ${c.runs.length} runs`;
}

export interface ProposeOptions {
  file: string;
  out?: string;
  quick?: boolean;
  /** one line per finished step, for the terminal */
  onProgress?: (line: string) => void;
  shouldStop?: () => boolean;
  /** runs at once (worker threads); default: this machine's available parallelism */
  jobs?: number;
}

export interface ProposeOutput {
  result: ProposalResult;
  outDir: string;
  files: DocumentFiles;
  interrupted: boolean;
  /** how to pick up where an interrupted proposal stopped */
  resume: string;
}

export function defaultOutDir(name: string, quick: boolean): string {
  return resolve(PROPOSALS_DIR, quick ? `${name}-quick` : name);
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** A finished result file for exactly this run, or null (absent, unreadable, stopped early, or another configuration). */
/** The JSON document at `path`, or null when there is none or it cannot be read (a rerun then redoes the step). */
function readIfThere(path: string): unknown {
  if (!existsSync(path)) return null;
  try {
    return readJson(path);
  } catch {
    return null;
  }
}

function reusableRun(path: string, rp: RunPlan): Result | null {
  const raw = readIfThere(path);
  if (raw === null) return null;
  if (!ResultSchema.safeParse(raw).success) return null;
  const r = raw as Result; // the raw object: it may carry figures newer than this schema (figures.ts)
  const c = rp.cfg;
  const ok =
    r.run.completed &&
    r.run.runtime === 'sim' &&
    r.run.protocol === c.protocol.name &&
    r.run.nodes === c.nodes &&
    r.run.seed === c.seed &&
    r.run.scenario === c.scenario.name &&
    r.run.durationMs === c.durationMs &&
    same(r.run.params, c.params) &&
    same(r.run.limits, c.limits) &&
    same(r.run.costs, c.costs) &&
    same(r.run.network, c.network) &&
    same(r.run.fleet, c.fleet);
  return ok ? r : null;
}

function reusableCeiling(path: string, dp: DesignPlan): CeilingResult | null {
  const raw = readIfThere(path);
  if (raw === null) return null;
  const parsed = CeilingResultSchema.safeParse(raw);
  if (!parsed.success) return null;
  const c = parsed.data;
  const p = dp.ceiling;
  const ok =
    c.protocol === dp.runs[0].cfg.protocol.name &&
    c.scenario === p.scenarioName &&
    same(c.sets, p.sets) &&
    same(c.slos, p.slos.map((s) => parseSlo(s).text)) &&
    c.seed === p.seed &&
    (p.durationMs === undefined || c.durationMs === p.durationMs) &&
    c.maxNodes === p.maxNodes;
  return ok ? c : null;
}

/**
 * The windows a timeline shades: when each scenario event acts. Presentation only: what an event
 * does to the fleet is the fleet driver's (src/fleet/driver.ts) to decide.
 */
export function faultWindows(s: Scenario): ProposalResult['faultWindows'] {
  const end = s.durationMs / 1000;
  const out: ProposalResult['faultWindows'] = [];
  const until = (i: number, type: string) => {
    const next = s.events.slice(i + 1).find((e) => e.type === type);
    return next ? next.atMs / 1000 : end;
  };
  s.events.forEach((e, i) => {
    const from = e.atMs / 1000;
    const instant = (label: string) => out.push({ label, fromSec: from, toSec: Math.min(end, from + 1) });
    switch (e.type) {
      case 'add':
        out.push({ label: `add ${e.count}`, fromSec: from, toSec: Math.min(end, from + Math.max(e.overMs / 1000, 1)) });
        break;
      case 'remove':
      case 'crash':
        instant(`${e.type} ${e.count}`);
        break;
      case 'crashCell':
        instant('crash a cell');
        break;
      case 'pause':
        out.push({ label: `pause ${e.count}`, fromSec: from, toSec: Math.min(end, from + e.forMs / 1000) });
        break;
      case 'loss':
        if (e.rate > 0) out.push({ label: `loss ${(e.rate * 100).toFixed(0)}%`, fromSec: from, toSec: until(i, 'loss') });
        break;
      case 'partition':
        out.push({ label: 'partition', fromSec: from, toSec: until(i, 'heal') });
        break;
      case 'reshardStorm':
        out.push({ label: `reshard storm ${e.count}`, fromSec: from, toSec: Math.min(end, from + Math.max(e.overMs / 1000, 1)) });
        break;
      case 'restart':
        instant(`restart ${e.count}`);
        break;
      case 'rollingRestart': {
        // one restart every 3,600 / perHour s, over the FEs running then (at most `count`)
        const fes = e.count ?? s.nodes;
        out.push({ label: 'rolling restart', fromSec: from, toSec: Math.min(end, from + Math.max((fes * 3600) / e.perHour, 1)) });
        break;
      }
      case 'heal':
        break;
    }
  });
  return out;
}

function yearsOfGrowth(headroom: number | null, g: number): number | null {
  if (headroom === null) return null;
  return headroom <= 1 ? 0 : Math.log(headroom) / Math.log(1 + g);
}

function summarizeCeiling(c: CeilingResult, dp: DesignPlan, g: number, file: string, command: string, reused: boolean): CeilingSummary {
  let kind: CeilingSummary['kind'] = 'measured';
  let bound: CeilingSummary['bound'] = 'exact';
  let nodes: number | null = c.ceiling;
  let binding = c.firstFailing?.binding ?? null;
  let detail = binding?.detail ?? '';
  switch (c.status) {
    case 'found':
      break;
    case 'none-healthy':
      nodes = Math.max(0, c.firstFailing!.nodes - 1);
      bound = 'at-most';
      detail = `even N=${c.firstFailing!.nodes} fails: ${detail}`;
      break;
    case 'max-reached':
      kind = 'lower-bound';
      bound = 'at-least';
      detail = `healthy up to the search's maximum N=${c.maxNodes}`;
      break;
    case 'beyond-machine': {
      const pr = c.projection!;
      if (c.firstFailing) {
        // bisection stopped between two measured sizes: the largest healthy one stands, measured
        detail = `between ${c.ceiling ?? 0} (healthy) and ${c.firstFailing.nodes} (fails: ${c.firstFailing.binding.detail}); bisection stopped: ${pr.reason}`;
        bound = 'at-least';
        break;
      }
      kind = 'projected';
      if (pr.ceiling !== null) {
        nodes = Math.max(pr.ceiling, c.ceiling ?? 0);
        binding = pr.binding;
      } else {
        nodes = c.maxNodes;
        bound = 'at-least';
        binding = null;
      }
      detail = pr.reason;
      break;
    }
  }
  const headroom = nodes === null ? null : nodes / dp.todayNodes;
  return {
    file,
    command,
    status: c.status,
    kind,
    nodes,
    bound,
    binding,
    detail,
    firstFailingNodes: c.firstFailing?.nodes ?? null,
    headroom,
    years: bound === 'at-most' ? 0 : yearsOfGrowth(headroom, g),
    points: c.runs.map((r) => ({
      nodes: r.nodes,
      healthy: r.healthy,
      memoryPerNode: r.result.summary.memory.peakBytesPerNode,
      threadsPerNode: r.result.summary.threads.peakPerNode,
      fdsPerNode: r.result.summary.connections.peakPerNode,
      messagesPerNodePerSec: r.result.summary.messages.perNodePerSec,
    })),
    reused,
  };
}

const COST_KEYS: FigureKey[] = ['memoryPerNode', 'threadsPerNode', 'fdsPerNode', 'messagesPerNodePerSec', 'cpuUsPerNodePerSec'];

/** Cost at today's N from a power fit over the ceiling runs, when the scenario ran at another N. */
function projectCost(c: CeilingResult, at: number): { figures: Partial<Record<FigureKey, number | null>>; note: string } | null {
  const healthy = c.runs.filter((r) => r.healthy);
  const pts = healthy.length >= 2 ? healthy : c.runs;
  if (pts.length < 2) return null;
  const get: Record<string, (r: Result) => number> = {
    memoryPerNode: (r) => r.summary.memory.peakBytesPerNode,
    threadsPerNode: (r) => r.summary.threads.peakPerNode,
    fdsPerNode: (r) => r.summary.connections.peakPerNode,
    messagesPerNodePerSec: (r) => r.summary.messages.perNodePerSec,
    cpuUsPerNodePerSec: (r) => r.summary.cpu.protocolUsPerNodePerSec,
  };
  const figures: Partial<Record<FigureKey, number | null>> = {};
  for (const k of COST_KEYS) {
    const ys = pts.map((r) => get[k](r.result));
    // a figure that does not change with N (e.g. no fds at all) has no power law: it stays
    if (ys.every((y) => y === ys[0])) {
      figures[k] = ys[0];
      continue;
    }
    const f = powerFit(pts.map((r, i) => ({ x: r.nodes, y: ys[i] })));
    figures[k] = f ? f.a * at ** f.b : null;
  }
  const ns = pts.map((r) => r.nodes);
  return { figures, note: `projected to N=${at} by power fits over the ceiling runs at N=${Math.min(...ns)}…${Math.max(...ns)} (${c.scenario})` };
}

function analyse(
  dp: DesignPlan,
  settings: Settings,
  runs: { rp: RunPlan; result: Result; reused: boolean; wallMs: number | null; file: string; command: string }[],
  ceilingResult: { c: CeilingResult; summary: CeilingSummary } | null,
  slos: string[],
  firstEventAtMs: number | null,
  scenarioFile: string | null,
): DesignOutcome {
  const parsedSlos = slos.map(parseSlo);
  const defs = figureDefs(firstEventAtMs);
  const figures = Object.fromEntries(defs.map((d) => [d.key, spread(runs.map((r) => d.get(r.result)))])) as Record<FigureKey, Spread>;
  let costAtToday: DesignOutcome['costAtToday'] = runs.length
    ? { kind: 'measured', note: `measured in the scenario runs at N=${dp.scenarioNodes}${firstEventAtMs !== null ? `, before its first event (${firstEventAtMs / 1000} s)` : ''}` }
    : { kind: 'missing', note: 'no scenario run finished' };
  if (dp.scenarioNodes !== dp.todayNodes) {
    const proj = ceilingResult ? projectCost(ceilingResult.c, dp.todayNodes) : null;
    if (proj) {
      for (const k of COST_KEYS) figures[k] = spread([proj.figures[k] ?? null]);
      costAtToday = { kind: 'projected', note: proj.note };
    } else {
      for (const k of COST_KEYS) figures[k] = spread([]);
      costAtToday = { kind: 'missing', note: `the scenario ran at N=${dp.scenarioNodes}, not today's ${dp.todayNodes}, and no ceiling runs to project from` };
    }
  }
  const evid = runs.map((r) => {
    const failures = failuresOf(r.result, parsedSlos);
    return { seed: r.rp.seed, file: r.file, command: r.command, healthy: failures.length === 0, failures, reused: r.reused, wallMs: r.wallMs };
  });
  const first = runs[0]?.result;
  const d = dp.design;
  return {
    name: d.name,
    title: d.title,
    role: dp.role,
    protocol: d.protocol,
    models: d.models,
    leavesOut: d.leavesOut,
    sets: dp.sets,
    costs: d.costs ?? null,
    fleet: { nodes: d.fleet.nodes, cores: d.fleet.perNode.cores, memory: d.fleet.perNode.memory, requestShare: 1 / d.fleet.nodes },
    todayNodes: dp.todayNodes,
    scenarioNodes: dp.scenarioNodes,
    scenarioFile,
    runs: evid,
    survives: evid.length === settings.seeds.length ? evid.every((e) => e.healthy) : evid.some((e) => !e.healthy) ? false : null,
    failureNames: [...new Set(evid.flatMap((e) => e.failures.map((f) => `${f.kind} ${f.name}`)))],
    figures,
    costAtToday,
    ceiling: ceilingResult?.summary ?? null,
    timeline: first
      ? first.timeseries.map((s) => ({
          tSec: s.tMs / 1000,
          failedPct: s.requests > 0 ? (100 * s.failed) / s.requests : 0,
          misroutedPct: s.requests > 0 ? (100 * s.misrouted) / s.requests : 0,
          liveNodes: s.liveNodes,
        }))
      : [],
  };
}

const OUTCOME_KEYS: FigureKey[] = ['failedRate', 'misrouteRate', 'timeToRecoverMs'];

/** Groups of designs the seeds cannot separate: same survival, and every outcome figure's spread overlaps. */
function indistinguishable(designs: DesignOutcome[], seeds: number[]): ProposalResult['verdict']['indistinguishable'] {
  const done = designs.filter((d) => d.survives !== null);
  const parent = done.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  for (let i = 0; i < done.length; i++) {
    for (let j = i + 1; j < done.length; j++) {
      const a = done[i], b = done[j];
      if (a.survives === b.survives && OUTCOME_KEYS.every((k) => overlaps(a.figures[k], b.figures[k]))) parent[find(j)] = find(i);
    }
  }
  const groups = new Map<number, string[]>();
  done.forEach((d, i) => groups.set(find(i), [...(groups.get(find(i)) ?? []), d.name]));
  const out: ProposalResult['verdict']['indistinguishable'] = [];
  const seedText = seeds.length === 1 ? `seed ${seeds[0]} (one seed: no spread measured)` : `seeds ${seeds.join(', ')}`;
  for (const names of groups.values()) {
    if (names.length > 1) out.push({ designs: names, on: `the scenario outcome (failed, misrouted, time to recover overlap over ${seedText})` });
  }
  // ceilings that are only bounds cannot be ranked against each other
  const bounded = designs.filter((d) => d.ceiling?.bound === 'at-least');
  const byBound = new Map<number, string[]>();
  for (const d of bounded) byBound.set(d.ceiling!.headroom!, [...(byBound.get(d.ceiling!.headroom!) ?? []), d.name]);
  for (const [h, names] of byBound) {
    if (names.length > 1) out.push({ designs: names, on: `headroom: each is at least ${fmtX(h)} and the search went no further` });
  }
  return out;
}


function headroomText(d: DesignOutcome, g: number): string {
  const c = d.ceiling;
  if (!c || c.headroom === null) return 'ceiling not searched';
  const op = c.bound === 'at-least' ? '≥ ' : c.bound === 'at-most' ? '≤ ' : '';
  const label = c.kind === 'projected' ? 'projected' : c.kind === 'lower-bound' ? 'lower bound' : 'measured';
  const bind = c.binding
    ? `, binding ${c.binding.kind === 'limit' ? `${c.binding.name} limit` : `${c.binding.kind} ${c.binding.name}`}${c.firstFailingNodes !== null && c.bound === 'at-least' ? ` at ${c.firstFailingNodes}` : ''}`
    : c.bound === 'at-least' ? ', no limit reached' : '';
  const years = c.years === null ? '' : ` → ${op === '≤ ' ? '' : op}${fmtYears(c.years)} of growth at +${Math.round(g * 100)} %/year`;
  return `headroom ${op}${fmtX(c.headroom)} (ceiling ${op}${c.nodes} FEs, ${label}${bind})${years}`;
}

function verdict(designs: DesignOutcome[], pr: ProposalResult['proposal'], complete: boolean): ProposalResult['verdict'] {
  const survivors = designs.filter((d) => d.survives === true).map((d) => d.name);
  const failing = designs.filter((d) => d.survives === false).map((d) => d.name);
  const seedText = pr.seeds.length === 1 ? `seed ${pr.seeds[0]}` : `every seed (${pr.seeds.join(', ')})`;
  const lines: string[] = [];
  if (!complete) lines.push('INCOMPLETE: interrupted; the figures below cover only the runs that finished.');
  lines.push(`Survive ${pr.scenario} on ${seedText}: ${survivors.join(', ') || 'none'}.`);
  if (failing.length) lines.push(`Fail: ${designs.filter((d) => d.survives === false).map((d) => `${d.name} (${d.failureNames.join(', ')})`).join('; ')}.`);
  const pending = designs.filter((d) => d.survives === null).map((d) => d.name);
  if (pending.length) lines.push(`Not run yet: ${pending.join(', ')}.`);
  for (const d of designs) lines.push(`${d.name}: ${d.survives === true ? 'survives' : d.survives === false ? 'fails' : 'not run'}; ${headroomText(d, pr.growthPerYear)}.`);
  const ind = indistinguishable(designs, pr.seeds);
  for (const g of ind) lines.push(`Cannot be told apart: ${g.designs.join(' ≈ ')} on ${g.on}.`);
  return { survivors, failing, lines, indistinguishable: ind };
}

export async function propose(o: ProposeOptions): Promise<ProposeOutput> {
  const lp = loadProposal(o.file);
  const p = lp.proposal;
  const quick = o.quick ?? false;
  const settings = effectiveSettings(p, quick);
  const plans = planDesigns(lp, settings); // validates every design before anything runs
  const outDir = resolve(o.out ?? defaultOutDir(p.name, quick));
  checkWritable(join(outDir, 'proposal-result.json'));
  mkdirSync(join(outDir, 'runs'), { recursive: true });
  mkdirSync(join(outDir, 'ceilings'), { recursive: true });
  const say = o.onProgress ?? (() => {});
  const stop = () => o.shouldStop?.() ?? false;
  const rel = (f: string) => relative(outDir, f) || '.';
  const command = `npx fleetbench propose ${relative(process.cwd(), lp.file) || lp.file}${quick ? ' --quick' : ''}${o.out ? ` --out ${o.out}` : ''}`;

  const total = plans.length * (settings.seeds.length + 1);
  let done = 0;
  let interrupted = false;
  if (stop()) interrupted = true;
  const scenarioFiles = new Map<string, string | null>();
  for (const dp of plans) {
    let f: string | null = null;
    if (dp.scenarioScaled) {
      f = join(outDir, 'scenarios', `${dp.design.name}.json`);
      writeJsonAtomic(f, dp.scenario);
    }
    scenarioFiles.set(dp.design.name, f);
  }

  // what is already on disk is reused; the rest goes to a pool of workers, longest first
  const stopFlag = new Int32Array(new SharedArrayBuffer(4));
  const todo: { label: string; cost: number; task: Task }[] = [];
  const runInfo = new Map<string, { dp: DesignPlan; rp: RunPlan; path: string; command: string }>();
  for (const dp of plans) {
    for (const rp of dp.runs) {
      const path = join(outDir, 'runs', rp.file);
      const scenarioArg = scenarioFiles.get(dp.design.name) ?? p.scenario;
      const command = runCommand(dp, rp, displayPath(scenarioArg), relative(process.cwd(), path));
      runInfo.set(path, { dp, rp, path, command });
      if (reusableRun(path, rp)) say(`[${++done}/${total}] ${dp.design.name} seed ${rp.seed}: reused ${rel(path)}`);
      else {
        // all-to-all work grows with N² (and thread-per-peer's wakeups with it); SWIM's with N
        const n = rp.cfg.nodes;
        const cost = dp.design.protocol === 'swim' ? n : n * n * (rp.cfg.params['inner'] === 'swim' ? 0.1 : 1) * (String(rp.cfg.params['inner'] ?? dp.design.protocol) === 'thread-per-peer' ? 4 : 1);
        todo.push({ label: `${dp.design.name} seed ${rp.seed}`, cost: cost * (rp.cfg.durationMs / 1000), task: { kind: 'run', req: rp.req, out: path, stop: stopFlag } });
      }
    }
  }
  for (const dp of plans) {
    const path = join(outDir, 'ceilings', `${dp.design.name}.json`);
    if (reusableCeiling(path, dp)) {
      say(`[${++done}/${total}] ${dp.design.name} ceiling: reused ${rel(path)}`);
      continue;
    }
    const c = dp.ceiling;
    todo.push({
      label: `${dp.design.name} ceiling`,
      cost: -1, // after every scenario run: the verdict needs those first
      task: {
        kind: 'ceiling',
        out: path,
        stop: stopFlag,
        opts: { protocol: dp.design.protocol, scenario: c.scenario, slos: c.slos, sets: c.sets, seed: c.seed, durationMs: c.durationMs, startNodes: c.startNodes, maxNodes: c.maxNodes, budget: { wallMs: c.maxRunWallMs } },
      },
    });
  }
  todo.sort((a, b) => b.cost - a.cost);
  if (todo.length) {
    const jobs = Math.max(1, Math.min(o.jobs ?? os.availableParallelism(), todo.length));
    const pool = new Tinypool({ filename: WORKER_URL.href, minThreads: jobs, maxThreads: jobs, idleTimeout: 1000 });
    const poll = setInterval(() => {
      if (stop()) Atomics.store(stopFlag, 0, 1);
    }, 100);
    let next = 0;
    const worker = async () => {
      while (next < todo.length && Atomics.load(stopFlag, 0) === 0) {
        const item = todo[next++];
        const outcome = (await pool.run(item.task)) as TaskOutcome;
        if (!outcome.written) continue;
        say(`[${++done}/${total}] ${item.label}: ${describeFile(item.task, p.slos)} — ${(outcome.wallMs / 1000).toFixed(1)} s`);
      }
    };
    try {
      await Promise.all(Array.from({ length: jobs }, worker));
    } finally {
      clearInterval(poll);
      await pool.destroy();
    }
    interrupted = Atomics.load(stopFlag, 0) === 1;
  }

  // everything finished is a file now: read them back
  const finished = new Map<string, Parameters<typeof analyse>[2]>();
  for (const dp of plans) {
    const list: Parameters<typeof analyse>[2] = [];
    for (const rp of dp.runs) {
      const info = runInfo.get(join(outDir, 'runs', rp.file))!;
      const r = reusableRun(info.path, rp);
      if (r) list.push({ rp, result: r, reused: !ranNow(todo, info.path), wallMs: r.sim?.wallMs ?? null, file: rel(info.path), command: info.command });
    }
    finished.set(dp.design.name, list);
  }
  const ceilings = new Map<string, { c: CeilingResult; summary: CeilingSummary }>();
  for (const dp of plans) {
    const path = join(outDir, 'ceilings', `${dp.design.name}.json`);
    const c = reusableCeiling(path, dp);
    if (c) ceilings.set(dp.design.name, { c, summary: summarizeCeiling(c, dp, p.fleet.growthPerYear, rel(path), ceilingCommand(dp, relative(process.cwd(), path)), !ranNow(todo, path)) });
  }

  // 3. the decision
  const scenario0 = plans[0].scenario;
  const firstEvent = scenario0.events.length ? Math.min(...scenario0.events.map((e) => e.atMs)) : null;
  const designs = plans.map((dp) => {
    const sf = scenarioFiles.get(dp.design.name) ?? null;
    return analyse(dp, settings, finished.get(dp.design.name) ?? [], ceilings.get(dp.design.name) ?? null, p.slos, firstEvent, sf ? rel(sf) : null);
  });
  const proposal: ProposalResult['proposal'] = {
    file: lp.file,
    name: p.name,
    question: p.question,
    scenario: scenario0.name,
    scenarioDescription: scenario0.description ?? "",
    todayNodes: p.fleet.todayNodes,
    growthPerYear: p.fleet.growthPerYear,
    scenarioNodes: settings.scenarioNodes,
    slos: p.slos,
    seeds: settings.seeds,
    quick,
    ceiling: { scenario: displayPath(settings.ceiling.scenario), durationMs: settings.ceiling.durationMs ?? null, maxNodes: settings.ceiling.maxNodes, maxRunWallMs: settings.ceiling.maxRunWallMs, seed: settings.ceiling.seed },
  };
  const defs = figureDefs(firstEvent);
  const footnotes: string[] = [];
  for (const def of defs.filter((x) => x.missing)) {
    if (designs.every((d) => d.figures[def.key].median === null)) {
      footnotes.push(`${def.label}: "—" because no result carries \`${def.missing}\` yet (fleetbench issue 10 adds it); the column fills in when the runs are redone with it.`);
    }
  }
  footnotes.push(
    `failed requests: summary.requests.failedRate where a result has it, else failed ÷ total requests; today a request fails only when no FE is alive or the chosen one is paused (issue 10 adds "no usable shard map").`,
    settings.scenarioNodes === p.fleet.todayNodes
      ? `Cost at today's N: peak per-node figures over the scenario's samples up to its first event; CPU is the protocol's CPU over the whole run. All costs are modelled (src/model/defaults.ts and any cost profile named per design), not measured on hosts.`
      : `Cost at today's N (${p.fleet.todayNodes}): projected, because the scenario ran at N=${settings.scenarioNodes}; each figure is a power fit (a·N^b) over the ceiling search's runs, evaluated at today's N (a figure that does not change with N is carried over). All costs are modelled (src/model/defaults.ts and any cost profile named per design), not measured on hosts.`,
    `Headroom = ceiling ÷ today's FE count in the design's own shape (today's ${p.fleet.todayNodes} × its fleet.nodes factor); years of growth = ln(headroom) ÷ ln(1 + ${p.fleet.growthPerYear}). Ceilings are searched on ${displayPath(settings.ceiling.scenario)} with seed ${settings.ceiling.seed}, on the scenario's host limits plus the design's; one seed, so no spread.`,
  );
  if (designs.some((d) => d.ceiling?.kind === 'projected')) {
    footnotes.push('Projected ceilings are not measured: the search stopped where one more run would exceed this machine\'s budget and fitted per-node resource growth (a·N^b) over the smaller runs; SLO and health failures other than resource limits cannot be projected.');
  }
  const result: ProposalResult = {
    schema: PROPOSAL_RESULT_SCHEMA,
    proposal,
    tool: toolInfo(),
    machine: machineInfo(),
    complete: !interrupted,
    command,
    faultWindows: faultWindows(scenario0),
    designs,
    verdict: verdict(designs, proposal, !interrupted),
    footnotes,
  };
  const files = await writeDocuments(result, outDir);
  return { result, outDir, files, interrupted, resume: `${command}   (finished runs and ceilings are reused)` };
}
