/**
 * The configuration file (`--config`, default `/etc/vmanager/config.yaml`):
 * defaults for the board, the backend, the state dir and the plugin dirs.
 *
 * ```yaml
 * board: qemu-virt-arm64     # a board name or a board YAML file
 * backend: dry-run
 * state-dir: /var/lib/vmanager
 * plugin-dirs: [/etc/vmanager/plugins]
 * ```
 * @module
 */
import { InputError } from "./errors.ts";
import { existsSync, FileInputError, MAX_CONFIG_BYTES, readRegularTextFile } from "./files.ts";
import { readConfigLines } from "./config_lines.ts";

/** Where the configuration file is unless `--config` says otherwise. */
export const DEFAULT_CONFIG = "/etc/vmanager/config.yaml";

/** The configuration's values. */
export interface VmanConfig {
  /** Board name or file. */
  board?: string;
  /** Monitor backend. */
  backend?: string;
  /** State directory. */
  stateDir?: string;
  /** Plugin directories. */
  pluginDirs?: string[];
}

/**
 * Reads the configuration file (a regular file of at most
 * {@linkcode MAX_CONFIG_BYTES}). A missing default file is an empty configuration;
 * a missing file named with `--config` is an error.
 */
export async function loadConfig(path: string | undefined): Promise<VmanConfig> {
  const file = path ?? DEFAULT_CONFIG;
  // Most hosts have no default file: said by one status call, without opening it.
  if (path === undefined && !existsSync(file)) return {};
  let text: string;
  try {
    text = await readRegularTextFile(file, MAX_CONFIG_BYTES, "the configuration");
  } catch (error) {
    if (path === undefined && error instanceof FileInputError && error.problem === "missing") {
      return {};
    }
    throw error;
  }
  // The simplest files without the YAML parser (it costs tens of ms): config_lines.ts.
  const simple = readConfigLines(text);
  if (simple) return simple;
  const { parseLocatedYaml } = await import("./yaml_doc.ts");
  const doc = parseLocatedYaml(text, file);
  if ("syntax" in doc) throw new InputError(`YAML: ${doc.syntax[0].message}`, doc.syntax[0].where);
  if (doc.value === null || doc.value === undefined) return {};
  if (typeof doc.value !== "object" || Array.isArray(doc.value)) {
    throw new InputError("the configuration must be a map of fields", `${file}:1`);
  }
  const config: VmanConfig = {};
  for (const [key, value] of Object.entries(doc.value as Record<string, unknown>)) {
    const where = doc.where([key], key);
    const text = () => {
      if (typeof value !== "string" || value === "") {
        throw new InputError(`'${key}' must be a non-empty string`, where);
      }
      return value;
    };
    if (key === "board") config.board = text();
    else if (key === "backend") config.backend = text();
    else if (key === "state-dir") config.stateDir = text();
    else if (key === "plugin-dirs") {
      if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
        throw new InputError("'plugin-dirs' must be a list of directories", where);
      }
      config.pluginDirs = value as string[];
    } else {
      throw new InputError(
        `unknown field '${key}' (fields: board, backend, state-dir, plugin-dirs)`,
        where,
      );
    }
  }
  return config;
}
