/**
 * A typed client for the Serf agent's RPC protocol (hashicorp/serf docs/agent/rpc.html.markdown,
 * client/rpc_client.go, cmd/serf/command/agent/ipc.go): msgpack objects over one TCP connection.
 *
 * Framing, as the agent implements it:
 * - every request is a header `{Command, Seq}`, followed by a body for commands that take one;
 * - every response is a header `{Seq, Error}`, followed by a body only for commands that return
 *   one (join, members, stats) — and never when the agent refused the request before dispatch
 *   (handshake required, auth required, unsupported command);
 * - a `stream` is acknowledged by one bare header; after that every event arrives as a header
 *   with the stream's Seq followed by an event record, interleaved with other responses.
 * Seq numbers are never reused on a connection. `handshake {Version: 1}` must come first.
 */
import { connect, type Socket } from 'node:net';
import { decodeMultiStream, encode } from '@msgpack/msgpack';

/** Errors the agent sends before dispatching a command: no body follows them. */
const NO_BODY_ERRORS = new Set(['Handshake required', 'Authentication required', 'Unsupported command']);

export type MemberStatus = 'alive' | 'leaving' | 'left' | 'failed' | 'none';

export interface SerfMember {
  Name: string;
  /** the IP as 4 or 16 bytes (net.IP) */
  Addr: Uint8Array;
  Port: number;
  Tags: Record<string, string>;
  Status: MemberStatus | string;
  ProtocolMin: number;
  ProtocolMax: number;
  ProtocolCur: number;
  DelegateMin: number;
  DelegateMax: number;
  DelegateCur: number;
}

export type MemberEventName = 'member-join' | 'member-leave' | 'member-failed' | 'member-update' | 'member-reap';

export interface MemberEvent {
  Event: MemberEventName;
  Members: SerfMember[];
}

export interface UserEvent {
  Event: 'user';
  LTime: number;
  Name: string;
  Payload: Uint8Array;
  Coalesce: boolean;
}

export type StreamEvent = MemberEvent | UserEvent;

interface ResponseHeader {
  Seq: number;
  Error: string;
}

interface Pending {
  hasBody: boolean;
  resolve: (body: unknown) => void;
  reject: (e: Error) => void;
}

interface StreamHandle {
  acked: boolean;
  ack: Pending;
  onRecord: (record: unknown) => void;
}

export class SerfRpcError extends Error {}

