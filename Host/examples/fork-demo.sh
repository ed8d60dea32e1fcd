# The demo app: fork once; both sides print a token computed before the fork; the child
# exits with 42; the parent waits for it and prints its exit code.
token=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "before fork: token $token"
echo 1 > /uk/libukp/fork || exit 1
me=$(cat /uk/libukp/fork)
if [ "$me" = "00000000-0000-0000-0000-000000000000" ]; then
    echo "child: fork reads $me; token $token; vm/ has [$(ls /uk/libukp/vm)]"
    sleep 1
    exit 42
fi
echo "parent: child $me; token $token; status $(cat /uk/libukp/vm/$me/status)"
echo 1 > /uk/libukp/vm/$me/wait
echo "parent: child exited with $(cat /uk/libukp/vm/$me/wait); status $(cat /uk/libukp/vm/$me/status)"
