#!/usr/bin/env bash
# Acceptance 1: every operation x lock state x caller, on a real mount.
#
# Each cell gets a FRESH object B/<state>-<op>-<caller>/f (owner 1000,
# group 4242, mode 0664; the cell directory 0777 without sticky bit, so the
# POSIX permissions allow other users to unlink/rename and only the lock
# can refuse). The cell's operation runs as the caller; the result must be
# exactly the expected one (OK or errno name). After a refusal the cell
# (directory listing, size, mode, owner, mtime, content hash, every xattr)
# must be unchanged; after an allowed change it must have changed.
#
# Callers: O = owner (uid 1000), X = other user (uid 1001, no write
# permission), R = root, B = bypass-group member (uid 1002, supplementary
# group 4242; wormfs.conf: governance_bypass = uid:0, gid:4242).
# The file's group is 4242 with group write so that B can reach the lock
# rules at all: with a 0644 file the kernel (default_permissions) answers
# EACCES to every user.* setxattr of a non-owner before wormfs sees it.
#
# States: M mutable, G GOVERNANCE until T0+30d, C COMPLIANCE until T0+30d,
# H legal hold ON (no retention), E expired (COMPLIANCE retention that
# passed a few seconds after it was set).
. "$(dirname "$0")/lib.sh"
require_binaries

command -v setfattr >/dev/null && command -v python3 >/dev/null ||
	{ fail "setfattr and python3 available"; done_testing; }
# A python3 other uids can execute (a per-user pyenv shim may not be).
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
if grep -q '^# governance_bypass' "$S/wormfs.conf"; then
	sed -i 's/^# governance_bypass = .*/governance_bypass = uid:0, gid:4242/' "$S/wormfs.conf"
else
	printf '\n[wormfs]\ngovernance_bypass = uid:0, gid:4242\n' >>"$S/wormfs.conf"
fi
mount_fg "$S" "$M" -o allow_other || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted with governance_bypass = uid:0, gid:4242"

B=$M/matrix
check_errno "mkdir bucket" OK mkdir "$B"

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
T0=$(date +%s)
D10=$(iso $((T0 + 10 * 86400)))
D30=$(iso $((T0 + 30 * 86400)))
D60=$(iso $((T0 + 60 * 86400)))

