/**
 * Hosts as network namespaces on this machine: K namespaces joined by one bridge, each with its
 * own address, and kernel-level network faults between them.
 *
 * Addressing: one /24 from 198.18.0.0/15 (RFC 2544, reserved for benchmarking) per run — the
 * bridge holds .1 (so the coordinator, in the root namespace, reaches the host agents), host k
 * holds .(k+2). No namespace has a default route and nothing is NATed, so a packet from a host
 * can only reach another host of the run or the bridge address; an `inet` nftables table also
 * drops anything the root namespace would forward from the bridge. Never any other range.
 *
 * Faults (each returns the line for the result's `live.faults`):
 * - `netem(from, to, spec)`: `tc netem` delay/jitter/loss on host `from`'s egress towards host
 *   `to` (or every destination: `'all'`). An htb root with one class per destination, chosen by a
 *   u32 filter on the destination address, so links are independent; netem's queue limit is
 *   raised so a delay does not also drop. On a kernel without sch_netem, loss falls back to an
 *   nftables random drop (`numgen random`) in the bridge and delay is refused with the reason.
 * - `partition(groups)`: drops between every pair of groups, both ways — nftables rules in a
 *   `bridge` table on the run's bridge (default), or netem 100 % loss on every crossing link.
 *   Packets already queued in netem are still delivered; TCP connections are not reset, they
 *   stall and retransmit as on a real network.
 * - `heal()`: removes the partition; link delays set with `netem` stay.
 *
 * Cleanup: names carry the run id (see netns-sweep.mjs); a detached watchdog removes the run if
 * this process dies; `sweepLeftovers()` removes runs whose owner is dead.
 */
import { execFile, fork, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { UsageError } from '../errors.ts';
import { leftovers, listRuns, names, orphanedRuns, removeRun, startTime, STATE_DIR, writeStateDir, type Leftovers, type RunNames } from './netns-sweep.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const pexec = promisify(execFile);

/** The benchmarking range (RFC 2544): 198.18.0.0/15 = 512 /24 subnets. */
const SUBNETS = 512;
export const MAX_HOSTS = 250;
/** Above anything veth on one machine carries; the htb classes exist to steer, not to shape. */
const HTB_RATE = '100gbit';
/** netem's default queue (1000 packets) overflows at a few thousand messages/s under 50 ms delay. */
const NETEM_LIMIT = 100_000;

export interface NetemSpec {
  /** one-way delay added on this egress, ms */
  delayMs?: number;
  /** ± uniform jitter around the delay, ms (netem reorders packets when jitter > 0) */
  jitterMs?: number;
  /** random loss, percent 0–100 */
  lossPct?: number;
}

export interface NetnsHost {
  index: number;
  /** namespace name: fb-<run>-h<k> */
  name: string;
  address: string;
}

export type PartitionMethod = 'nftables' | 'netem';

async function sh(cmd: string, args: string[], input?: string): Promise<string> {
  try {
    if (input === undefined) return (await pexec(cmd, args, { encoding: 'utf8' })).stdout;
    return await new Promise<string>((resolve, reject) => {
      const c = execFile(cmd, args, { encoding: 'utf8' }, (e, out, err) => (e ? reject(Object.assign(e, { stderr: err })) : resolve(out)));
      c.stdin!.end(input);
    });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`netns: ${cmd} ${args.join(' ')} failed: ${(err.stderr || err.message).trim()}`);
  }
}

async function has(cmd: string): Promise<boolean> {
  try {
    await pexec(cmd, ['-V']);
    return true;
  } catch {
    return false;
  }
}

