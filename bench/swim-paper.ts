/**
 * SWIM measured against the paper's analytic results (npm run bench:swim-paper): the figures in
 * protocols/swim/README.md "Measured against the paper" come from this script.
 *
 * 1. Time from a crash to the first failed probe of the crashed member (paper: e/(e−1) periods
 *    in expectation with uniformly random targets), N = 100, 60 seeds, both probe orders.
 * 2. Messages sent per member per protocol period, steady and loss-free (paper: 2 + 4k on the
 *    rare indirect probe), with and without memberlist's separate gossip rounds.
 * 3. Dissemination: join convergence and shard-map staleness against N (paper: O(log N)).
 *
 * Every run here is the SWIM paper's protocol: lifeguard=false (Lifeguard is swim's default, as
 * in memberlist; the paper predates it).
 */
import type { ProtocolDefinition, Reporter } from '../src/contract/protocol.ts';
import { resolveRun } from '../src/harness/run-config.ts';

/** the SWIM paper's protocol: no Lifeguard */
const PAPER = ['lifeguard=false'];
import { parseScenario, type ScenarioEvent } from '../src/harness/scenario.ts';
import { runSim } from '../src/sim/run.ts';
import { swim } from '../protocols/swim/index.ts';

const CRASH_AT = 10_000;

const scenario = (nodes: number, durationMs: number, events: ScenarioEvent[], reshardsPerSec: number) =>
  parseScenario({ name: 'swim-paper', description: 'SWIM against the paper', nodes, durationMs, reshards: { perSec: reshardsPerSec }, events }, 'swim-paper');

const fmt = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return `mean ${mean.toFixed(2)}, median ${s[Math.floor(s.length / 2)].toFixed(2)}, max ${s[s.length - 1].toFixed(2)}`;
};

// 1. the first failed probe after a crash: a wrapper notes when any node first counts one
for (const order of ['random', 'round-robin']) {
  const periods: number[] = [];
  for (let seed = 1; seed <= 60; seed++) {
    let first = Infinity;
    const watched: ProtocolDefinition<any> = {
      ...swim,
      create(ctx, params) {
        const inner = ctx.report;
        const report: Reporter = {
          memberUp: (m) => inner.memberUp(m),
          memberDown: (m) => inner.memberDown(m),
          shardUpdated: (s, v) => inner.shardUpdated(s, v),
          routable: (u) => inner.routable(u),
          count(name, d) {
            if (name === 'probeFailures' && first === Infinity && ctx.now() >= CRASH_AT) first = ctx.now();
            inner.count(name, d);
          },
        };
        return swim.create(Object.create(ctx, { report: { value: report } }), params);
      },
    };
    await runSim(resolveRun({ protocol: watched, scenario: scenario(100, 30_000, [{ type: 'crash', atMs: CRASH_AT, count: 1 }], 0), seed, sets: [`probeOrder=${order}`, ...PAPER] }));
    periods.push((first - CRASH_AT) / 1000); // probe interval 1 s: seconds are periods
  }
  console.log(`crash → first failed probe, N=100, ${order}, 60 seeds (periods, to the end of the failing period): ${fmt(periods)}; paper e/(e−1) = ${(Math.E / (Math.E - 1)).toFixed(2)}`);
}

// 2. message load per member per period
for (const n of [100, 1000]) {
  for (const gossip of [0, 200]) {
    const sets = [`gossipIntervalMs=${gossip}`, ...PAPER];
    const withReshards = await runSim(resolveRun({ protocol: swim, scenario: 'steady', nodes: n, durationMs: 30_000, sets }));
    const quiet = await runSim(resolveRun({ protocol: swim, scenario: scenario(n, 30_000, [], 0), sets }));
    console.log(
      `N=${n} gossipIntervalMs=${gossip}: messages/member/period ${withReshards.summary.messages.perNodePerSec.toFixed(2)} with 1 reshard/s, ${quiet.summary.messages.perNodePerSec.toFixed(2)} without`,
    );
  }
}

// 3. dissemination against N
for (const gossip of [200, 0]) {
  for (const n of [50, 200, 800, 3200]) {
    const r = await runSim(
      resolveRun({ protocol: swim, scenario: scenario(n, 20_000, [{ type: 'add', atMs: 5_000, count: 5, overMs: 4_000 }], 1), sets: [`gossipIntervalMs=${gossip}`, ...PAPER] }),
    );
    const j = r.summary.membership.joinConvergenceMs!, s = r.summary.shardMap.stalenessMs!;
    console.log(`N=${n} gossipIntervalMs=${gossip}: join p50 ${j.p50.toFixed(0)} ms, max ${j.max.toFixed(0)} ms; shard staleness p50 ${s.p50.toFixed(0)} ms, p99 ${s.p99.toFixed(0)} ms`);
  }
}