# ---------------------------------------------------------------- the table
# op     state  O(owner) X(other) R(root) B(bypass)      rule (design 4-5)
EXPECT=$(cat <<'EOF'
write    M  OK     EACCES OK     OK     # mutable: ordinary file; X lacks write permission (kernel)
write    G  EPERM  EACCES EPERM  EPERM  # sealed: write EPERM for everyone, no bypass
write    C  EPERM  EACCES EPERM  EPERM
write    H  EPERM  EACCES EPERM  EPERM
write    E  EPERM  EACCES EPERM  EPERM  # expired: content stays immutable
otrunc   M  OK     EACCES OK     OK     # open(O_TRUNC)
otrunc   G  EPERM  EACCES EPERM  EPERM  # sealed: open O_TRUNC EPERM
otrunc   C  EPERM  EACCES EPERM  EPERM
otrunc   H  EPERM  EACCES EPERM  EPERM
otrunc   E  EPERM  EACCES EPERM  EPERM
append   M  OK     EACCES OK     OK
append   G  EPERM  EACCES EPERM  EPERM  # sealed: open O_APPEND EPERM
append   C  EPERM  EACCES EPERM  EPERM
append   H  EPERM  EACCES EPERM  EPERM
append   E  EPERM  EACCES EPERM  EPERM
truncate M  OK     EACCES OK     OK
truncate G  EPERM  EACCES EPERM  EPERM  # sealed: truncate EPERM
truncate C  EPERM  EACCES EPERM  EPERM
truncate H  EPERM  EACCES EPERM  EPERM
truncate E  EPERM  EACCES EPERM  EPERM
chmod    M  OK     EPERM  OK     EPERM  # only owner/root may chmod (kernel EPERM)
chmod    G  EPERM  EPERM  EPERM  EPERM  # sealed: chmod EPERM
chmod    C  EPERM  EPERM  EPERM  EPERM
chmod    H  EPERM  EPERM  EPERM  EPERM
chmod    E  EPERM  EPERM  EPERM  EPERM
chown    M  OK     EPERM  OK     EPERM  # owner: no-op chown to itself; root: to 1001
chown    G  EPERM  EPERM  EPERM  EPERM  # sealed: chown EPERM
chown    C  EPERM  EPERM  EPERM  EPERM
chown    H  EPERM  EPERM  EPERM  EPERM
chown    E  EPERM  EPERM  EPERM  EPERM
touch    M  OK     EACCES OK     OK     # utimensat(NULL): owner or writer
touch    G  EPERM  EACCES EPERM  EPERM  # sealed: utimens EPERM
touch    C  EPERM  EACCES EPERM  EPERM
touch    H  EPERM  EACCES EPERM  EPERM
touch    E  EPERM  EACCES EPERM  EPERM
setnote  M  OK     EACCES OK     OK     # setxattr user.note
setnote  G  EPERM  EACCES EPERM  EPERM  # sealed: other user.* xattrs EPERM
setnote  C  EPERM  EACCES EPERM  EPERM
setnote  H  EPERM  EACCES EPERM  EPERM
setnote  E  EPERM  EACCES EPERM  EPERM
rm       M  OK     OK     OK     OK     # dir 0777: anyone may unlink a mutable object
rm       G  EPERM  EPERM  EPERM  EPERM  # locked: unlink EPERM, even root (plain rm)
rm       C  EPERM  EPERM  EPERM  EPERM
rm       H  EPERM  EPERM  EPERM  EPERM  # legal hold blocks deletion, no bypass
rm       E  OK     OK     OK     OK     # expired: may be deleted
mvsrc    M  OK     OK     OK     OK
mvsrc    G  EPERM  EPERM  EPERM  EPERM  # sealed: rename as source EPERM
mvsrc    C  EPERM  EPERM  EPERM  EPERM
mvsrc    H  EPERM  EPERM  EPERM  EPERM
mvsrc    E  EPERM  EPERM  EPERM  EPERM  # expired is still sealed
mvdst    M  OK     OK     OK     OK
mvdst    G  EPERM  EPERM  EPERM  EPERM  # sealed: rename as target EPERM
mvdst    C  EPERM  EPERM  EPERM  EPERM
mvdst    H  EPERM  EPERM  EPERM  EPERM
mvdst    E  EPERM  EPERM  EPERM  EPERM
mvdir    M  OK     OK     OK     OK     # rename of the object's parent directory
mvdir    G  EPERM  EPERM  EPERM  EPERM  # subtree holds a locked object: EPERM
mvdir    C  EPERM  EPERM  EPERM  EPERM
mvdir    H  EPERM  EPERM  EPERM  EPERM
mvdir    E  OK     OK     OK     OK     # expired is not locked
shorten  M  OK     EACCES OK     OK     # no retention in force: writers may set one
shorten  G  EPERM  EACCES OK     OK     # GOVERNANCE shorten: bypass principals only
shorten  C  EPERM  EACCES EPERM  EPERM  # COMPLIANCE: never, root included
shorten  H  OK     EACCES OK     OK     # legal hold does not affect retention changes
shorten  E  OK     EACCES OK     OK     # expired: no retention in force
extend   M  OK     EACCES OK     OK
extend   G  OK     EACCES OK     OK     # extending allowed to writers
extend   C  OK     EACCES OK     OK
extend   H  OK     EACCES OK     OK
extend   E  OK     EACCES OK     OK
remove   M  ENODATA EACCES ENODATA ENODATA # nothing to remove
remove   G  EPERM  EACCES OK     OK     # GOVERNANCE removal: bypass principals only
remove   C  EPERM  EACCES EPERM  EPERM  # COMPLIANCE: never
remove   H  ENODATA EACCES ENODATA ENODATA
remove   E  OK     EACCES OK     OK     # expired: not in force
modeup   M  OK     EACCES OK     OK     # "COMPLIANCE T0+30d"
modeup   G  OK     EACCES OK     OK     # G->C with the same date: allowed
modeup   C  OK     EACCES OK     OK     # same mode, equal date counts as extend
modeup   H  OK     EACCES OK     OK
modeup   E  OK     EACCES OK     OK
modedown M  OK     EACCES OK     OK     # "GOVERNANCE T0+30d"
modedown G  OK     EACCES OK     OK     # same mode and date: an (equal) extend
modedown C  EPERM  EACCES EPERM  EPERM  # C->G: EPERM for everyone
modedown H  OK     EACCES OK     OK
modedown E  OK     EACCES OK     OK
holdoff  M  EPERM  EACCES OK     EPERM  # legal-hold principals only (default uid 0)
holdoff  G  EPERM  EACCES OK     EPERM
holdoff  C  EPERM  EACCES OK     EPERM
holdoff  H  EPERM  EACCES OK     EPERM  # root releases the hold
holdoff  E  EPERM  EACCES OK     EPERM
EOF
)

