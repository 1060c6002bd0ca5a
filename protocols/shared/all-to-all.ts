/**
 * What thread-per-peer and async-multiplexed share: the all-to-all sync messages, their codec,
 * and a node's view (live members by heartbeat, shard map by version).
 *
 * Each node sends every peer, every sync interval, a Sync carrying the shard-map changes it
 * originated since its previous Sync (often none: then it is a heartbeat). Nothing is relayed:
 * everyone talks to everyone, as the Kinesis FEs did. A receiver that sees a gap in a sender's
 * sequence numbers (a lost Sync, or a first contact) asks for the sender's full own state.
 */
import type { Codec, NodeId, ParamValues, ProtocolPromises, Reporter } from '../../src/contract/protocol.ts';
import { WireReader, WireWriter, WireError } from '../../src/contract/wire.ts';

export const SYNC = 1;
export const SYNC_REQUEST = 2;
export const FULL_STATE = 3;
export const LEAVE = 4;

/** Shard updates as flat triples: shard, cluster, version. */
export type Updates = readonly number[];

export type AllToAllMsg =
  | { readonly t: typeof SYNC | typeof FULL_STATE; readonly seq: number; readonly u: Updates }
  | { readonly t: typeof SYNC_REQUEST | typeof LEAVE };

export const EMPTY: Updates = Object.freeze([]) as Updates;
export const SYNC_REQUEST_MSG: AllToAllMsg = Object.freeze({ t: SYNC_REQUEST });
export const LEAVE_MSG: AllToAllMsg = Object.freeze({ t: LEAVE });

/** type u8 | seq u32 | count u16 | count × (shard u32, cluster u16, version u32) */
export const allToAllCodec: Codec<AllToAllMsg> = {
  byteLength(m) {
    return m.t === SYNC || m.t === FULL_STATE ? 7 + (m.u.length / 3) * 10 : 1;
  },
  encode(m) {
    const w = new WireWriter(m.t === SYNC || m.t === FULL_STATE ? 7 + (m.u.length / 3) * 10 : 1).u8(m.t);
    if (m.t === SYNC || m.t === FULL_STATE) {
      w.u32(m.seq).u16(m.u.length / 3);
      for (let i = 0; i < m.u.length; i += 3) w.u32(m.u[i]).u16(m.u[i + 1]).u32(m.u[i + 2]);
    }
    return w.finish();
  },
  decode(bytes) {
    const r = new WireReader(bytes);
    const t = r.u8();
    if (t === SYNC_REQUEST) return SYNC_REQUEST_MSG;
    if (t === LEAVE) return LEAVE_MSG;
    if (t !== SYNC && t !== FULL_STATE) throw new WireError(`unknown all-to-all message type ${t}`);
    const seq = r.u32();
    const n = r.u16();
    const u: number[] = [];
    for (let i = 0; i < n; i++) u.push(r.u32(), r.u16(), r.u32());
    return { t, seq, u };
  },
};

// Per-member state, packed as 2 words per member in one Uint32Array so that handling a message
// touches 8 bytes of the receiver's view: N nodes × N members is the hot data set, and halving
// it keeps more of it within the cache and the TLB.
const HEARD = 0; // word 0: whole milliseconds + 1 of the last message from the member; 0 = never
const SEQ = 1; // word 1: highest Sync seq seen (low 30 bits) | UP_BIT | FLAG_BIT
const SEQ_MASK = 0x3fffffff;
const UP_BIT = 0x80000000; // the member is in the view
const FLAG_BIT = 0x40000000; // free for the protocol (async-multiplexed: a peer it syncs with)
const STRIDE = 2;

/**
 * One node's beliefs: live members (heard from within failAfterMs) and the shard map.
 */
export class AllToAllView {
  readonly #report: Reporter;
  readonly #self: NodeId;
  readonly #failAfterMs: number;
  readonly shardCluster: Int32Array;
  readonly shardVersion: Uint32Array;
  /** shard → version of entries this node originated and may still hold as newest */
  readonly #own = new Map<number, number>();
  #st: Uint32Array;
  #upCount = 0;
  #maxId = 0;

  constructor(self: NodeId, report: Reporter, failAfterMs: number, shardCluster: Int32Array, shardVersion: Uint32Array, sizeHint: number) {
    this.#self = self;
    this.#report = report;
    this.#failAfterMs = failAfterMs;
    this.shardCluster = shardCluster;
    this.shardVersion = shardVersion;
    this.#st = new Uint32Array(Math.max(16, sizeHint) * STRIDE);
  }

