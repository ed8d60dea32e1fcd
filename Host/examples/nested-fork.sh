# A child forks too: the root forks and exits at once; its child forks again (retrying while
# the host is at --max-vms), waits for the grandchild, which exits with 7, and reports it.
zero=00000000-0000-0000-0000-000000000000
echo 1 > /uk/libukp/fork || exit 1
first=$(cat /uk/libukp/fork)
if [ "$first" != $zero ]; then
    echo "root: forked child $first; exiting"
    exit 0
fi
until echo 1 > /uk/libukp/fork 2>/dev/null; do sleep 0.5; done
second=$(cat /uk/libukp/fork)
if [ "$second" = $zero ]; then
    echo "grandchild: fork reads $second; vm/ has [$(ls /uk/libukp/vm)]"
    exit 7
fi
echo 1 > /uk/libukp/vm/$second/wait
echo "child: grandchild $second exited with $(cat /uk/libukp/vm/$second/wait)"
exit 3
