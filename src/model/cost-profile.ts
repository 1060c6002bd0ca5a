/**
 * A cost profile (`fleetbench/costs@1`): modelled costs measured on a machine, loaded with
 * `--costs FILE` (a file `fleetbench calibrate` writes) or `--costs NAME` (a profile shipped in
 * src/model/profiles/), so simulated fleets use measured figures instead of the defaults.
 *
 * Each cost is a number, or `{ value, unit?, source }` to say where the figure comes from (the
 * command and date that measured it, or "assumption: …"); shipped profiles always give a source.
 * Cost names are those of src/model/defaults.ts COSTS (cpuUsPerWakeup among them: the simulator
 * charges it per thread wakeup), plus PROFILE_ONLY_COSTS: costs the simulator does not charge yet
 * (thread spawn, timer callbacks, bytes). The loader keeps those apart (`unmodelled`), so `costs`
 * holds only what the simulator reads. An optional `network` section carries measured network
 * figures (loopback latency), reported but not applied by --costs.
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { UsageError } from '../errors.ts';
import { MAX_SMALL_DOCUMENT_BYTES, parseJsonText, readTextCapped } from '../results/files.ts';
import { COSTS, NETWORK, type CostName, type Costs, type NetworkName } from './defaults.ts';

export const COST_PROFILE_SCHEMA = 'fleetbench/costs@1';
export const PROFILE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), 'profiles');

/** Costs a profile may carry that the simulator does not charge yet (no default exists for them). */
export const PROFILE_ONLY_COSTS = {
  threadSpawnUs: { unit: 'µs', meaning: 'wall time from a thread-create call until the new thread has run' },
  cpuUsPerTimer: { unit: 'µs', meaning: "process CPU per main-loop timer callback, one timer per wakeup (the simulator charges a main-loop timer nothing)" },
  cpuUsPerByte: { unit: 'µs/byte', meaning: 'CPU per message byte on top of cpuUsPerMessage, mean of sender and receiver (the simulator charges messages by count only)' },
} as const;
export type ProfileOnlyCostName = keyof typeof PROFILE_ONLY_COSTS;
export type ProfileCostName = CostName | ProfileOnlyCostName;

/**
 * Network figures a profile may carry (`fleetbench calibrate` measures loopback's one-way latency),
 * so a simulated run can be set to the machine a live run ran on (`--set network.X=…`).
 */
export const PROFILE_NETWORK = ['latencyMinMs', 'latencyMeanMs'] as const satisfies readonly NetworkName[];
export type ProfileNetworkName = (typeof PROFILE_NETWORK)[number];

const UNITS: Record<ProfileCostName, string> = {
  ...(Object.fromEntries(Object.entries(COSTS).map(([k, v]) => [k, v.unit])) as Record<CostName, string>),
  ...(Object.fromEntries(Object.entries(PROFILE_ONLY_COSTS).map(([k, v]) => [k, v.unit])) as Record<ProfileOnlyCostName, string>),
};

const amount = z.number().finite().nonnegative();
function costEntry(name: ProfileCostName | ProfileNetworkName, unit = UNITS[name as ProfileCostName]) {
  const sourced = z
    .object({
      value: amount,
      unit: z.literal(unit, { error: `expected "${unit}" (the unit of ${name})` }).optional(),
      source: z.string().min(1, 'name the command and date that measured it, or "assumption: …"'),
    })
    .strict();
  return z.union([amount, sourced], { error: 'expected a number ≥ 0 or { value, unit?, source }' });
}

/** A key of a free-form record: not a name Object.prototype already has (`constructor`, `__proto__`…). */
const ownKey = z
  .string()
  .min(1)
  .max(200)
  .refine((k) => k !== '__proto__' && !(k in Object.prototype), 'a name Object.prototype already has is not allowed here');

export const CostProfileSchema = z
  .object({
    schema: z.literal(COST_PROFILE_SCHEMA),
    /** what the profile models, for `--costs NAME` listings and result readers */
    description: z.string().optional(),
    measuredOn: z.record(ownKey, z.union([z.string().max(10_000), z.number()])).optional(),
    costs: z.object(Object.fromEntries(Object.keys(UNITS).map((k) => [k, costEntry(k as ProfileCostName)])) as Record<ProfileCostName, ReturnType<typeof costEntry>>).partial().strict(),
    /** measured network figures (network.* names), applied with `--set network.X=…` */
    network: z.object(Object.fromEntries(PROFILE_NETWORK.map((k) => [k, costEntry(k, NETWORK[k].unit)])) as Record<ProfileNetworkName, ReturnType<typeof costEntry>>).partial().strict().optional(),
    /** free-form notes `fleetbench calibrate` writes (per-transport breakdowns, methods) */
    details: z.record(ownKey, z.union([z.string().max(10_000), z.number(), z.boolean(), z.null()])).optional(),
  })
  .strict();
