#!/usr/bin/env python3
"""A fake platform speaking the ukp wire protocol on a Unix socket, for trying
`ukp-fuse --platform wire` without VMs.

It plays one instance (the daemon's) across connections: a daemon that reconnects, or a
server restarted by its supervisor, is the same instance with the same children.

Each ForkRequest is answered with ForkCreated (a fresh child UUID; after --fork-latency
seconds), then the child reports Running, and after --exit-after seconds exits with
--exit-code. --reject ERRNO answers every fork with Error(-ERRNO) instead. --child answers
every fork with ParentId instead: the daemon becomes the child of the fork.

The wire extension (docs/wire-protocol.md): a Hello is answered with Renewal (32 bytes of
entropy, this host's clock), and after a Hello each ParentId is preceded by one
(ForkCreated by the clock alone). A Resync is answered with ResyncStart, the answer to the
fork it asks about sent again (or "never received"), a Child for every child and ResyncEnd;
before answering, everything the instance sent on earlier connections has been read.
--no-extension treats Hello and Resync as unknown types, as a platform without the
extension would (it drops the stream).

--control PATH plays the children's apps: a Unix socket taking one command a line, each
answered by one line ("ok ..." or "error ..."):
    exit UUID CODE       the child exits (Status Stopping, ExitStatus, Status Stopped)
    status UUID STATE    the child moves to Running, Draining, Stopping or Template
    children             "ok UUID:STATE[:CODE] ..." for every child
With --control, children run until told to exit (unless --exit-after is given).

    scripts/wire-fake-platform.py /tmp/ukp.sock &
    ukp-fuse --platform wire --wire-path /tmp/ukp.sock --mountpoint /tmp/ukp
"""
import argparse, os, socket, struct, sys, threading, time, uuid

ERROR, FORK_CREATED, PARENT_ID, STATUS, EXIT_STATUS, FORK_REQUEST = 1, 2, 3, 4, 5, 6
HELLO, RENEWAL, RESYNC, RESYNC_START, CHILD, RESYNC_END = (0x8000_0001, 0x8000_0002, 0x8000_0003,
                                                           0x8000_0004, 0x8000_0005, 0x8000_0006)
SIZES = {ERROR: 12, PARENT_ID: 24, STATUS: 32, EXIT_STATUS: 32, FORK_REQUEST: 8, HELLO: 16, RESYNC: 12}
EXTENSION = {HELLO, RESYNC}
STOPPED, STARTING, RUNNING, DRAINING, STOPPING, TEMPLATE = 0, 1, 2, 3, 4, 5
STATES = {"Stopped": STOPPED, "Starting": STARTING, "Running": RUNNING, "Draining": DRAINING,
          "Stopping": STOPPING, "Template": TEMPLATE}
NAMES = {code: name for name, code in STATES.items()}
ANSWERED, NEVER_RECEIVED = 1, 2


def log(text):
    print(f"fake platform: {text}", file=sys.stderr, flush=True)


def header(kind, correlation):
    return struct.pack("<II", kind, correlation)


def fork_created(correlation, child, snapshot, created, fqdn=b""):
    return (header(FORK_CREATED, correlation) + child.bytes + snapshot.bytes
            + struct.pack("<QH", created, len(fqdn)) + fqdn)


def status(child, state):
    return header(STATUS, 0) + child.bytes + struct.pack("<II", state, 0)


def exit_status(child, code):
    return header(EXIT_STATUS, 0) + child.bytes + struct.pack("<II", code & 0xFFFFFFFF, 0)


def renewal(correlation, entropy=b""):
    return header(RENEWAL, correlation) + struct.pack("<QH", time.time_ns(), len(entropy)) + entropy


class Child:
    def __init__(self):
        self.id, self.snapshot, self.created = uuid.uuid4(), uuid.uuid4(), int(time.time())
        self.state, self.code = STARTING, None

    def message(self, correlation):
        return (header(CHILD, correlation) + self.id.bytes + self.snapshot.bytes
                + struct.pack("<QII", self.created, self.state, (self.code or 0) & 0xFFFFFFFF))


class Fork:
    """The instance's last ForkRequest: its correlation id and, once done, its answer."""

    def __init__(self, correlation):
        self.id = correlation
        self.done = threading.Event()
        self.answer = None  # a function of the extension: the answer's bytes, sent again as they were


