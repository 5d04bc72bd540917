/**
 * YAML documents with positions, so that any error about a field can name the
 * file and line it is on.
 *
 * @module
 */
import { isMap, isSeq, LineCounter, parseDocument } from "yaml";
import type { Node, Pair } from "yaml";

/** A parsed YAML document and a way to find where a field is. */
export interface LocatedYaml {
  /** The document as plain data. */
  value: unknown;
  /** `file:line` of the field at `path` (of its key when `key` names a map entry). */
  where(path: readonly (string | number)[], key?: string): string;
}

/** A YAML syntax error at a place. */
export interface YamlSyntaxProblem {
  /** `file:line`. */
  where: string;
  /** What the parser said (its first line). */
  message: string;
}

/** Parses YAML text; returns the located document or the syntax problems. */
export function parseLocatedYaml(
  text: string,
  file: string,
): LocatedYaml | { syntax: YamlSyntaxProblem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number) => `${file}:${lineCounter.linePos(offset).line}`;
  if (doc.errors.length > 0) {
    return {
      syntax: doc.errors.map((e) => ({
        where: lineAt(e.pos[0]),
        message: e.message.split("\n")[0],
      })),
    };
  }
  return {
    value: doc.toJS(),
    where(path, key) {
      const node = nodeAt(
        doc.contents as Node | null,
        key === undefined ? path : path.slice(0, -1),
        key,
      );
      return node?.range ? lineAt(node.range[0]) : `${file}:1`;
    },
  };
}

function keyOf(pair: Pair<Node, Node>): unknown {
  return (pair.key as { value?: unknown } | null)?.value;
}

function nodeAt(root: Node | null, path: readonly (string | number)[], key?: string): Node | null {
  let node: Node | null = root;
  let keyNode: Node | null = null;
  for (const step of path) {
    const next = childOf(node, step);
    if (!next) break;
    // A problem about a whole list or map is reported on its key's line.
    keyNode = isMap(node)
      ? (node.items as Pair<Node, Node>[]).find((p) => keyOf(p) === step)?.key ?? null
      : null;
    node = next;
  }
  if (key === undefined && keyNode && (isMap(node) || isSeq(node))) return keyNode;
  if (key !== undefined && isMap(node)) {
    const pair = (node.items as Pair<Node, Node>[]).find((p) => keyOf(p) === key);
    if (pair?.key) return pair.key;
  }
  return node;
}

function childOf(node: Node | null, step: string | number): Node | null {
  if (isMap(node)) {
    const pair = (node.items as Pair<Node, Node>[]).find((p) => keyOf(p) === step);
    return pair?.value ?? pair?.key ?? null;
  }
  if (isSeq(node) && typeof step === "number") {
    return (node.items[step] as Node | undefined) ?? null;
  }
  return null;
}
