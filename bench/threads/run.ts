/**
 * What one idle thread costs in three runtimes: a native pthread (pthread-cost.c, built with gcc),
 * a JVM platform thread (JvmThreadCost.java, Debian's OpenJDK 17) and a Node worker_threads Worker
 * (worker-cost.mjs). Each probe runs in its own process at several thread counts K, repeated, and
 * reports RSS per thread, create latency (until the thread has run) and process CPU per wakeup
 * (a two-thread ping-pong). These are the measurements behind src/model/profiles/*.json.
 *
 *   node --import tsx bench/threads/run.ts [--repeats 3] [--only native|jvm|node-worker] [--out FILE]
 *
 * Prints a table (median and min–max per runtime and K) and writes a JSON file (default
 * results/runs/bench-threads/threads.json, git-ignored). Bounded: every probe has a time limit
 * and the runner stops starting probes after --budget seconds (default 110); the build directory
 * and any probe still running are removed on exit, Ctrl-C included. Figures depend on the
 * machine and its load: compare only runs made on the same machine.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { median } from '../../src/compare/stats.ts';
import { machineInfo, toolInfo } from '../../src/results/meta.ts';
import { writeJsonAtomic } from '../../src/results/files.ts';

const run = promisify(execFile);
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
export const THREAD_COSTS_SCHEMA = 'fleetbench/thread-costs@1';

type RuntimeName = 'native' | 'jvm' | 'node-worker';
interface Probe {
  runtime: RuntimeName;
  /** thread counts; the largest is the one a profile takes its per-thread figures from */
  ks: number[];
  roundtrips: number;
  command: (dir: string, k: number, roundtrips: number) => [string, string[]];
}

/** One probe process's output line (the fields every probe prints). */
interface Sample {
  runtime: RuntimeName;
  k: number;
  bytesPerThread: number;
  createUs: number;
  cpuUsPerWakeup: number;
  wallUsPerWakeup: number;
  [more: string]: unknown;
}

// K for Workers stays far below the ~1,550-Worker crash (references.md) and within the time budget
const PROBES: Probe[] = [
  { runtime: 'native', ks: [100, 1000, 5000], roundtrips: 20_000, command: (d, k, n) => [join(d, 'pthread-cost'), [String(k), String(n)]] },
  { runtime: 'jvm', ks: [100, 1000, 5000], roundtrips: 30_000, command: (d, k, n) => ['/usr/bin/java', ['-cp', d, 'JvmThreadCost', String(k), String(n)]] },
  {
    runtime: 'node-worker',
    ks: [10, 40],
    roundtrips: 5_000,
    command: (_d, k, n) => [process.execPath, ['--expose-gc', join(HERE, 'worker-cost.mjs'), String(k), String(n)]],
  },
];
const METRICS = ['bytesPerThread', 'createUs', 'cpuUsPerWakeup'] as const;
const PROBE_TIMEOUT_MS = 40_000;

const { values } = parseArgs({
  options: { repeats: { type: 'string', default: '3' }, only: { type: 'string' }, out: { type: 'string' }, budget: { type: 'string', default: '110' } },
});
const repeats = Number(values.repeats);
const budgetMs = Number(values.budget) * 1000;
if (!Number.isInteger(repeats) || repeats < 1 || repeats > 10) fail('--repeats: expected an integer from 1 to 10');
if (!(budgetMs > 0)) fail('--budget: expected seconds > 0');
if (values.only && !PROBES.some((p) => p.runtime === values.only)) fail(`--only: expected one of ${PROBES.map((p) => p.runtime).join(', ')}`);
const out = resolve(values.out ?? join(ROOT, 'results/runs/bench-threads/threads.json'));

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

const abort = new AbortController();
const dir = mkdtempSync(join(tmpdir(), 'fleetbench-threads-'));
const cleanup = () => rmSync(dir, { recursive: true, force: true });
process.once('SIGINT', () => {
  abort.abort();
  cleanup();
  process.exit(130);
});

