/**
 * File I/O every command shares: versioned JSON documents read with one clear error line, and
 * writes that never leave a half-written or truncated file (temp file, then rename).
 */
import { accessSync, constants, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { z } from 'zod';
import { UsageError } from '../errors.ts';
import { describeIssue } from '../harness/scenario.ts';

/** Writes `text` to `path` atomically; creates the directory. */
export function writeFileAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text);
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

export function writeJsonAtomic(path: string, data: unknown): void {
  writeFileAtomic(path, JSON.stringify(data, null, 2) + '\n');
}

/** Fails before any work starts if `path` could not be written. */
export function checkWritable(path: string, field = '--out'): void {
  try {
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw new Error('it is a directory');
    mkdirSync(dirname(path), { recursive: true });
    accessSync(dirname(path), constants.W_OK);
  } catch (e) {
    throw new UsageError(`${field}: cannot write ${path} (${(e as Error).message}); give a file path in a writable directory`);
  }
}

export function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`${path}: not a readable JSON file (${(e as Error).message})`);
  }
}

/** Validates a document already read from `path` against `schema`. */
export function parseDocument<S extends z.ZodType>(path: string, data: unknown, schema: S): z.infer<S> {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new UsageError(`${path}: ${describeIssue(parsed.error)}`);
  return parsed.data;
}

/** Reads a versioned document: its `schema` field must be `name`, then the whole must validate. */
export function readVersioned<S extends z.ZodType>(path: string, name: string, schema: S): z.infer<S> {
  const data = readJson(path);
  const found = (data as { schema?: unknown } | null)?.schema;
  if (found !== name) throw new UsageError(`${path}: schema is ${JSON.stringify(found)}, expected "${name}"`);
  return parseDocument(path, data, schema);
}
