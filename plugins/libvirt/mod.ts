/**
 * vmanager's libvirt face: a daemon speaking libvirt's remote protocol, so that
 * unmodified `virsh` and python3-libvirt (and orchestrators built on them) drive
 * partitions as domains. See docs/libvirt.md. The plugin (`libvirt()`) adds the
 * `vmanctl daemon` command that runs it; `main.ts` imports it from `plugin.ts`,
 * which does not load the server.
 *
 * @example
 * ```ts
 * import { Driver, LibvirtServer } from "./mod.ts";
 * // monitorPlugin gives the driver the backends' openConsole (virsh console).
 * const driver = new Driver(lifecycleContext, { monitorPlugin: (name) => pluginOf(name) });
 * const server = new LibvirtServer({ driver, socket: "/run/vmanager/libvirt-sock", version: "0.1.0", hostUuid });
 * await server.listen();
 * ```
 * @module
 */
export { DEFAULT_RO_SOCKET, DEFAULT_SOCKET, LibvirtServer } from "./server.ts";
export type { ServerOptions } from "./server.ts";
export { Driver, NoConsoleError } from "./driver.ts";
export type { DriverOptions } from "./driver.ts";
export { STREAM_BACKLOG, STREAM_CHUNK, STREAM_INPUT } from "./stream.ts";
export {
  domainXml,
  DomainXmlError,
  MAX_DOMAIN_XML,
  parseDomainXml,
  VMANAGER_NS,
} from "./domain_xml.ts";
export { capabilitiesXml, nodeInfo } from "./capabilities.ts";
export { defaults, libvirt, type LibvirtOptions } from "./plugin.ts";
export { daemonCommand, type DaemonOptions } from "./command.ts";
