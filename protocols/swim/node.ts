/**
 * One SWIM member (memberlist state.go): the probe loop, the membership state handlers, and
 * dissemination (piggyback on every datagram, a gossip round, push-pull).
 *
 * The state handlers obey the paper's override rules (SWIM §4.2) as memberlist implements them,
 * each a ladder of early returns:
 *   alive(m, i)   unknown → add; i ≤ known incarnation → ignore; about me → refute if i > mine;
 *                 else m is alive at i (this also revives a dead m: memberlist, not the paper)
 *   suspect(m, i) unknown → ignore; i < known → ignore; suspect at an older incarnation →
 *                 restart at i (the paper; memberlist only confirms); already suspect at i →
 *                 a confirmation (Lifeguard); dead → ignore; about me → refute; else suspect at i and start the timer
 *   dead(m, i)    unknown → ignore; i < known → ignore; already dead → ignore; about me → refute;
 *                 else dead at i (the paper's confirm overrides any incarnation; memberlist, and
 *                 this code, ignore an older one so a stale confirm cannot kill a refuted member)
 * Refuting sets the incarnation above the accusation and broadcasts alive (memberlist refute).
 *
 * Views are reported to the harness: memberUp when a member becomes alive or suspect from
 * unknown/dead, memberDown when it is declared dead or left. Suspicion alone changes no view.
 *
 * Timers carry their meaning in the tag: tag & 7 is the kind; for per-member and per-relay
 * timers tag >>> 3 (tag / 8) is the member id or the relay sequence number.
 */
import type { Bootstrap, NodeContext, NodeId, NodeProtocol, TimerId } from '../../src/contract/protocol.ts';
import { Awareness } from './awareness.ts';
import { BroadcastQueue } from './broadcast-queue.ts';
import { ALIVE, DEAD, LEFT, MemberTable, SUSPECT, UNKNOWN } from './members.ts';
import {
  ACK,
  GOSSIP,
  MAX_UPDATES_PER_MESSAGE,
  NACK,
  NO_UPDATES,
  PING,
  PING_REQ,
  PUSH_PULL,
  U_ALIVE,
  U_DEAD,
  U_LEFT,
  U_SHARD,
  U_SUSPECT,
  headerBytes,
  type SwimMsg,
  type Updates,
} from './messages.ts';
import type { SwimConfig } from './params.ts';
import { Suspicion } from './suspicion.ts';
import { pushPullScaleMs, retransmitLimit, suspicionTimeoutMs } from './timing.ts';

const T_JOIN_RETRY = 0;
const T_PROBE = 1;
const T_PROBE_TIMEOUT = 2;
const T_GOSSIP = 3;
const T_PUSH_PULL = 4;
const T_RECONNECT = 5;
const T_SUSPICION = 6; // tag = member * 8 + 6
const T_RELAY = 7; // tag = relaySeq * 8 + 7

const isLive = (s: number) => s === ALIVE || s === SUSPECT;
const isAlive = (s: number) => s === ALIVE;
/** memberlist gossip(): alive, suspect, and dead members not yet forgotten (left excluded) */
const isGossipTarget = (s: number) => s === ALIVE || s === SUSPECT || s === DEAD;

interface Relay {
  requester: NodeId;
  seq: number;
  nack: boolean;
}

export class SwimNode implements NodeProtocol<SwimMsg> {
  readonly #ctx: NodeContext<SwimMsg>;
  readonly #cfg: SwimConfig;
  #self = -1;
  #m!: MemberTable;
  readonly #q = new BroadcastQueue();
  readonly #aw: Awareness;
  #shardCluster!: Int32Array;
  #shardVersion!: Uint32Array;
  readonly #suspicions = new Map<NodeId, Suspicion>();
  /** dead and left members awaiting forgetting, in order of death: member → time to forget */
  readonly #reap = new Map<NodeId, number>();
  #leaving = false;

  // the probe in flight (one per protocol period)
  #probeSeq = 0;
  #probeTarget = -1;
  #probeAcked = true;
  #probeTimeoutTimer: TimerId = -1;
  /** probe ticks the probe in flight still holds the loop for (its deadline is the last) */
  #probeTicksLeft = 0;
  #expectedNacks = 0;
  #nacks = 0;

  // indirect probes this node relays for others
  #relaySeq = 0;
  readonly #relays = new Map<number, Relay>();

