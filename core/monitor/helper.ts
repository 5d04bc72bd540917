/**
 * The C helper `libvmanager_monitor.so` (core/monitor/helper), found at run time
 * and opened with `Deno.dlopen`, with typed wrappers. Every wrapper returns the
 * helper's result (0 or -errno, the monitor's code, a message): turning those
 * into errors is the backends' job.
 *
 * Where the helper is looked for, in order:
 * 1. `VMAN_HELPER` (a path);
 * 2. `libvmanager_monitor.so` next to the executable (an installed vmanctl), then
 *    next to the main module (`dist/vmanctl.js` of `deno task bundle`);
 * 3. `core/monitor/helper/build/<host triple>/` — in a checkout (`deno task helper`
 *    builds it) and inside the compiled binary (`deno task compile` embeds it; it
 *    is copied to `~/.cache/vmanager/helper/`, named by its SHA-256, to be loaded).
 *
 * @module
 */
import { MonitorError } from "../errors.ts";

/** The library's file name. */
export const HELPER_FILE = "libvmanager_monitor.so";

const SYMBOLS = {
  vmh_abi_version: { parameters: [], result: "u32" },
  vmh_open_sim: { parameters: ["buffer", "buffer", "buffer", "u32"], result: "i32" },
  vmh_open_device: { parameters: ["buffer", "buffer", "u32"], result: "i32" },
  vmh_close: { parameters: ["i32"], result: "void" },
  vmh_request: { parameters: ["i32", "u32", "buffer", "buffer", "u32"], result: "i32" },
  vmh_write: {
    parameters: ["i32", "u32", "u64", "buffer", "u64", "buffer", "buffer", "u32"],
    result: "i32",
  },
  vmh_load_file_range: {
    parameters: ["i32", "u32", "u64", "buffer", "u64", "u64", "buffer", "buffer", "buffer", "u32"],
    result: "i32",
  },
} as const;

/** `length` of {@linkcode MonitorHelper.loadFile}: to the file's end (UINT64_MAX). */
const TO_END = 0xffff_ffff_ffff_ffffn;

/** What a helper call returned. */
export interface HelperResult {
  /** 0, or -errno. */
  rc: number;
  /** The monitor's code (0 when it was not called or agreed). */
  code: number;
  /** Why, when `rc` is not 0. */
  message: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MSG = 512;

function cString(text: string): Uint8Array {
  return encoder.encode(text + "\0");
}

function messageOf(buffer: Uint8Array): string {
  const end = buffer.indexOf(0);
  return decoder.decode(buffer.subarray(0, end < 0 ? buffer.length : end));
}

/** The loaded helper library. One per process ({@linkcode loadHelper}). */
export class MonitorHelper {
  private constructor(
    private readonly lib: Deno.DynamicLibrary<typeof SYMBOLS>,
    /** Where it was loaded from. */
    readonly path: string,
  ) {}

  /** Opens the library at `path` (no search); throws when it cannot be loaded. */
  static open(path: string): MonitorHelper {
    return new MonitorHelper(Deno.dlopen(path, SYMBOLS), path);
  }

  /** The ABI version the helper speaks: a trivial call (the FFI benchmark's). */
  abiVersion(): number {
    return this.lib.symbols.vmh_abi_version();
  }

  /** Opens the sim on a state dir with its platform (JSON); a handle ≥ 0, or -errno. */
  openSim(stateDir: string, platform: string | undefined): { handle: number; message: string } {
    const msg = new Uint8Array(MSG);
    const handle = this.lib.symbols.vmh_open_sim(
      cString(stateDir),
      platform === undefined ? null : cString(platform),
      msg,
      MSG,
    );
    return { handle, message: messageOf(msg) };
  }

  /** Opens the device node; a handle ≥ 0, or -errno. */
  openDevice(path: string): { handle: number; message: string } {
    const msg = new Uint8Array(MSG);
    const handle = this.lib.symbols.vmh_open_device(cString(path), msg, MSG);
    return { handle, message: messageOf(msg) };
  }

  /** Closes a handle. */
  close(handle: number): void {
    this.lib.symbols.vmh_close(handle);
  }

  /** One ioctl request on a struct; its out-fields (and `monitor_code`) are in `struct`. */
  request(handle: number, request: number, struct: Uint8Array): HelperResult {
    const msg = new Uint8Array(MSG);
    const rc = this.lib.symbols.vmh_request(handle, request, struct, msg, MSG);
    const code = new DataView(struct.buffer, struct.byteOffset).getInt32(4, true);
    return { rc, code: rc === 0 ? 0 : code, message: messageOf(msg) };
  }

  /** Writes bytes into partition `id`'s window at `address` (zero-copy from JS). */
  write(handle: number, id: number, address: number, bytes: Uint8Array): HelperResult {
    const msg = new Uint8Array(MSG);
    const code = new Int32Array(1);
    const rc = this.lib.symbols.vmh_write(
      handle,
      id,
      BigInt(address),
      bytes,
      BigInt(bytes.length),
      code,
      msg,
      MSG,
    );
    return { rc, code: code[0], message: messageOf(msg) };
  }

