/**
 * The error of `board import`, apart so that the modules import.ts calls can
 * throw it without importing import.ts.
 *
 * @module
 */
import { InputError } from "../errors.ts";

/** A device tree that cannot become a board: names what and where. Exit code 2. */
export class BoardImportError extends InputError {}
