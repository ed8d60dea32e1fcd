#!/usr/bin/env bash
# Installs what building and serving need on Debian, when missing: libfuse3 headers,
# fusermount3, pkg-config, a C compiler and Python 3 (for the kernel tests).
set -euo pipefail
need=()
dpkg -s libfuse3-dev >/dev/null 2>&1 || need+=(libfuse3-dev)
command -v fusermount3 >/dev/null 2>&1 || need+=(fuse3)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
    echo "install-deps: installing ${need[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then echo "install-deps: need root to apt-get install ${need[*]}" >&2; exit 1; fi
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v swift >/dev/null 2>&1 || [ -x /opt/swift/usr/bin/swift ] || {
    echo "install-deps: no Swift toolchain found (expected swift on PATH or /opt/swift)" >&2; exit 1; }
