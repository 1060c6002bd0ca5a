/**
 * The coordinator's side of a host agent (host-agent.ts): one authenticated TCP connection per
 * host, the run's bundle shipped once, and remote node processes that look to the coordinator
 * like the ChildProcess it forks locally — `send`, `kill`, 'message' and 'exit' events, `pid`.
 * Closing the connection (or this process dying) makes the agent SIGKILL every node it placed.
 */
import { EventEmitter } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { ProcSample } from './procfs.ts';
import { frame, decode, encode, readFrames, MAX_FRAME_BYTES, type AgentHostInfo, type FromAgent, type ToAgent } from './agent-wire.ts';

export class AgentError extends Error {}

/** A node process on an agent's host, driven like a local ChildProcess. */
export class RemoteNode extends EventEmitter {
  pid: number | null = null;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  constructor(readonly id: number, readonly agent: AgentConnection) {
    super();
  }
  get connected(): boolean {
    return this.exitCode === null && this.signalCode === null && this.agent.open;
  }
  send(msg: unknown): boolean {
    if (!this.connected) return false;
    this.agent.request({ k: 'send', id: this.id, msg });
    return true;
  }
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (!this.agent.open) return false;
    this.agent.request({ k: 'kill', id: this.id, signal });
    return true;
  }
}

export interface ConnectOptions {
  host: string;
  port: number;
  token: string;
  timeoutMs?: number;
}

export class AgentConnection {
  readonly #sock: Socket;
  readonly #nodes = new Map<number, RemoteNode>();
  readonly #waiters: Array<(m: FromAgent) => boolean> = [];
  #open = true;
  /** messages the agent reports about no particular node (bad requests, child errors) */
  readonly errors: string[] = [];

  private constructor(sock: Socket, readonly host: AgentHostInfo) {
    this.#sock = sock;
  }

  get open(): boolean {
    return this.#open;
  }

  /** Connects, sends the token, and resolves on the agent's welcome (rejects on refusal). */
  static connect(o: ConnectOptions): Promise<AgentConnection> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host: o.host, port: o.port });
      sock.setNoDelay(true);
      let conn: AgentConnection | null = null;
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new AgentError(`host agent ${o.host}:${o.port}: no welcome within ${o.timeoutMs ?? 10_000} ms`));
      }, o.timeoutMs ?? 10_000);
      sock.once('connect', () => sock.write(frame(Buffer.from(o.token))));
      sock.on('error', (e) => {
        clearTimeout(timer);
        if (!conn) reject(new AgentError(`host agent ${o.host}:${o.port}: ${e.message}`));
      });
      sock.on('close', () => {
        clearTimeout(timer);
        if (!conn) reject(new AgentError(`host agent ${o.host}:${o.port}: connection closed before the welcome`));
        else conn.#closed();
      });
      readFrames(sock, () => MAX_FRAME_BYTES, (payload) => {
        const m = decode<FromAgent>(payload);
        if (!conn) {
          clearTimeout(timer);
          if (m.k === 'welcome') {
            conn = new AgentConnection(sock, m.host);
            resolve(conn);
          } else {
            reject(new AgentError(`host agent ${o.host}:${o.port} refused the connection: ${m.k === 'refused' ? m.reason : m.k}`));
            sock.destroy();
          }
          return;
        }
        conn.#dispatch(m);
      });
    });
  }

  request(m: ToAgent): void {
    if (this.#open) this.#sock.write(encode(m));
  }

  #wait<T extends FromAgent>(match: (m: FromAgent) => m is T, what: string, timeoutMs = 30_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        remove();
        reject(new AgentError(`host agent ${this.host.address}: no reply to ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const w = (m: FromAgent) => {
        if (m.k === 'error' && !this.#open) return false;
        if (!match(m)) return false;
        clearTimeout(timer);
        resolve(m);
        return true;
      };
      const remove = () => {
        const i = this.#waiters.indexOf(w);
        if (i >= 0) this.#waiters.splice(i, 1);
      };
      this.#waiters.push(w);
    });
  }

  /** Ships every file of a bundle directory (bundle.ts output); resolves to its directory on the agent's host. */
  async shipBundle(dir: string): Promise<string> {
    const files = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e): [string, Uint8Array] => [e.name, readFileSync(join(dir, e.name))]);
    const reply = this.#wait((m): m is Extract<FromAgent, { k: 'bundled' }> | Extract<FromAgent, { k: 'error' }> => m.k === 'bundled' || (m.k === 'error' && m.error.startsWith('bundle')), 'bundle');
    this.request({ k: 'bundle', files });
    const m = await reply;
    if (m.k === 'error') throw new AgentError(`host agent ${this.host.address}: ${m.error}`);
    return m.dir;
  }

  /** Forks `entry` of the shipped bundle as node `id`; resolves once the agent has started it. */
  async fork(id: number, entry: string): Promise<RemoteNode> {
    const node = new RemoteNode(id, this);
    this.#nodes.set(id, node);
    const reply = this.#wait(
      (m): m is Extract<FromAgent, { k: 'forked' | 'forkFailed' }> => (m.k === 'forked' || m.k === 'forkFailed') && m.id === id,
      `fork ${id}`,
    );
    this.request({ k: 'fork', id, entry });
    const m = await reply;
    if (m.k === 'forkFailed') {
      this.#nodes.delete(id);
      throw new AgentError(`host agent ${this.host.address}: ${m.error}`);
    }
    node.pid = m.pid;
    return node;
  }

  #sampleSeq = 0;
  /** The OS's figures for nodes on this agent's host (/proc read there); null for a node that is gone. */
  async sample(ids: readonly number[]): Promise<Map<number, ProcSample | null>> {
    const seq = ++this.#sampleSeq;
    const reply = this.#wait((m): m is Extract<FromAgent, { k: 'samples' }> => m.k === 'samples' && m.seq === seq, 'sample');
    this.request({ k: 'sample', seq, ids: [...ids] });
    return new Map((await reply).entries);
  }

  #dispatch(m: FromAgent): void {
    for (let i = 0; i < this.#waiters.length; i++) {
      if (this.#waiters[i](m)) {
        this.#waiters.splice(i, 1);
        return;
      }
    }
    switch (m.k) {
      case 'msg':
        this.#nodes.get(m.id)?.emit('message', m.msg);
        return;
      case 'stderr':
        this.#nodes.get(m.id)?.emit('stderr', m.data);
        return;
      case 'exit': {
        const n = this.#nodes.get(m.id);
        if (!n) return;
        this.#nodes.delete(m.id);
        n.exitCode = m.code;
        n.signalCode = m.signal;
        n.emit('exit', m.code, m.signal);
        return;
      }
      case 'error':
        this.errors.push(m.error);
        return;
    }
  }

  /** The agent kills every node it placed for this connection when it closes. */
  #closed(): void {
    this.#open = false;
    for (const n of this.#nodes.values()) {
      n.signalCode = 'SIGKILL';
      n.emit('exit', null, 'SIGKILL');
    }
    this.#nodes.clear();
  }

  close(): Promise<void> {
    if (!this.#open) return Promise.resolve();
    return new Promise((r) => {
      this.#sock.once('close', () => r());
      this.#sock.end();
    });
  }
}
