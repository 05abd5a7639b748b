#!/bin/bash
# test_fault_io: EIO and short writes from the store's files (issue 13,
# item 3). An LD_PRELOAD shim (faultshim.c, compiled here) makes chosen
# pwrite/write/pread/fsync/fdatasync/ftruncate/fallocate calls of the
# daemon on the store's content files, journals or metadata fail with EIO
# or write short, controlled by a file this test rewrites. Each failing
# operation must report EIO to its caller (never success), the daemon stays
# up, nothing committed is lost or unreadable once the fault stops, after a
# remount too, and `wormctl verify` is clean.
#
# Found with it: a write that failed part way through a committed block
# (after the block was journaled) left that block torn: the object read
# EIO for good, even after a clean remount, and `verify` said intact (it
# reads the journal). Now the daemon rolls the object back to its last
# commit at once (README, Reliability). And one EIO on LMDB's meta-page
# write made every later operation fail (MDB_PANIC) until a remount: the
# environment is now opened again.
. "$(dirname "$0")/lib.sh"

require_binaries
fault_setup "fault io"

# fio: writes of seeded random bytes with the errno of each step.
FIO=$T_BASE/fio.py
cat >"$FIO" <<'EOF'
import errno, os, random, sys
def en(e): return errno.errorcode.get(e, str(e))
def data(seed, n): return random.Random(seed).randbytes(n)
op = sys.argv[1]
if op == "gen":   # gen SEED LEN > file
    sys.stdout.buffer.write(data(int(sys.argv[2]), int(sys.argv[3])))
    sys.exit(0)
# write PATH OFF LEN SEED MODE(plain|trunc|append) [fsync]
path, off, n, seed, mode = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
buf = data(seed, n)
fl = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if mode == "trunc" else 0) | (os.O_APPEND if mode == "append" else 0)
try:
    fd = os.open(path, fl, 0o644)
except OSError as e:
    print("OPEN=" + en(e.errno)); sys.exit(0)
res = ["OPEN=OK"]
# A short count means a later FUSE request of the call failed: stop
# there, as a careful writer would, and see what close says.
done = 0
try:
    while done < n:
        c = buf[done:done + 65536]
        w = os.write(fd, c) if mode == "append" else os.pwrite(fd, c, off + done)
        done += w
        if w < len(c):
            break
    res.append("WRITE=OK" if done == n else "WRITE=SHORT")
except OSError as e:
    res.append("WRITE=" + en(e.errno))
if done < n:
    res[-1] += ":%d" % done
if len(sys.argv) > 7:
    try:
        os.fsync(fd); res.append("FSYNC=OK")
    except OSError as e:
        res.append("FSYNC=" + en(e.errno))
try:
    os.close(fd); res.append("CLOSE=OK")
except OSError as e:
    res.append("CLOSE=" + en(e.errno))
print(" ".join(res))
EOF
fio() { python3 "$FIO" "$@"; }
gen() { python3 "$FIO" gen "$1" "$2"; }
# model CUR OUT OFF N SEED MODE LEN: CUR with the first N of the LEN bytes
# a writer of SEED wrote at OFF (MODE append: at the end; trunc: from empty).
model() {
	python3 - "$@" <<'EOF'
import random, sys
cur, nx, off, n, seed, mode, ln = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], int(sys.argv[7])
b = bytearray(open(cur, "rb").read()) if cur and mode != "trunc" else bytearray()
d = random.Random(seed).randbytes(ln)[:n]
if mode == "append": off = len(b)
if n and len(b) < off: b.extend(b"\0" * (off - len(b)))
b[off:off + n] = d
open(nx, "wb").write(b)
EOF
}
check_alive() { check_daemon_alive "$MNT" "$1: daemon alive"; }
# same DESC FILE EXPECTED-FILE
same() {
	local out
	if out=$(cmp "$3" "$2" 2>&1); then ok "$1"; else fail "$1" "$out"; fi
}
content_files() { find "$STORE/objects" -type f ! -name '*.*' | wc -l; }

