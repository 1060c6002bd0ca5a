/**
 * Resolves what one run is: protocol and its parameters, scenario, fleet size, seed, duration,
 * costs, limits, network and fleet settings. Precedence: defaults < scenario < --set.
 * All validation of user input happens here, before anything runs or is written.
 */
import type { ParamSpec, ParamValues, ProtocolDefinition } from '../contract/protocol.ts';
import {
  ALARMS,
  COSTS,
  FLEET,
  defaultAlarms,
  type Alarms,
  LIMITS,
  NETWORK,
  defaultCosts,
  defaultLimits,
  defaultNetwork,
  type Costs,
  type Limits,
  type NetworkModel,
} from '../model/defaults.ts';
import { UsageError } from '../errors.ts';
import { getProtocol } from '../protocols.ts';
import { FleetSchema, LimitsSchema, NetworkSchema, loadScenario, type Scenario } from './scenario.ts';
import { z } from 'zod';
import { loadCostProfile } from '../model/cost-profile.ts';
import type { FleetSettings } from './truth.ts';

export interface RunRequest {
  /** a registered protocol's name, or a definition (tests of protocols not yet registered) */
  protocol: string | ProtocolDefinition<any>;
  scenario: string | Scenario;
  nodes?: number;
  seed?: number;
  durationMs?: number;
  /** "key=value" overrides: a protocol parameter, or limits.X, costs.X, network.X, fleet.X */
  sets?: readonly string[];
  /** a cost profile written by `fleetbench calibrate`; applied before --set */
  costsFile?: string;
}

export interface RunConfig {
  protocol: ProtocolDefinition<any>;
  params: ParamValues;
  scenario: Scenario;
  nodes: number;
  seed: number;
  durationMs: number;
  costs: Costs;
  limits: Limits;
  network: NetworkModel;
  fleet: FleetSettings;
  /** alarm thresholds (alarms.threadsPct) */
  alarms: Alarms;
  /** the cost profile file the costs came from, or null for the built-in defaults */
  costProfile: string | null;
}

export const DEFAULT_SEED = 1;

