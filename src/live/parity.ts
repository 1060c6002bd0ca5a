/**
 * Sim-vs-live parity: the same run (protocol, scenario, N, seed, calibrated costs) in both
 * runtimes, compared on the figures issue 11 holds them to — goodput per node and request latency
 * p50 within 20 %, messages per node per second within 10 %. What each runtime's latency holds:
 * - sim: the FE's run-queue wait + its request service time (costs.cpuUsPerRequest) + the
 *   back-end round trip (network.backendRttMs) fired as late as a timer (costs.timerLateMs) + the
 *   client's hop to the FE and back (two one-way latencies of the network model).
 * - live: load generator → FE over loopback, the FE's event-loop wait + its handler, the
 *   back-end round trip (the FE holds the answer that long on a timer, to the nearest 1 ms tick),
 *   FE → load generator, and the load generator's own event-loop wait before it reads the answer.
 */
import { resolveRun, type RunRequest } from '../harness/run-config.ts';
import type { CostProfile } from '../model/cost-profile.ts';
import type { Result } from '../results/schema.ts';

/** live/sim ratio bounds per figure (issue 11's Done-when) */
export const PARITY_TOLERANCE = { goodputPerNode: 0.2, latencyP50: 0.2, messagesPerNodePerSec: 0.1 } as const;
export type ParityFigure = keyof typeof PARITY_TOLERANCE;

export interface ParityRow {
  figure: ParityFigure;
  unit: string;
  sim: number;
  live: number;
  /** live / sim */
  ratio: number;
  tolerance: number;
  within: boolean;
}

function figures(r: Result): Record<ParityFigure, number> {
  const q = r.summary.requests;
  return {
    goodputPerNode: (q.goodputPerSec ?? 0) / r.run.nodes,
    latencyP50: q.latencyMs?.p50 ?? NaN,
    messagesPerNodePerSec: r.summary.messages.perNodePerSec,
  };
}

const UNITS: Record<ParityFigure, string> = { goodputPerNode: 'requests/s', latencyP50: 'ms', messagesPerNodePerSec: 'messages/s' };

/** One row per figure: the two values, their ratio and whether it is within tolerance. */
export function compareParity(sim: Result, live: Result): ParityRow[] {
  const s = figures(sim), l = figures(live);
  return (Object.keys(PARITY_TOLERANCE) as ParityFigure[]).map((figure) => {
    const ratio = l[figure] / s[figure];
    const tolerance = PARITY_TOLERANCE[figure];
    return { figure, unit: UNITS[figure], sim: s[figure], live: l[figure], ratio, tolerance, within: Math.abs(ratio - 1) <= tolerance };
  });
}

/** `--set network.X=…` for the loopback latency a calibrated profile measured (none if it has none). */
export function networkSets(profile: CostProfile | null): string[] {
  if (!profile) return [];
  return Object.entries(profile.network).map(([k, v]) => `network.${k}=${v!.value}`);
}

/** The run both runtimes get: the request, with the profile's costs and its measured network. */
export function parityRun(req: RunRequest, profile: CostProfile | null) {
  return resolveRun({ ...req, sets: [...networkSets(profile), ...(req.sets ?? [])] });
}

/**
 * Where live latency p50 departs from the simulator's. Both hold the client's hop to the FE and
 * back (live: real loopback; the simulator: two one-way latencies of its network model, set from
 * the profile's measured latency) and how late the FE's back-end hold fires (live: one Node timer;
 * the simulator: costs.timerLateMs, which `fleetbench calibrate` measures — so it is in the model
 * when the run's costs come from a calibrated profile). What is left is only live's: event-loop
 * and scheduling delay of N + 2 processes sharing this machine's cores, which the simulator's
 * per-node cores do not have.
 */
export interface LatencyBreakdown {
  simP50Ms: number;
  liveP50Ms: number;
  /** the timer lateness the model charged (the run's costs.timerLateMs), part of simP50Ms */
  timerLateMs: number;
  /** live − sim: what the model does not hold */
  restMs: number;
}

export function latencyBreakdown(sim: Result, live: Result): LatencyBreakdown {
  const simP50Ms = sim.summary.requests.latencyMs?.p50 ?? NaN;
  const liveP50Ms = live.summary.requests.latencyMs?.p50 ?? NaN;
  const timerLateMs = Number(sim.run.costs.timerLateMs ?? 0);
  return { simP50Ms, liveP50Ms, timerLateMs, restMs: liveP50Ms - simP50Ms };
}
