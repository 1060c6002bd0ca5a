/**
 * The fleetbench command line. Every command reads and writes files; console output is for people.
 * Bad input: one line on stderr naming the field and what is allowed, exit code 2.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import cliProgress from 'cli-progress';
import { UsageError } from '../errors.ts';
import { comparisonTable, num } from './format.ts';
import { PROTOCOLS } from '../protocols.ts';
import { loadScenario, scenarioNames } from '../harness/scenario.ts';
import { parseDuration, resolveRun, type RunConfig, type RunRequest } from '../harness/run-config.ts';
import { runSim } from '../sim/run.ts';
import { writeResultAtomic, type Result } from '../results/schema.ts';
import { checkWritable } from '../results/files.ts';
import { registerMergeCommand, registerSweepCommand } from '../sweep/cli.ts';
import { registerCeilingCommand } from '../ceiling/cli.ts';
import { registerReportCommand } from '../report/cli.ts';
import { registerCompareCommand } from '../compare/cli.ts';
import { sweep } from '../sweep/sweep.ts';
import { getPreset, presetProtocols } from '../sweep/presets.ts';
import { report } from '../report/report.ts';
import { registerLiveCommands } from '../live/cli.ts';
import { runLive } from '../live/run.ts';

type Runtime = 'sim' | 'live';
type Transport = 'ws' | 'uws';
interface RuntimeChoice {
  runtime: Runtime;
  transport: Transport;
}
const SIM: RuntimeChoice = { runtime: 'sim', transport: 'ws' };

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const RUNS_DIR = resolve(ROOT, 'results/runs');

/** Ctrl-C stops the current run at the next check; what was simulated is still written. */
let interrupted = false;
function installInterruptHandler(): void {
  process.once('SIGINT', () => {
    interrupted = true;
    process.stderr.write('\ninterrupted: finishing the current run\'s result file…\n');
    process.once('SIGINT', () => process.exit(130));
  });
}

export function defaultOutPath(cfg: RunConfig, how: RuntimeChoice = SIM): string {
  const runtime = how.runtime === 'live' ? `-live-${how.transport}` : '';
  return resolve(RUNS_DIR, `${cfg.scenario.name}-${cfg.protocol.name}${runtime}-n${cfg.nodes}-s${cfg.seed}.json`);
}

export { checkWritable };

async function runOne(cfg: RunConfig, out: string, quiet: boolean, how: RuntimeChoice = SIM): Promise<Result> {
  const tty = process.stderr.isTTY && !quiet;
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          format:
            how.runtime === 'live'
              ? `${cfg.protocol.name.padEnd(18)} {bar} {value}/{total} s (live, ${how.transport}) | wall {duration_formatted}`
              : `${cfg.protocol.name.padEnd(18)} {bar} {value}/{total} sim-s | {eps} events/s | wall {duration_formatted}`,
          stream: process.stderr,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  const started = Date.now();
  bar?.start(Math.round(cfg.durationMs / 1000), 0, { eps: '–' });
  const result =
    how.runtime === 'live'
      ? await runLive(cfg, {
          transport: how.transport,
          onProgress: (ms) => bar?.update(Math.floor(ms / 1000), { eps: '–' }),
          shouldStop: () => interrupted,
        })
      : await runSim(cfg, {
          onProgress: (simMs, events) => {
            bar?.update(Math.floor(simMs / 1000), { eps: num(events / Math.max((Date.now() - started) / 1000, 1e-3)) });
          },
          shouldStop: () => interrupted,
        });
  if (bar) {
    bar.update(Math.floor(result.run.simulatedMs / 1000));
    bar.stop();
  }
  writeResultAtomic(out, result);
  return result;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function intArg(field: string) {
  return (v: string) => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) throw new UsageError(`${field}: expected an integer, got "${v}"`);
    return n;
  };
}

