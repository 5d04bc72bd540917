/**
 * What every command gets: its output channels, the global options, the state
 * store, and lazily the configuration, the plugin registry and the lifecycle
 * context. Commands that only read the state (list, show) load no plugins.
 *
 * @module
 */
import { InputError, StateError } from "../errors.ts";
import type { VmanConfig } from "../config.ts";
import type { Board } from "../model.ts";
import type { LifecycleContext } from "../partition/lifecycle.ts";
import type { BoardFile } from "../registry/discover.ts";
import type { BoardPlugin, Plugin } from "../registry/plugin.ts";
import type { Registry, ReservedNames } from "../registry/registry.ts";
import type { BuiltinLoader } from "../registry/selection.ts";
import type { Registries, RegistryRequest } from "./registries.ts";
import { type StateDocument, StateStore } from "../state/store.ts";
import { needsConvergence } from "../state/lookup.ts";
import type { Observer } from "../partition/observe.ts";

/** Where a command writes. */
export interface Io {
  /** Standard output (a newline is added). */
  out(text: string): void;
  /** Standard error (a newline is added). */
  err(text: string): void;
  /** The terminal, for commands that talk to it in bytes (`console`); a real process has it. */
  terminal?: Terminal;
}

/** Standard input and output as bytes, and the terminal's mode. */
export interface Terminal {
  /** Whether standard input is a terminal. */
  isTerminal(): boolean;
  /** Turns the terminal's raw mode on or off (standard input must be a terminal). */
  setRaw(on: boolean): void;
  /** Standard input. */
  readonly input: ReadableStream<Uint8Array>;
  /** Writes bytes to standard output. */
  write(bytes: Uint8Array): Promise<void>;
}

/** What the composition root hands the CLI. */
export interface CliHost {
  /** Output channels. */
  io: Io;
  /** Environment lookup. */
  env(name: string): string | undefined;
  /** The built-in plugins. */
  builtins(): Promise<readonly Plugin[]>;
  /**
   * The built-in plugins that add commands (a part of {@linkcode builtins}): what
   * the command table needs (`--help`, completion, a plugin's command word), without
   * loading every plugin. All the built-ins when absent.
   */
  commandPlugins?(): Promise<readonly Plugin[]>;
  /** The built-in board files. */
  boardFiles(): Promise<readonly BoardFile[]>;
  /**
   * The built-ins of {@linkcode builtins} one by one, so that a command loads only
   * those it needs (see registries.ts); absent, a command loads them all.
   */
  builtinTable?: readonly BuiltinLoader[];
}

/** Global options after parsing. */
export interface GlobalOptions {
  /** `--state-dir`. */
  stateDir?: string;
  /** `--config`. */
  config?: string;
  /** `--board`. */
  board?: string;
  /** `--backend`. */
  backend?: string;
  /** `--plugin-dir` values. */
  pluginDirs: string[];
  /** `--json`. */
  json: boolean;
  /** `-v`. */
  verbose: boolean;
  /** The command line, for the state lock's holder (what a waiting command names). */
  invocation?: string;
}

/** The default state directory. */
export const DEFAULT_STATE_DIR = "/var/lib/vmanager";
/** The backend of a new state dir when nothing names one. */
export const DEFAULT_BACKEND = "dry-run";

/** The context of one command run. */
export class CliContext {
  private configCache?: Promise<VmanConfig>;
  private registriesCache?: Promise<Registries>;
  private storeCache?: Promise<StateStore>;
  private readonly warned = new Set<string>();

  /**
   * Makes the context from the host and the parsed global options; `reserved`
   * names what plugins' commands may not take (the CLI's own commands and options).
   */
  constructor(
    readonly host: CliHost,
    readonly globals: GlobalOptions,
    private readonly reserved?: ReservedNames,
  ) {}

  /** Output channels. */
  get io(): Io {
    return this.host.io;
  }

