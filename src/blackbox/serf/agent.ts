/**
 * Supervises one `serf agent` process on loopback: started on ports the caller allocates, with
 * the LAN profile (memberlist DefaultLANConfig), a node name, tags, an optional statsd address
 * and no event handler; stopped with SIGKILL (a crash) or a graceful RPC leave. Every agent is
 * listed with a Reaper, so none outlives its parent, and its temp dir goes with it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentWatcher } from '../adapter.ts';
import { SerfRpcClient } from './rpc.ts';

export const SERF_BINARY = process.env.FLEETBENCH_SERF ?? 'serf';

/** null when `serf` runs here; otherwise why not (for test skips and one-line CLI errors). */
export function serfUnavailableReason(binary = SERF_BINARY): string | null {
  const r = spawnSync(binary, ['version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return `${binary} is not installed (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}); run scripts/install-serf.sh as root`;
  if (r.status !== 0) return `${binary} version exited with ${r.status}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`;
  return null;
}

/** `serf version`'s first line, e.g. "Serf v0.8.2-dev". */
export function serfVersion(binary = SERF_BINARY): string {
  const r = spawnSync(binary, ['version'], { encoding: 'utf8', timeout: 10_000 });
  return (r.stdout ?? '').trim().split('\n')[0] ?? 'unknown';
}

let setpriv: boolean | null = null;
/** Whether util-linux's setpriv (with --pdeathsig) runs here. */
export function setprivRuns(): boolean {
  setpriv ??= spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], { timeout: 5000 }).status === 0;
  return setpriv;
}

export interface SerfAgentOptions {
  name: string;
  /** gossip port (TCP and UDP) on 127.0.0.1 */
  bindPort: number;
  /** RPC port on 127.0.0.1 */
  rpcPort: number;
  /** "127.0.0.1:port" of a statsd receiver, or none */
  statsdAddr?: string;
  tags?: Record<string, string>;
  profile?: 'lan' | 'wan' | 'local';
  reaper: AgentWatcher;
  /** an existing directory to hold the agent's temp dir (default: the OS temp dir) */
  parentDir?: string;
  /** SIGKILL the agent when its parent dies (util-linux setpriv --pdeathsig), where setpriv runs */
  dieWithParent?: boolean;
  binary?: string;
  /** how long to wait for the RPC port to accept a handshake */
  readyTimeoutMs?: number;
}

export class SerfAgent {
  readonly name: string;
  readonly bindAddr: string;
  readonly rpcPort: number;
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly #log: string[] = [];
  readonly exited: Promise<number | null>;
  #running = true;

  private constructor(opts: SerfAgentOptions, child: ChildProcess, dir: string) {
    this.name = opts.name;
    this.bindAddr = `127.0.0.1:${opts.bindPort}`;
    this.rpcPort = opts.rpcPort;
    this.#child = child;
    this.#dir = dir;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#running = false;
        opts.reaper.gone(child.pid!);
        resolve(code ?? (signal ? -1 : null));
      });
    });
    // keep the last lines for error messages; the pipe must be drained either way
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.#log.push(line);
      if (this.#log.length > 40) this.#log.splice(0, this.#log.length - 40);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  static async start(opts: SerfAgentOptions): Promise<SerfAgent> {
    const dir = mkdtempSync(join(opts.parentDir ?? tmpdir(), `fleetbench-serf-${opts.name}-`));
    opts.reaper.removeOnDeath(dir);
    const config: Record<string, unknown> = { tags: opts.tags ?? {} };
    if (opts.statsdAddr) config.statsd_addr = opts.statsdAddr;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    const args = [
      'agent',
      `-node=${opts.name}`,
      `-bind=127.0.0.1:${opts.bindPort}`,
      `-advertise=127.0.0.1:${opts.bindPort}`,
      `-rpc-addr=127.0.0.1:${opts.rpcPort}`,
      `-profile=${opts.profile ?? 'lan'}`,
      `-config-file=${join(dir, 'config.json')}`,
      '-log-level=warn',
    ];
    const binary = opts.binary ?? SERF_BINARY;
    // setpriv execs the agent, so the pid is the agent's; the signal fires when the parent's
    // thread that spawned it dies (Node spawns from its main thread)
    const wrap = opts.dieWithParent && setprivRuns();
    const child = wrap
      ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', binary, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir })
      : spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
    const spawned = await new Promise<Error | null>((resolve) => {
      child.once('spawn', () => resolve(null));
      child.once('error', (e) => resolve(e));
    });
    if (spawned) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`serf agent ${opts.name}: cannot start ${opts.binary ?? SERF_BINARY} (${spawned.message})`);
    }
    opts.reaper.watch(child.pid!);
    const agent = new SerfAgent(opts, child, dir);
    try {
      await agent.#waitReady(opts.readyTimeoutMs ?? 15_000);
    } catch (e) {
      await agent.stop();
      throw e;
    }
    return agent;
  }

  async #waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.#running) throw new Error(`serf agent ${this.name} exited at start: ${this.lastLog()}`);
      try {
        const c = await SerfRpcClient.connect('127.0.0.1', this.rpcPort, { timeoutMs: 1000 });
        c.close();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`serf agent ${this.name}: RPC 127.0.0.1:${this.rpcPort} not ready after ${timeoutMs} ms: ${this.lastLog()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  get pid(): number {
    return this.#child.pid!;
  }

  get running(): boolean {
    return this.#running;
  }

  lastLog(): string {
    return this.#log.slice(-5).join(' | ') || '(no output)';
  }

  /** A new RPC connection to this agent (handshake done). */
  rpc(): Promise<SerfRpcClient> {
    return SerfRpcClient.connect('127.0.0.1', this.rpcPort);
  }

  /** A crash: SIGKILL, no leave message; resolves once the process is gone. */
  async kill(): Promise<void> {
    if (this.#running) this.#child.kill('SIGKILL');
    await this.exited;
  }

  /** Kills the agent if it still runs and removes its temp dir. Idempotent. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
