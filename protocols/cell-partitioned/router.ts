/**
 * The cell router: the thinnest shared layer of a cellular fleet (AWS Well-Architected, "Reducing
 * the Scope of Impact with Cell-Based Architecture"). It holds the cell map in memory — shard → cell,
 * with a version — places joining nodes into cells, and owns each cell's back-end clusters.
 *
 * Placement: a joining node goes to the lowest-numbered cell with fewer than `cellSize` live nodes
 * (so the open cell fills to C, and holes left by removed nodes are refilled); when every cell is
 * full a new cell opens. A new cell takes its share of shards — ⌊S / cells⌋ — one at a time from
 * whichever cell owns the most, so cells stay within one shard of each other. Those moves are
 * reshards into the new cell's clusters (the harness counts them as `migratedShards`).
 * Removing nodes shrinks cells; a cell is never closed and its shards never move back.
 */
import type { CellRouter, ClusterId, NodeId, ShardId } from '../../src/contract/protocol.ts';

export class CellMapRouter implements CellRouter {
  readonly #cellSize: number;
  readonly #clustersPerCell: number;
  /** shard → owning cell */
  readonly #shardCell: Int32Array;
  /** shards owned per cell */
  readonly #owned: number[] = [];
  /** live nodes per cell */
  readonly #members: number[] = [];
  readonly #cellOfNode = new Map<NodeId, number>();
  #migrations: ShardId[] = [];
  version = 0;

  constructor(cellSize: number, clustersPerCell: number, shards: number) {
    this.#cellSize = cellSize;
    this.#clustersPerCell = clustersPerCell;
    this.#shardCell = new Int32Array(shards);
  }

  get cells(): number {
    return this.#members.length;
  }

  place(node: NodeId): number {
    let cell = this.#members.findIndex((n) => n < this.#cellSize);
    if (cell < 0) cell = this.#open();
    this.#members[cell]++;
    this.#cellOfNode.set(node, cell);
    return cell;
  }

  #open(): number {
    const cell = this.#members.length;
    this.#members.push(0);
    this.version++;
    if (cell === 0) {
      this.#owned.push(this.#shardCell.length); // the first cell owns every shard
      return cell;
    }
    this.#owned.push(0);
    const share = Math.floor(this.#shardCell.length / (cell + 1));
    // take from the richest cell each time, scanning shards in order: deterministic and even
    for (let k = 0; k < share; k++) {
      let donor = 0;
      for (let c = 1; c < cell; c++) if (this.#owned[c] > this.#owned[donor]) donor = c;
      const shard = this.#shardCell.indexOf(donor);
      this.#shardCell[shard] = cell;
      this.#owned[donor]--;
      this.#owned[cell]++;
      this.#migrations.push(shard);
    }
    return cell;
  }

  removed(node: NodeId): void {
    const cell = this.#cellOfNode.get(node);
    if (cell === undefined) return;
    this.#cellOfNode.delete(node);
    this.#members[cell]--;
  }

  takeMigrations(): readonly ShardId[] {
    const m = this.#migrations;
    this.#migrations = [];
    return m;
  }

  cellOfShard(shard: ShardId): number {
    return this.#shardCell[shard];
  }

  clustersOf(cell: number): readonly ClusterId[] {
    return Array.from({ length: this.#clustersPerCell }, (_, k) => cell * this.#clustersPerCell + k);
  }

  shardsOf(cell: number): number {
    return this.#owned[cell] ?? 0;
  }
}
