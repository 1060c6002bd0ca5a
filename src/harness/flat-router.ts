/** The router of a flat fleet: one cell holding every node, shard and cluster. */
import type { CellRouter } from '../contract/protocol.ts';

export class FlatRouter implements CellRouter {
  readonly cells = 1;
  readonly version = 1;
  readonly #clusters: number[];
  constructor(clusters: number) {
    this.#clusters = Array.from({ length: clusters }, (_, i) => i);
  }
  place(): number {
    return 0;
  }
  removed(): void {}
  takeMigrations(): readonly number[] {
    return [];
  }
  cellOfShard(): number {
    return 0;
  }
  clustersOf(): readonly number[] {
    return this.#clusters;
  }
}
