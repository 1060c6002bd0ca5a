/**
 * The load generator: a separate process that sends routed requests to the FEs over the run's
 * transport and reports each answer (which cluster the FE routed to) to the coordinator, which
 * checks it against the truth at the instant of the answer.
 *
 * Modes: 'driven' sends the requests the coordinator's fleet driver issues (which FE, which
 * shard, when: the same draws as in the simulator); 'max' keeps a fixed number of requests in
 * flight (closed loop, FEs chosen here) to measure achieved routed requests per second. An answer
 * is judged at the instant its request was issued.
 * Wire: request frames carry (id u32, shard u32) records, answers (id u32, cluster i32).
 * A request unanswered within timeoutMs (a paused or dead FE) counts as failed.
 */
import { Rng } from '../harness/rng.ts';
import { Truth } from '../harness/truth.ts';
import { FlatRouter } from '../harness/flat-router.ts';
import type { FromLoadgen, ToLoadgen } from './ipc.ts';
import { HELLO_LOADGEN, Link, fallbackRunToken, helloFrame, tokenBytes } from './transport.ts';

type Init = Extract<ToLoadgen, { k: 'init' }>;

export function runLoadgen(): void {
  if (!process.send) throw new Error('load generator: must be started by the live coordinator');
  const sendUp = (m: FromLoadgen, cb?: () => void) => {
    if (process.connected) process.send!(m, undefined, undefined, cb ? () => cb() : undefined);
    else cb?.();
  };
  process.on('disconnect', () => process.exit(0));
  process.on('SIGINT', () => {});
  process.on('uncaughtException', (e) => {
    sendUp({ k: 'fatal', error: e.stack ?? e.message });
    setTimeout(() => process.exit(1), 200);
  });

  let init: Init | null = null;
  let rng: Rng;
  let picker: Truth;
  let t0Epoch = 0;
  const links = new Map<number, Link>();
  /** live FEs per cell, and each shard's cell (a flat fleet is one cell) */
  const byCell = new Map<number, number[]>();
  const cellOfFe = new Map<number, number>();
  let shardCell: Int32Array | null = null;
  const pending = new Map<number, [number, number, number, number]>(); // id → fe, shard, tIssued, tSent
  let nextId = 1;
  let answered: number[] = [];
  let failed: number[] = [];
  const now = () => performance.timeOrigin + performance.now() - t0Epoch;

  const onReply = (fe: number, b: Uint8Array) => {
    // replies are (id u32, cluster i32) pairs; anything else is not a node's answer: drop it
    if (b.length % 8 !== 0) return;
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const t = now();
    for (let i = 0; i + 8 <= b.length; i += 8) {
      const id = v.getUint32(i, true);
      const p = pending.get(id);
      if (!p) continue; // already timed out
      pending.delete(id);
      answered.push(fe, p[1], v.getInt32(i + 4, true), p[2], Math.round((t - p[3]) * 1000));
      if (init!.mode === 'max') issue(1);
    }
  };

  /** FEs on other hosts: fe → address (absent: loopback) */
  const feHosts = new Map<number, string>();
  const dial = (fe: number, port: number) => {
    links.set(
      fe,
      new Link(port, helloFrame(HELLO_LOADGEN, 0, tokenBytes(init!.token ?? fallbackRunToken(init!.seed))), {
        message: (b) => onReply(fe, b),
        close: () => links.delete(fe),
      }, feHosts.get(fe)),
    );
  };

  /** Issues k requests, each to a uniformly chosen FE of its shard's cell, one frame per FE. */
  const issue = (k: number) => {
    const byFe = new Map<number, number[]>();
    const t = now();
    for (let i = 0; i < k; i++) {
      const shard = picker.pickShard();
      const fes = byCell.get(shardCell ? shardCell[shard] : 0);
      if (!fes || fes.length === 0) {
        // no live FE serves that shard's cell: failed, as in the simulator
        failed.push(-1, t);
        continue;
      }
      const fe = fes[rng.int(fes.length)];
      const id = nextId++ >>> 0;
      pending.set(id, [fe, shard, t, t]);
      let l = byFe.get(fe);
      if (!l) byFe.set(fe, (l = []));
      l.push(id, shard);
    }
    sendBatches(byFe);
  };

  /** Driven mode: the driver's requests, each to the FE it chose, judged at the time it issued them. */
  const issueDriven = (reqs: number[]) => {
    const byFe = new Map<number, number[]>();
    const t = now();
    for (let i = 0; i + 2 < reqs.length; i += 3) {
      const fe = reqs[i], shard = reqs[i + 1], tIssued = reqs[i + 2];
      if (!links.has(fe)) {
        failed.push(fe, tIssued);
        continue;
      }
      const id = nextId++ >>> 0;
      pending.set(id, [fe, shard, tIssued, t]);
      let l = byFe.get(fe);
      if (!l) byFe.set(fe, (l = []));
      l.push(id, shard);
    }
    sendBatches(byFe);
  };

  const sendBatches = (byFe: Map<number, number[]>) => {
    for (const [fe, l] of byFe) {
      const b = new Uint8Array(l.length * 4);
      const v = new DataView(b.buffer);
      for (let i = 0; i < l.length; i++) v.setUint32(i * 4, l[i], true);
      links.get(fe)?.send(b);
    }
  };

  const expire = () => {
    const t = now();
    let n = 0;
    for (const [id, p] of pending) {
      if (t - p[3] < init!.timeoutMs) continue;
      pending.delete(id);
      failed.push(p[0], p[2]);
      n++;
    }
    if (init!.mode === 'max' && n > 0) issue(n);
  };

  const flush = (cb?: () => void) => {
    if (answered.length === 0 && failed.length === 0) return cb?.();
    sendUp({ k: 'res', answered, failed }, cb);
    answered = [];
    failed = [];
  };

  process.on('message', (m: ToLoadgen) => {
    switch (m.k) {
      case 'init':
        init = m;
        rng = new Rng(m.seed, 0x6c6f6164); // 'load'
        picker = new Truth(
          { shards: m.shards, clusters: 2, membershipLagMs: 0, requestsPerSec: 0, traffic: m.traffic, zipfExponent: m.zipfExponent, sampleEveryMs: 1000, storeReadsPerSec: 1, storeEntriesPerRead: 1, storeReadLatencyMs: 0 },
          new Rng(m.seed, 0x73686172), // 'shar'
          new FlatRouter(2), // only pickShard is used: cells come from the coordinator
        );
        sendUp({ k: 'ready' });
        return;
      case 'feHosts':
        for (const [fe, h] of m.entries) feHosts.set(fe, h);
        return;
      case 'fes':
        if (m.shardCell) shardCell = m.shardCell;
        for (const [fe, port, cell] of m.add) {
          if (!links.has(fe)) dial(fe, port);
          if (cellOfFe.has(fe)) continue;
          cellOfFe.set(fe, cell);
          let l = byCell.get(cell);
          if (!l) byCell.set(cell, (l = []));
          l.push(fe);
        }
        for (const f of m.remove) {
          const cell = cellOfFe.get(f);
          if (cell === undefined) continue;
          cellOfFe.delete(f);
          byCell.set(cell, byCell.get(cell)!.filter((x) => x !== f));
          links.get(f)?.close();
        }
        return;
      case 'start': {
        t0Epoch = m.t0Epoch;
        const cfg = init!;
        if (cfg.mode === 'max') {
          // closed loop: FEs connect asynchronously, so top up until the window is full
          setInterval(() => {
            const room = cfg.maxInFlight - pending.size;
            if (room > 0) issue(room);
          }, 20);
        }
        setInterval(expire, 50);
        setInterval(() => flush(), 100);
        return;
      }
      case 'issue':
        if (init?.mode === 'driven') issueDriven(m.reqs);
        return;
      case 'stop':
        for (const l of links.values()) l.close();
        flush(() => process.exit(0));
        setTimeout(() => process.exit(0), 1000);
        return;
    }
  });
}
