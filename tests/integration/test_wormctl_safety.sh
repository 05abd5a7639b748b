#!/usr/bin/env bash
# wormctl hardening (issue 10, item 14):
# F3  rm --bypass-governance, retention set and legal-hold act only inside a
#     wormfs mount: a host symlink into the mount, a host file, a file on
#     another FUSE file system (also one imitating .wormfs/version) and a
#     symlink in the mount pointing out are refused; nothing changes.
# F4  ls --json stays valid JSON for names that are not UTF-8 (U+FFFD plus
#     path_b64 with the exact bytes), through the mount and on the store.
# F5  ls text output escapes newlines, escape bytes and non-UTF-8 bytes, so
#     a name cannot forge a line; so do all other lines and error messages
#     that show a path (a glob over user names, a typed path).
# F3 also: a FUSE fs not mounted as fuse.wormfs is refused even when its
#     .wormfs/version reads back exactly like wormfs's.
# F9  bucket lock says why it got EPERM: bucket-owner-only vs locked; and
#     that a path is not a bucket (instead of "needs a default retention").
. "$(dirname "$0")/lib.sh"
require_binaries

command -v python3 >/dev/null && command -v getfattr >/dev/null ||
	{ fail "python3 and getfattr available"; done_testing; }

S=$T_BASE/store M=$T_BASE/mnt H=$T_BASE/host
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" -o allow_other || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted"
mkdir -p "$H"
B=$M/bkt
check_errno "bucket" OK mkdir "$B"

# wc RC-VAR OUT-VAR ERR-VAR ARGS...: run wormctl, keep status and output.
wc_run() {
	WOUT=$("$WORMCTL" "$@" 2>"$T_BASE/wc.err")
	WRC=$?
	WERR=$(cat "$T_BASE/wc.err")
}
xattr_of() { getfattr -h --only-values -n "$2" "$1" 2>/dev/null; }

# ---- F3: only inside a wormfs mount
check_errno "governance object" OK write "$B/g" data
check_errno "lock it GOVERNANCE" OK setxattr "$B/g" user.worm.retention "GOVERNANCE +1d"
check_errno "mutable object" OK write "$B/m" data
ln -s "$B/g" "$H/link"
ln -s "$B/m" "$H/link-m"
echo host >"$H/file"

wc_run rm --bypass-governance "$H/link"
check_eq "rm of a host symlink into the mount: exit 1" 1 "$WRC"
check_match "... says not on a wormfs mount" "not on a wormfs mount" "$WERR"
check "... the host symlink is still there" test -L "$H/link"
check "... the object it points to is still there" test -f "$B/g"
check_eq "... and still locked" locked "$(h getxattr "$B/g" user.worm.state)"

wc_run rm --bypass-governance "$H/file"
check_eq "rm of a host file: exit 1" 1 "$WRC"
check "... the host file is still there" test -f "$H/file"

wc_run retention set "$H/link-m" GOVERNANCE +1d
check_eq "retention set through a host symlink into the mount: exit 1" 1 "$WRC"
check_eq "... the object stays mutable" mutable "$(h getxattr "$B/m" user.worm.state)"
wc_run legal-hold on "$H/link-m"
check_eq "legal-hold on through a host symlink: exit 1" 1 "$WRC"
check_eq "... the object stays mutable" mutable "$(h getxattr "$B/m" user.worm.state)"
wc_run retention set "$H/file" GOVERNANCE +1d
check_eq "retention set on a host file: exit 1" 1 "$WRC"
check_eq "... no attribute written to it" "" "$(xattr_of "$H/file" user.worm.retention)"
wc_run legal-hold on "$H/file"
check_eq "legal-hold on on a host file: exit 1" 1 "$WRC"
check_eq "... no attribute written to it" "" "$(xattr_of "$H/file" user.worm.legal-hold)"
wc_run retention get "$H/link"
check_eq "retention get through a host symlink: exit 1" 1 "$WRC"

# A symlink in the mount pointing out of it.
ln -s "$H/file" "$B/out" 2>/dev/null
check "symlink in the mount to a host file" test -L "$B/out"
wc_run retention set "$B/out" GOVERNANCE +1d
check_eq "retention set on a symlink in the mount: exit 1" 1 "$WRC"
check_match "... says it is a symbolic link" "symbolic link" "$WERR"
check_eq "... the host file got no attribute" "" "$(xattr_of "$H/file" user.worm.retention)"
wc_run legal-hold on "$B/out"
check_eq "legal-hold on on a symlink in the mount: exit 1" 1 "$WRC"
check_eq "... the host file got no attribute" "" "$(xattr_of "$H/file" user.worm.legal-hold)"
wc_run rm --bypass-governance "$B/out"
check_eq "rm of a symlink in the mount deletes the link itself" "0" "$WRC"
check "... not the host file it pointed to" test -f "$H/file"

