// ukp-renewal-check ROUNDS: forks this VM ROUNDS times through clients/c/ukp.h (one child at
// a time) and prints, on each side right after each fork returns, what must differ between
// parent and child: /proc/sys/kernel/random/uuid (3 reads), 16 bytes of /dev/urandom, the
// generation and whether a poll on it woke, the machine-id and hostname (renewed by the
// child hooks). Around each fork it prints its wall clock many times ("CLOCK <phase> <ns>")
// so that the host, which stamps console lines as they arrive, can measure its offset.
// Each child exits with 10+round after printing; the parent waits for it.
#include <poll.h>
#include <stdio.h>
#include <time.h>
#include "ukp.h"

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void clocks(const char *phase, int count) {
    for (int i = 0; i < count; i++) {
        printf("CLOCK %s %lld\n", phase, now_ns());
        fflush(stdout);
        struct timespec pause = {0, 2000000};
        nanosleep(&pause, NULL);
    }
}

static void read_line(const char *path, char *out, size_t size) {
    FILE *f = fopen(path, "r");
    if (!f || !fgets(out, (int)size, f)) snprintf(out, size, "none");
    if (f) fclose(f);
    out[strcspn(out, "\n")] = 0;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 2;
    ukp_uuid before;
    if (ukp_generation(&before) != 0) { perror("generation"); return 1; }
    int generation_fd = ukp_generation_fd();
    clocks("before", 150);
    for (int round = 1; round <= rounds; round++) {
        ukp_uuid child;
        int side = ukp_fork(&child);
        if (side < 0) { perror("ukp_fork"); return 1; }
        // Right after the fork returned: the kernel's random state, as each side sees it.
        char uuids[3][64], hex[33], phase[16];
        unsigned char bytes[16];
        for (int i = 0; i < 3; i++) read_line("/proc/sys/kernel/random/uuid", uuids[i], sizeof uuids[i]);
        int fd = open("/dev/urandom", O_RDONLY);
        if (fd < 0 || read(fd, bytes, sizeof bytes) != sizeof bytes) { perror("urandom"); return 1; }
        close(fd);
        for (int i = 0; i < 16; i++) sprintf(hex + 2 * i, "%02x", bytes[i]);
        struct pollfd p = {.fd = generation_fd, .events = POLLPRI};
        int woke = poll(&p, 1, 0) == 1 && (p.revents & POLLPRI);
        snprintf(phase, sizeof phase, "after%d", round);
        clocks(phase, 100);
        ukp_uuid now;
        char machine_id[64], hostname[64];
        ukp_generation(&now);
        read_line("/etc/machine-id", machine_id, sizeof machine_id);
        gethostname(hostname, sizeof hostname);
        printf("RENEWAL round=%d side=%s uuid=%s,%s,%s urandom=%s generation=%s was=%s poll=%d machine-id=%s hostname=%s\n",
               round, side ? "parent" : "child", uuids[0], uuids[1], uuids[2], hex, now.text, before.text,
               woke, machine_id, hostname);
        fflush(stdout);
        if (side == 0) return 10 + round;
        int code = -1;
        if (ukp_wait(&child, &code) != 0) { perror("ukp_wait"); return 1; }
        printf("WAITED round=%d child=%s code=%d\n", round, child.text, code);
        fflush(stdout);
    }
    return 0;
}
