/**
 * Transient partitions (libvirt's transient domains): made and started in one
 * transaction (`virsh create`), or made transient by an undefine while they run;
 * either way removed once they no longer run (core/partition/definition.ts).
 *
 * @module
 */
import type { PartitionRecord } from "../model.ts";
import type { Commit, StateDocument } from "../state/store.ts";
import { type LifecycleContext, removeRecord, setRecord, startRecord } from "./lifecycle.ts";
import { openTx, type Tx } from "./transaction.ts";

/**
 * Writes `created` (the document with the new `record`) and starts `record`, in
 * the transaction of the state store's `update` whose `commit` it is given. When
 * the start fails the record is removed again; a kill in between leaves a
 * transient record that does not run, which the next command's convergence removes.
 */
export async function startCreated(
  ctx: LifecycleContext,
  before: StateDocument,
  created: StateDocument,
  record: PartitionRecord,
  commit: Commit,
): Promise<PartitionRecord> {
  const tx = openTx(ctx, before, commit);
  try {
    await tx.commit(created);
    try {
      return await startRecord(tx, record);
    } catch (error) {
      await removeRecord(tx, record).catch(() => {}); // if this fails, convergence removes it
      throw error;
    }
  } finally {
    tx.close();
  }
}

/**
 * Makes a running `record` transient (libvirt's undefine of a running domain): it
 * keeps running and is removed once it stops; a next definition it had is dropped.
 */
export async function makeTransient(tx: Tx, record: PartitionRecord): Promise<PartitionRecord> {
  const { next: _, ...rest } = record;
  return await setRecord(tx, { ...rest, transient: true });
}
