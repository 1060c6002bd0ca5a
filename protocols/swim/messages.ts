/**
 * SWIM messages and their one binary encoding (little-endian, src/contract/wire.ts).
 *
 * Every datagram (ping, ack, ping-req, nack, gossip) carries piggybacked updates, as memberlist
 * appends broadcasts to every UDP packet it sends (net.go sendMsg → getBroadcasts). Push-pull is
 * the full-state exchange (memberlist does it over TCP; here it is a best-effort send).
 *
 * Updates are flat quads (kind, a, b, c) in one number array, so a message holds one array
 * rather than one object per update:
 *   ALIVE / DEAD / LEFT   a = member, b = incarnation          wire: kind u8, a u32, b u32
 *   SUSPECT               a = member, b = incarnation, c = from wire: kind u8, a u32, b u32, c u32
 *   SHARD                 a = shard, b = cluster, c = version  wire: kind u8, a u32, b u16, c u32
 */
import type { Codec } from '../../src/contract/protocol.ts';
import { WireReader, WireWriter, WireError } from '../../src/contract/wire.ts';

export const PING = 1;
export const ACK = 2;
export const PING_REQ = 3;
export const NACK = 4;
export const GOSSIP = 5;
export const PUSH_PULL = 6;

export const U_ALIVE = 1;
export const U_SUSPECT = 2;
export const U_DEAD = 3;
export const U_LEFT = 4;
export const U_SHARD = 5;

/** Flat quads: kind, a, b, c. */
export type Updates = readonly number[];
export const NO_UPDATES: Updates = Object.freeze([]) as Updates;
/** memberlist compound messages count their parts in one byte. */
export const MAX_UPDATES_PER_MESSAGE = 255;

export type SwimMsg =
  | { readonly t: typeof PING; readonly seq: number; readonly target: number; readonly u: Updates }
  | { readonly t: typeof ACK | typeof NACK; readonly seq: number; readonly u: Updates }
  | { readonly t: typeof PING_REQ; readonly seq: number; readonly target: number; readonly nack: boolean; readonly u: Updates }
  | { readonly t: typeof GOSSIP; readonly u: Updates }
  | {
      readonly t: typeof PUSH_PULL;
      readonly reply: boolean;
      readonly join: boolean;
      /** triples: member, incarnation, state (ALIVE/SUSPECT/DEAD/LEFT as the U_* kinds) */
      readonly members: Uint32Array;
      /** triples: shard, cluster, version */
      readonly shards: Uint32Array;
    };

/** Bytes one update takes on the wire, by kind. */
export function updateBytes(kind: number): number {
  return kind === U_SUSPECT ? 13 : kind === U_SHARD ? 11 : 9;
}

/** Header bytes before the piggybacked updates (including the u8 update count). */
export function headerBytes(t: number): number {
  switch (t) {
    case PING:
      return 1 + 4 + 4 + 1;
    case PING_REQ:
      return 1 + 4 + 4 + 1 + 1;
    case ACK:
    case NACK:
      return 1 + 4 + 1;
    case GOSSIP:
      return 1 + 1;
    default:
      return 0;
  }
}

function updatesBytes(u: Updates): number {
  let n = 0;
  for (let i = 0; i < u.length; i += 4) n += updateBytes(u[i]);
  return n;
}

const PUSH_PULL_HEADER = 1 + 1 + 4 + 4;
const MEMBER_BYTES = 9;
const SHARD_BYTES = 10;

function byteLength(m: SwimMsg): number {
  if (m.t === PUSH_PULL) return PUSH_PULL_HEADER + (m.members.length / 3) * MEMBER_BYTES + (m.shards.length / 3) * SHARD_BYTES;
  return headerBytes(m.t) + updatesBytes(m.u);
}

function writeUpdates(w: WireWriter, u: Updates): void {
  w.u8(u.length / 4);
  for (let i = 0; i < u.length; i += 4) {
    const kind = u[i];
    w.u8(kind).u32(u[i + 1]);
    if (kind === U_SHARD) w.u16(u[i + 2]).u32(u[i + 3]);
    else {
      w.u32(u[i + 2]);
      if (kind === U_SUSPECT) w.u32(u[i + 3]);
    }
  }
}

function readUpdates(r: WireReader): Updates {
  const n = r.u8();
  if (n === 0) return NO_UPDATES;
  const u: number[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r.u8();
    if (kind < U_ALIVE || kind > U_SHARD) throw new WireError(`swim: unknown update kind ${kind}`);
    const a = r.u32();
    if (kind === U_SHARD) u.push(kind, a, r.u16(), r.u32());
    else {
      const b = r.u32();
      u.push(kind, a, b, kind === U_SUSPECT ? r.u32() : 0);
    }
  }
  return u;
}

export const swimCodec: Codec<SwimMsg> = {
  byteLength,
  encode(m) {
    const w = new WireWriter(byteLength(m)).u8(m.t);
    switch (m.t) {
      case PING:
        w.u32(m.seq).u32(m.target);
        break;
      case PING_REQ:
        w.u32(m.seq).u32(m.target).u8(m.nack ? 1 : 0);
        break;
      case ACK:
      case NACK:
        w.u32(m.seq);
        break;
      case GOSSIP:
        break;
      case PUSH_PULL: {
        w.u8((m.reply ? 1 : 0) | (m.join ? 2 : 0)).u32(m.members.length / 3).u32(m.shards.length / 3);
        const ms = m.members, ss = m.shards;
        for (let i = 0; i < ms.length; i += 3) w.u32(ms[i]).u32(ms[i + 1]).u8(ms[i + 2]);
        for (let i = 0; i < ss.length; i += 3) w.u32(ss[i]).u16(ss[i + 1]).u32(ss[i + 2]);
        return w.finish();
      }
    }
    writeUpdates(w, m.u);
    return w.finish();
  },
  decode(bytes) {
    const r = new WireReader(bytes);
    const t = r.u8();
    switch (t) {
      case PING: {
        const seq = r.u32(), target = r.u32();
        return { t, seq, target, u: readUpdates(r) };
      }
      case PING_REQ: {
        const seq = r.u32(), target = r.u32(), nack = r.u8() === 1;
        return { t, seq, target, nack, u: readUpdates(r) };
      }
      case ACK:
      case NACK: {
        const seq = r.u32();
        return { t, seq, u: readUpdates(r) };
      }
      case GOSSIP:
        return { t, u: readUpdates(r) };
      case PUSH_PULL: {
        const flags = r.u8();
        const nm = r.u32(), ns = r.u32();
        const members = new Uint32Array(nm * 3);
        for (let i = 0; i < members.length; i += 3) {
          members[i] = r.u32();
          members[i + 1] = r.u32();
          members[i + 2] = r.u8();
        }
        const shards = new Uint32Array(ns * 3);
        for (let i = 0; i < shards.length; i += 3) {
          shards[i] = r.u32();
          shards[i + 1] = r.u16();
          shards[i + 2] = r.u32();
        }
        return { t, reply: (flags & 1) !== 0, join: (flags & 2) !== 0, members, shards };
      }
      default:
        throw new WireError(`swim: unknown message type ${t}`);
    }
  },
};
