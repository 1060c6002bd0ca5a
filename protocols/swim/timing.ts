/**
 * SWIM timing maths as pure functions, so each can be table-tested without a clock.
 * Every formula is memberlist's (util.go, suspicion.go, awareness.go); names say which.
 */

/** memberlist util.go pushPullScaleThreshold: push-pull is not slowed below this many nodes. */
export const PUSH_PULL_SCALE_THRESHOLD = 32;

/**
 * memberlist util.go suspicionTimeout: SuspicionMult × max(1, log10(max(1, n))) × ProbeInterval.
 * The log10 keeps the chance that a suspicion reaches everyone before it expires roughly
 * constant as the cluster grows. memberlist truncates nodeScale to 1/1000; so do we.
 */
export function suspicionTimeoutMs(suspicionMult: number, n: number, probeIntervalMs: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  return (suspicionMult * Math.floor(nodeScale * 1000) * probeIntervalMs) / 1000;
}

/** memberlist util.go retransmitLimit: RetransmitMult × ceil(log10(n + 1)) transmissions per update. */
export function retransmitLimit(retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(n + 1));
}

/**
 * memberlist util.go pushPullScale: the push-pull interval × (ceil(log2 n − log2 32) + 1) above
 * 32 nodes, so full-state traffic per node shrinks as state grows (33 nodes → 2×, 65 → 3×).
 */
export function pushPullScaleMs(intervalMs: number, n: number): number {
  if (n <= PUSH_PULL_SCALE_THRESHOLD) return intervalMs;
  const multiplier = Math.ceil(Math.log2(n) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1;
  return multiplier * intervalMs;
}

/**
 * memberlist suspicion.go remainingSuspicionTime: the suspicion timeout falls from max towards
 * min as log(confirmations + 1) / log(k + 1), never below min, less the time already elapsed.
 * A result ≤ 0 means the suspicion has already expired. k must be ≥ 1 (with k = 0 memberlist
 * uses min from the start and never calls this).
 */
export function remainingSuspicionMs(confirmations: number, k: number, elapsedMs: number, minMs: number, maxMs: number): number {
  const frac = Math.log(confirmations + 1) / Math.log(k + 1);
  const raw = maxMs / 1000 - frac * ((maxMs - minMs) / 1000);
  let timeout = Math.floor(1000 * raw);
  if (timeout < minMs) timeout = minMs;
  return timeout - elapsedMs;
}

/** memberlist awareness.go ScaleTimeout: timeout × (score + 1); score is in [0, max − 1]. */
export function scaleByAwareness(timeoutMs: number, score: number): number {
  return timeoutMs * (score + 1);
}
