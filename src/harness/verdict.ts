/**
 * The verdict on a run, shared by every runtime: limits hit, view accuracy, counters and the
 * health checks behind `summary.healthy`. One definition, so a simulated and a live run of the
 * same scenario are judged alike.
 */
import { FLEET } from '../model/defaults.ts';
import { percentiles, type Measures } from './measures.ts';
import type { Rng } from './rng.ts';

export function verdict(m: Measures, tailMisrouteRate: number, completed = true, tailFailedRate = 0) {
  const limitsHit = [...m.limits.entries()]
    .map(([limit, l]) => ({ limit, nodes: l.count, firstAtMs: l.firstAtMs }))
    .sort((a, b) => a.firstAtMs - b.firstAtMs || a.limit.localeCompare(b.limit));
  const viewAccuracy = m.viewAccuracy();
  const healthChecks = [
    // a run stopped early (Ctrl-C) proves nothing about the end of its scenario
    { name: 'completed', ok: completed, value: completed ? 1 : 0, threshold: 1, rule: 'the run reached the end of its scenario' },
    { name: 'limitsHit', ok: limitsHit.length === 0, value: limitsHit.length, threshold: 0, rule: 'no host limit hit' },
    {
      name: 'tailMisrouteRate',
      ok: tailMisrouteRate <= FLEET.misrouteSlo.value,
      value: tailMisrouteRate,
      threshold: FLEET.misrouteSlo.value,
      rule: "misroute rate over the scenario's tail window ≤ threshold",
    },
    {
      name: 'tailFailedRate',
      ok: tailFailedRate <= FLEET.failedSlo.value,
      value: tailFailedRate,
      threshold: FLEET.failedSlo.value,
      rule: "failed-request rate over the scenario's tail window ≤ threshold",
    },
    {
      name: 'viewAccuracy',
      ok: viewAccuracy >= FLEET.viewAccuracySlo.value,
      value: viewAccuracy,
      threshold: FLEET.viewAccuracySlo.value,
      rule: 'view accuracy at the end ≥ threshold',
    },
  ];
  const counters: Record<string, number> = {};
  for (const k of [...m.counters.keys()].sort()) counters[k] = m.counters.get(k)!;
  return { limitsHit, viewAccuracy, healthChecks, healthy: healthChecks.every((c) => c.ok), counters };
}

/** summary.membership and summary.shardMap, with reshards unconverged at `endMs` censored there. */
export function beliefSummary(m: Measures, endMs: number, viewAccuracy: number) {
  return {
    membership: {
      joinConvergenceMs: percentiles(m.joinSamples),
      unconvergedJoins: m.pendingJoins,
      detectionMs: { first: percentiles(m.detectFirst), all: percentiles(m.detectAll) },
      undetectedCrashes: m.pendingDetections,
      falsePositives: m.falsePositives,
      viewAccuracy,
    },
    shardMap: {
      reshards: m.reshardCount,
      stalenessMs: percentiles(m.stalenessWithCensored(endMs)),
      unconverged: m.unconvergedReshards,
      superseded: m.supersededReshards,
    },
  };
}

/** k distinct members of `pool` chosen by `rng`, in draw order. Consumes `pool`. */
export function drawDistinct<T>(pool: T[], k: number, rng: Rng): T[] {
  const out: T[] = [];
  for (let i = 0; i < k && pool.length > 0; i++) {
    const j = rng.int(pool.length);
    out.push(pool[j]);
    pool[j] = pool[pool.length - 1];
    pool.pop();
  }
  return out;
}
