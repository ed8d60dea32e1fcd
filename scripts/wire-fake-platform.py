#!/usr/bin/env python3
"""A fake platform speaking the ukp wire protocol on a Unix socket, for trying
`ukp-fuse --platform wire` without VMs.

Each ForkRequest is answered with ForkCreated (a fresh child UUID), then the child
reports Running, and after --exit-after seconds exits with --exit-code.
--reject ERRNO answers every fork with Error(-ERRNO) instead. --child answers every fork
with ParentId instead: the daemon becomes the child of the fork. The wire extension: a
Hello is answered with Renewal (32 bytes of entropy, this host's clock), and after a Hello
each ParentId is preceded by one (ForkCreated by the clock alone); --no-extension treats
Hello as an unknown type, as a platform without the extension would (it drops the stream).

    scripts/wire-fake-platform.py /tmp/ukp.sock &
    ukp-fuse --platform wire --wire-path /tmp/ukp.sock --mountpoint /tmp/ukp
"""
import argparse, os, socket, struct, sys, threading, time, uuid

ERROR, FORK_CREATED, PARENT_ID, STATUS, EXIT_STATUS, FORK_REQUEST = 1, 2, 3, 4, 5, 6
HELLO, RENEWAL = 0x8000_0001, 0x8000_0002
SIZES = {ERROR: 12, PARENT_ID: 24, STATUS: 32, EXIT_STATUS: 32, FORK_REQUEST: 8, HELLO: 16}


def header(kind, correlation):
    return struct.pack("<II", kind, correlation)


def fork_created(correlation, child, snapshot, fqdn=b""):
    return (header(FORK_CREATED, correlation) + child.bytes + snapshot.bytes
            + struct.pack("<QH", int(time.time()), len(fqdn)) + fqdn)


def status(child, state):
    return header(STATUS, 0) + child.bytes + struct.pack("<II", state, 0)


def exit_status(child, code):
    return header(EXIT_STATUS, 0) + child.bytes + struct.pack("<II", code & 0xFFFFFFFF, 0)


def renewal(correlation, entropy=b""):
    return header(RENEWAL, correlation) + struct.pack("<QH", time.time_ns(), len(entropy)) + entropy


def serve(conn, args, lock):
    def send(data):
        with lock:
            conn.sendall(data)

    buffer = b""
    hello = False
    while True:
        data = conn.recv(4096)
        if not data:
            return
        buffer += data
        while len(buffer) >= 8:
            kind, correlation = struct.unpack_from("<II", buffer)
            if kind not in SIZES or (kind == HELLO and args.no_extension):
                print(f"fake platform: unexpected message type {kind:#x}", file=sys.stderr)
                return
            if len(buffer) < SIZES[kind]:
                break
            buffer = buffer[SIZES[kind]:]
            if kind == HELLO:
                hello = True
                send(renewal(correlation, os.urandom(32)))
                print(f"fake platform: Hello {correlation}", file=sys.stderr, flush=True)
                continue
            if kind != FORK_REQUEST:
                continue
            if args.reject:
                send(header(ERROR, correlation) + struct.pack("<i", -args.reject))
                continue
            if args.child:
                send((renewal(correlation, os.urandom(32)) if hello else b"")
                     + header(PARENT_ID, correlation) + uuid.uuid4().bytes)
                print(f"fake platform: fork {correlation}: you are the child", file=sys.stderr, flush=True)
                continue
            child = uuid.uuid4()
            send((renewal(correlation) if hello else b"") + fork_created(correlation, child, uuid.uuid4(), b"child.fake"))
            print(f"fake platform: fork {correlation} -> child {child}", file=sys.stderr, flush=True)

            def lifecycle(child=child):
                time.sleep(0.1)
                send(status(child, 2))
                time.sleep(args.exit_after)
                send(status(child, 3))
                send(exit_status(child, args.exit_code))
                send(status(child, 0))
            threading.Thread(target=lifecycle, daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--exit-after", type=float, default=1.0)
    parser.add_argument("--exit-code", type=int, default=0)
    parser.add_argument("--reject", type=int, default=0, metavar="ERRNO")
    parser.add_argument("--child", action="store_true", help="answer every fork with ParentId")
    parser.add_argument("--no-extension", action="store_true", help="treat Hello as unknown (an old platform)")
    args = parser.parse_args()
    if os.path.exists(args.path):
        os.unlink(args.path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(args.path)
    listener.listen(4)
    print(f"fake platform: listening on {args.path}", file=sys.stderr, flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, args, threading.Lock()), daemon=True).start()


if __name__ == "__main__":
    main()
