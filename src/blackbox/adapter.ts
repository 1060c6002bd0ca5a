/**
 * The seam for black-box membership agents: a real third-party binary (HashiCorp Serf; a Consul
 * agent or a team's own daemon next) behind one small adapter file. The cluster runner
 * (cluster.ts), `fleetbench validate` and the tests speak only this interface; everything
 * binary-specific — flags, config files, RPC, log lines — lives in the adapter.
 *
 * An adapter must: start an agent bound to 127.0.0.1 on ports it allocates (ports.ts), list the
 * process with the Reaper before anything can fail, send its metrics to `statsdAddr` when it can,
 * report what the agent believes through a BeliefSink (member names as given in `start`), join,
 * and die by SIGKILL on `kill` with nothing left behind after `stop`.
 */
import type { Reaper } from './reaper.ts';

/** What an agent must be listed with so it never outlives its parent: a Reaper, or the live
 *  runtime's node host (whose coordinator's reaper and the kernel's parent-death signal do it). */
export type AgentWatcher = Pick<Reaper, 'watch' | 'gone' | 'removeOnDeath'>;

/** What an agent reports; member names are the names agents were started with. */
export interface BeliefSink {
  /**
   * The agent's own decision, as early as it can be observed (Serf: the log line memberlist writes
   * when it changes a member's state). Compared with the models.
   */
  decided(kind: 'up' | 'down', member: string): void;
  /** What an application using the agent receives (Serf: member events, after coalescing). */
  delivered(kind: 'up' | 'down', member: string): void;
  /** The agent's own failed probe of `member` (diagnostics; optional for an adapter). */
  suspected?(member: string): void;
  /** The agent declared `member` dead after `confirmations` independent suspicions (diagnostics). */
  declared?(member: string, confirmations: number): void;
}

export interface AgentStartSpec {
  name: string;
  /** "127.0.0.1:port" of a statsd receiver for this agent alone */
  statsdAddr: string;
  tags: Record<string, string>;
  reaper: AgentWatcher;
  /** where the agent's temp files go (default: a fresh dir under the OS temp dir) */
  dir?: string;
  /** SIGKILL the agent when the process that started it dies (Linux parent-death signal) */
  dieWithParent?: boolean;
}

export interface BlackBoxAgent {
  readonly name: string;
  readonly pid: number;
  /** the address other agents join through */
  readonly joinAddr: string;
  /** every port it binds (checked free after stop by the tests) */
  readonly ports: readonly number[];
  /** Starts reporting to `sink`; called before the agent joins anyone. */
  observe(sink: BeliefSink): Promise<void>;
  join(addrs: string[]): Promise<void>;
  /** The members this agent currently holds alive, by name (itself included), asked directly. */
  aliveMembers(): Promise<string[]>;
  /** Disseminates an application payload to every member (Serf: a user event). */
  broadcast(name: string, payload: Uint8Array): Promise<void>;
  /** Application payloads other agents broadcast (and this one's own), as they are delivered. */
  receive?(onPayload: (name: string, payload: Uint8Array) => void): Promise<void>;
  /** Graceful leave: the agent tells the others it is going. */
  leave?(): Promise<void>;
  /** A crash: SIGKILL; resolves when the process is gone. */
  kill(): Promise<void>;
  /** Kills if still running; closes connections; removes temp files. Idempotent. */
  stop(): Promise<void>;
}

export interface BlackBoxAdapter {
  readonly name: string;
  /** null when the binary runs here, otherwise why not (tests skip with it; the CLI exits 2). */
  unavailableReason(): string | null;
  version(): string;
  /** e.g. "lan": the timing profile the agents run with */
  readonly profile: string;
  start(spec: AgentStartSpec): Promise<BlackBoxAgent>;
}