# Another FUSE file system (fusefloor: in memory, not wormfs).
FLOOR=$BUILD/fusefloor
if [ -x "$FLOOR" ]; then
	F=$T_BASE/floor
	mkdir -p "$F"
	_register_mount "$F"
	if "$FLOOR" "$F" && _mount_wait "$F"; then
		echo x >"$F/x"
		wc_run rm --bypass-governance "$F/x"
		check_eq "rm on another FUSE file system: exit 1" 1 "$WRC"
		check_match "... says not on a wormfs mount" "not on a wormfs mount" "$WERR"
		check "... the file is still there" test -e "$F/x"
		ln -s "$B/m" "$F/l"
		wc_run retention set "$F/l" GOVERNANCE +1d
		check_eq "retention set through a symlink on another FUSE fs: exit 1" 1 "$WRC"
		check_eq "... the object stays mutable" mutable "$(h getxattr "$B/m" user.worm.state)"
		# fusefloor reads back zeros, so this fake marker fails the
		# content check too; the one below reads back right.
		mkdir "$F/.wormfs" && echo "wormfs 0.1.0" >"$F/.wormfs/version"
		wc_run rm --bypass-governance "$F/x"
		check_eq "rm on a FUSE fs with a fake .wormfs/version: exit 1" 1 "$WRC"
		check "... the file is still there" test -e "$F/x"
		fusermount3 -u "$F" || fusermount3 -uz "$F"
	else
		fail "fusefloor mounts"
	fi
else
	skip "another FUSE file system" "no $FLOOR"
fi

# A FUSE file system whose .wormfs/version reads back exactly like wormfs's
# (a user can write one to the top of any FUSE fs that stores data: sshfs,
# s3fs, ...) but that is not mounted as fuse.wormfs. Played by a second
# wormfs daemon mounted with another subtype: only the mount type differs.
S2=$T_BASE/store2 M2=$T_BASE/mnt2
if make_store "$S2" && mount_fg "$S2" "$M2" -o allow_other,subtype=notwormfs; then
	check_match "second mount's type is fuse.notwormfs" "fuse\.notwormfs" \
		"$(awk -v m="$M2" '$5 == m' /proc/self/mountinfo)"
	check "... and its .wormfs/version reads like wormfs's" grep -q '^wormfs ' "$M2/.wormfs/version"
	mkdir "$M2/other" && echo x >"$M2/other/x"
	wc_run rm --bypass-governance "$M2/other/x"
	check_eq "rm on a FUSE fs that is not fuse.wormfs but has a real-looking marker: exit 1" 1 "$WRC"
	check_match "... says not on a wormfs mount" "not on a wormfs mount" "$WERR"
	check "... the file is still there" test -e "$M2/other/x"
	wc_run retention set "$M2/other/x" GOVERNANCE +1d
	check_eq "retention set there: exit 1" 1 "$WRC"
	check_eq "... the object stays mutable" mutable "$(h getxattr "$M2/other/x" user.worm.state)"
	wc_run legal-hold on "$M2/other/x"
	check_eq "legal-hold on there: exit 1" 1 "$WRC"
	check_eq "... no hold set" "" "$(xattr_of "$M2/other/x" user.worm.legal-hold)"
	umount_check "$M2" "second mount"
else
	fail "second mount with another subtype"
fi

# Still works where it should (also through a host symlink to a directory).
ln -s "$B" "$H/dirlink"
wc_run rm --bypass-governance "$H/dirlink/g"
check_eq "rm --bypass-governance of the object in the mount: exit 0" "0 " "$WRC $WERR"
check "... it is gone" test ! -e "$B/g"
wc_run retention set "$B/m" GOVERNANCE +1d
check_eq "retention set in the mount: exit 0" "0 " "$WRC $WERR"

# ---- F4/F5: names that are not UTF-8 or hold control characters
python3 - "$B" <<'EOF' || fail "creating odd names"
import os, sys
b = os.fsencode(sys.argv[1])
names = [b"bad\xff\xfename", b"evil\nCOMPLIANCE 2099-01-01T00:00:00Z OFF locked FORGED",
         b"esc\x1b[31mred", b"back\\slash", "ok-\u00e9".encode(),
         b"bidi\xe2\x80\xaetxt", b"csi\xc2\x9b2J", b"over\xc0\xaflong"]
for n in names:
    p = b + b"/" + n
    with open(p, "wb") as f:
        f.write(b"x")
    os.setxattr(p, "user.worm.retention", b"GOVERNANCE +1d")
EOF
# Expected: the locked objects are m plus the eight above.
NL=9

