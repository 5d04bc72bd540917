/**
 * How failures reach libvirt clients: each error class maps to the libvirt error
 * code (`virErrorNumber`) libvirt's own drivers send in that situation, and its
 * message to libvirt's prefix for that code ({@linkcode libvirtMessage}) then the
 * error's line. The situations and their codes are tabled in docs/libvirt.md.
 * What matters beyond the number: community.libvirt's `virt` module takes code 9
 * (OPERATION_FAILED) from defineXML as "already defined" and reports success, so
 * only a name or UUID another domain holds is sent as 9; a resource another
 * partition holds is OPERATION_INVALID (55), as libvirt's host devices in use.
 *
 * @module
 */
import {
  ConflictError,
  InputError,
  MonitorError,
  StateError,
  VmanError,
} from "../../core/errors.ts";
import { NoDomainError } from "./driver.ts";
import { NameTakenError, UuidTakenError } from "../../core/partition/identity.ts";
import { DomainConfigError, DomainXmlError } from "./domain_xml.ts";
import { ErrorCode, ErrorDomain } from "./protocol.ts";
import { XdrError, type XdrWriter } from "./xdr.ts";

/** An error with a libvirt error code, sent to the client as it is. */
export class RpcError extends Error {
  /** Makes the error. */
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = "RpcError";
  }
}

/**
 * Writes a `remote_error` (code, domain, message, level ERROR, no domain or
 * network, no extra strings or numbers): the body of an error reply or stream packet.
 */
export function errorBody(w: XdrWriter, code: number, domain: number, message: string): void {
  w.int(code).int(domain).optional(message, (x, m) => x.string(m)).int(2).uint(0).uint(0).uint(0)
    .uint(0).int(0).int(0).uint(0);
}

/** The libvirt error domain a reply's error is reported in. */
export function domainOf(code: number): number {
  return code === ErrorCode.RPC ? ErrorDomain.RPC : ErrorDomain.REMOTE;
}

/**
 * libvirt's message of an error of `code`: the code's prefix as libvirt's
 * `virErrorMsg` (src/util/virerror.c) writes it, then `text`.
 */
function libvirtMessage(code: number, text: string): string {
  const prefix = PREFIXES.get(code);
  return prefix ? `${prefix}: ${text}` : text;
}

const PREFIXES = new Map<number, string>([
  [ErrorCode.INTERNAL_ERROR, "internal error"],
  [ErrorCode.OPERATION_FAILED, "operation failed"],
  [ErrorCode.INVALID_ARG, "invalid argument"],
  [ErrorCode.XML_ERROR, "XML error"],
  [ErrorCode.OPERATION_INVALID, "Requested operation is not valid"],
  [ErrorCode.CONFIG_UNSUPPORTED, "unsupported configuration"],
  [ErrorCode.RPC, "malformed arguments"],
]);

/** An error class, the libvirt code it is sent with, and its text (default: its line). */
interface Rule<E extends Error = Error> {
  type: abstract new (...args: never[]) => E;
  code: number;
  text?: (error: E) => string;
}

function rule<E extends Error>(
  type: abstract new (...args: never[]) => E,
  code: number,
  text?: (error: E) => string,
): Rule {
  return { type, code, text: text as Rule["text"] };
}

/**
 * Each kind of failure and the code libvirt's own drivers send in that situation
 * (the table in docs/libvirt.md); the first rule whose class matches applies.
 * Made at the first error: some classes come from modules that import this one.
 */
const rules = (): readonly Rule[] => [
  rule(XdrError, ErrorCode.RPC, (e) => e.message),
  rule(DomainConfigError, ErrorCode.CONFIG_UNSUPPORTED),
  rule(DomainXmlError, ErrorCode.XML_ERROR),
  rule(NoDomainError, ErrorCode.NO_DOMAIN, (e) => e.message),
  // virDomainObjListAddLocked (src/conf/virdomainobjlist.c).
  rule(
    UuidTakenError,
    ErrorCode.OPERATION_FAILED,
    (e) => `domain '${e.holder}' is already defined with uuid ${e.uuid}`,
  ),
  rule(
    NameTakenError,
    ErrorCode.OPERATION_FAILED,
    (e) => `domain '${e.partition}' already exists with uuid ${e.uuid}`,
  ),
  rule(StateError, ErrorCode.OPERATION_INVALID),
  // A core, window or device another partition holds: as a host device in use by
  // another domain (virHostdevIsPCINodeDeviceUsed, src/hypervisor/virhostdev.c).
  rule(ConflictError, ErrorCode.OPERATION_INVALID),
  rule(MonitorError, ErrorCode.OPERATION_FAILED),
  rule(InputError, ErrorCode.INVALID_ARG),
  rule(VmanError, ErrorCode.OPERATION_FAILED),
];

let ruleCache: readonly Rule[] | undefined;

/** The error code and message a failure is reported with. */
export function errorOf(error: unknown): { code: number; message: string } {
  if (error instanceof RpcError) return { code: error.code, message: error.message };
  const found = (ruleCache ??= rules()).find((r) => error instanceof r.type);
  if (!found) {
    const text = error instanceof Error ? error.message : String(error);
    return {
      code: ErrorCode.INTERNAL_ERROR,
      message: libvirtMessage(ErrorCode.INTERNAL_ERROR, text),
    };
  }
  const text = found.text?.(error as Error) ?? (error as VmanError).line();
  return { code: found.code, message: libvirtMessage(found.code, text) };
}
