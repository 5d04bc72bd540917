/**
 * What libvirt shows of a board's architecture, all of it from the board's arch
 * plugin: the `<arch>` name (its `unameMachine`: `aarch64`, `armv7l`, `riscv64`)
 * and the `<wordsize>` (its `bits`).
 *
 * @module
 */
import type { ArchPlugin } from "../../core/registry/plugin.ts";

/** The parts of an arch plugin libvirt uses. */
export type LibvirtArch = Pick<ArchPlugin, "name" | "unameMachine" | "bits">;
