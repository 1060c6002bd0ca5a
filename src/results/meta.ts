/** What a result records about where and with what it was produced. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Result } from './schema.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function machineInfo(): Result['machine'] {
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    memBytes: os.totalmem(),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
  };
}

let tool: Result['tool'] | undefined;
export function toolInfo(): Result['tool'] {
  if (tool) return tool;
  const version = (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  let gitCommit: string | null = null;
  try {
    gitCommit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() || null;
  } catch {
    gitCommit = null; // not a checkout, or no commit yet
  }
  return (tool = { version, gitCommit });
}
