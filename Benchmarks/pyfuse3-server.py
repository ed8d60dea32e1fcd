#!/usr/bin/env python3
"""The peer of Benchmarks/run: /status ("Running\\n", size 4096, direct I/O)
served by pyfuse3, exactly like Benchmarks/c-baseline/server.c serves it.

    pyfuse3-server.py MOUNTPOINT

Runs in the foreground; SIGINT/SIGTERM unmount.
"""
import errno
import os
import signal
import stat
import sys

import pyfuse3
import trio

CONTENT = b"Running\n"
STATUS_INODE = pyfuse3.ROOT_INODE + 1


class StatusFS(pyfuse3.Operations):
    def _attr(self, inode):
        attr = pyfuse3.EntryAttributes()
        attr.st_ino = inode
        attr.st_uid = os.getuid()
        attr.st_gid = os.getgid()
        attr.attr_timeout = 0
        attr.entry_timeout = 0
        if inode == pyfuse3.ROOT_INODE:
            attr.st_mode = stat.S_IFDIR | 0o555
            attr.st_nlink = 2
        elif inode == STATUS_INODE:
            attr.st_mode = stat.S_IFREG | 0o444
            attr.st_nlink = 1
            attr.st_size = 4096
        else:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return attr

    async def getattr(self, inode, ctx=None):
        return self._attr(inode)

    async def lookup(self, parent_inode, name, ctx=None):
        if parent_inode == pyfuse3.ROOT_INODE and name == b"status":
            return self._attr(STATUS_INODE)
        raise pyfuse3.FUSEError(errno.ENOENT)

    async def opendir(self, inode, ctx):
        if inode != pyfuse3.ROOT_INODE:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        return inode

    async def readdir(self, fh, start_id, token):
        if start_id == 0:
            pyfuse3.readdir_reply(token, b"status", self._attr(STATUS_INODE), 1)

    async def open(self, inode, flags, ctx):
        if inode != STATUS_INODE:
            raise pyfuse3.FUSEError(errno.EISDIR)
        if flags & os.O_ACCMODE != os.O_RDONLY:
            raise pyfuse3.FUSEError(errno.EACCES)
        return pyfuse3.FileInfo(fh=inode, direct_io=True)

    async def read(self, fh, off, size):
        return CONTENT[off:off + size]


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} MOUNTPOINT", file=sys.stderr)
        return 2
    options = set(pyfuse3.default_options)
    options.add("fsname=pyfuse3bench")
    options.add("auto_unmount")
    pyfuse3.init(StatusFS(), sys.argv[1], options)

    def stop(*_):
        # pyfuse3.terminate() must run inside the trio loop: raise there instead.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"pyfuse3-server: serving {sys.argv[1]}", file=sys.stderr, flush=True)
    try:
        trio.run(pyfuse3.main)
    except KeyboardInterrupt:
        pass
    finally:
        pyfuse3.close(unmount=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
