/**
 * The fleetbench command line. Every command reads and writes files; console output is for people.
 * Bad input: one line on stderr naming the field and what is allowed, exit code 2.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import cliProgress from 'cli-progress';
import { UsageError, escapeControl } from '../errors.ts';
import { comparisonTable, num } from './format.ts';
import { PROTOCOLS } from '../protocols.ts';
import { loadScenario, scenarioNames } from '../harness/scenario.ts';
import { parseDuration, resolveRun, type RunConfig, type RunRequest } from '../harness/run-config.ts';
import { writeResultAtomic, type Result } from '../results/schema.ts';
import { checkWritable, resolveOut, streamFd } from '../results/files.ts';
import { registerMergeCommand, registerSweepCommand } from '../sweep/cli.ts';
import { registerCeilingCommand } from '../ceiling/cli.ts';
import { registerSaturateCommand } from '../saturate/cli.ts';
import { registerReportCommand } from '../report/cli.ts';
import { registerCompareCommand } from '../compare/cli.ts';
import { registerProposeCommand, runDefaultProposal } from '../propose/cli.ts';
import { registerValidateCommand } from '../validate/cli.ts';
import { registerLiveCommands } from '../live/cli.ts';
import { RUNTIMES, checkTransport, getRuntime, type RuntimeName, type TransportKind } from '../runtimes.ts';
import { registerK8sCommand } from '../k8s/cli.ts';
import { parseHostsSpec, type HostsSpec } from '../live/hosts.ts';

interface RuntimeChoice {
  runtime: RuntimeName;
  transport: TransportKind;
  /** live only: where node processes run (--hosts) */
  hosts?: HostsSpec;
}
const SIM: RuntimeChoice = { runtime: 'sim', transport: 'uws' };

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
  // without a terminal there is no bar: one line says the run has started (logs, CI, tests)
  if (!tty && !quiet) process.stderr.write(`run: ${cfg.protocol.name} ${cfg.scenario.name} N=${cfg.nodes} seed ${cfg.seed} (${how.runtime}) → ${out}\n`);
  const result = await getRuntime(how.runtime).run(cfg, {
    transport: how.transport,
    hosts: how.hosts,
    onProgress: (ms, events) => {
      bar?.update(Math.floor(ms / 1000), { eps: events === undefined ? '–' : num(events / Math.max((Date.now() - started) / 1000, 1e-3)) });
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
    // commander quotes the offending argument: escape what a terminal would act on
    .configureOutput({ outputError: (text, write) => write(safeLines(text.replace(/\n$/, '')) + '\n') })
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
    .option('--runtime <name>', [...RUNTIMES.values()].map((r) => `${r.name}: ${r.summary}`).join('; '), 'sim')
    .option('--transport <ws|uws>', 'live runtime: the WebSocket server library (nodes dial peers with the ws client)', 'uws')
    .option('--hosts <spec>', 'live runtime: where node processes run: local (fork here), netns:K (K network namespaces made by the run, root only; scenario loss and partitions become kernel faults between them) or agents:FILE (host agents listed in a fleetbench/hosts@1 file)', 'local')
    .option('--costs <name|file>', 'cost profile: a shipped one (native, jvm, node-worker: src/model/profiles/) or a file from `fleetbench calibrate`')
    .option('-o, --out <file>', `result file (default ${RUNS_DIR}/<scenario>-<protocol>-n<N>-s<seed>.json)`)
    .option('-q, --quiet', 'no progress bar')
    .action(async (o: { protocol: string; scenario: string; nodes?: number; seed?: number; duration?: string; set: string[]; runtime: string; transport: string; hosts: string; costs?: string; out?: string; quiet?: boolean }) => {
      const how: RuntimeChoice = { runtime: getRuntime(o.runtime).name, transport: checkTransport(o.transport) };
      if (o.hosts !== 'local') {
        if (how.runtime !== 'live') throw new UsageError(`--hosts: places live node processes; it needs --runtime live (got --runtime ${how.runtime})`);
        how.hosts = parseHostsSpec(o.hosts);
      }
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
      const out = o.out === undefined ? defaultOutPath(cfg, how) : resolveOut(o.out);
      checkWritable(out);
      installInterruptHandler();
      const r = await runOne(cfg, out, o.quiet ?? false, how);
      // with the result on standard output, the table goes to standard error
      const human = streamFd(out) === null ? process.stdout : process.stderr;
      human.write(comparisonTable([r]) + '\n');
      human.write(`result: ${out}\n`);
      if (interrupted) process.exitCode = 130;
    });

  program
    .command('list')
    .description('name the protocols and scenarios, one line each')
    .action(() => {
      const lines = ['protocols:'];
      for (const p of PROTOCOLS.values()) lines.push(`  ${p.name.padEnd(20)} ${p.summary}`);
      lines.push('scenarios:');
      for (const s of scenarioNames()) lines.push(`  ${s.padEnd(20)} ${loadScenario(s).description ?? ''}`);
      process.stdout.write(lines.join('\n') + '\n');
    });

  program
    .command('default', { hidden: true })
    .description('the main job (npm start): the kinesis-2020 proposal at quick settings; prints the verdict')
    .option('-q, --quiet', 'no progress lines')
    .action(async (o: { quiet?: boolean }) => {
      const code = await runDefaultProposal({ quiet: o.quiet });
      if (code) process.exitCode = code;
    });

  registerLiveCommands(program);
  registerK8sCommand(program);
  registerSweepCommand(program);
  registerMergeCommand(program);
  registerCeilingCommand(program);
  registerSaturateCommand(program);
  registerReportCommand(program);
  registerCompareCommand(program);
  registerProposeCommand(program);
  registerValidateCommand(program);

  return program;
}

/**
 * Lines a terminal cannot misread: control characters escaped (src/errors.ts), each line bounded.
 * A message has several lines only when it lists several problems, one per line.
 */
export function safeLines(text: string, max = 2000): string {
  return text
    .split('\n')
    .map((line) => {
      const escaped = escapeControl(line);
      return escaped.length > max ? `${escaped.slice(0, max)}… (${escaped.length - max} more characters)` : escaped;
    })
    .join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(safeLines(e.message).split('\n').map((l) => `fleetbench: ${l}\n`).join(''));
      return 2;
    }
    if (e instanceof CommanderError) {
      // help and version are not errors; every other commander error is bad usage
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version' ? 0 : 2;
    }
    throw e;
  }
}

