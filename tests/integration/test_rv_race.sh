#!/usr/bin/env bash
# Adversarial review (rv-race): races between a lock decision and the act,
# across the front ends of one daemon (FUSE mount and S3 endpoint) and its
# own background work. Each case records the object right after the lock
# was acknowledged and checks it is exactly that afterwards:
#   1. truncate(2) by path racing user.worm.append-only ON;
#   2. truncate(2) of a set-user-ID object racing a retention: a cut must
#      not be made and then answered EPERM;
#   3. every change path of the mount (writes, truncates, fallocate,
#      O_TRUNC, renames, a replace, chmod, xattrs, utimens) racing a
#      COMPLIANCE retention or a legal hold;
#   4. S3 PutObject, DeleteObject, CopyObject and DeleteObjects on a key
#      racing a lock set on it through the mount;
#   5. autocommit firing while a writer still holds the object open;
# (1 and 2 held on main: through one mount the kernel holds the inode's
# lock across a setattr and a setxattr of it, so they meet only in order;
# coverage of the engine's checks as the mount reaches them.)
#   6. opens and reads racing an unlink: ENOENT or the whole object, never
#      EIO, and no authentication failure logged or counted for an object
#      that is not damaged.
# WORMFS_LONG=1 runs more rounds.
. "$(dirname "$0")/lib.sh"
require_binaries

RS=$T_BASE/racesnap
cc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -O2 -pthread -o "$RS" "$LIB_DIR/racesnap.c" ||
	{ fail "racesnap.c compiles"; done_testing; }
chmod 0755 "$RS"
PY=/usr/bin/python3

if [ "$WORMFS_LONG" = 1 ]; then
	CUT_N=4000 SNAP_N=400 SETID_N=600 S3_ROUNDS=80 OU_N=20000
else
	CUT_N=150 SNAP_N=8 SETID_N=30 S3_ROUNDS=5 OU_N=2000
fi

field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
out=$("$WORMCTL" s3 user add "$S" bob --uid "$TEST_UID" --gid "$TEST_UID" 2>&1) ||
	{ fail "s3 user add bob" "$out"; done_testing; }
