#!/usr/bin/env bash
# Regenerates the device trees of the built-in QEMU boards (boards/*.dtb) from
# QEMU 7.2 (Debian 12's qemu-system-arm and qemu-system-misc) and dtc:
#   qemu-system-aarch64 -M virt,dumpdtb=FILE -cpu cortex-a53 -smp 4 -m 2G -nographic -nic none
#   qemu-system-arm     -M virt,dumpdtb=FILE -cpu cortex-a15 -smp 4 -m 2G -nographic -nic none
#   qemu-system-riscv64 -M virt,dumpdtb=FILE -smp 4 -m 2G -nographic -nic none
# QEMU pads its dump to 1 MiB and fills /chosen with random rng-seed and
# kaslr-seed values; the dumps are repacked with dtc and the seeds removed, so
# that the files are small and the same on every run.
set -euo pipefail
cd "$(dirname "$0")/../boards"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dump() { # NAME QEMU ARGS...
  local name=$1 qemu=$2
  shift 2
  "$qemu" -M "virt,dumpdtb=$tmp/$name.raw" "$@" -smp 4 -m 2G -nographic -nic none >/dev/null 2>&1
  dtc -q -I dtb -O dtb -o "$name.dtb" "$tmp/$name.raw"
  for prop in rng-seed kaslr-seed; do fdtput -d "$name.dtb" /chosen "$prop" 2>/dev/null || true; done
  dtc -q -I dtb -O dtb -o "$name.dtb" "$name.dtb"
  echo "boards/$name.dtb: $(stat -c %s "$name.dtb") bytes"
}
dump qemu-virt-arm64 qemu-system-aarch64 -cpu cortex-a53
dump qemu-virt-arm qemu-system-arm -cpu cortex-a15
dump qemu-virt-riscv64 qemu-system-riscv64
