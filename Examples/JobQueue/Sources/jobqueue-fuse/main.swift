import Glibc

// Everything lives in other files: closures declared in top-level code would be
// main-actor isolated, and libfuse calls handlers from its own threads.
exit(JobQueueServer.run(CommandLine.arguments))
