// A cold start's shard-map construction is work on the node's CPU run queue: the store answers page
// by page (queueing fleet-wide), each page costs its entries × costs.cpuUsPerShardEntry of the
// node's cores, and the protocol boots only when the last page's work has run. Bounds come from the
// parameters: the store's time alone (coldStartMs), the CPU alone (shards × cost ÷ cores), and their
// sum as the most an otherwise idle node can take (work-conserving cores).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigStore, coldStartMs, constructionOnIdleCores, pageEntries } from '../src/fleet/config-store.ts';
import type { FleetBackend } from '../src/fleet/backend.ts';
import { resolveRun, type RunConfig } from '../src/harness/run-config.ts';
import { parseScenario } from '../src/harness/scenario.ts';
import { COST_PROFILE_SCHEMA, loadCostProfile } from '../src/model/cost-profile.ts';
import { COSTS } from '../src/model/defaults.ts';
import { runSim } from '../src/sim/run.ts';
import { Simulation, loadThreadEntries } from '../src/sim/simulation.ts';

const RESTART_AT = 2000;

/** A swim fleet of `nodes` where `count` FEs restart at RESTART_AT (no requests, no reshards). */
function restartRun(opts: { nodes?: number; count: number; cores: number; shards: number; costUs: number; seed?: number }): RunConfig {
  const scenario = parseScenario(
    {
      name: 'construction',
      description: 'FEs restart and rebuild their maps',
      nodes: opts.nodes ?? 4,
      durationMs: 60_000,
      fleet: { requestsPerSec: 0, shards: opts.shards },
      reshards: { perSec: 0 },
      events: [{ type: 'restart', atMs: RESTART_AT, count: opts.count }],
    },
    'construction',
  );
  return resolveRun({
    protocol: 'swim',
    scenario,
    seed: opts.seed ?? 3,
    sets: [`limits.coresPerNode=${opts.cores}`, `costs.cpuUsPerShardEntry=${opts.costUs}`],
  });
}

/** When each boot after t = 0 happened (restarted FEs booting their protocol), in order. */
async function bootTimes(cfg: RunConfig): Promise<number[]> {
  const boots: number[] = [];
  await runSim(cfg, {
    onDriver: (d) =>
      d.wrapBackend(
        (b) =>
          new Proxy(b, {
            get(target, prop, receiver) {
              const v = Reflect.get(target, prop, receiver);
              if (typeof v !== 'function') return v;
              if (prop === 'boot') return (...args: unknown[]) => (target.now() > 0 && boots.push(target.now()), v.apply(target, args));
              return v.bind(target);
            },
          }) as FleetBackend,
      ),
  });
  return boots;
}

describe('a construction on a node with c cores', () => {
  // 0.01 cores: the CPU (shards × cost ÷ c) dominates the store's time; 4 cores: the store dominates
  it.each([
    { cores: 4, shards: 1024, costUs: 1.65 },
    { cores: 1, shards: 20_000, costUs: 1.65 },
    { cores: 0.5, shards: 4096, costUs: 10 },
    { cores: 0.01, shards: 1024, costUs: 1.65 },
  ])('$cores cores, $shards shards at $costUs µs: at least the store time and the CPU, at most their sum', async ({ cores, shards, costUs }) => {
    const cfg = restartRun({ count: 1, cores, shards, costUs });
    const [boot] = await bootTimes(cfg);
    const took = boot - RESTART_AT;
    const storeMs = coldStartMs(cfg.fleet);
    const cpuMs = (shards * costUs) / cores / 1000;
    expect(took).toBeGreaterThanOrEqual(storeMs);
    expect(took).toBeGreaterThanOrEqual(cpuMs);
    // nothing else runs on a constructing node: its cores never idle while a page waits
    const perCoreMs = (shards * costUs * Math.ceil(cores)) / cores / 1000;
    expect(took).toBeLessThanOrEqual(storeMs + perCoreMs + 1e-9);
    // and the recording backend's closed form for an idle node agrees with the run queue
    const store = new ConfigStore(cfg.fleet);
    const us = pageEntries(cfg.fleet).map((n) => n * costUs);
    expect(boot).toBeCloseTo(constructionOnIdleCores(store.pages(RESTART_AT), us, cores), 9);
  });

  it('0.01 cores take the CPU of a whole construction at 1/0.01 of its speed: shards × cost ÷ 0.01 later than the store alone', async () => {
    const shards = 1024, costUs = 1.65;
    const slow = (await bootTimes(restartRun({ count: 1, cores: 0.01, shards, costUs })))[0];
    const free = (await bootTimes(restartRun({ count: 1, cores: 4, shards, costUs: 0 })))[0];
    // the last page arrives at the store time; every page's CPU before it can overlap the reads
    const lastPageMs = (pageEntries({ shards, storeEntriesPerRead: restartRun({ count: 1, cores: 1, shards, costUs }).fleet.storeEntriesPerRead }).at(-1)! * costUs) / 0.01 / 1000;
    expect(slow - free).toBeGreaterThanOrEqual(lastPageMs);
    expect(slow - RESTART_AT).toBeGreaterThanOrEqual((shards * costUs) / 0.01 / 1000);
  });
});

