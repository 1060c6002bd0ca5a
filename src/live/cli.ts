/** Live-runtime commands for the fleetbench CLI (wired in src/cli/main.ts). */
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { checkWritable, resolveOut } from '../results/files.ts';
import { calibrate } from './calibrate.ts';

export const DEFAULT_COSTS_OUT = 'results/costs/this-machine.json';

export function registerLiveCommands(program: Command): void {
  program
    .command('calibrate')
    .description("measure this machine's costs (per-Worker RSS and spawn time, per-connection memory for ws and uWS, CPU per message, per byte, per request, per thread wakeup and per timer, loopback latency) into a cost profile for the simulator")
    .option('-o, --out <file>', `cost profile to write (default ${DEFAULT_COSTS_OUT})`)
    .option('--transport <ws|uws>', 'whose connection and message costs go into costs.* (both are in details)', 'ws')
    .action(async (o: { out?: string; transport: string }) => {
      if (o.transport !== 'ws' && o.transport !== 'uws') throw new UsageError(`--transport: expected ws or uws, got "${o.transport}"`);
      const out = resolveOut(o.out ?? DEFAULT_COSTS_OUT);
      checkWritable(out);
      const p = await calibrate({ out, transport: o.transport, log: (l) => process.stderr.write(`calibrate: ${l}\n`) });
      process.stdout.write(JSON.stringify({ costs: p.costs, network: p.network }, null, 2) + '\n');
      process.stdout.write(`cost profile: ${out}\n`);
    });
}
