/**
 * Scenario network faults as kernel faults between namespace hosts (`--hosts netns:K`): what the
 * live coordinator calls instead of its transport drop filters when nodes sit on namespace hosts.
 * Each call returns the line for the result's `live.faults`.
 *
 * - `loss` (rate): netem loss on every link between two hosts, both directions (nftables random
 *   drop where the kernel has no netem). Requests from the load generator are not affected (they
 *   come from the bridge address, not a host).
 * - `latency` (one-way delayMs ± jitterMs, optionally only between two sets of hosts): netem delay
 *   on those links, both directions — a proposed scenario event; the scenario schema does not
 *   have it yet.
 * - `partition` (fraction): the hosts split in two, the first ⌈fraction·K⌉ hosts on one side
 *   (at least one host per side), nftables drops between the sides; `heal` removes them.
 *
 * What the kernel cannot do: two nodes on the same host talk over that namespace's own stack, so
 * no fault between hosts touches them. The descriptions say how many node pairs that leaves out,
 * and a partition reports the node fraction it actually achieved (hosts are the unit).
 */
import { UsageError } from '../errors.ts';
import type { NetemSpec, NetnsHosts } from './netns.ts';

export type NetFault =
  | { type: 'loss'; rate: number }
  | { type: 'latency'; delayMs: number; jitterMs?: number; between?: readonly [readonly number[], readonly number[]] }
  | { type: 'partition'; fraction: number }
  | { type: 'heal' };

/** Host groups for a partition of `fraction` of K hosts: [[0 … a−1], [a … K−1]], a = clamp(round(fraction·K), 1, K−1). */
export function partitionHosts(fraction: number, k: number): [number[], number[]] {
  if (k < 2) throw new UsageError(`partition: needs at least 2 hosts to split (--hosts netns:${k})`);
  if (!(fraction > 0 && fraction < 1)) throw new UsageError(`partition.fraction: expected a number in (0, 1), got ${fraction}`);
  const a = Math.min(k - 1, Math.max(1, Math.round(fraction * k)));
  return [Array.from({ length: a }, (_, i) => i), Array.from({ length: k - a }, (_, i) => a + i)];
}

/** Node pairs (unordered) whose two nodes share a host, given the host of each live node. */
export function sameHostPairs(hostOfNode: readonly number[]): { same: number; total: number } {
  const per = new Map<number, number>();
  for (const h of hostOfNode) per.set(h, (per.get(h) ?? 0) + 1);
  let same = 0;
  for (const c of per.values()) same += (c * (c - 1)) / 2;
  const n = hostOfNode.length;
  return { same, total: (n * (n - 1)) / 2 };
}

export class NetnsFaults {
  /** per ordered host pair "a>b": the netem spec in force */
  readonly #links = new Map<string, NetemSpec>();
  constructor(readonly netns: NetnsHosts) {}

  get #k(): number {
    return this.netns.hosts.length;
  }

  #pairs(between?: readonly [readonly number[], readonly number[]]): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    if (between) {
      for (const a of between[0]) for (const b of between[1]) if (a !== b) out.push([a, b], [b, a]);
      return out;
    }
    for (let a = 0; a < this.#k; a++) for (let b = 0; b < this.#k; b++) if (a !== b) out.push([a, b]);
    return out;
  }

  async #set(pairs: Array<[number, number]>, patch: NetemSpec): Promise<string[]> {
    const lines: string[] = [];
    for (const [a, b] of pairs) {
      const key = `${a}>${b}`;
      const spec = { ...this.#links.get(key), ...patch };
      this.#links.set(key, spec);
      lines.push(await this.netns.netem(a, b, spec));
    }
    return lines;
  }

  /**
   * Applies one fault; `hostOfNode` gives the host of each live node (for the note on node pairs
   * that share a host). Returns one line for `live.faults`.
   */
  async apply(f: NetFault, hostOfNode: readonly number[]): Promise<string> {
    const { same, total } = sameHostPairs(hostOfNode);
    const untouched = same ? `; ${same} of ${total} node pairs share a host and are not affected` : '';
    switch (f.type) {
      case 'loss': {
        if (!(f.rate >= 0 && f.rate <= 1)) throw new UsageError(`loss.rate: expected a number in [0, 1], got ${f.rate}`);
        const lines = await this.#set(this.#pairs(), { lossPct: f.rate * 100 });
        return `loss ${f.rate * 100}% on all ${lines.length} host-to-host links (${lines[0]?.replace(/ on .*$/, '') ?? 'no links'})${untouched}`;
      }
      case 'latency': {
        const pairs = this.#pairs(f.between);
        const lines = await this.#set(pairs, { delayMs: f.delayMs, jitterMs: f.jitterMs ?? 0 });
        const scope = f.between ? `between hosts {${f.between[0].join(',')}} and {${f.between[1].join(',')}}` : 'on all host-to-host links';
        return `latency ${f.delayMs}ms${f.jitterMs ? ` ±${f.jitterMs}ms` : ''} one-way ${scope} (${lines.length} links, tc netem)${untouched}`;
      }
      case 'partition': {
        const groups = partitionHosts(f.fraction, this.#k);
        const side = new Set(groups[0]);
        const n = hostOfNode.length;
        const onA = hostOfNode.filter((h) => side.has(h)).length;
        const desc = await this.netns.partition(groups);
        return `${desc}; ${onA} of ${n} nodes on the first side (asked ${f.fraction}, got ${n ? (onA / n).toFixed(3) : '0'}: hosts are the unit)`;
      }
      case 'heal':
        return this.netns.heal();
    }
  }
}