check_json() {   # check_json DESC FILE PREFIX
	python3 - "$2" "$3" <<'EOF'
import base64, json, os, sys
data = json.load(open(sys.argv[1], encoding="utf-8", errors="strict"))
prefix = os.fsencode(sys.argv[2])
want = {b"m", b"bad\xff\xfename", b"evil\nCOMPLIANCE 2099-01-01T00:00:00Z OFF locked FORGED",
        b"esc\x1b[31mred", b"back\\slash", "ok-\u00e9".encode(),
        b"bidi\xe2\x80\xaetxt", b"csi\xc2\x9b2J", b"over\xc0\xaflong"}
got = set()
for e in data:
    if "path_b64" in e:
        raw = base64.b64decode(e["path_b64"])
        assert "\ufffd" in e["path"], e
        assert raw.decode("utf-8", "replace") == e["path"], e
    else:
        raw = e["path"].encode("utf-8")
    rel = raw[len(prefix):].lstrip(b"/") if raw.startswith(prefix) else raw
    got.add(rel)
    if rel not in (b"bad\xff\xfename", b"over\xc0\xaflong"):
        assert "path_b64" not in e, e
assert got == want, (got ^ want)
EOF
}
wc_run ls --locked --json "$B"
printf '%s' "$WOUT" >"$T_BASE/ls.json"
check_eq "ls --locked --json MNT/bucket: exit 0" "0 " "$WRC $WERR"
out=$(check_json x "$T_BASE/ls.json" "$B" 2>&1)
check_eq "mount JSON is valid UTF-8 JSON; path_b64 gives the exact bytes" "" "$out"
wc_run ls --locked --json "$S"
printf '%s' "$WOUT" >"$T_BASE/ls-store.json"
check_eq "ls --locked --json STORE: exit 0" "0 " "$WRC $WERR"
out=$(check_json x "$T_BASE/ls-store.json" "bkt" 2>&1)
check_eq "store JSON is valid UTF-8 JSON; path_b64 gives the exact bytes" "" "$out"

for target in "$B" "$S"; do
	"$WORMCTL" ls --locked "$target" >"$T_BASE/ls.txt" 2>"$T_BASE/wc.err"
	check_eq "ls --locked $(basename "$target") (text): exit 0" 0 "$?"
	check_eq "... one line per locked object" "$NL" "$(wc -l <"$T_BASE/ls.txt")"
	check_eq "... no forged line" 0 "$(grep -c '^COMPLIANCE 2099' "$T_BASE/ls.txt")"
	check_eq "... no raw escape byte" 0 "$(grep -c $'\x1b' "$T_BASE/ls.txt")"
	check_eq "... no invalid UTF-8" "" "$(iconv -f UTF-8 -t UTF-8 "$T_BASE/ls.txt" 2>&1 >/dev/null)"
	check_match "... newline shown as \\n" 'evil\\nCOMPLIANCE 2099' "$(cat "$T_BASE/ls.txt")"
	check_match "... ESC shown as \\033" 'esc\\033\[31mred' "$(cat "$T_BASE/ls.txt")"
	check_match "... bad bytes as octal" 'bad\\377\\376name' "$(cat "$T_BASE/ls.txt")"
	check_match "... backslash doubled" 'back\\\\slash' "$(cat "$T_BASE/ls.txt")"
	check_match "... bidi override as octal" 'bidi\\342\\200\\256txt' "$(cat "$T_BASE/ls.txt")"
	check_match "... C1 CSI as octal" 'csi\\302\\2332J' "$(cat "$T_BASE/ls.txt")"
	check_match "... overlong UTF-8 as octal" 'over\\300\\257long' "$(cat "$T_BASE/ls.txt")"
	check_match "... valid UTF-8 kept" "ok-$(printf '\303\251')" "$(cat "$T_BASE/ls.txt")"
done

# ---- F5 for every output: paths from the command line (a glob over names
# users chose, or a typed path) are escaped in messages on stdout and stderr.
python3 - "$M/odd" <<'EOF2' || fail "creating odd names to delete"
import os, sys
os.mkdir(sys.argv[1])
for n in [b"x\nwormctl: rm FORGED: legal hold is ON", b"y\x1b]0;title\x07", b"z\xff"]:
    with open(os.path.join(os.fsencode(sys.argv[1]), n), "wb") as f:
        f.write(b"x")
EOF2
wc_run retention set "$M/odd/"y* GOVERNANCE +1d
check_eq "retention set on a name with an OSC sequence: exit 0" 0 "$WRC"
check_eq "... its output line shows it escaped" "$M/odd/y\\033]0;title\\007: GOVERNANCE" \
	"$(printf '%s' "$WOUT" | cut -d' ' -f1-2)"
