"""ukp: fork this instance through /uk/libukp, the way os.fork() forks a process.

    import ukp
    child = ukp.fork()            # the child's UUID in the parent, None in the child
    if child is None:
        ...                       # the child: on_child callbacks have already run
    else:
        code = ukp.wait(child)    # blocks until the child stopped: its exit code

When fork() returns in the child, the daemon has already reseeded the kernel's random
generator, stepped the wall clock and renewed generation(); what lives in this process's
memory is renewed by on_child() callbacks. One is registered at import: it re-seeds the
`random` module from the kernel (call `ukp.on_child.remove(ukp.reseed_random)` to opt out).
The tree's root is $UKP_ROOT, else /uk/libukp. Standard library only.
"""
import os
import random
import uuid

__all__ = ["fork", "wait", "on_child", "generation", "reseed_random", "ZERO"]

ZERO = uuid.UUID(int=0)


def _root():
    return os.environ.get("UKP_ROOT") or "/uk/libukp"


def _read(name):
    fd = os.open(os.path.join(_root(), name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.pread(fd, 4096, 0).decode("ascii").strip()
    finally:
        os.close(fd)


def _write(name):
    # Without O_TRUNC: concurrent forks and waits queue in the daemon (SPEC.md).
    fd = os.open(os.path.join(_root(), name), os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, b"1")
    finally:
        os.close(fd)


class _Callbacks(list):
    """The callbacks run in a child after each fork, in registration order.
    Call it (or use it as a decorator) to register one."""

    def __call__(self, callback):
        self.append(callback)
        return callback


on_child = _Callbacks()


def reseed_random():
    """Re-seeds the `random` module's generator from the kernel (registered at import)."""
    random.seed()


on_child(reseed_random)


def fork():
    """Forks this instance: the child's uuid.UUID in the parent, None in the child (after
    the on_child callbacks ran). Raises OSError: EBUSY (fork queue full), EINTR, EIO, or
    the platform's errno."""
    _write("fork")
    child = uuid.UUID(_read("fork"))  # this thread's own result
    if child != ZERO:
        return child
    for callback in list(on_child):
        callback()
    return None


def wait(child):
    """Blocks until `child` (a UUID or its text) stopped; returns its exit code."""
    name = os.path.join("vm", str(child), "wait")
    _write(name)
    return int(_read(name))


def generation():
    """This incarnation's UUID (/generation): new in every child."""
    return uuid.UUID(_read("generation"))
