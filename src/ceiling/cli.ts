/** `fleetbench ceiling`: see ceiling.ts. */
import { parseHostsSpec } from '../live/hosts.ts';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { parseDuration } from '../harness/run-config.ts';
import { DEFAULT_MAX_NODES, DEFAULT_START_NODES, ceiling } from './ceiling.ts';
import type { CeilingResult, CeilingRun } from './schema.ts';
import { checkWritable, resolveOut, writeJsonAtomic } from '../results/files.ts';
import { checkTransport, getRuntime } from '../runtimes.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const RUNS_DIR = resolve(ROOT, 'results/runs');

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function intOption(field: string) {
  return (v: string) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`${field}: expected an integer ≥ 1, got "${v}"`);
    return n;
  };
}

export function describeRun(r: CeilingRun): string {
  return `N=${String(r.nodes).padStart(6)} ${r.healthy ? 'healthy' : `UNHEALTHY: ${r.failures.map((f) => `${f.kind} ${f.name}`).join(', ')}`}`;
}

export function describeCeiling(c: CeilingResult): string {
  const lines = [`ceiling of ${c.protocol} in ${c.scenario}${c.sets.length ? ` (${c.sets.join(' ')})` : ''}${c.slos.length ? `, SLOs ${c.slos.join(', ')}` : ''}:`];
  if (c.status === 'none-healthy') lines.push(`  no healthy fleet size: N=${c.firstFailing!.nodes} already fails`);
  else if (c.status === 'max-reached') lines.push(`  healthy up to --max-nodes ${c.maxNodes}: the ceiling is at least ${c.ceiling}`);
  else lines.push(`  largest healthy N (measured): ${c.ceiling ?? 'none'}`);
  if (c.firstFailing) lines.push(`  first failing N: ${c.firstFailing.nodes}, binding ${c.firstFailing.binding.kind}: ${c.firstFailing.binding.name} — ${c.firstFailing.binding.detail}`);
  if (c.projection) {
    lines.push(`  PROJECTED (not measured): ${c.projection.reason}`);
    for (const f of c.projection.fits) lines.push(`    fit: ${f.metric} ≈ ${f.a.toPrecision(3)}·N^${f.b.toFixed(2)} (r² ${f.r2.toFixed(3)}, ${f.points} runs)`);
  }
  return lines.join('\n');
}

export function registerCeilingCommand(program: Command): Command {
  return program
    .command('ceiling')
    .description('find the largest healthy fleet size (doubling, then bisection) and the limit or SLO that binds it')
    .requiredOption('-p, --protocol <name>', 'protocol')
    .requiredOption('-s, --scenario <name|path>', 'scenario name or path to a scenario .json')
    .option('--slo <figure op number>', 'an extra objective a healthy run must meet, e.g. misrouteRate<=0.001 (repeatable)', collect, [])
    .option('--max-nodes <N>', `largest fleet size to try (default ${DEFAULT_MAX_NODES})`, intOption('--max-nodes'))
    .option('--start-nodes <N>', `first fleet size (default ${DEFAULT_START_NODES})`, intOption('--start-nodes'))
    .option('--set <key=value>', 'override a protocol parameter or limits.*, costs.*, network.*, fleet.* (repeatable)', collect, [])
    .option('--costs <name|file>', 'cost profile: native, jvm, node-worker, or a calibrate file (before --set)')
    .option('--seed <S>', 'seed (default 1)', intOption('--seed'))
    .option('-d, --duration <time>', "simulated time per run (default: the scenario's)")
    .option('--max-run-wall <time>', 'wall-clock budget per run before projecting instead of measuring (default 10m)')
    .option('--runtime <name>', 'sim (default) or live (each probe is a real run on this machine)', 'sim')
    .option('--transport <ws|uws>', 'live runtime: the WebSocket server library', 'uws')
    .option('--hosts <spec>', 'live runtime: where node processes run: local, netns:K or agents:FILE (see run --help)', 'local')
    .option('-o, --out <file>', `ceiling file (default ${RUNS_DIR}/ceiling-<scenario>-<protocol>.json)`)
    .option('-q, --quiet', 'no per-run lines')
    .action(async (o: { protocol: string; scenario: string; slo: string[]; maxNodes?: number; startNodes?: number; set: string[]; costs?: string; seed?: number; duration?: string; maxRunWall?: string; out?: string; quiet?: boolean; runtime: string; transport: string; hosts: string }) => {
      if (o.hosts !== 'local' && o.runtime !== 'live') throw new UsageError(`--hosts: places live node processes; it needs --runtime live (got --runtime ${o.runtime})`);
      let stop = false;
      const onSigint = () => {
        stop = true;
        process.stderr.write('\ninterrupted: stopping the current run\n');
      };
      process.once('SIGINT', onSigint);
      try {
        const durationMs = o.duration === undefined ? undefined : parseDuration(o.duration);
        const wallMs = o.maxRunWall === undefined ? undefined : parseDuration(o.maxRunWall, '--max-run-wall');
        const planned = o.out ? resolveOut(o.out) : resolve(RUNS_DIR, 'ceiling-pending.json');
        if (o.out) checkWritable(planned);
        const c = await ceiling({
          protocol: o.protocol,
          scenario: o.scenario,
          slos: o.slo,
          maxNodes: o.maxNodes,
          startNodes: o.startNodes,
          // (so --set still wins), and the ceiling file records them in `sets`
          sets: o.set,
          costsFile: o.costs,
          seed: o.seed,
          durationMs,
          budget: wallMs === undefined ? undefined : { wallMs },
          onRun: (r) => {
            if (!o.quiet) process.stderr.write(`${describeRun(r)}\n`);
          },
          shouldStop: () => stop,
          runtime: getRuntime(o.runtime).name,
          transport: checkTransport(o.transport),
          ...(o.hosts !== 'local' ? { hosts: parseHostsSpec(o.hosts) } : {}),
        });
        const out = o.out ? planned : resolve(RUNS_DIR, `ceiling-${c.scenario}-${c.protocol}.json`);
        checkWritable(out);
        writeJsonAtomic(out, c);
        process.stdout.write(`${describeCeiling(c)}\nresult: ${out}\n`);
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });
}
