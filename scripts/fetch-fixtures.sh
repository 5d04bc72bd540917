#!/usr/bin/env bash
# Fetches real Debian kernel packages for tests into a cache outside the
# repository (VMAN_FIXTURES, default ~/.cache/vmanager/fixtures) and unpacks
# them: the arm64 kernel (an arm64 Image and ~580 board DTBs) and the armhf
# armmp kernel (a zImage and ~900 board DTBs). Versions come from the archive's
# meta packages (linux-image-arm64, linux-image-armmp), never hard-coded.
# Foreign-architecture downloads use private apt lists, so the system's package
# state is untouched. A second run with everything present does no network.
set -euo pipefail

cache="${VMAN_FIXTURES:-$HOME/.cache/vmanager/fixtures}"
mkdir -p "$cache/debs" "$cache/pkgs"

fetch() { # ARCH META
  local arch=$1 meta=$2 lists="$cache/lists-$1" stamp="$cache/$1.done"
  if [[ -f "$stamp" && -d "$cache/pkgs/$(cat "$stamp")" ]]; then
    echo "$(cat "$stamp")"
    return
  fi
  mkdir -p "$lists/partial"
  local o=(-qq "-oAPT::Architecture=$arch" "-oAPT::Architectures=$arch" "-oDir::State::Lists=$lists"
    "-oAPT::Sandbox::User=root")
  # One index failing (a mirror mid-sync) is not fatal while the meta package resolves.
  apt-get "${o[@]}" update >&2 || echo "fetch-fixtures: apt-get update for $arch reported errors" >&2
  local pkg
  pkg=$(apt-cache "${o[@]}" depends "$meta" | awk '/Depends: linux-image-/{print $2; exit}')
  [[ -n "$pkg" ]] || { echo "fetch-fixtures: $meta ($arch) names no kernel package" >&2; exit 1; }
  (cd "$cache/debs" && apt-get "${o[@]}" download "$pkg" >&2) ||
    { echo "fetch-fixtures: downloading $pkg ($arch) failed" >&2; exit 1; }
  rm -rf "$cache/pkgs/$pkg"
  dpkg-deb -x "$cache/debs/${pkg}"_*.deb "$cache/pkgs/$pkg"
  echo "$pkg" >"$stamp"
  echo "$pkg"
}

for spec in arm64:linux-image-arm64 armhf:linux-image-armmp; do
  arch=${spec%%:*}
  pkg=$(fetch "$arch" "${spec#*:}")
  count=$(find "$cache/pkgs/$pkg" -name '*.dtb' | wc -l)
  echo "fetch-fixtures: $arch $pkg: $count DTBs in $cache/pkgs/$pkg"
done
