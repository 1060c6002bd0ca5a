// One scenario interpreter for every runtime: for the same scenario and seed, the simulator's
// backend and the live runtime's receive the same sequence of driver calls (which node boots,
// leaves, crashes, pauses, which FE originates which reshard, which FE gets which request, when).
import { describe, expect, it } from 'vitest';
import { FleetDriver, type DriverOptions } from '../src/fleet/driver.ts';
import { RecordingBackend, tapBackend, type DriverCall } from '../src/fleet/recording.ts';
import { resolveRun, type RunConfig } from '../src/harness/run-config.ts';
import { loadScenario, parseScenario, scenarioNames } from '../src/harness/scenario.ts';
import { runSim } from '../src/sim/run.ts';
import { liveDriverOptions } from '../src/live/coordinator.ts';

/** The calls a driver makes on a backend that only records them. */
function recorded(cfg: RunConfig, opts: DriverOptions): DriverCall[] {
  const driver = new FleetDriver(cfg, opts);
  const backend = new RecordingBackend(driver);
  driver.attach(backend);
  driver.bootInitialFleet();
  driver.start();
  backend.runUntil(cfg.durationMs);
  return backend.calls;
}

async function recordedSim(cfg: RunConfig): Promise<DriverCall[]> {
  const calls: DriverCall[] = [];
  await runSim(cfg, { onDriver: (d) => d.wrapBackend((b) => tapBackend(b, calls)) });
  return calls;
}

const protocolFor = (scenario: string) => (loadScenario(scenario).events.some((e) => e.type === 'crashCell') ? 'cell-partitioned' : 'swim');

describe('fleet driver parity', () => {
  it.each(scenarioNames())('%s: the sim and live runtimes build drivers that make the same calls', (name) => {
    const cfg = resolveRun({ protocol: protocolFor(name), scenario: name, seed: 7 });
    const sim = recorded(cfg, {});
    const live = recorded(cfg, liveDriverOptions({ load: 'paced' }));
    expect(live).toEqual(sim);
    // the scenario's events all reached the backend
    const kinds = new Set(sim.map((c) => c[0]));
    for (const e of cfg.scenario.events) {
      const want = { add: 'boot', remove: 'leave', crash: 'crash', pause: 'pause', loss: 'setLoss', partition: 'partition', heal: 'heal', reshardStorm: 'originate', crashCell: 'crash', restart: 'crash', rollingRestart: 'crash' }[e.type];
      expect(kinds.has(want), `${e.type} → ${want}`).toBe(true);
    }
  });

  it.each(scenarioNames())('%s: the simulator backend receives exactly the recorded calls', async (name) => {
    // shorter runs keep the suite quick; the calls up to the end must still match one for one
    const full = loadScenario(name);
    const durationMs = Math.min(full.durationMs, Math.max(...full.events.map((e) => e.atMs + 5000), 15_000));
    const cfg = resolveRun({ protocol: protocolFor(name), scenario: name, seed: 7, durationMs });
    expect(await recordedSim(cfg)).toEqual(recorded(cfg, {}));
  });

  it('every fault kind, in one small scenario: sim and a recording backend agree call for call', async () => {
    const scenario = parseScenario(
      {
        name: 'parity-mix',
        description: 'every fault kind',
        nodes: 6,
        durationMs: 7000,
        fleet: { requestsPerSec: 40, membershipLagMs: 300 },
        reshards: { perSec: 2 },
        events: [
          { type: 'pause', atMs: 500, count: 1, forMs: 1000 },
          { type: 'remove', atMs: 800, count: 1 },
          { type: 'crash', atMs: 2000, count: 1 },
          { type: 'add', atMs: 2500, count: 2, overMs: 500 },
          { type: 'partition', atMs: 3500, fraction: 0.5 },
          { type: 'heal', atMs: 4500 },
          { type: 'loss', atMs: 5000, rate: 0.1 },
          { type: 'reshardStorm', atMs: 5500, count: 3, overMs: 200 },
        ],
      },
      'parity-mix',
    );
    const cfg = resolveRun({ protocol: 'async-multiplexed', scenario, seed: 3 });
    const calls = await recordedSim(cfg);
    expect(calls).toEqual(recorded(cfg, {}));
    // a paused node is never chosen to leave (it could not say goodbye), and is resumed once
    const paused = calls.find((c) => c[0] === 'pause')![1];
    expect(calls.filter((c) => c[0] === 'leave').map((c) => c[1])).not.toContain(paused);
    expect(calls.filter((c) => c[0] === 'resume')).toEqual([['resume', paused]]);
  });
});
