/**
 * The simulator's modelled network between FE nodes, with its own seeded generator.
 *
 * - One-way latency = latencyMinMs + Exp(latencyMeanMs − latencyMinMs), drawn per message,
 *   independent of size, order and load (README: known simplifications).
 * - Loss drops a message with probability lossRate, datagrams and connection traffic alike (no
 *   TCP retransmission is modelled; README: known simplifications).
 * - A partition puts nodes on side 0 or 1 (`SimNode.group`); nothing crosses sides, and no new
 *   connection opens across them. Messages in flight when it starts are delivered (they already
 *   left the switch); open connections stay open (the kernel has not noticed yet).
 */
import type { NetworkModel } from '../model/defaults.ts';
import { Rng } from '../harness/rng.ts';
import type { SimNode } from './host.ts';

export class Network {
  #lossRate: number;
  readonly #latencyMin: number;
  readonly #latencyTail: number;
  readonly #rng: Rng;

  constructor(model: NetworkModel, seed: number) {
    this.#lossRate = model.lossRate;
    this.#latencyMin = model.latencyMinMs;
    this.#latencyTail = Math.max(0, model.latencyMeanMs - model.latencyMinMs);
    this.#rng = new Rng(seed, 0x6e6574); // 'net'
  }

  setLoss(rate: number): void {
    this.#lossRate = rate;
  }

  /** The one-way latency of a message from `from` to `to`, or -1 when it is lost. */
  route(from: SimNode, to: SimNode | undefined): number {
    if (to === undefined || (this.#lossRate > 0 && this.#rng.next() < this.#lossRate) || to.group !== from.group) return -1;
    return this.#latencyMin + (this.#latencyTail > 0 ? this.#rng.exp(this.#latencyTail) : 0);
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
