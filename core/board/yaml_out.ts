/**
 * Writes a board description as YAML in the layout of the built-in boards, with
 * comments: what `board import` prints.
 *
 * @module
 */
import type { Board, Range } from "../model.ts";
import { formatHex, formatSize } from "../units.ts";

const q = (text: string) => JSON.stringify(text);
const hex = (n: number) => formatHex(n, 1);
const range = (r: Range) => `{ base: ${hex(r.base)}, size: ${hex(r.size)} }`;

/** The board as YAML; `notes` become comments at the top. */
export function boardYaml(
  board: Board,
  notes: readonly string[],
  header: readonly string[] = [],
): string {
  const lines: string[] = [...header.map((h) => `# ${h}`)];
  if (notes.length > 0) lines.push("# Left out or assumed:", ...notes.map((n) => `#   ${n}`));
  lines.push(
    `name: ${board.name}`,
    `description: ${q(board.description)}`,
    `arch: ${board.arch}`,
    `monitor: { conduit: ${board.monitor.conduit}, interface: ${board.monitor.interface} }`,
  );
  if (board.devicetree) lines.push(`devicetree: ${q(board.devicetree)}`);
  if (board.keep?.length) lines.push(`keep: [${board.keep.map(q).join(", ")}]`);
  lines.push("cores:", ...board.cores.map((c) => `  - { id: ${c.id}, hwid: ${hex(c.hwid)} }`));
  lines.push(
    "memory:",
    ...board.memory.map((m) =>
      `  - { name: ${q(m.name)}, base: ${hex(m.base)}, size: ${hex(m.size)} } # ${
        formatSize(m.size)
      }`
    ),
  );
  lines.push(board.devices.length > 0 ? "devices:" : "devices: []");
  for (const d of board.devices) {
    lines.push(
      `  - name: ${q(d.name)}`,
      ...(d.path ? [`    path: ${q(d.path)}`] : []),
      `    compatible: [${d.compatible.map(q).join(", ")}]`,
      `    reg: [${d.reg.map(range).join(", ")}]`,
      ...(d.interrupts.length > 0 ? [`    interrupts: [${d.interrupts.join(", ")}]`] : []),
      `    sharing: ${d.sharing}`,
      ...(d.default ? ["    default: true"] : []),
      ...(d.console ? ["    console: true"] : []),
    );
  }
  lines.push("reserved:");
  for (const r of board.reserved) {
    lines.push(
      r.owner === "management"
        ? `  # DEFAULT, review: the management partition keeps its first core and ${
          formatSize(r.memory.reduce((sum, m) => sum + m.size, 0))
        } of RAM.`
        : "  # The firmware's memory (/memreserve/ and /reserved-memory): kept by the monitor.",
      `  - owner: ${r.owner}`,
      ...(r.cores.length > 0 ? [`    cores: [${r.cores.join(", ")}]`] : []),
      ...(r.memory.length > 0 ? [`    memory: [${r.memory.map(range).join(", ")}]`] : []),
      ...(r.devices.length > 0 ? [`    devices: [${r.devices.map(q).join(", ")}]`] : []),
    );
  }
  return lines.join("\n") + "\n";
}
