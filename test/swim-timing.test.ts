import { describe, expect, it } from 'vitest';
import { pushPullScaleMs, remainingSuspicionMs, retransmitLimit, scaleByAwareness, suspicionTimeoutMs } from '../protocols/swim/timing.ts';
import { Awareness } from '../protocols/swim/awareness.ts';
import { BroadcastQueue } from '../protocols/swim/broadcast-queue.ts';
import { swimCodec, ACK, GOSSIP, NACK, PING, PING_REQ, PUSH_PULL, U_ALIVE, U_DEAD, U_LEFT, U_SHARD, U_SUSPECT, type SwimMsg } from '../protocols/swim/messages.ts';
import { SWIM_PARAMS } from '../protocols/swim/params.ts';

describe('swim timing formulas (memberlist util.go, suspicion.go, awareness.go)', () => {
  it.each([
    // mult, n, interval, expected ms: max(1, log10 n) scaling, truncated to 1/1000 as memberlist
    [4, 1, 1000, 4000],
    [4, 10, 1000, 4000],
    [4, 100, 1000, 8000],
    [4, 1000, 1000, 12000],
    [4, 10000, 1000, 16000],
    [4, 50, 1000, 6792],
    [5, 100, 200, 2000],
  ])('suspicionTimeout(%i, n=%i, %i ms) = %i ms', (mult, n, interval, want) => {
    expect(suspicionTimeoutMs(mult, n, interval)).toBe(want);
  });

  it.each([
    [4, 1, 4],
    [4, 9, 4],
    [4, 10, 8],
    [4, 99, 8],
    [4, 100, 12],
    [4, 1000, 16],
    [3, 10000, 15],
  ])('retransmitLimit(%i, n=%i) = %i', (mult, n, want) => {
    expect(retransmitLimit(mult, n)).toBe(want);
  });

  it.each([
    [30_000, 1, 30_000],
    [30_000, 32, 30_000],
    [30_000, 33, 60_000],
    [30_000, 64, 60_000],
    [30_000, 65, 90_000],
    [30_000, 1000, 180_000],
    [30_000, 10_000, 300_000],
  ])('pushPullScale(%i ms, n=%i) = %i ms', (interval, n, want) => {
    expect(pushPullScaleMs(interval, n)).toBe(want);
  });

  it.each([
    // n confirmations, k, elapsed, min, max → remaining: memberlist suspicion_test.go TestSuspicion_remainingSuspicionTime
    [0, 3, 0, 2000, 30000, 30000],
    [1, 3, 2000, 2000, 30000, 14000],
    [2, 3, 3000, 2000, 30000, 4810],
    [3, 3, 4000, 2000, 30000, -2000],
    [4, 3, 5000, 2000, 30000, -3000],
    [5, 3, 10000, 2000, 30000, -8000],
  ])('remainingSuspicionTime(n=%i, k=%i, elapsed=%i, min=%i, max=%i) = %i', (n, k, elapsed, min, max, want) => {
    expect(remainingSuspicionMs(n, k, elapsed, min, max)).toBe(want);
  });

  it('awareness scales by score + 1 and clamps the score to [0, max − 1]', () => {
    expect(scaleByAwareness(1000, 0)).toBe(1000);
    expect(scaleByAwareness(1000, 7)).toBe(8000);
    const a = new Awareness(SWIM_PARAMS.awarenessMaxMultiplier.default);
    a.applyDelta(-1);
    expect(a.score).toBe(0);
    a.applyDelta(3);
    expect(a.scale(1000)).toBe(4000);
    a.applyDelta(100);
    expect(a.score).toBe(7);
  });
});

