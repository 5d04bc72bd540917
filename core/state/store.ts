/**
 * The state store: one JSON document in the state directory holding the board
 * the directory was set up with, its backend and every partition. Reads need no
 * lock (writes replace the file atomically); every mutation runs under one
 * exclusive lock on `state.lock`, so concurrent vmanctl processes never lose an
 * update. The lock is waited for a bounded time ({@linkcode DEFAULT_LOCK_TIMEOUT},
 * `VMAN_LOCK_TIMEOUT`), then a command fails naming the holder, whose pid and
 * command the lock file carries. Writes go to a temporary file, are fsynced, then
 * renamed over `state.json`, and the directory is fsynced; the temporary files of
 * writers that died are removed when the lock is next taken.
 *
 * @example
 * ```ts
 * import { StateStore } from "./store.ts";
 * const store = new StateStore("/var/lib/vmanager");
 * await store.update((doc) => ({ doc: { ...doc!, partitions: [] }, result: undefined }));
 * ```
 * @module
 */
import { VmanError } from "../errors.ts";
import {
  FileInputError,
  MAX_DTB_BYTES,
  MAX_STATE_BYTES,
  readOwnFileSync,
  readOwnTextFileSync,
} from "../files.ts";
import type { Board, PartitionRecord } from "../model.ts";
import { checkState } from "./check.ts";

/** The format version this vmanager writes and reads. */
export const STATE_FORMAT = 1;

/** The persisted document. */
export interface StateDocument {
  /** Format version, {@linkcode STATE_FORMAT}. */
  format: number;
  /** The board the state dir was set up with (a copy, so later commands need no board file). */
  board: Board;
  /** The monitor backend the state dir was set up with. */
  backend: string;
  /** Every partition, in creation order. */
  partitions: PartitionRecord[];
}

/** The file in the state dir holding the board's device tree. */
export const BOARD_DTB = "board.dtb";

/** Thrown when the state dir cannot be read or written. Exit code 1. */
export class StateStoreError extends VmanError {}

/** Thrown when another process holds the state lock past the wait. Exit code 1. */
export class StateBusyError extends StateStoreError {}

/** How long a command waits for the state lock by default, in milliseconds. */
export const DEFAULT_LOCK_TIMEOUT = 30_000;

/** Options of a store. */
export interface StateStoreOptions {
  /** How long to wait for the lock, in milliseconds ({@linkcode DEFAULT_LOCK_TIMEOUT}). */
  lockTimeout?: number;
  /** Who takes the lock, written into it for the message a waiting command prints. */
  holder?: string;
}

/** Writes a document durably in the middle of an update (the intent of an operation). */
export type Commit = (doc: StateDocument) => Promise<void>;

/** Who holds the lock, as its file says. */
interface LockHolder {
  pid: number;
  command: string;
  since: string;
}

/** The temporary files writers make: `<name>.<pid>.tmp`. */
const TEMP_FILE = /^(state\.json|board\.dtb|monitor\.json)\.(\d+)\.tmp$/;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Whether process `pid` lives (process.ts loads only when a temporary file asks). */
const alive = async (pid: number) => (await import("../process.ts")).processAlive(pid);

/** Removes a file; one that is gone already, or cannot be removed, is left to the next sweep. */
function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // gone, or not ours to remove
  }
}

/**
 * Reads and atomically updates the state document of one state directory. Its
 * file calls are synchronous but for the two `fsync`s: each is a few microseconds,
 * where an asynchronous call costs 0.1–0.5 ms in a fresh process, which every
 * command pays; the `fsync`s may take milliseconds, which a daemon should not
 * block on.
 */
export class StateStore {
  /** The state directory. */
  readonly dir: string;
  private readonly options: StateStoreOptions;
  /** Opens the store of `dir` (created on first update). */
  constructor(dir: string, options: StateStoreOptions = {}) {
    this.dir = dir;
    this.options = options;
  }

  /** Path of the state document. */
  get file(): string {
    return `${this.dir}/state.json`;
  }

  /** The current document, or undefined when the state dir holds none yet. */
  async read(): Promise<StateDocument | undefined> {
    let text: string;
    try {
      text = readOwnTextFileSync(this.file, MAX_STATE_BYTES, "the state");
    } catch (error) {
      if (error instanceof FileInputError && error.problem === "missing") return undefined;
      throw new StateStoreError((error as Error).message, this.file, { cause: error });
    }
    return await this.decode(text);
  }

  /**
   * Runs `change` under the state lock on the current document and writes what it
   * returns. `commit` writes a document durably before `change` returns (the intent
   * of an operation, recorded before its first step). When `change` throws, nothing
   * more is written. Returning `doc: undefined` leaves the document as it was last
   * written.
   */
  async update<T>(
    change: (
      doc: StateDocument | undefined,
      commit: Commit,
    ) => Promise<{ doc?: StateDocument; result: T }> | {
      doc?: StateDocument;
      result: T;
    },
  ): Promise<T> {
    this.ensureDir();
    using lock = await this.lock();
    void lock;
    await this.removeStaleTemps();
    const current = await this.read();
    let written: StateDocument | undefined;
    const commit = async (doc: StateDocument) => {
      await this.write(doc);
      written = doc;
    };
    const { doc, result } = await change(current, commit);
    if (doc && doc !== written) await this.write(doc);
    return result;
  }

