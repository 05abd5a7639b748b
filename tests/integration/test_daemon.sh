#!/usr/bin/env bash
# Daemon hardening (issue 10, items 7, 13, 14/F8): mount options built from
# the store path, long -o lists, max_read, long wormfs.conf lines, log
# fields a file name cannot forge, no core dumps, passphrase file checks.
. "$(dirname "$0")/lib.sh"
require_binaries

# mount_line MNT: the /proc/mounts line of MNT.
mount_line() {
	awk -v m="$1" '$2 == m' /proc/mounts
}

# ---------------------------------------------------------------- fsname
# A comma in the store path must not add mount options through fsname=.
S=$T_BASE/s,allow_other
M=$T_BASE/m1
make_store "$S"
if mount_fg "$S" "$M"; then
	line=$(mount_line "$M")
	check_eq "store path with ',allow_other': fsname is the whole path" \
		"wormfs:$S" "$(echo "$line" | awk '{print $1}')"
	check_match "store path with ',allow_other': no allow_other option" \
		'^[^ ]+ [^ ]+ [^ ]+ [^ ]+ [0-9]+ [0-9]+$' "$line"
	if echo "$line" | awk '{print $4}' | tr , '\n' | grep -qx allow_other; then
		fail "store path with ',allow_other': allow_other not injected" "$line"
	else
		ok "store path with ',allow_other': allow_other not injected"
	fi
	umount_check "$M" "comma store path"
fi
# A backslash too (libfuse's escape character), before a comma.
S2=$T_BASE/b\\,allow_other
M2=$T_BASE/m2
make_store "$S2"
if mount_fg "$S2" "$M2"; then
	line=$(mount_line "$M2")
	check_eq "store path with a backslash: fsname is the whole path (\\\\134 in /proc/mounts)" \
		"wormfs:$T_BASE/b\\134,allow_other" "$(echo "$line" | awk '{print $1}')"
	if echo "$line" | awk '{print $4}' | tr , '\n' | grep -qx allow_other; then
		fail "store path with a backslash: allow_other not injected" "$line"
	else
		ok "store path with a backslash: allow_other not injected"
	fi
	umount_check "$M2" "backslash store path"
fi

# ---------------------------------------------------------------- -o lists
# Over 4 KiB of options: accepted (repeats kept once), the mount works.
S3=$T_BASE/s3 M3=$T_BASE/m3
make_store "$S3"
long=$(printf 'noatime,%.0s' $(seq 1 700))allow_other,$(printf 'allow_other,%.0s' $(seq 1 300))max_threads=4
check_match "the -o list is over 4 KiB" '^[0-9]{4,}$' "${#long}"
mkdir -p "$M3"
_register_mount "$M3"
timeout 30 "$WORMFS" "$S3" "$M3" -o "$long" >"$T_BASE/long.log" 2>&1 </dev/null
rc=$?
if [ $rc -eq 0 ] && _mount_wait "$M3"; then
	MNT_PID[$M3]=$(daemon_pid "$S3" "$M3")
	ok "a ${#long}-character -o list mounts"
	check_eq "allow_other given 301 times appears once" 1 \
		"$(mount_line "$M3" | awk '{print $4}' | tr , '\n' | grep -cx allow_other)"
	check "the mount serves" mkdir "$M3/bucket"
	umount_check "$M3" "long -o list"
else
	fail "a ${#long}-character -o list mounts" "exit status $rc" "$(cat "$T_BASE/long.log")"
fi
# A comma escaped with a backslash keeps a principal list in one option.
if mount_bg "$S3" "$M3" -o 'allow_other,legal_hold=uid:0\,uid:'"$TEST_UID"; then
	ok "-o legal_hold=uid:0\\,uid:$TEST_UID is one option"
	h write "$M3/bucket/held" data >/dev/null
	chmod 666 "$M3/bucket/held"
	check_errno_as_user "uid $TEST_UID (second in the escaped -o list) sets a legal hold" OK \
		setxattr "$M3/bucket/held" user.worm.legal-hold ON
	check_errno "root lifts it again" OK setxattr "$M3/bucket/held" user.worm.legal-hold OFF
	umount_check "$M3" "escaped comma in -o"
else
	fail "-o legal_hold=uid:0\\,uid:$TEST_UID is one option" "$(cat "${MNT_LOG[$M3]}")"
fi

