// The netns run's watchdog (the pattern of reaper.mjs): a plain-JS process, detached from its
// owner's process group, that outlives it. The owner names its run id; if the owner dies
// without saying `done` (SIGKILL, crash), the IPC channel closes and the watchdog removes every
// process, namespace, link, qdisc and nftables table of that run, then exits.
import { removeRun } from './netns-sweep.mjs';

const runs = new Set();
const reap = async () => {
  for (const id of runs) await removeRun(id).catch(() => {});
};

process.on('SIGINT', () => {});
process.on('SIGTERM', () => reap().finally(() => process.exit(0)));
process.on('message', (m) => {
  if (m.k === 'run') runs.add(m.id);
  else if (m.k === 'forget') runs.delete(m.id);
  else if (m.k === 'done') process.exit(0);
});
process.on('disconnect', () => reap().finally(() => process.exit(0)));
process.send?.({ k: 'ready' });
