#define _GNU_SOURCE
#include "vfskit_io.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifndef FUSE_NOTIFY_RESEND
#define FUSE_NOTIFY_RESEND 7   /* Linux 6.9; absent from Debian 12's linux/fuse.h */
#endif
#define VFSKIT_FUSE_INIT 26
#define VFSKIT_FUSE_POLL 40
#define VFSKIT_MAX_FDS 4096

struct vfskit_io {
    pthread_mutex_t lock;
    pthread_cond_t init_done;
    unsigned char *replay;      /* the INIT to hand out, until a reader took it */
    size_t replay_len;
    uint64_t replay_unique;     /* its unique: the reply to swallow */
    int init_in_flight;         /* handed out, not answered yet: other readers wait */
    int resend_result;
    char *record_path;          /* where the kernel's INIT is saved */
};

static struct vfskit_io *connections[VFSKIT_MAX_FDS];
/* How long the worker that just answered a request polls for the next one before it
   sleeps in read(2): a request found that way costs the server no wake-up. Only when no
   other worker is busy (a lone caller waiting on each answer, where the wake-up is most of
   the round trip; under concurrent load the CPU is better spent answering), one worker at
   a time, and only right after a request: an idle server sleeps. */
#define VFSKIT_SPIN_NS 50000L
static int spinner_busy;
static int busy_workers;                 /* workers between a request read and their next read */
static __thread int holding_request;

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

/* Polls `fd` for a pending request for up to VFSKIT_SPIN_NS, if no other worker does. */
static void spin_for_request(int fd) {
    if (__atomic_load_n(&busy_workers, __ATOMIC_RELAXED) > 0) return;
    if (__atomic_exchange_n(&spinner_busy, 1, __ATOMIC_ACQUIRE)) return;
    long deadline = now_ns() + VFSKIT_SPIN_NS;
    struct pollfd pending = { .fd = fd, .events = POLLIN };
    do {
        if (poll(&pending, 1, 0) > 0) break;
    } while (now_ns() < deadline);
    __atomic_store_n(&spinner_busy, 0, __ATOMIC_RELEASE);
}
static __thread uint64_t current_unique;
static __thread uint64_t current_poll_kh;

uint64_t vfskit_current_unique(void) { return current_unique; }
uint64_t vfskit_current_poll_kh(void) { return current_poll_kh; }

int vfskit_io_attach(int fd, const void *replay_init, size_t replay_len, const char *init_record_path) {
    if (fd < 0 || fd >= VFSKIT_MAX_FDS) return -EBADF;
    if (replay_init != NULL && replay_len < sizeof(struct fuse_in_header)) return -EINVAL;
    struct vfskit_io *io = calloc(1, sizeof *io);
    if (io == NULL) return -ENOMEM;
    pthread_mutex_init(&io->lock, NULL);
    pthread_cond_init(&io->init_done, NULL);
    if (replay_init != NULL) {
        io->replay = malloc(replay_len);
        if (io->replay == NULL) { free(io); return -ENOMEM; }
        memcpy(io->replay, replay_init, replay_len);
        io->replay_len = replay_len;
        io->replay_unique = ((const struct fuse_in_header *)replay_init)->unique;
    }
    if (init_record_path != NULL) io->record_path = strdup(init_record_path);
    __atomic_store_n(&connections[fd], io, __ATOMIC_RELEASE);
    return 0;
}

void vfskit_io_detach(int fd) {
    if (fd < 0 || fd >= VFSKIT_MAX_FDS) return;
    struct vfskit_io *io = __atomic_exchange_n(&connections[fd], NULL, __ATOMIC_ACQ_REL);
    if (io == NULL) return;
    free(io->replay);
    free(io->record_path);
    pthread_cond_destroy(&io->init_done);
    pthread_mutex_destroy(&io->lock);
    free(io);
}

int vfskit_io_resend_result(int fd) {
    struct vfskit_io *io = fd >= 0 && fd < VFSKIT_MAX_FDS ? __atomic_load_n(&connections[fd], __ATOMIC_ACQUIRE) : NULL;
    if (io == NULL) return 0;
    pthread_mutex_lock(&io->lock);
    int result = io->resend_result;
    pthread_mutex_unlock(&io->lock);
    return result;
}

/* Saves the kernel's INIT request next to `path`, then renames it into place. */
static void record_init(const char *path, const void *buf, size_t len) {
    char temporary[4096];
    if (snprintf(temporary, sizeof temporary, "%s.tmp", path) >= (int)sizeof temporary) return;
    int out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) return;
    ssize_t written = write(out, buf, len);
    close(out);
    if (written == (ssize_t)len) rename(temporary, path);
    else unlink(temporary);
}

