#ifndef CJOBQUEUE_H
#define CJOBQUEUE_H

/// pipe2(fds, O_CLOEXEC): both ends close-on-exec from the start, so a fork elsewhere in
/// the process (libfuse's fusermount3, another spawn) never inherits a job's output pipe.
/// Glibc declares pipe2 only under _GNU_SOURCE, which Swift's Glibc module does not set.
int cjobqueue_cloexec_pipe(int fds[2]);

#endif