/** "60s", "500ms", "2m", "1.5h" or a bare number of milliseconds. */
export function parseDuration(text: string, field = '--duration'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${field}: "${text}" is not a duration; use e.g. 60s, 500ms, 2m`);
  const v = Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const)[(m[2] ?? 'ms') as 'ms'];
  if (!(v > 0)) throw new UsageError(`${field}: must be greater than 0`);
  return v;
}

/**
 * A --set value: true/false, a decimal number (no 0x, no Infinity), or a string. Numbers are
 * checked against their schema afterwards, so "abc" for a number is reported there.
 */
function parseValue(raw: string): number | boolean | string {
  const v = raw.trim();
  if (v === 'true') return true;
  if (v === 'false') return false;
  return /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(v) ? Number(v) : v;
}

function checkNumber(field: string, v: unknown, opts: { min?: number; max?: number; integer?: boolean }): number {
  const range = `${opts.integer ? 'an integer' : 'a number'}${opts.min !== undefined ? ` ≥ ${opts.min}` : ''}${opts.max !== undefined ? ` ≤ ${opts.max}` : ''}`;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new UsageError(`${field}: expected ${range}, got "${String(v)}"`);
  if ((opts.integer && !Number.isInteger(v)) || (opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
    throw new UsageError(`${field}: expected ${range}, got ${v}`);
  }
  return v;
}

/** The schema a protocol parameter's values must meet, from its ParamSpec. */
function paramSchema(spec: ParamSpec): z.ZodType {
  if (typeof spec.default === 'boolean') return z.boolean();
  if (typeof spec.default === 'string') return spec.choices ? z.enum(spec.choices as [string, ...string[]]) : z.string();
  let n = z.number().finite();
  if (spec.integer) n = n.int();
  if (spec.min !== undefined) n = n.min(spec.min);
  if (spec.max !== undefined) n = n.max(spec.max);
  return n;
}

const CostsSchema = z.object(Object.fromEntries(Object.keys(COSTS).map((k) => [k, z.number().finite().nonnegative()]))).partial().strict();

/** The groups `--set group.name=value` reaches, each validated by the schema its files use. */
const SET_GROUPS = {
  limits: { schema: LimitsSchema, known: Object.keys(LIMITS), what: 'limit' },
  costs: { schema: CostsSchema, known: Object.keys(COSTS), what: 'cost' },
  network: { schema: NetworkSchema, known: Object.keys(NETWORK), what: 'network setting' },
  fleet: { schema: FleetSchema, known: Object.keys(FleetSchema.shape), what: 'fleet setting' },
  alarms: { schema: z.strictObject({ threadsPct: z.number().gt(0).max(100) }).partial(), known: Object.keys(ALARMS), what: 'alarm' },
} as const;

/** One `--set key=value`, validated: the group, the name (own properties only), the value. */
function parseSet(set: string, protocol: ProtocolDefinition<any>): { group: keyof typeof SET_GROUPS | ''; name: string; value: number | boolean | string } {
  const eq = set.indexOf('=');
  if (eq <= 0) throw new UsageError(`--set: "${set}" is not key=value (e.g. --set limits.threadsPerNode=256)`);
  const key = set.slice(0, eq).trim();
  const field = `--set ${key}`;
  const m = /^(?:([A-Za-z]\w*)\.)?([A-Za-z]\w*)$/.exec(key);
  if (!m) throw new UsageError(`${field}: a key is a parameter name or group.name (limits.*, costs.*, network.*, fleet.*), nothing more`);
  const [, group = '', name] = m;
  const raw = parseValue(set.slice(eq + 1));
  if (group === '') {
    if (!Object.hasOwn(protocol.params, name)) {
      const known = Object.keys(protocol.params);
      throw new UsageError(`${field}: ${protocol.name} has no parameter "${name}"; known: ${known.join(', ') || '(none)'}, or limits.*, costs.*, network.*, fleet.*`);
    }
    const spec = protocol.params[name];
    const parsed = paramSchema(spec).safeParse(raw);
    if (!parsed.success) throw new UsageError(`${field}: ${allowed(parsed.error)}, got ${JSON.stringify(raw)}`);
    return { group, name, value: parsed.data as number | boolean | string };
  }
  if (!Object.hasOwn(SET_GROUPS, group)) throw new UsageError(`${field}: unknown group "${group}"; use a protocol parameter or limits.*, costs.*, network.*, fleet.*`);
  const g = SET_GROUPS[group as keyof typeof SET_GROUPS];
  if (!(g.known as readonly string[]).includes(name)) throw new UsageError(`${field}: unknown ${g.what}; known: ${g.known.map((k) => `${group}.${k}`).join(', ')}`);
  const parsed = (g.schema as z.ZodType).safeParse({ [name]: raw });
  if (!parsed.success) throw new UsageError(`${field}: ${allowed(parsed.error)}, got ${JSON.stringify(raw)}`);
  return { group: group as keyof typeof SET_GROUPS, name, value: (parsed.data as Record<string, number | string>)[name] };
}

/** What the schema allows, from its first complaint (the field is named by the caller). */
function allowed(err: z.ZodError): string {
  return err.issues[0]?.message ?? 'not allowed';
}

export function resolveRun(req: RunRequest): RunConfig {
  const protocol = typeof req.protocol === 'string' ? getProtocol(req.protocol) : req.protocol;
  const scenario = typeof req.scenario === 'string' ? loadScenario(req.scenario) : req.scenario;

  const nodes = req.nodes ?? scenario.nodes;
  checkNumber('--nodes', nodes, { min: 1, max: 1_000_000, integer: true });
  const seed = req.seed ?? DEFAULT_SEED;
  checkNumber('--seed', seed, { min: 0, max: 2 ** 32 - 1, integer: true });
  const durationMs = req.durationMs ?? scenario.durationMs;
  checkNumber('--duration', durationMs, { min: 1 });

  const params: Record<string, number | boolean | string> = {};
  for (const [k, spec] of Object.entries(protocol.params)) params[k] = spec.default;
  const costs = defaultCosts();
  // defaults < the scenario's profile < --costs < --set
  const profile = req.costsFile ?? scenario.costs;
  if (profile) Object.assign(costs, loadCostProfile(profile).costs);
  const limits = { ...defaultLimits(), ...scenario.limits } as Limits;
  const network = { ...defaultNetwork(), ...scenario.network } as NetworkModel;
  const f = scenario.fleet;
  const fleet: FleetSettings = {
    shards: f.shards ?? FLEET.shards.value,
    clusters: f.clusters ?? FLEET.clusters.value,
    membershipLagMs: f.membershipLagMs ?? FLEET.membershipLagMs.value,
    ...(f.membershipLagMaxMs !== undefined ? { membershipLagMaxMs: f.membershipLagMaxMs } : {}),
    requestsPerSec: f.requestsPerSec ?? FLEET.requestsPerSec.value,
    traffic: f.traffic ?? 'uniform',
    zipfExponent: f.zipfExponent ?? 1,
    sampleEveryMs: f.sampleEveryMs ?? FLEET.sampleEveryMs.value,
    storeReadsPerSec: f.storeReadsPerSec ?? FLEET.storeReadsPerSec.value,
    storeEntriesPerRead: f.storeEntriesPerRead ?? FLEET.storeEntriesPerRead.value,
    storeReadLatencyMs: f.storeReadLatencyMs ?? FLEET.storeReadLatencyMs.value,
  };

  const alarms = defaultAlarms();
  const groups = { limits, costs, network, fleet, alarms } as unknown as Record<string, Record<string, number | boolean | string>>;
  for (const set of req.sets ?? []) {
    const { group, name, value } = parseSet(set, protocol);
    if (group === '') params[name] = value;
    else groups[group][name] = value;
  }
  const runnable = protocol.specialize?.(params) ?? protocol;
  if (!runnable.createRouter && scenario.events.some((e) => e.type === 'crashCell')) {
    throw new UsageError(`scenario ${scenario.name}: crashCell needs a protocol with cells (cell-partitioned); ${protocol.name} runs a flat fleet`);
  }
  if (fleet.membershipLagMaxMs !== undefined && fleet.membershipLagMaxMs < fleet.membershipLagMs) {
    throw new UsageError(`fleet.membershipLagMaxMs: ${fleet.membershipLagMaxMs} is below fleet.membershipLagMs ${fleet.membershipLagMs}; the lag is drawn between them`);
  }
  if (network.latencyMeanMs < network.latencyMinMs) throw new UsageError('network.latencyMeanMs: must be ≥ network.latencyMinMs');
  if (limits.baseThreadsPerNode >= limits.threadsPerNode) {
    throw new UsageError(`limits.baseThreadsPerNode: ${limits.baseThreadsPerNode} leaves no thread under limits.threadsPerNode ${limits.threadsPerNode}`);
  }
  return { protocol: runnable, params, scenario, nodes, seed, durationMs, costs, limits, network, fleet, alarms, costProfile: profile ?? null };
}
