/**
 * `fleetbench validate swim --against serf`: the simulator's swim at memberlist's LAN defaults
 * (Lifeguard on) and real Serf agents at the same N, on the same scenarios, side by side.
 *
 * - Model: `runModel` per (scenario, N, seed); the simulator's Measures give the figures.
 * - Real: `runSerfCluster` per (scenario, N, trial): N agents on loopback, converged, then the
 *   scenario's fault (its crash count, or one added node); the same Measures class is fed from
 *   each survivor's reports. `real` is memberlist's decision (the agent log); `realStream` is
 *   what an application receives (member events, held 1–3 s by the agent's coalescer).
 * - Each trial yields percentiles (nearest rank, Measures' `percentiles`); across trials a p50
 *   row is the median of the trials' p50s and a p99 row the largest trial p99 — the same for
 *   both sides. Counts and rates are means per trial.
 * - ratio = model / real; within tolerance when |model − real| ≤ tolerance × real (both 0 counts
 *   as within). Traffic is memberlist's own counters (UDP packets + TCP stream sends, and their
 *   bytes) over the real run's window from convergence + settle to the end; the model's over
 *   its whole run (its initial fleet boots already knowing every member, so no join storm).
 */
import { performance } from 'node:perf_hooks';
import { loadScenario } from '../harness/scenario.ts';
import { percentiles, type Percentiles } from '../harness/measures.ts';
import { machineInfo, toolInfo } from '../results/meta.ts';
import { runCluster, type ClusterFault } from '../blackbox/cluster.ts';
import { serfAdapter } from '../blackbox/serf/adapter.ts';
import { Reaper } from '../blackbox/reaper.ts';
import { runModel } from './model.ts';
import { VALIDATE_SCHEMA, type ModelTrial, type RealTrial, type ValidateDoc, type ValidateRow } from './schema.ts';

/** Allowed |model − real| / real per measure, and why that much. */
export const TOLERANCE: Record<string, { tolerance: number; why: string }> = {
  'detection.first.p50': { tolerance: 0.15, why: 'issue 13: the model must match real detection within 15 %' },
  'detection.all.p50': { tolerance: 0.15, why: 'issue 13: the model must match real detection within 15 %' },
  'detection.first.p99': { tolerance: 0.25, why: 'a tail of 3 crashes × 3 trials: one sample moves it' },
  'detection.all.p99': { tolerance: 0.25, why: 'a tail of 3 crashes × 3 trials: one sample moves it' },
  'join.p50': { tolerance: 0.25, why: 'one join per trial' },
  'join.p99': { tolerance: 0.25, why: 'one join per trial' },
  falsePositives: { tolerance: 0, why: 'on a loss-free loopback both should have none' },
  messagesPerNodePerSec: { tolerance: 0.25, why: 'the model counts its own datagrams; memberlist its UDP packets and TCP sends' },
  bytesPerNodePerSec: { tolerance: 0.25, why: 'encodings differ (fleetbench binary codec vs memberlist msgpack + headers)' },
};

export interface ValidateOptions {
  protocol: string;
  against: string;
  nodes: number[];
  scenarios: string[];
  realTrials: number;
  modelTrials: number;
  seed: number;
  /** protocol parameter overrides for the model (default lifeguard=true: memberlist always has it) */
  sets: string[];
  modelDurationMs: number;
  settleMs: number;
  /** real runs: at most this long for the N agents to converge before the fault */
  convergeTimeoutMs?: number;
  /** reuse the real trials of an earlier validate file (same N and scenarios) instead of running agents */
  realFrom?: { path: string; trials: RealTrial[] };
  onProgress?: (line: string) => void;
}

/**
 * lifeguard: memberlist always has it. pushPullStart=agent-start: real agents are started for each
 * trial, so their push-pull timers run from agent start (memberlist pushPullTrigger), not at the
 * steady phase the model gives a long-running fleet.
 */
export const DEFAULT_SETS = ['lifeguard=true', 'pushPullStart=agent-start'];

