/**
 * Where a live run places its nodes: `local` (fork + IPC on this machine, the default),
 * `netns:K` (K network namespaces made by the run, one host agent in each: netns.ts), or
 * `agents:FILE` (host agents already running elsewhere, listed in a hosts file — what
 * `fleetbench k8s render` writes for a cluster). The run token is never in the file: it comes
 * from the environment variable the file names (a Kubernetes Secret in a cluster).
 */
import { z } from 'zod';
import { UsageError } from '../errors.ts';
import { readVersioned } from '../results/files.ts';
import { MAX_HOSTS } from './netns.ts';

export const HOSTS_SCHEMA = 'fleetbench/hosts@1';
export const DEFAULT_TOKEN_ENV = 'FLEETBENCH_AGENT_TOKEN';

export const HostsFileSchema = z.object({
  schema: z.literal(HOSTS_SCHEMA),
  /** one entry per host agent */
  agents: z.array(z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) })).min(1),
  /** the environment variable holding the run token */
  tokenEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).default(DEFAULT_TOKEN_ENV),
});
export type HostsFile = z.infer<typeof HostsFileSchema>;

export type HostsSpec = { kind: 'local' } | { kind: 'netns'; hosts: number } | { kind: 'agents'; file: string; agents: HostsFile['agents']; tokenEnv: string };

/** Parses `--hosts`: local, netns:K, or agents:FILE (the file is read and validated). */
export function parseHostsSpec(v: string): HostsSpec {
  if (v === 'local') return { kind: 'local' };
  const netns = /^netns:(\d+)$/.exec(v);
  if (netns) {
    const k = Number(netns[1]);
    if (k < 1 || k > MAX_HOSTS) throw new UsageError(`--hosts: netns:K needs K in 1–${MAX_HOSTS}, got ${k}`);
    return { kind: 'netns', hosts: k };
  }
  if (v.startsWith('agents:') && v.length > 'agents:'.length) {
    const file = v.slice('agents:'.length);
    const f = readVersioned(file, HOSTS_SCHEMA, HostsFileSchema);
    return { kind: 'agents', file, agents: f.agents, tokenEnv: f.tokenEnv };
  }
  throw new UsageError(`--hosts: expected local, netns:K or agents:FILE, got "${v}"`);
}

/** Node i's host when `nodes` nodes are spread over `hosts` hosts: round robin, so counts differ by at most one. */
export function placeNode(i: number, hosts: number): number {
  return i % hosts;
}

/** How many of `nodes` nodes land on the busiest host. */
export function nodesPerHost(nodes: number, hosts: number): number {
  return Math.ceil(nodes / hosts);
}
