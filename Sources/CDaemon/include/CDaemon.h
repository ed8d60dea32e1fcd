#ifndef CDAEMON_H
#define CDAEMON_H
// What ukp-fuse needs from glibc that Swift's Glibc module does not export: the
// allocator's controls (malloc.h), and posix_spawn's closefrom.
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <spawn.h>

/// Bytes free inside the allocator's arenas (held, not returned to the system).
static inline size_t cheap_free_bytes(void) { return mallinfo2().fordblks; }

/// Fixes the size from which an allocation gets pages of its own (mmap) instead of heap:
/// glibc raises it after each such block is freed (up to 32 MiB), and then the tables of a
/// burst of 100,000 children land in the heap and pin it (≈80 MiB kept instead of ≈10).
static inline int cheap_set_mmap_threshold(int bytes) { return mallopt(M_MMAP_THRESHOLD, bytes); }

/// Returns free heap pages of every arena to the system; 1 if any were returned.
static inline int cheap_trim(void) { return malloc_trim(0); }


/// Closes every descriptor from `lowest` up in the spawned process (glibc 2.34's
/// `posix_spawn_file_actions_addclosefrom_np`, declared only under _GNU_SOURCE).
int cdaemon_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest);

#endif
