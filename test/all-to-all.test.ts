import { describe, expect, it } from 'vitest';
import { allToAllCodec, FULL_STATE, LEAVE_MSG, SYNC, SYNC_REQUEST_MSG, type AllToAllMsg } from '../protocols/shared/all-to-all.ts';
import { scenarioLike, simulate } from './helpers.ts';

const ALL_TO_ALL = ['thread-per-peer', 'async-multiplexed'] as const;

describe('all-to-all codec', () => {
  const msgs: AllToAllMsg[] = [
    { t: SYNC, seq: 1, u: [] },
    { t: SYNC, seq: 4_000_000_000, u: [1023, 15, 7, 0, 0, 1] },
    { t: FULL_STATE, seq: 9, u: [5, 3, 2] },
    SYNC_REQUEST_MSG,
    LEAVE_MSG,
  ];
  it.each(msgs.map((m) => [m.t, m]))('type %s round-trips and byteLength is the encoded size', (_t, m) => {
    const bytes = allToAllCodec.encode(m);
    expect(bytes.length).toBe(allToAllCodec.byteLength(m));
    expect(allToAllCodec.decode(bytes)).toEqual(m);
  });
  it('rejects a truncated message', () => {
    const bytes = allToAllCodec.encode({ t: SYNC, seq: 1, u: [1, 2, 3] });
    expect(() => allToAllCodec.decode(bytes.subarray(0, bytes.length - 1))).toThrow(/truncated/);
  });
});

describe.each(ALL_TO_ALL)('%s', (protocol) => {
  it('sends exactly N·(N−1) messages per sync interval in a loss-free steady run', async () => {
    const n = 40;
    const r = await simulate({ protocol, scenario: 'steady', nodes: n, durationMs: 10_000 });
    // every one-second window (= one sync interval) holds exactly one Sync per ordered pair
    expect(r.timeseries.length).toBe(10);
    for (const s of r.timeseries) expect(s.messages).toBe(n * (n - 1));
    expect(r.summary.messages.dropped).toBe(0);
    expect(r.summary.connections.peakPerNode).toBe(n - 1);
  });

  it('reports join convergence for a joining node', async () => {
    const r = await simulate({ protocol, scenario: 'join', nodes: 30, durationMs: 20_000 });
    const join = r.summary.membership.joinConvergenceMs;
    expect(join).not.toBeNull();
    expect(r.summary.membership.unconvergedJoins).toBe(0);
    // async-multiplexed answers a first contact at once: within two intervals. thread-per-peer only
    // spawns a thread for a member the membership service lists (its messages are dropped until
    // then): lag + one poll period + one interval, as slow joins were in the Kinesis fleet.
    const bound = protocol === 'async-multiplexed' ? 2_000 : 2_000 + 5_000 + 1_000;
    expect(join!.max).toBeLessThanOrEqual(bound);
  });

  it('reports crash detection, first and all, within the failure timeout plus an interval', async () => {
    const r = await simulate({ protocol, scenario: 'crash', nodes: 30, durationMs: 20_000 });
    const { first, all } = r.summary.membership.detectionMs;
    expect(first).not.toBeNull();
    expect(all).not.toBeNull();
    expect(r.summary.membership.undetectedCrashes).toBe(0);
    expect(first!.p50).toBeGreaterThanOrEqual(3_000 - 1_000); // failAfterIntervals × syncIntervalMs, less one interval of phase
    expect(all!.max).toBeLessThanOrEqual(3_000 + 1_000 + 1);
    expect(r.summary.membership.falsePositives).toBe(0);
    expect(r.summary.membership.viewAccuracy).toBe(1);
  });

  it('a pause longer than the failure timeout is a false positive, and the member comes back', async () => {
    const scenario = scenarioLike('steady', { events: [{ type: 'pause', atMs: 5_000, count: 1, forMs: 5_000 }] });
    const r = await simulate({ protocol, scenario, nodes: 20, durationMs: 20_000 });
    expect(r.summary.membership.falsePositives).toBeGreaterThan(0);
    expect(r.summary.membership.viewAccuracy).toBe(1);
  });
});

describe.each(ALL_TO_ALL)('%s membership polling', (protocol) => {
  // regression: a joiner heard from before the lagging membership service listed it was dropped
  // at the next poll (a false positive) and re-added at its next Sync, over and over
  it('does not drop a joiner that the membership service does not list yet', async () => {
    const r = await simulate({ protocol, scenario: 'join', nodes: 30, durationMs: 20_000 });
    expect(r.summary.membership.falsePositives).toBe(0);
  });
});
