/**
 * Measures this machine's costs for the simulator's cost model, with the live runtime's own code
 * (bundled, in separate probe processes), per handler kind the simulator charges:
 * - memory: RSS per Worker and its spawn time, memory per connection for ws and uWS (server side
 *   and ws-client side, summed: a live node holds one of each per peer);
 * - a message: CPU per message (mean of the send and receive side, as the simulator charges
 *   cpuUsPerMessage at both ends), at two sizes, whose slope is the CPU per byte;
 * - a request: the FE's CPU per request answered (the simulator's request service time);
 * - a thread wakeup (context switch): process CPU per wakeup in a Worker postMessage ping-pong;
 * - a cold start's shard-map construction: CPU per store entry decoded and inserted;
 * - a timer: process CPU per main-loop timer callback (the simulator charges it nothing), and how
 *   late a 1 ms timer fires (costs.timerLateMs: the simulator adds it to every timer);
 * - the network: loopback one-way latency (half the round trip of spaced pings), for
 *   network.latencyMinMs / latencyMeanMs.
 * Cost names are those of src/model/defaults.ts COSTS and cost-profile.ts PROFILE_ONLY_COSTS /
 * PROFILE_NETWORK; what is not measured here is left out (the defaults apply).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { writeJsonAtomic } from '../results/files.ts';
import os from 'node:os';
import { COST_PROFILE_SCHEMA, PROFILE_ONLY_COSTS, type ProfileCostName, type ProfileNetworkName } from '../model/cost-profile.ts';
import { COSTS, NETWORK, type CostName } from '../model/defaults.ts';
import { getProtocol } from '../protocols.ts';
import { buildBundles } from './bundle.ts';
import type { ProbeCmd } from './probe.ts';
import type { TransportKind } from './transport.ts';
import { checkUwsBinary, uwsBinaryPath } from './uws.ts';
import { measureShardEntryUs } from './shard-map-build.ts';

/** the construction step's map: 100k shards in pages of 100 (FLEET.storeEntriesPerRead's default) */
const SHARD_MAP_ENTRIES = 100_000;
const SHARD_MAP_PAGE = 100;

export { COST_PROFILE_SCHEMA };

export interface CostProfile {
  schema: typeof COST_PROFILE_SCHEMA;
  measuredOn: { cpuModel: string; cpus: number; node: string; date: string };
  /** each figure with its unit and how it was measured (the `fleetbench/costs@1` sourced form) */
  costs: Partial<Record<ProfileCostName, { value: number; unit: string; source: string }>>;
  /** loopback latency, for `--set network.latencyMinMs=… network.latencyMeanMs=…` */
  network: Partial<Record<ProfileNetworkName, { value: number; unit: string; source: string }>>;
  /** how each figure was obtained, and the per-transport breakdown */
  details: Record<string, number | string>;
}

export interface CalibrateOptions {
  /** write the profile here (JSON) as well as returning it */
  out?: string;
  /** which transport's connection cost goes into costs.bytesPerConnection (default ws) */
  transport?: TransportKind;
  workers?: number;
  connections?: number;
  messages?: number;
  requests?: number;
  /** spaced pings for the loopback latency */
  pings?: number;
  /** timer callbacks, and Worker ping-pong round trips */
  timers?: number;
  wakeups?: number;
  log?: (line: string) => void;
}

