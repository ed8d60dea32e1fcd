// ukp-watch FILE: prints the value of a pollable ukp file (a child's status), then each new
// value whenever poll(2) reports a change, until it reads "Stopped". The guest has no other
// tool that waits with poll(2), the way an app follows a child.
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: ukp-watch FILE\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    char last[64] = "";
    for (int wakeups = 0; wakeups < 1000; wakeups++) {
        char value[64];
        ssize_t n = pread(fd, value, sizeof value - 1, 0);
        if (n < 0) {
            perror("pread");
            return 1;
        }
        value[n] = 0;
        if (strcmp(value, last) != 0) {
            fputs(value, stdout);
            fflush(stdout);
            strcpy(last, value);
        }
        if (strcmp(value, "Stopped\n") == 0) return 0;
        struct pollfd p = {.fd = fd, .events = POLLPRI | POLLIN};
        if (poll(&p, 1, -1) < 0) {
            perror("poll");
            return 1;
        }
    }
    return 1;
}
