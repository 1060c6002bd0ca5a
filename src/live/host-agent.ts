/**
 * The host agent: places node processes on its host for a live coordinator elsewhere. One small
 * TCP server, bound only to the address it is given; every connection must open with the run's
 * token (compared in constant time, before anything is deserialized) or is refused and closed.
 * An authenticated coordinator ships the run's bundle (bundle.ts output), asks for node processes
 * (`fork`), and the agent relays each node's IPC messages both ways over the connection
 * (agent-wire.ts). When that connection drops, the agent SIGKILLs every process it forked for it
 * and removes the shipped bundle — a dead coordinator leaves nothing behind on this host.
 *
 * Start it inside a namespace host:
 *   FLEETBENCH_AGENT_TOKEN=… ip netns exec fb-<run>-h0 node --import tsx src/live/host-agent.ts --bind 198.18.x.2 --once
 * It prints one JSON line {"agent": {"address", "port", "pid"}} when listening. The token comes
 * from the environment or --token-file, never argv (argv is world-readable in /proc).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { cpus, freemem, hostname, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sampleProc } from './procfs.ts';
import { AGENT_PROTOCOL, MAX_FRAME_BYTES, MAX_HELLO_BYTES, decode, encode, readFrames, type FromAgent, type ToAgent } from './agent-wire.ts';

export const TOKEN_ENV = 'FLEETBENCH_AGENT_TOKEN';
/** a connection that has not sent its token by then is closed */
const HELLO_TIMEOUT_MS = 5000;
const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * The environment node processes get: the agent's own, minus what would change how Node runs
 * them (as childEnv() in run.ts: NODE_OPTIONS, UWS_USE_FALLBACK) and minus the run token.
 */
export function agentChildEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.UWS_USE_FALLBACK;
  delete env[TOKEN_ENV];
  return env;
}

export interface HostAgentOptions {
  /** the only address the agent listens on */
  bind: string;
  /** 0: a free port */
  port?: number;
  token: string;
  /** exit the process once the first authenticated coordinator has gone (a per-run agent) */
  once?: boolean;
  /** where shipped bundles go (default: the OS temp dir); a netns run gives its work dir, which it removes even if this agent is killed */
  workDir?: string;
}

export interface HostAgent {
  address: string;
  port: number;
  close(): Promise<void>;
}

const digest = (b: Uint8Array) => createHash('sha256').update(b).digest();

class Session {
  readonly #kids = new Map<number, ChildProcess>();
  #dir: string | null = null;
  constructor(readonly sock: Socket, readonly workDir: string) {}

  send(m: FromAgent): void {
    if (!this.sock.destroyed) this.sock.write(encode(m));
  }