export function buildProgram(): Command {
  const program = new Command('fleetbench')
    .description('Benchmark harness for cluster-membership protocols: throughput, memory and scaling ceilings, simulated and live.')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('run')
    .description('run one scenario for one protocol (simulator, or live processes on loopback) and write its result file')
    .requiredOption('-p, --protocol <name>', `protocol: ${[...PROTOCOLS.keys()].join(', ')}`)
    .requiredOption('-s, --scenario <name|path>', 'scenario name (see `fleetbench list`) or a path to a scenario .json')
    .option('-n, --nodes <N>', 'fleet size at the start (default: the scenario\'s)', intArg('--nodes'))
    .option('--seed <S>', 'seed for every random choice (default 1)', intArg('--seed'))
    .option('-d, --duration <time>', 'simulated time, e.g. 60s, 500ms, 2m (default: the scenario\'s)')
    .option('--set <key=value>', 'override a protocol parameter or limits.*, costs.*, network.*, fleet.* (repeatable)', collect, [])
    .option('--runtime <sim|live>', 'sim: the deterministic simulator; live: real processes, Workers and WebSockets on loopback', 'sim')
    .option('--transport <ws|uws>', 'live runtime: the WebSocket server library (nodes dial peers with the ws client)', 'uws')
    .option('--costs <name|file>', 'cost profile: a shipped one (native, jvm, node-worker: src/model/profiles/) or a file from `fleetbench calibrate`')
    .option('-o, --out <file>', `result file (default ${RUNS_DIR}/<scenario>-<protocol>-n<N>-s<seed>.json)`)
    .option('-q, --quiet', 'no progress bar')
    .action(async (o: { protocol: string; scenario: string; nodes?: number; seed?: number; duration?: string; set: string[]; runtime: string; transport: string; costs?: string; out?: string; quiet?: boolean }) => {
      if (o.runtime !== 'sim' && o.runtime !== 'live') throw new UsageError(`--runtime: expected sim or live, got "${o.runtime}"`);
      if (o.transport !== 'ws' && o.transport !== 'uws') throw new UsageError(`--transport: expected ws or uws, got "${o.transport}"`);
      const how: RuntimeChoice = { runtime: o.runtime, transport: o.transport };
      const req: RunRequest = {
        protocol: o.protocol,
        scenario: o.scenario,
        nodes: o.nodes,
        seed: o.seed,
        durationMs: o.duration === undefined ? undefined : parseDuration(o.duration),
        sets: o.set,
        costsFile: o.costs,
      };
      const cfg = resolveRun(req);
      const out = resolve(o.out ?? defaultOutPath(cfg, how));
      checkWritable(out);
      installInterruptHandler();
      const r = await runOne(cfg, out, o.quiet ?? false, how);
      process.stdout.write(comparisonTable([r]) + '\n');
      process.stdout.write(`result: ${out}\n`);
      if (interrupted) process.exitCode = 130;
    });

  program
    .command('list')
    .description('name the protocols and scenarios, one line each')
    .action(() => {
      const lines = ['protocols:'];
      for (const p of PROTOCOLS.values()) lines.push(`  ${p.name.padEnd(20)} ${p.summary}`);
      lines.push('scenarios:');
      for (const s of scenarioNames()) lines.push(`  ${s.padEnd(20)} ${loadScenario(s).description}`);
      process.stdout.write(lines.join('\n') + '\n');
    });

  program
    .command('default', { hidden: true })
    .description('the main job (npm start): kinesis-2020 for every protocol, the quick scale sweep, then the report')
    .option('-q, --quiet', 'no progress bar')
    .action(async (o: { quiet?: boolean }) => {
      installInterruptHandler();
      const quiet = o.quiet ?? false;
      const results: Result[] = [];
      const files: string[] = [];
      for (const name of PROTOCOLS.keys()) {
        if (interrupted) break;
        const cfg = resolveRun({ protocol: name, scenario: 'kinesis-2020' });
        const out = defaultOutPath(cfg);
        checkWritable(out);
        results.push(await runOne(cfg, out, quiet));
        files.push(out);
      }
      process.stdout.write(`\nkinesis-2020 in the simulator (${results[0]?.run.nodes ?? '?'} FEs + capacity addition, thread limit ${results[0]?.run.limits.threadsPerNode ?? '?'} per node)\n`);
      process.stdout.write(comparisonTable(results) + '\n');
      process.stdout.write(`results:\n${files.map((f) => `  ${f}`).join('\n')}\n`);

      // the scale sweep: per-node costs, convergence and detection against N for every protocol
      const quickDir = resolve(RUNS_DIR, 'quick');
      const abort = new AbortController();
      for (const part of getPreset('quick')) {
        if (interrupted) break;
        if (!quiet) process.stderr.write(`sweep ${part.scenario}: ${presetProtocols().length} protocols × N = ${part.nodes.join(', ')}\n`);
        const summary = await sweep({
          protocols: presetProtocols(),
          nodes: part.nodes,
          scenario: part.scenario,
          durationMs: part.durationMs,
          out: resolve(quickDir, part.scenario),
          fresh: true, // always this code's figures, never cells left by an older version
          signal: abort.signal,
          onEvent: (e) => {
            if (interrupted) abort.abort();
            if (!quiet && e.type === 'done') process.stderr.write(`  [${e.done}/${e.toRun}] ${e.cell.protocol} N=${e.cell.nodes}\n`);
          },
        });
        for (const f of summary.failures) process.stderr.write(`sweep: ${f.file} failed: ${f.error}\n`);
      }
      if (!interrupted) {
        const rep = await report([...files, quickDir], resolve(RUNS_DIR, 'report'));
        process.stdout.write(`\nreport (open in a browser): ${rep.html}\nsummary: ${rep.markdown}\n`);
      }
      if (interrupted) process.exitCode = 130;
    });

  registerLiveCommands(program);
  registerSweepCommand(program);
  registerMergeCommand(program);
  registerCeilingCommand(program);
  registerReportCommand(program);
  registerCompareCommand(program);

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`fleetbench: ${e.message}\n`);
      return 2;
    }
    if (e instanceof CommanderError) {
      // help and version are not errors; every other commander error is bad usage
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version' ? 0 : 2;
    }
    throw e;
  }
}