mount_shim || { fail "mount with the shim"; done_testing; }
B=$MNT/bkt1
mkdir "$B"
# Committed objects: inline, and content files with a partial last block.
h write "$B/small" hello >/dev/null
for s in 1 2 3; do gen $s $((100000 * s)) >"$T_BASE/e$s"; cp "$T_BASE/e$s" "$B/big$s"; done
gen 9 50000 >"$T_BASE/ex"

# 1. Append to a committed object: the rewrite of its partial last block
# (journaled first) writes short, then EIO. The daemon puts the block back
# as it was: the write gets EIO, the object stays as committed.
fault match=/objects/ exclude=.u ops=pwrite short=1 count=1
r=$(fio write "$B/big1" 0 100000 11 append)
nofault
check_eq "append torn by a short write + EIO: the write gets EIO" \
	"OPEN=OK WRITE=EIO:0 CLOSE=OK" "$r"
check_match "the shim wrote short, then failed" "pwrite SHORT .*pwrite EIO" "$(tr '\n' ' ' <"$FLOG")"
check_eq "the committed size stays" 100000 "$(stat -c %s "$B/big1")"
same "the committed content reads back" "$B/big1" "$T_BASE/e1"
check_alive "torn append"

# 1b. The same, and putting the block back fails too: the object is rolled
# back to its last commit (undo journal), the close reports EIO.
fault match=/objects/ exclude=.u ops=pwrite short=1 count=2
r=$(fio write "$B/big1" 0 100000 11 append)
nofault
check_eq "append torn, repair fails: write and close get EIO" "OPEN=OK WRITE=EIO:0 CLOSE=EIO" "$r"
same "the committed content reads back (rolled back)" "$B/big1" "$T_BASE/e1"
check_match "the daemon logs the rollback" "rolled back to the last commit" "$(cat "${MNT_LOG[$MNT]}")"
check_eq "an append after the fault works" "OPEN=OK WRITE=OK CLOSE=OK" "$(fio write "$B/big1" 0 5000 12 append)"
cat "$T_BASE/e1" >"$T_BASE/e1b"; gen 12 5000 >>"$T_BASE/e1b"
same "and reads back" "$B/big1" "$T_BASE/e1b"

# 2. The undo journal's own write fails: the block is never touched.
fault match=/objects/ ops=pwrite count=1
check_eq "EIO on the journal write: the write gets EIO" "OPEN=OK WRITE=EIO:0 CLOSE=OK" \
	"$(fio write "$B/big2" 150000 20000 21 plain)"
nofault
same "overwrite refused: big2 unchanged" "$B/big2" "$T_BASE/e2"

# 3. An overwrite inside: the second content-file write of a session fails
# (the first succeeded). The kernel reports the call short (the requests
# before the failed one); the failed request's blocks are put back, and
# the close commits what the writer was told was written.
fault match=/objects/ exclude=.u ops=pwrite skip=1 count=1
r=$(fio write "$B/big3" 20000 200000 31 plain)
nofault
check_match "overwrite inside, EIO on a later block write: short, then the close" \
	"^OPEN=OK WRITE=(EIO|SHORT):[0-9]+ CLOSE=OK$" "$r"
