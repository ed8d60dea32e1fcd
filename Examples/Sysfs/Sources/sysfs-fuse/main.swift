import Glibc

// Everything lives in another file: closures declared in top-level code would be
// main-actor isolated, and libfuse calls handlers from its own threads.
exit(SysfsServer.run(CommandLine.arguments))
