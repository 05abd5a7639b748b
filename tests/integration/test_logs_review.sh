#!/usr/bin/env bash
# Review of issue 14 (logs: append-only, autocommit), attacks through the
# mount by a user who may only read an object.
# - A reader's open with O_RDONLY|O_APPEND is no write handle (as in
#   Linux: O_APPEND asks for no write permission): holding it open, or
#   closing it again and again, must not keep someone else's object in an
#   autocommit bucket mutable. Before the fix it counted as a writer: the
#   object never locked while the reader held it, and each close pushed
#   the deadline out again.
. "$(dirname "$0")/lib.sh"
require_binaries
PY=/usr/bin/python3
[ -x "$PY" ] || { fail "$PY available"; done_testing; }
# The reader (uid 1000) leaves its markers here.
MK=$T_BASE/marks; mkdir -p "$MK"; chmod 0777 "$MK"; chmod o+x "$T_BASE"

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" -o allow_other || { fail "mount"; done_testing; }
ok "mounted"

st() { h getxattr "$1" user.worm.state; }
U() { setpriv --reuid=1000 --regid=1000 --clear-groups -- "$@"; }
wait_state() {
	local i
	for i in $(seq 1 $(($3 * 10))); do
		[ "$(st "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

AC=2
B=$M/readers
check_errno "bucket" OK mkdir "$B"
chmod 0755 "$B"
check_errno "default retention" OK setxattr "$B" user.worm.default-retention "GOVERNANCE 1d"
check_errno "autocommit ${AC}s" OK setxattr "$B" user.worm.autocommit "${AC}s"
check_errno "root's log" OK write "$B/app.log" "line 1"
chmod 0644 "$B/app.log"
check_eq "mutable after close" mutable "$(st "$B/app.log")"
# The reader holds O_RDONLY|O_APPEND open until the file locks (bounded).
U "$PY" - "$B/app.log" "$MK/ro.stop" <<'EOF' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_APPEND)
open(sys.argv[2] + ".opened", "w").close()
t = time.time()
while not os.path.exists(sys.argv[2]) and time.time() - t < 120:
    time.sleep(0.1)
os.close(fd)
EOF
RP=$!
for i in $(seq 1 100); do [ -e "$MK/ro.stop.opened" ] && break; sleep 0.1; done
check "reader opened O_RDONLY|O_APPEND" test -e "$MK/ro.stop.opened"
if wait_state "$B/app.log" locked $((AC * 4 + 10)); then ok "a reader's O_RDONLY|O_APPEND open does not hold the lock off"
else fail "a reader's O_RDONLY|O_APPEND open does not hold the lock off" "state $(st "$B/app.log")"; fi
touch "$MK/ro.stop"; wait "$RP"

# A reader closing O_RDONLY|O_APPEND opens in a loop pushes no deadline.
check_errno "root's second log" OK write "$B/b.log" "line 1"
chmod 0644 "$B/b.log"
U "$PY" - "$B/b.log" "$MK/ro2.stop" <<'EOF' &
import os, sys, time
t = time.time()
while not os.path.exists(sys.argv[2]) and time.time() - t < 120:
    try:
        os.close(os.open(sys.argv[1], os.O_RDONLY | os.O_APPEND))
    except OSError:
        pass
    time.sleep(0.05)
EOF
RP=$!
if wait_state "$B/b.log" locked $((AC * 4 + 10)); then ok "a reader's reopen loop does not push the deadline"
else fail "a reader's reopen loop does not push the deadline" "state $(st "$B/b.log")"; fi
touch "$MK/ro2.stop"; wait "$RP"
check_errno "the locked log: write refused" EPERM append "$B/b.log" "x"

umount_fs "$M" || fail "unmount"
done_testing
