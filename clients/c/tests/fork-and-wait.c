/* The C client's test program: forks once through ukp.h, prints
 *   fork parent|child <uuid> <1 if the on_child callback ran, else 0> <generation>
 * and, in the parent, waits for the child and prints "exit <code>". */
#include <stdio.h>
#include "ukp.h"

static void renew(void *flag) { *(int *)flag = 1; }

int main(void) {
    int renewed = 0, code = -1;
    ukp_uuid child, generation;
    if (ukp_on_child(renew, &renewed) != 0) { perror("ukp_on_child"); return 1; }
    int side = ukp_fork(&child);
    if (side < 0) { perror("ukp_fork"); return 1; }
    if (ukp_generation(&generation) != 0) { perror("ukp_generation"); return 1; }
    printf("fork %s %s %d %s\n", side ? "parent" : "child", child.text, renewed, generation.text);
    fflush(stdout);
    if (side == 0) return 0;
    if (ukp_wait(&child, &code) != 0) { perror("ukp_wait"); return 1; }
    printf("exit %d\n", code);
    return 0;
}
