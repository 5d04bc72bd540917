#!/usr/bin/env bash
# Fetches real Debian kernel packages for tests into a cache outside the repository
# (VMAN_FIXTURES, default ${XDG_CACHE_HOME:-~/.cache}/vmanager/fixtures) and unpacks
# them: the arm64 kernel (an arm64 Image and ~580 board DTBs) and the armhf armmp
# kernel (a zImage and ~900 board DTBs) from the machine's own suite, and the riscv64
# kernel (a RISC-V Image with an EFI stub) from trixie, the first Debian release with
# riscv64 (bookworm has none), through a private sources list whose archive URI is the
# machine's own mirror's.
# Versions come from the archive's meta packages (linux-image-arm64, linux-image-armmp,
# linux-image-riscv64), never hard-coded; where the versioned linux-image package ships
# its kernel in a linux-binary package, that one is fetched. Each fetch names the
# package and version it resolved. The kernels are then copied to $cache/kernels/:
# arm64/Image, arm64/Image.gz (gzip -9 -n), armhf/zImage, riscv64/Image.
# Foreign-architecture downloads use private apt lists, so the system's package state
# is untouched. A second run with everything present does no network.
# Each initramfs carries kernel modules (MODULES below) from the same kernel package as
# the kernel, which its guest loads at boot for the devices it has; see the end.
set -euo pipefail
SAY_AS=fetch-fixtures
. "$(dirname "$0")/lib/apt.sh"

cache="${VMAN_FIXTURES:-${XDG_CACHE_HOME:-$HOME/.cache}/vmanager/fixtures}"
mkdir -p "$cache/debs" "$cache/pkgs" "$cache/kernels"
# The suite riscv64 comes from (the machine's own suite has none).
RISCV_SUITE=trixie

# apt_opts ARCH [SUITE]: sets the array "o", the apt options for ARCH's private lists
# (and, with SUITE, a sources list of that suite alone on the machine's mirror).
apt_opts() {
  local arch=$1 suite=${2:-}
  mkdir -p "$cache/lists-$arch/partial"
  o=(-qq "-oAPT::Architecture=$arch" "-oAPT::Architectures=$arch"
    "-oDir::State::Lists=$cache/lists-$arch" "-oAPT::Sandbox::User=root")
  if [[ -n "$suite" ]]; then
    local list="$cache/sources-$arch.list" uri
    uri=$(archive_uri) || return 1
    echo "deb [arch=$arch] $uri $suite main" >"$list"
    o+=("-oDir::Etc::SourceList=$list" "-oDir::Etc::SourceParts=/nonexistent")
  fi
}

# dep PKG PREFIX: the first package PKG depends on whose name starts with PREFIX.
dep() {
  apt-cache "${o[@]}" depends "$1" 2>/dev/null | awk -v p="Depends: $2" 'index($0, p) && !n++ { print $2 }'
}

# download PKG ARCH: PKG's candidate into $cache/debs, saying which version; prints PKG.
download() {
  local pkg=$1 arch=$2 version
  version=$(candidate "$pkg" "${o[@]}")
  [[ -n "$version" ]] || { say "$pkg ($arch): the archive has no candidate version of it"; return 1; }
  rm -f "$cache/debs/${pkg}"_*"_$arch.deb"
  (cd "$cache/debs" && apt_run "$pkg $version ($arch): download" apt-get "${o[@]}" download "$pkg=$version") ||
    return 1
  say "$arch: fetched $pkg $version"
}

# resolve META ARCH: prints the package holding META's kernel (the versioned image, or
# the linux-binary package it depends on) after downloading it.
resolve() {
  local meta=$1 arch=$2 pkg bin
  pkg=$(dep "$meta" linux-image-)
  [[ -n "$pkg" ]] || { say "$meta ($arch): the archive's $meta depends on no linux-image package"; return 1; }
  bin=$(dep "$pkg" linux-binary-)
  [[ -z "$bin" ]] || pkg=$bin
  say "$arch: $meta resolves to $pkg"
  download "$pkg" "$arch" >&2 || return 1
  echo "$pkg"
}