  #fit(m: NodeId): Uint32Array {
    if (m * STRIDE >= this.#st.length) {
      const next = new Uint32Array(Math.max((m + 1) * STRIDE, this.#st.length * 2));
      next.set(this.#st);
      this.#st = next;
    }
    if (m > this.#maxId) this.#maxId = m;
    return this.#st;
  }

  get size(): number {
    return this.#upCount;
  }

  isUp(m: NodeId): boolean {
    return m * STRIDE < this.#st.length && (this.#st[m * STRIDE + SEQ] & UP_BIT) !== 0;
  }

  flag(m: NodeId): boolean {
    return m * STRIDE < this.#st.length && (this.#st[m * STRIDE + SEQ] & FLAG_BIT) !== 0;
  }

  setFlag(m: NodeId, on: boolean): void {
    const st = this.#fit(m), i = m * STRIDE + SEQ;
    st[i] = on ? st[i] | FLAG_BIT : st[i] & ~FLAG_BIT;
  }

  /** A reshard made here. Returns the triple to send. */
  originate(shard: number, cluster: number, version: number): Updates {
    this.apply([shard, cluster, version]);
    this.#own.set(shard, version);
    return [shard, cluster, version];
  }

  /** Everything this node originated that is still the newest it knows: the reply to SYNC_REQUEST. */
  ownState(): Updates {
    const u: number[] = [];
    for (const [shard, version] of this.#own) {
      if (this.shardVersion[shard] === version) u.push(shard, this.shardCluster[shard], version);
      else this.#own.delete(shard);
    }
    return u;
  }

  apply(u: Updates): void {
    for (let i = 0; i < u.length; i += 3) {
      const shard = u[i], version = u[i + 2];
      if (version <= this.shardVersion[shard]) continue;
      this.shardCluster[shard] = u[i + 1];
      this.shardVersion[shard] = version;
      this.#own.delete(shard);
      this.#report.shardUpdated(shard, version);
    }
  }

  heard(from: NodeId, now: number): void {
    const st = this.#fit(from);
    const i = from * STRIDE;
    st[i + HEARD] = Math.floor(now) + 1;
    if ((st[i + SEQ] & UP_BIT) === 0 && from !== this.#self) {
      st[i + SEQ] |= UP_BIT;
      this.#upCount++;
      this.#report.memberUp(from);
    }
  }

  /** Handles a Sync or FullState; returns true when a gap means the sender's full state is needed. */
  receive(from: NodeId, seq: number, u: Updates, isFull: boolean, now: number): boolean {
    this.heard(from, now);
    const i = from * STRIDE + SEQ;
    const word = this.#st[i];
    const prev = word & SEQ_MASK;
    // seqs past 2^30 (34 years at one Sync a second) would wrap; runs are far shorter
    if (seq > prev) this.#st[i] = (word & ~SEQ_MASK) | (seq & SEQ_MASK);
    if (u.length > 0) this.apply(u);
    return !isFull && seq > prev + 1;
  }

  down(member: NodeId): void {
    if (!this.isUp(member)) return;
    this.#st[member * STRIDE + SEQ] &= ~UP_BIT;
    this.#upCount--;
    this.#report.memberDown(member);
  }

  /** Drops members not heard from within failAfterMs. */
  expire(now: number): void {
    const st = this.#st;
    const cutoff = Math.floor(now) + 1 - this.#failAfterMs;
    for (let m = 0, i = 0; m <= this.#maxId; m++, i += STRIDE) {
      if ((st[i + SEQ] & UP_BIT) !== 0 && st[i + HEARD] < cutoff) this.down(m);
    }
  }

  /** Forgets a member entirely (it left the membership list): a later first contact is a new start. */
  forget(member: NodeId): void {
    this.down(member);
    if (member * STRIDE < this.#st.length) this.#st[member * STRIDE + SEQ] &= ~SEQ_MASK;
  }
}

/** Parameters both all-to-all protocols share, with their sources. */
export const ALL_TO_ALL_PARAMS = {
  syncIntervalMs: {
    default: 1000,
    unit: 'ms',
    min: 1,
    description: 'how often a node syncs with each peer; lower → fresher shard maps, more messages (N·(N−1) per interval)',
    source: 'assumption: AWS did not publish the FE sync period; 1 s equals memberlist\'s LAN ProbeInterval so protocols compare at one period',
  },
  failAfterIntervals: {
    default: 3,
    min: 1,
    description: 'a peer not heard from for this many sync intervals leaves the view; lower → faster detection, more false positives',
    source: 'assumption: three missed heartbeats, a common heartbeat failure-detector setting',
  },
  membershipPollMs: {
    default: 5000,
    unit: 'ms',
    min: 1,
    description: 'how often a node re-reads the membership service for new and departed members',
    source: 'assumption: a periodic refresh of the bootstrap list; Kinesis FEs read a membership microservice',
  },
} as const;

/**
 * What both all-to-all protocols promise (src/contract/protocol.ts ProtocolPromises): a peer that
 * stops syncing is declared failed after failAfterIntervals intervals without a sync, checked every
 * interval; a joiner is dialed at the next membership poll and synced within an interval; a reshard
 * goes out with the originator's next sync; a peer that comes back is re-added at the next poll.
 */
export function allToAllPromises(params: ParamValues): ProtocolPromises {
  const interval = params.syncIntervalMs as number;
  const poll = params.membershipPollMs as number;
  return {
    detectAllMs: (Number(params.failAfterIntervals) + 1) * interval,
    joinAfterListedMs: poll + 2 * interval,
    disseminateMs: interval,
    recoverMs: poll + 2 * interval,
  };
}
