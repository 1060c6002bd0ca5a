/**
 * Live scale benchmark (`node --import tsx bench/live.ts`, or `npm run bench:live`):
 * async-multiplexed (and swim, when registered) at N=100 over uWS and ws, and thread-per-peer at
 * the largest N this machine holds. Each run is the steady scenario, bounded (20 s by default),
 * with the load generator in closed loop (64 requests in flight) so routed requests/s is the
 * achieved figure. Prints a table and writes result files under results/runs/ (git-ignored).
 *
 * Options: --duration <ms> (20000), --n <N> (100), --tpp-n <N> (largest the capacity check admits,
 * capped at 40), --only <protocol>.
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

const { values } = parseArgs({
  options: { duration: { type: 'string' }, n: { type: 'string' }, 'tpp-n': { type: 'string' }, only: { type: 'string' } },
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
process.stdout.write([line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n');
