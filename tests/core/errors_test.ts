/**
 * core/errors.ts: the one helper that makes an error's line escapes control
 * characters in the message and the where.
 */
import assert from "node:assert/strict";
import { clip, errorLine, escapeControl, InputError } from "../../core/errors.ts";

Deno.test("escapeControl writes controls as escapes and leaves the rest", () => {
  assert.equal(escapeControl("a\nb\r\tc"), "a\\nb\\r\\tc");
  assert.equal(escapeControl("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
  assert.equal(escapeControl("\0\x7f\x85\u2028\u202e"), "\\x00\\x7f\\x85\\u2028\\u202e");
  assert.equal(escapeControl("héllo /tmp/a\\nb ü 日本"), "héllo /tmp/a\\nb ü 日本");
  assert.equal(escapeControl(escapeControl("a\nb")), "a\\nb", "idempotent");
});

Deno.test("an error line escapes its message and its where", () => {
  const error = new InputError("no partition named 'a\nb\x1b[2J'", "x\ny");
  assert.equal(error.line(), "no partition named 'a\\nb\\x1b[2J' (x\\ny)");
  assert.equal(errorLine(error), error.line());
  assert.equal(errorLine(new Error("two\nlines")), "two\\nlines");
  assert.equal(errorLine("bare\x07"), "bare\\x07");
  assert.ok([...error.line()].every((c) => c.charCodeAt(0) >= 0x20), "no control left");
});

Deno.test("clip cuts long text for messages, never inside a surrogate pair", () => {
  assert.equal(clip("abc", 5), "abc");
  assert.equal(clip("abcdef", 3), "abc…");
  assert.equal(clip("ab😀", 3), "ab…");
});
