/**
 * Kubernetes: `k8s render` output validates against the Kubernetes schemas (kubernetes-models)
 * and sizes the agent pods from the run's per-node limits; `k8s collect` copies, validates and
 * acknowledges the result (against a stand-in kubectl: no cluster is reachable from here); the
 * `--hosts` spec parses. Nothing here talks to a cluster.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Job } from 'kubernetes-models/batch/v1';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { resolveRun } from '../src/harness/run-config.ts';
import { parseScenario } from '../src/harness/scenario.ts';
import { collect } from '../src/k8s/collect.ts';
import { AGENT_OVERHEAD, renderManifests, renderYaml, type RenderOptions } from '../src/k8s/render.ts';
import { HostsFileSchema, parseHostsSpec } from '../src/live/hosts.ts';
import { ResultSchema } from '../src/results/schema.ts';
import { simulate } from './helpers.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MODELS = { Secret, ConfigMap, Service, StatefulSet, Job } as const;
const MI = 2 ** 20;

function opts(patch: Partial<RenderOptions> = {}, sets: string[] = ['limits.memoryBytesPerNode=268435456', 'limits.coresPerNode=1']): RenderOptions {
  return { cfg: resolveRun({ protocol: 'swim', scenario: 'steady', nodes: 16, sets }), sets, hosts: 4, name: 'fb', namespace: 'bench', image: 'registry.example/fleetbench:test', transport: 'ws', holdSeconds: 600, token: 'tok', ...patch };
}

describe('k8s render', () => {
  it('writes a YAML stream whose every document validates against its Kubernetes schema', () => {
    const docs = parseAllDocuments(renderYaml(opts())).map((d) => d.toJSON() as { kind: keyof typeof MODELS });
    expect(docs.map((d) => d.kind)).toEqual(['Secret', 'ConfigMap', 'Service', 'StatefulSet', 'Job']);
    for (const d of docs) {
      const Model = MODELS[d.kind] as unknown as new (x: unknown) => { validate(): void };
      expect(() => new Model(d).validate(), d.kind).not.toThrow();
    }
  });

  it('a schema violation is caught by the same validation (the check is not vacuous)', () => {
    const { statefulSet } = renderManifests(opts());
    const bad = new StatefulSet({ metadata: statefulSet.metadata, spec: { ...statefulSet.spec!, replicas: 'four' as unknown as number } });
    expect(() => bad.validate()).toThrow(/replicas/);
  });

  it.each([
    // nodes, hosts, per-node memory MiB, per-node cores → nodes on the busiest host
    [16, 4, 256, 1, 4],
    [17, 4, 256, 1, 5],
    [10, 1, 512, 2, 10],
    [3, 8, 128, 1, 1],
  ])('N=%i over %i agents at %i MiB and %i cores per node: requests = limits = busiest host × per-node limits + the agent', (n, hosts, memMi, cores, busiest) => {
    const sets = [`limits.memoryBytesPerNode=${memMi * MI}`, `limits.coresPerNode=${cores}`];
    const o = opts({ cfg: resolveRun({ protocol: 'async-multiplexed', scenario: 'steady', nodes: n, sets }), sets, hosts });
    const { statefulSet, agentResources } = renderManifests(o);
    expect(agentResources.nodes).toBe(busiest);
    const r = statefulSet.spec!.template.spec!.containers[0].resources!;
    const memory = `${busiest * memMi + AGENT_OVERHEAD.memoryBytes / MI}Mi`;
    const cpuMilli = busiest * cores * 1000 + AGENT_OVERHEAD.cpuMilli;
    const cpu = cpuMilli % 1000 === 0 ? String(cpuMilli / 1000) : `${cpuMilli}m`;
    expect(r.requests).toEqual({ cpu, memory });
    expect(r.limits).toEqual(r.requests);
    expect(statefulSet.spec!.replicas).toBe(hosts);
  });

  it('counts the nodes a scenario adds when sizing hosts', () => {
    const sets = ['limits.memoryBytesPerNode=268435456'];
    const cfg = resolveRun({ protocol: 'thread-per-peer', scenario: 'kinesis-2020-mini', sets });
    const added = cfg.scenario.events.reduce((k, e) => k + (e.type === 'add' ? e.count : 0), 0);
    expect(added).toBeGreaterThan(0);
    expect(renderManifests(opts({ cfg, sets, hosts: 1 })).agentResources.nodes).toBe(cfg.nodes + added);
  });

  it('wires the run: headless service, token secret to both sides, agents bound to their pod IP, scenario and hosts file in the ConfigMap', () => {
    const m = renderManifests(opts());
    expect(m.service.spec!.clusterIP).toBe('None');
    expect(m.statefulSet.spec!.serviceName).toBe(m.service.metadata!.name);
    expect(m.secret.stringData).toEqual({ token: 'tok' });
    const agent = m.statefulSet.spec!.template.spec!.containers[0];
    expect(agent.args!.slice(0, 2)).toEqual(['--bind', '$(POD_IP)']);
    expect(agent.env![0].valueFrom!.fieldRef!.fieldPath).toBe('status.podIP');
    expect(m.statefulSet.spec!.template.spec!.volumes![0].secret!.secretName).toBe('fb-token');
    const coord = m.job.spec!.template.spec!.containers[0];
    expect(coord.env![0].valueFrom!.secretKeyRef).toEqual({ name: 'fb-token', key: 'token' });
    expect(m.job.spec!.backoffLimit).toBe(0);
    expect(coord.command![2]).toContain("'--hosts' 'agents:/config/hosts.json'");
    expect(coord.command![2]).toContain("'--set' 'limits.coresPerNode=1'");
    expect(coord.command!.slice(0, 2)).toEqual(['sh', '-c']);
    execFileSync('sh', ['-n', '-c', coord.command![2]]); // the wrapper script parses
    const scenario = parseScenario(JSON.parse(m.config.data!['scenario.json']), 'configmap');
    expect(scenario.name).toBe('steady');
    const hosts = HostsFileSchema.parse(JSON.parse(m.config.data!['hosts.json']));
    expect(hosts.agents.map((a) => a.host)).toEqual([0, 1, 2, 3].map((i) => `fb-agent-${i}.fb-agents.bench.svc.cluster.local`));
  });

  it.each([
    [{ name: 'Fleet_Bench' }, /--name: expected a DNS label/],
    [{ namespace: 'a'.repeat(64) }, /--namespace/],
    [{ hosts: 0 }, /--hosts: expected an integer in 1–1000/],
    [{ image: '' }, /--image: required/],
  ])('rejects %o naming the field', (patch, msg) => {
    expect(() => renderManifests(opts(patch as Partial<RenderOptions>))).toThrow(msg);
  });

  it('the CLI writes the manifests to --out and refuses a bad name with exit code 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetbench-k8s-'));
    try {
      const out = join(dir, 'run.yaml');
      const cli = (extra: string[]) => execFileSync(process.execPath, [resolve(ROOT, 'bin/fleetbench.mjs'), 'k8s', 'render', '-p', 'swim', '-s', 'steady', '-n', '8', '--hosts', '2', '--image', 'x/fb:1', ...extra], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
      cli(['--out', out]);
      expect(parseAllDocuments(readFileSync(out, 'utf8')).length).toBe(5);
      let code = 0;
      try {
        cli(['--name', 'BAD']);
      } catch (e) {
        code = (e as { status: number }).status;
      }
      expect(code).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('k8s collect (stand-in kubectl)', () => {
  let dir: string;
  let resultText: string;
  const kubectl = resolve(ROOT, 'test/fixtures/fake-kubectl.mjs');
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fleetbench-collect-'));
    process.env.FAKE_POD_RESULTS = dir;
    const r = await simulate({ protocol: 'swim', scenario: 'steady', nodes: 8, durationMs: 2000 });
    resultText = JSON.stringify(r);
  });
  afterAll(() => {
    delete process.env.FAKE_POD_RESULTS;
    rmSync(dir, { recursive: true, force: true });
  });

  it('waits for the exit code, copies and validates the result, writes it, then releases the pod', async () => {
    writeFileSync(join(dir, 'result.json'), resultText);
    setTimeout(() => writeFileSync(join(dir, 'exit-code'), '0\n'), 300); // the run ends while collect waits
    const out = join(dir, 'out.json');
    const c = await collect({ name: 'fb', namespace: 'bench', out, kubectl, pollMs: 50, timeoutMs: 10_000 });
    expect(c.exitCode).toBe(0);
    expect(c.pod).toBe('fb-coordinator-x1');
    expect(ResultSchema.parse(JSON.parse(readFileSync(out, 'utf8')))).toEqual(JSON.parse(resultText));
    expect(existsSync(join(dir, 'collected'))).toBe(true);
    const calls = readFileSync(join(dir, 'calls.log'), 'utf8');
    expect(calls).toContain('"job-name=fb-coordinator"');
    expect(calls.indexOf('touch')).toBeGreaterThan(calls.lastIndexOf('result.json'));
  });

  it('refuses an invalid result file, writes nothing, and leaves the pod holding', async () => {
    rmSync(join(dir, 'collected'), { force: true });
    writeFileSync(join(dir, 'result.json'), '{"schema": "fleetbench/result@1"}');
    writeFileSync(join(dir, 'exit-code'), '0\n');
    const out = join(dir, 'bad.json');
    await expect(collect({ name: 'fb', namespace: 'bench', out, kubectl, pollMs: 50, timeoutMs: 5000 })).rejects.toThrow(/is not a valid result/);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(join(dir, 'collected'))).toBe(false);
  });
});

describe('--hosts', () => {
  it.each([
    ['local', { kind: 'local' }],
    ['netns:4', { kind: 'netns', hosts: 4 }],
  ])('%s parses', (v, want) => {
    expect(parseHostsSpec(v)).toEqual(want);
  });
  it.each([
    ['netns:0', /netns:K needs K in 1–250/],
    ['netns:x', /expected local, netns:K or agents:FILE/],
    ['cluster', /expected local, netns:K or agents:FILE/],
    ['agents:/nonexistent/hosts.json', /hosts.json: cannot read/],
  ])('%s is refused naming the flag', (v, msg) => {
    expect(() => parseHostsSpec(v)).toThrow(msg);
  });
  it('agents:FILE reads a rendered hosts file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetbench-hosts-'));
    try {
      const f = join(dir, 'hosts.json');
      writeFileSync(f, renderManifests(opts()).config.data!['hosts.json']);
      const h = parseHostsSpec(`agents:${f}`);
      expect(h.kind === 'agents' && h.agents.length).toBe(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
