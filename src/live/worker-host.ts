/**
 * A thread of a live node: a real worker_threads Worker running a protocol's ThreadMain export
 * (the same code the simulator runs as an actor). It dials its own ws client connections, so a
 * thread that connect()s to a peer really holds a socket; frames the peer sends to this node's
 * server are forwarded here by the main loop (the receiver rule), and posts travel by
 * postMessage. Counters live in shared memory so the main loop can report them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ConnectResult, ProtocolDefinition, ThreadActor, ThreadContext, ThreadMain, TimerId } from '../contract/protocol.ts';
import { Rng } from '../harness/rng.ts';
import { C_BAD, C_BYTES, C_DROPPED, C_MSGS, C_RECEIVED, C_SOCKETS, DropFilter, SocketBudget, filterStream, memoEncoder, runClock, threadStream } from './host-common.ts';
import type { FromWorker, ToWorker, WorkerInit } from './ipc.ts';
import { HELLO_PEER, Link, NO_TOKEN, helloFrame, tokenBytes } from './transport.ts';

/** `modules`: the namespaces of the definition's threadEntries modules, in the same order. */
export function runWorker(base: ProtocolDefinition<any>, modules: ReadonlyArray<Record<string, unknown>>): void {
  const port = parentPort;
  if (!port) throw new Error('worker host: not in a Worker');
  const d = workerData as WorkerInit;
  const def = base.specialize?.(d.params) ?? base;
  const codec = def.codec;
  // keys from the definition as evaluated in this bundle: the same strings spawnThread sees
  const mains = new Map<string, ThreadMain<any>>((def.threadEntries ?? []).map((e, i) => [`${e.module}#${e.export}`, modules[i]?.[e.export] as ThreadMain<any>]));
  const main = mains.get(d.entry);
  if (typeof main !== 'function') throw new Error(`worker host: no thread entry ${d.entry} (known: ${[...mains.keys()].join(', ')})`);
  const post = (m: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);
  const counters = new Float64Array(d.counters);
  const budget = new SocketBudget(d.sockets);
  const addrs = new Map(d.addrs);
  const hosts = new Map(d.hosts ?? []);
  const filter = new DropFilter(d.self, new Rng(d.seed, filterStream(d.self, d.threadId)));
  filter.set(d.loss, d.groups);
  const rng = new Rng(d.seed, threadStream(d.self, d.threadId));
  const now = runClock(d.t0Epoch);
  const encode = memoEncoder((m: unknown) => codec.encode(m));
  const links = new Map<number, Link>();
  const timers = new Map<number, NodeJS.Timeout>();
  let timerSeq = 0;
  let actor: ThreadActor<any> | null = null;
  const token = d.token ? tokenBytes(d.token) : NO_TOKEN;
  /** a frame that does not decode is dropped and counted, never fatal (as on the main loop) */
  const deliver = (from: number, b: Uint8Array, counted: boolean) => {
    let msg: unknown;
    try {
      msg = codec.decode(b);
    } catch {
      counters[C_BAD]++;
      return;
    }
    // frames forwarded by the main loop were counted there
    if (!counted) counters[C_RECEIVED]++;
    actor?.onMessage(from, msg);
  };

  const ctx: ThreadContext<any> = {
    self: d.self,
    now,
    random: () => rng.next(),
    setTimer(delayMs: number, tag: number): TimerId {
      if (!(delayMs >= 0)) throw new RangeError(`setTimer: delay must be ≥ 0 ms, got ${delayMs}`);
      const id = ++timerSeq;
      timers.set(
        id,
        setTimeout(() => {
          timers.delete(id);
          actor!.onTimer(tag);
        }, delayMs),
      );
      return id;
    },
    cancelTimer(id: TimerId): void {
      const t = timers.get(id);
      if (t) {
        clearTimeout(t);
        timers.delete(id);
      }
    },
    send(to: number, msg: unknown): void {
      const bytes = encode(msg);
      counters[C_MSGS]++;
      counters[C_BYTES] += bytes.length;
      if (!filter.pass(to)) {
        counters[C_DROPPED]++;
        return;
      }
      const link = links.get(to);
      if (link?.alive) {
        if (!link.send(bytes)) counters[C_DROPPED]++;
        return;
      }
      // not held by this thread: datagram-like, by the node's main loop
      const copy = new Uint8Array(bytes);
      post({ k: 'datagram', to, bytes: copy }, [copy.buffer]);
    },
    connect(peer: number): ConnectResult {
      if (peer === d.self || !addrs.has(peer) || !filter.sameSide(peer)) return 'refused';
      if (links.get(peer)?.alive) return 'ok';
      if (!budget.tryOpen(d.fdsPerNode)) {
        post({ k: 'limit', which: 'fds' });
        return 'refused';
      }
      counters[C_SOCKETS]++;
      const link = new Link(addrs.get(peer)!, helloFrame(HELLO_PEER, d.self, token), {
        message(b) {
          deliver(peer, b, false);
        },
        close() {
          counters[C_SOCKETS]--;
          budget.closed();
        },
      }, hosts.get(peer));
      links.set(peer, link);
      post({ k: 'hold', peer });
      return 'ok';
    },
    disconnect(peer: number): void {
      const link = links.get(peer);
      if (!link) return;
      links.delete(peer);
      link.close();
      post({ k: 'unhold', peer });
    },
    postToParent(msg: unknown): void {
      post({ k: 'post', msg });
    },
  };

  port.on('message', (m: ToWorker) => {
    switch (m.k) {
      case 'parent':
        actor!.onParentMessage(m.msg);
        return;
      case 'net':
        deliver(m.from, m.bytes, true);
        return;
      case 'addr':
        addrs.set(m.id, m.port);
        return;
      case 'host':
        hosts.set(m.id, m.host);
        return;
      case 'filter':
        filter.set(m.loss, m.groups);
        return;
    }
  });
  actor = main(ctx, d.init);
  post({ k: 'ready' });
}