  // joining
  #joinPending = false;
  /** pushPullStart=agent-start: the first T_PUSH_PULL only ends memberlist's stagger */
  #pushPullStaggering = false;
  #joinTimer: TimerId = -1;
  #bootMembers: readonly NodeId[] = [];

  constructor(ctx: NodeContext<SwimMsg>, cfg: SwimConfig) {
    this.#ctx = ctx;
    this.#cfg = cfg;
    this.#aw = new Awareness(cfg.awarenessMaxMultiplier);
  }

  // ---- getters (tests) --------------------------------------------------------------------

  get members(): MemberTable {
    return this.#m;
  }
  get awarenessScore(): number {
    return this.#aw.score;
  }
  get queue(): BroadcastQueue {
    return this.#q;
  }
  suspicion(m: NodeId): Suspicion | undefined {
    return this.#suspicions.get(m);
  }

  // ---- lifecycle --------------------------------------------------------------------------

  start(boot: Bootstrap): void {
    const ctx = this.#ctx, cfg = this.#cfg;
    this.#self = boot.self;
    this.#shardCluster = boot.shardCluster;
    this.#shardVersion = boot.shardVersion;
    this.#m = new MemberTable(boot.self, boot.members.length, () => ctx.random());
    // The bootstrap list is taken as alive at incarnation 0: for the fleet already running it is
    // the agreed state; a joiner corrects it with the join push-pull below.
    for (const m of boot.members) {
      if (m === boot.self || this.#m.state(m) !== UNKNOWN) continue;
      this.#m.set(m, ALIVE, 0);
      ctx.report.memberUp(m);
    }
    // a joining node (memberlist Join): announce itself and exchange full state with a random
    // listed member
    if (boot.joining) {
      this.#q.enqueue(U_ALIVE, boot.self, 0, 0);
      this.#bootMembers = boot.members;
      this.#joinPending = true;
      this.#tryJoin();
    }
    // memberlist staggers every ticker by a random fraction of its interval
    ctx.setTimer(ctx.random() * cfg.probeIntervalMs, T_PROBE);
    if (cfg.gossipIntervalMs > 0) ctx.setTimer(ctx.random() * cfg.gossipIntervalMs, T_GOSSIP);
    if (cfg.pushPullIntervalMs > 0) {
      // steady: a uniform phase of the scaled interval (a long-running member); agent-start:
      // memberlist pushPullTrigger — a stagger in [0, interval), then the scaled interval
      this.#pushPullStaggering = cfg.pushPullStart === 'agent-start';
      const span = this.#pushPullStaggering ? cfg.pushPullIntervalMs : pushPullScaleMs(cfg.pushPullIntervalMs, this.#m.known);
      ctx.setTimer(ctx.random() * span, T_PUSH_PULL);
    }
    if (cfg.reconnectIntervalMs > 0) ctx.setTimer(ctx.random() * cfg.reconnectIntervalMs, T_RECONNECT);
  }

  #tryJoin(): void {
    const list = this.#bootMembers;
    let peer = -1;
    for (let i = 0; i < 8 && list.length > 1; i++) {
      const m = list[Math.floor(this.#ctx.random() * list.length)];
      if (m !== this.#self) {
        peer = m;
        break;
      }
    }
    if (peer < 0) {
      this.#joinPending = false; // alone: nothing to join
      return;
    }
    this.#sendPushPull(peer, false, true);
    this.#joinTimer = this.#ctx.setTimer(this.#cfg.joinRetryMs, T_JOIN_RETRY);
  }

  leave(): void {
    // memberlist Leave: broadcast dead-about-self (left); the node stops right after, so the
    // notice is sent now to gossipNodes members instead of waiting for a gossip round
    this.#leaving = true;
    const m = this.#m, self = this.#self;
    const inc = m.incarnation(self) + 1;
    m.set(self, LEFT, inc);
    this.#q.enqueue(U_LEFT, self, inc, 0);
    let a = -1, b = -1;
    for (let i = 0; i < this.#cfg.gossipNodes; i++) {
      const t = m.randomMember(isLive, a, b);
      if (t < 0) break;
      this.#ctx.send(t, { t: GOSSIP, u: this.#piggyback(headerBytes(GOSSIP)) });
      if (i === 0) a = t;
      else b = t;
    }
  }

  // ---- timers -----------------------------------------------------------------------------

  onTimer(tag: number): void {
    const kind = tag & 7;
    switch (kind) {
      case T_PROBE:
        return this.#onProbeTick();
      case T_PROBE_TIMEOUT:
        return this.#onProbeTimeout();
      case T_GOSSIP:
        return this.#onGossipTick();
      case T_PUSH_PULL:
        return this.#onPushPullTick();
      case T_RECONNECT:
        return this.#onReconnectTick();
      case T_JOIN_RETRY:
        if (this.#joinPending) this.#tryJoin();
        return;
      case T_SUSPICION:
        return this.#onSuspicionTimeout((tag - kind) / 8);
      case T_RELAY:
        return this.#onRelayTimeout((tag - kind) / 8);
    }
  }

  #onProbeTick(): void {
    // memberlist drives probeNode from a fixed ticker (ProbeInterval). probeNode blocks the loop:
    // an acked probe returns at its ack, an unacked one waits for its deadline, ProbeInterval ×
    // (awareness score + 1) after the ping (Lifeguard), and ticks arriving meanwhile are dropped
    // (Go's ticker). So awareness slows only the loop's failed probes, never the acked ones.
    this.#ctx.setTimer(this.#cfg.probeIntervalMs, T_PROBE);
    if (!this.#probeAcked && this.#probeTarget >= 0 && --this.#probeTicksLeft > 0) return;
    this.#finishProbe();
    this.#forgetDead();
    this.#startProbe();
  }

  #startProbe(): void {
    const m = this.#m, cfg = this.#cfg;
    const target = cfg.probeOrder === 'random' ? m.randomMember(isLive) : m.nextRoundRobin();
    this.#probeTarget = target;
    if (target < 0) return;
    const seq = ++this.#probeSeq;
    this.#probeAcked = false;
    // memberlist probeNode: deadline = sent + awareness.ScaleTimeout(ProbeInterval)
    this.#probeTicksLeft = cfg.lifeguard ? this.#aw.score + 1 : 1;
    this.#expectedNacks = 0;
    this.#nacks = 0;
    const u: number[] = [];
    // Lifeguard buddy system: a suspect learns of its suspicion from the ping itself
    if (cfg.lifeguard && m.state(target) === SUSPECT) u.push(U_SUSPECT, target, m.incarnation(target), this.#self);
    this.#ctx.send(target, { t: PING, seq, target, u: this.#piggyback(headerBytes(PING), u) });
    this.#probeTimeoutTimer = this.#ctx.setTimer(cfg.probeTimeoutMs, T_PROBE_TIMEOUT);
  }

  /** No direct ack within the probe timeout: ask k members to probe the target (SWIM §3.1). */
  #onProbeTimeout(): void {
    if (this.#probeAcked || this.#probeTarget < 0) return;
    const m = this.#m, cfg = this.#cfg, target = this.#probeTarget;
    let a = -1, b = -1, sent = 0;
    for (let i = 0; i < cfg.indirectChecks; i++) {
      // memberlist kRandomNodes filter: not self, not the target, only alive members
      const relay = m.randomMember(isAlive, target, a, b);
      if (relay < 0) break;
      this.#ctx.send(relay, { t: PING_REQ, seq: this.#probeSeq, target, nack: cfg.lifeguard, u: this.#piggyback(headerBytes(PING_REQ)) });
      sent++;
      if (i === 0) a = relay;
      else if (i === 1) b = relay;
    }
    if (cfg.lifeguard) this.#expectedNacks = sent;
    this.#ctx.report.count('indirectProbes');
  }

  /** End of the protocol period: an unacked target becomes suspect (SWIM §4.2). */
  #finishProbe(): void {
    if (this.#probeAcked || this.#probeTarget < 0) return;
    const target = this.#probeTarget;
    this.#probeAcked = true;
    this.#ctx.report.count('probeFailures');
    if (this.#cfg.lifeguard) {
      // memberlist probeNode: missed nacks point at ourselves; with no nackers any failure does
      const e = this.#expectedNacks;
      this.#aw.applyDelta(e > 0 ? e - Math.min(e, this.#nacks) : 1);
    }
    const s = this.#m.state(target);
    if (!isLive(s)) return;
    this.suspect(target, this.#m.incarnation(target), this.#self);
  }

  #onGossipTick(): void {
    const cfg = this.#cfg, m = this.#m;
    this.#ctx.setTimer(cfg.gossipIntervalMs, T_GOSSIP);
    if (this.#q.size === 0) return;
    let a = -1, b = -1;
    for (let i = 0; i < cfg.gossipNodes && this.#q.size > 0; i++) {
      const t = m.randomMember(isGossipTarget, a, b);
      if (t < 0) break;
      const u = this.#piggyback(headerBytes(GOSSIP));
      if (u.length > 0) this.#ctx.send(t, { t: GOSSIP, u });
      if (i === 0) a = t;
      else b = t;
    }
  }

  #onPushPullTick(): void {
    const cfg = this.#cfg, m = this.#m;
    if (this.#pushPullStaggering) {
      this.#pushPullStaggering = false;
      this.#ctx.setTimer(pushPullScaleMs(cfg.pushPullIntervalMs, m.known), T_PUSH_PULL);
      return;
    }
    const t = m.randomMember(isAlive);
    if (t >= 0) this.#sendPushPull(t, false, false);
    this.#ctx.setTimer(pushPullScaleMs(cfg.pushPullIntervalMs, m.known), T_PUSH_PULL);
  }

  /** serf-style reconnect: push-pull with a listed member we do not hold alive (partition heal). */
  #onReconnectTick(): void {
    const ctx = this.#ctx, m = this.#m;
    ctx.setTimer(this.#cfg.reconnectIntervalMs, T_RECONNECT);
    const listed = ctx.membership();
    if (listed.length <= 1 || m.live + 1 >= listed.length) return;
    for (let i = 0; i < 8; i++) {
      const c = listed[Math.floor(ctx.random() * listed.length)];
      if (c === this.#self || isLive(m.state(c))) continue;
      ctx.report.count('reconnects');
      this.#sendPushPull(c, false, false);
      return;
    }
  }

  #onSuspicionTimeout(member: NodeId): void {
    const s = this.#suspicions.get(member);
    if (!s) return;
    this.#suspicions.delete(member);
    // memberlist: the suspicion's timeout declares dead at the incarnation it was raised at
    this.dead(member, s.incarnation, false);
  }

  #onRelayTimeout(relaySeq: number): void {
    const r = this.#relays.get(relaySeq);
    if (!r) return;
    this.#relays.delete(relaySeq);
    if (r.nack) this.#ctx.send(r.requester, { t: NACK, seq: r.seq, u: this.#piggyback(headerBytes(NACK)) });
  }

  /** Forgets members dead for longer than gossipToTheDeadMs (memberlist resetNodes reaping). */
  #forgetDead(): void {
    if (this.#reap.size === 0) return;
    const now = this.#ctx.now();
    for (const [member, at] of this.#reap) {
      if (at > now) break;
      this.#reap.delete(member);
      const s = this.#m.state(member);
      if (s === DEAD || s === LEFT) this.#m.set(member, UNKNOWN, this.#m.incarnation(member));
    }
  }

  // ---- messages ---------------------------------------------------------------------------

  onMessage(from: NodeId, msg: SwimMsg): void {
    if (msg.t === PUSH_PULL) return this.#onPushPull(from, msg);
    if (msg.u.length > 0) this.applyUpdates(msg.u);
    switch (msg.t) {
      case PING:
        // memberlist handlePing: a ping meant for another node (a stale address) is ignored
        if (msg.target !== this.#self) return;
        this.#ctx.send(from, { t: ACK, seq: msg.seq, u: this.#piggyback(headerBytes(ACK)) });
        return;
      case ACK: {
        if (msg.seq === this.#probeSeq && !this.#probeAcked && this.#probeTarget >= 0) {
          this.#probeAcked = true;
          this.#ctx.cancelTimer(this.#probeTimeoutTimer);
          if (this.#cfg.lifeguard) this.#aw.applyDelta(-1);
          return;
        }
        const r = this.#relays.get(msg.seq);
        if (!r) return;
        this.#relays.delete(msg.seq);
        this.#ctx.send(r.requester, { t: ACK, seq: r.seq, u: this.#piggyback(headerBytes(ACK)) });
        return;
      }
      case PING_REQ: {
        const seq = ++this.#relaySeq;
        this.#relays.set(seq, { requester: from, seq: msg.seq, nack: msg.nack });
        // memberlist handleIndirectPing: the relay's ack handler expires, and its nack (if
        // asked) leaves, one full ProbeTimeout after the relay's ping
        this.#ctx.setTimer(this.#cfg.probeTimeoutMs, seq * 8 + T_RELAY);
        this.#ctx.send(msg.target, { t: PING, seq, target: msg.target, u: this.#piggyback(headerBytes(PING)) });
        return;
      }
      case NACK:
        if (msg.seq === this.#probeSeq && !this.#probeAcked) this.#nacks++;
        return;
      case GOSSIP:
        return;
    }
  }

  #onPushPull(from: NodeId, msg: Extract<SwimMsg, { t: typeof PUSH_PULL }>): void {
    // memberlist handleConn: answer with local state first, then merge the remote state
    if (!msg.reply) this.#sendPushPull(from, true, msg.join);
    else if (this.#joinPending) {
      this.#joinPending = false;
      this.#ctx.cancelTimer(this.#joinTimer);
    }
    this.mergeState(msg.members, msg.shards);
  }

  #sendPushPull(to: NodeId, reply: boolean, join: boolean): void {
    const sv = this.#shardVersion, sc = this.#shardCluster;
    // shards still at the boot configuration's version 1 are known to every booted node
    let changed = 0;
    for (let s = 0; s < sv.length; s++) if (sv[s] > 1) changed++;
    const shards = new Uint32Array(changed * 3);
    for (let s = 0, w = 0; s < sv.length; s++) {
      if (sv[s] <= 1) continue;
      shards[w++] = s;
      shards[w++] = sc[s];
      shards[w++] = sv[s];
    }
    this.#ctx.report.count('pushPulls');
    this.#ctx.send(to, { t: PUSH_PULL, reply, join, members: this.#m.snapshot(), shards });
  }

  /** memberlist mergeState: alive → alive; left → dead(left); dead or suspect → suspect. */
  mergeState(members: Uint32Array, shards: Uint32Array): void {
    const self = this.#self;
    for (let i = 0; i < members.length; i += 3) {
      const m = members[i], inc = members[i + 1], s = members[i + 2];
      if (s === ALIVE) this.alive(m, inc);
      else if (s === LEFT) this.dead(m, inc, true);
      else if (s === DEAD || s === SUSPECT) this.suspect(m, inc, self);
    }
    for (let i = 0; i < shards.length; i += 3) this.#applyShard(shards[i], shards[i + 1], shards[i + 2]);
  }

  applyUpdates(u: Updates): void {
    for (let i = 0; i < u.length; i += 4) {
      const a = u[i + 1], b = u[i + 2], c = u[i + 3];
      switch (u[i]) {
        case U_ALIVE:
          this.alive(a, b);
          break;
        case U_SUSPECT:
          this.suspect(a, b, c);
          break;
        case U_DEAD:
          this.dead(a, b, false);
          break;
        case U_LEFT:
          this.dead(a, b, true);
          break;
        case U_SHARD:
          this.#applyShard(a, b, c);
          break;
      }
    }
  }

  // ---- state handlers (memberlist aliveNode / suspectNode / deadNode) ---------------------

  alive(member: NodeId, inc: number): void {
    const m = this.#m;
    if (member === this.#self) {
      // someone holds a newer alive about us than we do: beat it (memberlist aliveNode, local)
      if (inc > m.incarnation(member) && !this.#leaving) this.#refute(inc);
      return;
    }
    const s = m.state(member);
    if (s !== UNKNOWN && inc <= m.incarnation(member)) return;
    m.set(member, ALIVE, inc);
    this.#clearSuspicion(member);
    this.#reap.delete(member);
    if (!isLive(s)) this.#ctx.report.memberUp(member);
    this.#q.enqueue(U_ALIVE, member, inc, 0);
  }

  suspect(member: NodeId, inc: number, from: NodeId): void {
    const m = this.#m, ctx = this.#ctx, cfg = this.#cfg;
    const s = m.state(member);
    if (s === UNKNOWN) return;
    if (inc < m.incarnation(member)) return;
    if (s === SUSPECT && inc > m.incarnation(member)) {
      // SWIM §4.2: suspect at a newer incarnation overrides the older suspicion (memberlist
      // only counts it as a confirmation); the suspicion restarts at the new incarnation
      this.#clearSuspicion(member);
      m.set(member, SUSPECT, inc);
      this.#q.enqueue(U_SUSPECT, member, inc, from);
      this.#startSuspicion(member, inc, from);
      return;
    }
    if (s === SUSPECT) {
      const sus = this.#suspicions.get(member);
      if (!sus || !cfg.lifeguard) return;
      const remaining = sus.confirm(from, ctx.now());
      if (remaining === null) return;
      ctx.report.count('suspicionConfirmations');
      ctx.cancelTimer(sus.timer);
      sus.timer = ctx.setTimer(Math.max(0, remaining), member * 8 + T_SUSPICION);
      this.#q.enqueue(U_SUSPECT, member, inc, from);
      return;
    }
    if (s === DEAD || s === LEFT) return;
    if (member === this.#self) {
      if (!this.#leaving) this.#refute(inc);
      return;
    }
    m.set(member, SUSPECT, inc);
    ctx.report.count('suspicions');
    this.#q.enqueue(U_SUSPECT, member, inc, from);
    this.#startSuspicion(member, inc, from);
  }

  dead(member: NodeId, inc: number, left: boolean): void {
    const m = this.#m;
    const s = m.state(member);
    if (s === UNKNOWN) return;
    if (inc < m.incarnation(member)) return;
    this.#clearSuspicion(member);
    if (s === DEAD || s === LEFT) return;
    if (member === this.#self) {
      if (!this.#leaving) this.#refute(inc);
      return;
    }
    m.set(member, left ? LEFT : DEAD, inc);
    this.#ctx.report.memberDown(member);
    this.#ctx.report.count(left ? 'leavesSeen' : 'deaths');
    this.#q.enqueue(left ? U_LEFT : U_DEAD, member, inc, 0);
    this.#reap.delete(member);
    this.#reap.set(member, this.#ctx.now() + this.#cfg.gossipToTheDeadMs);
  }

  #refute(accusedInc: number): void {
    const m = this.#m, self = this.#self;
    // memberlist refute: the next incarnation, skipped past the accusation if needed
    let inc = m.incarnation(self) + 1;
    if (accusedInc >= inc) inc = accusedInc + 1;
    m.set(self, ALIVE, inc);
    if (this.#cfg.lifeguard) this.#aw.applyDelta(1);
    this.#ctx.report.count('refutations');
    this.#q.enqueue(U_ALIVE, self, inc, 0);
  }

  #startSuspicion(member: NodeId, inc: number, from: NodeId): void {
    const cfg = this.#cfg, ctx = this.#ctx;
    const n = this.#m.known;
    // memberlist suspectNode: expect SuspicionMult − 2 confirmations, none in a tiny cluster
    let k = cfg.lifeguard ? cfg.suspicionMult - 2 : 0;
    if (n - 2 < k) k = 0;
    const min = suspicionTimeoutMs(cfg.suspicionMult, n, cfg.probeIntervalMs);
    const max = cfg.suspicionMaxTimeoutMult * min;
    const timeout = Suspicion.initialTimeoutMs(k, min, max);
    const timer = ctx.setTimer(timeout, member * 8 + T_SUSPICION);
    this.#suspicions.set(member, new Suspicion(member, inc, from, ctx.now(), k, min, max, timer));
  }

  #clearSuspicion(member: NodeId): void {
    const s = this.#suspicions.get(member);
    if (!s) return;
    this.#ctx.cancelTimer(s.timer);
    this.#suspicions.delete(member);
  }

  // ---- shard map --------------------------------------------------------------------------

  originate(shard: number, cluster: number, version: number): void {
    this.#applyShard(shard, cluster, version);
  }

  #applyShard(shard: number, cluster: number, version: number): void {
    if (shard >= this.#shardVersion.length || version <= this.#shardVersion[shard]) return;
    this.#shardCluster[shard] = cluster;
    this.#shardVersion[shard] = version;
    this.#ctx.report.shardUpdated(shard, version);
    this.#q.enqueue(U_SHARD, shard, cluster, version);
  }

  lookup(shard: number): number {
    return this.#shardCluster[shard];
  }

  // ---- dissemination ----------------------------------------------------------------------

  /** Updates to piggyback on one datagram with `header` bytes; `first` go ahead of the queue. */
  #piggyback(header: number, first?: number[]): Updates {
    if (this.#q.size === 0 && !first?.length) return NO_UPDATES;
    const out = first ?? [];
    let budget = this.#cfg.udpBufferBytes - header;
    for (let i = 0; i < out.length; i += 4) budget -= out[i] === U_SUSPECT ? 13 : 9;
    this.#q.fill(out, budget, MAX_UPDATES_PER_MESSAGE - out.length / 4, retransmitLimit(this.#cfg.retransmitMult, this.#m.known));
    return out.length ? out : NO_UPDATES;
  }
}
