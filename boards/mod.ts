/**
 * The built-in boards: YAML descriptions and their device trees, embedded in the
 * module graph (and so in the bundle and the compiled binary).
 *
 * @module
 */
import qemuVirtArm from "./qemu-virt-arm.yaml" with { type: "text" };
import qemuVirtArm64 from "./qemu-virt-arm64.yaml" with { type: "text" };
import qemuVirtRiscv64 from "./qemu-virt-riscv64.yaml" with { type: "text" };
import qemuVirtArmDtb from "./qemu-virt-arm.dtb" with { type: "bytes" };
import qemuVirtArm64Dtb from "./qemu-virt-arm64.dtb" with { type: "bytes" };
import qemuVirtRiscv64Dtb from "./qemu-virt-riscv64.dtb" with { type: "bytes" };

import type { BoardFile } from "../core/registry/discover.ts";

/** Every built-in board file. */
export const builtinBoardFiles: readonly BoardFile[] = [
  { file: "boards/qemu-virt-arm.yaml", text: qemuVirtArm, devicetree: qemuVirtArmDtb },
  { file: "boards/qemu-virt-arm64.yaml", text: qemuVirtArm64, devicetree: qemuVirtArm64Dtb },
  { file: "boards/qemu-virt-riscv64.yaml", text: qemuVirtRiscv64, devicetree: qemuVirtRiscv64Dtb },
];
