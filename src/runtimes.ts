/**
 * The runtimes fleetbench can run a configuration in, by name: the CLI, sweeps and ceiling
 * searches all go through here. Each runtime is the fleet driver over one backend, so every
 * runtime writes the same result schema.
 */
import { UsageError } from './errors.ts';
import type { RunConfig } from './harness/run-config.ts';
import type { HostsSpec } from './live/hosts.ts';
import type { Result } from './results/schema.ts';
import { runSim } from './sim/run.ts';
import { checkBlackBoxLive, describeBlackBoxLive, isBlackBox, refuseInSimulator } from './blackbox/live-checks.ts';

export type RuntimeName = 'sim' | 'live';
export type TransportKind = 'ws' | 'uws';

export interface RunHooks {
  /** runtime milliseconds reached (and, in the simulator, events processed) */
  onProgress?: (ms: number, events?: number) => void;
  /** polled during the run; true stops it early, and the result says completed: false */
  shouldStop?: () => boolean;
  /** live only: the WebSocket server library (default uws) */
  transport?: TransportKind;
  /** live only: called at t0 with every process and cgroup the run created (tests check they are gone after) */
  onStarted?: (info: { pids: number[]; cgroups: string[] }) => void;
  /** live only: where node processes run (--hosts; default local) */
  hosts?: HostsSpec;
}

export interface Runtime {
  readonly name: RuntimeName;
  /** one line for --help */
  readonly summary: string;
  /** true when runs may share the machine (the simulator); live runs take it whole, one at a time */
  readonly concurrent: boolean;
  run(cfg: RunConfig, hooks?: RunHooks): Promise<Result>;
}

const sim: Runtime = {
  name: 'sim',
  summary: 'the deterministic simulator (virtual time, modelled hosts and network)',
  concurrent: true,
  run: async (cfg, h = {}) => {
    refuseInSimulator(cfg);
    return runSim(cfg, { onProgress: h.onProgress, shouldStop: h.shouldStop });
  },
};

const live: Runtime = {
  name: 'live',
  summary: 'real node processes, Workers and WebSockets on loopback',
  concurrent: false,
  run: async (cfg, h = {}) => {
    // loaded on demand: the simulator (and sweep workers) never need the live runtime's modules
    // kernel faults on namespace hosts would reach a black-box agent's packets; not wired here yet
    checkBlackBoxLive(cfg, { kernelFaults: false });
    const { runLive } = await import('./live/coordinator.ts');
    const result = await runLive(cfg, { transport: h.transport ?? 'uws', onProgress: h.onProgress, shouldStop: h.shouldStop, onStarted: h.onStarted, hosts: h.hosts });
    if (isBlackBox(cfg.protocol) && result.live) describeBlackBoxLive(result.live, cfg.protocol.name);
    return result;
  },
};

export const RUNTIMES: ReadonlyMap<RuntimeName, Runtime> = new Map([sim, live].map((r) => [r.name, r]));

export function getRuntime(name: string, field = '--runtime'): Runtime {
  const r = RUNTIMES.get(name as RuntimeName);
  if (!r) throw new UsageError(`${field}: expected ${[...RUNTIMES.keys()].join(' or ')}, got "${name}"`);
  return r;
}

export function checkTransport(name: string, field = '--transport'): TransportKind {
  if (name !== 'ws' && name !== 'uws') throw new UsageError(`${field}: expected ws or uws, got "${name}"`);
  return name;
}
