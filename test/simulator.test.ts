// The simulator's own behaviour, beyond what the protocols see: failures that can be replayed, and
// state that stays bounded however long a run goes.
import { describe, expect, it } from 'vitest';
import type { NodeContext, NodeProtocol, ProtocolDefinition } from '../src/contract/protocol.ts';
import { FleetDriver } from '../src/fleet/driver.ts';
import { resolveRun } from '../src/harness/run-config.ts';
import { parseScenario } from '../src/harness/scenario.ts';
import { runSim, simFleetOf } from '../src/sim/run.ts';
import { Simulation, SimulationError } from '../src/sim/simulation.ts';

/** A protocol whose node behaviour is given by `onTimer`, every `everyMs`. */
function ticking(name: string, everyMs: number, onTimer: (ctx: NodeContext<number>, state: { timers: number[] }) => void): ProtocolDefinition<number> {
  return {
    name,
    summary: 'test protocol',
    params: {},
    codec: { byteLength: () => 1, encode: () => new Uint8Array(1), decode: () => 0 },
    create(ctx): NodeProtocol<number> {
      const state = { timers: [] as number[] };
      return {
        start: () => void ctx.setTimer(everyMs, 0),
        onTimer: (tag) => {
          if (tag !== 0) return; // the test's own short timers
          onTimer(ctx, state);
          ctx.setTimer(everyMs, 0);
        },
        onMessage: () => {},
        originate: () => {},
        lookup: () => 0,
        leave: () => {},
      };
    },
  };
}

const quiet = (nodes: number, durationMs: number) =>
  parseScenario({ name: 'sim-test', nodes, durationMs, fleet: { requestsPerSec: 0 }, description: 'x' }, 'sim-test');

describe('simulator', () => {
  it('a_protocol_that_throws_is_reported_with_its_node_seed_time_and_event', async () => {
    const boom = ticking('boom', 100, (ctx) => {
      if (ctx.self === 3 && ctx.now() >= 1000) throw new Error('invariant broken');
    });
    const err = await runSim(resolveRun({ protocol: boom, scenario: quiet(5, 5000), seed: 42 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SimulationError);
    const e = err as SimulationError;
    expect(e.message).toMatch(/boom threw at node 3, simulated time 1\d{3}(\.\d+)? ms, event \d+ \(seed 42\): invariant broken/);
    expect(e.detail).toMatchObject({ node: 3, seed: 42 });
    expect(e.detail.simulatedMs).toBeGreaterThanOrEqual(1000);
    expect((e.cause as Error).message).toBe('invariant broken');
  });

  it('cancelling_timers_that_already_fired_holds_no_memory_for_them', () => {
    // every tick arms a short timer and cancels the one armed a tick ago, long after it fired (as
    // swim cancels a probe timeout when a late indirect ack arrives)
    const late = ticking('late-cancel', 10, (ctx, s) => {
      const old = s.timers.shift();
      if (old !== undefined) ctx.cancelTimer(old);
      s.timers.push(ctx.setTimer(1, 1));
    });
    const cfg = resolveRun({ protocol: late, scenario: quiet(10, 60_000) });
    const driver = new FleetDriver(cfg);
    const sim = new Simulation({ ...cfg, threadMains: new Map() }, simFleetOf(driver), driver.maxNodes);
    driver.attach(sim);
    driver.bootInitialFleet();
    driver.start();
    while (!sim.step(1 << 14));
    // 10 nodes × 6,000 ticks cancelled 60,000 fired timers; none of them may still be held
    expect(sim.events).toBeGreaterThanOrEqual(2 * 10 * 5_999);
    expect(sim.cancelledTimersHeld).toBeLessThanOrEqual(1024);
  });
});
