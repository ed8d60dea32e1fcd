// Minimal libfuse3 low-level server: the baseline the VFSKit driver is measured
// against. Serves /status ("Running\n", size 4096, direct I/O) and, with -n N,
// a directory /dir of N UUID-named empty files (for readdir benchmarks), and
// with -w the floor for blocked writers: /wait (a write parks until released)
// and /exit (a write answers every parked /wait write, then itself).
//
//   server [-n N] [-w] [-t MAX_THREADS] [-S] MOUNTPOINT
//
// Runs in the foreground; SIGINT/SIGTERM unmount. auto_unmount covers a crash,
// except with -S (used by tests to leave a stale mount behind on purpose).
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

enum { ROOT = 1, STATUS = 2, DIR_INO = 3, WAIT = 4, EXIT = 5, FIRST_ENTRY = 100 };
static const char content[] = "Running\n";
static unsigned long entries = 0;
static int waiters_mode = 0;

// Parked /wait writes: an array that grows; released all at once by /exit.
static pthread_mutex_t parked_lock = PTHREAD_MUTEX_INITIALIZER;
static fuse_req_t *parked;
static size_t parked_count, parked_capacity;

static void entry_name(unsigned long i, char out[37]) {
    unsigned long long a = 0x9e3779b97f4a7c15ULL * (i + 1);
    unsigned long long b = 0xc2b2ae3d27d4eb4fULL * (i + 7);
    snprintf(out, 37, "%08llx-%04llx-%04llx-%04llx-%012llx",
             a >> 32, (a >> 16) & 0xffff, 0x4000 | (a & 0x0fff),
             0x8000 | (b >> 48 & 0x3fff), b & 0xffffffffffffULL);
}

static int fill_attr(fuse_ino_t ino, struct stat *st) {
    memset(st, 0, sizeof(*st));
    st->st_ino = ino;
    st->st_uid = getuid();
    st->st_gid = getgid();
    if (ino == ROOT || (ino == DIR_INO && entries > 0)) {
        st->st_mode = S_IFDIR | 0555;
        st->st_nlink = 2;
    } else if (ino == STATUS) {
        st->st_mode = S_IFREG | 0444;
        st->st_nlink = 1;
        st->st_size = 4096;
    } else if ((ino == WAIT || ino == EXIT) && waiters_mode) {
        st->st_mode = S_IFREG | 0666;
        st->st_nlink = 1;
        st->st_size = 4096; // >= offset + length: the kernel allows parallel writes
    } else if (ino >= FIRST_ENTRY && ino < FIRST_ENTRY + entries) {
        st->st_mode = S_IFREG | 0444;
        st->st_nlink = 1;
    } else {
        return ENOENT;
    }
    return 0;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
    struct fuse_entry_param e;
    memset(&e, 0, sizeof(e));
    fuse_ino_t ino = 0;
    if (parent == ROOT && strcmp(name, "status") == 0) ino = STATUS;
    else if (parent == ROOT && entries > 0 && strcmp(name, "dir") == 0) ino = DIR_INO;
    else if (parent == ROOT && waiters_mode && strcmp(name, "wait") == 0) ino = WAIT;
    else if (parent == ROOT && waiters_mode && strcmp(name, "exit") == 0) ino = EXIT;
    else if (parent == DIR_INO) {
        char n[37];
        for (unsigned long i = 0; i < entries; i++) {
            entry_name(i, n);
            if (strcmp(n, name) == 0) { ino = FIRST_ENTRY + i; break; }
        }
    }
    if (ino == 0 || fill_attr(ino, &e.attr) != 0) { fuse_reply_err(req, ENOENT); return; }
    e.ino = ino;
    fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    (void)fi;
    struct stat st;
    int err = fill_attr(ino, &st);
    if (err) fuse_reply_err(req, err);
    else fuse_reply_attr(req, &st, 0);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    if (ino == WAIT || ino == EXIT) {
        // libfuse 3.14.0 has no fuse_file_info bit for parallel direct writes: reply by hand.
        struct fuse_open_out out;
        memset(&out, 0, sizeof(out));
        out.open_flags = FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES;
        struct iovec iov = { .iov_base = &out, .iov_len = sizeof(out) };
        fuse_reply_iov(req, &iov, 1);
        return;
    }
    if (ino != STATUS && ino < FIRST_ENTRY) { fuse_reply_err(req, EISDIR); return; }
    if ((fi->flags & O_ACCMODE) != O_RDONLY) { fuse_reply_err(req, EACCES); return; }
    fi->direct_io = 1;
    fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi) {
    (void)fi;
    size_t len = ino == STATUS ? sizeof(content) - 1 : 0;
    if ((size_t)off >= len) { fuse_reply_buf(req, NULL, 0); return; }
    size_t n = len - off < size ? len - off : size;
    fuse_reply_buf(req, content + off, n);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi) {
    (void)buf; (void)off; (void)fi;
    if (ino == WAIT) {
        pthread_mutex_lock(&parked_lock);
        if (parked_count == parked_capacity) {
            parked_capacity = parked_capacity ? 2 * parked_capacity : 1024;
            parked = realloc(parked, parked_capacity * sizeof(*parked));
        }
        parked[parked_count++] = req;
        pthread_mutex_unlock(&parked_lock);
        return;
    }
    if (ino != EXIT) { fuse_reply_err(req, EBADF); return; }
    pthread_mutex_lock(&parked_lock);
    fuse_req_t *released = parked;
    size_t count = parked_count;
    parked = NULL;
    parked_count = parked_capacity = 0;
    pthread_mutex_unlock(&parked_lock);
    for (size_t i = 0; i < count; i++) fuse_reply_write(released[i], 1);
    free(released);
    fuse_reply_write(req, size);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi) {
    (void)fi;
    if (ino != ROOT && ino != DIR_INO) { fuse_reply_err(req, ENOTDIR); return; }
    char *buf = malloc(size);
    if (!buf) { fuse_reply_err(req, ENOMEM); return; }
    size_t used = 0;
    struct stat st;
    memset(&st, 0, sizeof(st));
    unsigned long total = 2 + (ino == ROOT ? 1ul + (entries > 0) + 2ul * waiters_mode : entries);
    for (unsigned long i = off; i < total; i++) {
        char n[37];
        const char *name;
        if (i == 0) { name = "."; st.st_ino = ino; st.st_mode = S_IFDIR; }
        else if (i == 1) { name = ".."; st.st_ino = ROOT; st.st_mode = S_IFDIR; }
        else if (ino == ROOT && i == 2) { name = "status"; st.st_ino = STATUS; st.st_mode = S_IFREG; }
        else if (ino == ROOT && i == 3 && entries > 0) { name = "dir"; st.st_ino = DIR_INO; st.st_mode = S_IFDIR; }
        else if (ino == ROOT) {
            int wait = i == total - 2;
            name = wait ? "wait" : "exit"; st.st_ino = wait ? WAIT : EXIT; st.st_mode = S_IFREG;
        }
        else { entry_name(i - 2, n); name = n; st.st_ino = FIRST_ENTRY + i - 2; st.st_mode = S_IFREG; }
        size_t need = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
        if (need > size - used) break;
        used += need;
    }
    fuse_reply_buf(req, buf, used);
    free(buf);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino) {
    (void)ino;
    struct statvfs s;
    memset(&s, 0, sizeof(s));
    s.f_bsize = 4096;
    s.f_namemax = 255;
    fuse_reply_statfs(req, &s);
}

