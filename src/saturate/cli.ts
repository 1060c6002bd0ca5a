/** `fleetbench saturate`: see saturate.ts. */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { parseDuration } from '../harness/run-config.ts';
import { parseHostsSpec } from '../live/hosts.ts';
import { checkWritable, resolveOut, writeJsonAtomic } from '../results/files.ts';
import { checkTransport, getRuntime } from '../runtimes.ts';
import { DEFAULT_MIN_GOODPUT_RATIO } from './criteria.ts';
import { DEFAULT_MAX_RUNS, DEFAULT_MAX_WALL_MS, DEFAULT_RESOLUTION, saturate, type BaselineMethod } from './saturate.ts';
import type { LoadRun, SaturateResult, Search } from './schema.ts';
import { DEFAULT_LATENCY_MULTIPLE } from './theory.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const RUNS_DIR = resolve(ROOT, 'results/runs');

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** a decimal number for `field`, checked for range by saturate() */
function numberOption(field: string) {
  return (v: string) => {
    if (!/^\s*(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/.test(v)) throw new UsageError(`${field}: expected a number, got "${v}"`);
    return Number(v);
  };
}

function intOption(field: string) {
  return (v: string) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) throw new UsageError(`${field}: expected a whole number, got "${v}"`);
    return n;
  };
}

const f1 = (x: number) => x.toFixed(1);
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

export function describeRun(r: LoadRun, which: string): string {
  const lat = r.latencyMs ? `p99 ${r.latencyMs.p99.toFixed(1)} ms` : 'no answers';
  return `${which.padEnd(8)} ${f1(r.perNodePerSec).padStart(9)} req/s/node: goodput ${(100 * r.goodputRatio).toFixed(2)} %, ${lat} → ${r.pass ? 'carried' : `BROKE (${r.broke.join(', ')})`}`;
}

function describeSearch(s: Search): string {
  const at = s.firstFailing
    ? `breaks at ${f1(s.firstFailing.perNodePerSec)} (${s.firstFailing.broke.join(', ')})`
    : `no load broke it (largest tried ${f1(Math.max(0, ...s.runs.map((r) => r.perNodePerSec)))})`;
  return `${f1(s.capacityPerNodePerSec).padStart(9)} req/s/node  ${s.status.padEnd(12)} ${at}; ${s.runs.length} runs`;
}

export function describeSaturate(r: SaturateResult): string {
  const c = r.criteria;
  const lines = [
    `saturation of ${r.protocol} in ${r.scenario} at N=${r.nodes} (${r.runtime}${r.sets.length ? `, ${r.sets.join(' ')}` : ''})`,
    `  a load is carried while goodput ≥ ${c.minGoodputRatio} × offered${c.p99MaxMs === null ? '' : ` and p99 ≤ ${c.p99MaxMs.toPrecision(3)} ms: ${c.p99Source}`}`,
    `  ${'protocol'.padEnd(28)} ${describeSearch(r.search)}`,
  ];
  if (r.baseline) {
    const label = r.baseline.method === 'free' ? 'baseline (protocol CPU 0)' : 'baseline (N=1, no peers)';
    lines.push(`  ${label.padEnd(28)} ${describeSearch(r.baseline.search)}`);
  }
  const t = r.theory;
  lines.push(`  theory: request-only bound ${f1(t.requestOnlyPerNodePerSec)} req/s/node (cores × 1e6 ÷ cpuUsPerRequest)` +
    (t.requestOnlyAtP99PerNodePerSec !== null ? `, ${f1(t.requestOnlyAtP99PerNodePerSec)} under the p99 bound (M/D/1)` : '') +
    (t.sharedCapacityPerNodePerSec !== null ? `, ${f1(t.sharedCapacityPerNodePerSec)} less the measured protocol CPU` : ''));
  if (r.overhead !== null) {
    lines.push(`  membership overhead: ${pct(r.overhead)} of request capacity at N = ${r.nodes}` + (t.overhead !== null ? ` (protocol CPU share: ${pct(t.overhead)})` : ''));
  }
  return lines.join('\n');
}

