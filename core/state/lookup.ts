/**
 * Finding a partition in the state document: what `show`, `dtb` and `console`
 * need, without the lifecycle's modules (core/partition/lifecycle.ts re-exports
 * these).
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { Board, PartitionRecord } from "../model.ts";
import type { StateDocument, StateStore } from "./store.ts";

/** A partition, its board and backend, and the document it is in. */
export interface PartitionInState {
  /** The partition. */
  record: PartitionRecord;
  /** The board of the state dir. */
  board: Board;
  /** The backend of the state dir. */
  backend: string;
  /** The document. */
  doc: StateDocument;
}

/** The partition named `name`; {@linkcode InputError} when `doc` has none. */
export function findPartition(doc: StateDocument | undefined, name: string): PartitionRecord {
  const record = doc?.partitions.find((p) => p.name === name);
  if (!record) throw new InputError(`no partition named '${name}'`, "NAME");
  return record;
}

/** One partition of `doc` with the board it lives on. */
export function partitionIn(doc: StateDocument | undefined, name: string): PartitionInState {
  return { record: findPartition(doc, name), board: doc!.board, backend: doc!.backend, doc: doc! };
}

/** One partition with the board it lives on, from the state dir's document. */
export async function getPartition(store: StateStore, name: string): Promise<PartitionInState> {
  return partitionIn(await store.read(), name);
}
