/**
 * Partition names: what a user may call a partition.
 *
 * @module
 */
import { clip, InputError } from "../errors.ts";

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * Throws {@linkcode InputError} unless `name` is 1–64 letters, digits, `_`, `.`, `-`,
 * not starting with a symbol. The refusal echoes the name cut to 64 characters
 * (its control characters are escaped when the error line is made).
 */
export function validateName(name: string): void {
  if (!NAME.test(name)) {
    throw new InputError(
      `partition name '${
        clip(name)
      }' must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit`,
      "NAME",
    );
  }
}
