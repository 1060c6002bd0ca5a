export const STATE_DIR: string;
export const RUN_ID: RegExp;
export interface RunNames {
  prefix: string;
  ns(k: number): string;
  bridge: string;
  hostLink(k: number): string;
  peerLink(k: number): string;
  table: string;
  /** <tmpdir>/fb-<id>: files the run's processes write; removed with the run */
  workDir: string;
}
export interface RunState {
  id: string;
  pid: number;
  startTime: string;
  subnet: string | null;
  hosts: number;
}
export interface Leftovers {
  namespaces: string[];
  links: string[];
  /** "family name" */
  tables: string[];
}
export function names(id: string): RunNames;
export function startTime(pid: number): string | null;
export function readState(id: string): RunState | null;
export function writeStateDir(): void;
export function listRuns(): string[];
export function leftovers(id: string): Leftovers;
export function removeRun(id: string): Promise<Leftovers>;
export function orphanedRuns(): string[];
