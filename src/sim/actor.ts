/**
 * One simulated actor: a node's main loop or one of its threads. It is also the context handed to
 * that actor and, for a thread, the handle its parent holds: thread-per-peer makes ~10⁵–10⁶ of
 * them, and one object each (no closures) keeps the working set, and cache misses, down.
 */
import type {
  ConnectResult,
  NodeContext,
  NodeProtocol,
  Reporter,
  SpawnResult,
  ThreadActor,
  ThreadContext,
  ThreadEntryRef,
  ThreadHandle,
  TimerId,
} from '../contract/protocol.ts';
import type { SimNode } from './host.ts';
import type { Simulation } from './simulation.ts';

export class Actor implements NodeContext<any>, ThreadContext<any>, Reporter, ThreadHandle {
  alive = true;
  impl!: NodeProtocol<any> | ThreadActor<any>;
  /** peers this actor dialed */
  dialed: Set<number> | null = null;
  /** the node's id, copied so the hot path need not touch the SimNode */
  readonly nid: number;
  constructor(readonly sim: Simulation, readonly id: number, readonly node: SimNode, readonly isThread: boolean, readonly parent: Actor | null) {
    this.nid = node.id;
  }

  // ActorContext
  get self(): number {
    return this.nid;
  }
  get report(): Reporter {
    return this;
  }
  now(): number {
    return this.sim.clock;
  }
  random(): number {
    return this.node.rng.next();
  }
  setTimer(delayMs: number, tag: number): TimerId {
    return this.sim.setTimer(this, delayMs, tag);
  }
  cancelTimer(id: TimerId): void {
    this.sim.cancelTimer(id);
  }
  send(to: number, msg: unknown): void {
    this.sim.send(this, to, msg);
  }
  connect(peer: number): ConnectResult {
    return this.sim.connect(this, peer);
  }
  disconnect(peer: number): void {
    this.sim.disconnect(this, peer);
  }
  // NodeContext
  membership(): readonly number[] {
    return this.sim.membershipOf(this.nid);
  }
  spawnThread(entry: ThreadEntryRef, init: unknown): SpawnResult {
    return this.sim.spawnThread(this, entry, init);
  }
  // ThreadContext
  postToParent(msg: unknown): void {
    this.sim.post(this.node.main, this, msg);
  }
  // ThreadHandle (held by the parent)
  post(msg: unknown): void {
    this.sim.post(this, this.parent!, msg);
  }
  stop(): void {
    this.sim.stopActor(this);
  }
  // Reporter
  memberUp(member: number): void {
    this.sim.sink.memberUp(this.nid, member, this.sim.clock);
  }
  memberDown(member: number): void {
    this.sim.sink.memberDown(this.nid, member, this.sim.clock);
  }
  shardUpdated(shard: number, version: number): void {
    this.sim.sink.shardUpdated(this.nid, shard, version, this.sim.clock);
  }
  count(name: string, delta = 1): void {
    this.sim.sink.count(name, delta);
  }
  routable(usable: boolean): void {
    this.sim.sink.routable(this.nid, usable, this.sim.clock);
  }
}
