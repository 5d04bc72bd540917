/**
 * Loads board descriptions from YAML. Every error names the file and line and
 * the field, e.g. `board field coers: unknown field 'coers' (boards/x.yaml:7)`.
 *
 * @example
 * ```ts
 * import { boardPluginFromYaml } from "./load.ts";
 * const plugin = boardPluginFromYaml(await Deno.readTextFile("my-board.yaml"), "my-board.yaml");
 * ```
 * @module
 */
import { BoardError } from "../errors.ts";
import type { Board } from "../model.ts";
import type { ArchPlugin, BoardPlugin } from "../registry/plugin.ts";
import { PLUGIN_API_VERSION } from "../registry/plugin.ts";
import { parseLocatedYaml } from "../yaml_doc.ts";
import {
  FileInputError,
  MAX_BOARD_BYTES,
  MAX_DTB_BYTES,
  readRegularFile,
  readRegularTextFile,
} from "../files.ts";
import { boardProblems, problemPath } from "./rules.ts";
import { parseBoard } from "./schema.ts";

/** One located problem of a board file. */
export interface LocatedProblem {
  /** `file:line`. */
  where: string;
  /** Field path, e.g. `cores[2].hwid`; empty for syntax errors. */
  field: string;
  /** What is wrong. */
  message: string;
}

/** Thrown for an invalid board file; `problems` lists them all, the first in the message. */
export class BoardFileError extends BoardError {
  /** Every problem found, in document order. */
  readonly problems: LocatedProblem[];
  /** Makes the error from its problems (at least one). */
  constructor(problems: LocatedProblem[]) {
    const first = problems[0];
    super(
      first.field ? `board field ${first.field}: ${first.message}` : first.message,
      first.where,
    );
    this.problems = problems;
  }
}

/**
 * Parses and validates a board YAML document. With `archOf`, core ids are checked
 * against the architecture's rules too.
 */
export function loadBoardYaml(
  text: string,
  file: string,
  archOf?: (name: string) => ArchPlugin | undefined,
): { board: Board; version: string } {
  const doc = parseLocatedYaml(text, file);
  if ("syntax" in doc) {
    throw new BoardFileError(
      doc.syntax.map((s) => ({ where: s.where, field: "", message: `YAML: ${s.message}` })),
    );
  }
  const parsed = parseBoard(doc.value);
  if ("problems" in parsed) {
    throw new BoardFileError(parsed.problems.map((p) => ({
      where: doc.where(p.path, p.key),
      field: problemPath(p.path),
      message: p.message,
    })));
  }
  const problems = boardProblems(parsed.board, archOf?.(parsed.board.arch));
  if (problems.length > 0) {
    throw new BoardFileError(problems.map((p) => ({
      where: doc.where(p.path),
      field: problemPath(p.path),
      message: p.message,
    })));
  }
  return parsed;
}

/** Loads a board YAML as a board plugin, with its device tree when given. */
export function boardPluginFromYaml(
  text: string,
  file: string,
  archOf?: (name: string) => ArchPlugin | undefined,
  devicetree?: Uint8Array,
): BoardPlugin {
  const { board, version } = loadBoardYaml(text, file, archOf);
  return {
    kind: "board",
    name: board.name,
    version,
    apiVersion: PLUGIN_API_VERSION,
    description: board.description,
    board,
    ...(devicetree ? { devicetree } : {}),
  };
}

/**
 * Loads a board YAML file as a board plugin, reading the device tree it names
 * (`devicetree:`, relative to the YAML file).
 */
export async function boardPluginFromFile(
  path: string,
  archOf?: (name: string) => ArchPlugin | undefined,
): Promise<BoardPlugin> {
  const text = await readBoardFile(path);
  const plugin = boardPluginFromYaml(text, path, archOf);
  const name = plugin.board.devicetree;
  if (name === undefined) return plugin;
  const dtbPath = name.startsWith("/") ? name : `${path.replace(/[^/]*$/, "") || "./"}${name}`;
  try {
    return {
      ...plugin,
      devicetree: await readRegularFile(
        dtbPath,
        MAX_DTB_BYTES,
        `the board's device tree ${dtbPath}`,
      ),
    };
  } catch (error) {
    if (!(error instanceof FileInputError)) throw error;
    // The board file is the place to look: it names the DTB.
    throw new BoardError(error.message, path, { cause: error });
  }
}

/**
 * Reads a board YAML file: a regular file of at most {@linkcode MAX_BOARD_BYTES}.
 * Throws {@linkcode BoardError} (exit 2) naming the file otherwise.
 */
export async function readBoardFile(path: string): Promise<string> {
  try {
    return await readRegularTextFile(path, MAX_BOARD_BYTES, "the board file");
  } catch (error) {
    if (!(error instanceof FileInputError)) throw error;
    throw new BoardError(error.message, path, { cause: error });
  }
}
