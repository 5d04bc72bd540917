#!/usr/bin/env bash
# Fetches real Debian kernel packages for tests into a cache outside the
# repository (VMAN_FIXTURES, default ~/.cache/vmanager/fixtures) and unpacks
# them: the arm64 kernel (an arm64 Image and ~580 board DTBs) and the armhf
# armmp kernel (a zImage and ~900 board DTBs) from the system's suite, and the
# riscv64 kernel (a RISC-V Image with an EFI stub) from forky, which has
# riscv64 (bookworm has not), through a sources list of its own in the cache.
# Versions come from the archive's meta packages (linux-image-arm64,
# linux-image-armmp, linux-image-riscv64), never hard-coded; where the versioned
# linux-image package ships its kernel in a linux-binary package (forky), that
# one is fetched. The kernels are then copied to $cache/kernels/: arm64/Image,
# arm64/Image.gz (gzip -9 -n), armhf/zImage, riscv64/Image.
# Foreign-architecture downloads use private apt lists, so the system's package
# state is untouched. A second run with everything present does no network.
set -euo pipefail

cache="${VMAN_FIXTURES:-$HOME/.cache/vmanager/fixtures}"
mkdir -p "$cache/debs" "$cache/pkgs" "$cache/kernels"

# dep PKG PREFIX: the first package PKG depends on whose name starts with PREFIX
# (uses the calling fetch's apt options "o").
dep() {
  apt-cache "${o[@]}" depends "$1" | awk -v p="Depends: $2" 'index($0, p) && !n++ { print $2 }'
}

# resolve META: prints the package holding META's kernel and downloads it into
# $cache/debs; returns non-zero (printing nothing) when either step fails.
resolve() {
  local pkg bin
  pkg=$(dep "$1" linux-image-) || return 1
  [[ -n "$pkg" ]] || return 1
  bin=$(dep "$pkg" linux-binary-) || return 1
  [[ -z "$bin" ]] || pkg=$bin
  rm -f "$cache/debs/${pkg}"_*.deb
  (cd "$cache/debs" && apt-get "${o[@]}" download "$pkg" >&2) || return 1
  echo "$pkg"
}

fetch() { # ARCH META [SUITE]: with SUITE, from that suite alone through a private sources list
  local arch=$1 meta=$2 suite=${3:-} lists="$cache/lists-$1" stamp="$cache/$1.done"
  if [[ -f "$stamp" && -d "$cache/pkgs/$(cat "$stamp")" ]]; then
    echo "$(cat "$stamp")"
    return
  fi
  mkdir -p "$lists/partial"
  local o=(-qq "-oAPT::Architecture=$arch" "-oAPT::Architectures=$arch" "-oDir::State::Lists=$lists"
    "-oAPT::Sandbox::User=root")
  local pkg=""
  if [[ -z "$suite" ]]; then
    # One index failing (a mirror mid-sync) is not fatal while the meta package resolves.
    apt-get "${o[@]}" update >&2 || echo "fetch-fixtures: apt-get update for $arch reported errors" >&2
    pkg=$(dep "$meta" linux-image-)
    [[ -n "$pkg" ]] || { echo "fetch-fixtures: $meta ($arch) names no kernel package" >&2; exit 1; }
    pkg=$(resolve "$meta") || { echo "fetch-fixtures: downloading $pkg ($arch) failed" >&2; exit 1; }
  else
    local list="$cache/sources-$arch.list"
    echo "deb [arch=$arch] http://deb.debian.org/debian $suite main" >"$list"
    o+=("-oDir::Etc::SourceList=$list" "-oDir::Etc::SourceParts=/nonexistent")
    # The suite is the only source, so a failing index (mid-sync) is fatal: retry once.
    local attempt
    for attempt in 1 2; do
      if apt-get "${o[@]}" update >&2 && pkg=$(resolve "$meta"); then
        break
      fi
      pkg=""
      if [[ $attempt == 1 ]]; then
        echo "fetch-fixtures: $suite's $arch index failed (mid-sync?); retrying in 20 s" >&2
        sleep 20
      fi
    done
    if [[ -z "$pkg" ]]; then
      echo "fetch-fixtures: Debian $suite's $arch index is unusable, probably mid-sync:" \
        "apt-get update or resolving/downloading $meta's kernel failed twice; try again later" >&2
      exit 1
    fi
  fi
  rm -rf "$cache/pkgs/$pkg"
  dpkg-deb -x "$cache/debs/${pkg}"_*.deb "$cache/pkgs/$pkg"
  echo "$pkg" >"$stamp"
  echo "$pkg"
}

# vmlinuz PKG: the kernel file in an unpacked package (boot/vmlinuz-* or
# usr/lib/modules/*/vmlinuz).
vmlinuz() {
  find "$cache/pkgs/$1" -type f \( -path '*/boot/vmlinuz-*' -o -path '*/usr/lib/modules/*/vmlinuz' \) |
    sort | sed -n 1p
}

# place SRC DEST: DEST becomes SRC's kernel (gunzipped when SRC is gzip data),
# rewritten (and its mtime changed) only when the content differs.
place() {
  local src=$1 dest=$2
  mkdir -p "$(dirname "$dest")"
  if [[ $(od -An -tx1 -N2 "$src" | tr -d ' \n') == 1f8b ]]; then
    gzip -dc "$src" >"$dest.tmp"
  else
    cp "$src" "$dest.tmp"
  fi
  if cmp -s "$dest.tmp" "$dest"; then rm -f "$dest.tmp"; else mv "$dest.tmp" "$dest"; fi
}

