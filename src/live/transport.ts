/**
 * The live transport seam: a WebSocket server (ws or uWebSockets.js) and a dialer (the ws client;
 * uWS has no client). Behaviour both servers share:
 * - binary frames only, no compression, loopback (127.0.0.1) only, port 0 (a fresh port per run);
 * - a frame is delivered whole, in order, per connection; a send on a closed connection is dropped;
 * - the first frame a dialer sends is a 21-byte hello (kind u8, node id u32 LE, the run's 16-byte
 *   token) naming who it is, because a server socket does not know which node dialed it; node
 *   ports accept anyone on the machine, so a hello without the run's token is refused (counted as
 *   a bad frame, the connection closed). Every later frame on a peer
 *   connection is exactly `codec.encode(msg)`, so the bytes counted are the codec's byteLength,
 *   as in the simulator; the hello is not counted as a protocol message.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import WebSocket, { WebSocketServer } from 'ws';
import { loadUwsNative } from './uws.ts';

export type TransportKind = 'ws' | 'uws';

export const HELLO_PEER = 1;
export const HELLO_LOADGEN = 2;
export const TOKEN_BYTES = 16;
export const HELLO_BYTES = 5 + TOKEN_BYTES;

/** Largest frame either side accepts (a FullState of a 1M-shard map is ~10 MB). */
export const MAX_FRAME = 64 * 1024 * 1024;
/** A send is dropped (best-effort, as the contract allows) when this much is already queued. */
export const MAX_BUFFERED = 16 * 1024 * 1024;
/** Frames queued while a dial is still connecting. */
export const MAX_QUEUED = 4096;

/** A fresh per-run token (hex), for the coordinator to hand every node and the load generator. */
export function newRunToken(): string {
  return randomBytes(TOKEN_BYTES).toString('hex');
}

/**
 * The token when the coordinator passed none: derived from what every process of one run shares
 * (the coordinator's pid, which is our parent, and the run's seed). Weaker than a random token,
 * since another local process can compute it; it keeps an older coordinator working.
 */
export function fallbackRunToken(seed: number): string {
  return createHash('sha256').update(`fleetbench-run:${process.ppid}:${seed}`).digest('hex').slice(0, TOKEN_BYTES * 2);
}

/** hex → bytes; a token of the wrong shape is a bug of the caller. */
export function tokenBytes(hex: string): Uint8Array {
  if (!/^[0-9a-f]+$/i.test(hex) || hex.length !== TOKEN_BYTES * 2) throw new Error(`run token: expected ${TOKEN_BYTES * 2} hex digits`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Probes that talk only to their own servers need no secret. */
export const NO_TOKEN = new Uint8Array(TOKEN_BYTES);

export function helloFrame(kind: number, id: number, token: Uint8Array = NO_TOKEN): Uint8Array {
  const b = new Uint8Array(HELLO_BYTES);
  b[0] = kind;
  new DataView(b.buffer).setUint32(1, id >>> 0, true);
  b.set(token.subarray(0, TOKEN_BYTES), 5);
  return b;
}

/** The hello's kind and id, or null when it is not a hello carrying `token`. */
export function parseHello(b: Uint8Array, token: Uint8Array = NO_TOKEN): { kind: number; id: number } | null {
  if (b.length !== HELLO_BYTES || token.length !== TOKEN_BYTES) return null;
  if (!timingSafeEqual(b.subarray(5), token)) return null;
  return { kind: b[0], id: new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(1, true) };
}

/** One end of a connection as the host sees it. */
export interface Conn {
  /** false when the frame was dropped (closed, or too much already buffered) */
  send(bytes: Uint8Array): boolean;
  close(): void;
  readonly isOpen: boolean;
}

export interface ConnHandler {
  message(bytes: Uint8Array): void;
  close(): void;
}

export interface TransportServer {
  readonly kind: TransportKind;
  readonly port: number;
  close(): void;
}

/** Where nodes listen and dial unless told otherwise: one machine, loopback. */
export const LOOPBACK = '127.0.0.1';

/**
 * Starts a server on `host` (loopback unless the node runs on a namespace host, which binds its
 * own address) at a fresh port; `accept` is called once per inbound connection.
 */
export async function startServer(kind: TransportKind, accept: (conn: Conn) => ConnHandler, uwsBinary?: string, host: string = LOOPBACK): Promise<TransportServer> {
  return kind === 'ws' ? startWsServer(accept, host) : startUwsServer(accept, uwsBinary, host);
}

async function startWsServer(accept: (conn: Conn) => ConnHandler, host: string): Promise<TransportServer> {
  const wss = new WebSocketServer({ host, port: 0, perMessageDeflate: false, maxPayload: MAX_FRAME, clientTracking: false });
  await new Promise<void>((res, rej) => {
    wss.once('listening', res);
    wss.once('error', rej);
  });
  wss.on('connection', (ws) => {
    let open = true;
    const conn: Conn = {
      send(bytes) {
        if (!open || ws.readyState !== WebSocket.OPEN || ws.bufferedAmount > MAX_BUFFERED) return false;
        ws.send(bytes, { binary: true });
        return true;
      },
      close() {
        if (open) ws.close();
      },
      get isOpen() {
        return open;
      },
    };
    const h = accept(conn);
    ws.on('message', (data: Buffer) => h.message(data));
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      open = false;
      h.close();
    });
  });
  const port = (wss.address() as { port: number }).port;
  return { kind: 'ws', port, close: () => wss.close() };
}

