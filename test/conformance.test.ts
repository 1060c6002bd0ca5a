// The conformance suite: every registered protocol (and every fixture protocol) against a table of
// faults, held to the timing promises it derives from its own parameters (ProtocolPromises in
// src/contract/protocol.ts) and to the fleet's health checks. A new protocol joins with no edit
// here: register it, and give it `conformance.promises`.
import { describe, expect, it } from 'vitest';
import type { ProtocolDefinition, ProtocolPromises } from '../src/contract/protocol.ts';
import { PROTOCOLS } from '../src/protocols.ts';
import { resolveRun } from '../src/harness/run-config.ts';
import { parseScenario } from '../src/harness/scenario.ts';
import { FLEET } from '../src/model/defaults.ts';
import type { Result } from '../src/results/schema.ts';
import { runSim } from '../src/sim/run.ts';
import { FIXTURE_PROTOCOLS } from './fixtures/protocols.ts';

const N = 16;
/** one-way latency tail and handler ordering: 50 ms is e^−250 past the modelled mean of 0.2 ms */
const SLACK_MS = 50;
const FAULT_AT = 2000;
const LAG = FLEET.membershipLagMs.value;

interface Row {
  name: string;
  /** only where this holds (cell outage: protocols with cells) */
  applies?: (def: ProtocolDefinition<any>) => boolean;
  /** the scenario's duration and events, from the protocol's promises */
  scenario(p: ProtocolPromises): { durationMs: number; events?: unknown[] };
  check(r: Result, p: ProtocolPromises): void;
}

const healthyAtTheEnd = (r: Result) => {
  expect(r.summary.healthChecks.filter((c) => !c.ok)).toEqual([]);
  expect(r.summary.membership.viewAccuracy).toBe(1);
};

const ROWS: Row[] = [
  {
    name: 'steady: no false positives, every reshard everywhere within its promise',
    scenario: (p) => ({ durationMs: FAULT_AT + 2 * (p.disseminateMs + SLACK_MS) + 2000 }),
    check(r, p) {
      healthyAtTheEnd(r);
      expect(r.summary.membership.falsePositives).toBe(0);
      expect(r.summary.shardMap.unconverged).toBe(0);
      expect(r.summary.shardMap.stalenessMs!.max).toBeLessThanOrEqual(p.disseminateMs + SLACK_MS);
    },
  },
  {
    name: 'join: every member knows the joiner within the service lag plus its promise',
    scenario: (p) => ({ durationMs: FAULT_AT + LAG + p.joinAfterListedMs + SLACK_MS + p.disseminateMs + 2000, events: [{ type: 'add', atMs: FAULT_AT, count: 1 }] }),
    check(r, p) {
      healthyAtTheEnd(r);
      expect(r.summary.membership.unconvergedJoins).toBe(0);
      expect(r.summary.membership.joinConvergenceMs!.max).toBeLessThanOrEqual(LAG + p.joinAfterListedMs + SLACK_MS);
      expect(r.summary.membership.falsePositives).toBe(0);
    },
  },
  {
    name: 'crash: every member drops the crashed one within its promise, no false positives',
    scenario: (p) => ({ durationMs: FAULT_AT + p.detectAllMs + SLACK_MS + 2000, events: [{ type: 'crash', atMs: FAULT_AT, count: 1 }] }),
    check(r, p) {
      healthyAtTheEnd(r);
      expect(r.summary.membership.undetectedCrashes).toBe(0);
      expect(r.summary.membership.detectionMs.all!.max).toBeLessThanOrEqual(p.detectAllMs + SLACK_MS);
      expect(r.summary.membership.falsePositives).toBe(0);
    },
  },
  {
    name: 'graceful leave: the leaver is out of every view, no false positives',
    scenario: (p) => ({ durationMs: FAULT_AT + p.detectAllMs + SLACK_MS + 2000, events: [{ type: 'remove', atMs: FAULT_AT, count: 1 }] }),
    check(r) {
      healthyAtTheEnd(r);
      expect(r.summary.membership.falsePositives).toBe(0);
    },
  },
  {
    name: 'pause past detection, then resume: views whole again within the recovery promise',
    scenario: (p) => ({
      durationMs: FAULT_AT + p.detectAllMs + p.recoverMs + p.disseminateMs + 2 * SLACK_MS + 2000,
      events: [{ type: 'pause', atMs: FAULT_AT, count: 1, forMs: p.detectAllMs + SLACK_MS }],
    }),
    check: healthyAtTheEnd,
  },
  {
    name: 'partition past detection, then heal: views and maps whole again within the recovery promise',
    scenario: (p) => ({
      durationMs: FAULT_AT + p.detectAllMs + p.recoverMs + p.disseminateMs + 2 * SLACK_MS + 2000,
      events: [
        { type: 'partition', atMs: FAULT_AT, fraction: 0.5 },
        { type: 'heal', atMs: FAULT_AT + p.detectAllMs + SLACK_MS },
      ],
    }),
    check: healthyAtTheEnd,
  },
  {
    name: '5 % loss, then a clean network: healthy again within the recovery promise',
    scenario: (p) => ({
      durationMs: FAULT_AT + 10_000 + p.recoverMs + p.disseminateMs + SLACK_MS + 2000,
      events: [
        { type: 'loss', atMs: FAULT_AT, rate: 0.05 },
        { type: 'loss', atMs: FAULT_AT + 10_000, rate: 0 },
      ],
    }),
    check: healthyAtTheEnd,
  },
  {
    name: 'reshard storm: every reshard everywhere within its promise',
    scenario: (p) => ({
      durationMs: FAULT_AT + 1000 + p.disseminateMs + SLACK_MS + 2000,
      events: [{ type: 'reshardStorm', atMs: FAULT_AT, count: 50, overMs: 1000 }],
    }),
    check(r, p) {
      healthyAtTheEnd(r);
      expect(r.summary.shardMap.unconverged).toBe(0);
      expect(r.summary.shardMap.stalenessMs!.max).toBeLessThanOrEqual(p.disseminateMs + SLACK_MS);
    },
  },
  {
    name: 'cell outage: the harm stays within the crashed cell\'s share of shards',
    applies: (def) => def.createRouter !== undefined,
    scenario: () => ({ durationMs: FAULT_AT + 6000, events: [{ type: 'crashCell', atMs: FAULT_AT, cell: 1 }] }),
    check(r) {
      const cells = r.summary.cells!;
      expect(cells.count).toBeGreaterThan(1);
      const share = cells.outageShardShare!;
      // requests after the outage are a binomial sample of shards: 4 standard deviations of slack
      const sampled = r.summary.requests.total * (6000 / r.run.durationMs);
      expect(cells.blastRadius!).toBeLessThanOrEqual(share + 4 * Math.sqrt((share * (1 - share)) / sampled));
    },
  },
];