static const struct fuse_lowlevel_ops ops = {
    .lookup = op_lookup,
    .getattr = op_getattr,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .opendir = NULL,
    .readdir = op_readdir,
    .statfs = op_statfs,
};

int main(int argc, char **argv) {
    unsigned int max_threads = 10;
    int auto_unmount = 1;
    int c;
    while ((c = getopt(argc, argv, "n:wt:S")) != -1) {
        if (c == 'n') entries = strtoul(optarg, NULL, 10);
        else if (c == 'w') waiters_mode = 1;
        else if (c == 't') max_threads = (unsigned)strtoul(optarg, NULL, 10);
        else if (c == 'S') auto_unmount = 0;
        else { fprintf(stderr, "usage: %s [-n N] [-w] [-t THREADS] [-S] MOUNTPOINT\n", argv[0]); return 2; }
    }
    if (optind != argc - 1) { fprintf(stderr, "usage: %s [-n N] [-w] [-t THREADS] [-S] MOUNTPOINT\n", argv[0]); return 2; }
    const char *mountpoint = argv[optind];

    char *options = auto_unmount
        ? "fsname=cbaseline,subtype=cbaseline,default_permissions,auto_unmount"
        : "fsname=cbaseline,subtype=cbaseline,default_permissions";
    char *fargv[] = { argv[0], "-o", options, NULL };
    struct fuse_args args = { .argc = 3, .argv = fargv, .allocated = 0 };
    struct fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
    if (!se) return 1;
    if (fuse_set_signal_handlers(se) != 0) return 1;
    if (fuse_session_mount(se, mountpoint) != 0) return 1;
    fprintf(stderr, "c-baseline: serving %s\n", mountpoint);

    struct fuse_loop_config *config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(config, max_threads);
    fuse_loop_cfg_set_clone_fd(config, 0);
    int ret = fuse_session_loop_mt(se, config);
    fuse_loop_cfg_destroy(config);

    fuse_session_unmount(se);
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    return ret ? 1 : 0;
}
