/** `fleetbench report DIR|FILES --out DIR`: see report.ts. */
import type { Command } from 'commander';
import { report } from './report.ts';

export function registerReportCommand(program: Command): Command {
  return program
    .command('report')
    .description('write a self-contained HTML report with charts and a Markdown summary from result, ceiling and micro-benchmark files')
    .argument('<inputs...>', 'result files or directories of them (searched recursively)')
    .requiredOption('-o, --out <dir>', 'directory for report.html and report.md')
    .action(async (inputs: string[], o: { out: string }) => {
      const r = await report(inputs, o.out);
      for (const n of r.notes) process.stderr.write(`note: ${n}\n`);
      process.stdout.write(`report: ${r.html}\nsummary: ${r.markdown}\n`);
    });
}
