/**
 * DOMAIN_SET_METADATA (264) and DOMAIN_GET_METADATA (265): `virsh desc`,
 * `virsh metadata`, python's `setMetadata()`/`metadata()`. A partition's title,
 * description and other programs' `<metadata>` elements are kept in its spec
 * (`title`, `description`, `metadata` by namespace URI), so `dumpxml`, `vmanctl show`
 * and the next define see them. Semantics of libvirt's `virDomainObjSetMetadata` /
 * `virDomainObjGetMetadata` (`src/conf/domain_conf.c`):
 *
 * | type | set | get |
 * |---|---|---|
 * | DESCRIPTION 0 | the text; empty or absent removes it | the text |
 * | TITLE 1 | one line; empty or absent removes it | the text |
 * | ELEMENT 2 | element XML put in namespace `uri` under prefix `key`; absent removes it | the element without that namespace |
 *
 * What is not there is VIR_ERR_NO_DOMAIN_METADATA (80). A partition has one
 * definition, live and persistent alike: `AFFECT_LIVE` needs it running (as libvirt
 * asks of a domain's live definition) and both flags change the same spec.
 *
 * @module
 */
import {
  MAX_DESCRIPTION,
  MAX_METADATA_ELEMENT,
  MAX_METADATA_ELEMENTS,
  MAX_TITLE,
  type PartitionRecord,
  type PartitionSpec,
} from "../../core/model.ts";
import { setRecord, uuidOf } from "../../core/partition/lifecycle.ts";
import { transact } from "../../core/partition/transaction.ts";
import { VMANAGER_NS } from "./domain_xml.ts";
import type { Driver } from "./driver.ts";
import { RpcError } from "./errors.ts";
import { byUuid, notRunning } from "./transactions.ts";
import { byteLength, extractNamespace, injectNamespace, isNcName } from "./metadata_xml.ts";
import type { CallContext } from "./procedures.ts";
import { readDomain } from "./procedures.ts";
import { ErrorCode, MAX_STRING } from "./protocol.ts";
import { AFFECT_CONFIG, AFFECT_LIVE, invalidArgument, unsupportedFlags } from "./stats.ts";
import type { XdrReader, XdrWriter } from "./xdr.ts";

/** `virDomainMetadataType`. */
export const MetadataType = { DESCRIPTION: 0, TITLE: 1, ELEMENT: 2 } as const;

/** A change of one kind of metadata: the new value, or undefined to remove it. */
export interface MetadataChange {
  /** DESCRIPTION, TITLE or ELEMENT. */
  type: number;
  /** The text, or the element's stored XML; undefined removes it. */
  value?: string;
  /** ELEMENT: its namespace URI. */
  uri?: string;
}

/** `AFFECT_LIVE` names a running domain's definition: refused for one that does not run. */
function live(record: PartitionRecord, flags: number): void {
  if ((flags & AFFECT_LIVE) && record.state !== "running") {
    throw notRunning();
  }
}

function boundedText(value: string, max: number, what: string): string {
  const size = byteLength(value);
  if (size > max) throw invalidArgument(`the ${what} is ${size} bytes; the limit is ${max}`);
  return value;
}

/** The namespace URI of an ELEMENT call: given, and not vmanager's own. */
function elementUri(uri: string | undefined): string {
  if (!uri) throw invalidArgument("uri in virDomainSetMetadata must not be NULL");
  if (uri === VMANAGER_NS) {
    throw invalidArgument(
      `'${uri}' is vmanager's own namespace: dumpxml writes it from the partition`,
    );
  }
  return boundedText(uri, MAX_METADATA_ELEMENT, "namespace URI");
}

/** Reads `remote_domain_set_metadata_args` after `dom` into a checked change. */
async function readChange(r: XdrReader): Promise<MetadataChange & { flags: number }> {
  const type = r.int();
  const metadata = r.optional((x) => x.string(MAX_STRING));
  const key = r.optional((x) => x.string(MAX_STRING));
  const uri = r.optional((x) => x.string(MAX_STRING));
  const flags = r.uint();
  unsupportedFlags(flags, AFFECT_LIVE | AFFECT_CONFIG, "virDomainSetMetadata");
  const value = metadata === "" ? undefined : metadata;
  switch (type) {
    case MetadataType.TITLE:
      if (value?.includes("\n")) throw invalidArgument("metadata title can't contain newlines");
      return { type, value: value && boundedText(value, MAX_TITLE, "title"), flags };
    case MetadataType.DESCRIPTION:
      return { type, value: value && boundedText(value, MAX_DESCRIPTION, "description"), flags };
    case MetadataType.ELEMENT: {
      const ns = elementUri(uri);
      if (metadata === undefined) return { type, uri: ns, flags };
      if (!key || !isNcName(key)) {
        throw invalidArgument("failed to validate prefix for a new XML namespace");
      }
      return { type, uri: ns, value: await injectNamespace(metadata, key, ns), flags };
    }
    default:
      throw invalidArgument(`unknown metadata type '${type}'`);
  }
}

