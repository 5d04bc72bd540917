/**
 * Redefinition (libvirt's define of an existing domain, `vmanctl update` and
 * `edit`): a partition's definition is replaced by a new spec, allocated again.
 *
 * - A partition that does not run is allocated again in place: its own cores,
 *   window and devices do not conflict with themselves, and it keeps them when
 *   the new spec allows.
 * - A running one keeps running as it is; the new allocation is checked against
 *   the other partitions now and stored as its next definition (`next`, libvirt's
 *   `newDef`), which it gets once it stops (core/partition/definition.ts). Until
 *   then the other partitions cannot take what either definition holds.
 *
 * Each update is one durable write, so a kill leaves the old definition or the new.
 *
 * @module
 */
import { ConflictError, InputError } from "../errors.ts";
import type { Allocation, Board, Definition, PartitionRecord, PartitionSpec } from "../model.ts";
import type { StateDocument } from "../state/store.ts";
import { allocate, type Holder } from "./allocate.ts";
import { byName, current, type LifecycleContext, setRecord } from "./lifecycle.ts";
import { transact, type Tx } from "./transaction.ts";
import { refuseReserved } from "./shared_resources.ts";

/** What an update did. */
export interface UpdateResult {
  /** The record as written. */
  record: PartitionRecord;
  /** False when the new definition is the one it has (nothing was written). */
  changed: boolean;
  /** True when it runs and gets the new definition at its next start. */
  deferred: boolean;
}

/**
 * The partitions as the allocator sees them: each holds its definition and, while
 * it runs with a next one, that one too. `except` (a name) is left out.
 */
export function holders(partitions: readonly PartitionRecord[], except?: string): Holder[] {
  return partitions.filter((p) => p.name !== except).flatMap((p) =>
    p.next ? [p, { name: p.name, allocation: p.next.allocation, spec: p.next.spec }] : [p]
  );
}

/**
 * The allocation `spec` gets on `board` next to the other partitions, preferring
 * the cores and window `before` has when the spec leaves them to the allocator.
 */
function reallocate(
  board: Board,
  others: readonly Holder[],
  spec: PartitionSpec,
  before: Allocation,
  alignment?: number,
): Allocation {
  const pinned: PartitionSpec = { ...spec };
  if (spec.cpus === before.cores.length && spec.cpuIds === undefined) {
    delete pinned.cpus;
    pinned.cpuIds = before.cores;
  }
  if (spec.memoryBase === undefined) pinned.memoryBase = before.memory.base;
  try {
    return allocate(board, others, pinned, alignment);
  } catch (error) {
    if (!(error instanceof ConflictError) && !(error instanceof InputError)) throw error;
    return allocate(board, others, spec, alignment);
  }
}

/** The definition `record` has now: the next one when it has one. */
export function definitionOf(record: PartitionRecord): Definition {
  return record.next ?? { spec: record.spec, allocation: record.allocation };
}

/** Two definitions alike (their JSON, keys in order). */
function same(a: Definition, b: Definition): boolean {
  const key = (d: Definition) => JSON.stringify(d, (_k, v) => sortKeys(v));
  return key(a) === key(b);
}

function sortKeys(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  // By code point: localeCompare would load ICU (~10 ms and ~5 MB resident) for ASCII keys.
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The definition `requested` (same name) gives `record` next to the other
 * partitions of `doc`; its UUID is kept. Throws the allocator's errors.
 */
export function redefinition(
  doc: StateDocument,
  record: PartitionRecord,
  requested: PartitionSpec,
  alignment?: number,
): Definition {
  if (requested.name !== record.name) {
    throw new InputError(`the spec names '${requested.name}', not '${record.name}'`, record.name);
  }
  // Its UUID stays; the spec keeps one only when it had one (JSON drops an undefined).
  const spec = { ...requested, uuid: record.spec.uuid };
  const others = holders(doc.partitions, record.name);
  const before = definitionOf(record).allocation;
  return { spec, allocation: reallocate(doc.board, others, spec, before, alignment) };
}

/**
 * Replaces the definition of `record` with `spec` (same name; its UUID is kept):
 * in place when it does not run, as its next definition when it does; a transient
 * partition becomes persistent. Refused with the allocator's errors
 * ({@linkcode ConflictError}: something another partition holds), nothing written.
 */
export async function updateRecord(
  tx: Tx,
  record: PartitionRecord,
  requested: PartitionSpec,
  alignment?: number,
): Promise<UpdateResult> {
  const wanted = redefinition(tx.doc, record, requested, alignment);
  await refuseReserved(tx.doc.board, wanted.allocation, () => tx.ctx.boardTree?.(tx.doc.board));
  if (same(wanted, definitionOf(record)) && !record.transient) {
    return { record, changed: false, deferred: false };
  }
  const running = record.state === "running";
  const live = { spec: record.spec, allocation: record.allocation };
  // A definition makes a transient partition persistent (libvirt's define does).
  const { next: _, transient: __, ...rest } = record;
  const updated = !running
    ? { ...rest, ...wanted }
    : same(wanted, live)
    ? rest
    : { ...rest, next: wanted };
  const written = await setRecord(tx, updated);
  return { record: current(tx, written), changed: true, deferred: written.next !== undefined };
}

/**
 * Updates the partition `name` with `spec` (`vmanctl update`, `edit`). A spec file
 * cannot say what a libvirt client gave the partition (its title, description and
 * other programs' metadata), so those are kept.
 */
export async function updatePartition(
  ctx: LifecycleContext,
  name: string,
  spec: PartitionSpec,
): Promise<UpdateResult> {
  return await transact(ctx, {
    locate: byName(name),
    apply: async (tx, record) => {
      const { title, description, metadata } = definitionOf(record).spec;
      const kept = { ...spec, title, description, metadata };
      return await updateRecord(tx, record, kept, await ctx.windowAlignment?.(tx.doc.board));
    },
  });
}