n=${r#*WRITE=*:}; n=${n%% *}
model "$T_BASE/e3" "$T_BASE/e3b" 20000 "$n" 31 plain 200000
same "big3 holds exactly the bytes reported written" "$B/big3" "$T_BASE/e3b"
cp "$T_BASE/e3b" "$T_BASE/e3"

# 4. Truncate down: the re-seal of the new last block fails.
fault match=/objects/ exclude=.u ops=pwrite count=1
check_errno "truncate with EIO on the block write: EIO" EIO truncate "$B/big2" 50000
nofault
check_eq "the size stays" 200000 "$(stat -c %s "$B/big2")"
same "big2 unchanged after the failed truncate" "$B/big2" "$T_BASE/e2"
check_errno "truncate after the fault" OK truncate "$B/big2" 150000
head -c 150000 "$T_BASE/e2" >"$T_BASE/e2t"
same "the truncation reads back" "$B/big2" "$T_BASE/e2t"

# 5. A new large object: the header write of its content file fails.
before=$(content_files)
fault match=/objects/ ops=pwrite count=1
r=$(fio write "$B/new1" 0 50000 41 trunc)
nofault
check_match "new object, EIO on the header write: the write gets EIO" "^OPEN=OK WRITE=EIO" "$r"
check_eq "no content file left behind" "$before" "$(content_files)"
check_eq "it works after the fault" "OPEN=OK WRITE=OK CLOSE=OK" "$(fio write "$B/new1" 0 50000 41 trunc)"
gen 41 50000 >"$T_BASE/en1"
same "and reads back" "$B/new1" "$T_BASE/en1"

# 6. fsync: the content file's fdatasync fails.
fault match=/objects/ ops=fdatasync,fsync count=1
r=$(fio write "$B/new1" 0 1000 42 plain fsync)
nofault
check_match "EIO from the disk at fsync: fsync gets EIO" "WRITE=OK FSYNC=EIO" "$r"
check "the object reads after a failed fsync" dd if="$B/new1" of=/dev/null status=none

# 7. Reads: pread of the content file fails.
fault match=/objects/ ops=pread count=1
check_errno "EIO on the content file's read: read gets EIO" EIO read "$B/big3"
nofault
same "reads work after the fault" "$B/big3" "$T_BASE/e3"

# 8. Short writes only (no error): the daemon completes them.
fault match=/objects/ ops=pwrite short=2 prob=50 seed=7
r=$(fio write "$B/short1" 0 300000 51 trunc)
nofault
check_eq "short writes are completed: success" "OPEN=OK WRITE=OK CLOSE=OK" "$r"
gen 51 300000 >"$T_BASE/es"
same "and the content is right" "$B/short1" "$T_BASE/es"
check_match "short writes were injected" "SHORT" "$(cat "$FLOG")"

# 9. Metadata: EIO on LMDB's writes to data.mdb (its page runs and its meta
# page): the change fails with EIO, later ones work without a remount.
for ops in write pwrite; do
	fault match=/meta/data.mdb ops=$ops count=1
	r1=$(h write "$B/m-$ops" x)
	nofault
	check_eq "EIO on data.mdb ($ops): the create gets EIO" EIO "$r1"
	check_errno "the next create works ($ops)" OK write "$B/m2-$ops" y
	check_eq "reads work ($ops)" hello "$(h read "$B/small")"
	check_errno "the failed create left no name ($ops)" ENOENT access "$B/m-$ops" f
done
check_alive "metadata EIO"

# 9b. Checkpoint: the periodic metadata sync (fdatasync of data.mdb) fails.
# Nobody waits for it: the log says so, an fsync through the mount gets
# EIO, and both work once the fault stops.
fault match=/meta/data.mdb ops=fdatasync,fsync
sleep 2
check_errno "fsync through the mount while the metadata sync fails: EIO" EIO fsync "$B/small"
nofault
sleep 2
check_match "the failed checkpoint is logged" "checkpoint .*failed: Input/output error" "$(cat "${MNT_LOG[$MNT]}")"
check_match "and its recovery" "checkpoint works again" "$(cat "${MNT_LOG[$MNT]}")"
check_errno "fsync works after the fault" OK fsync "$B/small"
check_alive "checkpoint EIO"

# 10. Random EIO (10% of the content files' and journals' writes, reads,
# truncations and syncs) under overwrites, appends and new objects: every
# object reads as its last successful commit.
declare -A expect=()
for s in 1 2 3; do expect[big$s]=$T_BASE/e$s; done
cp "$T_BASE/e1b" "$T_BASE/x-big1"; expect[big1]=$T_BASE/x-big1
cp "$T_BASE/e2t" "$T_BASE/x-big2"; expect[big2]=$T_BASE/x-big2
fails=0
for i in $(seq 1 30); do
	f=big$((i % 3 + 1))
	[ $((i % 4)) = 0 ] && f=r$i
	len=$(( (i * 7919) % 90000 + 1 ))
	mode=plain; off=$(( (i * 104729) % 120000 ))
	[ $((i % 5)) = 1 ] && { mode=append; off=0; }
	[ "${f#r}" != "$f" ] && { mode=trunc; off=0; }
	fault match=/objects/ ops=pwrite,pread,ftruncate,fdatasync,fsync prob=10 seed=$i
	r=$(fio write "$B/$f" $off $len $((1000 + i)) $mode)
	nofault
	cur=${expect[$f]:-}
	# What the writer was told is what the object holds: all of it after
	# a successful close; after a failed one its last commit (empty after
	# O_TRUNC, which commits at the open).
	case "$r" in
	OPEN=OK*CLOSE=OK) n=$len; [ "${r#*WRITE=OK}" = "$r" ] && { n=${r#*WRITE=*:}; n=${n%% *}; } ;;
	OPEN=OK*) n=-1 ;;
	*) n=-2 ;;
	esac
	[ "$r" = "OPEN=OK WRITE=OK CLOSE=OK" ] || fails=$((fails + 1))
	case "$r" in
	*=OK) ;;
	*=EIO*) ;;
	*) fail "random faults: the error is EIO ($f)" "$r" ;;
	esac
	nx=$T_BASE/x-$f.$i
	if [ "$n" -ge 0 ]; then
		model "$cur" "$nx" $off $n $((1000 + i)) $mode $len
		expect[$f]=$nx
	elif [ "$n" = -1 ] && [ "$mode" = trunc ]; then
		: >"$nx"
		expect[$f]=$nx
	fi
	if [ -n "${expect[$f]:-}" ] && ! cmp -s "${expect[$f]}" "$B/$f"; then
		fail "random faults: $f reads as the writer was told ($mode off=$off len=$len: $r)" \
			"$(cmp "${expect[$f]}" "$B/$f" 2>&1)" "$(tail -n 3 "${MNT_LOG[$MNT]}")"
		cp "$B/$f" "$nx" 2>/dev/null && expect[$f]=$nx
	fi
