/**
 * Side by side: the outcome shape of the `partition` scenario in two result files (for example the
 * simulator and a live run on namespace hosts, `--hosts netns:4`). Reads the files only.
 * Usage: npx tsx bench/hosts-partition.ts <a.json> <b.json> …
 */
import { loadScenario } from '../src/harness/scenario.ts';
import { readResult } from '../src/results/schema.ts';

const rows: Array<Record<string, string | number>> = [];
for (const file of process.argv.slice(2)) {
  const r = readResult(file);
  const events = loadScenario(r.run.scenario).events;
  const part = events.find((e) => e.type === 'partition')?.atMs ?? 0;
  const heal = events.find((e) => e.type === 'heal')?.atMs ?? 0;
  const ts = r.timeseries;
  const during = ts.filter((s) => s.tMs > part && s.tMs <= heal);
  const after = ts.filter((s) => s.tMs > heal);
  const back = after.find((s, i) => after.slice(i).every((x) => x.viewAccuracy >= 1));
  const sum = (xs: typeof ts, k: 'misrouted' | 'requests') => xs.reduce((a, s) => a + s[k], 0);
  const c = r.summary.protocolCounters as Record<string, number>;
  rows.push({
    run: `${r.run.runtime}${r.live?.hosts ? ` (${r.live.hosts.kind}:${r.live.hosts.perHost.length})` : ''}`,
    'down declared (false positives)': r.summary.membership.falsePositives,
    'deaths (counter)': c.deaths ?? '–',
    'min view accuracy during partition': Math.min(...during.map((s) => s.viewAccuracy)).toFixed(3),
    'views exact again after heal, s': back ? ((back.tMs - heal) / 1000).toFixed(1) : 'never',
    'misroutes during partition': `${sum(during, 'misrouted')} of ${sum(during, 'requests')}`,
    'misroutes after heal': `${sum(after, 'misrouted')} of ${sum(after, 'requests')}`,
    'misroute rate (run)': `${(r.summary.requests.misrouteRate * 100).toFixed(2)}%`,
    'shard-map staleness max, s': (r.summary.shardMap.stalenessMs?.max ?? 0) / 1000,
    healthy: String(r.summary.healthy),
  });
}
const keys = Object.keys(rows[0] ?? {});
for (const k of keys) process.stdout.write(`${k.padEnd(38)} ${rows.map((r) => String(r[k]).padEnd(24)).join(' ')}\n`);