class Probe {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  #waiting: Array<(m: any) => void> = [];
  constructor(file: string) {
    this.child = fork(file, [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: { ...process.env, NODE_OPTIONS: '' } });
    this.ready = new Promise((r) => this.#waiting.push(() => r()));
    this.child.on('message', (m) => this.#waiting.shift()?.(m));
  }
  ask<T>(c: ProbeCmd): Promise<T> {
    return new Promise((r) => {
      this.#waiting.push(r);
      this.child.send(c);
    });
  }
  kill(): void {
    this.child.kill('SIGKILL');
  }
}

export async function calibrate(opts: CalibrateOptions = {}): Promise<CostProfile> {
  const log = opts.log ?? (() => {});
  const workers = opts.workers ?? 16;
  const connections = opts.connections ?? 400;
  const messages = opts.messages ?? 50_000;
  const requests = opts.requests ?? 5_000;
  const pings = opts.pings ?? 400;
  const timers = opts.timers ?? 500;
  const wakeups = opts.wakeups ?? 5_000;
  const big = 4096;
  const tpp = getProtocol('thread-per-peer');
  const bundles = await buildBundles(tpp);
  const probes: Probe[] = [];
  const probe = async () => {
    const p = new Probe(bundles.probe);
    probes.push(p);
    await p.ready;
    return p;
  };
  const details: Record<string, number | string> = {};
  const costs: Partial<Record<CostName, number>> = {};
  const unmodelled: { cpuUsPerTimer?: number; cpuUsPerByte?: number } = {};
  const latency: Partial<Record<ProfileNetworkName, number>> = {};
  try {
    log('process baseline…');
    const base = await probe();
    const r0 = await base.ask<{ rss: number; threads: number }>({ k: 'rss' });
    costs.baseProcessBytes = r0.rss;
    details.baseThreads = r0.threads;
    details.baseProcessBytes = 'RSS of an idle probe process that loaded the bundled live code (ws, transports), after GC';

    log(`${workers} Workers…`);
    const entry = tpp.threadEntries![0];
    const w = await base.ask<{ bytesPerWorker: number; spawnMs: number; threads: number }>({
      k: 'workers',
      count: workers,
      workerUrl: bundles.workerUrl,
      // keys as the bundle evaluates them: module URLs are rewritten to the chunk's directory
      entry: `${new URL('./peer-loop.ts', bundles.workerUrl).href}#${entry.export}`,
      params: {},
    });
    costs.bytesPerThread = Math.round(w.bytesPerWorker);
    details.workerSpawnMs = w.spawnMs;
    details.threadsPerWorker = (w.threads - r0.threads) / workers;
    details.bytesPerThread = `RSS growth per live Worker (bundled worker host + ws, a thread-per-peer peer loop idle), ${workers} spawned at once`;

    for (const transport of ['ws', 'uws'] as const) {
      const uwsBinary = transport === 'uws' ? checkUwsBinary(uwsBinaryPath()) : null;
      log(`${transport}: ${connections} connections…`);
      const server = await probe();
      const client = await probe();
      const { port, echoPort } = await server.ask<{ port: number; echoPort: number }>({ k: 'serve', transport, uwsBinary });
      const s0 = await server.ask<{ rss: number }>({ k: 'rss' });
      const c = await client.ask<{ bytesPerConnection: number }>({ k: 'dial', port, count: connections });
      const s1 = await server.ask<{ rss: number }>({ k: 'rss' });
      const serverSide = (s1.rss - s0.rss) / connections;
      details[`bytesPerConnection.${transport}.server`] = Math.round(serverSide);
      details[`bytesPerConnection.${transport}.client`] = Math.round(c.bytesPerConnection);
      details[`bytesPerConnection.${transport}`] = Math.round(serverSide + c.bytesPerConnection);

      const sender = await probe();
      // two sizes: the per-message cost at 64 bytes, and the slope per byte up to `big`
      for (const [bytes, count] of [[64, messages], [big, Math.ceil(messages / 4)]] as const) {
        log(`${transport}: ${count} one-way messages of ${bytes} bytes…`);
        const before = await server.ask<{ cpuUs: number; received: number }>({ k: 'cpu' });
        const sent = await sender.ask<{ cpuUs: number }>({ k: 'blast', port, messages: count, bytes });
        const after = await server.ask<{ cpuUs: number; received: number }>({ k: 'cpu' });
        const got = after.received - before.received;
        const at = bytes === 64 ? '' : `.${bytes}B`;
        details[`cpuUsPerMessage.${transport}.send${at}`] = sent.cpuUs / count;
        details[`cpuUsPerMessage.${transport}.receive${at}`] = (after.cpuUs - before.cpuUs) / Math.max(1, got);
        details[`messagesDelivered.${transport}${at}`] = got;
      }
      const mean = (at: string) => (Number(details[`cpuUsPerMessage.${transport}.send${at}`]) + Number(details[`cpuUsPerMessage.${transport}.receive${at}`])) / 2;
      details[`cpuUsPerByte.${transport}`] = Math.max(0, (mean(`.${big}B`) - mean('')) / (big - 64));

      log(`${transport}: ${pings} spaced pings (loopback latency)…`);
      const { rtts } = await sender.ask<{ rtts: number[] }>({ k: 'pings', port: echoPort, count: pings + 20, gapMs: 2 });
      // the first round trips open the connection and warm the code: dropped
      const oneWay = rtts.slice(20).map((x) => x / 2).sort((a, b) => a - b);
      details[`latencyMinMs.${transport}`] = oneWay[Math.floor(0.01 * oneWay.length)];
      details[`latencyP50Ms.${transport}`] = oneWay[Math.floor(0.5 * oneWay.length)];
      details[`latencyMeanMs.${transport}`] = oneWay.reduce((a, x) => a + x, 0) / oneWay.length;

      log(`${transport}: ${requests} request round trips…`);
      const e0 = await server.ask<{ cpuUs: number }>({ k: 'cpu' });
      const echo = await sender.ask<{ cpuUs: number; perSec: number }>({ k: 'echo', port: echoPort, requests });
      const e1 = await server.ask<{ cpuUs: number }>({ k: 'cpu' });
      details[`cpuUsPerRequest.${transport}`] = (e1.cpuUs - e0.cpuUs) / requests;
      details[`roundTripsPerSec.${transport}`] = echo.perSec;
      for (const p of [server, client, sender]) p.kill();
    }

    log(`${timers} timer callbacks, one per wakeup…`);
    const tm = await (await probe()).ask<{ cpuUs: number; wallMs: number }>({ k: 'timers', count: timers });
    details.cpuUsPerTimer = `process CPU over a chain of ${timers} setTimeout(1) callbacks (one per event-loop wakeup, nothing else running in the probe), divided by ${timers}; wall ${tm.wallMs.toFixed(0)} ms`;
    const cpuUsPerTimer = tm.cpuUs / timers;
    // how late a 1 ms timer fires on an idle loop: a live FE's back-end hold is such a timer
    const timer1msWallMs = tm.wallMs / timers;
    details.timer1msWallMs = timer1msWallMs;
    costs.timerLateMs = Math.max(0, timer1msWallMs - 1);
    details.timerLateMs = `how late a setTimeout(1) fired, mean over a chain of ${timers} on an otherwise idle loop (wall ${tm.wallMs.toFixed(0)} ms / ${timers} − 1 ms): a live node's timers and its back-end hold are such timers`;

    log(`${wakeups} Worker ping-pong round trips…`);
    const wk = await base.ask<{ cpuUsPerWakeup: number }>({ k: 'wakeups', roundTrips: wakeups });
    costs.cpuUsPerWakeup = wk.cpuUsPerWakeup;
    details.cpuUsPerWakeup = `process CPU per wakeup in a main-thread ↔ Worker postMessage ping-pong of ${wakeups} round trips (two wakeups each), after a warm-up, beside ${workers} idle Workers`;

    log('shard-map construction from store pages…');
    // in this process, not a probe: it is pure computation (decode + insert), no sockets or threads
    const sm = measureShardEntryUs(SHARD_MAP_ENTRIES, SHARD_MAP_PAGE);
    costs.cpuUsPerShardEntry = sm.us;
    details.cpuUsPerShardEntry = `process CPU per entry to decode store pages (DynamoDB Query JSON, ${SHARD_MAP_PAGE} entries each) and insert them into the shard map's typed arrays, ${SHARD_MAP_ENTRIES} entries: median of 5 builds after a warm-up (${sm.rangeUs[0].toFixed(2)}–${sm.rangeUs[1].toFixed(2)} µs), src/live/shard-map-build.ts`;

    const t = opts.transport ?? 'ws';
    costs.bytesPerConnection = Number(details[`bytesPerConnection.${t}`]);
    costs.cpuUsPerMessage = (Number(details[`cpuUsPerMessage.${t}.send`]) + Number(details[`cpuUsPerMessage.${t}.receive`])) / 2;
    costs.cpuUsPerRequest = Number(details[`cpuUsPerRequest.${t}`]);
    details.transportInCosts = t;
    details.bytesPerConnection = 'server side + ws client side per connection (a live node holds one of each per peer)';
    details.cpuUsPerMessage = 'mean of sender and receiver CPU per 64-byte message, one connection, loopback';
    details.cpuUsPerRequest = "the FE's request service time: its CPU per 8-byte request answered (receive, answer, send), sequential round trips";
    unmodelled.cpuUsPerTimer = cpuUsPerTimer;
    unmodelled.cpuUsPerByte = Number(details[`cpuUsPerByte.${t}`]);
    details.cpuUsPerByte = `slope of the mean sender/receiver CPU per message between 64-byte and ${big}-byte messages (${messages} and ${Math.ceil(messages / 4)} of them), one connection, loopback`;
    latency.latencyMinMs = Number(details[`latencyMinMs.${t}`]);
    // the model draws min + Exp(mean − min); fitted by the median (min + ln 2 · (mean − min) = p50),
    // not the sample mean, which a few scheduling stalls of a shared machine drag far up (0.151 vs
    // 0.266 ms in two calibrations of one session, with the same p50)
    const minMs = latency.latencyMinMs, p50Ms = Number(details[`latencyP50Ms.${t}`]);
    latency.latencyMeanMs = minMs + Math.max(0, p50Ms - minMs) / Math.LN2;
    details.latency = `half the round trip of ${pings} 8-byte pings 2 ms apart on one idle ${t} connection (probe process to probe process, both handlers included): the 1st percentile (latencyMinMs), and latencyMeanMs fitted so that min + Exp(mean − min) has the measured median (the sample mean is latencyMeanMs.${t})`;
  } finally {
    for (const p of probes) p.kill();
    rmSync(bundles.dir, { recursive: true, force: true });
  }
  const measuredOn = { cpuModel: os.cpus()[0]?.model ?? 'unknown', cpus: os.cpus().length, node: process.version, date: new Date().toISOString() };
  const sourced: CostProfile['costs'] = {};
  for (const [k, value] of Object.entries(costs) as Array<[CostName, number]>) {
    sourced[k] = { value, unit: COSTS[k].unit, source: `measured: \`fleetbench calibrate\`, ${measuredOn.date}: ${details[k] ?? 'see details'}` };
  }
  sourced.threadSpawnUs = {
    value: Number(details.workerSpawnMs) * 1000,
    unit: PROFILE_ONLY_COSTS.threadSpawnUs.unit,
    source: `measured: \`fleetbench calibrate\`, ${measuredOn.date}: wall time to spawn ${workers} live Workers at once until all are ready, divided by ${workers}`,
  };
  for (const [k, value] of Object.entries(unmodelled) as Array<[keyof typeof unmodelled, number]>) {
    sourced[k] = { value, unit: PROFILE_ONLY_COSTS[k].unit, source: `measured: \`fleetbench calibrate\`, ${measuredOn.date}: ${details[k]}` };
  }
  const network: CostProfile['network'] = {};
  for (const [k, value] of Object.entries(latency) as Array<[ProfileNetworkName, number]>) {
    network[k] = { value, unit: NETWORK[k].unit, source: `measured: \`fleetbench calibrate\`, ${measuredOn.date}: ${details.latency}` };
  }
  const profile: CostProfile = { schema: COST_PROFILE_SCHEMA, measuredOn, costs: sourced, network, details };
  // never over a device or symlink; on a failed write the profile is saved elsewhere and named
  if (opts.out) writeJsonAtomic(opts.out, profile);
  return profile;
}