# ---------------------------------------------------------------- max_read
# A bad max_read fails before anything is mounted or announced.
M4=$T_BASE/m4
mkdir -p "$M4"
_register_mount "$M4"
timeout 20 "$WORMFS" "$S3" "$M4" -f -o max_read=1 >"$T_BASE/mr.out" 2>"$T_BASE/mr.err" </dev/null
check_eq "-o max_read=1: exit status 1" 1 "$?"
check_eq "-o max_read=1: the error" \
	"wormfs: -o max_read=1: bad value (allowed: an integer 4096..1048576)" "$(cat "$T_BASE/mr.err")"
if is_mounted "$M4"; then fail "-o max_read=1: nothing mounted"; umount_fs "$M4"; else ok "-o max_read=1: nothing mounted"; fi
timeout 20 "$WORMFS" "$S3" "$M4" -f -o max_read=4k >/dev/null 2>"$T_BASE/mr.err" </dev/null
check_eq "-o max_read=4k: the error" \
	"wormfs: -o max_read=4k: bad value (allowed: an integer 4096..1048576)" "$(cat "$T_BASE/mr.err")"
# A good one mounts and reads.
if mount_fg "$S3" "$M4" -o max_read=8192; then
	check_match "-o max_read=8192 reaches the kernel" 'max_read=8192' "$(mount_line "$M4")"
	head -c 300000 /dev/urandom >"$T_BASE/big"
	cp "$T_BASE/big" "$M4/bucket/big"
	check "-o max_read=8192: a 300 kB file reads back" cmp "$T_BASE/big" "$M4/bucket/big"
	umount_check "$M4" "max_read=8192"
fi

