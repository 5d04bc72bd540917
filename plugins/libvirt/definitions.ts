/**
 * A domain's two definitions, as libvirt's `def` and `newDef`: the one it runs
 * with, and — when it was redefined while it ran — the one its next start uses
 * (the record's `next`, core/partition/update.ts).
 *
 * @module
 */
import type { PartitionRecord } from "../../core/model.ts";
import { settled } from "../../core/partition/definition.ts";

/** `VIR_DOMAIN_XML_INACTIVE` of GET_XML_DESC's flags: the next start's definition. */
export const XML_INACTIVE = 1 << 1;

/**
 * The record as its inactive definition describes it (`virsh dumpxml --inactive`):
 * its next definition swapped in, and no running id (libvirt's inactive XML has none).
 */
export function inactive(record: PartitionRecord): PartitionRecord {
  const state = record.state === "running" ? "defined" : record.state;
  return { ...settled(record), state };
}

/** libvirt's IS_UPDATED: it runs, and its next start has another definition. */
export function isUpdated(record: PartitionRecord): boolean {
  return record.state === "running" && record.next !== undefined;
}
