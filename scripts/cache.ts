/**
 * Where set-up keeps what it fetches, as scripts/fetch-fixtures.sh and
 * scripts/fetch-cjson.sh choose it: `${XDG_CACHE_HOME:-~/.cache}/vmanager`, and the
 * fixtures (Debian kernels, board DTBs, initramfs) in its `fixtures/` unless
 * `VMAN_FIXTURES` names another place. Scripts and tests read the same paths.
 *
 * @module
 */

/** The project's cache: `${XDG_CACHE_HOME:-$HOME/.cache}/vmanager`. */
export function cacheDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  return `${xdg || `${Deno.env.get("HOME") ?? "/tmp"}/.cache`}/vmanager`;
}

/** The fixtures: `VMAN_FIXTURES`, else `<cache>/fixtures`. */
export function fixturesDir(): string {
  return Deno.env.get("VMAN_FIXTURES") || `${cacheDir()}/fixtures`;
}