KEY=${out%% *} SECRET=${out#* }

mount_fg "$S" "$M" -o allow_other,s3.listen=127.0.0.1:0 ||
	{ fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted"

# ---- 6. (first: the authentication failure counter starts at 0) opens
# and reads racing an unlink. The unlink marked the object's in-memory
# inode and put it back at once: freed, an open taking it anew read the
# record from before the unlink's commit, counted a handle on an object
# about to go, and found its inline value or content file gone: EIO,
# logged and counted as an authentication failure.
check_errno "mkdir bucket opn" OK mkdir "$M/opn"
check_errno "mkdir opn/d" OK mkdir "$M/opn/d"
for sz in 100 40000; do
	out=$("$RS" openunlink "$M/opn/d/f$sz" "$sz" "$OU_N")
	diag "openunlink $sz: $out"
	check_match "openunlink ($sz bytes): the readers opened it" "^[1-9]" "$(field opened "$out")"
	check_eq "openunlink ($sz bytes): no EIO" 0 "$(field eio "$out")"
	check_eq "openunlink ($sz bytes): no short read" 0 "$(field short "$out")"
done
check_eq "no authentication failure counted" 0 \
	"$(sed -n 's/^wormfs_auth_failures_total //p' "$M/.wormfs/stats")"
check_eq "none logged" 0 \
	"$(grep -c 'fails authentication\|content file missing' "${MNT_LOG[$M]}")"

# ---- 1. truncate(2) racing append-only ON
check_errno "mkdir bucket cut" OK mkdir "$M/cut"
head -c 60000 /dev/urandom >"$M/cut/log"
out=$("$RS" appendcut "$M/cut/log" "$CUT_N" 3)
diag "appendcut: $out"
check_match "appendcut: append-only went ON and OFF" "^[1-9]" "$(field rounds "$out")"
check_eq "appendcut: no truncate cut an object after its append-only ON was acknowledged" 0 \
	"$(field violations "$out")"

# ---- 2. truncate(2) of a set-user-ID object racing a retention
check_errno "mkdir bucket setid" OK mkdir "$M/setid"
chmod 0777 "$M/setid"
: >"$M/setid/f" && chown "$TEST_UID:$TEST_UID" "$M/setid/f"
out=$("$RS" setidcut "$M/setid/f" "$SETID_N")
diag "setidcut: $out"
check_match "setidcut: retentions landed" "^[1-9]" "$(field locked "$out")"
check_eq "setidcut: no truncate answered EPERM after cutting" 0 "$(field refused_but_done "$out")"
check_eq "setidcut: no truncate answered 0 without cutting" 0 "$(field done_but_lost "$out")"

# ---- 3. every change path of the mount racing a retention or a hold
check_errno "mkdir bucket snap" OK mkdir "$M/snap"
out=$("$RS" snap "$M/snap" "$SNAP_N" 4 2>"$T_BASE/snap.err")
diag "snap: $out"
[ -s "$T_BASE/snap.err" ] && diag "$(head -n 10 "$T_BASE/snap.err")"
check_match "snap: locks landed" "^[1-9]" "$(field locked "$out")"
check_eq "snap: nothing changed a locked object after its lock was acknowledged" 0 \
	"$(field violations "$out")"

# ---- 4. S3 writes racing a lock set through the mount
PORT=$(s3_port_of "${MNT_LOG[$M]}")
check "S3 endpoint serving" test -n "$PORT"
check_errno "mkdir bucket s3race" OK mkdir "$M/s3race"
chown "$TEST_UID:$TEST_UID" "$M/s3race"
res=$(cd "$ROOT/tests/s3" && S3_ENDPOINT=http://127.0.0.1:$PORT S3_BUCKET=s3race S3_MOUNT=$M \
	S3_KEY=$KEY S3_SECRET=$SECRET ROUNDS=$S3_ROUNDS THREADS=4 timeout 600 "$PY" rv_race_lock.py 2>&1)
echo "$res" | sed 's/^/# /'
val() { sed -n "s/^$1=//p" <<<"$res" | tail -n 1; }
check_match "s3 race: locks landed" "^[1-9]" "$(val locked)"
check_eq "s3 race: no S3 change reached a locked object" 0 "$(val violations)"
check_eq "s3 race: no open or lock of the key failed with an error (EIO)" 0 "$(val lock_errors)"

# ---- 5. autocommit while a writer still writes
check_errno "mkdir bucket auto" OK mkdir "$M/auto"
check_errno "... default COMPLIANCE 1d" OK setxattr "$M/auto" user.worm.default-retention "COMPLIANCE 1d"
check_errno "... autocommit 1s" OK setxattr "$M/auto" user.worm.autocommit 1s
res=$("$PY" - "$M/auto/held" <<'EOF'
import os, sys, time
p = sys.argv[1]
fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
errs = 0
for i in range(4):
    try:
        os.write(fd, b"chunk %d\n" % i)
        os.fsync(fd)          # committed, but the writer stays
    except OSError as e:
        errs += 1
        print("write", i, e)
    time.sleep(1.6)           # past the autocommit period, handle open
state = os.getxattr(p, "user.worm.state").decode()
os.close(fd)
print(f"errs={errs} state_open={state}")
EOF
)
diag "$res"
check_match "autocommit: no write of the open writer refused" "errs=0" "$res"
check_match "autocommit: not locked while its writer is open" "state_open=mutable" "$res"
check "autocommit: locked once idle after the close" wait_state "$M/auto/held" locked 15
check_eq "autocommit: every chunk kept" "$(printf 'chunk %d\n' 0 1 2 3)" "$(cat "$M/auto/held")"

umount_check "$M" "after the races"
out=$("$WORMCTL" verify "$S" 2>&1)
check_match "wormctl verify: intact" "all intact" "$out"
done_testing
