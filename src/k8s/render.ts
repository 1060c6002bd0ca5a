/**
 * The manifests for a live run on a Kubernetes cluster, built with kubernetes-models (so each is
 * typed and validated against the Kubernetes 1.27 JSON schemas) and written as one YAML stream:
 *
 * - Secret `<name>-token`: the run token (agents read it as a file, the coordinator as an env var);
 * - ConfigMap `<name>-run`: the resolved scenario and the hosts file (fleetbench/hosts@1) that
 *   lists every agent by its stable StatefulSet DNS name;
 * - Service `<name>-agents`: headless (clusterIP None), so each agent pod has its own DNS name;
 * - StatefulSet `<name>-agent`: H host agents, each bound to its pod IP only, with CPU and memory
 *   requests = limits = (nodes on that host) × the run's per-node limits + the agent's own share
 *   (Guaranteed QoS: no noisy-neighbour throttling inside a benchmark), spread over cluster nodes;
 * - Job `<name>-coordinator`: runs the live coordinator once (no retries: a retry would be a
 *   different run), writes the result to /results/result.json and holds the pod until
 *   `fleetbench k8s collect` has copied it (or the hold ends).
 */
import { randomBytes } from 'node:crypto';
import { Job } from 'kubernetes-models/batch/v1';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { stringify } from 'yaml';
import { UsageError } from '../errors.ts';
import type { RunConfig } from '../harness/run-config.ts';
import { DEFAULT_TOKEN_ENV, HOSTS_SCHEMA, nodesPerHost, type HostsFile } from '../live/hosts.ts';

export const AGENT_PORT = 7070;
export const RESULTS_DIR = '/results';
export const CONFIG_DIR = '/config';
export const TOKEN_DIR = '/etc/fleetbench';
/** Files in RESULTS_DIR: the result, the coordinator's exit code, and collect's acknowledgement. */
export const RESULT_FILE = 'result.json';
export const EXIT_FILE = 'exit-code';
export const COLLECTED_FILE = 'collected';

/** The agent's own share of its pod (a Node process relaying IPC). Assumption, not measured on a cluster. */
export const AGENT_OVERHEAD = { cpuMilli: 250, memoryBytes: 256 * 2 ** 20, source: 'assumption: one Node process (~60 MB RSS measured here for a node host) relaying IPC frames, with headroom' };
/** The coordinator pod also runs the load generator and the watchdog. Assumption. */
export const COORDINATOR_RESOURCES = { cpuMilli: 1000, memoryBytes: 1024 * 2 ** 20, source: 'assumption: coordinator + load generator + watchdog, ~150 MB measured here (capacity.ts), with headroom for result building' };

export interface RenderOptions {
  cfg: RunConfig;
  /** the `--set` strings the run was resolved with, passed on to the coordinator as they are */
  sets: readonly string[];
  hosts: number;
  name: string;
  namespace: string;
  image: string;
  transport: 'ws' | 'uws';
  /** how long the coordinator pod waits for `k8s collect` after the run, seconds */
  holdSeconds: number;
  /** the run token; generated (32 random bytes, hex) when absent */
  token?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function checkName(field: string, v: string, max: number): void {
  if (!DNS_LABEL.test(v) || v.length > max) throw new UsageError(`${field}: expected a DNS label (lower-case letters, digits and '-', at most ${max} characters), got "${v}"`);
}

const mem = (bytes: number) => (bytes % 2 ** 20 === 0 ? `${bytes / 2 ** 20}Mi` : String(Math.ceil(bytes)));
const cpu = (milli: number) => (milli % 1000 === 0 ? String(milli / 1000) : `${Math.ceil(milli)}m`);

/** CPU and memory of one agent pod: the busiest host's nodes at their per-node limits, plus the agent. */
export function agentResources(cfg: RunConfig, hosts: number): { nodes: number; cpu: string; memory: string } {
  const added = cfg.scenario.events.reduce((n, e) => n + (e.type === 'add' ? e.count : 0), 0);
  const nodes = nodesPerHost(cfg.nodes + added, hosts);
  return {
    nodes,
    cpu: cpu(nodes * cfg.limits.coresPerNode * 1000 + AGENT_OVERHEAD.cpuMilli),
    memory: mem(nodes * cfg.limits.memoryBytesPerNode + AGENT_OVERHEAD.memoryBytes),
  };
}

const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The manifests as model objects, each validated; throws on the first invalid one. */
export function renderManifests(o: RenderOptions) {
  checkName('--name', o.name, 40);
  checkName('--namespace', o.namespace, 63);
  if (!Number.isInteger(o.hosts) || o.hosts < 1 || o.hosts > 1000) throw new UsageError(`--hosts: expected an integer in 1–1000, got ${o.hosts}`);
  if (!o.image) throw new UsageError('--image: required (an image built from this repository, see the README)');
  const ns = o.namespace;
  const labels = { 'app.kubernetes.io/name': 'fleetbench', 'app.kubernetes.io/instance': o.name };
  const agentLabels = { ...labels, 'app.kubernetes.io/component': 'host-agent' };
  const svc = `${o.name}-agents`;
  const sts = `${o.name}-agent`;
  const token = o.token ?? randomBytes(32).toString('hex');
  const res = agentResources(o.cfg, o.hosts);
  const hostsFile: HostsFile = {
    schema: HOSTS_SCHEMA,
    agents: Array.from({ length: o.hosts }, (_, i) => ({ host: `${sts}-${i}.${svc}.${ns}.svc.cluster.local`, port: AGENT_PORT })),
    tokenEnv: DEFAULT_TOKEN_ENV,
  };
  const security = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, runAsUser: 1000, capabilities: { drop: ['ALL'] } };

