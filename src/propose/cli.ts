/** `fleetbench propose FILE`: see propose.ts. Also the job `npm start` runs (runDefaultProposal). */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { propose, type ProposeOutput } from './propose.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** the proposal `npm start` answers */
export const DEFAULT_PROPOSAL = resolve(ROOT, 'bench/proposals/kinesis-2020.json');

export interface RunProposalOptions {
  file?: string;
  out?: string;
  quick?: boolean;
  quiet?: boolean;
  jobs?: number;
}

/**
 * Runs a proposal with progress on stderr and Ctrl-C handling, prints the verdict and where the
 * documents are on stdout. Returns the exit code: 0, or 130 when interrupted (what finished is kept).
 */
export async function runProposal(o: RunProposalOptions): Promise<{ code: number; output: ProposeOutput }> {
  let stop = false;
  const onSigint = () => {
    stop = true;
    process.stderr.write('\ninterrupted: stopping the current run; finished runs are kept\n');
    process.once('SIGINT', () => process.exit(130));
  };
  process.once('SIGINT', onSigint);
  const started = Date.now();
  try {
    const output = await propose({
      file: o.file ?? DEFAULT_PROPOSAL,
      out: o.out,
      quick: o.quick,
      jobs: o.jobs,
      onProgress: o.quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
      shouldStop: () => stop,
    });
    const r = output.result;
    const lines = [`\n${r.proposal.question}`, '', ...r.verdict.lines.map((l) => `  ${l}`), ''];
    lines.push(`decision document: ${output.files.html}`, `markdown: ${output.files.markdown}`, `data: ${output.files.json}`);
    lines.push(`wall time: ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (output.interrupted) lines.push(`interrupted: finished runs are kept in ${output.outDir}; to resume: ${output.resume}`);
    process.stdout.write(lines.join('\n') + '\n');
    return { code: output.interrupted ? 130 : 0, output };
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/** What `npm start` runs: the kinesis-2020 proposal at quick settings, printing the verdict. */
export async function runDefaultProposal(opts: { quiet?: boolean; out?: string } = {}): Promise<number> {
  return (await runProposal({ quick: true, quiet: opts.quiet, out: opts.out })).code;
}

export function registerProposeCommand(program: Command): Command {
  return program
    .command('propose')
    .description('run a proposal (a design question as a fleetbench/proposal@1 file): every design on its scenario and seeds, each ceiling, then a decision document')
    .argument('<file>', 'proposal file, e.g. bench/proposals/kinesis-2020.json')
    .option('-o, --out <dir>', 'output folder (default results/proposals/<name>[-quick]); rerunning into it resumes')
    .option('--quick', "the proposal's quick settings: fewer seeds, shorter ceiling runs")
    .option('-j, --jobs <n>', 'runs at once, each on a worker thread (default: available cores)', (v: string) => {
      const n = Number(v);
      if (!/^\d+$/.test(v.trim()) || n < 1) throw new UsageError(`--jobs: expected an integer ≥ 1, got "${v}"`);
      return n;
    })
    .option('-q, --quiet', 'no progress lines')
    .action(async (file: string, o: { out?: string; quick?: boolean; quiet?: boolean; jobs?: number }) => {
      const { code } = await runProposal({ file, out: o.out, quick: o.quick, quiet: o.quiet, jobs: o.jobs });
      if (code) process.exitCode = code;
    });
}
