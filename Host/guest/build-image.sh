#!/usr/bin/env bash
# Builds the guest image for ukp-host from Debian packages only: the Debian cloud kernel,
# a busybox-static initramfs with libfuse3 and fusermount3, and ukp-fuse (built with
# --static-swift-stdlib) that mounts /uk/libukp at boot and then runs the app.
#
#   Host/guest/build-image.sh [OUT]     default OUT: .build-guest (vmlinuz, initrd.gz)
#   UKP_FUSE=path/to/ukp-fuse  use this binary instead of building one
#   UKP_GUEST_KERNEL=PACKAGE   the kernel meta-package (default linux-image-cloud-amd64)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-$repo/.build-guest}" && cd "${1:-$repo/.build-guest}" && pwd)
work=$out/work

need=()
command -v busybox >/dev/null && busybox --list | grep -qx insmod || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v xz >/dev/null || need+=(xz-utils)
command -v cc >/dev/null || need+=(gcc)
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || need+=(libc6-dev)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
if [ ${#need[@]} -gt 0 ]; then
    echo "build-image: installing ${need[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The kernel: the package the meta-package points at, unpacked.
kernel_meta=${UKP_GUEST_KERNEL:-linux-image-cloud-amd64}
kernel_pkg=$(apt-cache depends "$kernel_meta" | awk '/Depends: linux-image-/{print $2; exit}')
[ -n "$kernel_pkg" ] || { echo "build-image: no $kernel_meta in apt (run apt-get update)" >&2; exit 1; }
mkdir -p "$work/deb"
if [ ! -d "$work/kernel-$kernel_pkg" ]; then
    (cd "$work/deb" && apt-get download "$kernel_pkg" 2>/dev/null)
    dpkg-deb -x "$work"/deb/"$kernel_pkg"_*.deb "$work/kernel-$kernel_pkg"
fi
kroot=$work/kernel-$kernel_pkg
cp "$kroot"/boot/vmlinuz-* "$out/vmlinuz"
cp "$kroot"/boot/config-* "$out/kernel.config"    # ukp-host adds the vmgenid device if it has the driver
ls "$kroot/lib/modules" > "$out/kernel-release"

# ukp-fuse.
if [ -z "${UKP_FUSE:-}" ]; then
    (cd "$repo" && swift build -c release --static-swift-stdlib --product ukp-fuse --scratch-path .build-guest-swift >&2)
    UKP_FUSE=$repo/.build-guest-swift/release/ukp-fuse
fi

# The root file system.
root=$work/root
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib/modules,proc,sys,dev,tmp,run,etc}
cp "$(command -v busybox)" "$root/bin/busybox"
for applet in $(busybox --list); do [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"; done
for module in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_console fuse qemu_fw_cfg vmgenid; do
    # Newer Debian kernels compress their modules; busybox's insmod takes them plain.
    find "$kroot/lib/modules" -name "$module.ko*" | while read -r ko; do
        case "$ko" in
            *.xz) xz -dc "$ko" ;;
            *.zst) zstd -dc "$ko" ;;
            *) cat "$ko" ;;
        esac > "$root/lib/modules/$module.ko"
    done
done
cp "$UKP_FUSE" "$root/usr/bin/ukp-fuse"
cp /usr/bin/fusermount3 "$root/usr/bin/fusermount3"
cc -static -O2 -o "$root/usr/bin/ukp-watch" "$repo/Host/guest/ukp-watch.c"
cc -static -O2 -o "$root/usr/bin/ukp-stall" "$repo/Host/guest/ukp-stall.c"
cc -static -O2 -I "$repo/clients/c" -o "$root/usr/bin/ukp-renewal-check" "$repo/Host/guest/ukp-renewal-check.c"
mkdir -p "$root/etc/ukp/child-hooks"
cp "$repo"/Host/guest/child-hooks/* "$root/etc/ukp/child-hooks/"
# Their shared libraries (glibc, libfuse3, libstdc++ …), at the paths the loader expects.
for binary in "$UKP_FUSE" /usr/bin/fusermount3; do
    ldd "$binary" | grep -o '/[^ ]*' | while read -r lib; do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
done
# Debug symbols only cost guest memory.
if command -v strip >/dev/null; then
    find "$root/usr" "$root/lib" "$root/opt" -type f \( -name '*.so*' -o -perm -u+x \) 2>/dev/null \
        | xargs -r strip --strip-unneeded 2>/dev/null || true
fi
echo "user_allow_other" > "$root/etc/fuse.conf"
cp "$repo/Host/guest/init" "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/initrd.gz"
# The guest must hold the unpacked initramfs and the archive while unpacking: say how much
# memory it needs at least (ukp-host --memory), in multiples of 64 MiB.
unpacked=$(du -sm "$root" | cut -f1)
packed=$(du -sm "$out/initrd.gz" | cut -f1)
echo $(( (unpacked + packed + 80 + 63) / 64 * 64 )) > "$out/min-memory-mib"
echo "build-image: $out/vmlinuz $out/initrd.gz ($(du -h "$out/initrd.gz" | cut -f1); at least $(cat "$out/min-memory-mib") MiB)" >&2