export interface SideOnHosts {
  /** host groups for NetnsHosts.partition: [side 1's hosts, the rest] */
  groups: [number[], number[]];
  /** live nodes on side 1's hosts (what the kernel cuts off), and how many of them the driver put on side 1 */
  nodesOnFirst: number;
  driverSideOnFirst: number;
  /** node pairs the driver's partition separates; of those, the kernel separates `separated`;
   *  `sameHost` share a host (nothing between hosts can separate them); `sameGroup` are on
   *  different hosts that landed on one side */
  driverPairs: number;
  separated: number;
  sameHost: number;
  sameGroup: number;
  /** node pairs the kernel separates that the driver keeps together */
  extra: number;
}

/**
 * Maps the fleet driver's partition side (node ids, drawn at random) onto hosts, the unit of a
 * kernel partition: as many of the K hosts on side 1 as the side's share of live nodes asks for
 * (at least one per side), picking the hosts that hold the largest share of side-1 nodes (ties:
 * the lower index). `live` is [node id, host] for every live node. Says in node pairs how far the
 * kernel's split is from the driver's.
 */
export function sideToHosts(side: readonly number[], live: ReadonlyArray<readonly [number, number]>, k: number): SideOnHosts {
  if (k < 2) throw new UsageError(`partition: needs at least 2 hosts to split (--hosts netns:${k})`);
  const inSide = new Set(side);
  const on = new Array<number>(k).fill(0);
  const total = new Array<number>(k).fill(0);
  for (const [id, h] of live) {
    total[h]++;
    if (inSide.has(id)) on[h]++;
  }
  const sideLive = live.filter(([id]) => inSide.has(id)).length;
  const a = Math.min(k - 1, Math.max(1, Math.round((sideLive / Math.max(live.length, 1)) * k)));
  const share = (h: number) => (total[h] ? on[h] / total[h] : 0);
  const ranked = Array.from({ length: k }, (_, h) => h).sort((x, y) => share(y) - share(x) || x - y);
  const first = new Set(ranked.slice(0, a));
  const groups: [number[], number[]] = [[...first].sort((x, y) => x - y), ranked.slice(a).sort((x, y) => x - y)];
  const out: SideOnHosts = { groups, nodesOnFirst: 0, driverSideOnFirst: 0, driverPairs: 0, separated: 0, sameHost: 0, sameGroup: 0, extra: 0 };
  for (const [id, h] of live) {
    if (!first.has(h)) continue;
    out.nodesOnFirst++;
    if (inSide.has(id)) out.driverSideOnFirst++;
  }
  for (let i = 0; i < live.length; i++) {
    for (let j = i + 1; j < live.length; j++) {
      const [x, hx] = live[i];
      const [y, hy] = live[j];
      const driver = inSide.has(x) !== inSide.has(y);
      const kernel = first.has(hx) !== first.has(hy);
      if (!driver) {
        if (kernel) out.extra++;
        continue;
      }
      out.driverPairs++;
      if (kernel) out.separated++;
      else if (hx === hy) out.sameHost++;
      else out.sameGroup++;
    }
  }
  return out;
}

/** One line for `live.faultLog`: how the driver's side became a host partition. */
export function describeSide(s: SideOnHosts, driverSide: number, liveNodes: number): string {
  return (
    `driver side ${driverSide} of ${liveNodes} live nodes → hosts {${s.groups[0].map((h) => `h${h}`).join(',')}} holding ${s.nodesOnFirst} nodes (${s.driverSideOnFirst} of them on the driver's side); ` +
    `of ${s.driverPairs} node pairs the driver separates the kernel separates ${s.separated} (${s.sameHost} share a host, ${s.sameGroup} are on different hosts of one side), ` +
    `and it also separates ${s.extra} pairs the driver keeps together`
  );
}
