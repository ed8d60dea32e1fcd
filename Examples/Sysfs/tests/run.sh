#!/usr/bin/env bash
# python-periphery (PyPI, unmodified) drives sysfs-fuse in a private mount namespace where
# the tree is mounted over /sys/class/{gpio,leds,pwm}. Skips loudly without /dev/fuse or
# mount namespaces. Environment: SYSFS_FUSE (the daemon; built here if unset).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH="/opt/swift/usr/bin:$PATH"
skip() { echo "!!!!!!!! SKIPPED: python-periphery on sysfs-fuse: $* !!!!!!!!" >&2; exit 0; }
[ -e /dev/fuse ] || skip "/dev/fuse is missing"
unshare -m --propagation private true 2>/dev/null || skip "no mount namespaces here (unshare -m failed)"
if [ -z "${SYSFS_FUSE:-}" ] || [ ! -x "$SYSFS_FUSE" ]; then
    swift build --product sysfs-fuse
    SYSFS_FUSE="$(swift build --product sysfs-fuse --show-bin-path)/sysfs-fuse"
fi
venv=.build-sysfs-py
if ! "$venv/bin/python3" -c 'import periphery' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "python-periphery==2.4.3"
fi
SYSFS_FUSE="$(realpath "$SYSFS_FUSE")"
export SYSFS_FUSE SYSFS_IN_NAMESPACE=1
cd Examples/Sysfs/tests
exec unshare -m --propagation private "../../../$venv/bin/python3" -m unittest -v test_periphery