describe('swim broadcast queue (memberlist queue.go)', () => {
  it('sends least-transmitted first, newest first among equals, and drops at the limit', () => {
    const q = new BroadcastQueue();
    q.enqueue(U_ALIVE, 1, 0, 0);
    q.enqueue(U_ALIVE, 2, 0, 0);
    const out: number[] = [];
    expect(q.fill(out, 1000, 1, 2)).toBe(1);
    expect(out[1]).toBe(2); // newest first
    out.length = 0;
    q.fill(out, 1000, 1, 2);
    expect(out[1]).toBe(1); // 1 has fewer transmits now
    out.length = 0;
    q.fill(out, 1000, 10, 2);
    expect(out.length / 4).toBe(2);
    expect(q.size).toBe(0); // both reached the limit of 2
  });

  it('a newer update about the same member or shard replaces the queued one', () => {
    const q = new BroadcastQueue();
    q.enqueue(U_ALIVE, 7, 1, 0);
    q.enqueue(U_SUSPECT, 7, 1, 3);
    q.enqueue(U_SHARD, 7, 2, 5);
    q.enqueue(U_SHARD, 7, 3, 6);
    expect(q.snapshot().sort()).toEqual([
      [U_SUSPECT, 7, 1, 3, 0],
      [U_SHARD, 7, 3, 6, 0],
    ].sort());
  });

  it('respects the byte budget', () => {
    const q = new BroadcastQueue();
    for (let i = 0; i < 10; i++) q.enqueue(U_ALIVE, i, 0, 0);
    const out: number[] = [];
    expect(q.fill(out, 9 * 3 + 8, 255, 10)).toBe(3);
  });
});

describe('swim codec', () => {
  const msgs: SwimMsg[] = [
    { t: PING, seq: 1, target: 9, u: [] },
    { t: PING, seq: 4_000_000_000, target: 70_000, u: [U_ALIVE, 3, 7, 0, U_SUSPECT, 4, 2, 11, U_DEAD, 5, 1, 0, U_LEFT, 6, 9, 0, U_SHARD, 1023, 15, 77] },
    { t: ACK, seq: 2, u: [U_SHARD, 1, 2, 3] },
    { t: NACK, seq: 3, u: [] },
    { t: PING_REQ, seq: 5, target: 8, nack: true, u: [U_ALIVE, 1, 1, 0] },
    { t: PING_REQ, seq: 6, target: 8, nack: false, u: [] },
    { t: GOSSIP, u: [U_SUSPECT, 1, 2, 3] },
    { t: PUSH_PULL, reply: true, join: false, members: new Uint32Array([0, 1, 1, 5, 2, 3, 9, 0, 4]), shards: new Uint32Array([3, 4, 5]) },
    { t: PUSH_PULL, reply: false, join: true, members: new Uint32Array([]), shards: new Uint32Array([]) },
  ];
  it.each(msgs.map((m) => [m.t, m] as const))('type %i round-trips and byteLength === encode().length', (_t, m) => {
    const bytes = swimCodec.encode(m);
    expect(swimCodec.byteLength(m)).toBe(bytes.length);
    expect(swimCodec.decode(bytes)).toEqual(m);
  });

  it('rejects an unknown message type with a clear error', () => {
    expect(() => swimCodec.decode(new Uint8Array([99]))).toThrow(/unknown message type 99/);
  });
});

describe('swim params', () => {
  it('every parameter names a source and its default is memberlist DefaultLANConfig where one exists', () => {
    for (const [k, spec] of Object.entries(SWIM_PARAMS)) expect(spec.source.length, k).toBeGreaterThan(10);
    expect(SWIM_PARAMS.probeIntervalMs.default).toBe(1000);
    expect(SWIM_PARAMS.probeTimeoutMs.default).toBe(500);
    expect(SWIM_PARAMS.indirectChecks.default).toBe(3);
    expect(SWIM_PARAMS.retransmitMult.default).toBe(4);
    expect(SWIM_PARAMS.suspicionMult.default).toBe(4);
    expect(SWIM_PARAMS.suspicionMaxTimeoutMult.default).toBe(6);
    expect(SWIM_PARAMS.gossipIntervalMs.default).toBe(200);
    expect(SWIM_PARAMS.gossipNodes.default).toBe(3);
    expect(SWIM_PARAMS.pushPullIntervalMs.default).toBe(30_000);
    expect(SWIM_PARAMS.awarenessMaxMultiplier.default).toBe(8);
  });
});
