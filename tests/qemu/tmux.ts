/**
 * A terminal a test types into as a person would: a tmux session on a private
 * server (send-keys to type, capture-pane to read the screen).
 */
import { ROOT, VMANCTL_FLAGS } from "../cli/helpers.ts";

let sessions = 0;

/** One tmux session running a shell command. */
export class Tmux {
  private readonly socket = `vman-test-${Deno.pid}-${++sessions}`;

  private constructor() {}

  /** Starts `command` (bash) in a new 160×50 session. */
  static async start(command: string): Promise<Tmux> {
    const t = new Tmux();
    await t.tmux("new-session", "-d", "-x", "160", "-y", "50", "bash", "-c", command);
    return t;
  }

  /** The shell command that runs vmanctl with `args`, then prints its exit code and waits. */
  static vmanctl(args: string[]): string {
    const quoted = [Deno.execPath(), "run", ...VMANCTL_FLAGS, `${ROOT}/main.ts`, ...args]
      .map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
    return `stty -g > /dev/null; ${quoted}; echo "EXIT=$?"; stty -a | grep -o -- '-\\?icanon' ` +
      `| sed 's/^/TTY /'; exec sleep 600`;
  }

  private async tmux(...args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-L", this.socket, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`tmux ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
    return new TextDecoder().decode(out.stdout);
  }

  /** Types keys (tmux key names: `Enter`, `C-]`, or literal text). */
  async send(...keys: string[]): Promise<void> {
    await this.tmux("send-keys", "-t", "0", ...keys);
  }

  /** The screen's text, with its history. */
  screen(): Promise<string> {
    return this.tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", "0");
  }

  /** Waits until the screen matches `pattern`; returns the screen. */
  async waitFor(pattern: RegExp, ms = 30_000): Promise<string> {
    const deadline = Date.now() + ms;
    let text = "";
    while (Date.now() < deadline) {
      text = await this.screen();
      if (pattern.test(text)) return text;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`no ${pattern} on the screen in ${ms} ms:\n${text}`);
  }

  /** Ends the session and its server. */
  async kill(): Promise<void> {
    await this.tmux("kill-server").catch(() => {});
  }
}
