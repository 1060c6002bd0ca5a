// Finding and removing what a netns run created, by name. Plain JS so that the watchdog
// (netns-reaper.mjs) can run it without tsx; src/live/netns.ts imports it too, so there is one
// removal path for a clean teardown, a killed owner and a later sweep.
//
// Names (one run = one 8-character id; Linux interface names are limited to 15 characters):
//   namespaces   fb-<id>-h<k>
//   links        fb<id>br (bridge), fb<id>h<k> (host side of a veth), fb<id>p<k> (peer before the move)
//   nftables     table bridge fb_<id> (partitions), table inet fb_<id> (the no-forwarding guard)
//   state        /run/fleetbench-netns/<id>.json: owner pid and its start time, the subnet
//   files        <tmpdir>/fb-<id>/: what the run's processes write (host agents' bundle copies)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const STATE_DIR = '/run/fleetbench-netns';
export const RUN_ID = /^[0-9a-z]{8}$/;
const NS_NAME = /^fb-([0-9a-z]{8})-h\d+$/;
const LINK_NAME = /^fb([0-9a-z]{8})(?:br|h\d+|p\d+)$/;
const TABLE_NAME = /^fb_([0-9a-z]{8})$/;

export const names = (id) => ({
  prefix: `fb-${id}`,
  ns: (k) => `fb-${id}-h${k}`,
  bridge: `fb${id}br`,
  hostLink: (k) => `fb${id}h${k}`,
  peerLink: (k) => `fb${id}p${k}`,
  table: `fb_${id}`,
  workDir: join(tmpdir(), `fb-${id}`),
});

const run = (cmd, args, input) => execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
const quiet = (cmd, args) => {
  try {
    run(cmd, args);
    return true;
  } catch {
    return false;
  }
};
const json = (cmd, args) => {
  try {
    const out = run(cmd, args).trim();
    return out ? JSON.parse(out) : [];
  } catch {
    return [];
  }
};

/** Process start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or null if gone. */
export function startTime(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z') return null;
    return rest[19];
  } catch {
    return null;
  }
}

export function readState(id) {
  try {
    return JSON.parse(readFileSync(`${STATE_DIR}/${id}.json`, 'utf8'));
  } catch {
    return null;
  }
}

export function writeStateDir() {
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
}

/** Every run id that has a namespace, a link, a table or a state file on this machine. */
export function listRuns() {
  const ids = new Set();
  for (const n of json('ip', ['-j', 'netns', 'list'])) {
    const m = NS_NAME.exec(n.name);
    if (m) ids.add(m[1]);
  }
  for (const l of json('ip', ['-j', 'link', 'show'])) {
    const m = LINK_NAME.exec(l.ifname);
    if (m) ids.add(m[1]);
  }
  for (const t of tables()) ids.add(t.id);
  try {
    for (const f of readdirSync(STATE_DIR)) if (f.endsWith('.json') && RUN_ID.test(f.slice(0, -5))) ids.add(f.slice(0, -5));
  } catch {
    /* no state dir yet */
  }
  return [...ids].sort();
}

function tables() {
  const out = [];
  const j = json('nft', ['-j', 'list', 'tables']);
  for (const e of j.nftables ?? []) {
    if (!e.table) continue;
    const m = TABLE_NAME.exec(e.table.name);
    if (m) out.push({ family: e.table.family, name: e.table.name, id: m[1] });
  }
  return out;
}

/** Whatever of run `id` exists now: namespace names, link names, "family name" of tables. */
export function leftovers(id) {
  const n = names(id);
  return {
    namespaces: json('ip', ['-j', 'netns', 'list']).map((x) => x.name).filter((x) => x.startsWith(`${n.prefix}-`)),
    links: json('ip', ['-j', 'link', 'show']).map((x) => x.ifname).filter((x) => LINK_NAME.exec(x)?.[1] === id),
    tables: tables().filter((t) => t.id === id).map((t) => `${t.family} ${t.name}`),
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Removes everything of run `id`: SIGKILLs every process inside its namespaces (a namespace
 * with processes in it outlives `ip netns del`), deletes the namespaces (their veth ends and
 * qdiscs go with them), the bridge and any stray link, both nftables tables, the run's work
 * directory and the state file.
 */
export async function removeRun(id) {
  if (!RUN_ID.test(id)) throw new Error(`netns: not a run id: ${id}`);
  const n = names(id);
  const left = leftovers(id);
  const pids = [];
  for (const ns of left.namespaces) {
    try {
      for (const p of run('ip', ['netns', 'pids', ns]).split(/\s+/)) if (/^\d+$/.test(p)) pids.push(Number(p));
    } catch {
      /* namespace already gone */
    }
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (let i = 0; i < 100 && pids.some((p) => startTime(p) !== null); i++) await sleep(20);
  for (const ns of left.namespaces) quiet('ip', ['netns', 'del', ns]);
  for (const l of leftovers(id).links) quiet('ip', ['link', 'del', l]);
  quiet('ip', ['link', 'del', n.bridge]);
  for (const t of leftovers(id).tables) quiet('nft', ['delete', 'table', ...t.split(' ')]);
  rmSync(n.workDir, { recursive: true, force: true });
  try {
    for (const f of readdirSync(STATE_DIR)) {
      if (!f.startsWith('subnet-')) continue;
      try {
        if (readFileSync(join(STATE_DIR, f), 'utf8') === id) rmSync(join(STATE_DIR, f), { force: true });
      } catch {
        /* gone meanwhile */
      }
    }
  } catch {
    /* no state dir */
  }
  rmSync(`${STATE_DIR}/${id}.json`, { force: true });
  return leftovers(id);
}

/** Runs whose owner (pid and start time in the state file) is gone, or that have no state file. */
export function orphanedRuns() {
  return listRuns().filter((id) => {
    const s = readState(id);
    return !s || startTime(s.pid) !== s.startTime;
  });
}
