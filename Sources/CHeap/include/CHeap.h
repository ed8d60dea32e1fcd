#ifndef CHEAP_H
#define CHEAP_H
// glibc's allocator controls, which Swift's Glibc module does not export (malloc.h).
#include <malloc.h>
#include <stddef.h>

/// Bytes free inside the allocator's arenas (held, not returned to the system).
static inline size_t cheap_free_bytes(void) { return mallinfo2().fordblks; }

/// Returns free heap pages of every arena to the system; 1 if any were returned.
static inline int cheap_trim(void) { return malloc_trim(0); }

#endif
