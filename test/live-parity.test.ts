// Sim vs live on this machine with a calibrated profile (issue 11's Done-when): the steady
// scenario at N = 8 and 16, same seed, the profile's costs and measured loopback latency in the
// simulator; goodput per node within 20 %, messages per node per second within 10 %, and request
// latency p50 from below (see the note on the suite for why not from above). A short calibration (fewer samples than `fleetbench calibrate`) runs first. Bounded:
// one live fleet at a time, 8 s each, every process checked gone afterwards.
import { pollUntil } from './helpers.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScenario } from '../src/harness/scenario.ts';
import { calibrate } from '../src/live/calibrate.ts';
import { runLive } from '../src/live/coordinator.ts';
import { compareParity, parityRun } from '../src/live/parity.ts';
import { processAlive } from '../src/live/procfs.ts';
import { loadCostProfile, type CostProfile } from '../src/model/cost-profile.ts';
import { ResultSchema } from '../src/results/schema.ts';
import { runSim } from '../src/sim/run.ts';

const steady = { ...loadScenario('steady'), events: [] };
let dir: string;
let file: string;
let profile: CostProfile;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetbench-parity-'));
  file = join(dir, 'costs.json');
  await calibrate({ out: file, workers: 2, connections: 20, messages: 5_000, requests: 1_000, pings: 200, timers: 200, wakeups: 1_000 });
  profile = loadCostProfile(file);
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('calibrate', () => {
  it('measures every figure the model charges, with its unit and source, and the loopback latency', () => {
    expect(Object.keys(profile.costs).sort()).toEqual(['baseProcessBytes', 'bytesPerConnection', 'bytesPerThread', 'cpuUsPerMessage', 'cpuUsPerRequest', 'cpuUsPerShardEntry', 'cpuUsPerWakeup', 'timerLateMs']);
    expect(Object.keys(profile.unmodelled).sort()).toEqual(['cpuUsPerByte', 'cpuUsPerTimer', 'threadSpawnUs']);
    for (const [k, source] of Object.entries(profile.sources)) expect(source, k).toMatch(/^measured: `fleetbench calibrate`, \d{4}-\d\d-\d\dT/);
    for (const k of ['cpuUsPerMessage', 'cpuUsPerRequest', 'cpuUsPerWakeup'] as const) expect(profile.costs[k]).toBeGreaterThan(0);
    expect(profile.unmodelled.cpuUsPerTimer).toBeGreaterThan(0);
    // how late a 1 ms timer fired: ≥ 0, and what the probe's chain of timers measured
    expect(profile.costs.timerLateMs).toBe(Math.max(0, Number(profile.details!.timer1msWallMs) - 1));
    const { latencyMinMs, latencyMeanMs } = profile.network;
    expect(latencyMinMs!.value).toBeGreaterThan(0);
    expect(latencyMeanMs!.value).toBeGreaterThanOrEqual(latencyMinMs!.value);
    expect(latencyMeanMs!.source).toMatch(/pings/);
  });
});

describe.each([8, 16])('steady, async-multiplexed, N = %i, sim vs live with the calibrated profile', (nodes) => {
  // Latency p50 is held only from below here: live holds each answer backendRttMs, so its p50 is at
  // least that and at least the simulator's less 20 %. Both hold the client's hop to the FE (the
  // simulator draws it from its network model, set to the calibrated loopback latency) and Node's
  // timer lateness (the simulator's costs.timerLateMs, calibrated); live also has event-loop delay
  // of N + 2 processes on 2 cores that grows with N and with the other engineers' load, so its
  // upper side is not asserted (README "Requests are work" has the measured ratios).
  it('goodput per node within 20 %, messages per node per second within 10 %; latency holds the back-end round trip', async () => {
    const cfg = parityRun({ protocol: 'async-multiplexed', scenario: steady, nodes, durationMs: 8_000, seed: 1, costsFile: file }, profile);
    expect(cfg.network.latencyMeanMs).toBe(profile.network.latencyMeanMs!.value);
    const sim = await runSim(cfg);
    let pids: number[] = [];
    const live = await runLive(cfg, { transport: 'ws', onStarted: (i) => (pids = i.pids) });
    ResultSchema.parse(live);
    await pollUntil(() => !pids.some(processAlive), 40, 50);
    expect(pids.filter(processAlive)).toEqual([]);
    expect(live.summary.requests.failed).toBe(0);
    expect(live.summary.requests.total).toBeGreaterThan(5_000);
    const rows = compareParity(sim, live);
    // the whole table on failure: which figure, both values, the ratio
    const table = JSON.stringify(rows);
    expect(rows.filter((r) => r.figure !== 'latencyP50' && !r.within), table).toEqual([]);
    const latency = rows.find((r) => r.figure === 'latencyP50')!;
    expect(latency.live, table).toBeGreaterThanOrEqual(cfg.network.backendRttMs);
    expect(latency.ratio, table).toBeGreaterThanOrEqual(1 - latency.tolerance);
  });
});
