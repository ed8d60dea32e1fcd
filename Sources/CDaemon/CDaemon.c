// Most functions are inline in include/CDaemon.h; the ones here need _GNU_SOURCE.
#define _GNU_SOURCE
#include <spawn.h>
#include "CDaemon.h"

int cdaemon_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
}
