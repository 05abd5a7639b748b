#!/usr/bin/env bash
# Review of issue 14 (logs: append-only, autocommit), attacks through the
# mount by a user who may only read an object.
# - A reader's open with O_RDONLY|O_APPEND is no write handle (as in
#   Linux: O_APPEND asks for no write permission): holding it open, or
#   closing it again and again, must not keep someone else's object in an
#   autocommit bucket mutable. Before the fix it counted as a writer: the
#   object never locked while the reader held it, and each close pushed
#   the deadline out again.
# - mmap MAP_SHARED on an O_RDWR|O_APPEND fd (below).
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

U() { setpriv --reuid=1000 --regid=1000 --clear-groups -- "$@"; }

AC=2
B=$M/readers
check_errno "bucket" OK mkdir "$B"
chmod 0755 "$B"
check_errno "default retention" OK setxattr "$B" user.worm.default-retention "GOVERNANCE 1d"
check_errno "autocommit ${AC}s" OK setxattr "$B" user.worm.autocommit "${AC}s"
check_errno "root's log" OK write "$B/app.log" "line 1"
chmod 0644 "$B/app.log"
check_eq "mutable after close" mutable "$(worm_state "$B/app.log")"
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
else fail "a reader's O_RDONLY|O_APPEND open does not hold the lock off" "state $(worm_state "$B/app.log")"; fi
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
else fail "a reader's reopen loop does not push the deadline" "state $(worm_state "$B/b.log")"; fi
touch "$MK/ro2.stop"; wait "$RP"
check_errno "the locked log: write refused" EPERM append "$B/b.log" "x"

# ---- O_APPEND and mmap: the kernel writes an mmap'ed page back at its
# own offset. Before the fix the daemon moved every write of an O_APPEND
# handle to the end: the page (bytes 0..) was appended as a copy, on an
# appendable WORM object and on an ordinary file alike.
cat > "$MK/mm.py" <<'EOF'
import os, sys, mmap
fd = os.open(sys.argv[1], os.O_RDWR | os.O_APPEND)
try:
    m = mmap.mmap(fd, 4, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    m[0:2] = b"MM"
    try:
        m.flush()
    except OSError:
        pass            # refused write-back (append-only): checked below
    m.close()
    os.pwrite(fd, b"ZZ", 0)   # O_APPEND: at the end whatever the offset
finally:
    os.close(fd)
EOF
W=$M/appendworm
check_errno "bucket appendworm" OK mkdir "$W"
check_errno "default retention" OK setxattr "$W" user.worm.default-retention "GOVERNANCE 1d"
check_errno "default append-only" OK setxattr "$W" user.worm.default-append-only ON
check_errno "appendable log" OK write "$W/x.log" "ABCDEFGH"
check_eq "appendable WORM: locked" locked "$(worm_state "$W/x.log")"
"$PY" "$MK/mm.py" "$W/x.log"
check_eq "plain bucket" OK "$(h mkdir "$M/plainbkt")"
check_errno "ordinary file" OK write "$M/plainbkt/f" "ABCDEFGH"
"$PY" "$MK/mm.py" "$M/plainbkt/f"
umount_fs "$M" || fail "unmount"
mount_fg "$S" "$M" -o allow_other || { fail "remount"; done_testing; }
check_eq "appendable WORM: mmap write below the end changed nothing, pwrite appended" \
	"ABCDEFGHZZ" "$(cat "$W/x.log")"
check_eq "ordinary file, O_APPEND fd: mmap write in place, pwrite appended" \
	"MMCDEFGHZZ" "$(cat "$M/plainbkt/f")"

umount_fs "$M" || fail "unmount"
done_testing
