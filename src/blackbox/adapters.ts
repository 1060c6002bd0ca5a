/** The black-box adapters by protocol name: a black-box ProtocolDefinition's name picks its agent. */
import type { BlackBoxAdapter } from './adapter.ts';
import { serfAdapter } from './serf/adapter.ts';

export const BLACK_BOX_ADAPTERS: ReadonlyMap<string, BlackBoxAdapter> = new Map([[serfAdapter.name, serfAdapter]]);

export function blackBoxAdapter(name: string): BlackBoxAdapter {
  const a = BLACK_BOX_ADAPTERS.get(name);
  if (!a) throw new Error(`black box: no adapter named "${name}" (known: ${[...BLACK_BOX_ADAPTERS.keys()].join(', ')}); add it to src/blackbox/adapters.ts`);
  return a;
}