# Allowed ops that leave the object as it was (no effect check for them).
noop_cell() {
	case "$1" in
	chown-?-O | modedown-G-? | modeup-C-?) return 0 ;;
	esac
	return 1
}

declare -A WANT=()
CELLS=()
while read -r op st o x r b _; do
	[ -n "$op" ] || continue
	WANT[$op-$st-O]=$o WANT[$op-$st-X]=$x WANT[$op-$st-R]=$r WANT[$op-$st-B]=$b
	CELLS+=("$op-$st-O" "$op-$st-X" "$op-$st-R" "$op-$st-B")
done <<<"$EXPECT"
check_eq "expectation table has 18 ops x 5 states x 4 callers" 360 "${#CELLS[@]}"

# ---------------------------------------------------------------- objects
dirs=() files=()
for c in "${CELLS[@]}"; do dirs+=("$B/$c"); done
mkdir "${dirs[@]}" || fail "create cell directories"
for c in "${CELLS[@]}"; do
	printf 'content of %s\n' "$c" >"$B/$c/f" || fail "create $c/f"
	case $c in mvdst-*) printf 'replacement %s\n' "$c" >"$B/$c/src" ;; esac
done
chown -R 1000:4242 "$B" && find "$B" -type f -exec chmod 0664 {} + && find "$B" -type d -exec chmod 0777 {} +
check_eq "cells created: 360 objects" 360 "$(find "$B" -name f | wc -l)"

cells_of() { local c; for c in "${CELLS[@]}"; do case $c in *-"$1"-?) echo "$B/$c/f" ;; esac; done; }
mapfile -t FE < <(cells_of E)
mapfile -t FG < <(cells_of G)
mapfile -t FC < <(cells_of C)
mapfile -t FH < <(cells_of H)

# Expired state first: a retention a few seconds ahead, then wait it out.
TEXP=$(($(date +%s) + 8))
out=$(setfattr -n user.worm.retention -v "COMPLIANCE $(iso $TEXP)" "${FE[@]}" 2>&1)
check_eq "set short COMPLIANCE retention on the 72 expired-state objects" "" "$out"
out=$(setfattr -n user.worm.retention -v "GOVERNANCE $D30" "${FG[@]}" 2>&1)
check_eq "set GOVERNANCE retention on 72 objects" "" "$out"
out=$(setfattr -n user.worm.retention -v "COMPLIANCE $D30" "${FC[@]}" 2>&1)
check_eq "set COMPLIANCE retention on 72 objects" "" "$out"
out=$(setfattr -n user.worm.legal-hold -v ON "${FH[@]}" 2>&1)
check_eq "set legal hold on 72 objects" "" "$out"
while [ "$(date +%s)" -le $((TEXP + 1)) ]; do sleep 0.5; done

state_counts() {
	local f
	for f in "$@"; do h getxattr "$f" user.worm.state; echo; done | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' '
}
check_eq "expired-state objects read as expired" "expired=72 " "$(state_counts "${FE[@]}")"
check_eq "GOVERNANCE/COMPLIANCE/hold objects read as locked" "locked=216 " "$(state_counts "${FG[@]}" "${FC[@]}" "${FH[@]}")"
check_eq "mutable objects read as mutable" "mutable=72 " "$(state_counts $(cells_of M))"

# ---------------------------------------------------------------- snapshot
# One line per cell: listing + per-file size, mode, owner, mtime, sha256,
# every xattr (including user.worm.state by name).
fingerprint() {
	python3 - "$B" "${CELLS[@]}" <<'PY'
import hashlib, os, sys
base = sys.argv[1]
for c in sys.argv[2:]:
    d = os.path.join(base, c)
    try:
        names = sorted(os.listdir(d))
    except OSError as e:
        print(c, "DIR-" + (os.strerror(e.errno) or "?").replace(" ", "_"))
        continue
    parts = [",".join(names)]
    for n in names:
        p = os.path.join(d, n)
        st = os.lstat(p)
        try:
            with open(p, "rb") as fh:
                h = hashlib.sha256(fh.read()).hexdigest()[:16]
        except OSError as e:
            h = "read-errno-%d" % e.errno
        xs = []
        for x in sorted(os.listxattr(p)) + ["user.worm.state"]:
            try:
                xs.append(x + "=" + os.getxattr(p, x).decode(errors="replace"))
            except OSError as e:
                xs.append(x + "=errno-%d" % e.errno)
        parts.append("%s:%d:%o:%d:%d:%d:%s:%s" % (n, st.st_size, st.st_mode, st.st_uid,
                     st.st_gid, st.st_mtime_ns, h, "|".join(xs)))
    print(c, " ".join(parts).replace(" ", ";"))
PY
}
declare -A FP0=() FP1=()
while read -r c v; do FP0[$c]=$v; done < <(fingerprint)

