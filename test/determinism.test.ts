import { describe, expect, it } from 'vitest';
import { deterministicPart, simulate } from './helpers.ts';

describe('determinism', () => {
  const req = { protocol: 'async-multiplexed', scenario: 'crash', nodes: 30, durationMs: 15_000 } as const;

  it('same seed and inputs give the same result, wall-clock fields aside', async () => {
    const a = await simulate({ ...req, seed: 7 });
    const b = await simulate({ ...req, seed: 7 });
    expect(JSON.stringify(deterministicPart(a))).toBe(JSON.stringify(deterministicPart(b)));
    expect(a.sim!.events).toBe(b.sim!.events);
  });

  it('a different seed gives a different order of events', async () => {
    const a = await simulate({ ...req, seed: 7 });
    const b = await simulate({ ...req, seed: 8 });
    // which nodes crash, when timers fire and which shards move all follow the seed
    expect(a.summary.membership.detectionMs).not.toEqual(b.summary.membership.detectionMs);
    expect(a.timeseries.map((s) => s.misrouted)).not.toEqual(b.timeseries.map((s) => s.misrouted));
  });
});
