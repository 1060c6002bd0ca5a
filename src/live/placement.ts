/**
 * Placing node processes on hosts through host agents, for `--hosts netns:K` and
 * `--hosts agents:FILE` (hosts.ts). The live coordinator keeps forking locally for `local`; for
 * the other two it asks a Placement for each node instead of calling fork(), and gets back a
 * RemoteNode that behaves like the ChildProcess it forks today (send, kill, 'message', 'exit').
 *
 * netns:K — creates K namespace hosts (netns.ts), starts one agent in each with
 * `nsenter --net=… node host-agent.ts --bind <its address> --once` (the namespace's network,
 * this machine's mounts: cgroups stay reachable), reaches it over the run's
 * bridge, and ships the run's bundle. agents:FILE — connects to the listed agents with the token
 * from the environment. Nodes go round robin over hosts (placeNode). `close()` drops every agent
 * connection (each agent then kills its nodes) and removes the namespaces; a killed coordinator
 * leaves nothing either: its agent connections drop, and the namespace watchdog removes every
 * process inside the run's namespaces.
 */
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError } from '../errors.ts';
import { AgentConnection, type RemoteNode } from './agent-client.ts';
import type { AgentHostInfo } from './agent-wire.ts';
import type { Bundles } from './bundle.ts';
import { TOKEN_ENV } from './host-agent.ts';
import { placeNode, type HostsSpec } from './hosts.ts';
import { NetnsHosts } from './netns.ts';
import type { ProcSample } from './procfs.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const AGENT_START_TIMEOUT_MS = 20_000;

export interface PlacedHost {
  index: number;
  /** the address nodes on this host are reached at */
  address: string;
  info: AgentHostInfo;
  /** the run's bundle directory on that host */
  bundleDir: string;
}

export class Placement {
  readonly #conns: AgentConnection[];
  #closed = false;
  private constructor(
    readonly kind: 'netns' | 'agents',
    readonly hosts: readonly PlacedHost[],
    conns: AgentConnection[],
    /** the namespace hosts, for kernel faults (netns only) */
    readonly netns: NetnsHosts | null,
  ) {
    this.#conns = conns;
  }

  static async open(spec: HostsSpec, bundles: Bundles): Promise<Placement> {
    if (spec.kind === 'local') throw new UsageError('placement: --hosts local forks on this machine; no placement needed');
    if (spec.kind === 'agents') {
      const token = process.env[spec.tokenEnv];
      if (!token) throw new UsageError(`--hosts agents: the run token must be in the environment variable ${spec.tokenEnv} (${spec.file})`);
      const conns: AgentConnection[] = [];
      try {
        for (const a of spec.agents) conns.push(await AgentConnection.connect({ host: a.host, port: a.port, token }));
        return new Placement('agents', await ship(conns, bundles), conns, null);
      } catch (e) {
        await Promise.all(conns.map((c) => c.close()));
        throw e;
      }
    }
    const netns = await NetnsHosts.create(spec.hosts);
    const conns: AgentConnection[] = [];
    try {
      const token = randomBytes(32).toString('hex');
      for (const h of netns.hosts) {
        const port = await startAgent(netns, h.index, h.address, token);
        conns.push(await AgentConnection.connect({ host: h.address, port, token }));
      }
      return new Placement('netns', await ship(conns, bundles), conns, netns);
    } catch (e) {
      await Promise.all(conns.map((c) => c.close()));
      await netns.teardown().catch(() => {});
      throw e;
    }
  }

  /** The host node `id` runs on. */
  hostOf(id: number): number {
    return placeNode(id, this.hosts.length);
  }

  /** The `workerBundle` URL for a node on host `h` (its copy of the bundle). */
  workerBundleUrl(h: number): string {
    return pathToFileURL(join(this.hosts[h].bundleDir, 'worker.mjs')).href;
  }

  /** Starts node `id` (the bundle's node host) on its host. */
  fork(id: number): Promise<RemoteNode> {
    if (this.#closed) throw new Error('placement: closed');
    return this.#conns[this.hostOf(id)].fork(id, 'node.mjs');
  }

  /** /proc figures of these nodes, each read by the agent on the node's host. */
  async sample(ids: readonly number[]): Promise<Map<number, ProcSample | null>> {
    const byHost = new Map<number, number[]>();
    for (const id of ids) {
      const h = this.hostOf(id);
      byHost.set(h, [...(byHost.get(h) ?? []), id]);
    }
    const parts = await Promise.all([...byHost].map(([h, list]) => this.#conns[h].sample(list)));
    return new Map(parts.flatMap((m) => [...m]));
  }

  /** Drops every agent connection (the agents kill their nodes) and removes the namespaces. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#conns.map((c) => c.close()));
    await this.netns?.teardown();
  }
}

async function ship(conns: AgentConnection[], bundles: Bundles): Promise<PlacedHost[]> {
  const out: PlacedHost[] = [];
  for (const [i, c] of conns.entries()) out.push({ index: i, address: c.host.address, info: c.host, bundleDir: await c.shipBundle(bundles.dir) });
  return out;
}

/** Starts a per-run agent inside namespace host k; resolves to its port. */
function startAgent(netns: NetnsHosts, k: number, address: string, token: string): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env, [TOKEN_ENV]: token };
  delete env.NODE_OPTIONS;
  const child = netns.spawnInNet(k, process.execPath, ['--import', 'tsx', join(HERE, 'host-agent.ts'), '--bind', address, '--once', '--work-dir', netns.workDir], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.unref();
  return new Promise<number>((res, rej) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => rej(new Error(`placement: the agent in ${netns.hosts[k].name} did not start within ${AGENT_START_TIMEOUT_MS} ms${err ? `: ${err}` : ''}`)), AGENT_START_TIMEOUT_MS);
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      clearTimeout(timer);
      child.stdout!.removeAllListeners('data');
      (child.stdout as unknown as { unref?: () => void }).unref?.();
      (child.stderr as unknown as { unref?: () => void }).unref?.();
      res((JSON.parse(line) as { agent: { port: number } }).agent.port);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`placement: the agent in ${netns.hosts[k].name} exited at start (code ${code})${err ? `: ${err}` : ''}`));
    });
  });
}
