// The motivating failure: a fleet just under the per-node thread limit gets a small capacity
// addition. thread-per-peer runs out of threads, every FE's shard-map construction fails and no FE
// can route (2020: "unable to route requests"); async-multiplexed does not.
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

  it('thread_per_peer_hits_the_thread_limit_on_every_node_and_every_FE_loses_its_shard_map', () => {
    const threads = tpp.summary.limitsHit.find((l) => l.limit === 'threads');
    expect(threads).toBeDefined();
    expect(threads!.nodes).toBe(280);
    expect(threads!.firstAtMs).toBeGreaterThan(15_000); // not before the capacity addition
    expect(tpp.summary.threads.peakPerNode).toBe(256);
    expect(tpp.summary.protocolCounters.untrackedPeers).toBeGreaterThan(0);
    // every FE (≥ 90 %) without a usable map at once; requests fail rather than misroute
    expect(tpp.summary.routing.unroutableNodesPeak).toBeGreaterThanOrEqual(0.9);
    expect(tpp.summary.requests.tailFailedRate).toBeGreaterThanOrEqual(0.5);
    expect(tpp.summary.healthChecks.find((c) => c.name === 'tailFailedRate')!.ok).toBe(false);
    expect(tpp.summary.healthy).toBe(false);
    // the worst 10 s: at least half the requests failed
    const ts = tpp.timeseries;
    let worst = 0;
    for (let i = 0; i + 10 <= ts.length; i++) {
      const w = ts.slice(i, i + 10);
      worst = Math.max(worst, w.reduce((a, s) => a + s.failed, 0) / w.reduce((a, s) => a + s.requests, 0));
    }
    expect(worst).toBeGreaterThanOrEqual(0.5);
    // before the addition it routed: no failed request in the first 15 s
    expect(ts.filter((s) => s.tMs <= 15_000).reduce((a, s) => a + s.failed, 0)).toBe(0);
    // no recovery while the added capacity stays
    expect(ts[ts.length - 1].unroutableNodes).toBeGreaterThanOrEqual(0.9);
  });

  it('thread_per_peer_raises_the_thread_alarm_before_the_first_failed_request', () => {
    const alarm = tpp.summary.alarms.find((a) => a.name === 'threadsPct')!;
    expect(alarm).toBeDefined();
    expect(alarm.threshold).toBe(80);
    expect(alarm.leadMs).not.toBeNull();
    expect(alarm.leadMs!).toBeGreaterThan(0);
    // the fleet starts at 250 of 256 threads, already past 80 %: the alarm fires at the start
    expect(alarm.firstAtMs).toBe(0);
  });

  it('no_other_protocol_fails_a_request_on_the_same_scenario_and_seed', () => {
    for (const r of [async, tppRoomy, cells]) {
      // the only FEs without a usable map are joiners still reading the store (cold start)
      expect(r.summary.routing.unroutableNodesPeak).toBeLessThanOrEqual(2 / 240);
      expect(r.summary.protocolCounters.constructionFailed ?? 0).toBe(0);
      expect(r.summary.requests.tailFailedRate).toBe(0);
    }
    // a cell opened by the addition takes its share of shards once its first FE is ready, not before
    for (const r of [async, tppRoomy, cells]) expect(r.summary.requests.failed).toBe(0);
    expect(cells.summary.protocolCounters.migratedShards).toBeGreaterThan(0);
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
