#!/usr/bin/env bash
# Review of the authenticated records (issue 12 items 1 and 2): the
# offline repair commands on a mounted store and on bad inode numbers
# refuse with a clear error and change nothing; rmdir of a bucket or a
# directory holding an unnamed node is refused (ENOTEMPTY).
. "$(dirname "$0")/lib.sh"
require_binaries
ensure_harness
build_tamper || { fail "tamper.c compiles"; done_testing; }

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
mkdir -p "$M/bkt/d" "$M/bkt2/d2" || { fail "dirs"; done_testing; }
echo x >"$M/bkt/d/f"; echo y >"$M/bkt2/d2/g"; echo z >"$M/bkt/plain"
# ---- while mounted: the repair commands refuse, nothing changes
out=$("$WORMCTL" repair "$S" 2>&1); rc=$?
check_eq "repair on a mounted store: exit 1" 1 "$rc"
diag "$out"
ino_f=$(stat -c %i "$M/bkt/d/f") ino_d=$(stat -c %i "$M/bkt/d")
ino_d2=$(stat -c %i "$M/bkt2/d2") ino_g=$(stat -c %i "$M/bkt2/d2/g")
out=$("$WORMCTL" reattach "$S" "$ino_f" 2>&1); rc=$?
check_eq "reattach on a mounted store: exit 1" 1 "$rc"
diag "$out"
check_match "it says why" "is mounted: unmount it first" "$out"
umount_fs "$M" || { fail "unmount"; done_testing; }

# ---- bad inode numbers: clear errors, exit 1, nothing changed
# The namespace records (a writable offline open rewrites the clock and
# head records, which are not compared).
snap() { for db in nodes dirents cookies orphans links; do mdb_dump -s "$db" "$S/meta"; done; }
before=$(snap)
for arg in 1 999999 0 abc -5 "$ino_f" "$ino_d"; do
	out=$("$WORMCTL" reattach "$S" "$arg" 2>&1); rc=$?
	check "reattach $arg refused (exit $rc): $out" test "$rc" -ne 0
done
check_eq "refusals changed nothing" "$before" "$(snap)"
"$WORMCTL" verify "$S" >/dev/null 2>&1
check_eq "verify clean" 0 "$?"

# ---- a subdirectory holding an unnamed node: neither it nor its bucket
# can be removed; reattach names the node again; then both can go.
"$TAMPER" ddel "$S/meta" "$ino_d2" g || fail "entry deleted offline"
digest_reseal "$S"
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
check_errno "rmdir of the directory holding an unnamed node" ENOTEMPTY rmdir "$M/bkt2/d2"
check_errno "nor its bucket" ENOTEMPTY rmdir "$M/bkt2"
umount_fs "$M" || { fail "unmount"; done_testing; }
out=$("$WORMCTL" reattach "$S" "$ino_g" 2>/dev/null)
check_eq "reattach names it" "inode $ino_g re-attached as /bkt2/.recovered/$ino_g" "$out"
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
check_errno "the re-attached node can be removed" OK unlink "$M/bkt2/.recovered/$ino_g"
check_errno "then the directory" OK rmdir "$M/bkt2/d2"
check_errno "then .recovered" OK rmdir "$M/bkt2/.recovered"
check_errno "then the bucket" OK rmdir "$M/bkt2"
umount_fs "$M" || { fail "unmount"; done_testing; }
"$WORMCTL" verify "$S" >/dev/null 2>&1
check_eq "verify clean at the end" 0 "$?"
done_testing
