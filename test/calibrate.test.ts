// What calibrate writes loads back: the new handler and byte costs stay out of the simulator's
// costs (unmodelled), the measured loopback latency is carried with its source but not applied,
// and a live FE's back-end delay holds each answer for the modelled round trip, in order.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveRun } from '../src/harness/run-config.ts';
import { BackendDelay } from '../src/live/backend-delay.ts';
import { compareParity, latencyBreakdown, networkSets } from '../src/live/parity.ts';
import type { Result } from '../src/results/schema.ts';
import { COST_PROFILE_SCHEMA, loadCostProfile } from '../src/model/cost-profile.ts';
import { NETWORK } from '../src/model/defaults.ts';
import { UsageError } from '../src/errors.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleetbench-calibrate-'));
});
afterEach(() => {
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

const src = (what: string) => `measured: \`fleetbench calibrate\`, 2026-11-28: ${what}`;
const write = (data: unknown) => {
  const file = join(dir, `p${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(data));
  return file;
};

describe('a calibrated profile', () => {
  const profile = {
    schema: COST_PROFILE_SCHEMA,
    costs: {
      cpuUsPerMessage: { value: 6.1, unit: 'µs', source: src('64-byte messages') },
      cpuUsPerRequest: { value: 35, unit: 'µs', source: src('request service time') },
      cpuUsPerWakeup: { value: 9, unit: 'µs', source: src('Worker ping-pong') },
      cpuUsPerTimer: { value: 4, unit: 'µs', source: src('timer chain') },
      cpuUsPerByte: { value: 0.002, unit: 'µs/byte', source: src('64 and 4096 bytes') },
    },
    network: {
      latencyMinMs: { value: 0.05, unit: 'ms', source: src('echo round trips / 2, minimum') },
      latencyMeanMs: { value: 0.09, unit: 'ms', source: src('echo round trips / 2, mean') },
    },
  };

  it('loads: modelled costs for the simulator, handler and byte costs kept aside, each with its source', () => {
    const p = loadCostProfile(write(profile));
    expect(p.costs).toEqual({ cpuUsPerMessage: 6.1, cpuUsPerRequest: 35, cpuUsPerWakeup: 9 });
    expect(p.unmodelled).toEqual({ cpuUsPerTimer: 4, cpuUsPerByte: 0.002 });
    expect(p.sources.cpuUsPerByte).toBe(src('64 and 4096 bytes'));
    expect(p.network).toEqual({ latencyMinMs: { value: 0.05, source: src('echo round trips / 2, minimum') }, latencyMeanMs: { value: 0.09, source: src('echo round trips / 2, mean') } });
  });

  it('--costs applies the costs but not the network figures (those go with --set network.X)', () => {
    const cfg = resolveRun({ protocol: 'swim', scenario: 'steady', nodes: 4, costsFile: write(profile) });
    expect(cfg.costs.cpuUsPerRequest).toBe(35);
    expect(cfg.network.latencyMinMs).toBe(NETWORK.latencyMinMs.value);
  });

  it('an older profile without the new names or a network section still loads', () => {
    const p = loadCostProfile(write({ schema: COST_PROFILE_SCHEMA, costs: { cpuUsPerMessage: 4, threadSpawnUs: 20 }, details: { workerSpawnMs: 25 } }));
    expect(p.costs).toEqual({ cpuUsPerMessage: 4 });
    expect(p.unmodelled).toEqual({ threadSpawnUs: 20 });
    expect(p.network).toEqual({});
  });

  it.each([
    ['a network figure in the wrong unit', { network: { latencyMinMs: { value: 50, unit: 'µs', source: 'x' } } }, /network\.latencyMinMs\.unit: expected "ms"/],
    ['a network figure the profile cannot carry', { network: { backendRttMs: 1 } }, /network: Unrecognized key: "backendRttMs"; known: latencyMinMs, latencyMeanMs$/],
    ['a byte cost in the wrong unit', { costs: { cpuUsPerByte: { value: 1, unit: 'µs', source: 'x' } } }, /costs\.cpuUsPerByte\.unit: expected "µs\/byte"/],
  ])('refuses %s with one line naming the field', (_name, extra, message) => {
    const file = write({ schema: COST_PROFILE_SCHEMA, costs: {}, ...extra });
    expect(() => loadCostProfile(file)).toThrow(UsageError);
    expect(() => loadCostProfile(file)).toThrow(message);
  });
});

describe('BackendDelay: a live FE holds each answer for the back-end round trip', () => {
  it.each([1, 2, 5])('answers leave %s ms after arrival, in arrival order', async (rttMs) => {
    vi.useFakeTimers();
    const now = () => Date.now();
    const d = new BackendDelay(rttMs, now);
    const out: Array<[number, number]> = [];
    const t0 = now();
    for (let i = 0; i < 5; i++) {
      d.after(() => out.push([i, now() - t0]));
      await vi.advanceTimersByTimeAsync(1);
    }
    expect(d.pending).toBe(5 - out.length);
    await vi.advanceTimersByTimeAsync(rttMs + 2);
    expect(out.map(([i]) => i)).toEqual([0, 1, 2, 3, 4]);
    // request i arrived at i ms (fake timers tick in whole ms, as Node's do)
    expect(out.map(([, at]) => at)).toEqual([0, 1, 2, 3, 4].map((i) => i + rttMs));
    expect(d.pending).toBe(0);
  });

  it('a zero round trip answers at once; clear() drops what is pending', async () => {
    vi.useFakeTimers();
    let sent = 0;
    new BackendDelay(0).after(() => sent++);
    expect(sent).toBe(1);
    const d = new BackendDelay(1, () => Date.now());
    d.after(() => sent++);
    d.clear();
    await vi.advanceTimersByTimeAsync(5);
    expect(sent).toBe(1);
    expect(d.pending).toBe(0);
  });
});

describe('compareParity: live/sim ratios against issue 11\'s tolerances', () => {
  const result = (nodes: number, goodputPerSec: number, p50: number, perNodePerSec: number) =>
    ({ run: { nodes }, summary: { requests: { goodputPerSec, latencyMs: { p50, p99: p50, max: p50 } }, messages: { perNodePerSec } } }) as unknown as Result;
  it.each([
    ['all equal', result(8, 1000, 1.0, 7), []],
    ['goodput 19 % low, latency 19 % high, messages 9 % high: within', result(8, 810, 1.19, 7.63), []],
    ['latency 25 % high', result(8, 1000, 1.25, 7), ['latencyP50']],
    ['messages 11 % low', result(8, 1000, 1.0, 6.23), ['messagesPerNodePerSec']],
    ['goodput 21 % low', result(8, 790, 1.0, 7), ['goodputPerNode']],
  ] as const)('%s', (_name, live, outside) => {
    const rows = compareParity(result(8, 1000, 1.0, 7), live);
    expect(rows.map((r) => r.figure)).toEqual(['goodputPerNode', 'latencyP50', 'messagesPerNodePerSec']);
    expect(rows.filter((r) => !r.within).map((r) => r.figure)).toEqual(outside);
    expect(rows[0].sim).toBe(1000 / 8);
  });

  it("the model's latency holds the run's timer lateness; the gap left is live − sim", () => {
    const withCosts = (r: Result, timerLateMs?: number) => ({ ...r, run: { ...r.run, costs: timerLateMs === undefined ? {} : { timerLateMs } } }) as unknown as Result;
    const b = latencyBreakdown(withCosts(result(8, 1000, 1.145, 7), 0.115), withCosts(result(8, 1000, 1.5, 7)));
    expect(b.timerLateMs).toBe(0.115);
    expect(b.restMs).toBeCloseTo(1.5 - 1.145, 9);
    expect(latencyBreakdown(withCosts(result(8, 1000, 1, 7)), withCosts(result(8, 1000, 1.5, 7))).timerLateMs).toBe(0);
  });

  it("the profile's measured latency becomes --set network.X for both runtimes", () => {
    expect(networkSets(null)).toEqual([]);
    const p = { network: { latencyMinMs: { value: 0.04, source: 'x' }, latencyMeanMs: { value: 0.07, source: 'x' } } } as unknown as Parameters<typeof networkSets>[0];
    expect(networkSets(p)).toEqual(['network.latencyMinMs=0.04', 'network.latencyMeanMs=0.07']);
  });
});
