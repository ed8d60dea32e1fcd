#ifndef CJOBQUEUE_H
#define CJOBQUEUE_H

#include <spawn.h>

/// Glibc declares these two only under _GNU_SOURCE, which Swift's Glibc module does not set.

/// pipe2(fds, O_CLOEXEC): both ends close-on-exec from the start, so a fork elsewhere in
/// the process (libfuse's fusermount3, another spawn) never inherits a job's output pipe.
int cjobqueue_cloexec_pipe(int fds[2]);

/// posix_spawn_file_actions_addclosefrom_np: the job gets stdin, stdout and stderr and no
/// other descriptor of the daemon (such as libfuse's socket to its fusermount3 helper).
int cjobqueue_spawn_closefrom(posix_spawn_file_actions_t *actions, int from);

#endif