class Instance:
    """The one instance this platform serves, whatever connection it speaks on."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()  # state and every send: events and resyncs stay in order
        self.children = {}
        self.last_fork = None
        self.current = None            # the connection events go to
        self.reader = None             # the thread reading the last connection

    def send(self, conn, data):
        with self.lock:
            if conn is None:
                return
            try:
                conn.sendall(data)
            except OSError:
                pass  # a dead server: the resync tells its successor

    def event(self, child, *messages):
        with self.lock:
            self.send(self.current, b"".join(messages))

    def move(self, child, state, code=None):
        """Moves a child and tells the instance (Stopped: Stopping, ExitStatus, Stopped)."""
        with self.lock:
            if child.state == STOPPED:
                return False
            if state == STOPPED:
                child.state, child.code = STOPPED, code
                self.event(child, status(child.id, STOPPING), exit_status(child.id, code), status(child.id, STOPPED))
            else:
                child.state = state
                self.event(child, status(child.id, state))
            return True

    # connections

    def serve(self, conn, previous):
        if previous is not None:
            previous.join()  # what the instance sent before comes first
        with self.lock:
            self.current = conn
        try:
            self.read(conn)
        finally:
            with self.lock:
                if self.current is conn:
                    self.current = None
            conn.close()

    def read(self, conn):
        args = self.args
        buffer = b""
        hello = False
        while True:
            try:
                data = conn.recv(4096)
            except OSError:
                return
            if not data:
                return
            buffer += data
            while len(buffer) >= 8:
                kind, correlation = struct.unpack_from("<II", buffer)
                if kind not in SIZES or (kind in EXTENSION and args.no_extension):
                    log(f"unexpected message type {kind:#x}")
                    return
                if len(buffer) < SIZES[kind]:
                    break
                body, buffer = buffer[8:SIZES[kind]], buffer[SIZES[kind]:]
                if kind == HELLO:
                    hello = True
                    self.send(conn, renewal(correlation, os.urandom(32)))
                    log(f"Hello {correlation}")
                elif kind == RESYNC:
                    hello = True
                    fork, = struct.unpack("<I", body)
                    self.send(conn, header(RESYNC_START, correlation))
                    threading.Thread(target=self.resync, args=(conn, correlation, fork), daemon=True).start()
                elif kind == FORK_REQUEST:
                    with self.lock:
                        self.last_fork = Fork(correlation)
                    threading.Thread(target=self.fork, args=(conn, self.last_fork, hello), daemon=True).start()

    # forks

    def fork(self, conn, fork, hello):
        args = self.args
        if args.fork_latency:
            time.sleep(args.fork_latency)
        with self.lock:
            if args.reject:
                fork.answer = lambda: header(ERROR, fork.id) + struct.pack("<i", -args.reject)
                log(f"fork {fork.id}: rejected")
            elif args.child:
                parent = uuid.uuid4()
                fork.answer = lambda: ((renewal(fork.id, os.urandom(32)) if hello else b"")
                                       + header(PARENT_ID, fork.id) + parent.bytes)
                log(f"fork {fork.id}: you are the child")
            else:
                child = Child()
                self.children[child.id] = child
                fork.answer = lambda: ((renewal(fork.id) if hello else b"")
                                       + fork_created(fork.id, child.id, child.snapshot, child.created, b"child.fake"))
                log(f"fork {fork.id} -> child {child.id}")
                threading.Thread(target=self.lifecycle, args=(child,), daemon=True).start()
            fork.done.set()
            self.send(conn, fork.answer())

    def lifecycle(self, child):
        time.sleep(0.1)
        with self.lock:
            if child.state == STARTING:
                self.move(child, RUNNING)
        exit_after = self.args.exit_after
        if exit_after is None and self.args.control is None:
            exit_after = 1.0
        if exit_after is None or exit_after < 0:
            return
        time.sleep(exit_after)
        with self.lock:
            if child.state != STOPPED:
                self.move(child, DRAINING)
                self.move(child, STOPPED, self.args.exit_code)

    def resync(self, conn, correlation, fork):
        """Answers a Resync: the fork's answer again (waiting until it is done), every child, the end."""
        outcome = 0
        last = self.last_fork
        if fork != 0:
            if last is not None and last.id == fork:
                last.done.wait()
                outcome = ANSWERED
            else:
                outcome = NEVER_RECEIVED
        with self.lock:
            data = last.answer() if outcome == ANSWERED else b""
            children = list(self.children.values())
            data += b"".join(child.message(correlation) for child in children)
            data += header(RESYNC_END, correlation) + struct.pack("<III", fork, outcome, len(children))
            self.send(conn, data)
        log(f"Resync {correlation}: fork {fork} " + ("-" if not fork else "answered" if outcome == ANSWERED
                                                     else "never received") + f", {len(children)} children")

    # control

    def control(self, line):
        words = line.split()
        with self.lock:
            if words == ["children"]:
                return "ok " + " ".join(f"{c.id}:{NAMES[c.state]}" + ("" if c.code is None else f":{c.code}")
                                        for c in self.children.values())
            if len(words) != 3 or words[0] not in ("exit", "status"):
                return "error unknown command"
            try:
                child = self.children.get(uuid.UUID(words[1]))
            except ValueError:
                child = None
            if child is None:
                return "error no such child"
            if words[0] == "exit":
                try:
                    code = int(words[2])
                except ValueError:
                    return "error bad exit code"
                if child.state not in (DRAINING, STOPPING, STOPPED):
                    self.move(child, DRAINING)
                return "ok" if self.move(child, STOPPED, code) else "error already stopped"
            state = STATES.get(words[2])
            if state not in (RUNNING, DRAINING, STOPPING, TEMPLATE):
                return "error bad state"
            return "ok" if self.move(child, state) else "error stopped"


def listen(path):
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    return listener


def serve_control(instance, path):
    listener = listen(path)

    def session(conn):
        with conn, conn.makefile("rwb", buffering=0) as stream:
            for line in stream:
                stream.write((instance.control(line.decode(errors="replace")) + "\n").encode())

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=session, args=(conn,), daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--exit-after", type=float, default=None,
                        help="seconds a child runs before it exits (default 1; with --control: until told)")
    parser.add_argument("--exit-code", type=int, default=0)
    parser.add_argument("--fork-latency", type=float, default=0.0, help="seconds a fork takes")
    parser.add_argument("--reject", type=int, default=0, metavar="ERRNO")
    parser.add_argument("--child", action="store_true", help="answer every fork with ParentId")
    parser.add_argument("--no-extension", action="store_true", help="treat Hello and Resync as unknown (an old platform)")
    parser.add_argument("--control", metavar="PATH", help="a Unix socket taking commands that play the children")
    args = parser.parse_args()
    instance = Instance(args)
    if args.control:
        threading.Thread(target=serve_control, args=(instance, args.control), daemon=True).start()
    listener = listen(args.path)
    log(f"listening on {args.path}")
    while True:
        conn, _ = listener.accept()
        with instance.lock:
            previous = instance.reader
            reader = threading.Thread(target=instance.serve, args=(conn, previous), daemon=True)
            instance.reader = reader
        reader.start()


if __name__ == "__main__":
    main()
