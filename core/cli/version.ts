/**
 * vmanager's version, in a module of its own: `vmanctl --version` loads nothing else.
 *
 * @module
 */

/** vmanager's version. */
export const VERSION = "0.1.0";
