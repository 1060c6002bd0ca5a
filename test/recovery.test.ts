// The outage's second half: FEs whose shard-map construction failed stay broken after the capacity
// is removed, and only restarts — cold starts that rebuild the map from the configuration store —
// bring them back, at the rate they are restarted.
import { describe, expect, it } from 'vitest';
import { coldStartMs } from '../src/fleet/config-store.ts';
import { parseScenario } from '../src/harness/scenario.ts';
import type { FleetSettings } from '../src/harness/truth.ts';
import { LIMITS } from '../src/model/defaults.ts';
import { simulate } from './helpers.ts';

const N = 24;
const BASE = LIMITS.baseThreadsPerNode.value;
// N−1 peer threads fit; N+3 would not
const LIMIT = N - 1 + BASE + 1;
const PER_HOUR = 36_000; // one restart every 100 ms

const recovery = (events: unknown[]) =>
  parseScenario(
    {
      name: 'recovery-small',
      description: 'kinesis-2020-recovery at 24 FEs',
      nodes: N,
      durationMs: 20_000,
      fleet: { membershipLagMs: 500 },
      limits: { threadsPerNode: LIMIT },
      reshards: { perSec: 2 },
      tailMs: 2000,
      events,
    },
    'recovery-small',
  );

describe('recovery', () => {
  it('broken_FEs_stay_broken_when_the_added_capacity_is_removed', async () => {
    const r = await simulate({
      protocol: 'thread-per-peer',
      sets: ['membershipPollMs=1000'],
      scenario: recovery([
        { type: 'add', atMs: 2000, count: 4 },
        { type: 'remove', atMs: 6000, count: 4 },
      ]),
    });
    expect(r.summary.routing.unroutableNodesPeak).toBeGreaterThanOrEqual(0.9);
    expect(r.timeseries[r.timeseries.length - 1].unroutableNodes).toBeGreaterThanOrEqual(0.9);
    expect(r.summary.recovery.timeToRecoverMs).toBeNull();
    expect(r.summary.recovery.restarts).toBe(0);
  });

  it('a_rolling_restart_recovers_in_the_restarts_time_plus_a_cold_start', async () => {
    const r = await simulate({
      protocol: 'thread-per-peer',
      sets: ['membershipPollMs=1000'],
      scenario: recovery([
        { type: 'add', atMs: 2000, count: 4 },
        { type: 'remove', atMs: 6000, count: 4 },
        { type: 'rollingRestart', atMs: 8000, perHour: PER_HOUR },
      ]),
    });
    const rec = r.summary.recovery;
    expect(rec.restarts).toBe(N);
    expect(rec.firstRestartAtMs).toBe(8000);
    expect(rec.timeToRecoverMs).not.toBeNull();
    expect(rec.failedRequests).toBeGreaterThan(0);
    expect(rec.failedRequests).toBeLessThanOrEqual(r.summary.requests.failed);
    // the last FE restarts (N−1)/rate after the first and routes one cold start later
    const expected = ((N - 1) * 3_600_000) / PER_HOUR + coldStartMs(r.run.fleet as unknown as FleetSettings);
    expect(rec.restartPhaseMs!).toBeGreaterThanOrEqual(expected * 0.8);
    expect(rec.restartPhaseMs!).toBeLessThanOrEqual(expected * 1.2);
    expect(rec.timeToRecoverMs).toBe(rec.recoveredAtMs! - rec.firstFailedAtMs!);
    // recovered: no FE without a map at the end, no failed request in the tail
    expect(r.timeseries[r.timeseries.length - 1].unroutableNodes).toBe(0);
    expect(r.summary.requests.tailFailedRate).toBe(0);
  });

  it('a_restart_is_a_cold_start_the_load_balancer_routes_around', async () => {
    const r = await simulate({ protocol: 'async-multiplexed', scenario: recovery([{ type: 'restart', atMs: 3000, count: 5 }]) });
    expect(r.summary.recovery.restarts).toBe(5);
    // the restarted FEs could not route while they rebuilt their maps, but no request was sent to them
    expect(r.summary.routing.unroutableNodesPeak).toBeCloseTo(5 / N, 5);
    expect(r.summary.requests.failed).toBe(0);
    expect(r.summary.membership.viewAccuracy).toBe(1);
    expect(r.summary.healthy).toBe(true);
  });

  it('restarts_are_refused_by_the_live_runtime_with_the_reason', async () => {
    const { runLive } = await import('../src/live/coordinator.ts');
    const { resolveRun } = await import('../src/harness/run-config.ts');
    const cfg = resolveRun({ protocol: 'async-multiplexed', scenario: recovery([{ type: 'restart', atMs: 3000, count: 1 }]), nodes: 3 });
    await expect(runLive(cfg, { transport: 'ws' })).rejects.toThrow(/restart runs in the simulator only/);
  });

  it('joiners_are_listed_after_a_lag_drawn_between_the_base_and_the_maximum', async () => {
    const scenario = parseScenario(
      {
        name: 'slow-joins',
        description: 'joins learned slowly',
        nodes: 20,
        durationMs: 20_000,
        fleet: { membershipLagMs: 500, membershipLagMaxMs: 8000 },
        events: [{ type: 'add', atMs: 1000, count: 10 }],
      },
      'slow-joins',
    );
    const r = await simulate({ protocol: 'async-multiplexed', scenario });
    const j = r.summary.membership.joinConvergenceMs!;
    expect(r.summary.membership.unconvergedJoins).toBe(0);
    // async-multiplexed knows a joiner once the service lists it (at the next poll): never before the base lag
    expect(j.p50).toBeGreaterThan(500);
    // and the lags differ: some joiners are learned seconds after others
    const fixed = await simulate({ protocol: 'async-multiplexed', scenario: { ...scenario, fleet: { membershipLagMs: 500 } } });
    expect(j.max).toBeGreaterThan(fixed.summary.membership.joinConvergenceMs!.max + 1000);
  });
});
