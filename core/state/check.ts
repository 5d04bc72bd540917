/**
 * How the store checks every state document it reads: the quick check
 * (core/state/quick_check.ts, no zod) and, when that is not sure, the schema
 * (core/state/schema.ts, loaded only then) for the verdict and its error line;
 * then the rules a schema cannot say (the board rules, unique partition names,
 * each boot core one of its partition's cores). A document either check refuses
 * is a {@linkcode StateDocumentError} naming the field by its JSON path.
 *
 * @example
 * ```ts
 * import { checkState } from "./check.ts";
 * const doc = await checkState(JSON.parse(text), "/var/lib/vmanager/state.json");
 * ```
 * @module
 */
import { VmanError } from "../errors.ts";
import { boardProblems, problemPath } from "../board/rules.ts";
import type { Board } from "../model.ts";
import type { StateDocument } from "./store.ts";
import { fitsStateSchema } from "./quick_check.ts";

/** A state document that does not fit its schema. Exit code 1 (the state dir cannot be used). */
export class StateDocumentError extends VmanError {
  /** The JSON path of the first problem, e.g. `partitions[0].allocation`. */
  readonly path: string;
  /** Makes the error; `where` is the state file. */
  constructor(message: string, path: string, where: string) {
    super(message, where);
    this.path = path;
  }
}

/**
 * Checks a parsed state document and returns it unchanged; throws
 * {@linkcode StateDocumentError} (exit 1, `where` = `file`) for its first problem.
 */
export async function checkState(value: unknown, file: string): Promise<StateDocument> {
  if (fitsStateSchema(value)) {
    const doc = value as StateDocument;
    return checkStateRules(doc, doc.board, file);
  }
  const { validateState } = await import("./schema.ts");
  return validateState(value, file);
}

/**
 * The rules beyond the schema, on a document that fits it: `board` (the document's
 * board as the schema parsed it) obeys the board rules, partition names are
 * unique, each boot core is one of its partition's cores. Returns `doc`.
 */
export function checkStateRules(doc: StateDocument, board: Board, file: string): StateDocument {
  const problem = boardProblems(board)[0];
  if (problem) failState(["board", ...problem.path], problem.message, file);
  const names = new Map<string, number>();
  doc.partitions.forEach((record, i) => {
    const name = names.get(record.name);
    if (name !== undefined) {
      failState(["partitions", i, "name"], `repeats partitions[${name}]`, file);
    }
    names.set(record.name, i);
    if (!record.allocation.cores.includes(record.allocation.bootCore)) {
      failState(["partitions", i, "allocation", "bootCore"], "is not one of the cores", file);
    }
  });
  return doc;
}

/**
 * Throws the {@linkcode StateDocumentError} of a problem at `path`:
 * `state field partitions[0].allocation: required; no vmanctl command repairs it: …`.
 */
export function failState(
  path: readonly (string | number)[],
  message: string,
  file: string,
): never {
  const field = problemPath(path) || "(the document)";
  throw new StateDocumentError(
    `state field ${field}: ${message}; ${repairHint(path)}`,
    problemPath(path),
    file,
  );
}

/** What to do about a problem at `path`: no vmanctl command repairs a state it cannot read. */
function repairHint(path: readonly (string | number)[]): string {
  if (path[0] === "partitions" && typeof path[1] === "number") {
    return `no vmanctl command repairs it: fix or remove partitions[${
      path[1]
    }] in the file by hand`;
  }
  if (path[0] === "board") {
    return "no vmanctl command repairs it: restore the board copy by hand, or use a new state dir";
  }
  return "no vmanctl command repairs it: fix the file by hand, or use a new state dir";
}