/** The scenario's one fault — a crash of some members, or one added — and when it happens (ms). */
export function faultOf(scenario: string): ClusterFault & { kind: 'crash' | 'join'; atMs: number } {
  const s = loadScenario(scenario);
  const crash = s.events.find((e) => e.type === 'crash') as { count?: number; atMs: number } | undefined;
  const add = s.events.find((e) => e.type === 'add');
  if (crash && !add && s.events.length === 1) return { kind: 'crash', count: crash.count ?? 1, atMs: crash.atMs };
  if (add && !crash && s.events.length === 1) return { kind: 'join', atMs: add.atMs };
  throw new Error(`validate: scenario ${scenario} must have exactly one crash or one add event`);
}

const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const maxOf = (xs: number[]): number | null => (xs.length ? Math.max(...xs) : null);
const mean = (xs: number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
const pick = (ps: (Percentiles | null)[], k: 'p50' | 'p99') => ps.filter((p): p is Percentiles => p !== null).map((p) => p[k]);

export function row(measure: string, n: number, model: number | null, real: number | null, unit: string, realStream: number | null = null): ValidateRow {
  const { tolerance } = TOLERANCE[measure];
  const ratio = model !== null && real !== null && real !== 0 ? model / real : null;
  const withinTolerance = model !== null && real !== null && (real === 0 ? model === 0 : Math.abs(model - real) <= tolerance * Math.abs(real));
  return { measure, n, model, real, ratio, withinTolerance, tolerance, unit, realStream };
}

export function buildRows(nodes: number[], model: ModelTrial[], real: RealTrial[]): ValidateRow[] {
  const rows: ValidateRow[] = [];
  for (const n of nodes) {
    const m = model.filter((t) => t.n === n);
    const r = real.filter((t) => t.n === n);
    const mCrash = m.filter((t) => t.fault === 'crash');
    const rCrash = r.filter((t) => t.fault === 'crash');
    if (mCrash.length || rCrash.length) {
      for (const which of ['First', 'All'] as const) {
        const mp = mCrash.map((t) => t[`detection${which}Ms`]);
        const rp = rCrash.map((t) => percentiles(t.log[`detection${which}Ms`]));
        const sp = rCrash.map((t) => percentiles(t.stream[`detection${which}Ms`]));
        const key = `detection.${which.toLowerCase()}`;
        rows.push(row(`${key}.p50`, n, median(pick(mp, 'p50')), median(pick(rp, 'p50')), 'ms', median(pick(sp, 'p50'))));
        rows.push(row(`${key}.p99`, n, maxOf(pick(mp, 'p99')), maxOf(pick(rp, 'p99')), 'ms', maxOf(pick(sp, 'p99'))));
      }
    }
    const mJoin = m.filter((t) => t.fault === 'join');
    const rJoin = r.filter((t) => t.fault === 'join');
    if (mJoin.length || rJoin.length) {
      const mp = mJoin.map((t) => t.joinMs);
      const rp = rJoin.map((t) => percentiles(t.log.joinMs));
      const sp = rJoin.map((t) => percentiles(t.stream.joinMs));
      rows.push(row('join.p50', n, median(pick(mp, 'p50')), median(pick(rp, 'p50')), 'ms', median(pick(sp, 'p50'))));
      rows.push(row('join.p99', n, maxOf(pick(mp, 'p99')), maxOf(pick(rp, 'p99')), 'ms', maxOf(pick(sp, 'p99'))));
    }
    rows.push(row('falsePositives', n, mean(m.map((t) => t.falsePositives)), mean(r.map((t) => t.log.falsePositives)), 'per trial', mean(r.map((t) => t.stream.falsePositives))));
    rows.push(row('messagesPerNodePerSec', n, mean(m.map((t) => t.messagesPerNodePerSec)), mean(r.map((t) => t.messagesPerNodePerSec)), 'msg/s'));
    rows.push(row('bytesPerNodePerSec', n, mean(m.map((t) => t.bytesPerNodePerSec)), mean(r.map((t) => t.bytesPerNodePerSec)), 'B/s'));
  }
  return rows;
}

export async function validate(opts: ValidateOptions): Promise<ValidateDoc> {
  const progress = opts.onProgress ?? (() => {});
  const t0 = performance.now();
  const faults = new Map(opts.scenarios.map((s) => [s, faultOf(s)]));
  const model: ModelTrial[] = [];
  const real: RealTrial[] = [];
  const failedTrials: { scenario: string; n: number; seed: number; error: string }[] = [];
  if (opts.realFrom) {
    for (const n of opts.nodes) {
      for (const scenario of opts.scenarios) {
        const found = opts.realFrom.trials.filter((t) => t.n === n && t.scenario === scenario);
        if (found.length === 0) throw new Error(`validate: ${opts.realFrom.path} has no real trials for ${scenario} at N = ${n}`);
        real.push(...found);
      }
    }
    progress(`real: ${real.length} trials reused from ${opts.realFrom.path}`);
  }
  const reaper = opts.realFrom ? null : await Reaper.start();
  if (reaper) try {
    for (const n of opts.nodes) {
      for (const scenario of opts.scenarios) {
        for (let i = 0; i < opts.realTrials; i++) {
          const seed = opts.seed + i;
          let r;
          try {
            r = await runCluster({ adapter: serfAdapter, nodes: n, fault: faults.get(scenario)!, seed, settleMs: opts.settleMs, convergeTimeoutMs: opts.convergeTimeoutMs, reaper });
          } catch (e) {
            // one failed trial (an overloaded machine) must not lose the others: record it, go on
            failedTrials.push({ scenario, n, seed, error: (e as Error).message });
            progress(`serf ${scenario} n=${n} trial ${i + 1}/${opts.realTrials}: FAILED ${(e as Error).message}`);
            continue;
          }
          real.push({
            scenario,
            fault: faults.get(scenario)!.kind,
            n,
            seed,
            crashed: r.crashed,
            log: r.log,
            stream: r.stream,
            messagesPerNodePerSec: r.traffic.messagesPerNodePerSec,
            bytesPerNodePerSec: r.traffic.bytesPerNodePerSec,
            windowMs: r.traffic.windowMs,
            agentAgeAtFaultMs: r.timeline.agentAgeAtFaultMs,
            diagnostics: r.diagnostics,
            loadavg: r.loadavg,
          });
          const d = r.log.detectionAllMs.length ? ` detection all ${r.log.detectionAllMs.map((x) => Math.round(x)).join('/')} ms` : '';
          const j = r.log.joinMs.length ? ` join ${r.log.joinMs.map((x) => Math.round(x)).join('/')} ms` : '';
          progress(`serf ${scenario} n=${n} trial ${i + 1}/${opts.realTrials}:${d}${j} (load ${r.loadavg.end[0].toFixed(2)})`);
        }
      }
    }
  } finally {
    reaper.close();
  }
  for (const n of opts.nodes) {
    for (const scenario of opts.scenarios) {
      // the model's fault at the real clusters' median age at theirs: memberlist's timers run
      // from agent start (its first push-pull 30–60 s later), so a young cluster is modelled young
      const ages = real.filter((t) => t.n === n && t.scenario === scenario && t.agentAgeAtFaultMs !== undefined).map((t) => t.agentAgeAtFaultMs!);
      const faultAtMs = ages.length ? Math.round(median(ages)!) : undefined;
      for (let i = 0; i < opts.modelTrials; i++) {
        const seed = opts.seed + i;
        const r = await runModel({ protocol: opts.protocol, scenario, nodes: n, seed, durationMs: opts.modelDurationMs, sets: opts.sets, withoutReshards: true, faultAtMs });
        const mem = r.summary.membership;
        model.push({
          scenario,
          fault: faults.get(scenario)!.kind,
          n,
          seed,
          detectionFirstMs: mem.detectionMs.first,
          detectionAllMs: mem.detectionMs.all,
          joinMs: mem.joinConvergenceMs,
          undetectedCrashes: mem.undetectedCrashes,
          unconvergedJoins: mem.unconvergedJoins,
          falsePositives: mem.falsePositives,
          messagesPerNodePerSec: r.summary.messages.perNodePerSec,
          bytesPerNodePerSec: r.summary.messages.bytesPerNodePerSec,
          faultAtMs: faultAtMs ?? faults.get(scenario)!.atMs,
        });
      }
      progress(`model ${opts.protocol} ${scenario} n=${n}: ${opts.modelTrials} trials, fault at ${((faultAtMs ?? faults.get(scenario)!.atMs) / 1000).toFixed(1)} s${faultAtMs === undefined ? " (the scenario's: no real ages)" : ' (the real clusters\' median age)'}`);
    }
  }
  const realTrials = opts.realFrom ? Math.max(...opts.nodes.flatMap((n) => opts.scenarios.map((s) => real.filter((t) => t.n === n && t.scenario === s).length))) : opts.realTrials;
  return {
    schema: VALIDATE_SCHEMA,
    protocol: opts.protocol,
    params: opts.sets,
    against: { name: opts.against, version: serfAdapter.version(), profile: serfAdapter.profile },
    nodes: opts.nodes,
    scenarios: opts.scenarios,
    trials: { model: opts.modelTrials, real: realTrials },
    realFrom: opts.realFrom?.path ?? null,
    modelScenarioChanges: "reshards removed (perSec 0); duration 60 s; the fault at the real clusters' median agent age at theirs (model trials' faultAtMs)",
    aggregation: 'per trial nearest-rank percentiles; p50 rows = median of trial p50s, p99 rows = max of trial p99s; counts and rates = mean per trial',
    createdAt: new Date().toISOString(),
    wallMs: performance.now() - t0,
    machine: machineInfo() as unknown as Record<string, unknown>,
    tool: toolInfo() as unknown as Record<string, unknown>,
    rows: buildRows(opts.nodes, model, real),
    failedTrials,
    model,
    real,
  };
}

const fmt = (v: number | null, unit: string) => (v === null ? '—' : unit === 'ms' ? `${(v / 1000).toFixed(2)} s` : unit === 'per trial' ? v.toFixed(2) : v.toFixed(1));

export function validateMarkdown(doc: ValidateDoc): string {
  const lines = [
    `| measure | N | model (${doc.protocol}) | real (${doc.against.name}, memberlist) | real (${doc.against.name}, events) | ratio | tolerance | within |`,
    '|---|---:|---:|---:|---:|---:|---:|:-:|',
  ];
  for (const r of doc.rows) {
    const unit = r.unit === 'ms' ? '' : ` ${r.unit}`;
    lines.push(
      `| ${r.measure}${unit} | ${r.n} | ${fmt(r.model, r.unit)} | ${fmt(r.real, r.unit)} | ${fmt(r.realStream, r.unit)} | ${r.ratio === null ? '—' : r.ratio.toFixed(2)} | ${Math.round(r.tolerance * 100)} % | ${r.withinTolerance ? 'yes' : '**no**'} |`,
    );
  }
  const loads = doc.real.map((t) => t.loadavg.end[0]).filter((x) => x !== undefined);
  lines.push('');
  lines.push(
    `${doc.trials.model} model seeds and ${doc.trials.real} real trials per (scenario, N)${doc.failedTrials.length ? `; ${doc.failedTrials.length} real trial(s) failed: ${doc.failedTrials.map((f) => `${f.scenario} n=${f.n} seed ${f.seed}`).join(', ')}` : ''}; ` +
      `${doc.against.name} ${doc.against.version}, profile ${doc.against.profile}; model ${doc.protocol} ${doc.params.join(' ')}` +
      (loads.length ? `; 1-min load average at the end of the real trials ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} on ${String(doc.machine.cpus ?? '?')} cores` : ''),
  );
  return lines.join('\n') + '\n';
}
