/**
 * The host agent's wire: length-prefixed frames over one TCP connection (4-byte big-endian
 * length, then the payload). The first frame from the coordinator is the run token as raw bytes;
 * nothing is deserialized before it matches. After that every frame is `v8.serialize`d — the
 * structured clone that Node's 'advanced' IPC uses — so a node's IPC messages (Int32Array and
 * Uint32Array in boot messages, Maps, nested arrays) cross the agent exactly as they are.
 */
import { serialize, deserialize } from 'node:v8';
import type { Socket } from 'node:net';
import type { ProcSample } from './procfs.ts';

/** frames before authentication: the token, nothing more */
export const MAX_HELLO_BYTES = 1024;
/** frames after: a shipped bundle is a few MB; this bounds a misbehaving peer */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;
export const AGENT_PROTOCOL = 1;

export interface AgentHostInfo {
  protocol: number;
  hostname: string;
  /** the address the agent is bound to */
  address: string;
  cpus: number;
  memBytes: number;
  /** what the kernel says is available now (os.freemem: MemAvailable on Linux) */
  availableBytes: number;
  pid: number;
  node: string;
}

/** coordinator → agent */
export type ToAgent =
  /** the run's bundle (bundle.ts output: file name → contents); the agent keeps it in a temp dir */
  | { k: 'bundle'; files: Array<[string, Uint8Array]> }
  /** fork `entry` of the shipped bundle with an IPC channel ('advanced' serialization) */
  | { k: 'fork'; id: number; entry: string }
  | { k: 'send'; id: number; msg: unknown }
  | { k: 'kill'; id: number; signal: NodeJS.Signals }
  /** read /proc on the agent's host for these nodes (memory, threads, fds, CPU are the OS's, wherever the node runs) */
  | { k: 'sample'; seq: number; ids: number[] };

/** agent → coordinator */
export type FromAgent =
  | { k: 'welcome'; host: AgentHostInfo }
  | { k: 'refused'; reason: string }
  | { k: 'bundled'; dir: string }
  | { k: 'forked'; id: number; pid: number }
  | { k: 'forkFailed'; id: number; error: string }
  | { k: 'msg'; id: number; msg: unknown }
  | { k: 'stderr'; id: number; data: string }
  | { k: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null }
  | { k: 'error'; error: string }
  /** per requested node: its /proc sample, or null when it is gone */
  | { k: 'samples'; seq: number; entries: Array<[number, ProcSample | null]> };

export function frame(payload: Uint8Array): Buffer {
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(payload.byteLength, 0);
  return Buffer.concat([head, payload]);
}

export const encode = (m: ToAgent | FromAgent): Buffer => frame(serialize(m));
export const decode = <T>(b: Buffer): T => deserialize(b) as T;

/**
 * Calls `onFrame` with each complete frame's payload. `limit()` is read per frame, so the
 * bound can widen after authentication; a frame over it destroys the socket.
 */
export function readFrames(sock: Socket, limit: () => number, onFrame: (payload: Buffer) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  sock.on('data', (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    while (buf.length >= 4) {
      const len = buf.readUInt32BE(0);
      if (len > limit()) {
        sock.destroy(new Error(`agent wire: frame of ${len} bytes exceeds the ${limit()}-byte limit`));
        return;
      }
      if (buf.length < 4 + len) break;
      const payload = buf.subarray(4, 4 + len);
      buf = buf.subarray(4 + len);
      onFrame(payload);
      if (sock.destroyed) return;
    }
  });
}
