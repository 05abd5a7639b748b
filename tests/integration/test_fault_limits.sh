#!/bin/bash
# test_fault_limits: the daemon at its resource limits (issue 13, item 3).
# 1. LMDB map full: under `ulimit -v` the map is small (a quarter of the
#    limit, at least 64 MiB, src/meta.c); metadata filled through the mount
#    until the map is full: the call gets ENOSPC, the daemon stays up, reads
#    work, and deletes make room again.
# 2. The file descriptor limit: the daemon under `ulimit -n 64`, many
#    content files opened through the mount at once by concurrent callers:
#    an open the daemon cannot serve gets ENFILE (not EMFILE: the caller's
#    own table is not full), the daemon logs whose limit it is, stays up,
#    and works again once the files are closed; nothing committed is lost.
. "$(dirname "$0")/lib.sh"

require_binaries
command -v python3 >/dev/null || { skip "limits" "needs python3"; done_testing; }
if [ "$WORMFS_SANITIZE" = 1 ]; then
	skip "limits" "ulimit -v and the sanitizers' shadow memory do not mix"
	done_testing
fi
REAL_WORMFS=$WORMFS
# limited NAME ULIMIT-ARGS: a wormfs that runs under those limits (exec:
# same pid, same argv for daemon_pid).
limited() {
	local w=$T_BASE/wormfs-$1
	printf '#!/bin/sh\nulimit %s || exit 1\nexec %s "$@"\n' "$2" "$REAL_WORMFS" >"$w"
	chmod +x "$w"
	echo "$w"
}
check_alive() { check_daemon_alive "$MNT" "$1: daemon alive"; }

# ---- 1. map full
STORE=$T_BASE/store1
MNT=$T_BASE/mnt1
make_store "$STORE" || { fail "wormctl init"; done_testing; }
WORMFS=$(limited vm "-v 400000") mount_fg "$STORE" "$MNT" || { fail "mount under ulimit -v"; done_testing; }
pid=${MNT_PID[$MNT]}
map=$(awk '/data\.mdb/ { split($1, a, "-"); print a[1], a[2] }' "/proc/$pid/maps" |
	python3 -c 'import sys; l = sys.stdin.readline().split(); print((int(l[1], 16) - int(l[0], 16)) >> 20)')
check_eq "under ulimit -v 400000 the map is 64 MiB" 64 "$map"
B=$MNT/bkt1
mkdir "$B"
h write "$B/keep" committed >/dev/null
VAL=$(head -c 65000 /dev/zero | tr '\0' v)
first=
for i in $(seq 1 400); do
	r=$(h write "$B/x$i" data)
	for a in 1 2 3; do
		[ "$r" = OK ] || break
		r=$(h setxattr "$B/x$i" "user.a$a" "$VAL")
	done
	[ "$r" = OK ] && continue
	first=$r
	break
done
check_eq "filling the metadata ends with ENOSPC (map full)" ENOSPC "${first:-none after 400 objects}"
diag "map full after $i objects"
# What is left fits small records: fill it with creates.
first=
for k in $(seq 1 5000); do
	r=$(h write "$B/s$k" x)
	[ "$r" = OK ] && continue
	first=$r
	break
done
check_eq "small creates on a full map end with ENOSPC" ENOSPC "${first:-none after 5000}"
check_errno "another create on a full map: ENOSPC" ENOSPC write "$B/more" x
check_errno "an xattr on a full map: ENOSPC" ENOSPC setxattr "$B/keep" user.n v
check_alive "map full"
check_eq "reads work on a full map" committed "$(h read "$B/keep")"
check_eq "xattrs read on a full map" 65000 "$(h getxattr "$B/x1" user.a1 | tr -d '\n' | wc -c)"
# Deletes make room (LMDB reuses the pages they free).
del=
for j in $(seq 1 $((i / 2))); do
	r=$(h unlink "$B/x$j")
	[ "$r" = OK ] || { del="$del x$j=$r"; }
done
check_eq "deletes on a full map work" "" "$del"
check_errno "a create after the deletes" OK write "$B/more" x
check_errno "an xattr after the deletes" OK setxattr "$B/keep" user.n v
umount_check "$MNT" "map full"
check "verify after map full" "$WORMCTL" verify "$STORE"

# ---- 2. file descriptor limit
STORE=$T_BASE/store2
MNT=$T_BASE/mnt2
make_store "$STORE" || { fail "wormctl init"; done_testing; }
WORMFS=$(limited nofile "-n 64") mount_fg "$STORE" "$MNT" || { fail "mount under ulimit -n 64"; done_testing; }
B=$MNT/bkt2
mkdir "$B"
# 120 committed objects with content files (> 16 KiB: not inline).
for i in $(seq 1 120); do head -c 20000 /dev/urandom >"$B/f$i"; done
(cd "$B" && sha256sum f*) >"$T_BASE/sums"
# 6 concurrent callers, each opens 30 of them and keeps them open, then
# reads, writes and creates through the mount; every errno is counted.
CALLER=$T_BASE/caller.py
cat >"$CALLER" <<'EOF'
import errno, os, sys, time
B, k, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
res = {}
def note(what, e):
    key = what + "=" + (errno.errorcode[e] if e else "OK")
    res[key] = res.get(key, 0) + 1
fds = []
for i in range(1, 31):
    try:
        fds.append(os.open("%s/f%d" % (B, (k * 30 + i) % 120 + 1), os.O_RDONLY)); note("open", 0)
    except OSError as e:
        note("open", e.errno)
time.sleep(1)   # all callers hold theirs at once
for fd in fds:
    try:
        os.pread(fd, 100, 0); note("read", 0)
    except OSError as e:
        note("read", e.errno)
for i in range(10):
    p = "%s/n%d-%d" % (B, k, i)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, b"y" * 20000); note("write", 0)
        except OSError as e:
            note("write", e.errno)
        try:
            os.close(fd); note("close", 0)
        except OSError as e:
            note("close", e.errno)
    except OSError as e:
        note("create", e.errno)
for fd in fds:
    os.close(fd)
open(out, "w").write(" ".join("%s:%d" % kv for kv in sorted(res.items())) + "\n")
EOF
pids=()
for k in 0 1 2 3 4 5; do python3 "$CALLER" "$B" $k "$T_BASE/res.$k" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
all=$(cat "$T_BASE"/res.* | tr ' ' '\n' | sort)
diag "callers: $(echo $all)"
check_match "some opens hit the daemon's fd limit" "open=ENFILE" "$all"
bad=$(echo "$all" | grep -v '=OK:' | grep -v '=ENFILE:' || true)
check_eq "every failure is ENFILE" "" "$bad"
check_match "the daemon logs whose limit it is" "out of file descriptors.*ulimit -n" "$(cat "${MNT_LOG[$MNT]}")"
check_alive "fd limit"
# All closed: everything works again, nothing committed changed.
check "every object reads after the files are closed" bash -c "cd '$B' && sha256sum -c --quiet '$T_BASE/sums'"
check_errno "a create after the files are closed" OK write "$B/after" hello
head -c 30000 /dev/urandom >"$T_BASE/big"
check "a large write after the files are closed" cp "$T_BASE/big" "$B/big"
check "and it reads back" cmp "$T_BASE/big" "$B/big"
umount_check "$MNT" "fd limit"
check "verify after the fd limit" "$WORMCTL" verify "$STORE"
mount_fg "$STORE" "$MNT" || { fail "remount"; done_testing; }
check "every object after a remount" bash -c "cd '$B' && sha256sum -c --quiet '$T_BASE/sums'"
umount_check "$MNT" "remount"
done_testing