wc_run rm --bypass-governance "$M/odd/"*
check_eq "rm of three odd names through a glob: exit 0" "0 " "$WRC $WERR"
check_eq "... one output line per step (governance removal, three deletions)" 4 \
	"$(printf '%s\n' "$WOUT" | wc -l)"
check_eq "... no forged line" 0 "$(printf '%s\n' "$WOUT" | grep -c '^wormctl: rm FORGED')"
check_eq "... no raw control byte" 0 "$(printf '%s' "$WOUT" | LC_ALL=C grep -c $'[\x07\x1b]')"
check_eq "... no invalid UTF-8" "" "$(printf '%s' "$WOUT" | iconv -f UTF-8 -t UTF-8 2>&1 >/dev/null)"
check_match "... newline shown as \\n" 'x\\nwormctl: rm FORGED: legal hold is ON: deleted' "$WOUT"
wc_run rm --bypass-governance "$M/odd/gone"$'\n'"wormctl: rm $M/bkt/m: legal hold is ON"$'\e[2K'
check_eq "rm of a missing path with a newline and an escape: exit 1" 1 "$WRC"
check_eq "... the error is one line" 1 "$(printf '%s\n' "$WERR" | wc -l)"
check_eq "... with no raw escape byte" 0 "$(printf '%s' "$WERR" | grep -c $'\x1b')"
check_match "... and the path escaped" 'gone\\nwormctl: rm .*\\033\[2K: No such file' "$WERR"

# verify --json names the store: valid JSON also for a store path that is
# not UTF-8.
S3=$T_BASE/$'st\xffre'
if make_store "$S3"; then
	wc_run verify --json "$S3"
	check_eq "verify --json on a store whose path is not UTF-8: exit 0" 0 "$WRC"
	out=$(printf '%s' "$WOUT" | python3 -c '
import base64, json, sys
j = json.loads(sys.stdin.buffer.read().decode("utf-8", "strict"))
assert base64.b64decode(j["store_b64"]).endswith(b"/st\xffre"), j' 2>&1)
	check_eq "... valid UTF-8 JSON; store_b64 holds the exact path" "" "$out"
else
	fail "wormctl init on a non-UTF-8 path"
fi

# ---- F9: the reason for EPERM on a bucket lock step
check_errno "team bucket" OK mkdir "$M/team"
chmod 0777 "$M/team"
check_errno "root sets its default" OK setxattr "$M/team" user.worm.default-retention "GOVERNANCE 1d"
WOUT=$(as_user "$WORMCTL" bucket lock "$M/team" 2>"$T_BASE/wc.err"); WRC=$?; WERR=$(cat "$T_BASE/wc.err")
check_eq "non-owner starts a bucket lock: exit 1" 1 "$WRC"
check_match "... told only the owner or root may" "only the bucket's owner \(uid 0\) or root" "$WERR"
check_eq "... not told the bucket is locked" 0 "$(printf '%s' "$WERR" | grep -c 'is locked')"
# Not a bucket: said so (the daemon's EINVAL would read as a missing
# default retention).
mkdir "$M/team/sub" && echo x >"$M/team/file"
for p in "$M/team/sub" "$M/team/file" "$M"; do
	wc_run bucket lock "$p"
	check_eq "bucket lock on ${p#$T_BASE/} (not a bucket): exit 1" 1 "$WRC"
	check_match "... told it is not a bucket" "not a bucket" "$WERR"
done
wc_run bucket lock "$M/team"
check_eq "root starts it" 0 "$WRC"
id=$(printf '%s\n' "$WOUT" | sed -n 's/^lock-id: //p')
WOUT=$(as_user "$WORMCTL" bucket lock "$M/team" --complete "$id" 2>"$T_BASE/wc.err"); WRC=$?; WERR=$(cat "$T_BASE/wc.err")
check_eq "non-owner completes it: exit 1" 1 "$WRC"
check_match "... told only the owner or root may" "only the bucket's owner" "$WERR"
WOUT=$(as_user "$WORMCTL" bucket lock "$M/team" --abort 2>"$T_BASE/wc.err"); WRC=$?; WERR=$(cat "$T_BASE/wc.err")
check_eq "non-owner aborts it: exit 1" 1 "$WRC"
check_match "... told only the owner or root may" "only the bucket's owner" "$WERR"
wc_run bucket lock "$M/team" --complete "$id"
check_eq "root completes it" 0 "$WRC"
wc_run bucket lock "$M/team"
check_eq "root starts a lock on the locked bucket: exit 1" 1 "$WRC"
check_match "... told the bucket is locked" "the bucket is locked" "$WERR"
wc_run bucket lock "$M/team" --abort
check_eq "root aborts on the locked bucket: exit 1" 1 "$WRC"
check_match "... told the bucket is locked" "the bucket is locked" "$WERR"

umount_check "$M" "mount"
done_testing