  /** Prints a JSON document on stdout. */
  json(value: unknown): void {
    this.io.out(JSON.stringify(value, null, 2));
  }

  /** The configuration file's values (empty when there is none). */
  config(): Promise<VmanConfig> {
    // Loaded on demand: a command given its state dir reads no configuration.
    return this.configCache ??= import("../config.ts").then(({ loadConfig }) =>
      loadConfig(this.globals.config)
    );
  }

  /** The state store: `--state-dir`, `VMAN_STATE_DIR`, the configuration's, or the default. */
  store(): Promise<StateStore> {
    return this.storeCache ??= (async () => {
      const dir = this.globals.stateDir ?? this.host.env("VMAN_STATE_DIR") ??
        (await this.config()).stateDir ?? DEFAULT_STATE_DIR;
      const timeout = this.host.env("VMAN_LOCK_TIMEOUT");
      const seconds = timeout === undefined || timeout === "" ? undefined : Number(timeout);
      if (seconds !== undefined && !(Number.isFinite(seconds) && seconds >= 0)) {
        throw new InputError(`'${timeout}' is not a number of seconds`, "VMAN_LOCK_TIMEOUT");
      }
      return new StateStore(dir, {
        lockTimeout: seconds === undefined ? undefined : seconds * 1000,
        holder: this.globals.invocation,
      });
    })();
  }

  /**
   * The plugin registry: built-ins and the plugin directories' plugins. Without
   * `boards`, board descriptions are not loaded (commands that use the state dir's
   * own copy of its board need none, and start faster). A selection (`kinds`,
   * `arch`, `monitor`) asks for those built-ins only, and no boards: the others may
   * be missing from the registry (see registries.ts).
   */
  async registry(options: RegistryRequest = {}): Promise<Registry> {
    return await (await this.registries()).get(options);
  }

  /**
   * A registry for the plugins' commands only: the built-ins that add commands
   * ({@linkcode CliHost.commandPlugins}) and the plugin directories' plugins (see
   * registries.ts).
   */
  async commandRegistry(): Promise<Registry> {
    return await (await this.registries()).commands();
  }

  private registries(): Promise<Registries> {
    // The registry's own modules load with registries.ts, not after it: every registry needs them.
    return this.registriesCache ??= Promise.all([
      import("./registries.ts"),
      import("../registry/discover.ts"),
    ]).then(([{ Registries }]) =>
      new Registries(this.host, {
        globals: this.globals,
        config: () => this.config(),
        reserved: this.reserved,
        // Said once, though a command may build the registry without and with boards.
        warn: (line) => {
          if (!this.warned.has(line)) this.io.err(`vmanctl: warning: ${line}`);
          this.warned.add(line);
        },
      })
    );
  }

  /**
   * The backend's observer of running partitions, for a state document with at
   * least one running partition whose backend can observe them; else undefined
   * (and no registry is built).
   */
  async observer(doc: StateDocument | undefined): Promise<Observer | undefined> {
    if (!doc || !doc.partitions.some((p) => p.state === "running")) return undefined;
    const registry = await this.registry({ monitor: doc.backend });
    if (!registry.has("monitor", doc.backend)) return undefined;
    const plugin = registry.get("monitor", doc.backend);
    if (!plugin.observe) return undefined;
    const context = { stateDir: (await this.store()).dir, board: doc.board };
    return (id) => plugin.observe!(context, id);
  }

  /** A board plugin by name, or from a board YAML file when the value is a path. */
  async boardPlugin(nameOrFile: string): Promise<BoardPlugin> {
    const registry = await this.registry();
    if (!isBoardFile(nameOrFile)) return registry.get("board", nameOrFile);
    const { boardPluginFromFile } = await import("../board/load.ts");
    // An arch that is not registered is one of the file's problems.
    return await boardPluginFromFile(
      nameOrFile,
      registry.list("arch").map((entry) => entry.plugin),
    );
  }

