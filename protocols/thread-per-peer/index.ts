/**
 * thread-per-peer: the Kinesis FE design (AWS post-event summary, 25 Nov 2020). One OS thread
 * and one connection per other FE; each thread syncs with its peer every interval and hands what
 * it hears to the main loop, which builds the view and the shard map. When a spawn is refused
 * (thread limit, or no memory for a stack) the peer goes untracked: nothing from it reaches this
 * node, exactly the failure of the outage. The main loop retries at each membership poll, as a
 * cache rebuild would, and is refused again while the fleet stays too large.
 *
 * Construction rule (2020: "cache construction failed … unable to route"): the shard map is built
 * from the messages of every listed peer, so while the process cannot start a thread for a listed
 * peer (the thread limit, or no memory for a stack) the construction has failed and the map must
 * not be trusted: lookups answer UNROUTABLE and the node reports its map unusable. The running
 * process does not rebuild a failed cache: only a restart (a cold start that rebuilds the map
 * from the configuration store) recovers it, as in 2020, when FEs had to be restarted a few
 * hundred per hour. A peer that is merely unreachable (crashed, not yet unlisted) fails its
 * connection, not the process's resources: it is untracked but does not fail the map.
 */
import { UNROUTABLE, type Bootstrap, type NodeContext, type NodeId, type NodeProtocol, type ParamValues, type ProtocolDefinition, type ThreadEntryRef, type ThreadHandle } from '../../src/contract/protocol.ts';
import {
  ALL_TO_ALL_PARAMS,
  allToAllPromises,
  AllToAllView,
  FULL_STATE,
  LEAVE,
  LEAVE_MSG,
  SYNC,
  SYNC_REQUEST,
  SYNC_REQUEST_MSG,
  allToAllCodec,
  type AllToAllMsg,
} from '../shared/all-to-all.ts';
import type { PeerLoopInit, ToMain, ToThread } from './peer-loop.ts';

export const PEER_LOOP: ThreadEntryRef = { module: new URL('./peer-loop.ts', import.meta.url).href, export: 'peerLoop' };

const EXPIRE = 1;
const POLL = 2;

class ThreadPerPeerNode implements NodeProtocol<AllToAllMsg> {
  readonly #ctx: NodeContext<AllToAllMsg>;
  readonly #intervalMs: number;
  readonly #failAfterMs: number;
  readonly #pollMs: number;
  #view!: AllToAllView;
  readonly #threads = new Map<NodeId, ThreadHandle>();
  /** peers listed by the membership service for which no thread could be started */
  readonly #untracked = new Set<NodeId>();
  #started = false;
  /** listed peers whose thread the process could not start (a resource refused it) */
  readonly #spawnRefused = new Set<NodeId>();
  /** false while a listed peer has no thread for want of resources: the map's construction failed */
  #usable = true;

  constructor(ctx: NodeContext<AllToAllMsg>, params: ParamValues) {
    this.#ctx = ctx;
    this.#intervalMs = params.syncIntervalMs as number;
    this.#failAfterMs = this.#intervalMs * (params.failAfterIntervals as number);
    this.#pollMs = params.membershipPollMs as number;
  }

