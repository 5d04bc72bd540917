/**
 * What the pruning asks of the board's tree, on its flat index
 * ({@linkcode FdtIndex}): the ids of the property names it tests, the phandles,
 * the targets of a reference property, and board nodes as objects (properties
 * only) for the reference fixing, made when first asked for.
 *
 * @module
 */
import type { FdtNode } from "./tree.ts";
import type { FdtIndex } from "./fdt_index.ts";
import { isHole, referenceKind } from "./references.ts";

/** The name ids of the properties the pruning tests. */
export interface PropIds {
  /** `reg`. */
  reg: number;
  /** `ranges`. */
  ranges: number;
  /** `device_type`. */
  deviceType: number;
  /** `interrupt-controller`. */
  interruptController: number;
  /** `interrupt-affinity`. */
  interruptAffinity: number;
  /** `#address-cells`. */
  addressCells: number;
  /** `gpio-hog`. */
  gpioHog: number;
}

/** The board's tree as the pruning reads it. */
export class BoardIndex {
  /** The flat tree. */
  readonly index: FdtIndex;
  /** Name ids of the properties tested. */
  readonly ids: PropIds;
  /** The node of each phandle ({@linkcode FdtIndex.phandles}). */
  readonly phandles: Map<number, number>;
  /** The root's `/cpus` child, -1 when there is none. */
  readonly cpus: number;
  /** Each name id's reference kind ({@linkcode referenceKind}), null when not a reference. */
  readonly #kinds: (string | null)[] = [];
  readonly #shallow: (FdtNode | undefined)[] = [];
  readonly #nodeIndex = new Map<FdtNode, number>();

  /** Indexes the phandles of `index`. */
  constructor(index: FdtIndex) {
    this.index = index;
    const id = (name: string) => index.nameId(name);
    this.ids = {
      reg: id("reg"),
      ranges: id("ranges"),
      deviceType: id("device_type"),
      interruptController: id("interrupt-controller"),
      interruptAffinity: id("interrupt-affinity"),
      addressCells: id("#address-cells"),
      gpioHog: id("gpio-hog"),
    };
    this.phandles = index.phandles();
    this.cpus = index.child(0, "cpus");
  }

  /** The reference kind of name id `id`: a cells property name, "" for bare phandles, or null. */
  kindOf(id: number): string | null {
    let kind = this.#kinds[id];
    if (kind === undefined) {
      kind = referenceKind(this.index.data.propNames[id]) ?? null;
      this.#kinds[id] = kind;
    }
    return kind;
  }

  /**
   * Calls `visit` with the node each entry of reference property `p` names, in
   * order; skips empty entries (a 0 or 0xffffffff cell, {@linkcode isHole}); stops at a
   * phandle that names no node (the rest cannot be split).
   */
  eachTarget(p: number, visit: (target: number) => void): void {
    const { index } = this;
    const kind = this.kindOf(index.data.propName[p]);
    const length = index.data.valueLength[p];
    if (kind === null || length % 4 !== 0) return;
    const argsId = kind === "" ? -1 : index.nameId(kind);
    for (let k = 0; k < length / 4;) {
      const phandle = index.cell(p, k);
      if (isHole(phandle)) {
        k += 1;
        continue;
      }
      const target = this.phandles.get(phandle);
      if (target === undefined) return;
      visit(target);
      k += 1 + (index.u32(index.prop(target, argsId)) ?? 0);
    }
  }

  /**
   * Whether property `p` of node `i` holds references: a reference property
   * ({@linkcode referenceKind}), but not the GPIO list of a GPIO hog, which holds
   * a line number and flags of its parent controller.
   */
  refers(i: number, p: number): boolean {
    const kind = this.kindOf(this.index.data.propName[p]);
    return kind !== null && !(kind === "#gpio-cells" && this.index.has(i, this.ids.gpioHog));
  }

  /** Whether `i` is `/cpus`, or under it, or any top-level node whose name starts with `cpus`. */
  underCpus(i: number): boolean {
    const parent = this.index.data.parent;
    if (i <= 0) return false;
    let top = i;
    while (parent[top] > 0) top = parent[top];
    return this.index.nameOf(top).startsWith("cpus");
  }

  /** Board node `i` as an object with its properties (no children), made once. */
  shallow(i: number): FdtNode {
    let made = this.#shallow[i];
    if (!made) {
      made = {
        name: this.index.nameOf(i),
        props: this.index.props(i, this.index.data.bytes),
        children: [],
      };
      this.#shallow[i] = made;
      this.#nodeIndex.set(made, i);
    }
    return made;
  }

  /** The index of a node {@linkcode shallow} made, -1 for any other. */
  indexOf(node: FdtNode): number {
    return this.#nodeIndex.get(node) ?? -1;
  }
}
