/* ukp.h — fork this instance through /uk/libukp, the way fork(2) forks a process.
 *
 * Header only, C99 with POSIX.1-2008 (gcc's and clang's default), Linux; the files that
 * include it share one callback registry. Include it where you need it:
 *
 *     ukp_uuid child;
 *     int side = ukp_fork(&child);        // 1 in the parent (child set), 0 in the child, -1 on error
 *     if (side == 0) { ... child ... }     // callbacks from ukp_on_child() have already run here
 *     int code;
 *     if (side == 1 && ukp_wait(&child, &code) == 0) printf("exit %d\n", code);
 *
 * When ukp_fork() returns in the child, the daemon has already reseeded the kernel's random
 * generator, stepped the wall clock and renewed /uk/libukp/generation; what lives in your
 * process's memory (a userspace PRNG, cached IDs, the hostname you read) is yours to renew:
 * register that with ukp_on_child(). The tree's root is $UKP_ROOT, else /uk/libukp.
 */
#ifndef UKP_H
#define UKP_H

#if defined(__STRICT_ANSI__) && !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#error "ukp.h needs POSIX.1-2008: compile with -D_POSIX_C_SOURCE=200809L, or a gnu standard (the default)"
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/** A UUID in lowercase canonical text, NUL-terminated. */
typedef struct { char text[37]; } ukp_uuid;

#define UKP_ZERO_UUID "00000000-0000-0000-0000-000000000000"
#define UKP_MAX_CALLBACKS 32

/* One registry for the whole program, whichever files include this header (weak symbols merge). */
struct ukp_callbacks_ {
    int count;
    void (*fn[UKP_MAX_CALLBACKS])(void *);
    void *arg[UKP_MAX_CALLBACKS];
};
__attribute__((weak)) struct ukp_callbacks_ ukp_callbacks_;

static inline const char *ukp_root_(void) {
    const char *root = getenv("UKP_ROOT");
    return root && *root ? root : "/uk/libukp";
}

/* Reads the one-line value of ROOT/name into out (at most size-1 bytes, newline dropped). */
static inline int ukp_read_(const char *name, char *out, size_t size) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", ukp_root_(), name) >= sizeof path) { errno = ENAMETOOLONG; return -1; }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = pread(fd, out, size - 1, 0);
    int saved = errno;
    close(fd);
    if (n < 0) { errno = saved; return -1; }
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r')) n--;
    out[n] = 0;
    return (int)n;
}

/* Writes "1" to ROOT/name (opened without O_TRUNC, so blocked writers queue as SPEC.md says). */
static inline int ukp_write_(const char *name) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", ukp_root_(), name) >= sizeof path) { errno = ENAMETOOLONG; return -1; }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, "1", 1);  /* blocks until done; EINTR is the caller's to handle */
    int saved = errno;
    close(fd);
    if (n != 1) { errno = n < 0 ? saved : EIO; return -1; }
    return 0;
}

static inline int ukp_parse_uuid_(const char *text, ukp_uuid *out) {
    if (strlen(text) != 36) { errno = EPROTO; return -1; }
    memcpy(out->text, text, 37);
    return 0;
}

/** Registers fn(arg) to run in the child after each fork, in registration order, before
 *  ukp_fork() returns there. Returns 0, or -1 with ENOSPC past UKP_MAX_CALLBACKS. */
static inline int ukp_on_child(void (*fn)(void *), void *arg) {
    if (ukp_callbacks_.count >= UKP_MAX_CALLBACKS) { errno = ENOSPC; return -1; }
    ukp_callbacks_.fn[ukp_callbacks_.count] = fn;
    ukp_callbacks_.arg[ukp_callbacks_.count] = arg;
    ukp_callbacks_.count++;
    return 0;
}

/** Forks this instance. Returns 1 in the parent with *child set to the child's UUID, 0 in
 *  the child with *child set to the zero UUID (after the ukp_on_child callbacks ran), or -1
 *  with errno (EBUSY: fork queue full, EINTR, EIO, or the platform's errno). */
static inline int ukp_fork(ukp_uuid *child) {
    char text[64];
    if (ukp_write_("fork") != 0) return -1;
    if (ukp_read_("fork", text, sizeof text) < 0 || ukp_parse_uuid_(text, child) != 0) return -1;
    if (strcmp(child->text, UKP_ZERO_UUID) != 0) return 1;
    for (int i = 0; i < ukp_callbacks_.count; i++) ukp_callbacks_.fn[i](ukp_callbacks_.arg[i]);
    return 0;
}

/** Blocks until the child stopped; stores its exit code. Returns 0, or -1 with errno
 *  (ENOENT: no such child, EINTR, ESTALE: it was cleaned up). */
static inline int ukp_wait(const ukp_uuid *child, int *exit_code) {
    char name[64], text[32];
    snprintf(name, sizeof name, "vm/%s/wait", child->text);
    if (ukp_write_(name) != 0) return -1;
    if (ukp_read_(name, text, sizeof text) <= 0) { if (errno == 0) errno = EIO; return -1; }
    *exit_code = atoi(text);
    return 0;
}

/** This incarnation's UUID (/generation): new in every child. Returns 0, or -1 with errno. */
static inline int ukp_generation(ukp_uuid *out) {
    char text[64];
    if (ukp_read_("generation", text, sizeof text) < 0) return -1;
    return ukp_parse_uuid_(text, out);
}

/** An open descriptor of /generation to poll(2) for POLLPRI (re-read it from offset 0
 *  after each wake-up), or -1 with errno. */
static inline int ukp_generation_fd(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/generation", ukp_root_());
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) { char buf[64]; (void)pread(fd, buf, sizeof buf, 0); }
    return fd;
}

#endif
