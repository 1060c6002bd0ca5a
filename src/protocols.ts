/** The protocols fleetbench knows, by name. Each lives in protocols/<name>/ with its README. */
import type { ProtocolDefinition } from './contract/protocol.ts';
import { asyncMultiplexed } from '../protocols/async-multiplexed/index.ts';
import { threadPerPeer } from '../protocols/thread-per-peer/index.ts';
import { cellPartitioned } from '../protocols/cell-partitioned/index.ts';
import { swim } from '../protocols/swim/index.ts';
import { serf } from '../protocols/serf/index.ts';
import { UsageError } from './errors.ts';

export const PROTOCOLS: ReadonlyMap<string, ProtocolDefinition<any>> = new Map(
  [threadPerPeer, asyncMultiplexed, swim, cellPartitioned, serf].map((p) => [p.name, p]),
);

export function getProtocol(name: string): ProtocolDefinition<any> {
  const p = PROTOCOLS.get(name);
  if (!p) throw new UsageError(`--protocol: unknown protocol "${name}"; known: ${[...PROTOCOLS.keys()].join(', ')}`);
  return p;
}
