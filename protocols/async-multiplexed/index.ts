/**
 * async-multiplexed: the all-to-all sync of thread-per-peer, from one event loop.
 * One non-blocking connection per peer (shared by the pair), one timer per node; every sync
 * interval the node sends the same Sync to every peer. No per-peer thread, so no thread ceiling:
 * what grows with N is fds, memory per connection and CPU per message.
 */
import type { NodeContext, NodeId, NodeProtocol, ParamValues, ProtocolDefinition, Bootstrap } from '../../src/contract/protocol.ts';
import {
  ALL_TO_ALL_PARAMS,
  allToAllPromises,
  AllToAllView,
  EMPTY,
  FULL_STATE,
  LEAVE,
  LEAVE_MSG,
  SYNC,
  SYNC_REQUEST,
  SYNC_REQUEST_MSG,
  allToAllCodec,
  type AllToAllMsg,
  type Updates,
} from '../shared/all-to-all.ts';

const TICK = 1;
const POLL = 2;

class AsyncMultiplexedNode implements NodeProtocol<AllToAllMsg> {
  readonly #ctx: NodeContext<AllToAllMsg>;
  readonly #intervalMs: number;
  readonly #failAfterMs: number;
  readonly #pollMs: number;
  #view!: AllToAllView;
  /** peers we sync with, in the order we learned them; the view's flag marks them for O(1) lookup */
  #peers: NodeId[] = [];
  #seq = 0;
  #pending: number[] = [];

  constructor(ctx: NodeContext<AllToAllMsg>, params: ParamValues) {
    this.#ctx = ctx;
    this.#intervalMs = params.syncIntervalMs as number;
    this.#failAfterMs = this.#intervalMs * (params.failAfterIntervals as number);
    this.#pollMs = params.membershipPollMs as number;
  }

  start(boot: Bootstrap): void {
    const ctx = this.#ctx;
    this.#view = new AllToAllView(boot.self, ctx.report, this.#failAfterMs, boot.shardCluster, boot.shardVersion, boot.members.length);
    for (const m of boot.members) this.#addPeer(m, false);
    // random phases spread the fleet's syncs and polls over the interval
    ctx.setTimer(ctx.random() * this.#intervalMs, TICK);
    ctx.setTimer(ctx.random() * this.#pollMs, POLL);
  }

  /**
   * Starts syncing with `m`. A peer added after start (it joined, or came back) missed the
   * deltas we sent so far: `announce` sends it our own state first, which Syncs build on.
   */
  #addPeer(m: NodeId, announce = true): void {
    const ctx = this.#ctx;
    if (m === ctx.self || this.#view.flag(m)) return;
    // a refused connection (fd limit) leaves the peer out; the next poll tries again
    if (ctx.connect(m) !== 'ok') {
      ctx.report.count('connectRefused');
      return;
    }
    this.#peers.push(m);
    this.#view.setFlag(m, true);
    if (announce) ctx.send(m, { t: FULL_STATE, seq: this.#seq, u: this.#view.ownState() });
  }

  #dropPeer(m: NodeId): void {
    if (!this.#view.flag(m)) return;
    this.#view.setFlag(m, false);
    this.#peers = this.#peers.filter((p) => p !== m);
    this.#ctx.disconnect(m);
    this.#view.forget(m);
  }

  onTimer(tag: number): void {
    const ctx = this.#ctx;
    if (tag === TICK) {
      const u: Updates = this.#pending.length ? this.#pending : EMPTY;
      this.#pending = [];
      const msg: AllToAllMsg = { t: SYNC, seq: ++this.#seq, u };
      for (const p of this.#peers) ctx.send(p, msg);
      this.#view.expire(ctx.now());
      ctx.setTimer(this.#intervalMs, TICK);
    } else if (tag === POLL) {
      const listed = ctx.membership();
      for (const m of listed) this.#addPeer(m);
      // forget peers the service no longer lists once they are silent too: a joiner we already
      // hear from is not listed yet (the service lags), and must not be dropped for that
      if (listed.length < this.#peers.length + 1) {
        const set = new Set(listed);
        for (const p of [...this.#peers]) if (!set.has(p) && !this.#view.isUp(p)) this.#dropPeer(p);
      }
      ctx.setTimer(this.#pollMs, POLL);
    }
  }

  onMessage(from: NodeId, msg: AllToAllMsg): void {
    const ctx = this.#ctx;
    switch (msg.t) {
      case SYNC:
      case FULL_STATE:
        // a first contact from a node we did not know yet (it joined): sync with it too
        if (!this.#view.flag(from)) this.#addPeer(from);
        if (this.#view.receive(from, msg.seq, msg.u, msg.t === FULL_STATE, ctx.now())) ctx.send(from, SYNC_REQUEST_MSG);
        return;
      case SYNC_REQUEST:
        ctx.send(from, { t: FULL_STATE, seq: this.#seq, u: this.#view.ownState() });
        return;
      case LEAVE:
        this.#dropPeer(from);
        return;
    }
  }

  originate(shard: number, cluster: number, version: number): void {
    this.#pending.push(...this.#view.originate(shard, cluster, version));
  }

  lookup(shard: number): number {
    return this.#view.shardCluster[shard];
  }

  leave(): void {
    for (const p of this.#peers) this.#ctx.send(p, LEAVE_MSG);
  }
}

export const asyncMultiplexed: ProtocolDefinition<AllToAllMsg> = {
  name: 'async-multiplexed',
  summary: 'all-to-all sync from one event loop: one non-blocking connection per peer, no per-peer thread',
  params: ALL_TO_ALL_PARAMS,
  codec: allToAllCodec,
  conformance: { promises: allToAllPromises },
  create: (ctx, params) => new AsyncMultiplexedNode(ctx, params),
};
