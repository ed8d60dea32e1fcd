// Client side of Benchmarks/run: the ukp measurements that need the kernel in
// the loop and more than one thread (Python would dominate them).
//
//   ukpbench stat  [-i N] [-w W] PATH
//       lookup+stat of PATH (entry timeout 0: every stat goes to the server);
//       prints median_us=… p99_us=…
//   ukpbench fork  [-n MAX] [-s SECONDS] [-t THREADS] FORKFILE
//       each thread opens FORKFILE once and write(2)s "1" until MAX successful
//       forks in all or SECONDS passed; prints forks=… failed=… forks_per_s=… median_us=…
//   ukpbench exit  [-t THREADS] [-c CODE] [-s SECONDS] VMDIR INSTANCESDIR
//       lists VMDIR (getdents64) and writes CODE to INSTANCESDIR/<uuid>/exit for
//       every entry (stops after SECONDS); prints exited=… failed=… exits_per_s=…
//   ukpbench wait  [-n WAITERS] [-p PID] [-S SETTLE_MS] [-E SECONDS] WAITFILE EXITFILE
//       WAITERS threads (own fds) block in write(2) on WAITFILE; after all of them
//       are in write(2) (or SECONDS passed: entered= tells how many) and SETTLE_MS more, reads PID's thread count, writes "0"
//       to EXITFILE and times until the last waiter returned. Prints
//       waiters=… failed=… release_ms=… exit_write_ms=… daemon_threads_idle=…
//       daemon_threads_blocked=…
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what, const char *path) {
    fprintf(stderr, "ukpbench: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

// MARK: stat

static int cmd_stat(int argc, char **argv) {
    long iterations = 20000, warmup = 1000;
    int c;
    while ((c = getopt(argc, argv, "i:w:")) != -1) {
        if (c == 'i') iterations = atol(optarg);
        else if (c == 'w') warmup = atol(optarg);
        else return 2;
    }
    if (optind != argc - 1 || iterations < 1) return 2;
    const char *path = argv[optind];
    struct stat st;
    for (long i = 0; i < warmup; i++) if (stat(path, &st) != 0) die("stat", path);
    double *samples = malloc(sizeof(double) * iterations);
    for (long i = 0; i < iterations; i++) {
        double t0 = now_us();
        if (stat(path, &st) != 0) die("stat", path);
        samples[i] = now_us() - t0;
    }
    qsort(samples, iterations, sizeof(double), compare);
    printf("median_us=%.2f p99_us=%.2f\n", samples[iterations / 2], samples[(long)(iterations * 0.99)]);
    return 0;
}

// MARK: fork

static const char *fork_path;
static long fork_max;
static double fork_deadline;
static atomic_long forks_done, forks_failed;

struct fork_worker { double *samples; long count; long capacity; };

static void *fork_thread(void *arg) {
    struct fork_worker *w = arg;
    int fd = open(fork_path, O_WRONLY);
    if (fd < 0) die("open", fork_path);
    while (now_us() < fork_deadline) {
        if (atomic_fetch_add(&forks_done, 1) >= fork_max) { atomic_fetch_sub(&forks_done, 1); break; }
        double t0 = now_us();
        if (write(fd, "1", 1) != 1) {
            atomic_fetch_sub(&forks_done, 1);
            if (atomic_fetch_add(&forks_failed, 1) > 1000) { fprintf(stderr, "ukpbench: fork: %s\n", strerror(errno)); break; }
            continue;
        }
        if (w->count < w->capacity) w->samples[w->count++] = now_us() - t0;
    }
    close(fd);
    return NULL;
}

static int cmd_fork(int argc, char **argv) {
    long threads = 1;
    double seconds = 3;
    fork_max = 1L << 40;
    int c;
    while ((c = getopt(argc, argv, "n:s:t:")) != -1) {
        if (c == 'n') fork_max = atol(optarg);
        else if (c == 's') seconds = atof(optarg);
        else if (c == 't') threads = atol(optarg);
        else return 2;
    }
    if (optind != argc - 1 || threads < 1) return 2;
    fork_path = argv[optind];
    pthread_t *tids = calloc(threads, sizeof(pthread_t));
    struct fork_worker *workers = calloc(threads, sizeof(*workers));
    double t0 = now_us();
    fork_deadline = t0 + seconds * 1e6;
    for (long t = 0; t < threads; t++) {
        workers[t].capacity = 200000;
        workers[t].samples = malloc(sizeof(double) * workers[t].capacity);
        pthread_create(&tids[t], NULL, fork_thread, &workers[t]);
    }
    long samples = 0;
    for (long t = 0; t < threads; t++) { pthread_join(tids[t], NULL); samples += workers[t].count; }
    double elapsed = (now_us() - t0) / 1e6;
    double *all = malloc(sizeof(double) * (samples + 1));
    long n = 0;
    for (long t = 0; t < threads; t++) for (long i = 0; i < workers[t].count; i++) all[n++] = workers[t].samples[i];
    qsort(all, n, sizeof(double), compare);
    long done = atomic_load(&forks_done);
    printf("forks=%ld failed=%ld threads=%ld seconds=%.2f forks_per_s=%.0f median_us=%.1f p99_us=%.1f\n",
           done, atomic_load(&forks_failed), threads, elapsed, done / elapsed,
           n ? all[n / 2] : 0.0, n ? all[(long)(n * 0.99)] : 0.0);
    return 0;
}

// MARK: exit

static char (*names)[64];
static long name_count;
static atomic_long next_name, exits_ok, exits_failed;
static const char *instances_dir, *exit_code = "0";
static double exit_deadline;

static void *exit_thread(void *arg) {
    (void)arg;
    char path[4096];
    for (;;) {
        long i = atomic_fetch_add(&next_name, 1);
        if (i >= name_count || now_us() > exit_deadline) break;
        snprintf(path, sizeof path, "%s/%s/exit", instances_dir, names[i]);
        int fd = open(path, O_WRONLY);
        if (fd < 0 || write(fd, exit_code, strlen(exit_code)) != (ssize_t)strlen(exit_code)) atomic_fetch_add(&exits_failed, 1);
        else atomic_fetch_add(&exits_ok, 1);
        if (fd >= 0) close(fd);
    }
    return NULL;
}

static int cmd_exit(int argc, char **argv) {
    long threads = 4;
    double seconds = 1e9;
    int c;
    while ((c = getopt(argc, argv, "t:c:s:")) != -1) {
        if (c == 't') threads = atol(optarg);
        else if (c == 'c') exit_code = optarg;
        else if (c == 's') seconds = atof(optarg);
        else return 2;
    }
    if (optind != argc - 2 || threads < 1) return 2;
    const char *vm = argv[optind];
    instances_dir = argv[optind + 1];
    int fd = open(vm, O_RDONLY | O_DIRECTORY);
    if (fd < 0) die("open", vm);
    long capacity = 1024;
    names = malloc(sizeof(*names) * capacity);
    static char buf[1 << 16];
    for (;;) {
        long n = getdents64(fd, buf, sizeof buf);
        if (n < 0) die("getdents64", vm);
        if (n == 0) break;
        for (long off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            off += d->d_reclen;
            if (d->d_name[0] == '.') continue;
            if (name_count == capacity) { capacity *= 2; names = realloc(names, sizeof(*names) * capacity); }
            snprintf(names[name_count++], 64, "%.63s", d->d_name);
        }
    }
    close(fd);
    pthread_t *tids = calloc(threads, sizeof(pthread_t));
    double t0 = now_us();
    exit_deadline = t0 + seconds * 1e6;
    for (long t = 0; t < threads; t++) pthread_create(&tids[t], NULL, exit_thread, NULL);
    for (long t = 0; t < threads; t++) pthread_join(tids[t], NULL);
    double elapsed = (now_us() - t0) / 1e6;
    printf("exited=%ld failed=%ld exits_per_s=%.0f\n", atomic_load(&exits_ok), atomic_load(&exits_failed),
           atomic_load(&exits_ok) / elapsed);
    return 0;
}

// MARK: wait

static const char *wait_path;
static atomic_long waiters_entered, waiters_returned, waiters_failed;
static double *returned_at;

static void *wait_thread(void *arg) {
    long i = (long)arg;
    int fd = open(wait_path, O_WRONLY);
    if (fd < 0) { atomic_fetch_add(&waiters_failed, 1); atomic_fetch_add(&waiters_entered, 1); return NULL; }
    atomic_fetch_add(&waiters_entered, 1);
    ssize_t n = write(fd, "1", 1);
    returned_at[i] = now_us();
    if (n != 1) atomic_fetch_add(&waiters_failed, 1);
    atomic_fetch_add(&waiters_returned, 1);
    close(fd);
    return NULL;
}

static long threads_of(long pid) {
    if (pid <= 0) return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long threads = -1;
    while (fgets(line, sizeof line, f)) if (sscanf(line, "Threads: %ld", &threads) == 1) break;
    fclose(f);
    return threads;
}

static int cmd_wait(int argc, char **argv) {
    long waiters = 10000, pid = 0, settle_ms = 1500;
    double entry_timeout_s = 120;
    int c;
    while ((c = getopt(argc, argv, "n:p:S:E:")) != -1) {
        if (c == 'E') { entry_timeout_s = atof(optarg); continue; }
        if (c == 'n') waiters = atol(optarg);
        else if (c == 'p') pid = atol(optarg);
        else if (c == 'S') settle_ms = atol(optarg);
        else return 2;
    }
    if (optind != argc - 2 || waiters < 1) return 2;
    wait_path = argv[optind];
    const char *exit_path = argv[optind + 1];
    struct rlimit rl = { .rlim_cur = waiters + 256, .rlim_max = waiters + 256 };
    struct rlimit old;
    getrlimit(RLIMIT_NOFILE, &old);
    if (old.rlim_cur < rl.rlim_cur) setrlimit(RLIMIT_NOFILE, &rl);
    long idle = threads_of(pid);
    returned_at = calloc(waiters, sizeof(double));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_t *tids = calloc(waiters, sizeof(pthread_t));
    double t_start = now_us();
    for (long i = 0; i < waiters; i++) {
        if (pthread_create(&tids[i], &attr, wait_thread, (void *)i) != 0) die("pthread_create", "");
    }
    double entry_deadline = now_us() + entry_timeout_s * 1e6;
    while (atomic_load(&waiters_entered) < waiters && now_us() < entry_deadline) usleep(1000);
    long entered = atomic_load(&waiters_entered);
    double entered_ms = (now_us() - t_start) / 1e3;
    usleep((useconds_t)settle_ms * 1000);
    long blocked_threads = threads_of(pid);
    long early = atomic_load(&waiters_returned);
    int efd = open(exit_path, O_WRONLY);
    if (efd < 0) die("open", exit_path);
    double t0 = now_us();
    if (write(efd, "0", 1) != 1) die("write", exit_path);
    double exit_write_ms = (now_us() - t0) / 1e3;
    close(efd);
    for (long i = 0; i < waiters; i++) pthread_join(tids[i], NULL);
    double last = t0;
    for (long i = 0; i < waiters; i++) if (returned_at[i] > last) last = returned_at[i];
    printf("waiters=%ld entered=%ld failed=%ld returned_early=%ld entered_ms=%.0f release_ms=%.1f exit_write_ms=%.1f "
           "daemon_threads_idle=%ld daemon_threads_blocked=%ld\n",
           waiters, entered, atomic_load(&waiters_failed), early, entered_ms, (last - t0) / 1e3, exit_write_ms,
           idle, blocked_threads);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) goto usage;
    const char *cmd = argv[1];
    int r = 2;
    argv++; argc--;
    if (strcmp(cmd, "stat") == 0) r = cmd_stat(argc, argv);
    else if (strcmp(cmd, "fork") == 0) r = cmd_fork(argc, argv);
    else if (strcmp(cmd, "exit") == 0) r = cmd_exit(argc, argv);
    else if (strcmp(cmd, "wait") == 0) r = cmd_wait(argc, argv);
    if (r != 2) return r;
usage:
    fprintf(stderr, "usage: ukpbench stat [-i N] [-w W] PATH\n"
                    "       ukpbench fork [-n MAX] [-s SECONDS] [-t THREADS] FORKFILE\n"
                    "       ukpbench exit [-t THREADS] [-c CODE] [-s SECONDS] VMDIR INSTANCESDIR\n"
                    "       ukpbench wait [-n WAITERS] [-p PID] [-S SETTLE_MS] [-E SECONDS] WAITFILE EXITFILE\n");
    return 2;
}