done
diag "random faults: $fails of 30 writers got EIO"
check_alive "random faults"
bad=
for f in "${!expect[@]}"; do cmp -s "${expect[$f]}" "$B/$f" || bad="$bad $f"; done
check_eq "every object reads as its last successful commit (live)" "" "$bad"

umount_check "$MNT" "fault io"
out=$("$WORMCTL" verify "$STORE" 2>&1)
check "wormctl verify clean after the faults" "$WORMCTL" verify "$STORE"
mount_fg "$STORE" "$MNT" || { fail "remount without the shim"; done_testing; }
bad=
for f in "${!expect[@]}"; do cmp -s "${expect[$f]}" "$B/$f" || bad="$bad $f"; done
check_eq "every object reads as its last successful commit (after a remount)" "" "$bad"
check_eq "small object after a remount" hello "$(h read "$B/small")"
# A rollback that met a fault itself leaves the store marked: the remount
# then recovers; nothing may be unreadable.
if grep -Eq '[1-9][0-9]* unreadable' "${MNT_LOG[$MNT]}"; then
	fail "the recovery at the remount (if any) finds nothing unreadable" "$(grep -i recovery "${MNT_LOG[$MNT]}")"
else
	ok "the recovery at the remount (if any) finds nothing unreadable"
fi
umount_check "$MNT" "remount"
done_testing