  start(boot: Bootstrap): void {
    const ctx = this.#ctx;
    this.#view = new AllToAllView(boot.self, ctx.report, this.#failAfterMs, boot.shardCluster, boot.shardVersion, boot.members.length);
    for (const m of boot.members) this.#track(m);
    this.#checkConstruction();
    this.#started = true;
    ctx.setTimer(this.#intervalMs, EXPIRE);
    ctx.setTimer(ctx.random() * this.#pollMs, POLL);
  }

  #track(m: NodeId): void {
    if (m === this.#ctx.self || this.#threads.has(m)) return;
    const init: PeerLoopInit = { peer: m, intervalMs: this.#intervalMs, initial: this.#started ? this.#view.ownState() : [] };
    const r = this.#ctx.spawnThread(PEER_LOOP, init);
    if (r.ok) {
      this.#threads.set(m, r.thread);
      this.#untracked.delete(m);
      this.#spawnRefused.delete(m);
    } else {
      this.#spawnRefused.add(m);
      if (!this.#untracked.has(m)) this.#ctx.report.count('untrackedPeers');
      this.#untracked.add(m);
      this.#ctx.report.count('spawnRefused');
    }
  }

  #untrack(m: NodeId): void {
    const th = this.#threads.get(m);
    if (th) {
      th.stop();
      this.#threads.delete(m);
    }
    this.#untracked.delete(m);
    this.#spawnRefused.delete(m);
    this.#view.forget(m);
    this.#checkConstruction();
  }

  #checkConstruction(): void {
    // once failed, failed for this process's life
    if (!this.#usable || this.#spawnRefused.size === 0) return;
    this.#usable = false;
    this.#ctx.report.routable(false);
    this.#ctx.report.count('constructionFailed');
  }

  onTimer(tag: number): void {
    const ctx = this.#ctx;
    if (tag === EXPIRE) {
      this.#view.expire(ctx.now());
      ctx.setTimer(this.#intervalMs, EXPIRE);
    } else if (tag === POLL) {
      const listed = ctx.membership();
      for (const m of listed) this.#track(m);
      if (listed.length < this.#threads.size + this.#untracked.size + 1) {
        const set = new Set(listed);
        // as async-multiplexed: only members that are unlisted and silent are forgotten
        for (const m of [...this.#threads.keys(), ...this.#untracked]) if (!set.has(m) && !this.#view.isUp(m)) this.#untrack(m);
      }
      this.#checkConstruction();
      ctx.setTimer(this.#pollMs, POLL);
    }
  }

  /** From a live thread (the runtime drops posts of stopped threads): it names its peer. */
  onThreadMessage(thread: ThreadHandle, raw: unknown): void {
    const m = raw as ToMain;
    if (m.k === 'refused') {
      const peer = m.peer;
      // the connection could not be opened (fd limit): this peer is untracked too
      this.#untrack(peer);
      if (!this.#untracked.has(peer)) this.#ctx.report.count('untrackedPeers');
      this.#untracked.add(peer);
      this.#checkConstruction();
      return;
    }
    const { from: peer, msg } = m;
    switch (msg.t) {
      case SYNC:
      case FULL_STATE:
        if (this.#view.receive(peer, msg.seq, msg.u, msg.t === FULL_STATE, this.#ctx.now())) {
          thread.post({ k: 'send', msg: SYNC_REQUEST_MSG } satisfies ToThread);
        }
        return;
      case SYNC_REQUEST:
        thread.post({ k: 'send', msg: { t: FULL_STATE, seq: 0, u: this.#view.ownState() } } satisfies ToThread);
        return;
      case LEAVE:
        this.#untrack(peer);
        return;
    }
  }

  /** A message that arrived with no thread to receive it: the peer is untracked here. */
  onMessage(_from: NodeId, _msg: AllToAllMsg): void {
    this.#ctx.report.count('untrackedMessagesDropped');
  }

  originate(shard: number, cluster: number, version: number): void {
    const u = this.#view.originate(shard, cluster, version);
    for (const th of this.#threads.values()) th.post({ k: 'delta', u } satisfies ToThread);
  }

  lookup(shard: number): number {
    return this.#usable ? this.#view.shardCluster[shard] : UNROUTABLE;
  }

  leave(): void {
    for (const th of this.#threads.values()) th.post({ k: 'send', msg: LEAVE_MSG } satisfies ToThread);
  }
}

export const threadPerPeer: ProtocolDefinition<AllToAllMsg> = {
  name: 'thread-per-peer',
  summary: 'the Kinesis FE design: one OS thread and one connection per other FE, all-to-all sync',
  params: ALL_TO_ALL_PARAMS,
  codec: allToAllCodec,
  conformance: { promises: allToAllPromises },
  threadEntries: [PEER_LOOP],
  create: (ctx, params) => new ThreadPerPeerNode(ctx, params),
};