/** The spec with `change` made; refuses a namespace past {@linkcode MAX_METADATA_ELEMENTS}. */
export function changedSpec(spec: PartitionSpec, change: MetadataChange): PartitionSpec {
  const next: PartitionSpec = { ...spec };
  const field = change.type === MetadataType.TITLE ? "title" : "description";
  if (change.type !== MetadataType.ELEMENT) {
    if (change.value === undefined) delete next[field];
    else next[field] = change.value;
    return next;
  }
  const elements = { ...spec.metadata };
  delete elements[change.uri!];
  if (change.value !== undefined) {
    if (Object.keys(elements).length >= MAX_METADATA_ELEMENTS) {
      throw invalidArgument(`a partition keeps at most ${MAX_METADATA_ELEMENTS} metadata elements`);
    }
    elements[change.uri!] = change.value;
  }
  if (Object.keys(elements).length > 0) next.metadata = elements;
  else delete next.metadata;
  return next;
}

/**
 * The record with `change` made to its spec, and to the definition its next start
 * takes (`next`, a redefine of a running partition) when it has one, so the change
 * is not lost when that one replaces it.
 */
export function changedRecord(record: PartitionRecord, change: MetadataChange): PartitionRecord {
  const next = record.next && { ...record.next, spec: changedSpec(record.next.spec, change) };
  return { ...record, spec: changedSpec(record.spec, change), ...(next ? { next } : {}) };
}

/**
 * Makes `change` to the spec of the partition with `record`'s UUID, under the state
 * lock, checking `flags` against its state there.
 */
async function setDomainMetadata(
  driver: Driver,
  record: PartitionRecord,
  change: MetadataChange,
  flags: number,
): Promise<PartitionRecord> {
  try {
    return await transact(driver.lc, {
      locate: byUuid(uuidOf(record)),
      check: (current) => live(current, flags),
      apply: (tx, current) => setRecord(tx, changedRecord(current, change)),
    });
  } finally {
    driver.onChange();
  }
}

/** DOMAIN_SET_METADATA (264): `{ dom; int type; string* metadata, key, uri; unsigned flags }`. */
export async function setMetadata(ctx: CallContext, r: XdrReader): Promise<void> {
  const dom = readDomain(r);
  const change = await readChange(r);
  const record = await ctx.driver.resolve(dom);
  live(record, change.flags);
  await setDomainMetadata(ctx.driver, record, change, change.flags);
}

/** What a partition has of one kind of metadata, as GET_METADATA returns it. */
async function metadataOf(
  spec: PartitionSpec,
  type: number,
  uri: string | undefined,
): Promise<string | undefined> {
  if (type === MetadataType.TITLE) return spec.title;
  if (type === MetadataType.DESCRIPTION) return spec.description;
  const stored = uri === undefined ? undefined : spec.metadata?.[uri];
  return stored === undefined ? undefined : await extractNamespace(stored, uri!);
}

/**
 * DOMAIN_GET_METADATA (265): `{ dom; int type; string* uri; unsigned flags }` →
 * `{ string metadata }`.
 */
export async function getMetadata(ctx: CallContext, r: XdrReader, w: XdrWriter): Promise<void> {
  const dom = readDomain(r);
  const type = r.int();
  const uri = r.optional((x) => x.string(MAX_STRING));
  const flags = r.uint();
  unsupportedFlags(flags, AFFECT_LIVE | AFFECT_CONFIG, "virDomainGetMetadata");
  if ((flags & AFFECT_LIVE) && (flags & AFFECT_CONFIG)) {
    throw invalidArgument(
      "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
    );
  }
  if (type < 0 || type > MetadataType.ELEMENT) {
    throw invalidArgument(`unknown metadata type '${type}'`);
  }
  if (type === MetadataType.ELEMENT && !uri) {
    throw invalidArgument("uri in virDomainGetMetadata must not be NULL");
  }
  const record = await ctx.driver.resolve(dom);
  live(record, flags);
  const value = await metadataOf(record.spec, type, uri);
  if (value === undefined) {
    throw new RpcError(
      ErrorCode.NO_DOMAIN_METADATA,
      "metadata not found: Requested metadata element is not present",
    );
  }
  w.string(value);
}