ssize_t vfskit_io_read(int fd, void *buf, size_t buf_len, void *userdata) {
    (void)userdata;
    struct vfskit_io *io = fd >= 0 && fd < VFSKIT_MAX_FDS ? __atomic_load_n(&connections[fd], __ATOMIC_ACQUIRE) : NULL;
    ssize_t count;
    if (io != NULL && (io->replay != NULL || io->init_in_flight)) {
        pthread_mutex_lock(&io->lock);
        if (io->replay != NULL && io->replay_len <= buf_len) {
            memcpy(buf, io->replay, io->replay_len);
            count = (ssize_t)io->replay_len;
            free(io->replay);
            io->replay = NULL;
            io->init_in_flight = 1;
            pthread_mutex_unlock(&io->lock);
            goto note;
        }
        while (io->init_in_flight) pthread_cond_wait(&io->init_done, &io->lock);
        pthread_mutex_unlock(&io->lock);
    }
    if (holding_request) {
        holding_request = 0;
        __atomic_sub_fetch(&busy_workers, 1, __ATOMIC_RELAXED);
    }
    spin_for_request(fd);
    count = read(fd, buf, buf_len);
    if (count < 0) return count;
    holding_request = 1;
    __atomic_add_fetch(&busy_workers, 1, __ATOMIC_RELAXED);
    if (io != NULL && io->record_path != NULL && count >= (ssize_t)sizeof(struct fuse_in_header)
        && ((const struct fuse_in_header *)buf)->opcode == VFSKIT_FUSE_INIT) {
        record_init(io->record_path, buf, (size_t)count);
    }
note:
    if (count >= (ssize_t)sizeof(struct fuse_in_header)) {
        const struct fuse_in_header *in = buf;
        current_unique = in->unique;
        current_poll_kh = 0;
        if (in->opcode == VFSKIT_FUSE_POLL && count >= (ssize_t)(sizeof *in + sizeof(struct fuse_poll_in))) {
            current_poll_kh = ((const struct fuse_poll_in *)(in + 1))->kh;
        }
    }
    return count;
}

ssize_t vfskit_io_writev(int fd, struct iovec *iov, int count, void *userdata) {
    (void)userdata;
    struct vfskit_io *io = fd >= 0 && fd < VFSKIT_MAX_FDS ? __atomic_load_n(&connections[fd], __ATOMIC_ACQUIRE) : NULL;
    if (io != NULL && io->init_in_flight && count > 0 && iov[0].iov_len >= sizeof(struct fuse_out_header)
        && ((const struct fuse_out_header *)iov[0].iov_base)->unique == io->replay_unique) {
        /* libfuse answered the replayed INIT: the kernel must not see it (it was answered
           long ago). Now ask for the requests the dead server had read, and let readers in. */
        size_t total = 0;
        for (int i = 0; i < count; i++) total += iov[i].iov_len;
        struct fuse_out_header resend = { .len = sizeof resend, .error = FUSE_NOTIFY_RESEND, .unique = 0 };
        ssize_t sent = write(fd, &resend, sizeof resend);
        int result = sent == (ssize_t)sizeof resend ? 1 : -errno;
        pthread_mutex_lock(&io->lock);
        io->resend_result = result;
        io->init_in_flight = 0;
        pthread_cond_broadcast(&io->init_done);
        pthread_mutex_unlock(&io->lock);
        return (ssize_t)total;
    }
    return writev(fd, iov, count);
}

int vfskit_io_clone(int fd) {
    int clone = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (clone < 0) return -errno;
    uint32_t source = (uint32_t)fd;
    if (ioctl(clone, FUSE_DEV_IOC_CLONE, &source) != 0) {
        int error = errno;
        close(clone);
        return -error;
    }
    return clone;
}

/* Writes one notification (an out header with the code in `error`, then `body`). */
static int notify(int fd, int code, const void *body, size_t length) {
    struct fuse_out_header header = { (uint32_t)(sizeof header + length), code, 0 };
    struct iovec parts[2] = { { &header, sizeof header }, { (void *)body, length } };
    return writev(fd, parts, 2) == (ssize_t)header.len ? 0 : -errno;
}

int vfskit_notify_poll(int fd, uint64_t kh) {
    struct fuse_notify_poll_wakeup_out body = { kh };
    return notify(fd, FUSE_NOTIFY_POLL, &body, sizeof body);
}

int vfskit_notify_inval_attributes(int fd, uint64_t ino) {
    struct fuse_notify_inval_inode_out body = { ino, -1, 0 };
    return notify(fd, FUSE_NOTIFY_INVAL_INODE, &body, sizeof body);
}
