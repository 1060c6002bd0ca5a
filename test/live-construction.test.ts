// Live, a cold start's construction is real CPU in the node process: the driver's modelled store
// sends each page at its answer time, the node decodes and inserts it before its protocol starts,
// and the result says how much later than the model's idle-node end the node finished.
import { describe, expect, it } from 'vitest';
import { coldStartMs } from '../src/fleet/config-store.ts';
import { resolveRun } from '../src/harness/run-config.ts';
import { parseScenario } from '../src/harness/scenario.ts';
import { runLive } from '../src/live/coordinator.ts';
import { processAlive } from '../src/live/procfs.ts';
import { pollUntil } from './helpers.ts';

describe('live', () => {
  it('a live joiner builds its map in its own process, page by page, then boots; the result says so', async () => {
    const scenario = parseScenario(
      { name: 'live-construction', description: 'one joiner', nodes: 2, durationMs: 3000, fleet: { requestsPerSec: 0, shards: 4096 }, reshards: { perSec: 0 }, events: [{ type: 'add', atMs: 500, count: 1 }] },
      'live-construction',
    );
    const cfg = resolveRun({ protocol: 'async-multiplexed', scenario });
    let pids: number[] = [];
    const r = await runLive(cfg, { transport: 'ws', onStarted: (i) => (pids = i.pids) });
    expect(r.live!.construction).toMatch(/^construction CPU is spent live/);
    // the joiner's process built its map and said so
    expect(r.live!.construction).toMatch(/ 1 construction\(s\) ran; /);
    // the joiner booted no sooner than the store could serve it
    const join = r.summary.membership.joinConvergenceMs;
    expect(join).not.toBeNull();
    expect(join!.max).toBeGreaterThanOrEqual(coldStartMs(cfg.fleet));
    await pollUntil(() => !pids.some(processAlive), 40, 50);
    expect(pids.filter(processAlive)).toEqual([]);
  }, 60_000);
});
