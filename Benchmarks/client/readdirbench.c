// Full directory scans with getdents64 and a fixed buffer (32 KiB, as glibc's
// readdir and ls use), no stat.
//
//   readdirbench [-r REPEATS] [-b BUFFER] DIR
//
// Prints one line: entries=… median_ms=… min_ms=… getdents_calls=…
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int repeats = 5;
    size_t size = 32 * 1024;
    int c;
    while ((c = getopt(argc, argv, "r:b:")) != -1) {
        if (c == 'r') repeats = atoi(optarg);
        else if (c == 'b') size = strtoul(optarg, NULL, 10);
        else goto usage;
    }
    if (optind != argc - 1 || repeats < 1) goto usage;
    char *buf = malloc(size);
    double *times = calloc(repeats, sizeof(double));
    long entries = 0, calls = 0;
    for (int r = 0; r < repeats; r++) {
        double t0 = now_ms();
        int fd = open(argv[optind], O_RDONLY | O_DIRECTORY);
        if (fd < 0) { perror("open"); return 1; }
        entries = 0;
        calls = 0;
        for (;;) {
            long n = getdents64(fd, buf, size);
            calls++;
            if (n < 0) { perror("getdents64"); return 1; }
            if (n == 0) break;
            for (long off = 0; off < n;) {
                struct dirent64 *d = (struct dirent64 *)(buf + off);
                entries++;
                off += d->d_reclen;
            }
        }
        close(fd);
        times[r] = now_ms() - t0;
    }
    qsort(times, repeats, sizeof(double), compare);
    printf("entries=%ld median_ms=%.2f min_ms=%.2f getdents_calls=%ld\n", entries, times[repeats / 2], times[0], calls);
    return 0;
usage:
    fprintf(stderr, "usage: %s [-r REPEATS] [-b BUFFER] DIR\n", argv[0]);
    return 2;
}