const started = Date.now();
const samples: Sample[] = [];
const skipped: string[] = [];
try {
  const probes = PROBES.filter((p) => !values.only || p.runtime === values.only);
  const ready: Probe[] = [];
  for (const p of probes) {
    try {
      if (p.runtime === 'native') await run('gcc', ['-O2', '-Wall', '-pthread', '-o', join(dir, 'pthread-cost'), join(HERE, 'pthread-cost.c')], { signal: abort.signal });
      if (p.runtime === 'jvm') await run('/usr/bin/javac', ['-d', dir, join(HERE, 'JvmThreadCost.java')], { signal: abort.signal });
      ready.push(p);
    } catch (e) {
      skipped.push(`${p.runtime}: cannot build the probe (${(e as Error).message.split('\n')[0]})${p.runtime === 'jvm' ? '; install openjdk-17-jdk-headless' : ''}`);
    }
  }
  // repeats outermost, so drift in the machine's load spreads over every K instead of biasing one
  outer: for (let r = 0; r < repeats; r++) {
    for (const p of ready) {
      for (const k of p.ks) {
        if (Date.now() - started > budgetMs) {
          skipped.push(`stopped after repeat ${r}: the ${budgetMs / 1000} s budget is spent`);
          break outer;
        }
        const [cmd, args] = p.command(dir, k, p.roundtrips);
        process.stderr.write(`${p.runtime} K=${k} repeat ${r + 1}/${repeats}…\n`);
        const { stdout } = await run(cmd, args, { cwd: dir, timeout: PROBE_TIMEOUT_MS, killSignal: 'SIGKILL', signal: abort.signal });
        samples.push(JSON.parse(stdout.trim().split('\n').at(-1)!) as Sample);
      }
    }
  }
} finally {
  cleanup();
}

const spread = (xs: number[]) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length });
const byK = [] as Array<{ runtime: RuntimeName; k: number } & Record<(typeof METRICS)[number], ReturnType<typeof spread>>>;
for (const p of PROBES) {
  for (const k of p.ks) {
    const s = samples.filter((x) => x.runtime === p.runtime && x.k === k);
    if (s.length === 0) continue;
    byK.push({ runtime: p.runtime, k, ...(Object.fromEntries(METRICS.map((m) => [m, spread(s.map((x) => x[m]))])) as Record<(typeof METRICS)[number], ReturnType<typeof spread>>) });
  }
}
/**
 * The figures a cost profile takes: medians at the largest K, where fixed per-process costs are
 * amortised and the process looks most like an FE full of peer threads (a JVM's CPU per wakeup
 * grows with its thread count).
 */
const profileFigures = PROBES.flatMap((p) => {
  const s = samples.filter((x) => x.runtime === p.runtime);
  if (s.length === 0) return [];
  const kMax = Math.max(...s.map((x) => x.k));
  const atMax = s.filter((x) => x.k === kMax);
  return [{
    runtime: p.runtime,
    atK: kMax,
    bytesPerThread: Math.round(median(atMax.map((x) => x.bytesPerThread))),
    threadSpawnUs: Math.round(median(atMax.map((x) => x.createUs)) * 10) / 10,
    cpuUsPerWakeup: Math.round(median(atMax.map((x) => x.cpuUsPerWakeup)) * 100) / 100,
  }];
});

const fmt = (s: ReturnType<typeof spread>, digits: number) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
const lines = [
  '| runtime | K | RSS per thread, KiB | create µs | CPU µs per wakeup | runs |',
  '|---|---|---|---|---|---|',
  ...byK.map((r) => `| ${r.runtime} | ${r.k} | ${fmt({ ...r.bytesPerThread, median: r.bytesPerThread.median / 1024, min: r.bytesPerThread.min / 1024, max: r.bytesPerThread.max / 1024 }, 1)} | ${fmt(r.createUs, 1)} | ${fmt(r.cpuUsPerWakeup, 2)} | ${r.bytesPerThread.n} |`),
];
process.stdout.write(`${lines.join('\n')}\n(median (min–max) over runs; each run a fresh process)\n`);
for (const f of profileFigures) {
  process.stdout.write(`profile figures, ${f.runtime} at K=${f.atK}: bytesPerThread ${f.bytesPerThread}, threadSpawnUs ${f.threadSpawnUs}, cpuUsPerWakeup ${f.cpuUsPerWakeup}\n`);
}
for (const s of skipped) process.stdout.write(`note: ${s}\n`);

writeJsonAtomic(out, {
  schema: THREAD_COSTS_SCHEMA,
  command: 'node --import tsx bench/threads/run.ts',
  date: new Date().toISOString(),
  wallMs: Date.now() - started,
  machine: machineInfo(),
  tool: toolInfo(),
  repeats,
  skipped,
  profileFigures,
  byK,
  samples,
});
process.stdout.write(`written: ${out}\n`);