/** "a.b.c.d" for an IPv4 or v4-mapped address; hex groups otherwise. */
export function formatAddr(addr: Uint8Array | string): string {
  const b = typeof addr === 'string' ? Uint8Array.from(addr, (c) => c.charCodeAt(0)) : addr;
  const v4 = b.length === 4 ? b : b.length === 16 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff ? b.slice(12) : null;
  if (v4) return [...v4].join('.');
  const groups: string[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
  return groups.join(':');
}

export class SerfRpcClient {
  readonly #socket: Socket;
  #seq = 0;
  readonly #pending = new Map<number, Pending>();
  readonly #streams = new Map<number, StreamHandle>();
  /** streams we stopped: a record already in flight still comes as header + body */
  readonly #stopped = new Set<number>();
  #closed: Error | null = null;
  /** resolves when the connection is gone (closed by either side) */
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.closed = this.#readLoop();
  }

  /** Connects and performs the handshake (and auth, when a key is given). */
  static async connect(host: string, port: number, opts: { authKey?: string; timeoutMs?: number } = {}): Promise<SerfRpcClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host, port });
      const timer = setTimeout(() => s.destroy(new Error(`serf rpc ${host}:${port}: connect timed out`)), opts.timeoutMs ?? 5000);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    socket.setNoDelay(true);
    const client = new SerfRpcClient(socket);
    try {
      await client.#call('handshake', { Version: 1 }, false);
      if (opts.authKey) await client.#call('auth', { AuthKey: opts.authKey }, false);
    } catch (e) {
      client.close();
      throw e;
    }
    return client;
  }

  async #readLoop(): Promise<void> {
    let bodyFor: ((body: unknown) => void) | null = null;
    try {
      for await (const obj of decodeMultiStream(this.#socket)) {
        if (bodyFor) {
          const deliver = bodyFor;
          bodyFor = null;
          deliver(obj);
          continue;
        }
        const h = obj as ResponseHeader;
        const seq = Number(h.Seq);
        const stream = this.#streams.get(seq);
        if (stream) {
          if (!stream.acked) {
            stream.acked = true;
            if (h.Error) {
              this.#streams.delete(seq);
              stream.ack.reject(new SerfRpcError(`serf rpc stream: ${h.Error}`));
            } else stream.ack.resolve(undefined);
          } else bodyFor = stream.onRecord;
          continue;
        }
        if (this.#stopped.has(seq)) {
          bodyFor = () => {};
          continue;
        }
        const p = this.#pending.get(seq);
        if (!p) continue; // a response to nothing we wait for (e.g. a stopped stream's last event)
        this.#pending.delete(seq);
        const hasBody = p.hasBody && !NO_BODY_ERRORS.has(h.Error);
        const settle = (body: unknown) => (h.Error ? p.reject(new SerfRpcError(`serf rpc: ${h.Error}`)) : p.resolve(body));
        if (hasBody) bodyFor = settle;
        else settle(undefined);
      }
      this.#closed = new SerfRpcError('serf rpc: connection closed by the agent');
    } catch (e) {
      this.#closed = e as Error;
    }
    for (const p of this.#pending.values()) p.reject(this.#closed);
    for (const s of this.#streams.values()) if (!s.acked) s.ack.reject(this.#closed);
    this.#pending.clear();
    this.#streams.clear();
  }

  #send(command: string, body: unknown): number {
    if (this.#closed) throw this.#closed;
    const seq = this.#seq++;
    const header = encode({ Command: command, Seq: seq });
    this.#socket.write(body === undefined ? header : Buffer.concat([header, encode(body)]));
    return seq;
  }

  #call(command: string, body: unknown, hasBody: boolean): Promise<unknown> {
    return new Promise((resolve, reject) => {
      try {
        const seq = this.#send(command, body);
        this.#pending.set(seq, { hasBody, resolve, reject });
      } catch (e) {
        reject(e as Error);
      }
    });
  }

  async members(): Promise<SerfMember[]> {
    const r = (await this.#call('members', undefined, true)) as { Members: SerfMember[] | null };
    return r.Members ?? [];
  }

  /** Joins the agents at `existing` ("host:port"); returns how many were contacted. */
  async join(existing: string[], replay = false): Promise<number> {
    const r = (await this.#call('join', { Existing: existing, Replay: replay }, true)) as { Num: number };
    return r.Num;
  }

  /** Fires a user event: gossiped to every member, delivered to each agent's streams. */
  async userEvent(name: string, payload: Uint8Array, coalesce = false): Promise<void> {
    await this.#call('event', { Name: name, Payload: payload, Coalesce: coalesce }, false);
  }

  async setTags(tags: Record<string, string>, deleteTags: string[] = []): Promise<void> {
    await this.#call('tags', { Tags: tags, DeleteTags: deleteTags }, false);
  }

  async stats(): Promise<Record<string, Record<string, string>>> {
    return (await this.#call('stats', undefined, true)) as Record<string, Record<string, string>>;
  }

  /** Graceful leave: the agent broadcasts its intent, leaves and shuts down. */
  async leave(): Promise<void> {
    await this.#call('leave', undefined, false);
  }

  /**
   * Subscribes to events matching `type` ("*", "member-join,member-failed", "user:shard"…, the
   * event-handler filter syntax). Resolves with the stream's Seq once the agent has accepted it.
   */
  stream(type: string, onEvent: (e: StreamEvent) => void): Promise<number> {
    return this.#subscribe('stream', { Type: type }, onEvent as (r: unknown) => void);
  }

  /**
   * Subscribes to the agent's log at `level` and above. Unlike member events, log lines are not
   * coalesced by the agent: serf logs "EventMemberFailed: name addr" the moment memberlist
   * declares a member dead, while the member-failed event waits 1–3 s in the agent's coalescer.
   */
  monitor(level: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERR', onLog: (line: string) => void): Promise<number> {
    return this.#subscribe('monitor', { LogLevel: level }, (r) => onLog(String((r as { Log: unknown }).Log)));
  }

  #subscribe(command: string, body: unknown, onRecord: (r: unknown) => void): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      try {
        const s = this.#send(command, body);
        this.#streams.set(s, { acked: false, ack: { hasBody: false, resolve: () => resolve(s), reject }, onRecord });
      } catch (e) {
        reject(e as Error);
      }
    });
  }

  /** Stops a stream or monitor. */
  async stop(seq: number): Promise<void> {
    this.#streams.delete(seq);
    this.#stopped.add(seq);
    await this.#call('stop', { Stop: seq }, false);
  }

  close(): void {
    this.#socket.destroy();
  }
}
