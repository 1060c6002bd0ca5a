/**
 * From a proposal to concrete work: for each design, the scenario it runs (with the fleet change
 * applied), the `--set` list, the runs over seeds and the ceiling search, each with the command
 * line that reproduces it. Everything is resolved (and so validated) here, before anything runs.
 */
import { relative } from 'node:path';
import { loadScenario, parseScenario, type Scenario } from '../harness/scenario.ts';
import { resolveRun, type RunConfig, type RunRequest } from '../harness/run-config.ts';
import { loadCostProfile } from '../model/cost-profile.ts';
import { UsageError } from '../errors.ts';
import type { Design, LoadedProposal, Proposal } from './schema.ts';

export interface CeilingPlan {
  scenario: string;
  /** the ceiling scenario's own name, as its ceiling file records it */
  scenarioName: string;
  sets: string[];
  slos: string[];
  seed: number;
  durationMs?: number;
  startNodes: number;
  maxNodes: number;
  maxRunWallMs: number;
}

export interface RunPlan {
  seed: number;
  /** file name under the proposal's runs/ folder */
  file: string;
  /** what simulate() is handed */
  req: RunRequest;
  /** the same, resolved: what the result file must match to be reused */
  cfg: RunConfig;
}

export interface DesignPlan {
  design: Design;
  role: 'baseline' | 'alternative';
  /** today's FE count in this design's shape (today's N × fleet.nodes) */
  todayNodes: number;
  /** the FE count the scenario is simulated at */
  scenarioNodes: number;
  /** the scenario with the design's fleet change applied (event counts scaled) */
  scenario: Scenario;
  /** true when the scenario differs from the named one and must be written out to reproduce */
  scenarioScaled: boolean;
  sets: string[];
  runs: RunPlan[];
  ceiling: CeilingPlan;
}

export interface Settings {
  quick: boolean;
  seeds: number[];
  scenarioNodes: number;
  ceiling: Proposal['ceiling'];
}

export function effectiveSettings(p: Proposal, quick: boolean): Settings {
  const base = p.fleet.scenarioNodes ?? p.fleet.todayNodes;
  if (!quick) return { quick, seeds: p.seeds, scenarioNodes: base, ceiling: p.ceiling };
  return {
    quick,
    seeds: p.quick.seeds ?? p.seeds,
    scenarioNodes: p.quick.scenarioNodes ?? base,
    ceiling: { ...p.ceiling, ...p.quick.ceiling },
  };
}

/** Scales the scenario's node counts (add, remove, crash, pause) by the design's FE factor. */
function scaleScenario(s: Scenario, factor: number): Scenario {
  if (factor === 1) return s;
  const events = s.events.map((e) => ('count' in e && e.count !== undefined && e.type !== 'reshardStorm' ? { ...e, count: Math.max(1, Math.round(e.count * factor)) } : e));
  return parseScenario({ ...s, nodes: Math.max(1, Math.round(s.nodes * factor)), events }, `${s.name} (scaled ×${factor})`);
}

function costSets(path: string | undefined): string[] {
  if (!path) return [];
  return Object.entries(loadCostProfile(path).costs).map(([k, v]) => `costs.${k}=${v}`);
}

/** Runs `f`, prefixing a UsageError with the design's field in the proposal. */
function inDesign<T>(field: string, d: Design, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`proposal: ${field} (${d.name}): ${e.message}`);
    throw e;
  }
}

