#!/usr/bin/env bash
# Inline objects (include/obj.h): content of at most one block (16 KiB) is
# sealed into the metadata database instead of a content file. Checked
# through the mount: which objects have content files, the move to a file
# when an object outgrows the block (append, write past it, truncate up),
# that content reads back exactly before and after a remount, that a
# reader keeps reading the right bytes across the move, that unlink and
# rename-over leave nothing behind (also after a crash), that a commit
# through a handle opened while inline re-seals the file, and that the
# store verifies.
. "$(dirname "$0")/lib.sh"
require_binaries
ensure_harness || { fail "harness"; done_testing; }

S=$T_BASE/store M=$T_BASE/mnt R=$T_BASE/ref
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
B=$M/inline
mkdir "$B" "$R" || { fail "mkdir bucket"; done_testing; }

nfiles() { find "$S/objects" -type f ! -name '*.*' | wc -l; }   # content files, not side files (.u, .m0, .m1)
# put NAME SIZE: random content, kept in $R as the reference.
put() { head -c "$2" /dev/urandom >"$R/$1" && cp "$R/$1" "$B/$1"; }
same() { # DESC NAME...: every NAME reads back as its reference
	local bad='' f
	for f in "${@:2}"; do cmp -s "$R/$f" "$B/$f" || bad+=" $f"; done
	check_eq "$1" "" "$bad"
}

: >"$B/empty" && : >"$R/empty"
put one 1
put almost 16383
put block 16384
put over 16385
sync
check_eq "only the object larger than a block has a content file" "1" "$(nfiles)"
same "sizes 0, 1, 16383, 16384, 16385 read back" empty one almost block over

# Outgrowing the block moves the content to a file, keeping every byte.
head -c 1 /dev/urandom | tee -a "$R/block" >>"$B/block"
sync
check_eq "append past 16384 bytes: a content file appears" "2" "$(nfiles)"
same "appended object reads back" block
printf 'tail' | dd of="$R/one" bs=1 seek=20000 conv=notrunc status=none
printf 'tail' | dd of="$B/one" bs=1 seek=20000 conv=notrunc status=none
check_eq "write past the block: a content file appears" "3" "$(nfiles)"
same "object written past the block (a hole of zeros before the data) reads back" one
truncate -s 10 "$R/almost" "$B/almost"
truncate -s 16384 "$R/almost" "$B/almost"
check_eq "truncate down and up to the block: still inline" "3" "$(nfiles)"
truncate -s 40000 "$R/almost" "$B/almost"
check_eq "truncate up past the block: a content file appears" "4" "$(nfiles)"
same "truncated objects read back" almost

# A reader opened while the object is inline reads the new bytes after a
# writer (another handle) moved it to a file.
put moving 5000
exec 3<"$B/moving"
head -c 30000 /dev/urandom | tee -a "$R/moving" >>"$B/moving"
check_eq "a reader opened before the move reads the whole object after it" \
	"$(sha256sum <"$R/moving")" "$(sha256sum <&3)"
exec 3<&-

# Rewrite in place with O_TRUNC, many small commits, then unlink and
# rename over an inline object.
for i in 1 2 3 4 5; do head -c $((i * 1000)) /dev/urandom >"$R/rewrite"; cp "$R/rewrite" "$B/rewrite"; done
same "an inline object rewritten five times reads the last content" rewrite
put victim 777
put winner 888
mv "$B/winner" "$B/victim" && mv "$R/winner" "$R/victim"
same "rename over an inline object: the new content" victim
n=$(nfiles)
rm "$B/rewrite" "$R/rewrite"
check_eq "unlink of an inline object removes no content file" "$n" "$(nfiles)"

# A handle opened while the object was inline has no content file: when
# it is the one whose close commits a later write session (which did not
# touch the final block), the final block must still be re-sealed.
{ printf 'X'; head -c 39999 /dev/zero | tr '\0' b; } >"$R/stale"
for how in close fsync; do
	head -c 1000 /dev/urandom >"$B/stale.$how"
	cp "$R/stale" "$R/stale.$how"
	check_errno "harness stalecommit ($how)" OK stalecommit "$B/stale.$how" "$how"
done
same "a session committed through a handle opened while inline (close, fsync) reads back" stale.close stale.fsync

# An object unlinked while open that moves to a content file, then a
# crash: the file is still deleted at the next mount (orphan record).
n=$(nfiles)
"$HARNESS" holdspill "$B/orphan" >"$T_BASE/hold.out" 2>&1 &
hpid=$!
for _ in $(seq 1 100); do [ -s "$T_BASE/hold.out" ] && break; sleep 0.1; done
check_eq "harness holdspill" "OK" "$(cat "$T_BASE/hold.out")"
check_eq "unlinked while open, moved to a file: one more content file" "$((n + 1))" "$(nfiles)"
kill -9 "${MNT_PID[$M]}"
kill "$hpid" 2>/dev/null
wait "$hpid" 2>/dev/null
crash_daemon "$M" "$S" || fail "daemon killed, stale mount cleared"
mount_fg "$S" "$M" || { fail "remount after the crash"; done_testing; }
check_eq "after the crash its content file is gone" "$n" "$(nfiles)"

umount_check "$M" "inline"
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "store verifies (exit 0)" "0" "$?"
check_match "verify checks all 9 objects" "^$S: 9 objects checked, all intact" "$out"
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
same "after a remount every object reads back" empty one almost block over moving victim stale.close stale.fsync
check_eq "after a remount: sizes as written" \
	"$(cd "$R" && stat -c '%n %s' empty one almost block over moving victim)" \
	"$(cd "$B" && stat -c '%n %s' empty one almost block over moving victim)"
umount_check "$M" "inline, remount"
done_testing
