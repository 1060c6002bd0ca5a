// The motivating failure: a fleet just under the per-node thread limit gets a small capacity
// addition. thread-per-peer runs out of threads and misroutes; async-multiplexed does not.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Result } from '../src/results/schema.ts';
import { LIMITS } from '../src/model/defaults.ts';
import { simulate } from './helpers.ts';

describe('kinesis-2020', () => {
  let tpp: Result;
  let async: Result;
  let tppRoomy: Result;
  let cells: Result;

  beforeAll(async () => {
    tpp = await simulate({ protocol: 'thread-per-peer', scenario: 'kinesis-2020' });
    async = await simulate({ protocol: 'async-multiplexed', scenario: 'kinesis-2020' });
    // 280 nodes need 279 peer threads + the base threads
    tppRoomy = await simulate({
      protocol: 'thread-per-peer',
      scenario: 'kinesis-2020',
      sets: [`limits.threadsPerNode=${279 + LIMITS.baseThreadsPerNode.value}`],
    });
    cells = await simulate({ protocol: 'cell-partitioned', scenario: 'kinesis-2020', sets: ['cellSize=64', 'inner=thread-per-peer'] });
  });

  it('thread-per-peer hits the thread limit on every node after the addition and keeps misrouting', () => {
    const threads = tpp.summary.limitsHit.find((l) => l.limit === 'threads');
    expect(threads).toBeDefined();
    expect(threads!.nodes).toBe(280);
    expect(threads!.firstAtMs).toBeGreaterThan(15_000); // not before the capacity addition
    expect(tpp.summary.threads.peakPerNode).toBe(256);
    expect(tpp.summary.requests.tailMisrouteRate).toBeGreaterThan(0);
    expect(tpp.summary.shardMap.unconverged).toBeGreaterThan(0);
    expect(tpp.summary.protocolCounters.untrackedPeers).toBeGreaterThan(0);
    expect(tpp.summary.healthy).toBe(false);
    // before the addition the fleet was healthy: no misroute in the first 15 s except propagation
    const before = tpp.timeseries.filter((s) => s.tMs <= 15_000);
    const after = tpp.timeseries.filter((s) => s.tMs > 50_000);
    const rate = (xs: typeof before) => xs.reduce((a, s) => a + s.misrouted, 0) / xs.reduce((a, s) => a + s.requests, 0);
    expect(rate(after)).toBeGreaterThan(10 * rate(before));
  });

  it('async-multiplexed on the same scenario hits no thread limit and converges to 0 misroutes', () => {
    expect(async.summary.limitsHit).toEqual([]);
    expect(async.summary.requests.tailMisrouteRate).toBe(0);
    expect(async.summary.shardMap.unconverged).toBe(0);
    expect(async.summary.membership.viewAccuracy).toBe(1);
    expect(async.summary.healthy).toBe(true);
  });

  it('thread-per-peer with a limit of at least N−1 plus base threads has 0 misroutes once converged', () => {
    expect(tppRoomy.summary.limitsHit).toEqual([]);
    expect(tppRoomy.summary.requests.tailMisrouteRate).toBe(0);
    expect(tppRoomy.summary.shardMap.unconverged).toBe(0);
    expect(tppRoomy.summary.healthy).toBe(true);
  });

  it('cell-partitioned with inner thread-per-peer and C−1 under the limit hits no limit and converges, on the seed where flat thread-per-peer fails', () => {
    expect(cells.run.seed).toBe(tpp.run.seed);
    expect(cells.summary.limitsHit).toEqual([]);
    expect(cells.summary.threads.peakPerNode).toBe(63 + LIMITS.baseThreadsPerNode.value);
    expect(cells.summary.requests.tailMisrouteRate).toBe(0);
    expect(cells.summary.shardMap.unconverged).toBe(0);
    expect(cells.summary.cells!.count).toBe(5); // 280 nodes in cells of 64
    expect(cells.summary.healthy).toBe(true);
  });
});
