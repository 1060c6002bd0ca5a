/**
 * Service-level objectives for the ceiling search: "path op number", where path names a numeric
 * figure of a result's summary, e.g. `misrouteRate<=0.001`, `detectionMs.first.p99<=10000`,
 * `requests.tailMisrouteRate<0.001`, `shardMap.stalenessMs.max<=5000`.
 *
 * A path is tried as written under `summary`, then under each summary group (requests, messages,
 * memory, membership, shardMap, …), so the short names work. Paths are checked against the result
 * schema when parsed, before anything runs.
 *
 * A figure that is null (a percentile with no samples) fails when the run left that event pending
 * (an undetected crash, an unconverged join) and is otherwise not applicable: it passes, and the
 * evaluation says "not measured".
 */
import { z } from 'zod';
import { UsageError } from '../errors.ts';
import { ResultSchema, type Result } from '../results/schema.ts';

export type Op = '<=' | '<' | '>=' | '>' | '==';

export interface Slo {
  text: string;
  /** full path under summary, e.g. ["membership", "detectionMs", "first", "p99"] */
  path: string[];
  op: Op;
  value: number;
}

export interface SloEvaluation {
  slo: Slo;
  value: number | null;
  ok: boolean;
  note: string;
}

const SUMMARY = ResultSchema.shape.summary;

/** Walks the zod schema of the summary; returns true when the path ends at a number (possibly nullable). */
function isNumericPath(path: readonly string[]): boolean {
  let s: z.ZodType = SUMMARY;
  for (const seg of path) {
    while (s instanceof z.ZodNullable || s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
    if (!(s instanceof z.ZodObject)) return false;
    const next = (s.shape as Record<string, z.ZodType>)[seg];
    if (!next) return false;
    s = next;
  }
  while (s instanceof z.ZodNullable || s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  return s instanceof z.ZodNumber;
}

export function parseSlo(text: string): Slo {
  const m = /^\s*([A-Za-z][\w.]*)\s*(<=|>=|==|<|>)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/.exec(text);
  if (!m) throw new UsageError(`--slo: "${text}" is not "figure op number", e.g. misrouteRate<=0.001 or detectionMs.first.p99<=10000`);
  const written = m[1].split('.');
  const groups = Object.keys(SUMMARY.shape);
  const candidates = [written, ...groups.map((g) => [g, ...written])];
  const path = candidates.find(isNumericPath);
  if (!path) {
    throw new UsageError(
      `--slo: "${m[1]}" is not a numeric figure of a result summary; e.g. misrouteRate, tailMisrouteRate, perNodePerSec, peakBytesPerNode, detectionMs.first.p99, joinConvergenceMs.p99, stalenessMs.p99`,
    );
  }
  return { text: text.trim(), path, op: m[2] as Op, value: Number(m[3]) };
}

const PENDING: Record<string, (s: Result['summary']) => number> = {
  detectionMs: (s) => s.membership.undetectedCrashes,
  joinConvergenceMs: (s) => s.membership.unconvergedJoins,
  stalenessMs: (s) => s.shardMap.unconverged,
};

export function evaluateSlo(slo: Slo, r: Result): SloEvaluation {
  let v: unknown = r.summary;
  for (const seg of slo.path) v = v === null || v === undefined ? v : (v as Record<string, unknown>)[seg];
  if (typeof v !== 'number') {
    const pendingOf = slo.path.map((seg) => PENDING[seg]).find(Boolean);
    const pending = pendingOf ? pendingOf(r.summary) : 0;
    return pending > 0
      ? { slo, value: null, ok: false, note: `not measured: ${pending} event(s) never completed` }
      : { slo, value: null, ok: true, note: 'not measured in this scenario' };
  }
  const ok = slo.op === '<=' ? v <= slo.value : slo.op === '<' ? v < slo.value : slo.op === '>=' ? v >= slo.value : slo.op === '>' ? v > slo.value : v === slo.value;
  return { slo, value: v, ok, note: `${v} ${ok ? 'meets' : 'fails'} ${slo.op} ${slo.value}` };
}
