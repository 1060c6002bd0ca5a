/** What the operating system says about a process: /proc/<pid>/status, /proc/<pid>/fd, /proc/<pid>/stat. */
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcSample {
  rssBytes: number;
  threads: number;
  fds: number;
  /** user + system CPU time, µs */
  cpuUs: number;
}

const TICK_US = 1e6 / 100; // USER_HZ is 100 on Linux

/** null when the process is gone. */
export function sampleProc(pid: number): ProcSample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    const threads = /^Threads:\s+(\d+)/m.exec(status);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may contain spaces) start after the last ')'
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuUs = (Number(f[11]) + Number(f[12])) * TICK_US;
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    return { rssBytes: rss ? Number(rss[1]) * 1024 : 0, threads: threads ? Number(threads[1]) : 0, fds, cpuUs };
  } catch {
    return null;
  }
}

export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