async function startUwsServer(accept: (conn: Conn) => ConnHandler, uwsBinary: string | undefined, host: string): Promise<TransportServer> {
  if (!uwsBinary) throw new Error('startServer(uws): the native binary path is required');
  const uws = loadUwsNative(uwsBinary);
  interface UD {
    h?: ConnHandler;
    conn?: { open: boolean };
  }
  const app = uws.App().ws<UD>('/*', {
    compression: uws.DISABLED,
    maxPayloadLength: MAX_FRAME,
    maxBackpressure: MAX_BUFFERED,
    idleTimeout: 0,
    sendPingsAutomatically: false,
    open(ws) {
      const state = { open: true };
      const conn: Conn = {
        send(bytes) {
          if (!state.open) return false;
          // 1 sent, 0 queued (backpressure, drains later), 2 dropped at maxBackpressure
          return ws.send(bytes, true, false) !== 2;
        },
        close() {
          if (state.open) ws.end(1000);
        },
        get isOpen() {
          return state.open;
        },
      };
      const ud = ws.getUserData();
      ud.conn = state;
      ud.h = accept(conn);
    },
    message(ws, message) {
      // the ArrayBuffer is only valid during this callback: copy it
      ws.getUserData().h?.message(new Uint8Array(message.slice(0)));
    },
    close(ws) {
      const ud = ws.getUserData();
      if (ud.conn) ud.conn.open = false;
      ud.h?.close();
    },
  });
  const token = await new Promise<unknown>((res, rej) => {
    app.listen(host, 0, (t) => (t ? res(t) : rej(new Error(`uWS: listen on ${host}:0 failed`))));
  });
  const port = uws.us_socket_local_port(token as never);
  return {
    kind: 'uws',
    port,
    close: () => {
      uws.us_listen_socket_close(token as never);
    },
  };
}

/** A dialed connection: frames sent before it opens are queued (bounded) and flushed on open. */
export class Link implements Conn {
  #ws: WebSocket;
  #queue: Uint8Array[] | null = [];
  #open = false;
  #closed = false;
  #notified = false;

  constructor(port: number, hello: Uint8Array, h: ConnHandler, host: string = LOOPBACK) {
    const ws = new WebSocket(`ws://${host}:${port}/`, { perMessageDeflate: false, maxPayload: MAX_FRAME });
    this.#ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('open', () => {
      if (this.#closed) return;
      this.#open = true;
      ws.send(hello, { binary: true });
      for (const b of this.#queue!) ws.send(b, { binary: true });
      this.#queue = null;
    });
    ws.on('message', (data: Buffer) => h.message(data));
    // ECONNREFUSED (the peer is gone), ECONNRESET (it crashed): the close handler follows
    ws.on('error', () => {});
    // h.close() runs exactly once, whoever closed the connection
    ws.on('close', () => {
      this.#closed = true;
      this.#open = false;
      this.#queue = null;
      if (!this.#notified) {
        this.#notified = true;
        h.close();
      }
    });
  }

  get isOpen(): boolean {
    return !this.#closed;
  }

  /** true while connecting or open */
  get alive(): boolean {
    return !this.#closed;
  }

  send(bytes: Uint8Array): boolean {
    if (this.#closed) return false;
    if (!this.#open) {
      if (this.#queue!.length >= MAX_QUEUED) return false;
      this.#queue!.push(bytes);
      return true;
    }
    if (this.#ws.bufferedAmount > MAX_BUFFERED) return false;
    this.#ws.send(bytes, { binary: true });
    return true;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = null;
    this.#ws.terminate();
  }
}