export type CostProfileFile = z.infer<typeof CostProfileSchema>;

export interface CostProfile {
  schema: typeof COST_PROFILE_SCHEMA;
  /** the shipped profile's name, or the path it was read from */
  origin: string;
  description?: string;
  measuredOn?: Record<string, string | number>;
  /** the costs the simulator charges, as plain numbers (merge over the defaults) */
  costs: Partial<Costs>;
  /** costs the profile carries that the simulator does not charge yet */
  unmodelled: Partial<Record<ProfileOnlyCostName, number>>;
  /** where each cost comes from, for the costs that say */
  sources: Partial<Record<ProfileCostName, string>>;
  /** measured network figures, with where each comes from; not applied to runs by --costs */
  network: Partial<Record<ProfileNetworkName, { value: number; source: string | null }>>;
  details?: Record<string, string | number | boolean | null>;
}

/** A failed union (number or sourced entry) reports the branch the input was shaped like, not just "invalid". */
function innermost(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union') return issue;
  const shaped = issue.errors.find((b) => b.length > 0 && !(b[0].code === 'invalid_type' && b[0].path.length === 0));
  return shaped ? innermost({ ...shaped[0], path: [...issue.path, ...shaped[0].path] } as z.core.$ZodIssue) : issue;
}

/** Names of the profiles shipped in src/model/profiles/, sorted. */
export function costProfileNames(): string[] {
  return readdirSync(PROFILE_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => basename(f, '.json'))
    .sort();
}

/**
 * Loads `--costs NAME|FILE`: a shipped profile's name, else a path. A bare word (no `/`, no `.`)
 * that is neither a shipped profile nor an existing file is refused with the known names.
 */
export function loadCostProfile(nameOrPath: string): CostProfile {
  const names = costProfileNames();
  let path: string;
  if (names.includes(nameOrPath)) path = resolve(PROFILE_DIR, `${nameOrPath}.json`);
  else if (/^[\w-]+$/.test(nameOrPath) && !existsSync(nameOrPath)) {
    throw new UsageError(`--costs: unknown cost profile "${nameOrPath}"; known: ${names.join(', ')}, or a path to a ${COST_PROFILE_SCHEMA} file`);
  } else path = nameOrPath;

  const label = `--costs ${nameOrPath}`;
  const data = parseJsonText(readTextCapped(path, MAX_SMALL_DOCUMENT_BYTES, label), label);
  const parsed = CostProfileSchema.safeParse(data);
  if (!parsed.success) {
    const i = innermost(parsed.error.issues[0]);
    const where = i.path.map(String).join('.') || '(root)';
    const known =
      i.path.length === 0
        ? Object.keys(CostProfileSchema.shape)
        : i.path.length === 1 && i.path[0] === 'costs'
          ? Object.keys(UNITS)
          : i.path.length === 1 && i.path[0] === 'network'
            ? [...PROFILE_NETWORK]
            : i.path[0] === 'costs' || i.path[0] === 'network'
              ? ['value', 'unit', 'source']
              : null;
    const keys = i.code === 'unrecognized_keys' && known ? `; known: ${known.join(', ')}` : '';
    throw new UsageError(`--costs ${nameOrPath}: ${where}: ${i.message}${keys}`);
  }
  const f = parsed.data;
  const profile: CostProfile = {
    schema: f.schema,
    origin: nameOrPath,
    ...(f.description === undefined ? {} : { description: f.description }),
    ...(f.measuredOn === undefined ? {} : { measuredOn: f.measuredOn }),
    costs: {},
    unmodelled: {},
    sources: {},
    network: {},
    ...(f.details === undefined ? {} : { details: f.details }),
  };
  for (const [k, entry] of Object.entries(f.costs) as Array<[ProfileCostName, number | { value: number; source: string } | undefined]>) {
    if (entry === undefined) continue;
    const value = typeof entry === 'number' ? entry : entry.value;
    if (k in PROFILE_ONLY_COSTS) profile.unmodelled[k as ProfileOnlyCostName] = value;
    else profile.costs[k as CostName] = value;
    if (typeof entry !== 'number') profile.sources[k] = entry.source;
  }
  for (const [k, entry] of Object.entries(f.network ?? {}) as Array<[ProfileNetworkName, number | { value: number; source: string } | undefined]>) {
    if (entry === undefined) continue;
    profile.network[k] = typeof entry === 'number' ? { value: entry, source: null } : { value: entry.value, source: entry.source };
  }
  return profile;
}
