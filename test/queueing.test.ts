// The run queue against queueing theory: one node with one core, Poisson requests, nothing else
// running. The mean wait for a core must match M/M/1 (exponential service) and M/D/1 (the fixed
// costs.cpuUsPerRequest) within 5 %, on enough requests that 5 % is at least three standard errors
// of the estimate (batch means, so the waits' autocorrelation is accounted for).
import { describe, expect, it } from 'vitest';
import { resolveRun } from '../src/harness/run-config.ts';
import { parseScenario } from '../src/harness/scenario.ts';
import { Rng } from '../src/harness/rng.ts';
import { Simulation, loadThreadEntries } from '../src/sim/simulation.ts';

const SERVICE_US = 1000;
const BATCHES = 30;

/** Waits for a core (ms), in arrival order, of `n` requests at load rho. */
async function waits(rho: number, service: 'exponential' | 'deterministic', n: number): Promise<number[]> {
  const S = SERVICE_US / 1000;
  const lambda = rho / S; // arrivals per ms
  const durationMs = (n / lambda) * 1.5;
  // a lone node: its protocol has no peer to talk to, so requests are the only work on its core
  const scenario = parseScenario({ name: 'queue', description: 'one node', nodes: 1, durationMs, fleet: { requestsPerSec: 0 }, reshards: { perSec: 0 } }, 'queue');
  const cfg = resolveRun({
    protocol: 'async-multiplexed',
    scenario,
    nodes: 1,
    sets: ['limits.coresPerNode=1', `costs.cpuUsPerRequest=${SERVICE_US}`, 'network.backendRttMs=0', 'network.latencyMinMs=0', 'network.latencyMeanMs=0'],
  });
  const draws = new Rng(7, 0x737663); // service times, apart from the arrivals
  let lastServiceMs = 0;
  const requestServiceUs =
    service === 'exponential'
      ? () => {
          const us = draws.exp(SERVICE_US);
          lastServiceMs = us / 1000;
          return us;
        }
      : () => {
          lastServiceMs = S;
          return SERVICE_US;
        };
  const out: number[] = [];
  const sink = { memberUp() {}, memberDown() {}, shardUpdated() {}, count() {}, limitHit() {}, routable() {}, alarm() {} };
  const sim = new Simulation(
    { ...cfg, threadMains: await loadThreadEntries(cfg.protocol), requestServiceUs },
    {
      sink,
      viewSize: () => 1,
      membershipFor: () => [0],
      liveIds: () => [0],
      answered: (_t, _shard, _cluster, latencyMs) => void out.push(latencyMs! - lastServiceMs),
    },
    1,
  );
  sim.launch(0);
  sim.boot(0, { self: 0, joining: false, members: [0], shards: 4, shardCluster: new Int32Array(4), shardVersion: new Uint32Array(4).fill(1) });
  const arrivals = new Rng(11, 0x617272);
  let issued = 0;
  const next = (t: number) =>
    sim.at(t, () => {
      sim.request(0, issued % 4, t);
      if (++issued < n) next(t + arrivals.exp(1 / lambda));
    });
  next(arrivals.exp(1 / lambda));
  while (!sim.step(1 << 20));
  return out;
}

/** Mean and its standard error by batch means. */
function batchMeans(xs: number[]): { mean: number; se: number } {
  const size = Math.floor(xs.length / BATCHES);
  const means: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    let s = 0;
    for (let i = b * size; i < (b + 1) * size; i++) s += xs[i];
    means.push(s / size);
  }
  const mean = means.reduce((a, x) => a + x, 0) / BATCHES;
  const variance = means.reduce((a, x) => a + (x - mean) ** 2, 0) / (BATCHES - 1);
  return { mean, se: Math.sqrt(variance / BATCHES) };
}

// Requests per case: the relaxation time of a single-server queue grows as 1/(1−ρ)², and so does
// the sample needed for a given relative precision (Whitt 1989, "Planning queueing simulations");
// the batch-means check below confirms each sample is large enough.
const requestsAt = (rho: number) => Math.max(400_000, Math.ceil(40_000 / (1 - rho) ** 2));

describe('the run queue is a queue', () => {
  const S = SERVICE_US / 1000;
  const cases: Array<[string, number, 'exponential' | 'deterministic', number]> = [];
  for (const rho of [0.5, 0.8, 0.9]) {
    cases.push(['M/M/1', rho, 'exponential', (rho / (1 - rho)) * S]);
    cases.push(['M/D/1', rho, 'deterministic', (rho / (2 * (1 - rho))) * S]);
  }
  it.each(cases)('%s at rho=%s (%s service): mean wait within five percent of theory', { timeout: 120_000 }, async (_name, rho, service, theory) => {
    const n = requestsAt(rho);
    const w = await waits(rho, service, n);
    expect(w.length).toBeGreaterThan(n * 0.99); // all but the last few answered before the end
    const { mean, se } = batchMeans(w);
    expect(3 * se, 'the sample is large enough for a 5 % tolerance').toBeLessThanOrEqual(0.05 * theory);
    expect(Math.abs(mean - theory)).toBeLessThanOrEqual(0.05 * theory);
  });
});
