# The demo app: fork once. Both sides print a token computed before the fork (it lives in
# this shell's memory); the child exits with 42; the parent follows the child's status,
# waits for it and prints its exit code.
token=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "before fork: token $token"
echo 1 > /uk/libukp/fork || exit 1
me=$(cat /uk/libukp/fork)
if [ "$me" = "00000000-0000-0000-0000-000000000000" ]; then
    echo "child: fork reads $me; token $token; vm/ has [$(ls /uk/libukp/vm)]"
    sleep 2
    exit 42
fi
vm=/uk/libukp/vm/$me
ukp-watch $vm/status > /tmp/watched &      # follows the status with poll(2)
seen=$(cat $vm/status)
for _ in $(seq 100); do
    [ "$(cat $vm/status)" = Running ] && break
    sleep 0.1
done
[ "$(cat $vm/status)" != "$seen" ] && seen="$seen $(cat $vm/status)"
echo "parent: child $me; token $token; status seen: $seen"
echo 1 > $vm/wait
echo "parent: child exited with $(cat $vm/wait); status $(cat $vm/status)"
wait
echo "parent: status poll saw: $(cat /tmp/watched | tr '\n' ' ')"
