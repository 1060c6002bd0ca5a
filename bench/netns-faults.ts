/**
 * Kernel faults between namespace hosts, measured (`node --import tsx bench/netns-faults.ts`,
 * root only): what the pieces the `--hosts netns:K` integration will use do on this machine.
 *
 * 1. TCP round trip (1 byte, Nagle off, median of 200): inside one namespace over loopback vs
 *    between two namespace hosts over the run's bridge.
 * 2. Loss as applied here (tc netem, or the nftables random drop on kernels without netem):
 *    share of 1,000 pings lost one way at 5 % and 30 %.
 * 3. A partition of 1 s and of 4 s between two hosts carrying async-multiplexed nodes (2 on h0,
 *    1 on h1): time from heal until the lone node receives protocol messages again (its TCP
 *    connections stalled rather than dropped: does retransmission backoff delay recovery?).
 *
 * Writes results/runs/netns-faults.json (git-ignored) and prints it. Every namespace, process
 * and rule is removed at the end (and by the watchdog if this is killed).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { resolveRun } from '../src/harness/run-config.ts';
import type { RemoteNode } from '../src/live/agent-client.ts';
import { buildBundles } from '../src/live/bundle.ts';
import type { FromNode, ToNode } from '../src/live/ipc.ts';
import { NetnsHosts, netemUnavailableReason, netnsUnavailableReason } from '../src/live/netns.ts';
import { Placement } from '../src/live/placement.ts';
import { newRunToken } from '../src/live/transport.ts';

const why = await netnsUnavailableReason();
if (why) {
  process.stderr.write(`netns-faults: ${why}\n`);
  process.exit(2);
}
const RTT = resolve(import.meta.dirname, '../src/live/fixtures/netns-rtt.mjs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const out: Record<string, unknown> = { machine: { kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(), netem: (await netemUnavailableReason()) ?? 'available' }, note: 'measured on a shared 2-core machine under load from other work' };

async function rtt(hosts: NetnsHosts, a: number, b: number, addr: string): Promise<number> {
  const server = hosts.spawnIn(b, process.execPath, [RTT, 'server', addr], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<string>((res) => server.stdout!.once('data', (d: Buffer) => res(d.toString().trim())));
    return (JSON.parse(await hosts.execIn(a, process.execPath, [RTT, 'client', addr, port, '200'])) as { medianMs: number }).medianMs;
  } finally {
    server.kill('SIGKILL');
  }
}

function pingLoss(hosts: NetnsHosts, a: number, b: number, count: number): number {
  let text = '';
  try {
    text = execFileSync('ip', ['netns', 'exec', hosts.hosts[a].name, 'ping', '-q', '-c', String(count), '-i', '0.002', '-W', '1', hosts.hosts[b].address], { encoding: 'utf8' });
  } catch (e) {
    text = String((e as { stdout?: string }).stdout ?? '');
  }
  const m = /(\d+) packets transmitted, (\d+) received/.exec(text);
  return m ? 1 - Number(m[2]) / Number(m[1]) : NaN;
}

const hosts = await NetnsHosts.create(2);
try {
  const loop = await rtt(hosts, 0, 0, '127.0.0.1');
  const bridge = await rtt(hosts, 0, 1, hosts.hosts[1].address);
  out.tcpRoundTripMedianMs = { loopbackInOneNamespace: +loop.toFixed(3), betweenNamespaceHosts: +bridge.toFixed(3) };
  const loss: Record<string, unknown> = {};
  for (const pct of [5, 30]) {
    const how = await hosts.netem(0, 1, { lossPct: pct });
    loss[`${pct}%`] = { measured: +pingLoss(hosts, 0, 1, 1000).toFixed(3), pings: 1000, how };
    await hosts.clearNetem(0, 1);
  }
  out.loss = loss;
} finally {
  await hosts.teardown();
}

// 3: partition and resume, async-multiplexed nodes
const cfg = resolveRun({ protocol: 'async-multiplexed', scenario: 'steady', nodes: 3 });
const bundles = await buildBundles(cfg.protocol);
const p = await Placement.open({ kind: 'netns', hosts: 2 }, bundles);
// one token for the run: without it each node derives one from its parent's pid, and nodes under different agents refuse each other
const token = newRunToken();
try {
  const nodes: RemoteNode[] = [];
  const waiting = new Map<number, (n: number) => void>();
  const ports = await Promise.all(
    [0, 1, 2].map(async (id) => {
      const n = await p.fork(id);
      nodes[id] = n;
      return new Promise<number>((res) => {
        n.on('message', (m: FromNode) => (m.k === 'listening' ? res(m.port) : m.k === 'stats' ? waiting.get(id)?.(m.received) : undefined));
        n.send({ k: 'init', id, transport: 'ws', uwsBinary: null, workerBundle: p.workerBundleUrl(p.hostOf(id)), params: cfg.params, seed: 1, threadsPerNode: cfg.limits.threadsPerNode, fdsPerNode: cfg.limits.fdsPerNode, cgroup: null, statsEveryMs: 60_000, bindHost: p.hosts[p.hostOf(id)].address, token } satisfies ToNode);
      });
    }),
  );
  const t0Epoch = performance.timeOrigin + performance.now();
  for (const n of nodes) {
    n.send({ k: 'hosts', entries: nodes.map((x) => [x.id, p.hosts[p.hostOf(x.id)].address]) } satisfies ToNode);
    n.send({ k: 'addrs', entries: ports.map((port, id) => [id, port]) } satisfies ToNode);
    n.send({ k: 'start', boot: { self: n.id, joining: false, members: [0, 1, 2], shards: 8, shardCluster: new Int32Array(8), shardVersion: new Uint32Array(8) }, t0Epoch, membership: [0, 1, 2] } satisfies ToNode);
  }
  const received1 = () => new Promise<number>((res) => (waiting.set(1, res), nodes[1].send({ k: 'statsNow' } satisfies ToNode)));
  for (let i = 0; i < 60 && (await received1()) === 0; i++) await sleep(250);
  const syncMs = cfg.params.syncIntervalMs;
  const resume: Array<Record<string, unknown>> = [];
  // 30 s: the partition scenario's length, where TCP's retransmission backoff has grown to tens of seconds
  for (const partitionMs of [1000, 4000, 30_000]) {
    await sleep(2000);
    await p.netns!.partition([[0], [1]]);
    await sleep(partitionMs);
    const atHeal = await received1();
    await p.netns!.heal();
    const t = performance.now();
    let after = atHeal;
    while (after === atHeal && performance.now() - t < 90_000) {
      await sleep(50);
      after = await received1();
    }
    resume.push({ partitionMs, resumedAfterHealMs: after > atHeal ? Math.round(performance.now() - t) : null });
  }
  out.partitionResume = { protocol: 'async-multiplexed', syncIntervalMs: syncMs, pollEveryMs: 50, runs: resume };
} finally {
  await p.close();
  rmSync(bundles.dir, { recursive: true, force: true });
}

const file = resolve(import.meta.dirname, '../results/runs/netns-faults.json');
mkdirSync(resolve(file, '..'), { recursive: true });
writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
