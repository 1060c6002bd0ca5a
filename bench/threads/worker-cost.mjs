/*
 * What one idle Node worker_threads Worker costs: `node --expose-gc worker-cost.mjs K ROUNDTRIPS`
 * does what pthread-cost.c does, with default Workers (each its own V8 isolate and heap, no
 * resourceLimits): K Workers spawned one at a time, each posting once when it runs and then idle
 * (an open port keeps it alive); then the main thread and one Worker ping-pong ROUNDTRIPS times
 * with postMessage. Prints one JSON line with the same fields:
 *   bytesPerThread  VmRSS growth over the K idle Workers (process.memoryUsage().rss, after GC in
 *                   the main thread), divided by K
 *   createUs        mean wall time of new Worker() until its first message arrives (sequential)
 *   cpuUsPerWakeup  process CPU (process.cpuUsage: every thread, GC and V8 platform threads
 *                   included) per wakeup; a round trip is two wakeups (one message each way)
 * Plain JavaScript run by plain `node`, so the measured process carries no TypeScript loader.
 */
import { Worker } from 'node:worker_threads';

const WORKER = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => parentPort.postMessage(m));
parentPort.postMessage(0);
`;

const [k, roundtrips] = process.argv.slice(2).map(Number);
if (!(k >= 1) || !(roundtrips >= 1)) {
  process.stderr.write('usage: node --expose-gc worker-cost.mjs K ROUNDTRIPS\n');
  process.exit(2);
}

const gc = globalThis.gc ?? (() => {});
const firstMessage = (w) => new Promise((resolve, reject) => {
  w.once('message', resolve);
  w.once('error', reject);
});

async function pingPong(w, n) {
  let left = n;
  const done = new Promise((resolve) => {
    w.on('message', () => (--left > 0 ? w.postMessage(left) : resolve()));
  });
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  w.postMessage(left);
  await done;
  const cpu = process.cpuUsage(c0);
  const wall = Number(process.hrtime.bigint() - t0) / 1e3;
  w.removeAllListeners('message');
  return { cpuUs: (cpu.user + cpu.system) / (2 * n), wallUs: wall / (2 * n) };
}

// warm-up: one Worker and a short ping-pong, so first-use costs (libuv pool, code caches) are not charged
const warm = new Worker(WORKER, { eval: true });
await firstMessage(warm);
await pingPong(warm, Math.min(roundtrips, 1000));
await warm.terminate();
gc();
await new Promise((r) => setTimeout(r, 100));

const workers = [];
try {
  const rss0 = process.memoryUsage().rss;
  let createUs = 0;
  for (let i = 0; i < k; i++) {
    const t0 = process.hrtime.bigint();
    const w = new Worker(WORKER, { eval: true });
    workers.push(w);
    await firstMessage(w);
    createUs += Number(process.hrtime.bigint() - t0) / 1e3;
  }
  gc();
  const rss1 = process.memoryUsage().rss;
  const wake = await pingPong(workers[0], roundtrips);
  process.stdout.write(
    JSON.stringify({
      runtime: 'node-worker',
      k,
      rssBeforeBytes: rss0,
      rssAfterBytes: rss1,
      bytesPerThread: (rss1 - rss0) / k,
      createUs: createUs / k,
      roundtrips,
      cpuUsPerWakeup: wake.cpuUs,
      wallUsPerWakeup: wake.wallUs,
      node: process.version,
    }) + '\n',
  );
} finally {
  await Promise.all(workers.map((w) => w.terminate()));
}
