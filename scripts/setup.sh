#!/usr/bin/env bash
# Installs what vmanager's development needs on a fresh Debian machine:
# Deno (pinned, from the npm registry) and the Debian packages the tests and
# benchmarks use. Safe to run again: it installs only what is missing.
set -euo pipefail

DENO_VERSION="2.9.6"
# Debian packages: virsh (the benchmark's peer); dtc, fdtget and fdtdump to check our
# device trees; QEMU 7.2 for its board device trees and to boot partitions; file and the
# cross binutils (objdump) to check kernel headers, boot shims and monitor stubs; gcc and
# the cross gcc for the C helper, qemu-user to run its tests; cpio for the initramfs;
# python3-libvirt (a real libvirt client) and libvirt-daemon (libvirtd's test driver, the
# benchmark peer); dpkg-dev to unpack Debian source packages; procps (ps) for the libvirt
# daemon's memory in its soak; ipxe-qemu, the NIC ROMs QEMU's virt machines load unless
# given -nic none (QEMU DTB dumps as docs/devicetree.md shows them); tmux, in which the
# console tests type into a partition's console as a person would; xz-utils, to unpack the
# riscv64 kernel's modules for the test initramfs; curl and e2fsprogs (mkfs.ext2, debugfs),
# with which the network and disk tests reach a partition's web server and read its disk;
# iproute2 (ip), with which the qemu backend makes a board network's bridge and taps, and
# iputils-ping, with which the tests ping partitions from the management side; ansible
# (community.libvirt's virt module) and virtinst (virt-install), orchestrators the tests
# run unmodified against `vmanctl daemon` (docs/libvirt.md#ansible-and-virt-install);
# libfdt-dev (dtc's libfdt), with which the benchmark builds its C peer of the device tree
# work (scripts/bench/peers/fdt_prune.c); time (/usr/bin/time -f %M), with which the start
# benchmark measures vmanctl's peak RSS (scripts/bench/start.ts); libxml2-utils (xmllint),
# which virt-xml-validate runs to check the domain capabilities against libvirt's schema.
PACKAGES=(libvirt-clients bash device-tree-compiler qemu-system-arm qemu-system-misc opensbi file
  binutils-aarch64-linux-gnu binutils-arm-linux-gnueabihf binutils-riscv64-linux-gnu
  gcc libc6-dev gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf gcc-riscv64-linux-gnu qemu-user
  libc6-dev-arm64-cross libc6-dev-armhf-cross libc6-dev-riscv64-cross
  cpio python3-libvirt libvirt-daemon dpkg-dev procps ipxe-qemu tmux xz-utils curl e2fsprogs iproute2 iputils-ping
  ansible virtinst libfdt-dev time libxml2-utils)

SAY_AS=setup
. "$(dirname "$0")/lib/apt.sh"

if ! command -v deno >/dev/null 2>&1 || [[ "$(deno --version | head -1)" != "deno ${DENO_VERSION} "* ]]; then
  command -v npm >/dev/null 2>&1 || { say "npm is needed to install Deno (install Node.js first)"; exit 1; }
  say "installing Deno ${DENO_VERSION} from the npm registry"
  npm install --global --no-fund --no-audit --loglevel=error --allow-scripts=deno "deno@${DENO_VERSION}" >&2 ||
    npm install --global --no-fund --no-audit --loglevel=error "deno@${DENO_VERSION}" >&2
  hash -r
fi
deno --version | head -1 >&2

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  if command -v apt-get >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then
    say "installing Debian packages: ${missing[*]}"
    apt_run "apt-get update" apt-get -qq update || exit 1
    export DEBIAN_FRONTEND=noninteractive
    apt_run "apt-get install ${missing[*]}" \
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || exit 1
  else
    say "missing Debian packages (install them as root): ${missing[*]}"
  fi
fi

# libvirtd (the benchmark peer of `vmanctl daemon`) needs these system users and groups.
if [[ $(id -u) -eq 0 ]] && command -v libvirtd >/dev/null 2>&1; then
  getent group kvm >/dev/null || groupadd -r kvm
  getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
  getent passwd libvirt-qemu >/dev/null ||
    useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
fi

# Fetch the npm dependencies pinned in deno.json (and esbuild for `deno bundle`).
cd "$(dirname "$0")/.."
say "npm dependencies of deno.json (into ${DENO_DIR:-the default Deno cache})"
deno install --quiet >&2 || deno cache --quiet main.ts >&2

# Real Debian kernels and board DTBs for the tests, cached outside the repository.
bash scripts/fetch-fixtures.sh >&2

# The monitor helper (C, over FFI) for the host and the cross targets, before the tests.
deno task -q helper --quiet >&2
