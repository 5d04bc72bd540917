/**
 * How failures reach libvirt clients: each error class maps to a libvirt error
 * code (`virErrorNumber`) and a message the client prints.
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
import { DomainExistsError, NoDomainError } from "./driver.ts";
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

/** The error code and message a failure is reported with. */
export function errorOf(error: unknown): { code: number; message: string } {
  if (error instanceof RpcError) return { code: error.code, message: error.message };
  if (error instanceof XdrError) {
    return { code: ErrorCode.RPC, message: `malformed arguments: ${error.message}` };
  }
  if (error instanceof DomainConfigError) {
    return {
      code: ErrorCode.CONFIG_UNSUPPORTED,
      message: `unsupported configuration: ${error.line()}`,
    };
  }
  if (error instanceof DomainXmlError) {
    return { code: ErrorCode.XML_ERROR, message: `XML error: ${error.line()}` };
  }
  if (error instanceof NoDomainError) return { code: ErrorCode.NO_DOMAIN, message: error.message };
  if (error instanceof DomainExistsError) {
    return { code: ErrorCode.DOM_EXIST, message: `operation failed: ${error.message}` };
  }
  if (error instanceof StateError) {
    return {
      code: ErrorCode.OPERATION_INVALID,
      message: `Requested operation is not valid: ${error.line()}`,
    };
  }
  if (error instanceof ConflictError || error instanceof MonitorError) {
    return { code: ErrorCode.OPERATION_FAILED, message: `operation failed: ${error.line()}` };
  }
  if (error instanceof InputError) {
    return { code: ErrorCode.INVALID_ARG, message: `invalid argument: ${error.line()}` };
  }
  if (error instanceof VmanError) {
    return { code: ErrorCode.OPERATION_FAILED, message: `operation failed: ${error.line()}` };
  }
  return {
    code: ErrorCode.INTERNAL_ERROR,
    message: `internal error: ${error instanceof Error ? error.message : String(error)}`,
  };
}