# fetch ARCH META [SUITE]: the kernel package of ARCH, unpacked in $cache/pkgs; prints its name.
fetch() {
  local arch=$1 meta=$2 suite=${3:-} stamp="$cache/$1.done" pkg
  if [[ -f "$stamp" && -d "$cache/pkgs/$(cat "$stamp")" ]]; then
    say "$arch: $(cat "$stamp") (cached)"
    cat "$stamp"
    return
  fi
  apt_opts "$arch" "$suite" || return 1
  apt_run "apt-get update for $arch${suite:+ ($suite)}" apt-get "${o[@]}" update || return 1
  pkg=$(resolve "$meta" "$arch") || return 1
  rm -rf "$cache/pkgs/$pkg"
  dpkg-deb -x "$cache/debs/${pkg}"_*"_$arch.deb" "$cache/pkgs/$pkg"
  echo "$pkg" >"$stamp"
  echo "$pkg"
}

# vmlinuz PKG: the kernel file in an unpacked package (boot/vmlinuz-*, boot/vmlinux-*
# — trixie's riscv64 names its EFI-stub Image so — or usr/lib/modules/*/vmlinuz).
vmlinuz() {
  find "$cache/pkgs/$1" -type f \( -path '*/boot/vmlinuz-*' -o -path '*/boot/vmlinux-*' \
    -o -path '*/usr/lib/modules/*/vmlinuz' \) |
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

# The kernel package of each arch (its modules go into that arch's initramfs).
declare -A KPKG=()
for spec in arm64:linux-image-arm64: armhf:linux-image-armmp: "riscv64:linux-image-riscv64:$RISCV_SUITE"; do
  IFS=: read -r arch meta suite <<<"$spec"
  pkg=$(fetch "$arch" "$meta" "$suite") || { say "no $arch kernel: the line above says why"; exit 1; }
  KPKG[$arch]=$pkg
  count=$(find "$cache/pkgs/$pkg" -name '*.dtb' | wc -l)
  src=$(vmlinuz "$pkg")
  [[ -n "$src" ]] || { say "no vmlinuz in $cache/pkgs/$pkg"; exit 1; }
  case $arch in
    armhf) name=zImage ;;
    *) name=Image ;;
  esac
  place "$src" "$cache/kernels/$arch/$name"
  say "$arch: kernel $cache/kernels/$arch/$name ($(stat -c %s "$cache/kernels/$arch/$name") bytes), $count board DTBs, from $pkg"
done

image="$cache/kernels/arm64/Image"
if [[ ! -f "$image.gz" || "$image" -nt "$image.gz" ]]; then
  gzip -9 -n -c "$image" >"$image.gz.tmp"
  mv "$image.gz.tmp" "$image.gz"
fi
say "arm64: kernel $image.gz ($(stat -c %s "$image.gz") bytes, gzip -9 -n of arm64/Image)"

# Kernel modules the guests may need, by module name: what Debian's kernels build as
# modules of the partitions' devices. The power button (tests/fixtures/guest/init
# watches it) is gpio-keys on the Arm boards' PL061 — evdev gives it a /dev/input
# node — and the virtio-mmio devices come next. riscv64's board has no power button
# (its kernel has no gpio_keys either). A module built into the kernel (listed in the
# package's modules.builtin, =y in its config-*) is not needed and is skipped; one
# that is neither a module nor built in is an error. The guest loads a module only
# for a device it has (see modules below), and a file system's or a crypto
# algorithm's module when the kernel asks for it (request_module runs /sbin/modprobe,
# which is /init: ext4 mounts the ext2/3/4 disks of --disk, crc32c_generic is what its
# checksums ask for).
declare -A MODULES=(
  [arm64]="evdev gpio_keys virtio_mmio virtio_net virtio_blk ext4 crc32c_generic"
  [armhf]="evdev gpio_keys virtio_mmio virtio_net virtio_blk ext4 crc32c_generic"
  [riscv64]="virtio_mmio virtio_net virtio_blk ext4 crc32c_generic"
)

