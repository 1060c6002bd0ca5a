/**
 * One node's member table: state and incarnation per member in typed arrays indexed by node id
 * (ids are dense small integers), plus the round-robin probe order. 9 bytes per member per
 * node: at N = 10,000 that is 90 kB per node, 900 MB for the whole simulated fleet.
 *
 * Probe order (SWIM §4.3, memberlist state.go): members are probed in a shuffled list; at the
 * end of a pass the list is compacted (dead and forgotten members leave it) and reshuffled; a
 * new member is inserted at a random position, so every member is probed within 2N − 1
 * periods. The random order (SWIM §3) needs no list: it samples ids uniformly.
 */
import type { NodeId } from '../../src/contract/protocol.ts';

export const UNKNOWN = 0;
export const ALIVE = 1;
export const SUSPECT = 2;
export const DEAD = 3;
export const LEFT = 4;
const STATE_MASK = 7;
/** set while the member has a slot in the probe order */
const IN_ORDER = 8;

export class MemberTable {
  readonly self: NodeId;
  readonly #random: () => number;
  #state: Uint8Array;
  #inc: Uint32Array;
  #order: Int32Array;
  #orderLen = 0;
  #probeIdx = 0;
  /** highest id ever known: the range random sampling draws from */
  #maxId = 0;
  /** members in state ALIVE or SUSPECT, self excluded */
  #live = 0;
  /** members known in any state (not yet forgotten), self included: memberlist's estNumNodes */
  #known = 0;

  constructor(self: NodeId, sizeHint: number, random: () => number) {
    this.self = self;
    this.#random = random;
    const cap = Math.max(16, sizeHint, self + 1);
    this.#state = new Uint8Array(cap);
    this.#inc = new Uint32Array(cap);
    this.#order = new Int32Array(cap);
    this.#state[self] = ALIVE;
    this.#known = 1;
    this.#maxId = self;
  }

  #fit(m: NodeId): void {
    if (m < this.#state.length) return;
    const cap = Math.max(m + 1, this.#state.length * 2);
    const s = new Uint8Array(cap);
    s.set(this.#state);
    this.#state = s;
    const inc = new Uint32Array(cap);
    inc.set(this.#inc);
    this.#inc = inc;
    const o = new Int32Array(cap);
    o.set(this.#order);
    this.#order = o;
  }

  state(m: NodeId): number {
    return m < this.#state.length ? this.#state[m] & STATE_MASK : UNKNOWN;
  }

  incarnation(m: NodeId): number {
    return m < this.#inc.length ? this.#inc[m] : 0;
  }

  get live(): number {
    return this.#live;
  }

  get known(): number {
    return this.#known;
  }

  get maxId(): number {
    return this.#maxId;
  }

  /** Sets a member's state and incarnation; keeps counts and the probe order in step. */
  set(m: NodeId, state: number, incarnation: number): void {
    this.#fit(m);
    const raw = this.#state[m];
    const prev = raw & STATE_MASK;
    if (m !== this.self) {
      const wasLive = prev === ALIVE || prev === SUSPECT;
      const isLive = state === ALIVE || state === SUSPECT;
      if (wasLive !== isLive) this.#live += isLive ? 1 : -1;
      if ((prev === UNKNOWN) !== (state === UNKNOWN)) this.#known += state === UNKNOWN ? -1 : 1;
      if (isLive && (raw & IN_ORDER) === 0) {
        this.#insertRandom(m);
        this.#state[m] = state | IN_ORDER;
      } else this.#state[m] = state | (raw & IN_ORDER);
    } else this.#state[m] = state;
    this.#inc[m] = incarnation;
    if (m > this.#maxId) this.#maxId = m;
  }

  #insertRandom(m: NodeId): void {
    // memberlist aliveNode: append, then swap with a random offset in [0, n]
    const n = this.#orderLen++;
    const o = this.#order;
    const off = Math.floor(this.#random() * (n + 1));
    o[n] = o[off];
    o[off] = m;
  }

  /** Next member to probe in round-robin order, or −1 when there is none. */
  nextRoundRobin(): NodeId {
    for (let tries = 0; tries <= this.#orderLen; tries++) {
      if (this.#probeIdx >= this.#orderLen) {
        this.#resetOrder();
        if (this.#orderLen === 0) return -1;
      }
      const m = this.#order[this.#probeIdx++];
      const s = this.#state[m] & STATE_MASK;
      if (s === ALIVE || s === SUSPECT) return m;
    }
    return -1;
  }

  /** End of a pass (memberlist resetNodes): drop members no longer live, then Fisher–Yates shuffle. */
  #resetOrder(): void {
    const o = this.#order, st = this.#state;
    let w = 0;
    for (let r = 0; r < this.#orderLen; r++) {
      const m = o[r];
      const s = st[m] & STATE_MASK;
      if (s === ALIVE || s === SUSPECT) o[w++] = m;
      else st[m] = s;
    }
    this.#orderLen = w;
    for (let i = w - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      const t = o[i];
      o[i] = o[j];
      o[j] = t;
    }
    this.#probeIdx = 0;
  }

  /**
   * A uniformly random member (not self) whose state passes `accept`, or −1. Samples the id
   * range (ids are dense, so most draws hit a known member); after 64 misses it scans from a
   * random start so that a sparse view still finds one.
   */
  randomMember(accept: (state: number) => boolean, exclude1 = -1, exclude2 = -1, exclude3 = -1): NodeId {
    const range = this.#maxId + 1;
    const st = this.#state;
    const ok = (m: number) => m !== this.self && m !== exclude1 && m !== exclude2 && m !== exclude3 && accept(st[m] & STATE_MASK);
    for (let i = 0; i < 64; i++) {
      const m = Math.floor(this.#random() * range);
      if (ok(m)) return m;
    }
    const start = Math.floor(this.#random() * range);
    for (let i = 0; i < range; i++) {
      const m = (start + i) % range;
      if (ok(m)) return m;
    }
    return -1;
  }

  /** Full state for push-pull: triples (member, incarnation, state) of every known member. */
  snapshot(): Uint32Array {
    const out = new Uint32Array(this.#known * 3);
    const st = this.#state, inc = this.#inc;
    let w = 0;
    for (let m = 0; m <= this.#maxId; m++) {
      const s = st[m] & STATE_MASK;
      if (s === UNKNOWN) continue;
      out[w++] = m;
      out[w++] = inc[m];
      out[w++] = s;
    }
    return w === out.length ? out : out.subarray(0, w);
  }
}
