/**
 * The `libvirt` feature plugin: adds `vmanctl daemon`, which serves libvirt's
 * remote protocol so that virsh and libvirt clients drive partitions as domains
 * (docs/libvirt.md). This module and the command's are light: the server is
 * loaded when the daemon starts, so `main.ts` imports this one, not `mod.ts`.
 *
 * @module
 */
import type { FeaturePlugin } from "../../core/registry/mod.ts";
import { PLUGIN_API_VERSION } from "../../core/registry/mod.ts";
import { daemonCommand } from "./command.ts";

/** Options of the libvirt plugin. */
export interface LibvirtOptions {
  /** The daemon's read-write socket when `--socket` is not given. */
  socket?: string;
  /** The daemon's read-only socket when neither option is given (default: the socket's + `-ro`). */
  roSocket?: string;
}

/** The default options: the socket libvirt clients of vmanager are pointed at (`DEFAULT_SOCKET`). */
export const defaults: Readonly<Required<Pick<LibvirtOptions, "socket">>> = {
  socket: "/run/vmanager/libvirt-sock",
};

/**
 * Makes the libvirt feature plugin.
 *
 * @example
 * ```ts
 * import { libvirt } from "./plugin.ts";
 * const plugin = libvirt({ socket: "/tmp/vman/libvirt-sock" });
 * plugin.commands!().map((c) => c.name); // ["daemon"]
 * ```
 */
export function libvirt(options: LibvirtOptions = {}): FeaturePlugin {
  const daemon = daemonCommand({
    socket: options.socket ?? defaults.socket,
    roSocket: options.roSocket,
  });
  return {
    kind: "feature",
    name: "libvirt",
    version: "0.1.0",
    apiVersion: PLUGIN_API_VERSION,
    description: "libvirt remote protocol: vmanctl daemon serves virsh and libvirt clients",
    commands: () => [daemon],
  };
}
