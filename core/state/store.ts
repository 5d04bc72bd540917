/**
 * The state store: one JSON document in the state directory holding the board
 * the directory was set up with, its backend and every partition. Reads need no
 * lock (writes replace the file atomically); every mutation runs under one
 * exclusive lock on `state.lock`, so concurrent vmanctl processes never lose an
 * update. Writes go to a temporary file, are fsynced, then renamed over
 * `state.json`, and the directory is fsynced.
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
import type { Board, PartitionRecord } from "../model.ts";

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

/** Reads and atomically updates the state document of one state directory. */
export class StateStore {
  /** The state directory. */
  readonly dir: string;
  /** Opens the store of `dir` (created on first update). */
  constructor(dir: string) {
    this.dir = dir;
  }

  /** Path of the state document. */
  get file(): string {
    return `${this.dir}/state.json`;
  }

  /** The current document, or undefined when the state dir holds none yet. */
  async read(): Promise<StateDocument | undefined> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw new StateStoreError(`cannot read the state: ${(error as Error).message}`, this.file, {
        cause: error,
      });
    }
    return this.decode(text);
  }

  /**
   * Runs `change` under the state lock on the current document and writes what it
   * returns. When `change` throws, nothing is written. Returning `doc: undefined`
   * leaves the document as it was.
   */
  async update<T>(
    change: (doc: StateDocument | undefined) => Promise<{ doc?: StateDocument; result: T }> | {
      doc?: StateDocument;
      result: T;
    },
  ): Promise<T> {
    await this.ensureDir();
    using lock = await this.lock();
    void lock;
    const current = await this.read();
    const { doc, result } = await change(current);
    if (doc) await this.write(doc);
    return result;
  }

  /** Reads a file of the state dir; undefined when it does not exist. */
  async readFile(name: string): Promise<Uint8Array | undefined> {
    try {
      return await Deno.readFile(`${this.dir}/${name}`);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw new StateStoreError(`cannot read ${name}: ${(error as Error).message}`, this.dir, {
        cause: error,
      });
    }
  }

  /** Writes a file of the state dir atomically (call it inside {@linkcode update}). */
  async writeFile(name: string, data: Uint8Array): Promise<void> {
    await this.writeAtomically(`${this.dir}/${name}`, data);
  }

  private decode(text: string): StateDocument {
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
    return doc;
  }

  private async ensureDir(): Promise<void> {
    try {
      await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
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

  private async lock(): Promise<Disposable> {
    const file = await Deno.open(`${this.dir}/state.lock`, {
      create: true,
      write: true,
      mode: 0o600,
    });
    try {
      await file.lock(true);
    } catch (error) {
      file.close();
      throw new StateStoreError(`cannot lock the state: ${(error as Error).message}`, this.dir, {
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

  private async write(doc: StateDocument): Promise<void> {
    await this.writeAtomically(
      this.file,
      new TextEncoder().encode(JSON.stringify(doc, null, 2) + "\n"),
    );
  }

  private async writeAtomically(path: string, data: Uint8Array): Promise<void> {
    const temp = `${path}.${Deno.pid}.tmp`;
    try {
      using file = await Deno.open(temp, {
        create: true,
        write: true,
        truncate: true,
        mode: 0o600,
      });
      let written = 0;
      while (written < data.length) written += await file.write(data.subarray(written));
      await file.sync();
      await Deno.rename(temp, path);
      // The rename itself is durable once the directory is synced.
      using dir = await Deno.open(this.dir);
      await dir.sync();
    } catch (error) {
      await Deno.remove(temp).catch(() => {});
      throw new StateStoreError(`cannot write the state: ${(error as Error).message}`, this.file, {
        cause: error,
      });
    }
  }
}