# ---------------------------------------------------------------- wormfs.conf lines
# A principal list over 4 KiB on one line (the packaged inih alone stops
# near 200 characters). The principal that matters comes last.
S5=$T_BASE/s5 M5=$T_BASE/m5
make_store "$S5"
list=""
for i in $(seq 1 31); do list+="uid:$((20000 + i)) ,   gid:$((30000 + i)) ,   "; done
while [ ${#list} -lt 4200 ]; do list+="uid:20001 ,   "; done
list+="uid:$TEST_UID"
sed -i "s/^\[wormfs\]\$/[wormfs]\nlegal_hold = $list\nmax_threads = 3/" "$S5/wormfs.conf"
check_match "the legal_hold line is over 4 KiB" '^[0-9]{4,}$' "$(grep '^legal_hold' "$S5/wormfs.conf" | wc -c)"
if mount_fg "$S5" "$M5" -o allow_other; then
	ok "a store with a 4 KiB wormfs.conf line mounts"
	mkdir "$M5/bucket" && h write "$M5/bucket/f" data >/dev/null && chmod 666 "$M5/bucket/f"
	check_errno_as_user "uid $TEST_UID, last on the 4 KiB line, sets a legal hold" OK \
		setxattr "$M5/bucket/f" user.worm.legal-hold ON
	check_errno "root, not on the list, may not lift it" EPERM \
		setxattr "$M5/bucket/f" user.worm.legal-hold OFF
	check_errno_as_user "uid $TEST_UID lifts it" OK setxattr "$M5/bucket/f" user.worm.legal-hold OFF
	umount_check "$M5" "4 KiB config line"
else
	fail "a store with a 4 KiB wormfs.conf line mounts" "$(cat "${MNT_LOG[$M5]}")"
fi

# ---------------------------------------------------------------- log fields
# A file name cannot forge key=value pairs or lines in the refusal log.
S6=$T_BASE/s6 M6=$T_BASE/m6
make_store "$S6"
if mount_fg "$S6" "$M6" -o allow_other; then
	mkdir "$M6/bkt" && chmod 777 "$M6/bkt"
	forged='x uid=0 rule=none'
	nl=$'n\nwormfs: refused op=fake path=- uid=0 errno=EPERM rule=forged'
	for f in "$forged" "$nl"; do
		h write "$M6/bkt/$f" data >/dev/null
		h setxattr "$M6/bkt/$f" user.worm.retention "COMPLIANCE +1d" >/dev/null
		check_errno_as_user "unlink of a locked object is refused" EPERM unlink "$M6/bkt/$f"
	done
	check_errno "setxattr on the locked object is refused" EPERM \
		setxattr "$M6/bkt/$forged" "user.a b=c" v
	sleep 0.5
	log=$(cat "${MNT_LOG[$M6]}")
	# The rule names belong to the policy; only their shape is checked.
	check_refusal() {
		local desc=$1 want=$2 got=$3
		check_eq "$desc" "$want rule=RULE" "$(sed -E 's/ rule=[a-z-]+$/ rule=RULE/' <<<"$got")"
	}
	check_refusal "refusal line: the name with blanks and = is one quoted field" \
		"wormfs: refused op=unlink path=\"/bkt/x uid=0 rule=none\" uid=$TEST_UID errno=EPERM" \
		"$(grep -F 'op=unlink path="/bkt/x ' <<<"$log")"
	check_refusal "refusal line: the name with a newline stays on one line" \
		"wormfs: refused op=unlink path=\"/bkt/n\\nwormfs: refused op=fake path=- uid=0 errno=EPERM rule=forged\" uid=$TEST_UID errno=EPERM" \
		"$(grep -F 'op=unlink path="/bkt/n' <<<"$log")"
	check_eq "no forged line" "" "$(grep -E '^wormfs: refused op=fake' <<<"$log")"
	check_refusal "refusal line: the attribute name is its own quoted field" \
		"wormfs: refused op=setxattr path=\"/bkt/x uid=0 rule=none\" attr=\"user.a b=c\" uid=0 errno=EPERM" \
		"$(grep -F 'op=setxattr path="/bkt/x ' <<<"$log")"
	check_eq "lock change line: the path is one quoted field" 1 \
		"$(grep -cF 'lock change op=set path="/bkt/x uid=0 rule=none" attr=user.worm.retention uid=0 ' <<<"$log")"
	check_eq "lock change line: the value is quoted" 1 \
		"$(grep -F 'lock change op=set path="/bkt/x uid=0 rule=none"' <<<"$log" | grep -cF 'value="COMPLIANCE +1d"')"
	check_eq "lock change line: a name with a newline stays on one line" 1 \
		"$(grep -cF 'lock change op=set path="/bkt/n\nwormfs: refused op=fake' <<<"$log")"
	umount_check "$M6" "log fields"
fi

# ---------------------------------------------------------------- core dumps
# The daemon is not dumpable and has no core limit. Dumpability shows in
# the owner of /proc/PID/status when the daemon does not run as root: run
# it as TEST_UID with just the capabilities a mount needs.
S7=$T_BASE/u/s7 M7=$T_BASE/u/m7
mkdir -p "$T_BASE/u" "$M7" && chown "$TEST_UID:$TEST_UID" "$T_BASE/u" "$M7"
if as_user "$WORMCTL" init "$S7" >/dev/null 2>&1; then
	_register_mount "$M7"
	(ulimit -S -c unlimited 2>/dev/null
	 exec setpriv --reuid="$TEST_UID" --regid="$TEST_UID" --clear-groups \
		--inh-caps=+sys_admin,+dac_override --ambient-caps=+sys_admin,+dac_override \
		timeout 30 "$WORMFS" "$S7" "$M7" -o allow_other) >"$T_BASE/u.log" 2>&1 </dev/null
	rc=$?
	if [ $rc -eq 0 ] && _mount_wait "$M7" && pid=$(daemon_pid "$S7" "$M7"); then
		MNT_PID[$M7]=$pid
		check_eq "daemon (uid $TEST_UID) runs as uid $TEST_UID" "$TEST_UID" \
			"$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")"
		check_eq "daemon is not dumpable (/proc/PID/status belongs to root)" 0 \
			"$(stat -c %u "/proc/$pid/status")"
		check_eq "daemon core file size limit is 0 (soft and hard)" "0 0" \
			"$(awk '/^Max core file size/ {print $5, $6}' "/proc/$pid/limits")"
		umount_fs "$M7"
	else
		skip "daemon without core dumps" "a non-root daemon did not mount (exit $rc): $(cat "$T_BASE/u.log")"
	fi
else
	skip "daemon without core dumps" "wormctl init as uid $TEST_UID failed"
fi

# wormctl holds keys and plaintext too (verify, key rewrap): same rule.
# It blocks opening a passphrase FIFO, so it can be looked at meanwhile.
# timeout runs it as TEST_UID without capabilities, so the binary must be
# reachable by that uid: a clone under a 0700 directory (mktemp -d) is not.
F8=$T_BASE/u/pp.fifo UCTL=$T_BASE/u/wormctl
if as_user mkfifo -m 600 "$F8" && cp "$WORMCTL" "$UCTL" && chmod 0755 "$UCTL"; then
	(ulimit -S -c unlimited 2>/dev/null
	 exec setpriv --reuid="$TEST_UID" --regid="$TEST_UID" --clear-groups \
		timeout 30 "$UCTL" init "$T_BASE/u/s8" --passphrase-file "$F8") >"$T_BASE/u8.log" 2>&1 </dev/null &
	wpid=$!
	for _ in $(seq 50); do
		grep -q "$F8" "/proc/$wpid/cmdline" 2>/dev/null && [ -e "/proc/$wpid/fd" ] && break
		sleep 0.1
	done
	sleep 0.3
	cpid=$(pgrep -P "$wpid" -f wormctl || echo "$wpid")
	check_eq "wormctl is not dumpable (/proc/PID/status belongs to root)" 0 \
		"$(stat -c %u "/proc/$cpid/status" 2>&1)"
	check_eq "wormctl core file size limit is 0 (soft and hard)" "0 0" \
		"$(awk '/^Max core file size/ {print $5, $6}' "/proc/$cpid/limits" 2>&1)"
	# A wormctl that never opened the FIFO (it failed to start) must not
	# leave this write blocked for good.
	timeout 10 sh -c 'printf "a long enough passphrase\n" >"$1"' sh "$F8"
	wait "$wpid" 2>/dev/null
else
	skip "wormctl without core dumps" "mkfifo as uid $TEST_UID, or the copy of wormctl, failed"
fi

# ---------------------------------------------------------------- passphrase files
S8=$T_BASE/s8 M8=$T_BASE/m8 PW=$T_BASE/pw
printf 'correct horse battery staple\n' >"$PW"
# init_refused DESC MODE OWNER EXPECTED-REASON
init_refused() {
	local out rc
	chmod "$2" "$PW"
	chown "$3" "$PW"
	out=$(WORMFS_PWHASH_FAST=1 "$WORMCTL" init --passphrase-file "$PW" "$S8" 2>&1)
	rc=$?
	check_eq "init --passphrase-file ($1): exit status 1" 1 "$rc"
	check_eq "init --passphrase-file ($1): the error" \
		"wormctl: init $S8: passphrase file $PW $4" "$out"
	check "init --passphrase-file ($1): no store created" test ! -e "$S8"
}
init_refused "mode 0644" 0644 0 "is world-readable (mode 0644): refusing it; chmod 600 $PW"
init_refused "mode 0604" 0604 0 "is world-readable (mode 0604): refusing it; chmod 600 $PW"
init_refused "mode 0620" 0620 0 "is writable by others (mode 0620): refusing it; chmod 600 $PW"
init_refused "mode 0602" 0602 0 "is writable by others (mode 0602): refusing it; chmod 600 $PW"
init_refused "owner uid $TEST_UID" 0600 "$TEST_UID" \
	"belongs to uid $TEST_UID: refusing it (it must belong to you or root)"
mkdir "$T_BASE/pwdir"
out=$("$WORMCTL" init --passphrase-file "$T_BASE/pwdir" "$S8" 2>&1)
check_eq "init --passphrase-file DIRECTORY: the error" \
	"wormctl: init $S8: passphrase file $T_BASE/pwdir is a directory" "$out"
chown 0 "$PW"
chmod 0640 "$PW"
check "init --passphrase-file with mode 0640 (group may read)" \
	env WORMFS_PWHASH_FAST=1 "$WORMCTL" init --passphrase-file "$PW" "$S8"
# mount_refused DESC EXPECTED-LINE ARGS...
mount_refused() {
	local desc=$1 want=$2 rc
	shift 2
	mkdir -p "$M8"
	_register_mount "$M8"
	timeout 20 "$WORMFS" "$S8" "$M8" "$@" >/dev/null 2>"$T_BASE/m8.err" </dev/null
	rc=$?
	check_eq "mount ($desc): exit status 1" 1 "$rc"
	check_eq "mount ($desc): the error" "$want" "$(cat "$T_BASE/m8.err")"
	if is_mounted "$M8"; then fail "mount ($desc): nothing mounted"; umount_fs "$M8"; else ok "mount ($desc): nothing mounted"; fi
}
chmod 0644 "$PW"
mount_refused "world-readable passphrase file" \
	"wormfs: passphrase file $PW is world-readable (mode 0644): refusing it; chmod 600 $PW" \
	-o passphrase_file="$PW"
mount_refused "passphrase_file= names a directory" \
	"wormfs: passphrase file $T_BASE/pwdir is a directory" -o passphrase_file="$T_BASE/pwdir"
chmod 0600 "$PW"
if mount_fg "$S8" "$M8" -o passphrase_file="$PW"; then
	ok "mount with a mode 0600 passphrase file"
	umount_check "$M8" "passphrase store"
fi

done_testing
