/** `fleetbench compare BASE HEAD`: see compare.ts for what is compared and how. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { DEFAULT_THRESHOLD, compare, failed, formatMarkdown, formatText } from './compare.ts';

/** "10%", "0.1" → 0.1 */
export function parseThreshold(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text);
  if (!m) throw new UsageError(`--threshold: "${text}" is not a fraction; use e.g. 10% or 0.1`);
  const v = Number(m[1]) / (m[2] ? 100 : 1);
  if (v > 10) throw new UsageError(`--threshold: ${text} is over 1000%; did you mean ${m[1]}%?`);
  return v;
}

export function registerCompareCommand(program: Command): Command {
  return program
    .command('compare')
    .description('compare two sets of result, micro-benchmark or ceiling files (files or directories), benchstat style')
    .argument('<base>', 'baseline: a file or a directory of them')
    .argument('<head>', 'candidate: a file or a directory of them')
    .option('--threshold <pct>', `a worse change larger than this is a regression (default ${DEFAULT_THRESHOLD * 100}%)`, parseThreshold)
    .option('--fail-on-regression', 'exit 1 when a significant (or exact) regression is beyond the threshold')
    .option('--fail-on-change', 'exit 1 when any deterministic (simulator) figure changed, better or worse')
    .option('--markdown <file>', 'also append the comparison as Markdown to this file (e.g. $GITHUB_STEP_SUMMARY)')
    .option('--changed-only', 'show only rows that changed; metrics unchanged everywhere collapse into one line')
    .action((base: string, head: string, o: { threshold?: number; failOnRegression?: boolean; failOnChange?: boolean; markdown?: string; changedOnly?: boolean }) => {
      const opts = { threshold: o.threshold, failOnRegression: o.failOnRegression, failOnChange: o.failOnChange };
      const c = compare(base, head, opts);
      process.stdout.write(formatText(c, { changedOnly: o.changedOnly }));
      if (o.markdown) {
        const path = resolve(o.markdown);
        try {
          mkdirSync(dirname(path), { recursive: true });
          writeFileSync(path, formatMarkdown(c, { changedOnly: o.changedOnly }), { flag: 'a' });
        } catch (e) {
          throw new UsageError(`--markdown: cannot write ${path} (${(e as Error).message})`);
        }
      }
      if (failed(c, opts)) {
        if (o.failOnChange && c.onlyInBase.length) {
          process.stderr.write(`fleetbench compare: ${c.onlyInBase.length} baseline cell(s) missing from head (${c.onlyInBase.slice(0, 5).join(', ')}${c.onlyInBase.length > 5 ? ', …' : ''}); if intended, update the baseline\n`);
        }
        if (o.failOnChange && c.changes.length) {
          process.stderr.write(`fleetbench compare: ${c.changes.length} deterministic figure(s) changed; if intended, update the baseline\n`);
        }
        if (o.failOnRegression && c.regressions.length) {
          process.stderr.write(`fleetbench compare: ${c.regressions.length} regression(s) beyond the threshold\n`);
        }
        process.exitCode = 1;
      }
    });
}