  /**
   * Loads a file — or `length` bytes of it from `offset` — into partition `id`'s
   * window at `address`; its bytes stay in C (copied file to file by the kernel).
   * A file shorter than `offset` + `length` is refused before anything is written.
   */
  loadFile(
    handle: number,
    id: number,
    address: number,
    path: string,
    range: { offset?: number; length?: number } = {},
  ): HelperResult & { loaded: number } {
    const msg = new Uint8Array(MSG);
    const code = new Int32Array(1);
    const loaded = new BigUint64Array(1);
    const rc = this.lib.symbols.vmh_load_file_range(
      handle,
      id,
      BigInt(address),
      cString(path),
      BigInt(range.offset ?? 0),
      range.length === undefined ? TO_END : BigInt(range.length),
      loaded,
      code,
      msg,
      MSG,
    );
    return { rc, code: code[0], message: messageOf(msg), loaded: Number(loaded[0]) };
  }
}

/** Debian's triple of the host Deno runs on (Deno runs on x86_64 and aarch64 Linux). */
export function hostTriple(): string {
  return Deno.build.arch === "aarch64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
}

/** The build dir's copy for the host, relative to this module (also inside the compiled binary). */
export function builtHelperPath(triple = hostTriple()): string {
  return `${import.meta.dirname}/helper/build/${triple}/${HELPER_FILE}`;
}

/** The places the helper is looked for, in order. */
export function helperCandidates(env: (name: string) => string | undefined): string[] {
  const given = env("VMAN_HELPER");
  if (given) return [given];
  const dirOf = (path: string) => path.slice(0, path.lastIndexOf("/"));
  const main = Deno.mainModule.startsWith("file://")
    ? [`${dirOf(new URL(Deno.mainModule).pathname)}/${HELPER_FILE}`]
    : [];
  const paths = [`${dirOf(Deno.execPath())}/${HELPER_FILE}`, ...main, builtHelperPath()];
  return [...new Set(paths)];
}

let loaded: MonitorHelper | undefined;

/**
 * The helper, loaded once per process. Throws a `MonitorError` (exit code 1) of one
 * line naming every path tried and how to build it.
 */
export function loadHelper(
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): MonitorHelper {
  if (loaded) return loaded;
  const tried: string[] = [];
  for (const path of helperCandidates(env)) {
    try {
      Deno.statSync(path);
    } catch {
      tried.push(`${path} (missing)`);
      continue;
    }
    try {
      return loaded = MonitorHelper.open(path);
    } catch (error) {
      // Inside a compiled binary the file is embedded: copy it out to load it.
      const copy = copyOutHelper(path);
      if (copy) {
        try {
          return loaded = MonitorHelper.open(copy);
        } catch { /* reported below */ }
      }
      const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
      tried.push(`${path} (${why})`);
    }
  }
  throw new MonitorError(
    `the monitor helper ${HELPER_FILE} cannot be loaded: tried ${tried.join(", ")}; ` +
      `build it with 'deno task helper' or give its path in VMAN_HELPER`,
  );
}

/** The full SHA-256 of `bytes`, in hex (node:crypto, loaded only when a copy is made). */
function sha256Hex(bytes: Uint8Array): string {
  const crypto = process.getBuiltinModule("node:crypto") as typeof import("node:crypto");
  return crypto.createHash("sha256").update(bytes).digest("hex");
}

/** The cache dir the compiled binary copies its helper to. */
function helperCacheDir(): string {
  const home = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache`;
  return `${home}/vmanager/helper`;
}

/**
 * Copies the library at `path` (inside a compiled binary, an embedded file that
 * cannot be `dlopen`ed) to `<dir>/<sha256>-libvmanager_monitor.so`, named by the
 * full SHA-256 of its bytes, and returns the copy's path — or undefined when it
 * cannot be made. An existing copy is reused only when its own bytes hash to its
 * name; any other (truncated, overwritten, another build's) is replaced, through a
 * temporary file and a rename, so a reader never sees a half-written library.
 */
export function copyOutHelper(path: string, dir: string = helperCacheDir()): string | undefined {
  try {
    const bytes = Deno.readFileSync(path);
    const hash = sha256Hex(bytes);
    const copy = `${dir}/${hash}-${HELPER_FILE}`;
    try {
      if (sha256Hex(Deno.readFileSync(copy)) === hash) return copy;
    } catch { /* not there yet */ }
    Deno.mkdirSync(dir, { recursive: true });
    const tmp = `${copy}.${Deno.pid}.tmp`;
    Deno.writeFileSync(tmp, bytes, { mode: 0o755 });
    Deno.renameSync(tmp, copy);
    return copy;
  } catch {
    return undefined;
  }
}