/** null when this process can build namespace hosts; otherwise why not, in one line. */
export async function netnsUnavailableReason(): Promise<string | null> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'network namespaces need root (ip netns add)';
  for (const c of ['ip', 'tc', 'nft']) {
    if (!(await has(c))) return `"${c}" is not installed (apt-get install iproute2 nftables)`;
  }
  try {
    await sh('ip', ['netns', 'list']);
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

let netemChecked: Promise<string | null> | null = null;
/**
 * null when `tc netem` works here; otherwise why not. Some kernels are built without sch_netem
 * (CONFIG_NET_SCH_NETEM unset; this machine's is one). Probed once, in a throwaway namespace
 * (`unshare -n`) that vanishes with the command.
 */
export function netemUnavailableReason(): Promise<string | null> {
  netemChecked ??= sh('unshare', ['-n', 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '0ms']).then(
    () => null,
    (e: Error) => `tc netem is unavailable in this kernel (${e.message.split('failed: ').pop()}; CONFIG_NET_SCH_NETEM unset?)`,
  );
  return netemChecked;
}

/**
 * A /24 no other run uses: not on any interface, and claimed with an exclusive-create lock file
 * (subnet-<base> in the state dir, holding the run id) so that two runs starting at once cannot
 * pick the same one. A lock whose run is gone (no state file, or a dead owner) is taken over.
 */
async function claimSubnet(id: string): Promise<string> {
  const used = await usedSubnets();
  const live = new Set(listRuns().filter((r) => !orphanedRuns().includes(r)));
  const start = parseInt(id.slice(0, 4), 16) % SUBNETS;
  for (let j = 0; j < SUBNETS; j++) {
    const s = subnetBase((start + j) % SUBNETS);
    if (used.has(s)) continue;
    const lock = join(STATE_DIR, `subnet-${s}`);
    try {
      writeFileSync(lock, id, { flag: 'wx' });
      return s;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner = '';
      try {
        owner = readFileSync(lock, 'utf8');
      } catch {
        /* released meanwhile: try the next */
      }
      if (owner && owner !== id && !live.has(owner)) {
        writeFileSync(lock, id);
        return s;
      }
    }
  }
  throw new Error('netns: every /24 of 198.18.0.0/15 is in use on this machine');
}

/** 198.18.0.0/15 subnet i (0–511) as its first three octets. */
function subnetBase(i: number): string {
  return `198.${18 + (i >> 8)}.${i & 255}`;
}

async function usedSubnets(): Promise<Set<string>> {
  const used = new Set<string>();
  const out = await sh('ip', ['-j', '-4', 'addr', 'show']);
  for (const l of JSON.parse(out || '[]') as Array<{ addr_info?: Array<{ local: string }> }>) {
    for (const a of l.addr_info ?? []) used.add(a.local.split('.').slice(0, 3).join('.'));
  }
  return used;
}

const fmt = (s: NetemSpec) => `delay ${s.delayMs ?? 0}ms${s.jitterMs ? ` ±${s.jitterMs}ms` : ''} loss ${s.lossPct ?? 0}%`;

function checkSpec(s: NetemSpec): void {
  const bad = (f: string, allowed: string) => new UsageError(`netem.${f}: expected ${allowed}`);
  if (s.delayMs !== undefined && !(Number.isFinite(s.delayMs) && s.delayMs >= 0 && s.delayMs <= 60_000)) throw bad('delayMs', 'a number of ms in 0–60000');
  if (s.jitterMs !== undefined && !(Number.isFinite(s.jitterMs) && s.jitterMs >= 0 && s.jitterMs <= (s.delayMs ?? 0))) throw bad('jitterMs', 'a number of ms in 0–delayMs');
  if (s.lossPct !== undefined && !(Number.isFinite(s.lossPct) && s.lossPct >= 0 && s.lossPct <= 100)) throw bad('lossPct', 'a percentage in 0–100');
}

function netemArgs(s: NetemSpec): string[] {
  const a = ['netem', 'limit', String(NETEM_LIMIT)];
  if (s.delayMs) a.push('delay', `${s.delayMs}ms`, ...(s.jitterMs ? [`${s.jitterMs}ms`] : []));
  if (s.lossPct) a.push('loss', `${s.lossPct}%`);
  return a;
}

export class NetnsHosts {
  readonly hosts: readonly NetnsHost[];
  readonly bridgeAddress: string;
  readonly #names: RunNames;
  readonly #subnet: string;
  readonly #reaper: ChildProcess;
  /** per host: destination ('all' or host index) → the netem spec set by `netem()` */
  readonly #links: Array<Map<number | 'all', NetemSpec>>;
  /** per host: tc classes already made (destination → class minor, hex) */
  readonly #classes: Array<Map<number | 'all', string>>;
  #netemReason: string | null = null;
  /** loss set by nftables where netem is missing: "from>to" → percent */
  readonly #nftLoss = new Map<string, { from: number; to: number | 'all'; pct: number }>();
  #partition: { method: PartitionMethod; links: Array<[number, number]> } | null = null;
  #tornDown = false;

  private constructor(readonly runId: string, subnet: string, k: number, reaper: ChildProcess) {
    this.#names = names(runId);
    this.#reaper = reaper;
    this.#subnet = subnet;
    this.bridgeAddress = `${subnet}.1`;
    this.hosts = Array.from({ length: k }, (_, i) => ({ index: i, name: this.#names.ns(i), address: `${subnet}.${i + 2}` }));
    this.#links = this.hosts.map(() => new Map());
    this.#classes = this.hosts.map(() => new Map());
  }

  /** a directory for the run's files (host agents' bundle copies); removed with the run */
  get workDir(): string {
    return this.#names.workDir;
  }

  /** the prefix every namespace of this run carries (fb-<run>) */
  get prefix(): string {
    return this.#names.prefix;
  }

  /**
   * Creates `k` namespaces on a fresh bridge. The watchdog is started and the state file written
   * before anything exists in the kernel, so a kill at any moment leaves nothing.
   */
  static async create(k: number): Promise<NetnsHosts> {
    if (!Number.isInteger(k) || k < 1 || k > MAX_HOSTS) throw new UsageError(`hosts: expected netns:K with K an integer in 1–${MAX_HOSTS}, got ${k}`);
    const why = await netnsUnavailableReason();
    if (why) throw new UsageError(`hosts netns: unavailable here: ${why}`);
    const id = randomBytes(4).toString('hex');
    writeStateDir();
    const st = startTime(process.pid);
    const writeState = (subnet: string | null) => {
      const tmp = join(STATE_DIR, `.${id}.tmp`);
      writeFileSync(tmp, JSON.stringify({ id, pid: process.pid, startTime: st, subnet, hosts: k }));
      renameSync(tmp, join(STATE_DIR, `${id}.json`));
    };
    // the state file first: from here on a kill leaves a run the sweep can find
    writeState(null);
    const subnet = await claimSubnet(id);
    writeState(subnet);
    const reaper = fork(join(HERE, 'netns-reaper.mjs'), [], { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'ipc'], execArgv: [] });
    await new Promise<void>((resolve, reject) => {
      reaper.once('message', () => resolve());
      reaper.once('error', reject);
      reaper.once('exit', (code) => reject(new Error(`netns: the watchdog exited at start (code ${code})`)));
    });
    reaper.removeAllListeners('exit');
    reaper.send({ k: 'run', id });
    reaper.unref();
    (reaper as unknown as { channel?: { unref(): void } }).channel?.unref();

    const hosts = new NetnsHosts(id, subnet, k, reaper);
    try {
      await hosts.#build();
    } catch (e) {
      await hosts.teardown().catch(() => {});
      throw e;
    }
    return hosts;
  }

  async #build(): Promise<void> {
    const n = this.#names;
    await sh('ip', ['link', 'add', n.bridge, 'type', 'bridge']);
    await sh('ip', ['addr', 'add', `${this.bridgeAddress}/24`, 'dev', n.bridge]);
    await sh('ip', ['link', 'set', n.bridge, 'up']);
    // partitions live in the bridge's forward hook; the guard drops anything routed into or out of
    // the bridge from or to another subnet (with br_netfilter loaded, frames bridged between
    // hosts pass the inet forward hook too, with the bridge as their interface: those stay)
    const inBridge = `iifname "${n.bridge}"`;
    const outBridge = `oifname "${n.bridge}"`;
    await sh('nft', ['-f', '-'], `table bridge ${n.table} {
  comment "${n.prefix} pid ${process.pid}"
  chain partition {
    type filter hook forward priority 0; policy accept;
  }
  chain loss {
    type filter hook forward priority 10; policy accept;
  }
}
table inet ${n.table} {
  comment "${n.prefix} pid ${process.pid}"
  chain guard {
    type filter hook forward priority 0; policy accept;
    ${inBridge} ip daddr != ${this.#subnet}.0/24 drop
    ${outBridge} ip saddr != ${this.#subnet}.0/24 drop
    ${inBridge} meta nfproto ipv6 drop
  }
}
`);
    for (const h of this.hosts) {
      const host = n.hostLink(h.index);
      const peer = n.peerLink(h.index);
      await sh('ip', ['netns', 'add', h.name]);
      await sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
      await sh('ip', ['link', 'set', peer, 'netns', h.name]);
      await sh('ip', ['-n', h.name, 'link', 'set', peer, 'name', 'eth0']);
      await sh('ip', ['-n', h.name, 'link', 'set', 'lo', 'up']);
      await sh('ip', ['-n', h.name, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0']);
      await sh('ip', ['-n', h.name, 'link', 'set', 'eth0', 'up']);
      await sh('ip', ['link', 'set', host, 'master', n.bridge]);
      await sh('ip', ['link', 'set', host, 'up']);
    }
    this.#netemReason = await netemUnavailableReason();
  }

  /** null when `tc netem` works here; otherwise why not (delay and jitter are then unavailable). */
  get netemUnavailableReason(): string | null {
    return this.#netemReason;
  }

  #host(k: number, field: string): NetnsHost {
    const h = this.hosts[k];
    if (!Number.isInteger(k) || !h) throw new UsageError(`${field}: expected a host index in 0–${this.hosts.length - 1}, got ${k}`);
    return h;
  }

  /** `ip netns exec <ns> command …`: the command runs inside host k's namespace (its pid is the child's). */
  spawnIn(k: number, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const h = this.#host(k, 'host');
    return spawn('ip', ['netns', 'exec', h.name, command, ...args], options);
  }

  /**
   * `nsenter --net=/run/netns/<ns> command …`: host k's network namespace only. Unlike `ip netns
   * exec`, which remounts /sys for the namespace (hiding /sys/fs/cgroup), the command keeps this
   * machine's mounts, so node processes it starts can enter the run's pids cgroups themselves.
   */
  spawnInNet(k: number, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const h = this.#host(k, 'host');
    return spawn('nsenter', [`--net=/run/netns/${h.name}`, '--', command, ...args], options);
  }

  /** Runs a command inside host k's namespace and returns its stdout. */
  execIn(k: number, command: string, args: readonly string[]): Promise<string> {
    return sh('ip', ['netns', 'exec', this.#host(k, 'host').name, command, ...args]);
  }

  async #ensureClass(from: number, to: number | 'all'): Promise<string> {
    const ns = this.hosts[from].name;
    const classes = this.#classes[from];
    const have = classes.get(to);
    if (have) return have;
    if (classes.size === 0) {
      await sh('tc', ['-n', ns, 'qdisc', 'add', 'dev', 'eth0', 'root', 'handle', '1:', 'htb', 'default', '1']);
      await sh('tc', ['-n', ns, 'class', 'add', 'dev', 'eth0', 'parent', '1:', 'classid', '1:1', 'htb', 'rate', HTB_RATE]);
    }
    // class minors are hex: 1:2 for all destinations, 1:(100+k) for host k
    const minor = to === 'all' ? '2' : (0x100 + to).toString(16);
    await sh('tc', ['-n', ns, 'class', 'add', 'dev', 'eth0', 'parent', '1:', 'classid', `1:${minor}`, 'htb', 'rate', HTB_RATE]);
    const match = to === 'all' ? ['match', 'u32', '0', '0'] : ['match', 'ip', 'dst', `${this.hosts[to].address}/32`];
    // per-link filters are tried before the host-wide one
    await sh('tc', ['-n', ns, 'filter', 'add', 'dev', 'eth0', 'parent', '1:', 'protocol', 'ip', 'prio', to === 'all' ? '2' : '1', 'u32', ...match, 'flowid', `1:${minor}`]);
    classes.set(to, minor);
    return minor;
  }

  async #applyNetem(from: number, to: number | 'all', spec: NetemSpec): Promise<void> {
    const minor = await this.#ensureClass(from, to);
    await sh('tc', ['-n', this.hosts[from].name, 'qdisc', 'replace', 'dev', 'eth0', 'parent', `1:${minor}`, 'handle', `${minor}:`, ...netemArgs(spec)]);
  }

  #linkName(from: number, to: number | 'all'): string {
    const a = this.hosts[from];
    return to === 'all' ? `${a.name} (${a.address}) → all` : `${a.name} → ${this.hosts[to].name} (${a.address} → ${this.hosts[to].address})`;
  }

  /**
   * Sets `tc netem` on host `from`'s egress towards `to` (one direction; call twice for both).
   * Where this kernel has no netem, a loss-only spec is applied as an nftables random drop in the
   * bridge instead (the description says so) and a delay is refused.
   */
  async netem(from: number, to: number | 'all', spec: NetemSpec): Promise<string> {
    this.#host(from, 'netem.from');
    if (to !== 'all') this.#host(to, 'netem.to');
    if (to === from) throw new UsageError('netem.to: a host has no link to itself');
    checkSpec(spec);
    if (this.#netemReason) {
      if (spec.delayMs || spec.jitterMs) throw new Error(`netem: cannot add delay on ${this.#linkName(from, to)}: ${this.#netemReason}`);
      this.#nftLoss.set(`${from}>${to}`, { from, to, pct: spec.lossPct ?? 0 });
      await this.#writeLoss();
      return `nftables random drop ${spec.lossPct ?? 0}% in table bridge ${this.#names.table} on ${this.#linkName(from, to)} (${this.#netemReason})`;
    }
    await this.#applyNetem(from, to, this.#withPartition(from, to, spec));
    this.#links[from].set(to, { ...spec });
    return `tc netem ${fmt(spec)} on ${this.#linkName(from, to)}`;
  }

  /** Removes what `netem(from, to, …)` set (a partition in force stays). */
  async clearNetem(from: number, to: number | 'all'): Promise<string> {
    this.#host(from, 'netem.from');
    if (this.#nftLoss.delete(`${from}>${to}`)) {
      await this.#writeLoss();
      return `nftables random drop cleared on ${this.#linkName(from, to)}`;
    }
    this.#links[from].delete(to);
    if (this.#classes[from].has(to)) await this.#applyNetem(from, to, this.#withPartition(from, to, {}));
    return `tc netem cleared on ${this.#linkName(from, to)}`;
  }

  /** Rewrites the `loss` chain from #nftLoss (one rule per link; numgen draws per packet). */
  async #writeLoss(): Promise<void> {
    const t = this.#names.table;
    const rules = [`flush chain bridge ${t} loss`];
    for (const { from, to, pct } of this.#nftLoss.values()) {
      if (pct <= 0) continue;
      const dst = to === 'all' ? '' : ` ip daddr ${this.hosts[to].address}`;
      // per ten thousand, so fractional percentages keep two decimals
      rules.push(`add rule bridge ${t} loss ip saddr ${this.hosts[from].address}${dst} numgen random mod 10000 < ${Math.round(pct * 100)} drop`);
    }
    await sh('nft', ['-f', '-'], rules.join('\n') + '\n');
  }

  #withPartition(from: number, to: number | 'all', spec: NetemSpec): NetemSpec {
    const cut = this.#partition?.method === 'netem' && this.#partition.links.some(([a, b]) => a === from && b === to);
    return cut ? { ...spec, lossPct: 100 } : spec;
  }

  /**
   * Cuts every pair of groups apart, both ways (groups of host indexes; hosts in no group keep
   * all their links). One partition at a time: heal before partitioning differently.
   */
  async partition(groups: ReadonlyArray<readonly number[]>, method: PartitionMethod = 'nftables'): Promise<string> {
    if (this.#partition) throw new UsageError('partition: a partition is already in force; heal first');
    if (method === 'netem' && this.#netemReason) throw new Error(`partition by netem: ${this.#netemReason}; use nftables`);
    if (groups.length < 2) throw new UsageError('partition: expected at least two groups of hosts');
    const seen = new Set<number>();
    for (const g of groups) {
      if (g.length === 0) throw new UsageError('partition: a group is empty');
      for (const k of g) {
        this.#host(k, 'partition');
        if (seen.has(k)) throw new UsageError(`partition: host ${k} is in two groups`);
        seen.add(k);
      }
    }
    const links: Array<[number, number]> = [];
    for (let i = 0; i < groups.length; i++) for (let j = 0; j < groups.length; j++) if (i !== j) for (const a of groups[i]) for (const b of groups[j]) links.push([a, b]);
    this.#partition = { method, links };
    const label = groups.map((g) => `{${g.map((k) => `h${k}`).join(',')}}`).join(' | ');
    try {
      if (method === 'nftables') {
        const t = this.#names.table;
        const set = (g: readonly number[]) => `{ ${g.map((k) => this.hosts[k].address).join(', ')} }`;
        const rules: string[] = [];
        for (let i = 0; i < groups.length; i++) for (let j = 0; j < groups.length; j++) if (i !== j) rules.push(`add rule bridge ${t} partition ip saddr ${set(groups[i])} ip daddr ${set(groups[j])} drop`);
        await sh('nft', ['-f', '-'], rules.join('\n') + '\n');
        return `partition ${label}: nftables drop rules in table bridge ${t} (forward hook of ${this.#names.bridge}), both ways`;
      }
      for (const [a, b] of links) await this.#applyNetem(a, b, this.#withPartition(a, b, this.#links[a].get(b) ?? {}));
      return `partition ${label}: tc netem loss 100% on ${links.length} links, both ways`;
    } catch (e) {
      await this.heal().catch(() => {});
      throw e;
    }
  }

  /** Ends the partition; delays and loss set with `netem` stay. */
  async heal(): Promise<string> {
    const p = this.#partition;
    if (!p) return 'heal: no partition was in force';
    this.#partition = null;
    if (p.method === 'nftables') {
      await sh('nft', ['flush', 'chain', 'bridge', this.#names.table, 'partition']);
      return `heal: flushed the drop rules of table bridge ${this.#names.table}`;
    }
    for (const [a, b] of p.links) await this.#applyNetem(a, b, this.#links[a].get(b) ?? {});
    return `heal: restored tc netem on ${p.links.length} links`;
  }

  /** Removes every process, namespace, link, qdisc and nftables table of this run; throws if any remain. */
  async teardown(): Promise<void> {
    if (this.#tornDown) return;
    this.#tornDown = true;
    const left = await removeRun(this.runId);
    if (this.#reaper.connected) {
      this.#reaper.send({ k: 'done' });
      this.#reaper.disconnect();
    }
    const rest = [...left.namespaces, ...left.links, ...left.tables];
    if (rest.length) throw new Error(`netns: teardown of run ${this.runId} left ${rest.join(', ')}`);
  }
}

/** What of run `id` still exists in the kernel (namespaces, links, nftables tables). */
export function runLeftovers(id: string): Leftovers {
  return leftovers(id);
}

/** Every run id with anything on this machine. */
export function netnsRuns(): string[] {
  return listRuns();
}

/** Removes the runs whose owner process is dead (or that never recorded one); returns their ids. */
export async function sweepLeftovers(): Promise<string[]> {
  const ids = orphanedRuns();
  for (const id of ids) await removeRun(id);
  return ids;
}
