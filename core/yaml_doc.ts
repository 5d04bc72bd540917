/**
 * YAML documents with positions, so that any error about a field can name the
 * file and line it is on.
 *
 * @module
 */
import {
  isAlias,
  isCollection,
  isMap,
  isPair,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
} from "yaml";
import type { Document, Node, Pair } from "yaml";

/**
 * Most nodes aliases may stand for, as the yaml library counts them (its
 * `maxAliasCount`, 100 by default): more is an alias bomb ("billion laughs"), a
 * syntax problem at the alias that passes the limit.
 */
export const MAX_ALIAS_COUNT = 100;

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
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // The library names no place: find the alias that passes the limit.
    const offset = aliasBombAt(doc) ?? firstAliasAt(doc);
    const message = (error instanceof Error ? error.message : String(error)).split("\n")[0];
    return {
      syntax: [{
        where: offset === undefined ? `${file}:1` : lineAt(offset),
        message: error instanceof ReferenceError && /alias count/i.test(message)
          ? `${message} (aliases may stand for at most ${MAX_ALIAS_COUNT} nodes)`
          : message,
      }],
    };
  }
  return {
    value,
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

/**
 * The offset of the first alias (in document order) at which the yaml library's
 * alias count passes {@linkcode MAX_ALIAS_COUNT}: each use of an anchor counts the
 * most nodes any path through the anchored node stands for (an alias in it
 * counting its own anchor's uses times their weight), as the library does.
 */
function aliasBombAt(doc: Document): number | undefined {
  // As the library keeps them: an anchor counts itself once, and its weight is
  // worked out at its first use (again while it is 0).
  const latest = new Map<string, { count: number; weight: number; node: Node }>();
  const weightOf = (node: unknown): number => {
    if (isAlias(node)) {
      const data = latest.get(node.source);
      return data ? data.count * data.weight : 0;
    }
    if (isCollection(node)) {
      let most = 0;
      for (const item of node.items) most = Math.max(most, weightOf(item));
      return most;
    }
    if (isPair(node)) return Math.max(weightOf(node.key), weightOf(node.value));
    return 1;
  };
  let found: number | undefined;
  visit(doc, {
    Node(_key, node) {
      if (isAlias(node)) {
        const data = latest.get(node.source);
        if (!data) return;
        data.count += 1;
        if (data.weight === 0) data.weight = weightOf(data.node);
        if (data.count * data.weight > MAX_ALIAS_COUNT) {
          found = node.range?.[0];
          return visit.BREAK;
        }
      } else {
        const anchor = (node as { anchor?: string }).anchor;
        if (anchor) latest.set(anchor, { count: 1, weight: 0, node });
      }
    },
  });
  return found;
}

/** The offset of the document's first alias. */
function firstAliasAt(doc: Document): number | undefined {
  let found: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      found = node.range?.[0];
      return visit.BREAK;
    },
  });
  return found;
}
