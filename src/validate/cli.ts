/** `fleetbench validate <protocol> --against <implementation>`: see validate.ts. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { checkWritable, readVersioned, writeFileAtomic, writeJsonAtomic } from '../results/files.ts';
import { serfUnavailableReason } from '../blackbox/serf/agent.ts';
import { DEFAULT_SETS, faultOf, validate, validateMarkdown } from './validate.ts';
import { VALIDATE_SCHEMA, ValidateDocSchema } from './schema.ts';

/** What each real implementation validates: the model protocol it is the reference for. */
const AGAINST: Record<string, string> = { serf: 'swim' };

function intList(field: string, min: number) {
  return (text: string): number[] => {
    const out = text.split(',').map((s) => s.trim());
    return out.map((s) => {
      const v = Number(s);
      if (!/^\d+$/.test(s) || v < min) throw new UsageError(`${field}: "${s}" is not an integer ≥ ${min}; give a comma-separated list, e.g. 8,32,64`);
      return v;
    });
  };
}

function posInt(field: string, min: number) {
  return (text: string): number => {
    const v = Number(text);
    if (!/^\d+$/.test(text.trim()) || v < min) throw new UsageError(`${field}: expected an integer ≥ ${min}, got "${text}"`);
    return v;
  };
}

export function registerValidateCommand(program: Command): Command {
  return program
    .command('validate')
    .description('check a model protocol against a real implementation (swim against HashiCorp Serf agents on loopback): detection, join, false positives, traffic')
    .argument('<protocol>', 'the model protocol (swim)')
    .requiredOption('--against <impl>', `the real implementation: ${Object.keys(AGAINST).join(', ')}`)
    .option('-n, --nodes <list>', 'fleet sizes, comma-separated', intList('--nodes', 3), [8, 32, 64])
    .option('--scenarios <list>', 'scenarios with one crash or one add event', 'crash,join')
    .option('--trials <k>', 'real runs per (scenario, N)', posInt('--trials', 1), 3)
    .option('--model-trials <k>', 'simulator runs (seeds) per (scenario, N)', posInt('--model-trials', 1), 10)
    .option('--seed <S>', 'first seed (trial i uses seed + i)', posInt('--seed', 0), 1)
    .option('--set <key=value>', `model parameter override, applied after the defaults ${DEFAULT_SETS.join(' ')} (repeatable)`, (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--settle <ms>', 'real runs: quiet time after convergence before the fault', posInt('--settle', 0), 5000)
    .option('--converge-timeout <ms>', 'real runs: at most this long for the agents to converge before the fault', posInt('--converge-timeout', 1000), 120_000)
    .option('--real-from <file>', 'reuse the real trials of an earlier validate file instead of running agents (model-side changes)')
    .option('-o, --out <file>', 'result file', 'results/runs/validate-swim-serf.json')
    .option('--markdown <file>', 'also write the table as Markdown (default: the result path with .md)')
    .option('-q, --quiet', 'no progress lines')
    .action(async (protocol: string, o: { against: string; nodes: number[]; scenarios: string; trials: number; modelTrials: number; seed: number; set: string[]; settle: number; convergeTimeout: number; realFrom?: string; out: string; markdown?: string; quiet?: boolean }) => {
      const expected = AGAINST[o.against];
      if (!expected) throw new UsageError(`--against: "${o.against}" is not known; known: ${Object.keys(AGAINST).join(', ')}`);
      if (protocol !== expected) throw new UsageError(`<protocol>: ${o.against} is the reference for ${expected}, not "${protocol}"`);
      const scenarios = o.scenarios.split(',').map((s) => s.trim()).filter(Boolean);
      for (const s of scenarios) {
        try {
          faultOf(s);
        } catch (e) {
          throw new UsageError(`--scenarios: ${(e as Error).message.replace(/^validate: /, '')}`);
        }
      }
      const out = resolve(o.out);
      const md = resolve(o.markdown ?? out.replace(/\.json$/, '') + '.md');
      checkWritable(out);
      checkWritable(md, '--markdown');
      const realFrom = o.realFrom ? { path: resolve(o.realFrom), trials: readVersioned(resolve(o.realFrom), VALIDATE_SCHEMA, ValidateDocSchema).real } : undefined;
      if (realFrom && resolve(o.realFrom!) === out) throw new UsageError(`--real-from: ${out} is also --out; write the new result elsewhere`);
      const why = realFrom ? null : serfUnavailableReason();
      if (why) throw new UsageError(`--against serf: ${why}`);
      const doc = await validate({
        protocol,
        against: o.against,
        nodes: o.nodes,
        scenarios,
        realTrials: o.trials,
        modelTrials: o.modelTrials,
        seed: o.seed,
        // the user's overrides after the defaults: a later set wins, the other defaults stay
        sets: [...DEFAULT_SETS, ...o.set],
        modelDurationMs: 60_000,
        settleMs: o.settle,
        convergeTimeoutMs: o.convergeTimeout,
        realFrom,
        onProgress: o.quiet ? undefined : (line) => process.stderr.write(line + '\n'),
      });
      writeJsonAtomic(out, ValidateDocSchema.parse(doc));
      const table = validateMarkdown(doc);
      writeFileAtomic(md, table);
      process.stdout.write(table);
      process.stdout.write(`result: ${out}\ntable: ${md}\n`);
    });
}
