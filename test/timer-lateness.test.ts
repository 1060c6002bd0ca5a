// Timer lateness in the model (costs.timerLateMs, calibrated by `fleetbench calibrate` from how late
// a Node 1 ms timer fires): every timer a node sets fires that much after it is due, and the FE's
// back-end hold — a timer in the live runtime — is that much longer. 0 (the default) changes nothing.
import { describe, expect, it } from 'vitest';
import { COSTS } from '../src/model/defaults.ts';
import { simulate } from './helpers.ts';

const run = (timerLateMs?: number) =>
  simulate({
    protocol: 'async-multiplexed',
    scenario: 'steady',
    nodes: 8,
    durationMs: 10_000,
    seed: 3,
    sets: ['fleet.requestsPerSec=2000', ...(timerLateMs === undefined ? [] : [`costs.timerLateMs=${timerLateMs}`])],
  });

describe('costs.timerLateMs', () => {
  it('defaults to 0 with a stated source, and a 0 changes no figure of the run', async () => {
    expect(COSTS.timerLateMs.value).toBe(0);
    expect(COSTS.timerLateMs.source).toMatch(/^assumption: .*fleetbench calibrate/);
    const [a, b] = await Promise.all([run(), run(0)]);
    expect(b.summary).toEqual(a.summary);
  });

  it.each([0.1, 0.5])('%s ms late: request latency p50 grows by the lateness (four idle cores: no queueing to shift it)', async (late) => {
    const [a, b] = await Promise.all([run(0), run(late)]);
    // the client's hop draws from its own stream and requests never wait here, so each request's
    // latency moves by exactly the lateness; the median moves with them (tolerance: float sums)
    expect(b.summary.requests.latencyMs!.p50 - a.summary.requests.latencyMs!.p50).toBeCloseTo(late, 6);
    expect(b.summary.requests.goodputPerSec).toBe(a.summary.requests.goodputPerSec);
  });

  it("a node's periodic timers run later, so a timer-driven protocol sends a little less", async () => {
    // each sync re-arms its timer when it fires, so the period becomes P + late and the sync rate
    // P / (P + late) of what it was (± a sync per node at the ends of the 10 s run)
    const late = 50;
    const [a, b] = await Promise.all([run(0), run(late)]);
    const P = a.run.params.syncIntervalMs as number;
    const ratio = b.summary.messages.perNodePerSec / a.summary.messages.perNodePerSec;
    expect(ratio).toBeLessThan(1);
    expect(Math.abs(ratio - P / (P + late))).toBeLessThan(P / 10_000);
  });
});
