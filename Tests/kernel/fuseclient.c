// Kernel-side client for the FUSE tests: plain syscalls on a mounted tree.
//
//   fuseclient pread FILE OFFSET SIZE
//       one pread(2); prints "n=<bytes> data=<bytes, \n as \\n>" or "errno=<n>"
//   fuseclient readdir DIR BUFFER
//       lists DIR with getdents64 and a BUFFER-byte buffer, one name a line
//   fuseclient interrupt WAITFILE COUNTFILE
//       a thread blocks in write(2) on WAITFILE; once COUNTFILE reads 1, the
//       thread gets SIGUSR1 (handler without SA_RESTART); prints
//       "result=<write's return> errno=<n> after_ms=<ms>"
//   fuseclient writers N WAITFILE COUNTFILE RELEASEFILE READFILE
//       N threads, each with its own fd, block in write(2) on WAITFILE; once
//       COUNTFILE reads N, READFILE is read 1000 times (latency while blocked),
//       then one write to RELEASEFILE must release them all. Prints
//       "blocked=<n> parked_ms=<ms> read_median_us=<us> released=<n> failed=<n> release_ms=<ms>"
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long read_number(const char *path) {
    char buf[64];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    return strtol(buf, NULL, 10);
}

static int wait_for_count(const char *path, long expected, double timeout_ms) {
    double deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
        if (read_number(path) == expected) return 0;
        usleep(10000);
    }
    return -1;
}

static int cmd_pread(const char *path, long offset, long size) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) { printf("errno=%d\n", errno); return 0; }
    char *buf = malloc(size + 1);
    ssize_t n = pread(fd, buf, size, offset);
    if (n < 0) { printf("errno=%d\n", errno); return 0; }
    printf("n=%zd data=", n);
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') fputs("\\n", stdout);
        else putchar(buf[i]);
    }
    putchar('\n');
    free(buf);
    close(fd);
    return 0;
}

static int cmd_readdir(const char *path, long size) {
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) { printf("errno=%d\n", errno); return 1; }
    char *buf = malloc(size);
    for (;;) {
        long n = getdents64(fd, buf, size);
        if (n < 0) { printf("errno=%d\n", errno); return 1; }
        if (n == 0) break;
        for (long off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            puts(d->d_name);
            off += d->d_reclen;
        }
    }
    close(fd);
    free(buf);
    return 0;
}

static const char *wait_path;
static atomic_long released, failed;
static double release_started;
static atomic_long last_return_ms_bits;

static void on_signal(int signo) { (void)signo; }

struct write_result { ssize_t result; int error; };

static void *blocked_writer(void *arg) {
    struct write_result *out = arg;
    int fd = open(wait_path, O_WRONLY);
    if (fd < 0) { out->result = -2; out->error = errno; return NULL; }
    out->result = write(fd, "1\n", 2);
    out->error = out->result < 0 ? errno : 0;
    close(fd);
    return NULL;
}

static int cmd_interrupt(const char *waitfile, const char *countfile) {
    wait_path = waitfile;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; // no SA_RESTART: the interrupted write returns EINTR
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t set; // the parent may have spawned us with signals blocked
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    pthread_t thread;
    struct write_result result = { 0, 0 };
    pthread_create(&thread, NULL, blocked_writer, &result);
    if (wait_for_count(countfile, 1, 10000) != 0) { printf("error=not-blocked\n"); return 1; }
    double t0 = now_ms();
    pthread_kill(thread, SIGUSR1);
    pthread_join(thread, NULL);
    printf("result=%zd errno=%d after_ms=%.1f\n", result.result, result.error, now_ms() - t0);
    return 0;
}

static void *counted_writer(void *arg) {
    (void)arg;
    int fd = open(wait_path, O_WRONLY);
    if (fd < 0) { atomic_fetch_add(&failed, 1); return NULL; }
    ssize_t n = write(fd, "1\n", 2);
    if (n == 2) atomic_fetch_add(&released, 1);
    else atomic_fetch_add(&failed, 1);
    close(fd);
    long ms = (long)(now_ms() - release_started);
    long prev = atomic_load(&last_return_ms_bits);
    while (ms > prev && !atomic_compare_exchange_weak(&last_return_ms_bits, &prev, ms)) {}
    return NULL;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmd_writers(long n, const char *waitfile, const char *countfile, const char *releasefile, const char *readfile) {
    wait_path = waitfile;
    struct rlimit limit = { (rlim_t)n + 256, (rlim_t)n + 256 };
    setrlimit(RLIMIT_NOFILE, &limit);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_t *threads = calloc(n, sizeof(pthread_t));
    double t0 = now_ms();
    long started = 0;
    for (long i = 0; i < n; i++) {
        if (pthread_create(&threads[i], &attr, counted_writer, NULL) != 0) break;
        started++;
    }
    if (started != n) { printf("error=started-only-%ld\n", started); return 1; }
    if (wait_for_count(countfile, n, 120000) != 0) {
        printf("error=not-all-blocked count=%ld\n", read_number(countfile));
        return 1;
    }
    double parked_ms = now_ms() - t0;

    int fd = open(readfile, O_RDONLY);
    double samples[1000];
    char buf[64];
    for (int i = 0; i < 1000; i++) {
        double s = now_ms();
        if (pread(fd, buf, sizeof(buf), 0) <= 0) { printf("error=read-failed errno=%d\n", errno); return 1; }
        samples[i] = (now_ms() - s) * 1000;
    }
    close(fd);
    qsort(samples, 1000, sizeof(double), compare);

    release_started = now_ms();
    int rfd = open(releasefile, O_WRONLY);
    if (rfd < 0 || write(rfd, "1\n", 2) != 2) { printf("error=release-failed errno=%d\n", errno); return 1; }
    close(rfd);
    for (long i = 0; i < n; i++) pthread_join(threads[i], NULL);
    printf("blocked=%ld parked_ms=%.0f read_median_us=%.1f released=%ld failed=%ld release_ms=%ld\n",
           n, parked_ms, samples[500], atomic_load(&released), atomic_load(&failed),
           atomic_load(&last_return_ms_bits));
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    if (argc == 5 && strcmp(argv[1], "pread") == 0)
        return cmd_pread(argv[2], atol(argv[3]), atol(argv[4]));
    if (argc == 4 && strcmp(argv[1], "readdir") == 0)
        return cmd_readdir(argv[2], atol(argv[3]));
    if (argc == 4 && strcmp(argv[1], "interrupt") == 0)
        return cmd_interrupt(argv[2], argv[3]);
    if (argc == 7 && strcmp(argv[1], "writers") == 0)
        return cmd_writers(atol(argv[2]), argv[3], argv[4], argv[5], argv[6]);
    fprintf(stderr, "usage: see the comment at the top of fuseclient.c\n");
    return 2;
}
