/**
 * When a load is "carried": goodput (answered and correctly routed) at least minGoodputRatio of
 * what was offered, and request latency p99 within p99MaxMs. A run that answered nothing fails on
 * both. This file turns one result into one compact LoadRun.
 */
import type { Result } from '../results/schema.ts';
import type { LoadRun } from './schema.ts';

export interface Criteria {
  minGoodputRatio: number;
  /** null: no latency criterion */
  p99MaxMs: number | null;
}

export const DEFAULT_MIN_GOODPUT_RATIO = 0.99;

export function judge(r: Result, perNodePerSec: number, c: Criteria, wallMs: number): LoadRun {
  const n = r.run.nodes;
  const q = r.summary.requests;
  const ratio = q.offeredPerSec > 0 ? q.goodputPerSec / q.offeredPerSec : 1;
  const broke: LoadRun['broke'] = [];
  if (ratio < c.minGoodputRatio) broke.push('goodput');
  if (c.p99MaxMs !== null && q.offeredPerSec > 0 && (q.latencyMs === null || q.latencyMs.p99 > c.p99MaxMs)) broke.push('latency');
  return {
    fleetRequestsPerSec: Number(r.run.fleet.requestsPerSec),
    perNodePerSec,
    offeredPerNodePerSec: q.offeredPerSec / n,
    goodputPerNodePerSec: q.goodputPerSec / n,
    goodputRatio: ratio,
    latencyMs: q.latencyMs,
    protocolUsPerNodePerSec: r.summary.cpu.protocolUsPerNodePerSec,
    falsePositives: r.summary.membership.falsePositives,
    limitsHit: r.summary.limitsHit.map((l) => l.limit),
    pass: broke.length === 0,
    broke,
    wallMs,
  };
}
