// Requests are work: each waits for a core of its FE, costs costs.cpuUsPerRequest there and a
// back-end round trip, and the result reports what was offered, answered well, and how fast.
import { describe, expect, it } from 'vitest';
import { COSTS, NETWORK } from '../src/model/defaults.ts';
import { simulate } from './helpers.ts';

const run = (sets: string[] = [], requestsPerSec = 2000) =>
  simulate({ protocol: 'async-multiplexed', scenario: 'steady', nodes: 8, durationMs: 10_000, sets: [`fleet.requestsPerSec=${requestsPerSec}`, ...sets] });

describe('requests as work', () => {
  it('an idle fleet answers in the request cost plus the back-end round trip, and reports offered load and goodput', async () => {
    const r = await run();
    const q = r.summary.requests;
    // Poisson at 2,000/s for 10 s: 20,000 ± 3σ (σ ≈ 141)
    expect(q.offeredPerSec).toBeGreaterThan(2000 - 3 * 14.2);
    expect(q.offeredPerSec).toBeLessThan(2000 + 3 * 14.2);
    expect(q.throughputPerSec).toBe(q.goodputPerSec);
    // four cores, a few % busy: most requests never wait, so latency = service + back end + the
    // client's round trip to the FE, two one-way latencies min + Exp(θ): their sum's median is
    // 2·min + 1.678·θ (Gamma(2, θ)). The sample median of 20,000 has σ ≈ 0.002 ms here.
    const theta = NETWORK.latencyMeanMs.value - NETWORK.latencyMinMs.value;
    const expected = COSTS.cpuUsPerRequest.value / 1000 + NETWORK.backendRttMs.value + 2 * NETWORK.latencyMinMs.value + 1.67835 * theta;
    expect(Math.abs(q.latencyMs!.p50 - expected)).toBeLessThan(0.03);
    expect(q.latencyMs!.max).toBeGreaterThanOrEqual(q.latencyMs!.p99);
  });

  it('an FE whose core is saturated answers late and falls behind: goodput below offered, cpu limit hit', async () => {
    // one core, 2 ms per request, 1,000 requests/s per node offered: ρ = 2
    const r = await run(['limits.coresPerNode=1', 'costs.cpuUsPerRequest=2000'], 8000);
    const q = r.summary.requests;
    expect(q.goodputPerSec).toBeLessThan(0.6 * q.offeredPerSec);
    expect(q.latencyMs!.p99).toBeGreaterThan(1000);
    expect(r.summary.limitsHit.map((l) => l.limit)).toContain('cpu');
  });
});
