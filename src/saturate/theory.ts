/**
 * What queueing theory says about one FE's request capacity, from the run's parameters alone
 * (never from a measurement). A node has ceil(coresPerNode) cores, each running at
 * coresPerNode / ceil(coresPerNode) of a full core (src/sim/cpu.ts), so a request of
 * cpuUsPerRequest µs holds one core for cpuUsPerRequest ÷ that speed.
 */

/** wall time one request occupies a core of the node, ms (its service time when nothing waits) */
export function serviceMs(cpuUsPerRequest: number, coresPerNode: number): number {
  const speed = coresPerNode / Math.max(1, Math.ceil(coresPerNode));
  return cpuUsPerRequest / speed / 1000;
}

/** a request's latency on an idle FE: its service plus the back-end round trip, ms */
export function unloadedLatencyMs(cpuUsPerRequest: number, coresPerNode: number, backendRttMs: number): number {
  return serviceMs(cpuUsPerRequest, coresPerNode) + backendRttMs;
}

/** the request-only bound: every core busy with requests and nothing else, requests/s per node */
export function requestOnlyPerNode(cpuUsPerRequest: number, coresPerNode: number): number {
  return (coresPerNode * 1e6) / cpuUsPerRequest;
}

/**
 * The throughput bound once the membership protocol takes `protocolUsPerSec` of the node's CPU:
 * (cores·1e6 − protocol CPU) ÷ cpuUsPerRequest, requests/s per node (a queue is stable only below it).
 */
export function sharedCapacityPerNode(cpuUsPerRequest: number, coresPerNode: number, protocolUsPerSec: number): number {
  return Math.max(0, coresPerNode * 1e6 - protocolUsPerSec) / cpuUsPerRequest;
}

/**
 * The share of request capacity the protocol's CPU takes: protocol CPU ÷ the node's CPU. This is
 * what the measured overhead approaches when only throughput binds; a latency bound can make the
 * measured overhead larger (bursts of protocol work delay requests behind them).
 */
export function theoreticalOverhead(coresPerNode: number, protocolUsPerSec: number): number {
  return Math.min(1, protocolUsPerSec / (coresPerNode * 1e6));
}

/**
 * The default p99 bound is this multiple of the unloaded latency. In an M/D/1 queue (mdOneWaitCdf)
 * the p99 wait reaches ~10 service times at ρ ≈ 0.8, so a request-only FE whose service dominates
 * its latency meets 10× up to ~80 % utilisation, and one whose back-end round trip dominates meets
 * it nearly to saturation: the bound flags queueing, not the round trip.
 */
export const DEFAULT_LATENCY_MULTIPLE = 10;

/**
 * P(W ≤ t) for the M/D/1 queue (Erlang 1909): (1 − ρ) Σ_{k=0}^{⌊t/S⌋} [λ(kS − t)]^k / k! · e^{−λ(kS − t)}.
 * The sum alternates in sign, so its terms grow past what a double can cancel once t is a few tens
 * of service times: null when the largest term could carry an error above 1e-7.
 */
export function mdOneWaitCdf(tMs: number, rho: number, sMs: number): number | null {
  if (tMs < 0) return 0;
  const lam = rho / sMs;
  let sum = 0, largest = 0;
  for (let k = 0; k <= Math.floor(tMs / sMs); k++) {
    const x = lam * (k * sMs - tMs);
    // x ≤ 0: |x|^k / k! · e^{−x}, signed (−1)^k
    const mag = x === 0 ? (k === 0 ? 1 : 0) : Math.exp(k * Math.log(-x) - lgamma(k + 1) - x);
    largest = Math.max(largest, mag);
    sum += k % 2 === 0 ? mag : -mag;
  }
  if (largest * Number.EPSILON > 1e-7) return null;
  return Math.min(1, Math.max(0, (1 - rho) * sum));
}

function lgamma(n: number): number {
  let s = 0;
  for (let i = 2; i < n; i++) s += Math.log(i);
  return s;
}

/**
 * The load, requests/s per node, at which a single-core FE serving only requests (M/D/1: Poisson
 * arrivals, service sMs) has a p99 latency (or quantile q) of exactly p99MaxMs: the wait's quantile
 * plus service plus back-end RTT, both deterministic. Null when the bound is below the unloaded
 * latency or beyond where mdOneWaitCdf is exact.
 */
export function mdOneLoadAtP99(p99MaxMs: number, sMs: number, backendRttMs: number, q = 0.99): number | null {
  const t = p99MaxMs - sMs - backendRttMs;
  if (t < 0) return null;
  const ok = (rho: number) => {
    const c = mdOneWaitCdf(t, rho, sMs);
    return c === null ? null : c >= q;
  };
  // P(W ≤ t) falls as ρ grows: bisect for the ρ where it crosses q
  let lo = 1e-9, hi = 1 - 1e-9;
  if (ok(lo) !== true) return null;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    const v = ok(mid);
    if (v === null) return null;
    if (v) lo = mid;
    else hi = mid;
  }
  return lo / (sMs / 1000);
}
