/**
 * Finding a partition in the state document: what `show`, `dtb` and `console`
 * need, without the lifecycle's modules (core/partition/lifecycle.ts re-exports
 * these); and whether a document has anything to converge, which read-only
 * commands ask before they load the transaction's modules.
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

/**
 * True for a record whose definition must be settled: it does not run and has a
 * next one or is transient (see core/partition/definition.ts).
 */
export function unsettled(record: PartitionRecord): boolean {
  return record.state !== "running" && !record.pending &&
    (record.next !== undefined || record.transient === true);
}

/**
 * True when `doc` has something to converge: an interrupted operation's intent or
 * a definition to settle (core/partition/transaction.ts's `convergedState`).
 */
export function needsConvergence(doc: StateDocument | undefined): boolean {
  return doc?.partitions.some((p) => !!p.pending || unsettled(p)) ?? false;
}

/** One partition with the board it lives on, from the state dir's document. */
export async function getPartition(store: StateStore, name: string): Promise<PartitionInState> {
  return partitionIn(await store.read(), name);
}