  const secret = new Secret({ metadata: { name: `${o.name}-token`, namespace: ns, labels }, type: 'Opaque', stringData: { token } });
  const config = new ConfigMap({
    metadata: { name: `${o.name}-run`, namespace: ns, labels },
    data: { 'scenario.json': JSON.stringify(o.cfg.scenario, null, 2) + '\n', 'hosts.json': JSON.stringify(hostsFile, null, 2) + '\n' },
  });
  const service = new Service({
    metadata: { name: svc, namespace: ns, labels: agentLabels },
    spec: { clusterIP: 'None', selector: agentLabels, ports: [{ name: 'agent', port: AGENT_PORT, targetPort: AGENT_PORT, protocol: 'TCP' }], publishNotReadyAddresses: false },
  });
  const statefulSet = new StatefulSet({
    metadata: { name: sts, namespace: ns, labels: agentLabels },
    spec: {
      serviceName: svc,
      replicas: o.hosts,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: agentLabels },
      template: {
        metadata: { labels: agentLabels },
        spec: {
          securityContext: { fsGroup: 1000 },
          // one agent per cluster node where possible: hosts are meant to be separate machines
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: agentLabels } } }],
            },
          },
          containers: [
            {
              name: 'host-agent',
              image: o.image,
              command: ['node', '--import', 'tsx', 'src/live/host-agent.ts'],
              args: ['--bind', '$(POD_IP)', '--port', String(AGENT_PORT), '--token-file', `${TOKEN_DIR}/token`],
              env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
              ports: [{ name: 'agent', containerPort: AGENT_PORT, protocol: 'TCP' }],
              readinessProbe: { tcpSocket: { port: AGENT_PORT }, periodSeconds: 5 },
              resources: { requests: { cpu: res.cpu, memory: res.memory }, limits: { cpu: res.cpu, memory: res.memory } },
              securityContext: security,
              volumeMounts: [
                { name: 'token', mountPath: TOKEN_DIR, readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'token', secret: { secretName: secret.metadata!.name!, defaultMode: 0o440 } },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
    },
  });

  const runArgs = [
    'node', 'bin/fleetbench.mjs', 'run', '--runtime', 'live', '--transport', o.transport,
    '--hosts', `agents:${CONFIG_DIR}/hosts.json`,
    '-p', o.cfg.protocol.name, '-s', `${CONFIG_DIR}/scenario.json`,
    '-n', String(o.cfg.nodes), '--seed', String(o.cfg.seed), '-d', `${o.cfg.durationMs}ms`,
    ...o.sets.flatMap((s) => ['--set', s]),
    '--quiet', '--out', `${RESULTS_DIR}/${RESULT_FILE}`,
  ];
  // the result stays in the pod until `k8s collect` has copied it (or the hold ends); the exit
  // code file tells collect the run is over and how it ended
  const script = [
    `${runArgs.map(shQuote).join(' ')}; rc=$?`,
    `echo "$rc" > ${RESULTS_DIR}/${EXIT_FILE}`,
    `i=0; while [ ! -f ${RESULTS_DIR}/${COLLECTED_FILE} ] && [ "$i" -lt ${o.holdSeconds} ]; do sleep 1; i=$((i+1)); done`,
    'exit "$rc"',
  ].join('\n');
  const runSeconds = Math.ceil(o.cfg.durationMs / 1000);
  const job = new Job({
    metadata: { name: `${o.name}-coordinator`, namespace: ns, labels: { ...labels, 'app.kubernetes.io/component': 'coordinator' } },
    spec: {
      backoffLimit: 0,
      // start-up of every node, the run, and the hold for collect
      activeDeadlineSeconds: 600 + runSeconds + o.holdSeconds,
      template: {
        metadata: { labels: { ...labels, 'app.kubernetes.io/component': 'coordinator' } },
        spec: {
          restartPolicy: 'Never',
          securityContext: { fsGroup: 1000 },
          containers: [
            {
              name: 'coordinator',
              image: o.image,
              command: ['sh', '-c', script],
              env: [{ name: DEFAULT_TOKEN_ENV, valueFrom: { secretKeyRef: { name: secret.metadata!.name!, key: 'token' } } }],
              resources: {
                requests: { cpu: cpu(COORDINATOR_RESOURCES.cpuMilli), memory: mem(COORDINATOR_RESOURCES.memoryBytes) },
                limits: { cpu: cpu(COORDINATOR_RESOURCES.cpuMilli), memory: mem(COORDINATOR_RESOURCES.memoryBytes) },
              },
              securityContext: security,
              volumeMounts: [
                { name: 'run', mountPath: CONFIG_DIR, readOnly: true },
                { name: 'results', mountPath: RESULTS_DIR },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'run', configMap: { name: config.metadata!.name! } },
            { name: 'results', emptyDir: {} },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
    },
  });
  const all = [secret, config, service, statefulSet, job];
  for (const m of all) m.validate();
  return { secret, config, service, statefulSet, job, hostsFile, agentResources: res, all };
}

/** The manifests as one YAML stream (`kubectl apply -f`). */
export function renderYaml(o: RenderOptions): string {
  const { all } = renderManifests(o);
  const head = `# fleetbench live run "${o.name}": ${o.cfg.protocol.name} on ${o.cfg.scenario.name}, N=${o.cfg.nodes}, ${o.hosts} host agents.\n# Contains the run token (Secret ${o.name}-token): do not commit this file.\n`;
  return head + all.map((m) => stringify(m.toJSON(), { lineWidth: 0 })).join('---\n');
}
