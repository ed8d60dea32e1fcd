// The FUSE device I/O of a VFSKit server: libfuse's custom I/O hooks (3.14+), so that a
// server can take over a connection another server initialized (replaying the recorded
// FUSE_INIT instead of waiting for one), and so that each worker knows the raw header of
// the request it is processing (its unique id, which the kernel keeps across a resend).
#ifndef VFSKIT_IO_H
#define VFSKIT_IO_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/// Serves FUSE descriptor `fd` through the hooks below. With `replay_init` (the bytes of
/// the FUSE_INIT request the connection was initialized with), the first read returns
/// them, other readers wait until libfuse answered it, the answer is swallowed, and
/// FUSE_NOTIFY_RESEND is sent. With `init_record_path`, the kernel's FUSE_INIT request is
/// saved there (atomically) when it arrives. Returns 0, or -errno.
int vfskit_io_attach(int fd, const void *replay_init, size_t replay_len, const char *init_record_path);
/// Forgets `fd`.
void vfskit_io_detach(int fd);
/// The `read` and `writev` of libfuse's `struct fuse_custom_io`.
ssize_t vfskit_io_read(int fd, void *buf, size_t buf_len, void *userdata);
ssize_t vfskit_io_writev(int fd, struct iovec *iov, int count, void *userdata);
/// After a replayed INIT: 1 once FUSE_NOTIFY_RESEND was sent, -errno if the kernel refused
/// it (before Linux 6.9: EINVAL), 0 before.
int vfskit_io_resend_result(int fd);

/// The unique id of the request this thread read last (bit 63 set when the kernel resent it).
uint64_t vfskit_current_unique(void);
/// The kernel's poll handle (`kh`) of the FUSE_POLL this thread read last; 0 for other requests.
uint64_t vfskit_current_poll_kh(void);

/// A new descriptor of `fd`'s connection (`/dev/fuse` opened, then `FUSE_DEV_IOC_CLONE`)
/// with its own processing queue: the requests read through it and not answered are ended
/// with `ECONNABORTED` when it closes (its process died), instead of staying with the
/// connection for `FUSE_NOTIFY_RESEND`. Returns the descriptor (close-on-exec), or -errno.
int vfskit_io_clone(int fd);

/// Wakes the kernel pollers registered under `kh` (FUSE_NOTIFY_POLL). Returns 0 or -errno.
int vfskit_notify_poll(int fd, uint64_t kh);

/// Makes the kernel drop its cached attributes of node `ino` (FUSE_NOTIFY_INVAL_INODE with
/// no page range), written directly to `fd` like `vfskit_notify_poll`. 0, or -errno
/// (-ENOENT when the kernel does not hold the node).
int vfskit_notify_inval_attributes(int fd, uint64_t ino);

#endif
