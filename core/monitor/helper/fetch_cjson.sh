#!/usr/bin/env bash
# Fetches cJSON's source from Debian's archive (apt-get source, which resolves the
# current version and applies Debian's patches with dpkg-source) into a cache outside
# the repository, and prints the directory holding cJSON.c.
#
# Usage: fetch_cjson.sh [CACHE_DIR]   (default ~/.cache/vmanager/src)
set -euo pipefail
cache="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/vmanager/src}"
mkdir -p "$cache"
found=$(find "$cache" -maxdepth 2 -name cJSON.c -path '*cjson-*' 2>/dev/null | sort | tail -1)
if [[ -n "$found" ]]; then dirname "$found"; exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The machine's own Debian sources, as deb-src (deb822 .sources files and one-line lists).
mkdir -p "$work/parts"
for f in /etc/apt/sources.list.d/*.sources; do
  [[ -f "$f" ]] && grep -qi debian "$f" && sed -E 's/^Types:.*/Types: deb-src/' "$f" >"$work/parts/$(basename "$f")"
done
grep -hE '^deb[[:space:]].*debian' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
  sed -E 's/^deb[[:space:]]/deb-src /' >"$work/sources.list" || true
mkdir -p "$work/lists/partial"
opts=(-oDir::Etc::SourceList="$work/sources.list" -oDir::Etc::SourceParts="$work/parts"
  -oDir::State::Lists="$work/lists" -oAPT::Sandbox::User=root -qq)
apt-get "${opts[@]}" update >&2
(cd "$cache" && apt-get "${opts[@]}" source cjson >&2)
found=$(find "$cache" -maxdepth 2 -name cJSON.c -path '*cjson-*' | sort | tail -1)
[[ -n "$found" ]] || { echo "fetch_cjson: apt-get source cjson gave no cJSON.c in $cache" >&2; exit 1; }
dirname "$found"
