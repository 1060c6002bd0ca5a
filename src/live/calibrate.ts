/**
 * Measures this machine's costs for the simulator's cost model, with the live runtime's own code
 * (bundled, in separate probe processes): RSS per Worker and its spawn time, memory per
 * connection for ws and uWS (server side and ws-client side, summed: a live node holds one of each
 * per peer), CPU per message (mean of the send and receive side, as the simulator charges
 * cpuUsPerMessage at both ends) and FE CPU per routed request. Cost names are those of
 * src/model/defaults.ts COSTS; what is not measured here is left out (the defaults apply).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { writeJsonAtomic } from '../results/files.ts';
import os from 'node:os';
import { COST_PROFILE_SCHEMA, PROFILE_ONLY_COSTS, type ProfileCostName } from '../model/cost-profile.ts';
import { COSTS, type CostName } from '../model/defaults.ts';
import { getProtocol } from '../protocols.ts';
import { buildBundles } from './bundle.ts';
import type { ProbeCmd } from './probe.ts';
import type { TransportKind } from './transport.ts';
import { checkUwsBinary, uwsBinaryPath } from './uws.ts';

export { COST_PROFILE_SCHEMA };

export interface CostProfile {
  schema: typeof COST_PROFILE_SCHEMA;
  measuredOn: { cpuModel: string; cpus: number; node: string; date: string };
  /** each figure with its unit and how it was measured (the `fleetbench/costs@1` sourced form) */
  costs: Partial<Record<ProfileCostName, { value: number; unit: string; source: string }>>;
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

      log(`${transport}: ${messages} one-way messages…`);
      const sender = await probe();
      const before = await server.ask<{ cpuUs: number; received: number }>({ k: 'cpu' });
      const sent = await sender.ask<{ cpuUs: number }>({ k: 'blast', port, messages, bytes: 64 });
      const after = await server.ask<{ cpuUs: number; received: number }>({ k: 'cpu' });
      const got = after.received - before.received;
      details[`cpuUsPerMessage.${transport}.send`] = sent.cpuUs / messages;
      details[`cpuUsPerMessage.${transport}.receive`] = (after.cpuUs - before.cpuUs) / Math.max(1, got);
      details[`messagesDelivered.${transport}`] = got;

      log(`${transport}: ${requests} request round trips…`);
      const e0 = await server.ask<{ cpuUs: number }>({ k: 'cpu' });
      const echo = await sender.ask<{ cpuUs: number; perSec: number }>({ k: 'echo', port: echoPort, requests });
      const e1 = await server.ask<{ cpuUs: number }>({ k: 'cpu' });
      details[`cpuUsPerRequest.${transport}`] = (e1.cpuUs - e0.cpuUs) / requests;
      details[`roundTripsPerSec.${transport}`] = echo.perSec;
      for (const p of [server, client, sender]) p.kill();
    }
    const t = opts.transport ?? 'ws';
    costs.bytesPerConnection = Number(details[`bytesPerConnection.${t}`]);
    costs.cpuUsPerMessage = (Number(details[`cpuUsPerMessage.${t}.send`]) + Number(details[`cpuUsPerMessage.${t}.receive`])) / 2;
    costs.cpuUsPerRequest = Number(details[`cpuUsPerRequest.${t}`]);
    details.transportInCosts = t;
    details.bytesPerConnection = 'server side + ws client side per connection (a live node holds one of each per peer)';
    details.cpuUsPerMessage = 'mean of sender and receiver CPU per 64-byte message, one connection, loopback';
    details.cpuUsPerRequest = 'FE-side CPU per 8-byte request answered, sequential round trips';
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
  const profile: CostProfile = { schema: COST_PROFILE_SCHEMA, measuredOn, costs: sourced, details };
  // never over a device or symlink; on a failed write the profile is saved elsewhere and named
  if (opts.out) writeJsonAtomic(opts.out, profile);
  return profile;
}
