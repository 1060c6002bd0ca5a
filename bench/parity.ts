/**
 * Sim-vs-live parity benchmark (`node --import tsx bench/parity.ts`): calibrates this machine
 * (or takes --costs FILE), then runs the steady scenario at N = 8 and 16 in the simulator and live
 * with the calibrated profile, its measured loopback latency and the same seed, and compares
 * goodput per node, request latency p50 (±20 %; the model holds the calibrated timer lateness)
 * and messages per node per second (±10 %) —
 * issue 11's Done-when. Prints a table and writes results/runs/parity/ (the two result files per
 * N, the profile when calibrated here, and parity-<protocol>-<transport>.json with the rows).
 *
 * Options: --costs FILE (skip calibration), --protocol (async-multiplexed), --n (8,16),
 * --duration ms (20000), --seed (1), --transport ws|uws (ws). Bounded: one live run at a time.
 */
import os from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadScenario } from '../src/harness/scenario.ts';
import { calibrate } from '../src/live/calibrate.ts';
import { runLive } from '../src/live/coordinator.ts';
import { compareParity, latencyBreakdown, parityRun, PARITY_TOLERANCE, type LatencyBreakdown, type ParityRow } from '../src/live/parity.ts';
import type { TransportKind } from '../src/live/transport.ts';
import { loadCostProfile } from '../src/model/cost-profile.ts';
import { writeJsonAtomic } from '../src/results/files.ts';
import { writeResultAtomic } from '../src/results/schema.ts';
import { runSim } from '../src/sim/run.ts';

const { values } = parseArgs({
  options: { costs: { type: 'string' }, protocol: { type: 'string' }, n: { type: 'string' }, duration: { type: 'string' }, seed: { type: 'string' }, transport: { type: 'string' } },
});
const protocol = values.protocol ?? 'async-multiplexed';
const sizes = (values.n ?? '8,16').split(',').map(Number);
const durationMs = Number(values.duration ?? 20_000);
const seed = Number(values.seed ?? 1);
const transport = (values.transport ?? 'ws') as TransportKind;
const OUT = resolve(import.meta.dirname, '../results/runs/parity');
const steady = { ...loadScenario('steady'), events: [] };
const command = `node --import tsx bench/parity.ts ${process.argv.slice(2).join(' ')}`.trim();

let stop = false;
process.on('SIGINT', () => {
  stop = true;
});

const loadBefore = os.loadavg();
let costsFile = values.costs;
if (!costsFile) {
  costsFile = resolve(OUT, 'costs.json');
  process.stderr.write(`calibrating into ${costsFile}…\n`);
  await calibrate({ out: costsFile, transport, log: (l) => process.stderr.write(`calibrate: ${l}\n`) });
}
const profile = loadCostProfile(costsFile);

const runs: Array<{ nodes: number; rows: ParityRow[]; sim: string; live: string; eventLoopDelayP99Ms: { p50: number; p99: number; max: number } | null; latencyMs: { sim: unknown; live: unknown }; breakdown: LatencyBreakdown; wallMs: number }> = [];
for (const nodes of sizes) {
  if (stop) break;
  const cfg = parityRun({ protocol, scenario: steady, nodes, durationMs, seed, costsFile }, profile);
  process.stderr.write(`${protocol} N=${nodes}: simulator…\n`);
  const sim = await runSim(cfg);
  process.stderr.write(`${protocol} N=${nodes}: live (${transport}, ${durationMs} ms)…\n`);
  const live = await runLive(cfg, { transport, shouldStop: () => stop });
  const simFile = resolve(OUT, `steady-${protocol}-n${nodes}-s${seed}-sim.json`);
  const liveFile = resolve(OUT, `steady-${protocol}-n${nodes}-s${seed}-live-${transport}.json`);
  writeResultAtomic(simFile, sim);
  writeResultAtomic(liveFile, live);
  runs.push({ nodes, rows: compareParity(sim, live), sim: simFile, live: liveFile, eventLoopDelayP99Ms: live.live!.perNode.eventLoopDelayP99Ms, latencyMs: { sim: sim.summary.requests.latencyMs, live: live.summary.requests.latencyMs }, breakdown: latencyBreakdown(sim, live), wallMs: live.live!.wallMs });
}
const loadAfter = os.loadavg();

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3));
const table: string[][] = [['N', 'figure', 'sim', 'live', 'live/sim', 'tolerance', '']];
for (const r of runs) for (const row of r.rows) table.push([String(r.nodes), `${row.figure} (${row.unit})`, fmt(row.sim), fmt(row.live), row.ratio.toFixed(3), `±${row.tolerance * 100} %`, row.within ? 'ok' : 'OUTSIDE']);
const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
for (const r of table) process.stdout.write(r.map((c, i) => c.padEnd(widths[i])).join('  ') + '\n');
const ms = (x: number | null) => (x === null ? '–' : x.toFixed(3));
process.stdout.write('\nlatency p50: the model holds the client hop and the back-end hold fired as late as a calibrated Node timer (costs.timerLateMs); live − sim is the rest (event-loop and scheduling delay of N + 2 processes on shared cores)\n');
for (const r of runs) {
  const b = r.breakdown;
  process.stdout.write(`N=${r.nodes}: sim ${ms(b.simP50Ms)} ms (timer lateness ${ms(b.timerLateMs)} of it), live ${ms(b.liveP50Ms)} ms = sim + ${ms(b.restMs)}; live event-loop delay p99 per node, median ${ms(r.eventLoopDelayP99Ms?.p50 ?? null)} ms\n`);
}
process.stdout.write(`load average before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' ')} (${os.cpus().length} cores)\n`);

const out = resolve(OUT, `parity-${protocol}-${transport}.json`);
writeJsonAtomic(out, {
  command,
  date: new Date().toISOString(),
  protocol,
  transport,
  scenario: 'steady',
  durationMs,
  seed,
  costs: costsFile,
  network: profile.network,
  tolerance: PARITY_TOLERANCE,
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', loadAverageBefore: loadBefore, loadAverageAfter: loadAfter },
  runs,
});
process.stdout.write(`parity: ${out}\n`);
