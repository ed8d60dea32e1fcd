// libfuse3 low-level API for Swift. FUSE_USE_VERSION 312: below it libfuse 3.14
// misreads fuse_loop_config and starts a thread per request (../shared/FUSE-FACTS.md).
#ifndef UKP_CFUSE_SHIM_H
#define UKP_CFUSE_SHIM_H
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#endif
