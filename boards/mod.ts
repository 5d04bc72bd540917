/**
 * The built-in boards: YAML descriptions embedded in the module graph (and so in
 * the bundle and the compiled binary) as text.
 *
 * @module
 */
import qemuVirtArm from "./qemu-virt-arm.yaml" with { type: "text" };
import qemuVirtArm64 from "./qemu-virt-arm64.yaml" with { type: "text" };
import qemuVirtRiscv64 from "./qemu-virt-riscv64.yaml" with { type: "text" };

/** A board file shipped with vmanager. */
export interface BuiltinBoardFile {
  /** Path relative to the repository, for messages. */
  file: string;
  /** The YAML text. */
  text: string;
}

/** Every built-in board file. */
export const builtinBoardFiles: readonly BuiltinBoardFile[] = [
  { file: "boards/qemu-virt-arm.yaml", text: qemuVirtArm },
  { file: "boards/qemu-virt-arm64.yaml", text: qemuVirtArm64 },
  { file: "boards/qemu-virt-riscv64.yaml", text: qemuVirtRiscv64 },
];
