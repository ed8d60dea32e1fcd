// libfuse3 low-level API for Swift. FUSE_USE_VERSION 312: below it libfuse 3.14
// misreads fuse_loop_config and starts a thread per request (../shared/FUSE-FACTS.md).
#ifndef UKP_CFUSE_SHIM_H
#define UKP_CFUSE_SHIM_H
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <fcntl.h>
#include <string.h>
#include <sys/uio.h>

#ifndef O_PATH
#define O_PATH 010000000
#endif

/// An O_PATH handle on a directory (sends no FUSE request): used to reach a
/// mount's own root later even if something is mounted on top of it.
static inline int ukp_open_path(const char *path) {
    return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/// Runs the multi-threaded session loop; `fuse_session_loop_mt` is a
/// function-like macro in some libfuse builds, which Swift cannot call.
/// `max_threads` 0 keeps libfuse's default (10).
static inline int ukp_session_loop_mt(struct fuse_session *se,
                                      unsigned int max_threads,
                                      unsigned int clone_fd) {
    struct fuse_loop_config *config = fuse_loop_cfg_create();
    if (config == NULL) return -1;
    if (max_threads > 0) fuse_loop_cfg_set_max_threads(config, max_threads);
    fuse_loop_cfg_set_clone_fd(config, clone_fd);
    int result = fuse_session_loop_mt(se, config);
    fuse_loop_cfg_destroy(config);
    return result;
}

/// Open flags the kernel understands (linux/fuse.h), re-exported under names
/// that do not collide with libfuse's.
static const unsigned int UKP_FOPEN_DIRECT_IO = FOPEN_DIRECT_IO;
static const unsigned int UKP_FOPEN_NONSEEKABLE = FOPEN_NONSEEKABLE;
static const unsigned int UKP_FOPEN_NOFLUSH = FOPEN_NOFLUSH;
static const unsigned int UKP_FOPEN_PARALLEL_DIRECT_WRITES = FOPEN_PARALLEL_DIRECT_WRITES;

/// Answers an open/opendir with the kernel's open flags set directly.
/// libfuse 3.14.0 has no `fuse_file_info` bit for FOPEN_PARALLEL_DIRECT_WRITES
/// (it came in 3.14.1), so the reply is built here and sent as raw bytes.
/// Returns 0, or -errno when the request is gone (e.g. interrupted): then the
/// kernel never saw `fh` and the caller must release it.
static inline int ukp_reply_open(fuse_req_t req, uint64_t fh, uint32_t open_flags) {
    struct fuse_open_out out;
    memset(&out, 0, sizeof(out));
    out.fh = fh;
    out.open_flags = open_flags;
    struct iovec iov = { .iov_base = &out, .iov_len = sizeof(out) };
    return fuse_reply_iov(req, &iov, 1);
}

#endif
