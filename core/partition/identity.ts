/**
 * A partition's identity — its name and its UUID — against the others', checked
 * as libvirt's `virDomainObjListAddLocked` (src/conf/virdomainobjlist.c) checks a
 * domain's: a UUID another name holds first, then a name another UUID holds.
 *
 * @module
 */
import { ConflictError } from "../errors.ts";
import type { PartitionRecord } from "../model.ts";
import type { StateDocument } from "../state/store.ts";
import { uuidOf } from "./lifecycle.ts";

/** The name is another partition's (with another UUID). */
export class NameTakenError extends ConflictError {
  /** `name` is held by the partition with `uuid`. */
  constructor(readonly partition: string, readonly uuid: string) {
    super(`partition '${partition}' already exists with uuid ${uuid}`, partition);
  }
}

/** The UUID is another partition's (of another name). */
export class UuidTakenError extends ConflictError {
  /** `uuid` is held by the partition `holder`. */
  constructor(readonly holder: string, readonly uuid: string) {
    super(`partition '${holder}' is already defined with uuid ${uuid}`, holder);
  }
}

/**
 * The partition a definition of `name` (with `uuid`, when it names one) replaces:
 * the record of that name when its UUID matches, undefined when neither is taken.
 * Throws {@linkcode UuidTakenError} or {@linkcode NameTakenError} otherwise.
 */
export function sameIdentity(
  doc: StateDocument | undefined,
  name: string,
  uuid: string | undefined,
): PartitionRecord | undefined {
  const records = doc?.partitions ?? [];
  const byUuid = uuid === undefined ? undefined : records.find((p) => uuidOf(p) === uuid);
  if (byUuid && byUuid.name !== name) throw new UuidTakenError(byUuid.name, uuid!);
  const byName = records.find((p) => p.name === name);
  if (byName && uuid !== undefined && uuidOf(byName) !== uuid) {
    throw new NameTakenError(name, uuidOf(byName));
  }
  return byName;
}
