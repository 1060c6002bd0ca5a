/**
 * The per-peer thread of thread-per-peer: it holds the connection to one peer, sends that peer
 * this node's Sync every interval, and hands whatever the peer sends to the node's main loop.
 * Loaded by module URL and export name, so the live runtime can run it in a real Worker.
 */
import type { NodeId, ThreadActor, ThreadContext } from '../../src/contract/protocol.ts';
import { EMPTY, FULL_STATE, SYNC, type AllToAllMsg } from '../shared/all-to-all.ts';

export interface PeerLoopInit {
  peer: NodeId;
  intervalMs: number;
  /** the node's own state, sent with the first Sync: a peer met after start missed the earlier deltas */
  initial: readonly number[];
}

/** main → thread */
export type ToThread = { k: 'delta'; u: readonly number[] } | { k: 'send'; msg: AllToAllMsg };
/** thread → main */
export type ToMain = { k: 'recv'; from: NodeId; msg: AllToAllMsg } | { k: 'refused'; peer: NodeId };

const TICK = 1;

export function peerLoop(ctx: ThreadContext<AllToAllMsg>, init: unknown): ThreadActor<AllToAllMsg> {
  const { peer, intervalMs, initial } = init as PeerLoopInit;
  let seq = 0;
  let pending: number[] = [...initial];
  if (ctx.connect(peer) === 'ok') ctx.setTimer(ctx.random() * intervalMs, TICK);
  else ctx.postToParent({ k: 'refused', peer } satisfies ToMain);

  return {
    onTimer() {
      const u = pending.length ? pending : EMPTY;
      pending = [];
      ctx.send(peer, { t: SYNC, seq: ++seq, u });
      ctx.setTimer(intervalMs, TICK);
    },
    onParentMessage(raw) {
      const m = raw as ToThread;
      if (m.k === 'delta') pending.push(...m.u);
      // a FullState carries the seq of this connection's last Sync, so the peer sees no gap after it
      else if (m.msg.t === FULL_STATE) ctx.send(peer, { ...m.msg, seq });
      else ctx.send(peer, m.msg);
    },
    onMessage(from, msg) {
      ctx.postToParent({ k: 'recv', from, msg } satisfies ToMain);
    },
  };
}
