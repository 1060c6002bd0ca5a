/**
 * File I/O every command shares: versioned JSON documents read with a size cap and one clear
 * error line, and writes that can neither destroy what is at the path nor lose what was computed.
 *
 * - A write goes to a temporary file beside the target, then is renamed over it, and only when
 *   the target is absent or a regular file: renaming over a device, FIFO, socket or symlink would
 *   replace it (as root, `--out /dev/null` would put a regular file where the device was).
 * - `-`, `/dev/stdout` and `/dev/stderr` are written through (no temp file): there the user
 *   clearly means the stream.
 * - When the final write fails (ENOSPC, a name too long for the temp suffix, a read-only or
 *   pseudo file system), the text is kept: first a shorter temp name beside the target, then a
 *   rescue file in the OS temp directory, named in the error.
 */
import {
  accessSync,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { z } from 'zod';
import { UsageError } from '../errors.ts';
import { describeIssues } from '../harness/scenario.ts';

/** Paths that mean a standard stream, written through rather than replaced. */
const STREAMS: Record<string, number> = { '-': 1, '/dev/stdout': 1, '/dev/stderr': 2 };

/** The fd a path writes through to (`-`, `/dev/stdout`, `/dev/stderr`), or null for a file. */
export function streamFd(path: string): number | null {
  return STREAMS[path] ?? null;
}

/** `--out` as given → the path to write: streams kept as they are, files made absolute. */
export function resolveOut(path: string): string {
  return streamFd(path) === null ? resolve(path) : path;
}

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Why a write to `path` would replace something that is not a plain file, or null when it would not. */
export function unsafeTarget(path: string): string | null {
  if (streamFd(path) !== null) return null;
  let st: Stats | undefined;
  try {
    st = lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return null; // ENOTDIR, EACCES…: the write itself reports it
  }
  if (!st || st.isFile()) return null;
  return `${path}: it is ${kindOf(st)}, which writing would replace; give a regular file path (or - for standard output)`;
}

/** Longest file name most Linux file systems take, in bytes. */
const NAME_MAX = 255;

function tempBeside(path: string, tag = ''): string {
  const suffix = `${tag}.${process.pid}.tmp`;
  const base = basename(path);
  if (Buffer.byteLength(base) + suffix.length <= NAME_MAX) return `${path}${suffix}`;
  // keep the tail recognisable (…-s1.json.123.tmp) while the name fits
  return join(dirname(path), `.fleetbench${suffix}`);
}

function tryAtomic(path: string, text: string, tmp: string): void {
  try {
    writeFileSync(tmp, text, { flag: 'wx' });
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* nothing to clean */
    }
    throw e;
  }
}

/** Writes the text somewhere it survives: the OS temp directory. Returns the path, or null. */
function rescue(path: string, text: string): string | null {
  const base = basename(path).replace(/[^\w.-]/g, '_').slice(0, 100) || 'output';
  const where = join(tmpdir(), `fleetbench-rescued-${process.pid}-${Date.now().toString(36)}-${base}`);
  try {
    writeFileSync(where, text, { flag: 'wx', mode: 0o600 });
    return where;
  } catch {
    return null;
  }
}

/**
 * Writes `text` to `path` atomically (creating the directory), or through to a standard stream.
 * Never replaces a device, FIFO, socket, directory or symlink (UsageError naming it); when the
 * write fails the text is saved elsewhere and the UsageError says where.
 */
export function writeFileAtomic(path: string, text: string, field = '--out'): void {
  const fd = streamFd(path);
  if (fd !== null) {
    writeAllSync(fd, text);
    return;
  }
  const unsafe = unsafeTarget(path);
  if (unsafe) throw new UsageError(`${field}: ${unsafe}`);
  let first: Error;
  try {
    mkdirSync(dirname(path), { recursive: true });
    tryAtomic(path, text, tempBeside(path));
    return;
  } catch (e) {
    first = e as Error;
  }
  // a name whose temp suffix is too long, or a clash: one more try beside it with a short name
  try {
    tryAtomic(path, text, join(dirname(path), `.fleetbench-${process.pid}.tmp`));
    return;
  } catch {
    /* fall through to the rescue */
  }
  const saved = rescue(path, text);
  const why = (first as NodeJS.ErrnoException).code ?? first.message;
  throw new UsageError(
    saved
      ? `${field}: cannot write ${path} (${why}); the output was saved to ${saved} instead`
      : `${field}: cannot write ${path} (${why}), nor a copy in ${tmpdir()}; nothing was written`,
  );
}

