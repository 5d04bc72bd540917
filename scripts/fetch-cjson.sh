#!/usr/bin/env bash
# Fetches cJSON's source package from Debian's archive into DEST and unpacks it with
# Debian's patches applied, for the monitor helper (scripts/build_helper.ts compiles
# cJSON.c into libvmanager_monitor.so).
#
# Why the source and not libcjson-dev: the helper is embedded in the one compiled
# vmanctl binary dropped onto a management partition, and Debian ships cJSON only as
# a shared library (libcjson-dev has no static archive); linking it would make
# libcjson1 a run-time dependency of every management partition. The source package
# is the same well-kept code, with the same security patches.
#
# The version is resolved from the machine's own Debian sources (as deb-src lines,
# in a private apt state); DEST gets cJSON.c, cJSON.h and .version. A DEST that
# already holds them is reused (no network). Prints nothing on stdout: the caller
# names DEST.
#
# Usage: fetch-cjson.sh DEST
set -euo pipefail
SAY_AS=fetch-cjson
. "$(dirname "$0")/lib/apt.sh"
dest=${1:?usage: fetch-cjson.sh DEST}

if [[ -f "$dest/cJSON.c" && -f "$dest/cJSON.h" && -s "$dest/.version" ]]; then
  say "cjson $(cat "$dest/.version") (Debian source package, cached in $dest)"
  exit 0
fi

mkdir -p "$(dirname "$dest")"
work=$(mktemp -d "$(dirname "$dest")/.cjson.XXXXXX") # beside DEST: the final mv is a rename
trap 'rm -rf "$work"' EXIT
# The machine's own Debian sources, as deb-src (deb822 .sources files and one-line lists).
mkdir -p "$work/parts" "$work/lists/partial" "$work/dl"
for f in /etc/apt/sources.list.d/*.sources; do
  [[ -f "$f" ]] && grep -qi debian "$f" && sed -E 's/^Types:.*/Types: deb-src/' "$f" >"$work/parts/$(basename "$f")"
done
grep -hE '^deb[[:space:]].*debian' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
  sed -E 's/^deb[[:space:]]/deb-src /' >"$work/sources.list" || true
opts=(-oDir::Etc::SourceList="$work/sources.list" -oDir::Etc::SourceParts="$work/parts"
  -oDir::State::Lists="$work/lists" -oAPT::Sandbox::User=root -qq)

apt_run "cjson: apt-get update of the machine's deb-src sources" apt-get "${opts[@]}" update
version=$(apt-cache "${opts[@]}" showsrc --only-source cjson 2>/dev/null |
  sed -n 's/^Version: //p' | sort -V | tail -1)
if [[ -z "$version" ]]; then
  say "cjson: the archive has no source package cjson (apt-cache showsrc found none in $(archive_uri || echo "the machine's sources"))"
  exit 1
fi
(cd "$work/dl" && apt_run "cjson $version: apt-get source" apt-get "${opts[@]}" source --download-only "cjson=$version")
dsc=$(find "$work/dl" -maxdepth 1 -name 'cjson_*.dsc' | head -1)
[[ -n "$dsc" ]] || { say "cjson $version: apt-get source fetched no .dsc"; exit 1; }
dpkg-source --no-check -x "$dsc" "$work/src" >/dev/null 2>&1 ||
  { say "cjson $version: dpkg-source -x $(basename "$dsc") failed"; exit 1; }
[[ -f "$work/src/cJSON.c" ]] || { say "cjson $version: no cJSON.c in the source package"; exit 1; }
echo "$version" >"$work/src/.version"
rm -rf "$dest"
mv "$work/src" "$dest"
say "cjson $version (Debian source package, Debian's patches applied) fetched into $dest"
