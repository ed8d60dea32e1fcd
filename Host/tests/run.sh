#!/usr/bin/env bash
# Builds the guest image (Debian kernel, busybox, libfuse3, ukp-fuse), forks real QEMU VMs
# through /uk/libukp, and runs ukp-fuse --platform wire against a fake platform. UKP_FUSE
# names the ukp-fuse binary to use (default: build one with --static-swift-stdlib).
# Skips loudly where QEMU cannot run.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
image=${UKP_GUEST_IMAGE:-$PWD/.build-guest}
if ! Host/guest/build-image.sh "$image"; then
    if ! command -v qemu-system-x86_64 >/dev/null; then
        echo "!!!!!!!! SKIPPED: real VM fork tests: QEMU is missing and could not be installed !!!!!!!!" >&2
        exit 0
    fi
    echo "run.sh: the guest image could not be built" >&2
    exit 1
fi
# The VM crash test needs FUSE_NOTIFY_RESEND (Linux 6.9+) in the guest: Debian's 6.12 cloud
# kernel, with the same ukp-fuse.
resend=${UKP_GUEST_IMAGE_RESEND:-$image-resend}
if ! UKP_FUSE=${UKP_FUSE:-$PWD/.build-guest-swift/release/ukp-fuse} UKP_GUEST_KERNEL=linux-image-6.12-cloud-amd64 \
        Host/guest/build-image.sh "$resend"; then
    echo "run.sh: the guest image with a 6.12 kernel could not be built: the VM crash test will skip" >&2
fi
status=0
UKP_GUEST_IMAGE=$image UKP_GUEST_IMAGE_RESEND=$resend python3 -m unittest discover -s Host/tests -t Host/tests -v || status=$?
if grep -q '/ukp-wire-' /proc/mounts; then
    echo "run.sh: test mounts left behind:" >&2
    grep '/ukp-wire-' /proc/mounts >&2
    status=1
fi
exit "$status"
