/** `fleetbench sweep` and `fleetbench merge`: see sweep.ts and merge.ts. */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { UsageError } from '../errors.ts';
import { parseDuration } from '../harness/run-config.ts';
import { parseList, parseNodeList, parseShard } from './grid.ts';
import { mergeTree } from './merge.ts';
import { sweep, type SweepEvent, type SweepOptions, type SweepSummary } from './sweep.ts';
import { PRESETS, getPreset, presetProtocols } from './presets.ts';
import { join } from 'node:path';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function intOption(field: string, min: number) {
  return (v: string) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`${field}: expected an integer ≥ ${min}, got "${v}"`);
    return n;
  };
}

interface SweepCliOptions {
  protocols?: string;
  nodes?: string;
  scenario?: string;
  preset?: string;
  fresh?: boolean;
  repeat?: number;
  runtime: string;
  transport: string;
  jobs?: number;
  shard?: string;
  set: string[];
  seed?: number;
  duration?: string;
  out: string;
  quiet?: boolean;
}

export function registerSweepCommand(program: Command): Command {
  return program
    .command('sweep')
    .description('run protocols × fleet sizes × seeds for one scenario in parallel, one result file per cell; re-running resumes')
    .option('--protocols <a,b>', 'protocols, comma-separated (with --preset: default every registered protocol)')
    .option('--nodes <n1,n2>', 'fleet sizes, comma-separated, e.g. 100,300,1000')
    .option('-s, --scenario <name|path>', 'scenario name or path to a scenario .json')
    .option('--preset <name>', `a named set of sweeps, one directory per scenario under --out: ${Object.keys(PRESETS).join(', ')}`)
    .option('--fresh', 're-run every cell and replace what the directory held (for refreshing a baseline)')
    .option('--repeat <R>', 'seeds per cell: seed, seed+1, … (default 1)', intOption('--repeat', 1))
    .option('--runtime <name>', 'sim (cells in parallel) or live (one cell at a time: each takes the machine)', 'sim')
    .option('--transport <ws|uws>', 'live runtime: the WebSocket server library', 'uws')
    .option('-j, --jobs <J>', 'parallel worker threads (default: the number of cores)', intOption('--jobs', 1))
    .option('--shard <i/n>', 'run only shard i of n (1-based); join the parts with `fleetbench merge`')
    .option('--seed <S>', 'first seed (default 1)', intOption('--seed', 0))
    .option('-d, --duration <time>', "simulated time per run, e.g. 10s (default: the scenario's)")
    .option('--set <key=value>', 'override a protocol parameter or limits.*, costs.*, network.*, fleet.* (repeatable)', collect, [])
    .requiredOption('-o, --out <dir>', 'directory for the result files (and sweep.json)')
    .option('-q, --quiet', 'no progress output')
    .action(async (o: SweepCliOptions) => {
      const ac = new AbortController();
      const onSigint = () => {
        process.stderr.write('\ninterrupted: stopping running cells; re-run the same command to resume\n');
        ac.abort();
      };
      process.once('SIGINT', onSigint);
      const tty = process.stderr.isTTY && !o.quiet;
      let bar: cliProgress.SingleBar | null = null;
      const onEvent = (e: SweepEvent) => {
        if (o.quiet) return;
        if (e.type === 'plan') {
          process.stderr.write(`sweep: ${e.total} cell(s), ${e.skipped} already done, ${e.toRun} to run\n`);
          if (tty && e.toRun > 0) {
            bar = new cliProgress.SingleBar(
              { format: 'sweep {bar} {value}/{total} cells | last: {last} | elapsed {duration_formatted}', stream: process.stderr, hideCursor: true },
              cliProgress.Presets.shades_classic,
            );
            bar.start(e.toRun, 0, { last: '–' });
          }
        } else if (e.type === 'rerun') {
          process.stderr.write(`sweep: re-running ${e.cell.file}: ${e.reason}\n`);
        } else if (e.type === 'done') {
          const label = `${e.cell.protocol} n${e.cell.nodes} s${e.cell.seed}${e.outcome.healthy ? '' : ' (unhealthy)'}`;
          if (bar) bar.update(e.done, { last: label });
          else process.stderr.write(`[${e.done}/${e.toRun}] ${label} ${(e.outcome.wallMs / 1000).toFixed(1)}s\n`);
        }
      };
      try {
        const common = {
          repeat: o.repeat,
          runtime: o.runtime,
          transport: o.transport,
          jobs: o.jobs,
          shard: o.shard ? parseShard(o.shard) : null,
          seed: o.seed,
          sets: o.set,
          fresh: o.fresh,
          signal: ac.signal,
          onEvent,
        };
        const runs: SweepOptions[] = [];
        if (o.preset) {
          for (const [flag, v] of [['--nodes', o.nodes], ['--scenario', o.scenario], ['--duration', o.duration]] as const) {
            if (v !== undefined) throw new UsageError(`${flag}: not allowed with --preset (the preset fixes it)`);
          }
          const protocols = o.protocols ? parseList(o.protocols, '--protocols') : presetProtocols();
          for (const part of getPreset(o.preset)) {
            runs.push({ ...common, protocols, nodes: part.nodes, scenario: part.scenario, durationMs: part.durationMs, out: join(o.out, part.scenario) });
          }
        } else {
          for (const [flag, v] of [['--protocols', o.protocols], ['--nodes', o.nodes], ['--scenario', o.scenario]] as const) {
            if (v === undefined) throw new UsageError(`${flag}: required (or use --preset)`);
          }
          runs.push({
            ...common,
            protocols: parseList(o.protocols!, '--protocols'),
            nodes: parseNodeList(o.nodes!),
            scenario: o.scenario!,
            durationMs: o.duration === undefined ? null : parseDuration(o.duration),
            out: o.out,
          });
        }
        const summaries: SweepSummary[] = [];
        for (const run of runs) {
          if (ac.signal.aborted) break;
          const s = await sweep(run);
          summaries.push(s);
          (bar as cliProgress.SingleBar | null)?.stop();
          bar = null;
          for (const f of s.failures) process.stderr.write(`sweep: ${f.file} failed: ${f.error}\n`);
          process.stdout.write(`sweep: ${s.ran.length} ran, ${s.skipped.length} skipped, ${s.unfinished.length} unfinished, ${s.failures.length} failed → ${s.out}\n`);
        }
        if (ac.signal.aborted || summaries.some((s) => s.interrupted)) process.exitCode = 130;
        else if (summaries.some((s) => s.failures.length)) process.exitCode = 1;
      } finally {
        (bar as cliProgress.SingleBar | null)?.stop();
        process.removeListener('SIGINT', onSigint);
      }
    });
}

export function registerMergeCommand(program: Command): Command {
  return program
    .command('merge')
    .description('join the part directories of a sharded sweep into one directory')
    .argument('<dirs...>', 'sweep directories (each with its sweep.json), or directories of them as `sweep --preset` writes')
    .requiredOption('-o, --out <dir>', 'directory to merge into')
    .option('--allow-missing', 'merge even when cells of the grid are in no part')
    .action((dirs: string[], o: { out: string; allowMissing?: boolean }) => {
      for (const s of mergeTree(dirs, o.out, { allowMissing: o.allowMissing })) {
        if (s.missing.length) process.stderr.write(`merge: ${s.missing.length} cell(s) missing: ${s.missing.join(', ')}\n`);
        process.stdout.write(`merge: ${s.copied.length} copied, ${s.alreadyPresent.length} already present → ${s.out}\n`);
      }
    });
}
