/** Runs one resolved configuration in the simulator: the fleet driver over a Simulation backend. */
import { performance } from 'node:perf_hooks';
import type { RunConfig } from '../harness/run-config.ts';
import { FleetDriver } from '../fleet/driver.ts';
import { checkSimCapacity } from './capacity.ts';
import type { Result } from '../results/schema.ts';
import { Simulation, loadThreadEntries, type SimFleet } from './simulation.ts';

export interface SimHooks {
  onProgress?: (simMs: number, events: number) => void;
  shouldStop?: () => boolean;
  /** called with the driver before the run starts (tests record its backend calls) */
  onDriver?: (driver: FleetDriver) => void;
}

/** The driver as the simulator sees it. */
export function simFleetOf(driver: FleetDriver): SimFleet {
  const m = driver.measures;
  return {
    sink: m,
    viewSize: (id) => m.viewSize(id),
    membershipFor: (id, t) => driver.membershipOf(driver.cellOf(id), t),
    liveIds: () => driver.liveIdsView(),
    answered: (t, shard, cluster, latencyMs) => driver.answered(t, shard, cluster, latencyMs),
  };
}

export async function runSim(cfg: RunConfig, hooks: SimHooks = {}): Promise<Result> {
  // refuse, with the numbers, what would exhaust memory or a typed array mid-run
  checkSimCapacity(cfg);
  const threadMains = await loadThreadEntries(cfg.protocol);
  let peakRss = process.memoryUsage().rss;
  // the run is synchronous: sample RSS from the progress callback (every ~64k events)
  const onProgress = (simMs: number, events: number) => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    hooks.onProgress?.(simMs, events);
  };
  const driver = new FleetDriver(cfg);
  hooks.onDriver?.(driver);
  const sim = new Simulation({ ...cfg, threadMains, onProgress, shouldStop: hooks.shouldStop }, simFleetOf(driver), driver.maxNodes);
  driver.attach(sim);
  const t0 = performance.now();
  driver.bootInitialFleet();
  driver.start();
  // yield to the event loop every 2^18 events (a few tens of ms) so Ctrl-C and timers get to run
  while (!sim.step(1 << 18)) await new Promise<void>((done) => setImmediate(done));
  driver.finish(sim.clock, () => {});
  const wallMs = performance.now() - t0;
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const simulatedMs = sim.clock;
  // requests are work now: throughput is the goodput the driver counted (HostSummary keeps the field)
  const throughputPerSec = simulatedMs > 0 ? driver.requests.routed / (simulatedMs / 1000) : 0;
  let peakThreads = 0, peakConns = 0, peakMem = 0;
  for (const n of sim.nodes) {
    peakThreads = Math.max(peakThreads, n.peakThreads);
    peakConns = Math.max(peakConns, n.peakFds);
    peakMem = Math.max(peakMem, n.peakMemory);
  }
  const result = driver.result('sim', simulatedMs, !sim.stoppedEarly, {
    messages: { total: sim.messages, dropped: sim.droppedMessages, bytes: sim.bytes },
    memory: { peakBytesPerNode: peakMem, meanBytesPerNode: sim.host.meanMemoryPerNode },
    threadsPeakPerNode: peakThreads,
    connectionsPeakPerNode: peakConns,
    cpuUs: sim.host.cpuUsTotal,
    throughputPerSec,
  });
  result.sim = {
    events: sim.events,
    eventsPerSec: sim.events / Math.max(wallMs / 1000, 1e-9),
    wallMs,
    simSecondsPerWallSecond: simulatedMs / 1000 / Math.max(wallMs / 1000, 1e-9),
    peakRssBytes: peakRss,
  };
  return result;
}
