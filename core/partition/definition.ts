/**
 * What becomes of a partition's definition when it stops, as libvirt's
 * `qemuProcessStop` does with a domain's (`virDomainObjRemoveTransientDef`): a
 * next definition stored while it ran (`next`, libvirt's `newDef`) becomes its
 * definition, and a transient partition is removed.
 *
 * Each is one durable write of its own, after the stop's: a kill between the two
 * leaves a stopped record with a `next` or a `transient` flag, which
 * {@linkcode convergeDefinitions} (run by every transaction's convergence) settles.
 *
 * @module
 */
import type { PartitionRecord } from "../model.ts";
import { unsettled } from "../state/lookup.ts";
import { current, removeRecord, setRecord } from "./lifecycle.ts";
import type { Tx } from "./transaction.ts";

/** `record` with its next definition, if it has one, made its definition. */
export function settled(record: PartitionRecord): PartitionRecord {
  if (!record.next) return record;
  const { next, ...rest } = record;
  return { ...rest, spec: next.spec, allocation: next.allocation };
}

/**
 * Settles `record` (by name, as last written) once it no longer runs: a transient
 * one is removed (the record as it was is returned), a next definition becomes its
 * definition. Nothing is written for a record that runs or needs nothing.
 */
export async function afterStop(tx: Tx, stopped: PartitionRecord): Promise<PartitionRecord> {
  const record = current(tx, stopped) ?? stopped;
  if (!unsettled(record)) return record;
  if (record.transient) return await removeRecord(tx, record);
  return await setRecord(tx, settled(record));
}

/** Settles every record that does not run (see {@linkcode afterStop}). */
export async function convergeDefinitions(tx: Tx): Promise<void> {
  for (const record of tx.doc.partitions.filter(unsettled)) await afterStop(tx, record);
}
