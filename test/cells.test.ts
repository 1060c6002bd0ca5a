// Cell-partitioned fleets: per-node cost bounded by the cell size, failures bounded by the cell.
import { describe, expect, it } from 'vitest';
import { CellMapRouter } from '../protocols/cell-partitioned/router.ts';
import { LIMITS } from '../src/model/defaults.ts';
import { scenarioLike, simulate } from './helpers.ts';

const BASE = LIMITS.baseThreadsPerNode.value;

describe('cell router', () => {
  it('fills the open cell to C, then opens a new one and moves it an even share of shards', () => {
    const r = new CellMapRouter(4, 2, 12);
    expect([0, 1, 2, 3].map((n) => r.place(n))).toEqual([0, 0, 0, 0]);
    expect(r.takeMigrations()).toEqual([]);
    expect(r.place(4)).toBe(1);
    expect(r.takeMigrations()).toHaveLength(6);
    expect([r.shardsOf(0), r.shardsOf(1)]).toEqual([6, 6]);
    for (const n of [5, 6, 7, 8]) r.place(n);
    expect(r.cells).toBe(3);
    expect([r.shardsOf(0), r.shardsOf(1), r.shardsOf(2)]).toEqual([4, 4, 4]);
    expect(r.clustersOf(2)).toEqual([4, 5]);
  });

  it('refills a hole left by a removed node before opening a cell', () => {
    const r = new CellMapRouter(2, 2, 4);
    [0, 1, 2, 3].forEach((n) => r.place(n));
    r.removed(1);
    expect(r.place(4)).toBe(0);
    expect(r.cells).toBe(2);
  });
});

describe.each([
  ['async-multiplexed', 0],
  ['thread-per-peer', BASE],
] as const)('cell-partitioned with inner %s', (inner, base) => {
  const C = 16;
  it.each([4, 16])('keeps peak threads and connections per node ≤ C−1 at N = %i·C', async (k) => {
    const r = await simulate({ protocol: 'cell-partitioned', scenario: 'steady', nodes: k * C, durationMs: 5_000, sets: [`cellSize=${C}`, `inner=${inner}`] });
    expect(r.summary.cells!.count).toBe(k);
    expect(r.summary.connections.peakPerNode).toBeLessThanOrEqual(C - 1);
    expect(r.summary.threads.peakPerNode - (inner === 'thread-per-peer' ? base : BASE)).toBeLessThanOrEqual(inner === 'thread-per-peer' ? C - 1 : 0);
    // every node syncs with its cell only: C−1 messages per node per interval
    expect(r.summary.messages.perNodePerSec).toBeCloseTo(C - 1, 0);
  });
});

describe('cell outage', () => {
  it('affects at most the crashed cell\'s share of traffic, and other cells keep routing correctly', async () => {
    const r = await simulate({ protocol: 'cell-partitioned', scenario: 'cell-outage' });
    const c = r.summary.cells!;
    expect(c.count).toBe(4);
    expect(c.outageShardShare).toBe(0.25);
    // 20 s at 1,000 sampled requests/s: ~20,000 requests; 4 standard errors of a 25 % share ≈ 1.2 %
    const requests = r.timeseries.filter((s) => s.tMs > 10_000).reduce((a, s) => a + s.requests, 0);
    const se = Math.sqrt((0.25 * 0.75) / requests);
    expect(c.blastRadius!).toBeLessThanOrEqual(0.25 + 4 * se);
    expect(c.blastRadius!).toBeGreaterThan(0.25 - 4 * se);
    // what went wrong after the outage are failed requests to the dead cell, not misroutes elsewhere
    const after = r.timeseries.filter((s) => s.tMs > 12_000);
    const misroutedAfter = after.reduce((a, s) => a + s.misrouted, 0);
    const requestsAfter = after.reduce((a, s) => a + s.requests, 0);
    expect(misroutedAfter / requestsAfter).toBeLessThan(0.002); // propagation of live reshards only
    expect(r.summary.membership.viewAccuracy).toBe(1);
  });

  it('is refused for a flat protocol, whose whole fleet is one cell', async () => {
    await expect(simulate({ protocol: 'async-multiplexed', scenario: 'cell-outage' })).rejects.toThrow(/crashCell needs a protocol with cells/);
  });
});

describe('capacity past a multiple of C', () => {
  it('opens a new cell whose shards migrate without lasting misroutes', async () => {
    const scenario = scenarioLike('steady', {
      durationMs: 30_000,
      reshards: { perSec: 1, fromMs: 0, untilMs: 20_000 },
      events: [{ type: 'add', atMs: 5_000, count: 8, overMs: 2_000 }],
    });
    const r = await simulate({ protocol: 'cell-partitioned', scenario, nodes: 32, sets: ['cellSize=16'] });
    const c = r.summary.cells!;
    expect(c.count).toBe(3);
    expect(c.nodesPerCell).toEqual({ min: 8, max: 16 });
    expect(c.shardsPerCell.max - c.shardsPerCell.min).toBeLessThanOrEqual(1);
    expect(r.summary.protocolCounters.migratedShards).toBe(Math.floor(1024 / 3));
    expect(r.summary.requests.tailMisrouteRate).toBe(0);
    expect(r.summary.shardMap.unconverged).toBe(0);
    expect(r.summary.membership.unconvergedJoins).toBe(0);
  });
});