  /** Reads a file of the state dir; undefined when it does not exist. */
  readFile(name: string): Uint8Array | undefined {
    try {
      return readOwnFileSync(`${this.dir}/${name}`, MAX_DTB_BYTES, name);
    } catch (error) {
      if (error instanceof FileInputError && error.problem === "missing") return undefined;
      throw new StateStoreError((error as Error).message, this.dir, { cause: error });
    }
  }

  /** Writes a file of the state dir atomically (call it inside {@linkcode update}). */
  async writeFile(name: string, data: Uint8Array): Promise<void> {
    await this.writeAtomically(`${this.dir}/${name}`, data);
  }

  private async decode(text: string): Promise<StateDocument> {
    let doc: StateDocument;
    try {
      doc = JSON.parse(text);
    } catch (error) {
      throw new StateStoreError(
        `the state document is not valid JSON: ${(error as Error).message}`,
        this.file,
      );
    }
    if (typeof doc !== "object" || doc === null || typeof doc.format !== "number") {
      throw new StateStoreError("the state document has no format version", this.file);
    }
    if (doc.format !== STATE_FORMAT) {
      throw new StateStoreError(
        `the state is in format ${doc.format}; this vmanager reads format ${STATE_FORMAT}`,
        this.file,
      );
    }
    if (
      !Array.isArray(doc.partitions) || typeof doc.board !== "object" ||
      typeof doc.backend !== "string"
    ) {
      throw new StateStoreError(
        "the state document is missing board, backend or partitions",
        this.file,
      );
    }
    // The quick check; the schema (zod) loads only when it is not sure (check.ts).
    return await checkState(doc, this.file);
  }

  private ensureDir(): void {
    try {
      Deno.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new StateStoreError(
        `cannot create the state dir: ${(error as Error).message}`,
        this.dir,
        {
          cause: error,
        },
      );
    }
  }

  /** Takes the state lock, waiting at most the lock timeout; writes who holds it. */
  private async lock(): Promise<Disposable> {
    const path = `${this.dir}/state.lock`;
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { create: true, read: true, write: true, mode: 0o600 });
    } catch (error) {
      throw new StateStoreError(`cannot open the state lock: ${(error as Error).message}`, path, {
        cause: error,
      });
    }
    try {
      await this.waitForLock(file, path);
      file.truncateSync(0);
      const holder: LockHolder = {
        pid: Deno.pid,
        command: this.options.holder ?? `pid ${Deno.pid}`,
        since: new Date().toISOString(),
      };
      file.writeSync(new TextEncoder().encode(JSON.stringify(holder) + "\n"));
    } catch (error) {
      file.close();
      if (error instanceof StateStoreError) throw error;
      throw new StateStoreError(`cannot lock the state: ${(error as Error).message}`, path, {
        cause: error,
      });
    }
    return {
      [Symbol.dispose]: () => {
        file.unlockSync();
        file.close();
      },
    };
  }

  /** Polls for the lock until the timeout; then fails naming the holder. */
  private async waitForLock(file: Deno.FsFile, path: string): Promise<void> {
    const timeout = this.options.lockTimeout ?? DEFAULT_LOCK_TIMEOUT;
    const deadline = Date.now() + timeout;
    let pause = 5;
    while (!file.tryLockSync(true)) {
      if (Date.now() >= deadline) {
        throw new StateBusyError(
          `the state is busy: ${await this.describeHolder(path)}; waited ${timeout / 1000} s ` +
            `(VMAN_LOCK_TIMEOUT sets how long)`,
          path,
        );
      }
      await sleep(pause);
      pause = Math.min(pause * 2, 100);
    }
  }

  private async describeHolder(path: string): Promise<string> {
    try {
      const holder = JSON.parse(await Deno.readTextFile(path)) as Partial<LockHolder>;
      const held = holder.since
        ? `, for ${Math.round((Date.now() - Date.parse(holder.since)) / 1000)} s`
        : "";
      return `pid ${holder.pid} (${holder.command}) holds its lock${held}`;
    } catch {
      return "another process holds its lock";
    }
  }

  /** Removes the temporary files of writers that died (under the lock). */
  private async removeStaleTemps(): Promise<void> {
    for (const entry of Deno.readDirSync(this.dir)) {
      const match = TEMP_FILE.exec(entry.name);
      if (!match) continue;
      // state.json and board.dtb are written only under this lock: any is stale. The
      // sim writes monitor.json under its own lock: only a dead writer's is.
      if (match[1] === "monitor.json" && await alive(Number(match[2]))) continue;
      removeQuietly(`${this.dir}/${entry.name}`);
    }
  }

  private async write(doc: StateDocument): Promise<void> {
    await this.writeAtomically(
      this.file,
      new TextEncoder().encode(JSON.stringify(doc, null, 2) + "\n"),
    );
  }

  private async writeAtomically(path: string, data: Uint8Array): Promise<void> {
    const temp = `${path}.${Deno.pid}.tmp`;
    try {
      using file = Deno.openSync(temp, {
        create: true,
        write: true,
        truncate: true,
        mode: 0o600,
      });
      let written = 0;
      while (written < data.length) written += file.writeSync(data.subarray(written));
      await file.sync();
      Deno.renameSync(temp, path);
      // The rename itself is durable once the directory is synced.
      using dir = Deno.openSync(this.dir);
      await dir.sync();
    } catch (error) {
      removeQuietly(temp);
      throw new StateStoreError(`cannot write the state: ${(error as Error).message}`, this.file, {
        cause: error,
      });
    }
  }
}
