/**
 * The bounded capture of a partition's console: `console.log` grows to a limit,
 * then becomes `console.log.1` (replacing the one before) and a new `console.log`
 * starts, so a guest that floods its console keeps at most twice the limit on disk.
 *
 * @module
 */

/** The default size of one capture file: 1 MiB (so at most 2 MiB per partition). */
export const DEFAULT_CONSOLE_LOG_LIMIT = 1024 * 1024;

/** The capture files of `path`, oldest first. */
export function consoleLogFiles(path: string): string[] {
  return [`${path}.1`, path];
}

/** Appends to a console capture, rotating it at `limit` bytes. */
export class RotatingLog {
  private file: Deno.FsFile;
  private size: number;

  /** Opens (creates) `path` for appending. */
  constructor(private readonly path: string, private readonly limit: number) {
    this.file = Deno.openSync(path, { append: true, create: true });
    this.size = this.file.statSync().size;
  }

  /** Appends `bytes`, rotating first when they would pass the limit. */
  write(bytes: Uint8Array): void {
    let rest = bytes;
    while (rest.length > 0) {
      if (this.size >= this.limit) this.rotate();
      const part = rest.subarray(0, this.limit - this.size);
      writeAllSync(this.file, part);
      this.size += part.length;
      rest = rest.subarray(part.length);
    }
  }

  /** What was captured so far, oldest first (the rotated file, then the current one). */
  captured(): Uint8Array[] {
    return consoleLogFiles(this.path).flatMap((file) => {
      try {
        return [Deno.readFileSync(file)];
      } catch {
        return [];
      }
    });
  }

  /** Closes the file. */
  close(): void {
    this.file.close();
  }

  private rotate(): void {
    this.file.close();
    Deno.renameSync(this.path, `${this.path}.1`);
    this.file = Deno.openSync(this.path, { append: true, create: true, truncate: false });
    this.size = 0;
  }
}

function writeAllSync(file: Deno.FsFile, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += file.writeSync(bytes.subarray(done));
}
