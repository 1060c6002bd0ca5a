/**
 * Capacity per host when nodes are placed through host agents: each host must hold the nodes
 * placed on it (round robin) at the per-node estimate capacity.ts uses for one machine, plus its
 * agent. A host that cannot is refused up front, named, with the numbers. For namespace hosts
 * (all on this machine) planFleet's whole-machine check still applies; this adds the per-host
 * counts the result records.
 */
import { UsageError } from '../errors.ts';
import type { RunConfig } from '../harness/run-config.ts';
import type { AgentHostInfo } from './agent-wire.ts';
import { LIVE_COSTS, nodeEstimate } from './capacity.ts';
import { placeNode } from './hosts.ts';

/** A host agent is one more Node process relaying IPC: costed as a node process. */
export const AGENT_BYTES = LIVE_COSTS.nodeProcessBytes;

export interface HostLoad {
  host: number;
  address: string;
  nodes: number;
  estimatedBytes: number;
  availableBytes: number;
  cpus: number;
}

export function planHosts(cfg: RunConfig, hosts: ReadonlyArray<{ index: number; address: string; info: Pick<AgentHostInfo, 'availableBytes' | 'cpus'> }>, headroom = 0.85): HostLoad[] {
  const est = nodeEstimate(cfg);
  const counts = new Array<number>(hosts.length).fill(0);
  for (let i = 0; i < est.processes; i++) counts[placeNode(i, hosts.length)]++;
  const loads = hosts.map((h, i) => ({
    host: h.index,
    address: h.address,
    nodes: counts[i],
    estimatedBytes: counts[i] * est.bytesPerNode + AGENT_BYTES.value,
    availableBytes: h.info.availableBytes * headroom,
    cpus: h.info.cpus,
  }));
  const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;
  const over = loads.filter((l) => l.estimatedBytes > l.availableBytes);
  if (over.length) {
    throw new UsageError(
      `live: ${over.map((l) => `host ${l.host} (${l.address}) cannot hold its ${l.nodes} ${cfg.protocol.name} nodes: ≈ ${gb(l.estimatedBytes)} needed, ${gb(l.availableBytes)} available (${Math.round(headroom * 100)}% of what its agent reports)`).join('; ')}. Use more hosts or fewer --nodes.`,
    );
  }
  return loads;
}
