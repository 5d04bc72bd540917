/**
 * An interactive console session on the user's terminal, as `virsh console` and
 * `xl console` have it: raw mode on a terminal, `Ctrl-]` detaches, the terminal
 * restored on every way out (detach, the partition stops, a signal, an error).
 * Without a terminal (a script), standard input is forwarded; at its end the
 * session stays until the console has been quiet for {@linkcode QUIET_MS}, so a
 * piped command's answer is printed, then detaches.
 *
 * @module
 */
import type { ConsoleEnd, ConsoleSession } from "../../monitor/console.ts";
import type { Terminal } from "../context.ts";

/** The escape byte: Ctrl-] (0x1d), as in telnet, virsh and xl. */
export const ESCAPE = 0x1d;
/** Without a terminal: how long the console must be quiet after input ends. */
export const QUIET_MS = 500;
/** Without a terminal: the longest wait for output after input ends. */
const LINGER_MS = 10_000;
const SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];

/** How an attached session ended. */
export type AttachEnd = ConsoleEnd | "detached" | "input-ended" | Deno.Signal;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Copies the partition's output to the terminal; records when output last came. */
async function pumpOutput(
  session: ConsoleSession,
  term: Terminal,
  seen: { last: number },
): Promise<void> {
  for await (const chunk of session.output) {
    seen.last = Date.now();
    await term.write(chunk);
  }
}

/** Copies the terminal's input to the partition until Ctrl-] (on a terminal) or its end. */
async function pumpInput(
  session: ConsoleSession,
  term: Terminal,
  tty: boolean,
): Promise<"detached" | "input-ended"> {
  const reader = term.input.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return "input-ended";
      const escape = tty ? value.indexOf(ESCAPE) : -1;
      const part = escape >= 0 ? value.subarray(0, escape) : value;
      if (part.length > 0) await session.write(part);
      if (escape >= 0) return "detached";
    }
  } finally {
    reader.releaseLock();
  }
}

/** Resolves when one of the signals arrives; `remove` takes the listeners off. */
function signalled(): { arrived: Promise<Deno.Signal>; remove: () => void } {
  let resolve!: (signal: Deno.Signal) => void;
  const arrived = new Promise<Deno.Signal>((r) => resolve = r);
  const handlers = SIGNALS.map((signal) => {
    const handler = () => resolve(signal);
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  const remove = () => handlers.forEach(([s, h]) => Deno.removeSignalListener(s, h));
  return { arrived, remove };
}

/** After input ended without a terminal: waits for the console to go quiet. */
async function linger(ended: Promise<ConsoleEnd>, seen: { last: number }): Promise<AttachEnd> {
  let end: ConsoleEnd | undefined;
  ended.then((e) => end = e);
  const deadline = Date.now() + LINGER_MS;
  while (end === undefined && Date.now() < deadline && Date.now() - seen.last < QUIET_MS) {
    await sleep(50);
  }
  return end ?? "input-ended";
}

/**
 * Runs `session` on `term` until the user detaches, the partition stops, the
 * session is taken over, a signal arrives or (without a terminal) input ends.
 * Restores the terminal and closes the session before it returns.
 */
export async function attachTerminal(
  session: ConsoleSession,
  term: Terminal,
): Promise<AttachEnd> {
  const tty = term.isTerminal();
  const seen = { last: Date.now() };
  const signals = signalled();
  if (tty) term.setRaw(true);
  try {
    const output = pumpOutput(session, term, seen).catch(() => {});
    const input = pumpInput(session, term, tty).catch(() => "input-ended" as const);
    let end: AttachEnd = await Promise.race([session.ended, input, signals.arrived]);
    if (end === "input-ended") end = await linger(session.ended, seen);
    session.close();
    await output;
    return end;
  } finally {
    if (tty) term.setRaw(false);
    signals.remove();
    session.close();
  }
}
