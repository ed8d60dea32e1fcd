# The guest's ukp-fuse server is killed (SIGKILL) while this app forks and waits: once while
# the fork is on the wire, in the child, and twice while the parent waits for the child. Its
# supervisor starts another each time, which resynchronizes with the platform (the wire
# extension's Resync). Needs FUSE_NOTIFY_RESEND in the guest kernel (Linux 6.9+): the
# requests a dead server held come back. Meanwhile ukp-stall times reads of generation.
U=/uk/libukp
journal=/run/ukp/uk-libukp/state.log
server() {
    for p in /proc/[0-9]*; do
        case "$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null)" in *serve-connection*) echo "${p#/proc/}" ;; esac
    done
}
kill_server() {  # $1: when, $2: the server's pid if known; returns once another server runs
    old=${2:-$(server)}
    [ -n "$old" ] && kill -9 "$old" && echo "killed the server ($1)"
    for _ in $(seq 500); do
        new=$(server)
        [ -n "$new" ] && [ "$new" != "$old" ] && return 0
        usleep 10000
    done
    echo "no new server after 5 s"
}
ukp-stall $U/generation /tmp/stop > /tmp/stall &
stall=$!
first=$(server)  # found now: finding it takes a while under TCG
echo 1 > $U/fork &
fork=$!
# On the wire: the journal's last line is the ForkRequest's correlation id (and no answer yet).
# Shell builtins only: under TCG each command started costs milliseconds.
seen=
for _ in $(seq 1000); do
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        while IFS= read -r line; do last=$line; done < $journal
        case "$last" in "- W "*) seen=1; break 2 ;; esac
    done
    kill -0 $fork 2>/dev/null || break
    usleep 1000
done
[ -n "$seen" ] || echo "the fork was never seen on the wire"
kill_server "fork in flight" "$first"
wait $fork || { echo "fork write failed; journal: $(tr '\n' '|' < $journal)"; exit 1; }
me=$(cat $U/fork)
if [ "$me" = "00000000-0000-0000-0000-000000000000" ]; then
    echo "child: fork reads $me; vm/ has [$(ls $U/vm)]"
    kill_server "in the child"
    sleep 2
    exit 42
fi
vm=$U/vm/$me
(sleep 1; kill_server "parent waiting"; sleep 1; kill_server "parent waiting") &
killer=$!
echo 1 > $vm/wait
echo "parent: child $me exited with $(cat $vm/wait); status $(cat $vm/status); vm/ has [$(ls $U/vm)]"
wait $killer
touch /tmp/stop
wait $stall
echo "parent: stall $(cat /tmp/stall)"