describe('constructions share the store', () => {
  it.each([2, 3])('%i FEs restarting at once queue at the store: the k-th boots no sooner than k store times after the restart', async (count) => {
    const cfg = restartRun({ nodes: 6, count, cores: 4, shards: 1024, costUs: 1.65 });
    const boots = await bootTimes(cfg);
    expect(boots).toHaveLength(count);
    const busyMs = (Math.ceil(cfg.fleet.shards / cfg.fleet.storeEntriesPerRead) / cfg.fleet.storeReadsPerSec) * 1000;
    boots.forEach((t, k) => expect(t - RESTART_AT).toBeGreaterThanOrEqual(k * busyMs + coldStartMs(cfg.fleet)));
  });

  it("the store's pages: one read apart, back to back behind the construction before", () => {
    const fleet = { shards: 250, storeEntriesPerRead: 100, storeReadsPerSec: 100, storeReadLatencyMs: 10 };
    const store = new ConfigStore(fleet);
    expect(pageEntries(fleet)).toEqual([100, 100, 50]);
    expect(store.pages(0)).toEqual([20, 30, 40]);
    expect(store.pages(5)).toEqual([50, 60, 70]);
    expect(store.pages(1000)).toEqual([1020, 1030, 1040]);
  });
});

describe('a node whose cores are busy with other work', () => {
  /** One booted node, `busyUs` of request work queued at t = 0, then a construction asked at t = 0. */
  async function constructAfter(busyUs: number, cores: number): Promise<{ done: number; busyMs: number; cpuMs: number; storeMs: number }> {
    const scenario = parseScenario({ name: 'busy', description: 'one node', nodes: 1, durationMs: 60_000, fleet: { requestsPerSec: 0 }, reshards: { perSec: 0 } }, 'busy');
    const cfg = resolveRun({ protocol: 'async-multiplexed', scenario, nodes: 1, sets: [`limits.coresPerNode=${cores}`, 'costs.cpuUsPerRequest=1000'] });
    const sink = { memberUp() {}, memberDown() {}, shardUpdated() {}, count() {}, limitHit() {}, routable() {}, alarm() {} };
    const sim = new Simulation(
      { ...cfg, threadMains: await loadThreadEntries(cfg.protocol) },
      { sink, viewSize: () => 1, membershipFor: () => [0], liveIds: () => [0], answered: () => {} },
      1,
    );
    sim.launch(0);
    sim.boot(0, { self: 0, joining: false, members: [0], shards: 4, shardCluster: new Int32Array(4), shardVersion: new Uint32Array(4).fill(1) });
    // every core gets the same backlog of requests, issued before the construction asks the store
    for (let i = 0; i < (busyUs / 1000) * Math.ceil(cores); i++) sim.request(0, i % 4, 0);
    const pageTimes = new ConfigStore(cfg.fleet).pages(0);
    const pageUs = pageEntries(cfg.fleet).map((n) => n * cfg.costs.cpuUsPerShardEntry);
    let done = -1;
    sim.construct(0, pageTimes, pageUs, (t) => void (done = t));
    while (!sim.step(1 << 20));
    const speed = cores / Math.ceil(cores);
    return { done, busyMs: busyUs / speed / 1000, cpuMs: (cfg.fleet.shards * cfg.costs.cpuUsPerShardEntry) / cores / 1000, storeMs: coldStartMs(cfg.fleet) };
  }

  it.each([
    { cores: 1, busyUs: 500_000 },
    { cores: 2, busyUs: 300_000 },
    { cores: 0.5, busyUs: 200_000 },
  ])('$cores cores with $busyUs µs of requests per core queued first: the map is built after that work and its own CPU', async ({ cores, busyUs }) => {
    const idle = await constructAfter(0, cores);
    const busy = await constructAfter(busyUs, cores);
    expect(idle.done).toBeGreaterThanOrEqual(Math.max(idle.storeMs, idle.cpuMs));
    // the queued requests hold every core for busyMs; the pages wait behind them
    expect(busy.done).toBeGreaterThanOrEqual(busy.busyMs + (pageEntries({ shards: 1024, storeEntriesPerRead: 100 }).at(-1)! * COSTS.cpuUsPerShardEntry.value) / cores / 1000);
    expect(busy.done).toBeGreaterThan(idle.done);
  });
});

describe('determinism and profiles', () => {
  it('same seed, same construction: identical boot times and result summaries', async () => {
    const cfg = restartRun({ count: 2, cores: 0.5, shards: 4096, costUs: 1.65, seed: 9 });
    const a = await bootTimes(cfg), b = await bootTimes(cfg);
    expect(b).toEqual(a);
    const ra = await runSim(cfg), rb = await runSim(cfg);
    expect(rb.summary).toEqual(ra.summary);
    expect(rb.timeseries).toEqual(ra.timeseries);
  });

  it.each([
    { name: 'node-worker', sourced: /^measured:/ },
    { name: 'native', sourced: /^assumption:/ },
    { name: 'jvm', sourced: /^assumption:/ },
  ])('the shipped $name profile carries cpuUsPerShardEntry with its source', ({ name, sourced }) => {
    const p = loadCostProfile(name);
    expect(p.costs.cpuUsPerShardEntry).toBeGreaterThan(0);
    expect(p.sources.cpuUsPerShardEntry).toMatch(sourced);
  });

  it('a profile without cpuUsPerShardEntry still loads, and the default (with its source) applies', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetbench-construction-'));
    try {
      const file = join(dir, 'old.json');
      writeFileSync(file, JSON.stringify({ schema: COST_PROFILE_SCHEMA, costs: { cpuUsPerMessage: 6 } }));
      expect(loadCostProfile(file).costs.cpuUsPerShardEntry).toBeUndefined();
      const scenario = parseScenario({ name: 's', description: 's', nodes: 2, durationMs: 1000 }, 's');
      const cfg = resolveRun({ protocol: 'swim', scenario, costsFile: file });
      expect(cfg.costs.cpuUsPerShardEntry).toBe(COSTS.cpuUsPerShardEntry.value);
      expect(COSTS.cpuUsPerShardEntry.source).toMatch(/^measured:/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
