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
import { type BoardProblem, boardProblems, problemPath } from "./rules.ts";
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
 * The arch plugins a board is checked against: the registered ones (a board naming
 * another arch is refused at its `arch:` line), or a lookup (a board whose arch it
 * does not find is taken without its arch's checks).
 */
export type ArchSource = readonly ArchPlugin[] | ((name: string) => ArchPlugin | undefined);

/**
 * Parses and validates a board YAML document. With `archs`, the board's arch
 * must be one of them (when a list) and core ids, conduit and power interface
 * are checked against its rules too.
 */
export function loadBoardYaml(
  text: string,
  file: string,
  archs?: ArchSource,
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
  const problems = archProblems(parsed.board, archs);
  const arch = typeof archs === "function"
    ? archs(parsed.board.arch)
    : archs?.find((a) => a.name === parsed.board.arch);
  problems.push(...boardProblems(parsed.board, arch));
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
  archs?: ArchSource,
  devicetree?: Uint8Array,
): BoardPlugin {
  const { board, version } = loadBoardYaml(text, file, archs);
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
  archs?: ArchSource,
): Promise<BoardPlugin> {
  const text = await readBoardFile(path);
  const plugin = boardPluginFromYaml(text, path, archs);
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

/** The board's arch when `archs` is the list of registered ones and does not hold it. */
function archProblems(board: Board, archs: ArchSource | undefined): BoardProblem[] {
  if (archs === undefined || typeof archs === "function") return [];
  if (archs.some((a) => a.name === board.arch)) return [];
  const known = archs.map((a) => a.name).sort().join(", ") || "none";
  return [{
    path: ["arch"],
    message: `needs arch plugin '${board.arch}', which is not registered (known: ${known})`,
  }];
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
