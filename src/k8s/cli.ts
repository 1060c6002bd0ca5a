/** `fleetbench k8s render` and `fleetbench k8s collect`: see render.ts and collect.ts. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { parseDuration, resolveRun } from '../harness/run-config.ts';
import { checkWritable, writeFileAtomic } from '../results/files.ts';
import { collect } from './collect.ts';
import { renderYaml } from './render.ts';

const list = (v: string, prev: string[]) => [...prev, v];
const int = (field: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`${field}: expected an integer ≥ ${min}, got "${v}"`);
  return n;
};

interface RenderCli {
  protocol: string;
  scenario: string;
  nodes?: number;
  seed?: number;
  duration?: string;
  set: string[];
  hosts: number;
  image: string;
  name: string;
  namespace: string;
  transport: string;
  hold: string;
  tokenFile?: string;
  out?: string;
}

export function registerK8sCommand(program: Command): void {
  const k8s = program.command('k8s').description('a live run on a Kubernetes cluster: render its manifests, collect its result');
  k8s
    .command('render')
    .description('write the manifests (Secret, ConfigMap, headless Service, host-agent StatefulSet, coordinator Job) for a live run as YAML')
    .requiredOption('-p, --protocol <name>', 'protocol')
    .requiredOption('-s, --scenario <name|path>', 'scenario name or path (embedded in the manifests)')
    .option('-n, --nodes <N>', "fleet size at the start (default: the scenario's)", int('--nodes', 1))
    .option('--seed <S>', 'seed (default 1)', int('--seed', 0))
    .option('-d, --duration <time>', "run time (default: the scenario's)")
    .option('--set <key=value>', 'as for `run`; limits.memoryBytesPerNode and limits.coresPerNode size the agent pods (repeatable)', list, [])
    .requiredOption('--hosts <H>', 'host agents (StatefulSet replicas); nodes are spread round robin', int('--hosts', 1))
    .requiredOption('--image <ref>', 'container image built from this repository (see the README)')
    .option('--name <name>', 'name prefix of every object', 'fleetbench')
    .option('--namespace <ns>', 'Kubernetes namespace', 'default')
    .option('--transport <ws|uws>', 'live transport', 'ws')
    .option('--hold <time>', 'how long the coordinator pod keeps the result for `k8s collect`', '1h')
    .option('--token-file <file>', 'run token to use (default: 32 random bytes)')
    .option('-o, --out <file>', 'YAML file to write (default: stdout)')
    .action((o: RenderCli) => {
      if (o.transport !== 'ws' && o.transport !== 'uws') throw new UsageError(`--transport: expected ws or uws, got "${o.transport}"`);
      const cfg = resolveRun({ protocol: o.protocol, scenario: o.scenario, nodes: o.nodes, seed: o.seed, durationMs: o.duration === undefined ? undefined : parseDuration(o.duration), sets: o.set });
      const token = o.tokenFile ? readFileSync(o.tokenFile, 'utf8').trim() : undefined;
      if (o.tokenFile && !token) throw new UsageError(`--token-file: ${o.tokenFile} is empty`);
      const yaml = renderYaml({
        cfg,
        sets: o.set,
        hosts: o.hosts,
        name: o.name,
        namespace: o.namespace,
        image: o.image,
        transport: o.transport,
        holdSeconds: Math.ceil(parseDuration(o.hold, '--hold') / 1000),
        token,
      });
      if (!o.out) {
        process.stdout.write(yaml);
        return;
      }
      const out = resolve(o.out);
      checkWritable(out);
      writeFileAtomic(out, yaml);
      process.stderr.write(`manifests: ${out} (kubectl apply -f ${o.out})\n`);
    });
  k8s
    .command('collect')
    .description("wait for a cluster run to end, copy its result out of the coordinator's pod, validate it, and release the pod")
    .option('--name <name>', 'the name given to `k8s render`', 'fleetbench')
    .option('--namespace <ns>', 'Kubernetes namespace', 'default')
    .option('--kubectl <path>', 'kubectl to use', 'kubectl')
    .option('--timeout <time>', 'give up after', '1h')
    .requiredOption('-o, --out <file>', 'result file to write')
    .action(async (o: { name: string; namespace: string; kubectl: string; timeout: string; out: string }) => {
      const out = resolve(o.out);
      checkWritable(out);
      const c = await collect({ name: o.name, namespace: o.namespace, kubectl: o.kubectl, timeoutMs: parseDuration(o.timeout, '--timeout'), out });
      process.stderr.write(`result: ${out} (pod ${c.pod}, coordinator exit code ${c.exitCode})\n`);
      if (c.exitCode !== 0) process.exitCode = 1;
    });
}