# ---------------------------------------------------------------- run
run_as() {
	case $1 in
	O) shift; setpriv --reuid=1000 --regid=1000 --clear-groups -- "$@" ;;
	X) shift; setpriv --reuid=1001 --regid=1001 --clear-groups -- "$@" ;;
	B) shift; setpriv --reuid=1002 --regid=1002 --groups=4242 -- "$@" ;;
	R) shift; "$@" ;;
	esac
}
PYTOUCH='import errno, os, sys
try:
    os.utime(sys.argv[1])
    print("OK")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))'

run_cell() {
	local c=$1 op=${1%%-*} st who=${1##*-} d=$B/$1 f=$B/$1/f mode
	st=${c#*-}; st=${st%-*}
	# The retention mode the "shorten"/"extend" values keep: the object's.
	case $st in G) mode=GOVERNANCE ;; C | E) mode=COMPLIANCE ;; *) mode=GOVERNANCE ;; esac
	case $op in
	write) run_as "$who" "$HARNESS" pwrite "$f" 0 Z ;;
	otrunc) run_as "$who" "$HARNESS" open "$f" WRONLY,TRUNC ;;
	append) run_as "$who" "$HARNESS" append "$f" ZZ ;;
	truncate) run_as "$who" "$HARNESS" truncate "$f" 1 ;;
	chmod) run_as "$who" "$HARNESS" chmod "$f" 0600 ;;
	chown)
		case $who in
		O) run_as O "$HARNESS" chown "$f" 1000 4242 ;;
		R) "$HARNESS" chown "$f" 1001 4242 ;;
		X) run_as X "$HARNESS" chown "$f" 1001 4242 ;;
		B) run_as B "$HARNESS" chown "$f" 1002 4242 ;;
		esac ;;
	touch) run_as "$who" "$PY" -c "$PYTOUCH" "$f" ;;
	setnote) run_as "$who" "$HARNESS" setxattr "$f" user.note hello ;;
	rm) run_as "$who" "$HARNESS" unlink "$f" ;;
	mvsrc) run_as "$who" "$HARNESS" rename "$f" "$d/moved" ;;
	mvdst) run_as "$who" "$HARNESS" rename "$d/src" "$f" ;;
	mvdir) run_as "$who" "$HARNESS" rename "$d" "$d.renamed" ;;
	shorten) run_as "$who" "$HARNESS" setxattr "$f" user.worm.retention "$mode $D10" ;;
	extend) run_as "$who" "$HARNESS" setxattr "$f" user.worm.retention "$mode $D60" ;;
	remove) run_as "$who" "$HARNESS" removexattr "$f" user.worm.retention ;;
	modeup) run_as "$who" "$HARNESS" setxattr "$f" user.worm.retention "COMPLIANCE $D30" ;;
	modedown) run_as "$who" "$HARNESS" setxattr "$f" user.worm.retention "GOVERNANCE $D30" ;;
	holdoff) run_as "$who" "$HARNESS" setxattr "$f" user.worm.legal-hold OFF ;;
	esac
}

START=$(date +%s)
declare -A GOT=()
for c in "${CELLS[@]}"; do
	GOT[$c]=$(run_cell "$c" 2>&1 | head -n 3 | tr '\n' ' ' | sed 's/ $//')
done
check_match "360 operations ran in under 120 s" '^([0-9]|[0-9][0-9]|1[01][0-9])$' "$(($(date +%s) - START))"
check_eq "daemon still serves the mount" OK "$(h access "$M/matrix" f)"
while read -r c v; do FP1[$c]=$v; done < <(fingerprint)

# ---------------------------------------------------------------- verdicts
pass=0 unexpected_allow=0 wrong=0 changed_after_refusal=0 no_effect=0
for c in "${CELLS[@]}"; do
	want=${WANT[$c]} got=${GOT[$c]}
	if [ "$got" = "$want" ]; then
		ok "$c: $want"
		pass=$((pass + 1))
	else
		fail "$c: expected $want" "got: $got"
		wrong=$((wrong + 1))
		[ "$got" = OK ] && unexpected_allow=$((unexpected_allow + 1))
	fi
	if [ "$got" != OK ]; then
		# A refusal (expected or not) must leave the object untouched. A
		# renamed-away cell would show as DIR-No_such_file_or_directory.
		if [ "${FP0[$c]}" = "${FP1[$c]}" ]; then
			ok "$c: refused, nothing changed"
		else
			fail "$c: refused, nothing changed" "before: ${FP0[$c]}" "after:  ${FP1[$c]}"
			changed_after_refusal=$((changed_after_refusal + 1))
		fi
	elif ! noop_cell "$c"; then
		# An allowed change must really have happened (no silent success).
		if [ "${FP0[$c]}" != "${FP1[$c]}" ]; then
			ok "$c: allowed, took effect"
		else
			fail "$c: allowed, took effect" "before: ${FP0[$c]}" "after:  ${FP1[$c]}"
			no_effect=$((no_effect + 1))
		fi
	fi
