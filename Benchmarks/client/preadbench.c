// pread(fd, buf, 64, 0) latency and throughput on one file.
//
//   preadbench [-i ITERATIONS] [-w WARMUP] [-t THREADS] [-s SECONDS] FILE
//
// Latency: one thread, median and p99 over ITERATIONS reads after WARMUP reads.
// Throughput: THREADS threads, each with its own fd, reads/s over SECONDS.
// Prints one line: median_us=… p99_us=… mean_us=… threads=… reads_per_s=…
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *path;
static atomic_int stop_flag;

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int open_file(void) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) { fprintf(stderr, "preadbench: open %s: %s\n", path, strerror(errno)); exit(1); }
    return fd;
}

static void read_once(int fd) {
    char buf[64];
    if (pread(fd, buf, sizeof(buf), 0) <= 0) {
        fprintf(stderr, "preadbench: pread %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void *worker(void *arg) {
    unsigned long *count = arg;
    int fd = open_file();
    while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
        read_once(fd);
        (*count)++;
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    long iterations = 20000, warmup = 2000, threads = 4;
    double seconds = 3;
    int c;
    while ((c = getopt(argc, argv, "i:w:t:s:")) != -1) {
        switch (c) {
        case 'i': iterations = atol(optarg); break;
        case 'w': warmup = atol(optarg); break;
        case 't': threads = atol(optarg); break;
        case 's': seconds = atof(optarg); break;
        default: goto usage;
        }
    }
    if (optind != argc - 1 || iterations < 1 || threads < 1) goto usage;
    path = argv[optind];

    int fd = open_file();
    for (long i = 0; i < warmup; i++) read_once(fd);
    double *samples = malloc(sizeof(double) * iterations);
    double total = 0;
    for (long i = 0; i < iterations; i++) {
        double t0 = now_us();
        read_once(fd);
        samples[i] = now_us() - t0;
        total += samples[i];
    }
    close(fd);
    qsort(samples, iterations, sizeof(double), compare);
    double median = samples[iterations / 2];
    double p99 = samples[(long)(iterations * 0.99)];

    pthread_t *tids = calloc(threads, sizeof(pthread_t));
    unsigned long *counts = calloc(threads * 16, sizeof(unsigned long)); // one cache line apart
    double t0 = now_us();
    for (long t = 0; t < threads; t++) pthread_create(&tids[t], NULL, worker, &counts[t * 16]);
    usleep((useconds_t)(seconds * 1e6));
    atomic_store(&stop_flag, 1);
    unsigned long reads = 0;
    for (long t = 0; t < threads; t++) { pthread_join(tids[t], NULL); reads += counts[t * 16]; }
    double elapsed = (now_us() - t0) / 1e6;

    printf("median_us=%.2f p99_us=%.2f mean_us=%.2f threads=%ld reads_per_s=%.0f\n",
           median, p99, total / iterations, threads, reads / elapsed);
    return 0;

usage:
    fprintf(stderr, "usage: %s [-i ITERATIONS] [-w WARMUP] [-t THREADS] [-s SECONDS] FILE\n", argv[0]);
    return 2;
}
