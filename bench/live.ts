/**
 * Live scale benchmark (`node --import tsx bench/live.ts`, or `npm run bench:live`):
 * async-multiplexed (and swim, when registered) at N=100 over uWS and ws, and thread-per-peer at
 * the largest N this machine holds. Each run is the steady scenario, bounded (20 s by default),
 * with the load generator in closed loop (64 requests in flight) so routed requests/s is the
 * achieved figure. Prints a table and writes result files under results/runs/ (git-ignored).
 *
 * Options: --duration <ms> (20000), --n <N> (100), --tpp-n <N> (largest the capacity check admits,
 * capped at 40), --only <protocol>.
 *
 * Then, where serf runs, a second table: real Serf agents (`-p serf`, a black-box protocol) next to
 * fleetbench's swim at --serf-n (32) on a crash of 3 members at 5 s (25 s, paced load, ws): RSS
 * and threads per node (serf: node host + agent), memberlist's messages/s, detection. `--only serf`
 * runs this table alone.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveRun } from '../src/harness/run-config.ts';
import { loadScenario } from '../src/harness/scenario.ts';
import { planFleet } from '../src/live/capacity.ts';
import { runLive } from '../src/live/coordinator.ts';
import type { TransportKind } from '../src/live/transport.ts';
import { PROTOCOLS } from '../src/protocols.ts';
import { writeResultAtomic, type Result } from '../src/results/schema.ts';
import { serfUnavailableReason } from '../src/blackbox/serf/agent.ts';
import { getRuntime } from '../src/runtimes.ts';

const { values } = parseArgs({
  options: { duration: { type: 'string' }, n: { type: 'string' }, 'tpp-n': { type: 'string' }, only: { type: 'string' }, 'serf-n': { type: 'string' } },
});
const durationMs = Number(values.duration ?? 20_000);
const n = Number(values.n ?? 100);
const RUNS = resolve(import.meta.dirname, '../results/runs');
const steady = { ...loadScenario('steady'), events: [] };

function largestThreadPerPeer(cap: number): number {
  let best = 2;
  for (let k = 2; k <= cap; k++) {
    try {
      planFleet(resolveRun({ protocol: 'thread-per-peer', scenario: steady, nodes: k, durationMs }));
      best = k;
    } catch {
      break;
    }
  }
  return best;
}

const plan: Array<[string, number, TransportKind]> = [];
for (const p of ['async-multiplexed', 'swim']) {
  if (!PROTOCOLS.has(p)) continue;
  plan.push([p, n, 'uws'], [p, n, 'ws']);
}
const tppN = Number(values['tpp-n'] ?? largestThreadPerPeer(40));
plan.push(['thread-per-peer', tppN, 'uws']);

let stop = false;
process.on('SIGINT', () => {
  stop = true;
});
const rows: string[][] = [];
for (const [protocol, nodes, transport] of plan) {
  if (stop || (values.only && values.only !== protocol)) continue;
  const cfg = resolveRun({ protocol, scenario: steady, nodes, durationMs });
  process.stderr.write(`${protocol} N=${nodes} ${transport}: starting…\n`);
  let r: Result;
  try {
    r = await runLive(cfg, { transport, load: 'max', maxInFlight: 64, shouldStop: () => stop });
  } catch (e) {
    process.stderr.write(`${protocol} N=${nodes} ${transport}: ${(e as Error).message}\n`);
    rows.push([protocol, transport, String(nodes), 'failed', '', '', '', '', '', '']);
    continue;
  }
  const out = resolve(RUNS, `live-steady-${protocol}-${transport}-n${nodes}.json`);
  writeResultAtomic(out, r);
  const l = r.live!;
  rows.push([
    protocol,
    transport,
    String(nodes),
    (l.perNode.rssMeanBytes / 1e6).toFixed(1),
    (r.summary.memory.peakBytesPerNode / 1e6).toFixed(1),
    String(r.summary.threads.peakPerNode),
    l.messagesPerSec.toFixed(0),
    r.summary.messages.perNodePerSec.toFixed(1),
    r.summary.requests.throughputPerSec.toFixed(0),
    l.perNode.eventLoopDelayP99Ms ? `${l.perNode.eventLoopDelayP99Ms.p50.toFixed(1)} / ${l.perNode.eventLoopDelayP99Ms.max.toFixed(1)}` : '–',
    `${(l.startupMs / 1000).toFixed(1)}+${(l.warmup.ms / 1000).toFixed(1)}${l.warmup.converged ? '' : '!'}`,
    r.summary.healthy ? 'yes' : 'no',
  ]);
  process.stderr.write(`${protocol} N=${nodes} ${transport}: ${out}\n`);
}
const head = ['protocol', 'transport', 'N', 'RSS MB mean', 'RSS MB peak', 'threads', 'msgs/s fleet', 'msgs/node/s', 'routed req/s', 'ELD p99 ms (p50/max node)', 'start+warm s', 'healthy'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
const line = (r: string[]) => r.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ');
if (rows.length) process.stdout.write([line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n');

// ---- real Serf agents next to fleetbench's swim ------------------------------------------------

const serfWhy = serfUnavailableReason();
if (serfWhy) process.stderr.write(`serf row skipped: ${serfWhy}\n`);
else if (!stop && (!values.only || values.only === 'serf')) {
  const sn = Number(values['serf-n'] ?? 32);
  const crash = { ...loadScenario('crash'), name: 'crash-5s', events: [{ type: 'crash' as const, atMs: 5000, count: 3 }] };
  const bb: string[][] = [];
  // serf twice: views from the member events an application reads (after the agent's 1–3 s
  // coalescing), and from memberlist's decisions (what validate compares with the model)
  const runs: Array<[string, string, string[]]> = [
    ['swim', 'swim', []],
    ['serf', 'serf (events)', []],
    ['serf', 'serf (decisions)', ['view=decisions']],
  ];
  for (const [protocol, label, sets] of runs) {
    if (stop) break;
    process.stderr.write(`${label} N=${sn} crash: starting…\n`);
    let r: Result;
    try {
      // through the runtime registry: it adds what a black-box run counts to the live section
      r = await getRuntime('live').run(resolveRun({ protocol, scenario: crash, nodes: sn, durationMs: 25_000, sets }), { transport: 'ws', shouldStop: () => stop });
    } catch (e) {
      process.stderr.write(`${label} N=${sn} crash: ${(e as Error).message}\n`);
      bb.push([label, String(sn), 'failed']);
      continue;
    }
    const out = resolve(RUNS, `live-crash-${protocol}${sets.length ? '-decisions' : ''}-ws-n${sn}.json`);
    writeResultAtomic(out, r);
    const l = r.live!;
    const d = r.summary.membership.detectionMs;
    const s1 = (ms: number | undefined) => (ms === undefined ? '–' : (ms / 1000).toFixed(2));
    bb.push([
      label,
      String(sn),
      (l.perNode.rssMeanBytes / 1e6).toFixed(1),
      (r.summary.memory.peakBytesPerNode / 1e6).toFixed(1),
      String(r.summary.threads.peakPerNode),
      r.summary.messages.perNodePerSec.toFixed(1),
      r.summary.messages.bytesPerNodePerSec.toFixed(0),
      `${s1(d.first?.p50)} / ${s1(d.all?.p50)} / ${s1(d.all?.max)}`,
      String(r.summary.membership.undetectedCrashes),
      r.summary.membership.falsePositives.toString(),
      r.summary.membership.viewAccuracy.toFixed(3),
    ]);
    process.stderr.write(`${label} N=${sn} crash: ${out}\n`);
  }
  const h2 = ['protocol', 'N', 'RSS MB mean', 'RSS MB peak', 'threads', 'msgs/node/s', 'bytes/node/s', 'detection first p50 / all p50 / all max s', 'undetected', 'false pos.', 'view acc.'];
  const w2 = h2.map((h, i) => Math.max(h.length, ...bb.map((r) => (r[i] ?? '').length)));
  const l2 = (r: string[]) => r.map((c, i) => (c ?? '').padEnd(w2[i])).join('  ');
  process.stdout.write(`\ncrash of 3 at 5 s, 25 s, paced load, ws; serf = node host + serf agent per node, memberlist's own message counters\n`);
  process.stdout.write([l2(h2), l2(w2.map((w) => '-'.repeat(w))), ...bb.map(l2)].join('\n') + '\n');
}
