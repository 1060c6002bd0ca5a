/**
 * Lifeguard local health awareness (memberlist awareness.go): a score that rises when this node
 * sees evidence that it, not its peers, is slow (missed nacks, having to refute a suspicion) and
 * falls with every successful probe. The probe interval is multiplied by score + 1, so a
 * struggling node probes (and so accuses) less often.
 */
import { scaleByAwareness } from './timing.ts';

export class Awareness {
  readonly #max: number;
  #score = 0;

  /** `maxMultiplier` is memberlist's AwarenessMaxMultiplier: the score stays below it. */
  constructor(maxMultiplier: number) {
    this.#max = maxMultiplier;
  }

  get score(): number {
    return this.#score;
  }

  applyDelta(delta: number): void {
    const s = this.#score + delta;
    this.#score = s < 0 ? 0 : s > this.#max - 1 ? this.#max - 1 : s;
  }

  scale(timeoutMs: number): number {
    return scaleByAwareness(timeoutMs, this.#score);
  }
}
