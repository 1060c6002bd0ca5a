/**
 * One open suspicion (memberlist suspicion.go). Without Lifeguard the timeout is fixed at min.
 * With Lifeguard it starts at max and shrinks towards min as independent members confirm the
 * suspicion (each confirmer counted once; the member that raised it does not count), so a
 * member suspected by many is declared dead sooner and one suspected by a single, perhaps
 * unhealthy, node gets the longest time to refute.
 */
import type { NodeId, TimerId } from '../../src/contract/protocol.ts';
import { remainingSuspicionMs } from './timing.ts';

export class Suspicion {
  readonly member: NodeId;
  /** incarnation the suspicion is about; the member is declared dead at this incarnation */
  readonly incarnation: number;
  readonly startMs: number;
  /** confirmations expected before the timeout reaches min; 0 = fixed timeout */
  readonly k: number;
  readonly minMs: number;
  readonly maxMs: number;
  timer: TimerId;
  #n = 0;
  readonly #confirmers: Set<NodeId>;

  constructor(member: NodeId, incarnation: number, from: NodeId, startMs: number, k: number, minMs: number, maxMs: number, timer: TimerId) {
    this.member = member;
    this.incarnation = incarnation;
    this.startMs = startMs;
    this.k = k;
    this.minMs = minMs;
    this.maxMs = maxMs;
    this.timer = timer;
    this.#confirmers = new Set([from]);
  }

  /** The first timeout: min when no confirmations are expected, else max (memberlist newSuspicion). */
  static initialTimeoutMs(k: number, minMs: number, maxMs: number): number {
    return k < 1 ? minMs : maxMs;
  }

  get confirmations(): number {
    return this.#n;
  }

  /**
   * Records a confirmation from `from`. Returns the new remaining time in ms (≤ 0: expire now),
   * or null when it is not new information (already heard from `from`, or k reached).
   */
  confirm(from: NodeId, nowMs: number): number | null {
    if (this.#n >= this.k) return null;
    if (this.#confirmers.has(from)) return null;
    this.#confirmers.add(from);
    this.#n++;
    return remainingSuspicionMs(this.#n, this.k, nowMs - this.startMs, this.minMs, this.maxMs);
  }
}