  /** A board by name, or from a board YAML file when the value is a path. */
  async board(nameOrFile: string): Promise<Board> {
    return (await this.boardPlugin(nameOrFile)).board;
  }

  /**
   * The state dir's document, with what an interrupted operation left converged
   * first (see core/partition/transaction.ts): what read-only commands show.
   */
  async converged(): Promise<StateDocument | undefined> {
    const store = await this.store();
    const doc = await store.read();
    if (!needsConvergence(doc)) return doc;
    const { convergedState } = await import("../partition/transaction.ts");
    return await convergedState(await this.lifecycle());
  }

  /** The lifecycle context: state store, set-up of new state dirs, monitor backends. */
  async lifecycle(): Promise<LifecycleContext> {
    const store = await this.store();
    return {
      store,
      // A board given as a file is checked by the name it describes.
      requested: {
        board: this.globals.board === undefined
          ? undefined
          : isBoardFile(this.globals.board)
          ? (await this.board(this.globals.board)).name
          : this.globals.board,
        backend: this.globals.backend,
      },
      setup: async () => {
        const config = await this.config();
        const boardName = this.globals.board ?? config.board;
        if (boardName === undefined) {
          throw new InputError(
            `the state dir has no board yet: give --board NAME (vmanctl board list shows them)`,
            store.dir,
          );
        }
        const { board, devicetree } = await this.boardPlugin(boardName);
        const backend = this.globals.backend ?? config.backend ?? DEFAULT_BACKEND;
        const why = (await this.registry()).get("monitor", backend).checkBoard?.(board);
        if (why) throw new InputError(why, `--backend ${backend}`);
        return { board, backend, devicetree };
      },
      windowAlignment: async (board) =>
        (await this.registry({ arch: board.arch })).get("arch", board.arch).windowAlignment,
      arch: async (board) => (await this.registry({ arch: board.arch })).get("arch", board.arch),
      prepareBoot: async (record, board, devicetree) => {
        const { BOARD_DTB } = await import("../state/store.ts");
        const { prepareBoot } = await import("../boot/prepare.ts");
        const boardDtb = devicetree ?? store.readFile(BOARD_DTB);
        // The board's arch plugin reads the kernel; the others are loaded only when it
        // does not take it, so that a kernel of another architecture is named as such.
        const otherArchs = async () =>
          (await this.registry({ kinds: ["arch"] })).list("arch").map((entry) => entry.plugin);
        const registry = await this.registry({ kinds: ["feature"], arch: board.arch });
        return await prepareBoot(registry, board, boardDtb, record, otherArchs);
      },
      observe: async (doc) => await this.observer(doc),
      boardTree: async (board, devicetree) =>
        await (await import("./shared_resources.ts")).boardTreeOf(this, board, devicetree),
      forget: async (doc, id) => {
        const registry = await this.registry({ monitor: doc.backend });
        const plugin = registry.has("monitor", doc.backend)
          ? registry.get("monitor", doc.backend)
          : undefined;
        await plugin?.forget?.({ stateDir: store.dir, board: doc.board }, id);
      },
      requestShutdown: async (doc, id) => {
        const registry = await this.registry({ monitor: doc.backend });
        const plugin = registry.get("monitor", doc.backend);
        if (!plugin.requestShutdown) {
          throw new StateError(
            `backend ${doc.backend} cannot ask a partition's OS to power off; ` +
              `'vmanctl stop' stops it hard`,
          );
        }
        await plugin.requestShutdown({ stateDir: store.dir, board: doc.board }, id);
      },
      monitor: async (backend, board) => {
        const registry = await this.registry({ monitor: backend, arch: board.arch });
        return registry.get("monitor", backend).create({
          stateDir: store.dir,
          board,
          arch: registry.get("arch", board.arch),
        });
      },
    };
  }
}

/** True when a `--board` value names a file rather than a registered board. */
export function isBoardFile(value: string): boolean {
  return /[/\\]|\.ya?ml$/.test(value);
}