# moddir PKG: the modules directory of an unpacked kernel package
# (lib/modules/<release>, or usr/lib/modules/<release> after the /usr merge).
moddir() {
  local d
  for d in "$cache/pkgs/$1"/lib/modules/* "$cache/pkgs/$1"/usr/lib/modules/*; do
    [[ -f "$d/modules.builtin" ]] && { echo "$d"; return; }
  done
  return 1
}

# unpack_module SRC DEST: DEST becomes the module SRC, decompressed (.ko.xz, .ko.zst,
# .ko.gz) — busybox's insmod loads only plain ELF.
unpack_module() {
  local src=$1 dest=$2 tool
  case $src in
    *.ko) cp "$src" "$dest"; return ;;
    *.ko.xz) tool=xz ;;
    *.ko.zst) tool=zstd ;;
    *.ko.gz) tool=gzip ;;
    *) say "$src: not a kernel module"; return 1 ;;
  esac
  command -v "$tool" >/dev/null 2>&1 ||
    { say "$src is compressed with $tool, which is not installed (Debian package: ${tool/xz/xz-utils})"; return 1; }
  "$tool" -dc "$src" >"$dest" || { say "$src: $tool could not decompress it"; return 1; }
}

# ko_field KEY KO: KO's .modinfo entries KEY (depends, alias), one a line. Debian's
# packages do not ship modules.dep or modules.alias (depmod writes them when the
# package is installed); their sources are these entries, which modpost records at
# build time.
ko_field() {
  tr '\0' '\n' <"$2" | LC_ALL=C awk -v key="$1=" 'index($0, key) == 1 { print substr($0, length(key) + 1) }'
}

# modules ARCH PKG DIR: puts ARCH's MODULES and what they depend on, from kernel
# package PKG, into DIR as NAME.ko (decompressed), with what /init needs to load them
# without modprobe:
#   load-order  one module a line, each after those it depends on: "NAME [NEEDS...]",
#               NEEDS being every module NAME depends on (directly or not), in order;
#   aliases     "NAME PATTERN" lines, NAME's device aliases (globs of modaliases), in
#               load order.
# Sets BUILTIN to the wanted modules that are built into the kernel.
modules() {
  local arch=$1 pkg=$2 dir=$3 md f name
  md=$(moddir "$pkg") || { say "$arch: no lib/modules/<release>/modules.builtin in $pkg"; return 1; }
  local -A file=() builtin=() seen=() needs=()
  while IFS= read -r f; do
    name=${f##*/}
    name=${name%%.ko*}
    file[${name//-/_}]=$f
  done < <(find "$md/kernel" -type f -name '*.ko*')
  while IFS= read -r f; do
    name=${f##*/}
    name=${name%.ko}
    builtin[${name//-/_}]=1
  done <"$md/modules.builtin"
  local order=()
  BUILTIN=()
  # visit NAME: NAME after its dependencies (depth first); sets needs[NAME].
  visit() {
    local name=$1 dep list=" "
    case ${seen[$name]:-} in
      done) return ;;
      visiting) say "$arch: modules of $pkg depend on each other in a cycle through $name"; return 1 ;;
    esac
    if [[ -n ${builtin[$name]:-} ]]; then
      seen[$name]=builtin
      return
    fi
    [[ -n ${file[$name]:-} ]] || { say "$arch: $pkg has no module $name and does not build it in"; return 1; }
    seen[$name]=visiting
    unpack_module "${file[$name]}" "$dir/$name.ko" || return 1
    for dep in $(ko_field depends "$dir/$name.ko" | tr , ' '); do
      dep=${dep//-/_}
      visit "$dep" || return 1
      [[ ${seen[$dep]} == builtin ]] && continue
      # What dep needs, then dep: each after what it needs, none twice.
      for f in ${needs[$dep]} "$dep"; do
        [[ $list == *" $f "* ]] || list+="$f "
      done
    done
    needs[$name]=$list
    seen[$name]=done
    order+=("$name")
  }
  mkdir -p "$dir"
  for name in ${MODULES[$arch]}; do
    if [[ -n ${builtin[$name]:-} ]]; then BUILTIN+=("$name"); fi
    visit "$name" || return 1
  done
  : >"$dir/load-order"
  : >"$dir/aliases"
  for name in "${order[@]}"; do
    f=${needs[$name]# }
    echo "$name${f:+ ${f% }}" >>"$dir/load-order"
    ko_field alias "$dir/$name.ko" | sed "s/^/$name /" >>"$dir/aliases"
  done
}

# Initramfs per architecture: busybox-static from the same suite as the kernel
# (version resolved by apt, never hard-coded), tests/fixtures/guest/init as /init, and
# the arch's modules in /lib/modules (NAME.ko, load-order and aliases: see modules).
# Written to $cache/initramfs/<arch>.cpio.gz; rebuilt only when busybox, /init or the
# modules (their names, order or content: a new kernel package) change.
INIT_FILE="$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/guest/init"
mkdir -p "$cache/initramfs"
for spec in arm64: armhf: "riscv64:$RISCV_SUITE"; do
  IFS=: read -r arch suite <<<"$spec"
  apt_opts "$arch" "$suite"
  out="$cache/initramfs/$arch.cpio.gz"
  version=$(candidate busybox-static "${o[@]}")
  [[ -n "$version" ]] || { say "busybox-static ($arch): the archive has no candidate version of it"; exit 1; }
  root=$(mktemp -d)
  modules "$arch" "${KPKG[$arch]}" "$root/fs/lib/modules" || { rm -rf "$root"; exit 1; }
  loaded=$(cut -d' ' -f1 "$root/fs/lib/modules/load-order" | tr '\n' ' ')
  loaded=${loaded% }
  about="carries ${loaded:-no modules}${BUILTIN[*]:+ (built in: ${BUILTIN[*]})} from ${KPKG[$arch]}"
  stamp="$version $(sha256sum <"$INIT_FILE" | cut -c1-16) $(cd "$root/fs/lib/modules" &&
    find . -type f | sort | xargs sha256sum | sha256sum | cut -c1-16)"
  if [[ -f "$out" && "$(cat "$out.stamp" 2>/dev/null)" == "$stamp" ]]; then
    rm -rf "$root"
    say "$arch: initramfs $out (busybox-static $version, $about, cached)"
    continue
  fi
  download busybox-static "$arch" || { rm -rf "$root"; exit 1; }
  dpkg-deb -x "$cache/debs/busybox-static"_*"_$arch.deb" "$root/pkg"
  mkdir -p "$root/fs/bin" "$root/fs/proc" "$root/fs/sys" "$root/fs/dev"
  # bin/busybox, or usr/bin/busybox in suites after the /usr merge.
  bb=$(find "$root/pkg" -type f -name busybox -path '*bin/busybox' | sed -n 1p)
  [[ -n "$bb" ]] || { say "no busybox in busybox-static ($arch)"; exit 1; }
  cp "$bb" "$root/fs/bin/busybox"
  cp "$INIT_FILE" "$root/fs/init"
  chmod 755 "$root/fs/init" "$root/fs/bin/busybox"
  (cd "$root/fs" && find . | sort | cpio --quiet -o -H newc -R 0:0 | gzip -9 -n >"$out.tmp")
  rm -rf "$root"
  mv "$out.tmp" "$out"
  echo "$stamp" >"$out.stamp"
  say "$arch: initramfs $out (busybox-static $version, $about, $(stat -c %s "$out") bytes)"
done