function writeAllSync(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (e) {
      // a non-blocking pipe that is full: try again
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}

export function writeJsonAtomic(path: string, data: unknown, field = '--out'): void {
  writeFileAtomic(path, JSON.stringify(data, null, 2) + '\n', field);
}

/** Fails before any work starts if `path` could not be written, or a write would replace a non-file. */
export function checkWritable(path: string, field = '--out'): void {
  if (streamFd(path) !== null) return;
  const unsafe = unsafeTarget(path);
  if (unsafe) throw new UsageError(`${field}: ${unsafe}`);
  try {
    mkdirSync(dirname(path), { recursive: true });
    accessSync(dirname(path), constants.W_OK);
  } catch (e) {
    throw new UsageError(`${field}: cannot write ${path} (${(e as Error).message}); give a file path in a writable directory`);
  }
}

/** Size caps for what is read: generous for the documents, small enough to fail fast on /dev/zero. */
export const MAX_DOCUMENT_BYTES = 256 * 1024 * 1024;
export const MAX_SMALL_DOCUMENT_BYTES = 4 * 1024 * 1024;
/** how long a read waits on a pipe that has nothing to give yet */
const MAX_WAIT_MS = 30_000;

/**
 * Reads a text file of at most `maxBytes` (a device, FIFO or huge file is refused at the cap,
 * never read whole), without a UTF-8 byte-order mark.
 */
export function readTextCapped(path: string, maxBytes: number, label: string = path): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new UsageError(`${label}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new UsageError(`${label}: is a directory; give a file`);
    if (st.isFile() && st.size > maxBytes) throw new UsageError(`${label}: ${st.size} bytes is over the ${maxBytes}-byte limit for this file`);
    const chunks: Buffer[] = [];
    let total = 0;
    const chunk = Buffer.allocUnsafe(64 * 1024);
    let waited = 0;
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          // a FIFO whose writer is slow: wait briefly, as a blocking read would, but not forever
          if ((waited += 5) > MAX_WAIT_MS) throw new UsageError(`${label}: nothing more to read after ${MAX_WAIT_MS / 1000} s (a pipe whose writer stalled?)`);
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
          continue;
        }
        throw new UsageError(`${label}: cannot read (${code ?? (e as Error).message})`);
      }
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw new UsageError(`${label}: more than ${maxBytes} bytes, over the limit for this file (is it a device?)`);
      chunks.push(Buffer.from(chunk.subarray(0, n)));
    }
    const text = Buffer.concat(chunks, total).toString('utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } finally {
    closeSync(fd);
  }
}

/**
 * JSON.parse with an error that never echoes the file's bytes (V8's message quotes them):
 * "not valid JSON at line L, column C".
 */
export function parseJsonText(text: string, label: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    let where = '';
    if (m) {
      const pos = Number(m[1]);
      const before = text.slice(0, pos);
      const line = before.split('\n').length;
      where = ` at line ${line}, column ${pos - before.lastIndexOf('\n')}`;
    } else if (/end of JSON input/.test((e as Error).message)) where = ': it ends too early';
    throw new UsageError(`${label}: not valid JSON${where}`);
  }
}

export function readJson(path: string, maxBytes = MAX_DOCUMENT_BYTES): unknown {
  return parseJsonText(readTextCapped(path, maxBytes, path), path);
}

/** Validates a document already read from `path` against `schema`; every problem on its own line. */
export function parseDocument<S extends z.ZodType>(path: string, data: unknown, schema: S): z.infer<S> {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new UsageError(describeIssues(parsed.error).map((l) => `${path}: ${l}`).join('\n'));
  return parsed.data;
}

/** Reads a versioned document: its `schema` field must be `name`, then the whole must validate. */
export function readVersioned<S extends z.ZodType>(path: string, name: string, schema: S): z.infer<S> {
  const data = readJson(path);
  const found = data !== null && typeof data === 'object' && Object.hasOwn(data, 'schema') ? (data as { schema: unknown }).schema : undefined;
  if (found !== name) throw new UsageError(`${path}: schema is ${JSON.stringify(found)?.slice(0, 80)}, expected "${name}"`);
  return parseDocument(path, data, schema);
}
