// The live run's watchdog: a plain-JS process, detached from the coordinator's process group,
// that outlives it. The coordinator tells it every child pid, cgroup (pids, cpu and memory
// directories, the run's and each node's) and temp dir it creates;
// if the coordinator dies without saying `done` (SIGKILL, crash), the IPC channel closes and
// the reaper SIGKILLs every child still listed (paused ones too: SIGKILL ends a stopped
// process), waits for them to go, removes the cgroups and the temp dir, and exits.
import { readFileSync, rmdirSync, rmSync } from 'node:fs';

const pids = new Set();
const cgroups = [];
const dirs = [];

const alive = (pid) => {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s[s.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function reap() {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (let i = 0; i < 100 && [...pids].some(alive); i++) await sleep(50);
  // deepest first: node cgroups before the run's, in every hierarchy (pids, cpu, memory)
  const depth = (p) => p.split('/').length;
  for (const dir of cgroups.sort((a, b) => depth(b) - depth(a))) {
    for (let i = 0; i < 40; i++) {
      try {
        rmdirSync(dir);
        break;
      } catch (e) {
        if (e.code === 'ENOENT') break;
        await sleep(50);
      }
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

process.on('SIGINT', () => {});
process.on('SIGTERM', () => reap().finally(() => process.exit(0)));
process.on('message', (m) => {
  switch (m.k) {
    case 'pid':
      pids.add(m.pid);
      return;
    case 'gone':
      pids.delete(m.pid);
      return;
    case 'cgroup':
      cgroups.push(m.path);
      return;
    case 'dir':
      dirs.push(m.path);
      return;
    case 'done':
      process.exit(0);
  }
});
process.on('disconnect', () => reap().finally(() => process.exit(0)));
process.send?.({ k: 'ready' });
