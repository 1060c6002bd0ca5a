/**
 * Runs the micro-benchmarks with tinybench and writes a `fleetbench/micro@1` file (schema:
 * src/compare/micro-schema.ts) that `fleetbench compare` and `fleetbench report` read.
 *
 *   npx tsx bench/micro/run.ts [--out FILE] [--rounds 5] [--time 200] [--filter TEXT]
 *
 * The suite runs `rounds` times; each round gives every task one sample (its mean time per
 * operation), so compare gets `rounds` independent samples per task for its Mann–Whitney test.
 * Timings depend on the machine: compare only files made on the same machine.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';
import { machineInfo, toolInfo } from '../../src/results/meta.ts';
import { MICRO_SCHEMA, MicroResultSchema, type MicroResult } from '../../src/compare/micro-schema.ts';
import { median } from '../../src/compare/stats.ts';
import { UsageError } from '../../src/errors.ts';
import { buildTasks } from './tasks.ts';

export const DEFAULT_ROUNDS = 5;
export const DEFAULT_TIME_MS = 200;
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_OUT = resolve(ROOT, 'results/runs/micro.json');

export interface MicroOptions {
  rounds?: number;
  /** tinybench time budget per task per round, ms */
  timeMs?: number;
  /** run only tasks whose name contains this text */
  filter?: string;
  onRound?: (round: number, rounds: number) => void;
}

export async function runMicro(o: MicroOptions = {}): Promise<MicroResult> {
  const rounds = o.rounds ?? DEFAULT_ROUNDS;
  const timeMs = o.timeMs ?? DEFAULT_TIME_MS;
  if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError(`--rounds: expected an integer ≥ 1, got ${rounds}`);
  if (!(timeMs > 0)) throw new UsageError(`--time: expected milliseconds > 0, got ${timeMs}`);
  const tasks = buildTasks().filter((t) => !o.filter || t.name.includes(o.filter));
  if (tasks.length === 0) throw new UsageError(`--filter: no task name contains "${o.filter}"`);
  const samples = new Map<string, number[]>(tasks.map((t) => [t.name, []]));
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({ time: timeMs, warmupTime: Math.min(50, timeMs), iterations: 10, throws: true });
    for (const t of tasks) bench.add(t.name, t.fn);
    await bench.run();
    for (const task of bench.tasks) {
      const r = task.result;
      if (r.state !== 'completed') throw new Error(`micro: task "${task.name}" ended ${r.state}`);
      const def = tasks.find((t) => t.name === task.name)!;
      samples.get(task.name)!.push((r.latency.mean * 1e6) / def.opsPerIteration);
    }
    o.onRound?.(round + 1, rounds);
  }
  const result: MicroResult = {
    schema: MICRO_SCHEMA,
    tool: toolInfo(),
    machine: machineInfo(),
    rounds,
    timeMsPerRound: timeMs,
    tasks: tasks.map((t) => {
      const s = samples.get(t.name)!;
      return { name: t.name, unit: 'ns/op' as const, opsPerIteration: t.opsPerIteration, samples: s, median: median(s) };
    }),
  };
  return MicroResultSchema.parse(result);
}

export function writeMicro(path: string, r: MicroResult): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(r, null, 2) + '\n');
  renameSync(tmp, path);
}

function parseArgs(argv: string[]): MicroOptions & { out: string } {
  const o: MicroOptions & { out: string } = { out: DEFAULT_OUT };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    const need = () => {
      if (value === undefined) throw new UsageError(`${flag}: needs a value`);
      i++;
      return value;
    };
    const int = (v: string) => {
      if (!/^\d+$/.test(v)) throw new UsageError(`${flag}: expected a positive integer, got "${v}"`);
      return Number(v);
    };
    if (flag === '--out' || flag === '-o') o.out = resolve(need());
    else if (flag === '--rounds') o.rounds = int(need());
    else if (flag === '--time') o.timeMs = int(need());
    else if (flag === '--filter') o.filter = need();
    else throw new UsageError(`${flag}: unknown option; use --out FILE, --rounds N, --time MS, --filter TEXT`);
  }
  return o;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const o = parseArgs(process.argv.slice(2));
    const r = await runMicro({ ...o, onRound: (i, n) => process.stderr.write(`micro: round ${i}/${n}\n`) });
    writeMicro(o.out, r);
    for (const t of r.tasks) process.stdout.write(`${t.name.padEnd(52)} ${t.median.toFixed(1).padStart(10)} ns/op\n`);
    process.stdout.write(`result: ${o.out}\n`);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`bench/micro: ${e.message}\n`);
      process.exitCode = 2;
    } else throw e;
  }
}
