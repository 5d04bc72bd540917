/**
 * What became of running partitions: a backend where a partition can end on its
 * own (its OS powers off, its emulator dies) reports that through its plugin's
 * `observe` hook, and `list`, `show` and `start` use what it reports.
 *
 * @module
 */
import type { PartitionRecord } from "../model.ts";
import type { RuntimeObservation } from "../registry/plugin.ts";

/** Asks the backend about one partition (by monitor id). */
export type Observer = (id: number) => Promise<RuntimeObservation>;

/** A partition record as shown: its state is what the backend sees. */
export type ObservedRecord = PartitionRecord & {
  /** Set when the record says running but the backend saw the partition end. */
  runtime?: RuntimeObservation;
};

/**
 * The records with the state the backend observes: a record that says `running`
 * becomes `stopped` (its OS powered off) or `crashed`, with the reason and its
 * last console lines in `runtime`. Without an observer the records are unchanged.
 */
export async function observeRecords(
  records: readonly PartitionRecord[],
  observe?: Observer,
): Promise<ObservedRecord[]> {
  if (!observe) return [...records];
  return await Promise.all(records.map(async (record) => {
    if (record.state !== "running") return record;
    const runtime = await observe(record.id);
    return runtime.state === "running" ? record : { ...record, state: runtime.state, runtime };
  }));
}
