/**
 * The simulator's modelled network between FE nodes, with its own seeded generator.
 *
 * - One-way latency = latencyMinMs + Exp(latencyMeanMs − latencyMinMs), drawn per message; on
 *   top of it, the sender's link serialises its messages one after another at linkBytesPerSec
 *   (simulation.ts), so size and bursts cost time. The receiving link is not modelled.
 * - Datagrams (a send with no connection between the two nodes: swim) are lost with probability
 *   lossRate.
 * - Connections behave like TCP (simulation.ts keeps each direction in order): a lost segment is
 *   retransmitted after an RTO of tcpRtoMinMs, doubling per retry up to 120 s, each retry lost
 *   with lossRate again; after tcpRetries lost retransmissions the connection breaks.
 *   Simplifications: one segment per message, retransmission timed from the first send, no
 *   congestion window (loss adds delay but never slows the sender down).
 * - A partition puts nodes on side 0 or 1 (`SimNode.group`); nothing crosses sides, and no new
 *   connection opens across them. Messages in flight when it starts are delivered (they already
 *   left the switch); open connections stay open (the kernel has not noticed yet), and what is
 *   sent on them waits for the next retransmission after the heal.
 */
import type { NetworkModel } from '../model/defaults.ts';
import { Rng } from '../harness/rng.ts';
import type { SimNode } from './host.ts';

/** Linux TCP_RTO_MAX (include/net/tcp.h): the retransmission timeout stops doubling at 120 s. */
const RTO_MAX_MS = 120_000;

export class Network {
  #lossRate: number;
  readonly #rtoMin: number;
  readonly #retries: number;
  readonly #latencyMin: number;
  readonly #latencyTail: number;
  readonly #rng: Rng;

  constructor(model: NetworkModel, seed: number) {
    this.#lossRate = model.lossRate;
    this.#rtoMin = model.tcpRtoMinMs;
    this.#retries = model.tcpRetries;
    this.#latencyMin = model.latencyMinMs;
    this.#latencyTail = Math.max(0, model.latencyMeanMs - model.latencyMinMs);
    this.#rng = new Rng(seed, 0x6e6574); // 'net'
  }

  get lossRate(): number {
    return this.#lossRate;
  }

  setLoss(rate: number): void {
    this.#lossRate = rate;
  }

  /** The one-way latency of a message from `from` to `to`, or -1 when it is lost. */
  route(from: SimNode, to: SimNode | undefined): number {
    if (to === undefined || (this.#lossRate > 0 && this.#rng.next() < this.#lossRate) || to.group !== from.group) return -1;
    return this.#latencyMin + (this.#latencyTail > 0 ? this.#rng.exp(this.#latencyTail) : 0);
  }

  /** One-way latency of a message that gets through. */
  latency(): number {
    return this.#latencyMin + (this.#latencyTail > 0 ? this.#rng.exp(this.#latencyTail) : 0);
  }

  /** retransmissions the last `segment` call cost (loss, not partition) */
  retransmits = 0;

  /**
   * A segment first sent at `sentAt`, on a connection: when it arrives, counting the
   * retransmissions that loss costs it, or -1 when its retries run out. Attempts before
   * `firstTry` (a partition) are lost whatever the loss rate; `retransmits` counts the others lost.
   */
  segment(sentAt: number, firstTry: number): number {
    this.retransmits = 0;
    // the hot path: no loss, no partition behind it
    if (this.#lossRate === 0 && firstTry <= sentAt) return sentAt + this.latency();
    let t = sentAt, rto = this.#rtoMin, attempt = 0, retransmits = 0;
    for (; t < firstTry; attempt++, t += rto, rto = Math.min(2 * rto, RTO_MAX_MS));
    for (; attempt <= this.#retries; attempt++, t += rto, rto = Math.min(2 * rto, RTO_MAX_MS)) {
      if (this.#lossRate > 0 && this.#rng.next() < this.#lossRate) {
        retransmits++;
        continue;
      }
      this.retransmits = retransmits;
      return t + this.latency();
    }
    this.retransmits = retransmits;
    return -1;
  }

  /** Whether a connection can be opened between two nodes now. */
  reachable(a: SimNode, b: SimNode): boolean {
    return a.group === b.group;
  }

  partition(nodes: readonly SimNode[], side: readonly number[]): void {
    for (const id of side) nodes[id].group = 1;
  }

  heal(nodes: readonly SimNode[]): void {
    for (const n of nodes) n.group = 0;
  }
}
