/**
 * `board import`'s choice of architecture: each registered arch plugin's
 * `detectCpu` judges the device tree's cpu nodes and the most confident one takes
 * the board. Nothing here knows an architecture.
 *
 * @example
 * ```ts
 * import { detectArch } from "./detect_arch.ts";
 * import type { ArchPlugin } from "../registry/plugin.ts";
 * import type { FdtNode } from "../devicetree/tree.ts";
 * declare const cpuNodes: FdtNode[];
 * declare const archs: ArchPlugin[];
 * detectArch(cpuNodes, archs).name; // "armv8" for cortex-a53 cpus
 * ```
 * @module
 */
import type { FdtNode } from "../devicetree/tree.ts";
import { getProp } from "../devicetree/tree.ts";
import { readStrings } from "../devicetree/values.ts";
import type { ArchPlugin, CpuNodes } from "../registry/plugin.ts";
import { BoardImportError } from "./import_error.ts";

/** The cpu nodes as `detectCpu` sees them. */
function cpuNodesOf(nodes: readonly FdtNode[]): CpuNodes {
  const compatibles = nodes.flatMap((c) => {
    const prop = getProp(c, "compatible");
    return prop ? readStrings(prop.value) : [];
  });
  return { compatibles, nodes };
}

/**
 * The arch plugin whose `detectCpu` is most confident of the cpus. Throws
 * {@linkcode BoardImportError} (`/cpus`) when none takes them — with a plugin's
 * `unsupported` reason when one gave it — or when two are equally sure.
 */
export function detectArch(nodes: readonly FdtNode[], archs: readonly ArchPlugin[]): ArchPlugin {
  const cpus = cpuNodesOf(nodes);
  let best: ArchPlugin[] = [];
  let bestConfidence = 0;
  let unsupported: string | undefined;
  for (const arch of archs) {
    const verdict = arch.detectCpu?.(cpus);
    if (verdict === undefined) continue;
    if ("unsupported" in verdict) {
      unsupported ??= verdict.unsupported;
      continue;
    }
    if (verdict.confidence > bestConfidence) {
      best = [arch];
      bestConfidence = verdict.confidence;
    } else if (verdict.confidence === bestConfidence) best.push(arch);
  }
  const names = archs.map((a) => a.name).join(", ");
  if (best.length === 1) return best[0];
  if (best.length > 1) {
    throw new BoardImportError(
      `the cpus fit arch ${best.map((a) => a.name).join(" and ")} alike; give --arch (${names})`,
      "/cpus",
    );
  }
  if (unsupported) throw new BoardImportError(unsupported, "/cpus");
  throw new BoardImportError(
    `cannot tell the architecture from cpu compatible ${
      JSON.stringify(cpus.compatibles[0] ?? "(none)")
    }; give --arch (${names})`,
    "/cpus",
  );
}
