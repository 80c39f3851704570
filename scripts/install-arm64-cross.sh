#!/usr/bin/env bash
# Installs, from Debian's packages, what `dotnet publish -r linux-arm64` of a NativeAOT app needs on an x86-64 Linux
# machine, and what runs the result here. NativeAOT's targets see the cross-compile (host x64, target arm64) and link
# with `clang --target=aarch64-linux-gnu -fuse-ld=bfd`; clang finds Debian's cross sysroot (/usr/aarch64-linux-gnu,
# /usr/lib/gcc-cross/aarch64-linux-gnu) by itself, so no SysRoot, LinkerFlavor or ObjCopyName property is needed:
#   clang                      the linker driver NativeAOT calls
#   llvm                       llvm-objcopy, which splits the symbols into StoryTeller.dbg for any target
#   gcc-aarch64-linux-gnu      aarch64-linux-gnu-ld (binutils-aarch64-linux-gnu), crtbegin.o and libgcc
#   libc6-dev-arm64-cross      glibc's arm64 headers, crt1.o and libraries: the sysroot
#   qemu-user                  qemu-aarch64, which runs the arm64 executable here: qemu-aarch64 -L /usr/aarch64-linux-gnu
# Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail
packages=(clang llvm gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then echo "install-arm64-cross: all installed"; exit 0; fi
sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo
start=$SECONDS
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
echo "install-arm64-cross: installed ${missing[*]} in $((SECONDS - start)) s"
