/**
 * Resolves what one run is: protocol and its parameters, scenario, fleet size, seed, duration,
 * costs, limits, network and fleet settings. Precedence: defaults < scenario < --set.
 * All validation of user input happens here, before anything runs or is written.
 */
import type { ParamValues, ProtocolDefinition } from '../contract/protocol.ts';
import {
  COSTS,
  FLEET,
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
import { loadScenario, type Scenario } from './scenario.ts';
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

function parseValue(raw: string): number | boolean | string {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  const n = Number(raw);
  return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
}

function checkNumber(field: string, v: unknown, opts: { min?: number; max?: number; integer?: boolean }): number {
  const range = `${opts.integer ? 'an integer' : 'a number'}${opts.min !== undefined ? ` ≥ ${opts.min}` : ''}${opts.max !== undefined ? ` ≤ ${opts.max}` : ''}`;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new UsageError(`${field}: expected ${range}, got "${String(v)}"`);
  if ((opts.integer && !Number.isInteger(v)) || (opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
    throw new UsageError(`${field}: expected ${range}, got ${v}`);
  }
  return v;
}

const INTEGER_LIMITS = new Set(['threadsPerNode', 'baseThreadsPerNode', 'fdsPerNode']);

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
  if (req.costsFile) Object.assign(costs, loadCostProfile(req.costsFile).costs);
  const limits = { ...defaultLimits(), ...scenario.limits } as Limits;
  const network = { ...defaultNetwork(), ...scenario.network } as NetworkModel;
  const f = scenario.fleet;
  const fleet: FleetSettings = {
    shards: f.shards ?? FLEET.shards.value,
    clusters: f.clusters ?? FLEET.clusters.value,
    membershipLagMs: f.membershipLagMs ?? FLEET.membershipLagMs.value,
    requestsPerSec: f.requestsPerSec ?? FLEET.requestsPerSec.value,
    traffic: f.traffic ?? 'uniform',
    zipfExponent: f.zipfExponent ?? 1,
    sampleEveryMs: FLEET.sampleEveryMs.value,
  };

  for (const set of req.sets ?? []) {
    const eq = set.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set: "${set}" is not key=value (e.g. --set limits.threadsPerNode=256)`);
    const key = set.slice(0, eq).trim();
    const value = parseValue(set.slice(eq + 1));
    const [group, name] = key.includes('.') ? (key.split('.', 2) as [string, string]) : ['', key];
    const field = `--set ${key}`;
    if (group === 'limits') {
      if (!(name in LIMITS)) throw new UsageError(`${field}: unknown limit; known: ${Object.keys(LIMITS).map((k) => `limits.${k}`).join(', ')}`);
      (limits as Record<string, number>)[name] = checkNumber(field, value, { min: name === 'baseThreadsPerNode' ? 0 : 1, integer: INTEGER_LIMITS.has(name) });
    } else if (group === 'costs') {
      if (!(name in COSTS)) throw new UsageError(`${field}: unknown cost; known: ${Object.keys(COSTS).map((k) => `costs.${k}`).join(', ')}`);
      (costs as Record<string, number>)[name] = checkNumber(field, value, { min: 0 });
    } else if (group === 'network') {
      if (!(name in NETWORK)) throw new UsageError(`${field}: unknown network setting; known: ${Object.keys(NETWORK).map((k) => `network.${k}`).join(', ')}`);
      (network as Record<string, number>)[name] = checkNumber(field, value, name === 'lossRate' ? { min: 0, max: 1 } : { min: 0 });
    } else if (group === 'fleet') {
      const allowed = ['shards', 'clusters', 'membershipLagMs', 'requestsPerSec', 'sampleEveryMs'];
      if (!allowed.includes(name)) throw new UsageError(`${field}: unknown fleet setting; known: ${allowed.map((k) => `fleet.${k}`).join(', ')}`);
      const min = name === 'clusters' ? 2 : name === 'shards' || name === 'sampleEveryMs' ? 1 : 0;
      (fleet as unknown as Record<string, number>)[name] = checkNumber(field, value, { min, integer: name === 'shards' || name === 'clusters' });
    } else if (group === '') {
      const spec = protocol.params[name];
      if (!spec) {
        const known = Object.keys(protocol.params);
        throw new UsageError(`${field}: ${protocol.name} has no parameter "${name}"; known: ${known.join(', ') || '(none)'}, or limits.*, costs.*, network.*, fleet.*`);
      }
      if (typeof spec.default === 'number') params[name] = checkNumber(field, value, spec);
      else if (typeof spec.default === 'boolean') {
        if (typeof value !== 'boolean') throw new UsageError(`${field}: expected true or false, got "${String(value)}"`);
        params[name] = value;
      } else {
        if (spec.choices && !spec.choices.includes(String(value))) throw new UsageError(`${field}: expected one of ${spec.choices.join(', ')}, got "${String(value)}"`);
        params[name] = String(value);
      }
    } else {
      throw new UsageError(`${field}: unknown group "${group}"; use a protocol parameter or limits.*, costs.*, network.*, fleet.*`);
    }
  }
  const runnable = protocol.specialize?.(params) ?? protocol;
  if (!runnable.createRouter && scenario.events.some((e) => e.type === 'crashCell')) {
    throw new UsageError(`scenario ${scenario.name}: crashCell needs a protocol with cells (cell-partitioned); ${protocol.name} runs a flat fleet`);
  }
  if (network.latencyMeanMs < network.latencyMinMs) throw new UsageError('network.latencyMeanMs: must be ≥ network.latencyMinMs');
  if (limits.baseThreadsPerNode >= limits.threadsPerNode) {
    throw new UsageError(`limits.baseThreadsPerNode: ${limits.baseThreadsPerNode} leaves no thread under limits.threadsPerNode ${limits.threadsPerNode}`);
  }
  return { protocol: runnable, params, scenario, nodes, seed, durationMs, costs, limits, network, fleet, costProfile: req.costsFile ?? null };
}
