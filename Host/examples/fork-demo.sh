# The demo app: fork once. Both sides print a token computed before the fork (it lives in
# this shell's memory) and the checksum of 4 MiB written just before it (a tmpfs file: guest
# RAM, pages the host has likely not written back yet). Then each side overwrites that memory
# and the other must not see it: the child's RAM is its own. The child exits with 42; the
# parent follows the child's status, waits for it and prints its exit code.
token=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
dd if=/dev/urandom of=/tmp/memory bs=64k count=64 2>/dev/null
sum=$(md5sum < /tmp/memory | cut -c1-32)
echo "before fork: token $token; memory $sum"
echo 1 > /uk/libukp/fork || exit 1
me=$(cat /uk/libukp/fork)
if [ "$me" = "00000000-0000-0000-0000-000000000000" ]; then
    echo "child: fork reads $me; token $token; memory $(md5sum < /tmp/memory | cut -c1-32); vm/ has [$(ls /uk/libukp/vm)]"
    sleep 1  # the parent overwrites its copy meanwhile
    echo "child: memory after the parent wrote its own: $(md5sum < /tmp/memory | cut -c1-32)"
    dd if=/dev/urandom of=/tmp/memory bs=64k count=64 conv=notrunc 2>/dev/null
    sleep 1
    exit 42
fi
echo "parent: memory after the fork: $(md5sum < /tmp/memory | cut -c1-32)"
dd if=/dev/zero of=/tmp/memory bs=64k count=64 conv=notrunc 2>/dev/null
parents=$(md5sum < /tmp/memory | cut -c1-32)
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
echo "parent: memory it wrote $parents, after the child wrote its own: $(md5sum < /tmp/memory | cut -c1-32)"
wait
echo "parent: status poll saw: $(cat /tmp/watched | tr '\n' ' ')"
