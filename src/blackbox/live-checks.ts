/**
 * What the runtimes say about black-box protocols (kind 'black-box', src/contract/protocol.ts):
 * the simulator cannot run a real agent, and the live runtime's sender-side drop filters cannot
 * reach an agent's own UDP. One clear line each (UsageError, exit 2), before anything starts.
 */
import type { ProtocolDefinition } from '../contract/protocol.ts';
import { UsageError } from '../errors.ts';
import type { RunConfig } from '../harness/run-config.ts';
import type { LiveSection } from '../live/schema.ts';
import { blackBoxAdapter } from './adapters.ts';

export const isBlackBox = (p: ProtocolDefinition<any>): boolean => p.kind === 'black-box';

/** The simulator's refusal. */
export function refuseInSimulator(cfg: Pick<RunConfig, 'protocol'>): void {
  if (isBlackBox(cfg.protocol)) throw new UsageError(`${cfg.protocol.name} is a black-box protocol: live runtime only`);
}

/**
 * The live runtime's checks: the agent binary runs here, and no fault needs the drop filters.
 * `kernelFaults`: nodes sit in network namespaces whose loss and partitions the kernel applies
 * (tc netem / nftables), which reach the agents' packets too.
 */
export function checkBlackBoxLive(cfg: RunConfig, opts: { kernelFaults: boolean }): void {
  if (!isBlackBox(cfg.protocol)) return;
  const name = cfg.protocol.name;
  const why = blackBoxAdapter(name).unavailableReason();
  if (why) throw new UsageError(`-p ${name}: ${why}`);
  if (opts.kernelFaults) return;
  const fault = cfg.scenario.events.find((e) => e.type === 'loss' || e.type === 'partition');
  if (fault || cfg.network.lossRate > 0) {
    const what = fault ? `its ${fault.type} event at ${fault.atMs} ms` : `network.lossRate ${cfg.network.lossRate}`;
    throw new UsageError(
      `scenario ${cfg.scenario.name}: ${what} cannot be applied to ${name}: the live runtime drops packets at the sender in its own transport, and ${name}'s agents send their own UDP; run it on network-namespace hosts (--hosts netns:K), or pick a scenario without loss and partition`,
    );
  }
}

/** What a black-box run's live section says it counted and how faults reached the agent. */
export function describeBlackBoxLive(live: LiveSection, name: string): void {
  live.faults =
    `crash = SIGKILL of the node process; its ${name} agent dies with it (SIGKILL from the kernel's parent-death signal), no leave message; ` +
    `pause = SIGSTOP then SIGCONT of the node process and its agent; remove = the agent's graceful leave, then the node exits; ` +
    `add = boot of a process (and agent) started before t0, joining listed members' agents; loss and partition: refused (the agent's UDP is not the live transport's)`;
  live.framing =
    `membership and shard-map updates travel between ${name} agents (memberlist UDP and TCP on loopback; shard entries as 12-byte user events); ` +
    `messages and bytes are memberlist's own statsd counters: UDP packets + TCP stream messages sent, and their bytes; ` +
    `memory, threads, fds and CPU per node = the node host process + its agent process, summed from /proc; ` +
    `the pids cgroup (when enforced) holds the node host only: the agent is started before the host enters it; ` +
    `the cpu and memory cgroups (when enforced) hold both: the host joins them at its fork, and the agent is born inside`;
}