export function planDesigns(lp: LoadedProposal, settings: Settings): DesignPlan[] {
  const p = lp.proposal;
  const scenario0 = inDesign('scenario', p.baseline, () => loadScenario(p.scenario));
  const ceilingScenario = inDesign('ceiling.scenario', p.baseline, () => loadScenario(settings.ceiling.scenario));
  // the ceiling search runs on the proposal scenario's host: its limits apply there too
  const hostSets = Object.entries(scenario0.limits)
    .filter(([k]) => !(k in ceilingScenario.limits))
    .map(([k, v]) => `limits.${k}=${v}`);
  return lp.designs.map((d, i) => {
    const field = i === 0 ? 'baseline' : `alternatives.${i - 1}`;
    return inDesign(field, d, () => {
      const factor = d.fleet.nodes;
      const scenario = scaleScenario(scenario0, factor);
      const scenarioNodes = Math.max(1, Math.round(settings.scenarioNodes * factor));
      const todayNodes = Math.max(1, Math.round(p.fleet.todayNodes * factor));
      const limitSets = Object.entries(d.limits).map(([k, v]) => `limits.${k}=${v}`);
      let sets = [...d.set, ...limitSets];
      // per-node resources scale from what the host would otherwise have
      const { cores, memory } = d.fleet.perNode;
      if (cores !== 1 || memory !== 1) {
        const base = resolveRun({ protocol: d.protocol, scenario, nodes: scenarioNodes, sets, costsFile: d.costs });
        if (cores !== 1) sets.push(`limits.coresPerNode=${base.limits.coresPerNode * cores}`);
        if (memory !== 1) sets.push(`limits.memoryBytesPerNode=${base.limits.memoryBytesPerNode * memory}`);
      }
      sets = dedupeSets(sets);
      const runs = settings.seeds.map((seed) => {
        const req: RunRequest = { protocol: d.protocol, scenario, nodes: scenarioNodes, seed, sets, costsFile: d.costs };
        return { seed, file: `${d.name}-s${seed}.json`, req, cfg: resolveRun(req) };
      });
      const c = settings.ceiling;
      const ceilingSets = dedupeSets([...hostSets, ...costSets(d.costs), ...sets]);
      // validate the ceiling's inputs now, not after the scenario runs
      resolveRun({ protocol: d.protocol, scenario: ceilingScenario, nodes: c.maxNodes, seed: c.seed, durationMs: c.durationMs, sets: ceilingSets });
      return {
        design: d,
        role: i === 0 ? 'baseline' : 'alternative',
        todayNodes,
        scenarioNodes,
        scenario,
        scenarioScaled: factor !== 1,
        sets,
        runs,
        ceiling: {
          scenario: c.scenario,
          scenarioName: ceilingScenario.name,
          sets: ceilingSets,
          slos: p.slos,
          seed: c.seed,
          durationMs: c.durationMs,
          startNodes: Math.min(c.startNodes ?? Math.max(2, 2 ** Math.floor(Math.log2(Math.max(2, todayNodes / 4)))), c.maxNodes),
          maxNodes: c.maxNodes,
          maxRunWallMs: c.maxRunWallMs,
        },
      } satisfies DesignPlan;
    });
  });
}

/** Later `--set`s win, as on the command line; keep only the last of each key so commands read cleanly. */
function dedupeSets(sets: readonly string[]): string[] {
  const byKey = new Map<string, string>();
  for (const s of sets) {
    const k = s.slice(0, s.indexOf('='));
    byKey.delete(k);
    byKey.set(k, s);
  }
  return [...byKey.values()];
}

const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export function runCommand(dp: DesignPlan, r: RunPlan, scenarioArg: string, out: string): string {
  return [
    'npx fleetbench run',
    `-p ${dp.design.protocol}`,
    `-s ${q(scenarioArg)}`,
    `-n ${dp.scenarioNodes}`,
    `--seed ${r.seed}`,
    ...dp.sets.map((s) => `--set ${q(s)}`),
    ...(dp.design.costs ? [`--costs ${q(dp.design.costs)}`] : []),
    `--out ${q(out)}`,
  ].join(' ');
}

export function ceilingCommand(dp: DesignPlan, out: string): string {
  const c = dp.ceiling;
  return [
    'npx fleetbench ceiling',
    `-p ${dp.design.protocol}`,
    `-s ${q(/[/\\]/.test(c.scenario) ? relative(process.cwd(), c.scenario) : c.scenario)}`,
    ...c.sets.map((s) => `--set ${q(s)}`),
    ...c.slos.map((s) => `--slo ${q(s)}`),
    `--seed ${c.seed}`,
    ...(c.durationMs ? [`--duration ${c.durationMs}ms`] : []),
    `--start-nodes ${c.startNodes}`,
    `--max-nodes ${c.maxNodes}`,
    `--max-run-wall ${c.maxRunWallMs}ms`,
    `--out ${q(out)}`,
  ].join(' ');
}
