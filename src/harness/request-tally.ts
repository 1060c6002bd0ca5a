/**
 * Counts routed requests the same way in every runtime: totals, the scenario's tail window (did
 * the fleet converge?), the current time-series window, and the span after a cell outage (the
 * blast radius). A failed request (no live FE to answer) is not a misroute, but both count as
 * "bad" for the blast radius.
 */
export type RequestOutcome = 'routed' | 'misrouted' | 'failed';

export class RequestTally {
  total = 0;
  misrouted = 0;
  failed = 0;
  tailTotal = 0;
  tailMisrouted = 0;
  tailFailed = 0;
  /** when the first request failed; null when none did */
  firstFailedAtMs: number | null = null;
  /** when each request failed (the first 10^6), for failures within a span */
  readonly #failedAt: number[] = [];
  /** when the first cell outage began; null without one */
  outageFromMs: number | null = null;
  outageTotal = 0;
  outageBad = 0;
  #window = { requests: 0, misrouted: 0, failed: 0 };

  constructor(readonly tailFromMs: number) {}

  /** One request, at runtime time `t`, with its outcome. */
  record(t: number, outcome: RequestOutcome): void {
    const inTail = t >= this.tailFromMs;
    const inOutage = this.outageFromMs !== null && t >= this.outageFromMs;
    this.total++;
    this.#window.requests++;
    if (inTail) this.tailTotal++;
    if (inOutage) this.outageTotal++;
    if (outcome === 'routed') return;
    if (inOutage) this.outageBad++;
    if (outcome === 'failed') {
      if (this.firstFailedAtMs === null || t < this.firstFailedAtMs) this.firstFailedAtMs = t;
      if (this.#failedAt.length < 1_000_000) this.#failedAt.push(t);
      this.failed++;
      this.#window.failed++;
      if (inTail) this.tailFailed++;
      return;
    }
    this.misrouted++;
    this.#window.misrouted++;
    if (inTail) this.tailMisrouted++;
  }

  /** The counts since the last call (one time-series sample). */
  takeWindow(): { requests: number; misrouted: number; failed: number } {
    const w = this.#window;
    this.#window = { requests: 0, misrouted: 0, failed: 0 };
    return w;
  }

  get misrouteRate(): number {
    return this.total ? this.misrouted / this.total : 0;
  }
  /** failed requests issued in [from, to] (of the first 10^6 failures) */
  failedBetween(from: number, to: number): number {
    let n = 0;
    for (const t of this.#failedAt) if (t >= from && t <= to) n++;
    return n;
  }

  get failedRate(): number {
    return this.total ? this.failed / this.total : 0;
  }
  get tailFailedRate(): number {
    return this.tailTotal ? this.tailFailed / this.tailTotal : 0;
  }
  /** requests answered and correctly routed */
  get routed(): number {
    return this.total - this.misrouted - this.failed;
  }
  get tailMisrouteRate(): number {
    return this.tailTotal ? this.tailMisrouted / this.tailTotal : 0;
  }
  /** share of requests failed or misrouted since the first outage; null without one */
  get blastRadius(): number | null {
    return this.outageFromMs === null ? null : this.outageTotal ? this.outageBad / this.outageTotal : 0;
  }
}