// Black-box protocols (kind 'black-box': a real agent such as serf) run only in the live runtime;
// the suite runs in the simulator, so they are listed as skipped with the reason.
const ALL: ProtocolDefinition<any>[] = [...PROTOCOLS.values(), ...FIXTURE_PROTOCOLS].filter((def) => def.kind !== 'black-box');
const BLACK_BOX = [...PROTOCOLS.values()].filter((def) => def.kind === 'black-box').map((def) => def.name);
describe.skipIf(BLACK_BOX.length === 0)('black-box protocols', () => {
  it.skip.each(BLACK_BOX)('%s: skipped — a black-box protocol runs a real agent, live runtime only; the suite runs in the simulator', () => {});
});

describe.each(ALL.map((def) => [def.name, def] as const))('%s', (_name, def) => {
  it('makes timing promises the suite can hold it to', () => {
    expect(def.conformance, `${def.name}: add conformance.promises to its definition (src/contract/protocol.ts)`).toBeDefined();
  });
  const sets = Object.entries(def.conformance?.params ?? {}).map(([k, v]) => `${k}=${v}`);
  const base = resolveRun({ protocol: def, scenario: 'steady', nodes: N, sets });
  const rows = ROWS.filter((row) => row.applies?.(base.protocol) ?? true);
  it.each(rows.map((row) => [row.name, row] as const))('%s', async (_row, row) => {
    const promises = base.protocol.conformance!.promises(base.params, N);
    const s = row.scenario(promises);
    const scenario = parseScenario(
      {
        name: 'conformance',
        description: row.name,
        nodes: N,
        durationMs: s.durationMs,
        // reshards throughout, ending when there is still time for the last to reach everyone
        reshards: { perSec: 1, untilMs: s.durationMs - promises.disseminateMs - SLACK_MS - 1000 },
        tailMs: 1000,
        events: s.events ?? [],
      },
      `${def.name}: ${row.name}`,
    );
    const r = await runSim(resolveRun({ protocol: def, scenario, nodes: N, sets }));
    row.check(r, promises);
  });
});
