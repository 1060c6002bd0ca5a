/**
 * Reads what compare and report are given: result files, micro-benchmark files, ceiling files, or
 * directories holding them (searched recursively). Every file is validated against its schema; a
 * file with an unknown schema is an error naming the file, never silently skipped, except the
 * sweep manifest (sweep.json), which describes a directory rather than a measurement.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { RESULT_SCHEMA, readResult, type Result } from '../results/schema.ts';
import { MICRO_SCHEMA, parseMicro, type MicroResult } from './micro-schema.ts';
import { CEILING_SCHEMA, parseCeiling, type CeilingResult } from '../ceiling/schema.ts';
import { SWEEP_SCHEMA } from '../sweep/manifest.ts';
import { readJson } from '../results/files.ts';

export interface Loaded<T> {
  path: string;
  data: T;
}

export interface Inputs {
  results: Loaded<Result>[];
  micro: Loaded<MicroResult>[];
  ceilings: Loaded<CeilingResult>[];
}

function jsonFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...jsonFiles(p));
    else if (e.isFile() && e.name.endsWith('.json')) out.push(p);
  }
  return out;
}

/** Expands files and directories into the JSON files they name, in a stable order. */
export function expandPaths(paths: readonly string[], field: string): string[] {
  const files: string[] = [];
  for (const raw of paths) {
    const p = resolve(raw);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) throw new UsageError(`${field}: ${raw} does not exist; give result files or directories of them`);
    if (st.isDirectory()) files.push(...jsonFiles(p));
    else files.push(p);
  }
  return files;
}

export function loadInputs(paths: readonly string[], field = 'input'): Inputs {
  const inputs: Inputs = { results: [], micro: [], ceilings: [] };
  for (const path of expandPaths(paths, field)) {
    const data = readJson(path);
    const schema = (data as { schema?: unknown } | null)?.schema;
    if (schema === RESULT_SCHEMA) inputs.results.push({ path, data: readResult(path) });
    else if (schema === MICRO_SCHEMA) inputs.micro.push({ path, data: parseMicro(path, data) });
    else if (schema === CEILING_SCHEMA) inputs.ceilings.push({ path, data: parseCeiling(path, data) });
    else if (schema === SWEEP_SCHEMA) continue;
    else {
      throw new UsageError(
        `${path}: schema is ${JSON.stringify(schema)}; expected one of "${RESULT_SCHEMA}", "${MICRO_SCHEMA}", "${CEILING_SCHEMA}"`,
      );
    }
  }
  return inputs;
}

export function isEmpty(i: Inputs): boolean {
  return i.results.length + i.micro.length + i.ceilings.length === 0;
}