  handle(m: ToAgent): void {
    switch (m.k) {
      case 'bundle': {
        if (this.#dir) return this.send({ k: 'error', error: 'bundle: already shipped on this connection' });
        const bad = m.files.find(([name]) => !FILE_NAME.test(name));
        if (bad) return this.send({ k: 'error', error: `bundle: file name "${bad[0]}" is not a plain file name` });
        mkdirSync(this.workDir, { recursive: true });
        this.#dir = mkdtempSync(join(this.workDir, 'fleetbench-agent-'));
        for (const [name, bytes] of m.files) writeFileSync(join(this.#dir, name), bytes);
        return this.send({ k: 'bundled', dir: this.#dir });
      }
      case 'fork': {
        if (!this.#dir) return this.send({ k: 'forkFailed', id: m.id, error: 'fork: no bundle shipped yet' });
        if (!FILE_NAME.test(m.entry)) return this.send({ k: 'forkFailed', id: m.id, error: `fork: entry "${m.entry}" is not a plain file name` });
        if (this.#kids.has(m.id)) return this.send({ k: 'forkFailed', id: m.id, error: `fork: id ${m.id} is already running` });
        let child: ChildProcess;
        try {
          child = fork(join(this.#dir, m.entry), [], { execArgv: [], env: agentChildEnv(), stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
        } catch (e) {
          return this.send({ k: 'forkFailed', id: m.id, error: (e as Error).message });
        }
        this.#kids.set(m.id, child);
        child.on('message', (msg) => this.send({ k: 'msg', id: m.id, msg }));
        child.stderr?.on('data', (d: Buffer) => this.send({ k: 'stderr', id: m.id, data: d.toString() }));
        child.on('error', (e) => this.send({ k: 'error', error: `node ${m.id}: ${e.message}` }));
        child.on('exit', (code, signal) => {
          this.#kids.delete(m.id);
          this.send({ k: 'exit', id: m.id, code, signal });
        });
        return this.send({ k: 'forked', id: m.id, pid: child.pid ?? -1 });
      }
      case 'send': {
        const c = this.#kids.get(m.id);
        if (c?.connected) c.send(m.msg as never);
        return;
      }
      case 'kill': {
        const c = this.#kids.get(m.id);
        try {
          c?.kill(m.signal);
        } catch (e) {
          this.send({ k: 'error', error: `kill ${m.id}: ${(e as Error).message}` });
        }
        return;
      }
      case 'sample':
        return this.send({
          k: 'samples',
          seq: m.seq,
          entries: m.ids.map((id): [number, ReturnType<typeof sampleProc>] => {
            const pid = this.#kids.get(id)?.pid;
            return [id, pid ? sampleProc(pid) : null];
          }),
        });
      default:
        this.send({ k: 'error', error: `unknown request ${JSON.stringify((m as { k?: unknown }).k)}` });
    }
  }

  /** SIGKILL every node of this connection (stopped ones too), wait for them, drop the bundle. */
  async end(): Promise<void> {
    const exits = [...this.#kids.values()].map((c) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r()))));
    for (const c of this.#kids.values()) c.kill('SIGKILL');
    await Promise.all(exits);
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = null;
  }
}

export function startHostAgent(opts: HostAgentOptions): Promise<HostAgent> {
  if (!opts.token) throw new Error('host agent: a non-empty token is required');
  const want = digest(Buffer.from(opts.token));
  const sessions = new Set<Session>();
  let served = false;
  let server: Server;

  const onConnection = (sock: Socket) => {
    sock.setNoDelay(true);
    let session: Session | null = null;
    const hello = setTimeout(() => sock.destroy(), HELLO_TIMEOUT_MS);
    sock.on('error', () => {});
    readFrames(
      sock,
      () => (session ? MAX_FRAME_BYTES : MAX_HELLO_BYTES),
      (payload) => {
        if (!session) {
          clearTimeout(hello);
          if (!timingSafeEqual(digest(payload), want)) {
            sock.end(encode({ k: 'refused', reason: 'wrong run token' }));
            sock.destroySoon();
            return;
          }
          session = new Session(sock, opts.workDir ?? tmpdir());
          sessions.add(session);
          served = true;
          const a = server.address();
          session.send({
            k: 'welcome',
            host: { protocol: AGENT_PROTOCOL, hostname: hostname(), address: typeof a === 'object' && a ? a.address : opts.bind, cpus: cpus().length, memBytes: totalmem(), availableBytes: freemem(), pid: process.pid, node: process.version },
          });
          return;
        }
        let m: ToAgent;
        try {
          m = decode<ToAgent>(payload);
        } catch (e) {
          session.send({ k: 'error', error: `undecodable frame: ${(e as Error).message}` });
          return;
        }
        session.handle(m);
      },
    );
    sock.on('close', () => {
      clearTimeout(hello);
      const s = session;
      if (!s) return;
      void s.end().finally(() => {
        sessions.delete(s);
        if (opts.once && served && sessions.size === 0) process.exit(0);
      });
    });
  };

  server = createServer(onConnection);
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen({ host: opts.bind, port: opts.port ?? 0, exclusive: true }, () => {
      const a = server.address();
      if (!a || typeof a !== 'object') return rej(new Error('host agent: no address'));
      res({
        address: a.address,
        port: a.port,
        close: async () => {
          await new Promise<void>((r) => server.close(() => r()));
          for (const s of sessions) s.sock.destroy();
          await Promise.all([...sessions].map((s) => s.end()));
        },
      });
    });
  });
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { bind: { type: 'string' }, port: { type: 'string', default: '0' }, 'token-file': { type: 'string' }, once: { type: 'boolean', default: false }, 'work-dir': { type: 'string' } },
  });
  if (!values.bind) throw new Error('host agent: --bind <address> is required (the only address it listens on)');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`host agent: --port: expected 0–65535, got ${values.port}`);
  const token = values['token-file'] ? readFileSync(values['token-file'], 'utf8').trim() : process.env[TOKEN_ENV];
  if (!token) throw new Error(`host agent: no token: set ${TOKEN_ENV} or pass --token-file`);
  delete process.env[TOKEN_ENV];
  const agent = await startHostAgent({ bind: values.bind, port, token, once: values.once, workDir: values['work-dir'] });
  const bye = () => void agent.close().finally(() => process.exit(0));
  process.once('SIGTERM', bye);
  process.once('SIGINT', bye);
  process.stdout.write(JSON.stringify({ agent: { address: agent.address, port: agent.port, pid: process.pid } }) + '\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e: Error) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  });
}
