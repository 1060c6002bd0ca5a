/**
 * cell-partitioned: the fleet split into cells of at most `cellSize` nodes, each running an inner
 * protocol among its own members only, each owning its shards and back-end clusters, behind a
 * thin cell router (router.ts). AWS's long-term remediation of the Kinesis outage
 * ("cellularization of the front-end fleet").
 *
 * The node code is the inner protocol's, unchanged: the runtime shows each node only its own
 * cell (the membership service's list and the bootstrap list are filtered by the router's
 * placement), so a node's threads, connections and member records are bounded by the cell size
 * whatever the fleet size.
 */
import type { ParamSpec, ProtocolDefinition } from '../../src/contract/protocol.ts';
import { asyncMultiplexed } from '../async-multiplexed/index.ts';
import { threadPerPeer } from '../thread-per-peer/index.ts';
import { swim } from '../swim/index.ts';
import { CellMapRouter } from './router.ts';

const INNER: ReadonlyArray<ProtocolDefinition<any>> = [asyncMultiplexed, threadPerPeer, swim];

const OWN_PARAMS: Record<string, ParamSpec> = {
  cellSize: {
    default: 64,
    min: 1,
    integer: true,
    unit: 'nodes',
    description: 'most nodes in one cell; per-node cost is O(cellSize), a cell failure takes 1/cells of the traffic',
    source: 'assumption: small enough to test a cell at full scale and past its breaking point (AWS cell-based architecture whitepaper); 64 keeps thread-per-peer at 63 + base threads',
  },
  clustersPerCell: {
    default: 4,
    min: 2,
    integer: true,
    unit: 'clusters',
    description: 'back-end clusters each cell owns; reshards move shards between the clusters of their cell',
    source: 'assumption: a cell pairs its FEs with a few back-end clusters, as Kinesis cellularised its back end',
  },
  inner: {
    default: 'async-multiplexed',
    choices: INNER.map((p) => p.name),
    description: 'the membership protocol run inside each cell',
    source: 'the issue\'s default: async-multiplexed',
  },
};

// the inner protocols' parameters pass through (--set syncIntervalMs=500 reaches the inner protocol)
const params: Record<string, ParamSpec> = { ...OWN_PARAMS };
for (const p of INNER) for (const [k, spec] of Object.entries(p.params)) params[k] ??= spec;

export const cellPartitioned: ProtocolDefinition<any> = {
  name: 'cell-partitioned',
  summary: 'cells of at most C nodes, each running an inner protocol (default async-multiplexed), behind a thin cell router',
  params,
  codec: asyncMultiplexed.codec,
  specialize(values) {
    const inner = INNER.find((p) => p.name === values.inner);
    if (!inner) throw new Error(`cell-partitioned: unknown inner protocol ${String(values.inner)}`);
    return {
      name: 'cell-partitioned',
      summary: this.summary,
      params,
      codec: inner.codec,
      threadEntries: inner.threadEntries,
      create: (ctx, p) => inner.create(ctx, p),
      createRouter: (p, fleet) => new CellMapRouter(p.cellSize as number, p.clustersPerCell as number, fleet.shards),
      conformance: this.conformance,
    };
  },
  create() {
    throw new Error('cell-partitioned runs through specialize(params)');
  },
  // a node only has to know its cell: the inner protocol's promises at the cell's size
  conformance: {
    params: { cellSize: 8 },
    promises(values, nodes) {
      const inner = INNER.find((p) => p.name === values.inner);
      if (!inner?.conformance) throw new Error(`cell-partitioned: inner protocol ${String(values.inner)} makes no promises`);
      return inner.conformance.promises(values, Math.min(nodes, values.cellSize as number));
    },
  },
};
