/**
 * DOMAIN_OPEN_CONSOLE (procedure 201): `virsh console` and `virDomainOpenConsole`.
 * The call opens a session on the partition's console through the backend's
 * monitor plugin and, once its empty reply is sent, the connection carries the
 * session as a libvirt stream (plugins/libvirt/stream.ts). Refusals use the codes
 * and messages of libvirt's qemu driver (`qemuDomainOpenConsole`).
 *
 * @module
 */
import { StateError } from "../../core/errors.ts";
import { ConsoleBusyError } from "../../core/monitor/console.ts";
import type { DomainRef } from "./driver.ts";
import { NoConsoleError } from "./driver.ts";
import { RpcError } from "./errors.ts";
import type { CallContext } from "./procedures.ts";
import { ErrorCode } from "./protocol.ts";
import { unsupportedFlags } from "./stats.ts";
import { notRunning } from "./transactions.ts";

/** `VIR_DOMAIN_CONSOLE_FORCE`: take the console over from the session that has it. */
export const CONSOLE_FORCE = 1;
/** `VIR_DOMAIN_CONSOLE_SAFE`: only with exclusive access — which every console here has. */
export const CONSOLE_SAFE = 2;

/** The names of the one console a partition has (its first UART), as libvirt aliases them. */
export const CONSOLE_DEVICES: readonly string[] = ["console0", "serial0"];

/** Opens the console of the domain `ref` as the stream of the calling call. */
export async function openConsole(
  ctx: CallContext,
  ref: DomainRef,
  devName: string | undefined,
  flags: number,
): Promise<void> {
  unsupportedFlags(flags, CONSOLE_FORCE | CONSOLE_SAFE, "virDomainOpenConsole");
  const record = await ctx.driver.resolve(ref);
  if (record.state !== "running") throw notRunning();
  if (devName !== undefined && !CONSOLE_DEVICES.includes(devName)) {
    throw new RpcError(
      ErrorCode.INTERNAL_ERROR,
      `internal error: cannot find character device ${devName}`,
    );
  }
  if (!ctx.stream) {
    throw new RpcError(ErrorCode.INTERNAL_ERROR, "internal error: this call cannot carry a stream");
  }
  let session;
  try {
    session = await ctx.driver.openConsole(record, {
      mode: "write",
      force: (flags & CONSOLE_FORCE) !== 0,
      who: ctx.client ?? "a libvirt client",
      name: record.name,
    });
  } catch (error) {
    throw consoleError(error);
  }
  ctx.stream(session);
}

/** The libvirt error of a console that cannot be opened. */
function consoleError(error: unknown): unknown {
  if (error instanceof NoConsoleError) {
    return new RpcError(
      ErrorCode.NO_SUPPORT,
      `this function is not supported by the connection driver: ${error.line()}`,
    );
  }
  // Busy first: a ConsoleBusyError is a StateError.
  if (error instanceof ConsoleBusyError) {
    return new RpcError(
      ErrorCode.OPERATION_FAILED,
      `operation failed: Active console session exists for this domain (${error.line()})`,
    );
  }
  if (error instanceof StateError) {
    return notRunning(`domain is not running (${error.line()})`);
  }
  return error;
}
