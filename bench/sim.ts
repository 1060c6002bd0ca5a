/**
 * Simulator speed benchmark (npm run bench:sim): large steady fleets, one run each, printing
 * events/s, wall time and peak RSS, and writing each result under results/runs/bench-sim/.
 * A benchmark, not a test: nothing here asserts a speed; the figures go in result files.
 *
 *   npm run bench:sim                 all cases
 *   npm run bench:sim -- swim         only cases whose protocol name contains "swim"
 */
import { resolve } from 'node:path';
import Table from 'cli-table3';
import { resolveRun } from '../src/harness/run-config.ts';
import { runSim } from '../src/sim/run.ts';
import { writeResultAtomic } from '../src/results/schema.ts';
import { PROTOCOLS } from '../src/protocols.ts';
import { bytes, num } from '../src/cli/format.ts';

interface Case {
  protocol: string;
  nodes: number;
  durationMs: number;
  sets?: string[];
}

// the issue targets: async-multiplexed at 2,000 for 30 s; thread-per-peer at 1,000;
// swim and cells at 10,000 for 60 s where those protocols exist
const CASES: Case[] = [
  { protocol: 'async-multiplexed', nodes: 2000, durationMs: 30_000 },
  { protocol: 'thread-per-peer', nodes: 1000, durationMs: 30_000 },
  { protocol: 'swim', nodes: 10_000, durationMs: 60_000 },
  { protocol: 'cell-partitioned', nodes: 10_000, durationMs: 60_000, sets: ['cellSize=64'] },
];

const filter = process.argv[2];
const table = new Table({ head: ['protocol', 'nodes', 'sim s', 'wall s', 'events', 'events/s', 'peak RSS', 'modelled memory/node', 'msgs/node/s'] });
for (const c of CASES) {
  if (!PROTOCOLS.has(c.protocol) || (filter && !c.protocol.includes(filter))) continue;
  const cfg = resolveRun({ protocol: c.protocol, scenario: 'steady', nodes: c.nodes, durationMs: c.durationMs, sets: c.sets });
  const tty = process.stderr.isTTY;
  const r = await runSim(cfg, {
    onProgress: (simMs, events) => {
      if (tty) process.stderr.write(`\r${c.protocol} N=${c.nodes}: ${(simMs / 1000).toFixed(1)}/${c.durationMs / 1000} sim-s, ${num(events)} events `);
    },
  });
  if (tty) process.stderr.write('\n');
  const out = resolve(import.meta.dirname, `../results/runs/bench-sim/${c.protocol}-n${c.nodes}.json`);
  writeResultAtomic(out, r);
  const s = r.sim!;
  table.push([
    c.protocol,
    String(c.nodes),
    String(r.run.simulatedMs / 1000),
    (s.wallMs / 1000).toFixed(1),
    num(s.events),
    num(s.eventsPerSec),
    bytes(s.peakRssBytes),
    bytes(r.summary.memory.peakBytesPerNode),
    num(r.summary.messages.perNodePerSec),
  ]);
  console.log(`${c.protocol} N=${c.nodes}: ${(s.wallMs / 1000).toFixed(1)} s wall, ${num(s.eventsPerSec)} events/s, peak RSS ${bytes(s.peakRssBytes)} → ${out}`);
}
console.log(table.toString());
