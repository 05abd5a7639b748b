# replay_lib.sh: helpers of the killed-commit-record replay tests
# (test_replay_commit*.sh, test_legacy_bind_attacks.sh; issue 12). Source
# it after lib.sh. Every helper that runs a session prints its outcome for
# a check; none asserts on its own, except append_replay_stage.

# replay_require WHAT: skip the test (WHAT names it) without python3 or
# setfattr; tamper.c compiled as $TAMPER (else a failure ends the test).
replay_require() {
	command -v python3 >/dev/null || { skip "$1" "needs python3"; done_testing; }
	command -v setfattr >/dev/null || { skip "$1" "needs setfattr"; done_testing; }
	build_tamper || { fail "tamper.c compiles"; done_testing; }
}

# pw PATH OFF SRC: SRC's bytes at OFF in one session (open without
# O_TRUNC, pwrite, close: a commit at the close). Prints OK or ERR errno.
pw() {
	python3 - "$1" "$2" "$3" <<'PY'
import os, sys
data = open(sys.argv[3], "rb").read()
try:
    fd = os.open(sys.argv[1], os.O_WRONLY)
    os.pwrite(fd, data, int(sys.argv[2]))
    os.close(fd)
    print("OK")
except OSError as e:
    print("ERR", e.errno)
PY
}

# ap PATH SRC: SRC's bytes appended in one session (O_APPEND, close
# commits). Prints OK or ERR errno.
ap() {
	python3 - "$1" "$2" <<'PY'
import os, sys
data = open(sys.argv[2], "rb").read()
try:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
    os.write(fd, data)
    os.close(fd)
    print("OK")
except OSError as e:
    print("ERR", e.errno)
PY
}

# rd PATH OFF LEN: one pread; prints the errno name, or OK, the byte count
# and the sha256 of what was read.
rd() {
	python3 - "$1" "$2" "$3" <<'PY'
import errno, hashlib, os, sys
try:
    fd = os.open(sys.argv[1], os.O_RDONLY)
    b = os.pread(fd, int(sys.argv[3]), int(sys.argv[2]))
    os.close(fd)
    print("OK", len(b), hashlib.sha256(b).hexdigest())
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
PY
}

# patched BASE OFF SRC OUT: BASE with SRC's bytes at OFF.
patched() {
	python3 - "$@" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
p = open(sys.argv[3], "rb").read()
o = int(sys.argv[2])
b[o:o + len(p)] = p
open(sys.argv[4], "wb").write(bytes(b))
PY
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
# ino_of / id_of STORE PATH: the inode / content file id of PATH (tamper map).
ino_of() { "$TAMPER" map "$1/meta" | awk -v p="$2" '$6 == p { print $1 }'; }
id_of() { "$TAMPER" map "$1/meta" | awk -v p="$2" '$6 == p { print $2 }'; }
# commit_of STORE INO: the commit record tag the node names (hex).
commit_of() { "$TAMPER" get "$1/meta" "$2" commit; }

# replay_data DIR SIZE: in DIR, v1 (SIZE random bytes), k and n (300 each:
# the killed and the committed session's bytes), and killed.bin and
# committed.bin: v1 with k, with n at offset 100000.
replay_data() {
	head -c "$2" /dev/urandom >"$1/v1"
	head -c 300 /dev/urandom >"$1/k"
	head -c 300 /dev/urandom >"$1/n"
	patched "$1/v1" 100000 "$1/k" "$1/killed.bin"
	patched "$1/v1" 100000 "$1/n" "$1/committed.bin"
}

# append_replay_stage: on the store $S (mounted at $M, data in $D), an
# appendable COMPLIANCE object bkt/log of $SIZE bytes; an append of $ADD
# bytes ($D/k) killed after its commit record (a copy of the content file
# and map files in $D/copy), then the next append ($D/n) commits the same
# generation. Sets ino, id and dir (the object's objects/XX). Leaves the
# store unmounted; a failure to mount ends the test.
append_replay_stage() {
	head -c "$SIZE" /dev/urandom >"$D/v1"
	head -c "$ADD" /dev/urandom >"$D/k"
	head -c "$ADD" /dev/urandom >"$D/n"
	cat "$D/v1" "$D/k" >"$D/killed"
	cat "$D/v1" "$D/n" >"$D/committed"

	mount_fg "$S" "$M" || { fail "mount"; done_testing; }
	mkdir "$M/bkt"
	cp "$D/v1" "$M/bkt/log"
	check "wormctl append-only on" "$WORMCTL" append-only on "$M/bkt/log"
	setfattr -n user.worm.retention -v "COMPLIANCE +1d" "$M/bkt/log" 2>/dev/null
	check_eq "locked (COMPLIANCE, appendable)" locked "$(worm_state "$M/bkt/log")"
	umount_fs "$M" || fail "unmount"
	read -r ino id < <("$TAMPER" map "$S/meta" | awk '$6 == "bkt/log" { print $1, $2 }')
	check_match "has a content file" '^[0-9a-f]{32}$' "$id"
	dir=$S/objects/${id:0:2}

	WORMFS_CRASH_AT=map mount_fg "$S" "$M" || { fail "mount with the hook"; done_testing; }
	ap "$M/bkt/log" "$D/k" >/dev/null
	if hook_fired "$M" "$S"; then ok "daemon killed after the append's commit record"
	else fail "daemon killed after the append's commit record"; fi
	mkdir -p "$D/copy"
	cp -p "$dir/$id" "$dir/$id".m? "$D/copy/" 2>/dev/null
	[ -f "$D/copy/$id" ] && ok "copy taken at the kill" || fail "copy taken at the kill"

	mount_fg "$S" "$M" || { fail "remount"; done_testing; }
	check_eq "reads back as committed after the recovery" "OK $SIZE $(sha "$D/v1")" \
		"$(rd "$M/bkt/log" 0 $((SIZE + ADD + 10)))"
	check_eq "the next append commits" OK "$(ap "$M/bkt/log" "$D/n")"
	check_eq "the new append reads back" "OK $((SIZE + ADD)) $(sha "$D/committed")" \
		"$(rd "$M/bkt/log" 0 $((SIZE + ADD + 10)))"
	umount_fs "$M" || fail "unmount"
}