for spec in arm64:linux-image-arm64: armhf:linux-image-armmp: riscv64:linux-image-riscv64:forky; do
  IFS=: read -r arch meta suite <<<"$spec"
  if ! pkg=$(fetch "$arch" "$meta" "$suite"); then
    # riscv64 comes from a suite outside the machine's own (forky): when that
    # mirror is unusable, its tests skip with a printed reason instead of failing
    # the whole set-up.
    [[ -n "$suite" ]] || exit 1
    echo "fetch-fixtures: WARNING: no $arch kernel from $suite now; the tests that need it will skip" >&2
    continue
  fi
  count=$(find "$cache/pkgs/$pkg" -name '*.dtb' | wc -l)
  if [[ $count -gt 0 ]]; then
    echo "fetch-fixtures: $arch $pkg: $count DTBs in $cache/pkgs/$pkg"
  else
    echo "fetch-fixtures: $arch $pkg: kernel only (no DTBs) in $cache/pkgs/$pkg"
  fi
  src=$(vmlinuz "$pkg")
  [[ -n "$src" ]] || { echo "fetch-fixtures: no vmlinuz in $cache/pkgs/$pkg" >&2; exit 1; }
  case $arch in
    armhf) name=zImage ;;
    *) name=Image ;;
  esac
  place "$src" "$cache/kernels/$arch/$name"
  echo "fetch-fixtures: kernel $cache/kernels/$arch/$name ($(stat -c %s "$cache/kernels/$arch/$name") bytes, from $pkg)"
done

image="$cache/kernels/arm64/Image"
if [[ ! -f "$image.gz" || "$image" -nt "$image.gz" ]]; then
  gzip -9 -n -c "$image" >"$image.gz.tmp"
  mv "$image.gz.tmp" "$image.gz"
fi
echo "fetch-fixtures: kernel $image.gz ($(stat -c %s "$image.gz") bytes, gzip -9 -n of arm64/Image)"

# Initramfs per architecture: busybox-static from the same suite as the kernel
# (version resolved by apt, never hard-coded) and an /init that prints the
# online CPUs and MemTotal on the console, then powers off — or, with
# `vmanager.stay` on the kernel command line, stays up. Written to
# $cache/initramfs/<arch>.cpio.gz; rebuilt only when busybox or /init changes.
INIT_SCRIPT='#!/bin/busybox sh
# Lines go through /dev/kmsg: the kernel writes them to the console at once, so
# they are out before a power-off (a tty write may still sit in the UART FIFO).
say() { echo "vmanager-guest: $*" >/dev/kmsg; }
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
online=$(cat /sys/devices/system/cpu/online)
cpus=$(grep -c "^processor" /proc/cpuinfo)
mem=$(awk "/^MemTotal:/ { print \$2 }" /proc/meminfo)
say "up cpus=$cpus online=$online memtotal_kb=$mem"
case " $(cat /proc/cmdline) " in
  *" vmanager.stay "*)
    say "staying up"
    while :; do sleep 3600; done ;;
esac
say "powering off"
poweroff -f
'
mkdir -p "$cache/initramfs"
for spec in arm64: armhf: riscv64:forky; do
  IFS=: read -r arch suite <<<"$spec"
  o=(-qq "-oAPT::Architecture=$arch" "-oAPT::Architectures=$arch" "-oDir::State::Lists=$cache/lists-$arch"
    "-oAPT::Sandbox::User=root")
  if [[ -n "$suite" ]]; then
    [[ -f "$cache/sources-$arch.list" ]] || continue # no kernel from that suite either (warned above)
    o+=("-oDir::Etc::SourceList=$cache/sources-$arch.list" "-oDir::Etc::SourceParts=/nonexistent")
  fi
  out="$cache/initramfs/$arch.cpio.gz"
  version=$(apt-cache "${o[@]}" policy busybox-static | awk '/Candidate:/ { print $2 }')
  if [[ -z "$version" || "$version" == "(none)" ]]; then
    echo "fetch-fixtures: WARNING: no busybox-static for $arch; the boot tests that need it will skip" >&2
    continue
  fi
  stamp="$version $(printf '%s' "$INIT_SCRIPT" | sha256sum | cut -c1-16)"
  if [[ -f "$out" && "$(cat "$out.stamp" 2>/dev/null)" == "$stamp" ]]; then
    echo "fetch-fixtures: initramfs $out (busybox $version, cached)"
    continue
  fi
  rm -f "$cache/debs/busybox-static"_*"_$arch.deb"
  (cd "$cache/debs" && apt-get "${o[@]}" download "busybox-static=$version" >&2)
  root=$(mktemp -d)
  dpkg-deb -x "$cache/debs/busybox-static"_*"_$arch.deb" "$root/pkg"
  mkdir -p "$root/fs/bin" "$root/fs/proc" "$root/fs/sys" "$root/fs/dev"
  # bin/busybox, or usr/bin/busybox in suites after the /usr merge.
  bb=$(find "$root/pkg" -type f -name busybox -path '*bin/busybox' | sed -n 1p)
  [[ -n "$bb" ]] || { echo "fetch-fixtures: no busybox in busybox-static ($arch)" >&2; exit 1; }
  cp "$bb" "$root/fs/bin/busybox"
  printf '%s' "$INIT_SCRIPT" >"$root/fs/init"
  chmod 755 "$root/fs/init" "$root/fs/bin/busybox"
  (cd "$root/fs" && find . | sort | cpio --quiet -o -H newc -R 0:0 | gzip -9 -n >"$out.tmp")
  rm -rf "$root"
  mv "$out.tmp" "$out"
  echo "$stamp" >"$out.stamp"
  echo "fetch-fixtures: initramfs $out (busybox $version, $(stat -c %s "$out") bytes)"
done
