// ukp-stall FILE STOPFILE: reads FILE (open, pread at 0, close) every 2 ms until STOPFILE
// exists, then prints "reads N median M ms max X ms errors E [first error]": how long reads
// stalled while the daemon's server was killed and restarted, and whether any failed.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: ukp-stall FILE STOPFILE\n");
        return 2;
    }
    size_t count = 0, capacity = 4096, errors = 0;
    int first_error = 0;
    double *took = malloc(capacity * sizeof *took);
    while (access(argv[2], F_OK) != 0) {
        char value[128];
        double started = now_ms();
        int fd = open(argv[1], O_RDONLY);
        ssize_t n = fd < 0 ? -1 : pread(fd, value, sizeof value, 0);
        int error = errno;
        if (fd >= 0) close(fd);
        if (n < 0) {
            if (errors++ == 0) first_error = error;
            continue;
        }
        if (count == capacity) took = realloc(took, (capacity *= 2) * sizeof *took);
        took[count++] = now_ms() - started;
        usleep(2000);
    }
    qsort(took, count, sizeof *took, compare);
    printf("reads %zu median %.2f ms max %.0f ms errors %zu%s%s\n", count, count ? took[count / 2] : 0.0,
           count ? took[count - 1] : 0.0, errors, errors ? " " : "", errors ? strerror(first_error) : "");
    return 0;
}