done

diag "lock matrix: ${#CELLS[@]} cells, $pass as expected, $wrong wrong," \
	"$unexpected_allow unexpected allows, $changed_after_refusal changed after refusal," \
	"$no_effect allowed without effect"
check_eq "unexpected allows (refusal expected, operation succeeded)" 0 "$unexpected_allow"
check_eq "objects changed by a refused operation" 0 "$changed_after_refusal"

# ---- a bypass principal without write permission on the object
# Documented limitation (README, "Decisions"): wormfs mounts with
# default_permissions, so the kernel checks mode bits before any user.*
# xattr change reaches the daemon. A bypass principal therefore needs write
# permission on the object (e.g. group-writable objects of the bypass
# group), or acts as root. Here the file is 0644, group 1000: EACCES from
# the kernel, and the retention is unchanged.
P=$B/nowrite
mkdir -m 0777 "$P" && printf 'x\n' >"$P/f" && chown 1000:1000 "$P/f" && chmod 0644 "$P/f"
check_errno "nowrite: GOVERNANCE $D30" OK setxattr "$P/f" user.worm.retention "GOVERNANCE $D30"
check_eq "nowrite: bypass member without write permission shortens: EACCES (kernel)" EACCES \
	"$(run_as B "$HARNESS" setxattr "$P/f" user.worm.retention "GOVERNANCE $D10")"
check_eq "nowrite: bypass member without write permission removes: EACCES (kernel)" EACCES \
	"$(run_as B "$HARNESS" removexattr "$P/f" user.worm.retention)"
check_eq "nowrite: retention unchanged after the refusals" "GOVERNANCE $D30" \
	"$(getfattr --only-values -n user.worm.retention "$P/f" 2>/dev/null)"
check_eq "nowrite: other user (no bypass) removes: refused" EPERM_or_EACCES \
	"$(r=$(run_as X "$HARNESS" removexattr "$P/f" user.worm.retention); case $r in EPERM | EACCES | ENODATA) echo EPERM_or_EACCES ;; *) echo "$r" ;; esac)"

# ---- who may set or extend a retention (design 5, like chmod)
# Files 0666 of uid 1000: every caller has write permission, so the kernel
# lets each request through and only the ownership rule decides. X (uid
# 1001: neither owner, root nor bypass) gets EPERM; O, R and B may.
P=$B/owner-rule
mkdir -m 0777 "$P"
for w in X O R B; do printf 'x\n' >"$P/$w"; printf 'y\n' >"$P/ext-$w"; done
chown 1000:1000 "$P"/* && chmod 0666 "$P"/*
check_eq "owner-rule: other user with write permission sets a retention: EPERM" EPERM \
	"$(run_as X "$HARNESS" setxattr "$P/X" user.worm.retention "GOVERNANCE $D30")"
check_eq "owner-rule: the refused object stays mutable" mutable "$(h getxattr "$P/X" user.worm.state)"
for w in O R B; do
	check_eq "owner-rule: $w sets a retention" OK \
		"$(run_as $w "$HARNESS" setxattr "$P/$w" user.worm.retention "GOVERNANCE $D30")"
done
for w in X O R B; do
	check_errno "owner-rule: ext-$w locked GOVERNANCE $D30 by root" OK setxattr "$P/ext-$w" user.worm.retention "GOVERNANCE $D30"
done
check_eq "owner-rule: other user with write permission extends: EPERM" EPERM \
	"$(run_as X "$HARNESS" setxattr "$P/ext-X" user.worm.retention "GOVERNANCE $D60")"
check_eq "owner-rule: retention unchanged after the refusal" "GOVERNANCE $D30" \
	"$(getfattr --only-values -n user.worm.retention "$P/ext-X" 2>/dev/null)"
for w in O R B; do
	check_eq "owner-rule: $w extends" OK \
		"$(run_as $w "$HARNESS" setxattr "$P/ext-$w" user.worm.retention "COMPLIANCE $D60")"
done

umount_check "$M" "matrix mount"
done_testing