export function registerSaturateCommand(program: Command): Command {
  return program
    .command('saturate')
    .description("raise the offered load (doubling, then bisection) until goodput or latency breaks: a protocol's request capacity per node at N, and the share its membership work takes")
    .requiredOption('-p, --protocol <name>', 'protocol')
    .requiredOption('-s, --scenario <name|path>', 'scenario name or path to a scenario .json (e.g. request-load: 0.01-core FEs)')
    .option('-n, --nodes <N>', "fleet size (default: the scenario's)", intOption('--nodes'))
    .option('--seed <S>', 'seed, the same for every run (default 1)', intOption('--seed'))
    .option('-d, --duration <time>', "simulated time per run (default: the scenario's)")
    .option('--set <key=value>', 'override a protocol parameter or limits.*, costs.*, network.*, fleet.* (not fleet.requestsPerSec: the search sets it; repeatable)', collect, [])
    .option('--costs <name|file>', 'cost profile: native, jvm, node-worker, or a calibrate file (before --set)')
    .option('--min-goodput <ratio>', `a load is carried while goodput ≥ ratio × offered (default ${DEFAULT_MIN_GOODPUT_RATIO})`, numberOption('--min-goodput'))
    .option('--p99-max <time|none>', `… and request latency p99 ≤ this (default ${DEFAULT_LATENCY_MULTIPLE} × the unloaded latency: service + back-end RTT); none: no latency criterion`)
    .option('--latency-multiple <x>', `the default p99 bound as a multiple of the unloaded latency (default ${DEFAULT_LATENCY_MULTIPLE})`, numberOption('--latency-multiple'))
    .option('--resolution <ratio>', `stop bisecting when the bracket is within ratio of the failing load (default ${DEFAULT_RESOLUTION})`, numberOption('--resolution'))
    .option('--max-runs <n>', `runs per search (default ${DEFAULT_MAX_RUNS})`, intOption('--max-runs'))
    .option('--max-wall <time>', `wall-clock budget for the whole command (default ${DEFAULT_MAX_WALL_MS / 60_000}m)`)
    .option('--baseline <free|single|none>', 'request-only capacity to measure the overhead against: free = the same N with protocol CPU costs 0 (sim default); single = N=1, no peers (live default)')
    .option('--runtime <name>', 'sim (default) or live (each run is a real run on this machine)', 'sim')
    .option('--transport <ws|uws>', 'live runtime: the WebSocket server library', 'uws')
    .option('--hosts <spec>', 'live runtime: where node processes run: local, netns:K or agents:FILE (see run --help)', 'local')
    .option('-o, --out <file>', `saturation file (default ${RUNS_DIR}/saturate-<scenario>-<protocol>-n<N>.json)`)
    .option('-q, --quiet', 'no per-run lines')
    .action(async (o: { protocol: string; scenario: string; nodes?: number; seed?: number; duration?: string; set: string[]; costs?: string; minGoodput?: number; p99Max?: string; latencyMultiple?: number; resolution?: number; maxRuns?: number; maxWall?: string; baseline?: string; runtime: string; transport: string; hosts: string; out?: string; quiet?: boolean }) => {
      if (o.hosts !== 'local' && o.runtime !== 'live') throw new UsageError(`--hosts: places live node processes; it needs --runtime live (got --runtime ${o.runtime})`);
      if (o.baseline !== undefined && !['free', 'single', 'none'].includes(o.baseline)) throw new UsageError(`--baseline: expected free, single or none, got "${o.baseline}"`);
      const p99MaxMs = o.p99Max === undefined ? undefined : o.p99Max.trim() === 'none' ? null : parseDuration(o.p99Max, '--p99-max');
      const durationMs = o.duration === undefined ? undefined : parseDuration(o.duration);
      const maxWallMs = o.maxWall === undefined ? undefined : parseDuration(o.maxWall, '--max-wall');
      const planned = o.out ? resolveOut(o.out) : null;
      if (planned) checkWritable(planned);
      let stop = false;
      const onSigint = () => {
        stop = true;
        process.stderr.write('\ninterrupted: stopping the current run; what was measured is written\n');
      };
      process.once('SIGINT', onSigint);
      try {
        const r = await saturate({
          protocol: o.protocol,
          scenario: o.scenario,
          nodes: o.nodes,
          seed: o.seed,
          durationMs,
          sets: o.set,
          costsFile: o.costs,
          minGoodputRatio: o.minGoodput,
          p99MaxMs,
          latencyMultiple: o.latencyMultiple,
          resolution: o.resolution,
          maxRuns: o.maxRuns,
          maxWallMs,
          baseline: o.baseline as BaselineMethod | undefined,
          runtime: getRuntime(o.runtime).name,
          transport: checkTransport(o.transport),
          ...(o.hosts !== 'local' ? { hosts: parseHostsSpec(o.hosts) } : {}),
          shouldStop: () => stop,
          onRun: (run, which) => {
            if (!o.quiet) process.stderr.write(`${describeRun(run, which)}\n`);
          },
        });
        const out = planned ?? resolve(RUNS_DIR, `saturate-${r.scenario}-${r.protocol}-n${r.nodes}.json`);
        checkWritable(out);
        writeJsonAtomic(out, r);
        process.stdout.write(`${describeSaturate(r)}\nresult: ${out}\n`);
        if (stop) process.exitCode = 130;
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });
}
