/** Runs one resolved configuration in the simulator and assembles its result. */
import { performance } from 'node:perf_hooks';
import type { RunConfig } from '../harness/run-config.ts';
import { verdict, beliefSummary } from '../harness/verdict.ts';
import { machineInfo, toolInfo } from '../results/meta.ts';
import { RESULT_SCHEMA, type Result } from '../results/schema.ts';
import { Simulation, loadThreadEntries } from './simulation.ts';

export interface SimHooks {
  onProgress?: (simMs: number, events: number) => void;
  shouldStop?: () => boolean;
}

export async function runSim(cfg: RunConfig, hooks: SimHooks = {}): Promise<Result> {
  const threadMains = await loadThreadEntries(cfg.protocol);
  let peakRss = process.memoryUsage().rss;
  // the run is synchronous: sample RSS from the progress callback (every ~64k events)
  const onProgress = (simMs: number, events: number) => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    hooks.onProgress?.(simMs, events);
  };
  const sim = new Simulation({ ...cfg, threadMains, onProgress, shouldStop: hooks.shouldStop });
  const t0 = performance.now();
  sim.start();
  // yield to the event loop every 2^18 events (a few tens of ms) so Ctrl-C and timers get to run
  while (!sim.step(1 << 18)) await new Promise<void>((done) => setImmediate(done));
  const wallMs = performance.now() - t0;
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  return buildResult(cfg, sim, { wallMs, peakRss });
}

function buildResult(cfg: RunConfig, sim: Simulation, wall: { wallMs: number; peakRss: number }): Result {
  const m = sim.measures;
  const simulatedMs = sim.now;
  const nodeSec = Math.max(sim.nodeSecondsAlive, 1e-9);
  let peakThreads = 0, peakConns = 0, peakMem = 0;
  for (const n of sim.nodes) {
    peakThreads = Math.max(peakThreads, n.peakThreads);
    peakConns = Math.max(peakConns, n.peakFds);
    peakMem = Math.max(peakMem, n.peakMemory);
  }
  const req = sim.requests;
  const tailMisrouteRate = req.tailMisrouteRate;
  // modelled capacity: every live node's cores, less the CPU the protocol burned, at cpuUsPerRequest
  const capacityUs = nodeSec * cfg.limits.coresPerNode * 1e6 - sim.cpuUsTotal;
  const throughputPerSec = simulatedMs > 0 ? Math.max(0, capacityUs) / cfg.costs.cpuUsPerRequest / (simulatedMs / 1000) : 0;
  const { limitsHit, viewAccuracy, healthChecks, healthy, counters } = verdict(m, tailMisrouteRate);
  return {
    schema: RESULT_SCHEMA,
    run: {
      protocol: cfg.protocol.name,
      runtime: 'sim',
      nodes: cfg.nodes,
      scenario: cfg.scenario.name,
      seed: cfg.seed,
      durationMs: cfg.durationMs,
      simulatedMs,
      completed: !sim.stoppedEarly,
      params: { ...cfg.params },
      limits: { ...cfg.limits },
      costs: { ...cfg.costs },
      costProfile: cfg.costProfile,
      network: { ...cfg.network },
      fleet: { ...cfg.fleet },
    },
    machine: machineInfo(),
    tool: toolInfo(),
    summary: {
      requests: { total: req.total, misrouted: req.misrouted, failed: req.failed, misrouteRate: req.misrouteRate, tailMisrouteRate, throughputPerSec },
      messages: {
        total: sim.messages,
        dropped: sim.droppedMessages,
        perNodePerSec: sim.messages / nodeSec,
        bytesPerNodePerSec: sim.bytes / nodeSec,
      },
      memory: { peakBytesPerNode: peakMem, meanBytesPerNode: sim.meanMemoryPerNode },
      threads: { peakPerNode: peakThreads },
      connections: { peakPerNode: peakConns },
      cpu: { protocolUsPerNodePerSec: sim.cpuUsTotal / nodeSec },
      limitsHit,
      ...beliefSummary(m, simulatedMs, viewAccuracy),
      protocolCounters: counters,
      cells: sim.partitioned ? cellSummary(cfg, sim) : null,
      healthy,
      healthChecks,
    },
    timeseries: sim.samples,
    sim: {
      events: sim.events,
      eventsPerSec: sim.events / Math.max(wall.wallMs / 1000, 1e-9),
      wallMs: wall.wallMs,
      simSecondsPerWallSecond: simulatedMs / 1000 / Math.max(wall.wallMs / 1000, 1e-9),
      peakRssBytes: wall.peakRss,
    },
  };
}

function cellSummary(cfg: RunConfig, sim: Simulation): NonNullable<Result['summary']['cells']> {
  const sizes = sim.cellSizes();
  const shards = new Array<number>(sim.router.cells).fill(0);
  for (let s = 0; s < cfg.fleet.shards; s++) shards[sim.router.cellOfShard(s)]++;
  const crashed = sim.crashedCells;
  return {
    count: sim.router.cells,
    cellSize: Number(cfg.params.cellSize),
    nodesPerCell: { min: Math.min(...sizes), max: Math.max(...sizes) },
    shardsPerCell: { min: Math.min(...shards), max: Math.max(...shards) },
    blastRadius: sim.requests.blastRadius,
    outageShardShare: crashed.size === 0 ? null : [...crashed].reduce((a, c) => a + shards[c], 0) / cfg.fleet.shards,
  };
}
