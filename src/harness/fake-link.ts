/**
 * Two (or a few) protocol nodes joined by a fake link: the simulator's event loop, hosts and
 * network with no fleet driver around them. Nodes, threads and connections are the simulator's
 * own (a spawned thread is a real simulated thread, counted against the thread limit), so
 * protocols with threads — thread-per-peer — get unit tests like any other. Time moves only when
 * the test runs it; reports are recorded per node. The quinn-style test pair of style.md.
 *
 * For one endpoint driven by hand (messages injected, sends captured), see fake-node.ts.
 */
import type { ClusterId, NodeId, ProtocolDefinition } from '../contract/protocol.ts';
import type { LimitName } from './measures.ts';
import { resolveRun } from './run-config.ts';
import { parseScenario } from './scenario.ts';
import { Simulation, loadThreadEntries } from '../sim/simulation.ts';

export interface FakeLinkOptions {
  nodes?: number;
  shards?: number;
  /** --set style overrides: protocol parameters, limits.*, costs.*, network.* */
  sets?: string[];
  seed?: number;
}

export interface NodeReports {
  up: Set<NodeId>;
  downs: NodeId[];
  shards: Map<number, number>;
  limits: LimitName[];
  /** whether its shard map is usable (as it last reported) */
  routable: boolean;
}

export interface FakeLink {
  readonly sim: Simulation;
  /** what each node reported (its view, shard versions, limits hit) */
  readonly reports: NodeReports[];
  readonly counters: Map<string, number>;
  /** Runs the link until runtime time `t` (ms). */
  runUntil(t: number): void;
  originate(node: NodeId, shard: number, cluster: ClusterId, version: number): void;
  crash(node: NodeId): void;
  leave(node: NodeId): void;
  /** threads of a node beyond its base threads */
  threadsOf(node: NodeId): number;
  lookup(node: NodeId, shard: number): ClusterId;
}

export async function fakeLink(def: ProtocolDefinition<any>, o: FakeLinkOptions = {}): Promise<FakeLink> {
  const nodes = o.nodes ?? 2;
  const shards = o.shards ?? 16;
  const scenario = parseScenario(
    { name: 'fake-link', description: 'two endpoints', nodes, durationMs: 3_600_000, fleet: { shards, requestsPerSec: 0 }, reshards: { perSec: 0 } },
    'fake-link',
  );
  const cfg = resolveRun({ protocol: def, scenario, nodes, seed: o.seed ?? 1, sets: o.sets });
  const threadMains = await loadThreadEntries(cfg.protocol);
  const reports: NodeReports[] = Array.from({ length: nodes }, () => ({ up: new Set(), downs: [], shards: new Map(), limits: [], routable: true }));
  const counters = new Map<string, number>();
  const alive = new Set(Array.from({ length: nodes }, (_, i) => i));
  const members = Array.from({ length: nodes }, (_, i) => i);
  const sim = new Simulation(
    { ...cfg, threadMains },
    {
      sink: {
        memberUp: (n, m) => void reports[n].up.add(m),
        memberDown: (n, m) => {
          reports[n].up.delete(m);
          reports[n].downs.push(m);
        },
        shardUpdated: (n, s, v) => void reports[n].shards.set(s, v),
        count: (name, d) => void counters.set(name, (counters.get(name) ?? 0) + d),
        limitHit: (limit, n) => void reports[n].limits.push(limit),
        routable: (n, usable) => void (reports[n].routable = usable),
        alarm: () => {},
      },
      viewSize: (id) => reports[id].up.size,
      membershipFor: () => members.filter((m) => alive.has(m)),
      liveIds: () => [...alive],
      answered: () => {},
    },
    nodes,
  );
  const shardCluster = Int32Array.from({ length: shards }, (_, s) => s % 4);
  for (let i = 0; i < nodes; i++) sim.launch(i);
  for (let i = 0; i < nodes; i++) {
    sim.boot(i, { self: i, joining: false, members, shards, shardCluster: shardCluster.slice(), shardVersion: new Uint32Array(shards).fill(1) });
  }
  return {
    sim,
    reports,
    counters,
    runUntil(t) {
      // the event loop stops at the run's duration: run to t by moving that end
      (sim.cfg as { durationMs: number }).durationMs = t;
      sim.restartAt(t);
      while (!sim.step(1 << 16));
    },
    originate: (n, s, c, v) => sim.originate(n, s, c, v),
    crash(n) {
      alive.delete(n);
      sim.crash(n);
    },
    leave(n) {
      alive.delete(n);
      sim.leave(n);
    },
    threadsOf: (n) => sim.nodes[n].threads - cfg.limits.baseThreadsPerNode,
    lookup: (n, s) => sim.lookup(n, s),
  };
}
