/**
 * One protocol node outside the simulator, for micro-benchmarks: a virtual clock, timers run in
 * order by `advance`, sends captured, threads refused (thread-per-peer then tracks no peer, which
 * is fine for lookups). Deterministic: its random() is a fixed LCG.
 */
import type { NodeContext, NodeId, NodeProtocol, ProtocolDefinition } from '../../src/contract/protocol.ts';

export interface FakeNode<M> {
  node: NodeProtocol<M>;
  sent: { to: NodeId; msg: M }[];
  advance(ms: number): void;
}

export function fakeNode<M>(def: ProtocolDefinition<M>, opts: { self: NodeId; members: NodeId[]; shards: number; params?: Record<string, number | boolean | string> }): FakeNode<M> {
  let now = 0;
  let seed = 0x9e3779b9 ^ opts.self;
  let nextTimer = 1;
  const timers = new Map<number, { at: number; tag: number }>();
  const sent: { to: NodeId; msg: M }[] = [];
  const ctx: NodeContext<M> = {
    self: opts.self,
    now: () => now,
    random: () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32,
    setTimer: (d, tag) => {
      timers.set(nextTimer, { at: now + d, tag });
      return nextTimer++;
    },
    cancelTimer: (id) => void timers.delete(id),
    send: (to, msg) => void sent.push({ to, msg }),
    connect: () => 'ok',
    disconnect: () => {},
    membership: () => opts.members,
    spawnThread: () => ({ ok: false, reason: 'threads' }),
    report: { memberUp: () => {}, memberDown: () => {}, shardUpdated: () => {}, count: () => {} },
  };
  const params: Record<string, number | boolean | string> = {};
  for (const [k, spec] of Object.entries(def.params)) params[k] = spec.default;
  Object.assign(params, opts.params);
  // a definition that depends on its parameters (cell-partitioned) is specialised first, as the simulator does
  const concrete = def.specialize ? def.specialize(params) : def;
  const node = concrete.create(ctx, params);
  const shardCluster = new Int32Array(opts.shards);
  for (let s = 0; s < opts.shards; s++) shardCluster[s] = s % 16;
  node.start({ self: opts.self, joining: false, members: opts.members, shards: opts.shards, shardCluster, shardVersion: new Uint32Array(opts.shards).fill(1) });
  return {
    node,
    sent,
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        let best = -1, bestAt = Infinity;
        for (const [id, t] of timers) if (t.at <= end && t.at < bestAt) (best = id), (bestAt = t.at);
        if (best < 0) break;
        const t = timers.get(best)!;
        timers.delete(best);
        now = t.at;
        node.onTimer(t.tag);
      }
      now = end;
    },
  };
}
