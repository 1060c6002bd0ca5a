/**
 * A calibration probe process (bundled like a node host): measures one thing at a time on
 * request from calibrate.ts and answers with what the OS and V8 say.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { WorkerInit } from './ipc.ts';
import { HELLO_PEER, Link, helloFrame, startServer, type TransportKind } from './transport.ts';

export type ProbeCmd =
  | { k: 'rss' }
  | { k: 'workers'; count: number; workerUrl: string; entry: string; params: Record<string, number | boolean | string> }
  | { k: 'serve'; transport: TransportKind; uwsBinary: string | null }
  | { k: 'dial'; port: number; count: number }
  | { k: 'blast'; port: number; messages: number; bytes: number }
  | { k: 'echo'; port: number; requests: number }
  /** spaced round trips on an idle connection: loopback latency (each RTT, ms) */
  | { k: 'pings'; port: number; count: number; gapMs: number }
  /** a chain of 1 ms timers, one per wakeup: CPU per timer callback */
  | { k: 'timers'; count: number }
  /** a main-thread ↔ Worker postMessage ping-pong: CPU per thread wakeup */
  | { k: 'wakeups'; roundTrips: number }
  | { k: 'cpu' };

/** The ping-pong Worker: answers each post at once. */
const PONG = "const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m)); parentPort.postMessage(-1);";

const rss = () => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
const threads = () => Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 100));
  }
};
const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

export function runProbe(): void {
  process.on('disconnect', () => process.exit(0));
  const reply = (m: unknown) => process.send!(m);
  const keep: unknown[] = [];
  let received = 0;
  process.on('message', async (c: ProbeCmd) => {
    switch (c.k) {
      case 'rss':
        await settle();
        return reply({ rss: rss(), threads: threads() });
      case 'cpu':
        return reply({ cpuUs: cpuUs(), received });
      case 'workers': {
        await settle();
        const before = rss();
        const t0 = performance.now();
        const ready: Promise<void>[] = [];
        for (let i = 0; i < c.count; i++) {
          const workerData: WorkerInit = {
            self: 0,
            threadId: i + 1,
            params: c.params,
            seed: 1,
            entry: c.entry,
            // a peer that does not exist: the thread's connect is refused and it idles
            init: { peer: 1_000_000, intervalMs: 1000, initial: [] },
            t0Epoch: performance.timeOrigin,
            addrs: [],
            loss: 0,
            groups: [],
            fdsPerNode: 1000,
            sockets: new SharedArrayBuffer(8),
            counters: new SharedArrayBuffer(40),
          };
          const w = new Worker(new URL(c.workerUrl), { workerData });
          keep.push(w);
          ready.push(new Promise((r) => w.on('message', (m: { k: string }) => m.k === 'ready' && r())));
        }
        await Promise.all(ready);
        const spawnMs = (performance.now() - t0) / c.count;
        await settle();
        return reply({ bytesPerWorker: (rss() - before) / c.count, spawnMs, threads: threads() });
      }
      case 'serve': {
        const server = await startServer(
          c.transport,
          () => ({
            message: () => {
              received++;
            },
            close: () => {},
          }),
          c.uwsBinary ?? undefined,
        );
        keep.push(server);
        // echo server for request round trips on a second port
        const echo = await startServer(
          c.transport,
          (conn) => ({
            message: (b) => {
              if (b.length === 8) conn.send(b);
            },
            close: () => {},
          }),
          c.uwsBinary ?? undefined,
        );
        keep.push(echo);
        return reply({ port: server.port, echoPort: echo.port });
      }
      case 'dial': {
        await settle();
        const before = rss();
        let open = 0;
        await new Promise<void>((resolve) => {
          for (let i = 0; i < c.count; i++) {
            const l = new Link(c.port, helloFrame(HELLO_PEER, i), { message: () => {}, close: () => {} });
            keep.push(l);
            // a tiny frame after the hello: resolves once every connection carried data
            l.send(new Uint8Array(1));
            setImmediate(function poll() {
              if (++open === c.count) resolve();
            });
          }
        });
        await new Promise((r) => setTimeout(r, 1000));
        await settle();
        return reply({ bytesPerConnection: (rss() - before) / c.count });
      }
      case 'blast': {
        const l = new Link(c.port, helloFrame(HELLO_PEER, 0), { message: () => {}, close: () => {} });
        const frame = new Uint8Array(c.bytes);
        await new Promise((r) => setTimeout(r, 200));
        const cpu0 = cpuUs();
        let sent = 0;
        // in slices, so the socket drains between them
        await new Promise<void>((resolve) => {
          const step = () => {
            for (let i = 0; i < 2000 && sent < c.messages; i++, sent++) l.send(frame);
            if (sent < c.messages) setImmediate(step);
            else resolve();
          };
          step();
        });
        await new Promise((r) => setTimeout(r, 300));
        l.close();
        return reply({ cpuUs: cpuUs() - cpu0 });
      }
      case 'echo': {
        let done = 0;
        const cpu0 = cpuUs();
        const t0 = performance.now();
        await new Promise<void>((resolve) => {
          const req = new Uint8Array(8);
          const l: Link = new Link(c.port, helloFrame(HELLO_PEER, 0), {
            message: () => {
              if (++done >= c.requests) resolve();
              else l.send(req);
            },
            close: () => {},
          });
          l.send(req);
        });
        const ms = performance.now() - t0;
        return reply({ cpuUs: cpuUs() - cpu0, perSec: c.requests / (ms / 1000) });
      }
      case 'pings': {
        const rtts: number[] = [];
        const req = new Uint8Array(8);
        let sentAt = 0;
        let l: Link;
        await new Promise<void>((resolve) => {
          const next = () => {
            sentAt = performance.now();
            l.send(req);
          };
          l = new Link(c.port, helloFrame(HELLO_PEER, 0), {
            message: () => {
              rtts.push(performance.now() - sentAt);
              if (rtts.length >= c.count) resolve();
              else setTimeout(next, c.gapMs);
            },
            close: () => {},
          });
          // the first round trip opens the connection: it is measured and dropped by the caller's warm-up
          next();
        });
        l!.close();
        return reply({ rtts });
      }
      case 'timers': {
        await settle();
        const cpu0 = cpuUs();
        const t0 = performance.now();
        await new Promise<void>((resolve) => {
          let left = c.count;
          const tick = () => (--left > 0 ? setTimeout(tick, 1) : resolve());
          setTimeout(tick, 1);
        });
        return reply({ cpuUs: cpuUs() - cpu0, wallMs: performance.now() - t0 });
      }
      case 'wakeups': {
        const w = new Worker(PONG, { eval: true });
        await new Promise((r) => w.once('message', r));
        const pingPong = (n: number) =>
          new Promise<void>((resolve) => {
            let left = n;
            w.removeAllListeners('message');
            w.on('message', () => (--left > 0 ? w.postMessage(left) : resolve()));
            w.postMessage(left);
          });
        await pingPong(Math.min(1000, c.roundTrips)); // warm-up: first-use costs are not charged
        const cpu0 = cpuUs();
        await pingPong(c.roundTrips);
        const cpu = cpuUs() - cpu0;
        await w.terminate();
        // a round trip is two wakeups: the Worker's and the main thread's
        return reply({ cpuUsPerWakeup: cpu / (2 * c.roundTrips) });
      }
    }
  });
  reply({ ready: true });
}
