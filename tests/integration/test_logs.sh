#!/usr/bin/env bash
# Logs under retention (design section 15): append-only objects, bucket
# autocommit, and the two log recipes of the README with stock logrotate
# and live writers.
#
# Recipe 1, rotation by rename: a bucket with a default retention and
# autocommit (no append-only). Two writers append lines: a program that
# holds the file open and reopens it on SIGHUP from postrotate, and a
# shell `>>` loop. logrotate (create, dateext, compress; then a
# delaycompress variant) is forced several times. Every run exits 0, no
# line is lost or duplicated across all files (decompressed), every rotated
# file locks once the autocommit period has passed, and none can be
# deleted.
# Recipe 2, date-named files: default append-only + autocommit: a write at
# offset 0, truncate, rename and unlink get EPERM while appends continue;
# a file held open never locks; once closed and idle it locks.
# Also: the autocommit index survives a restart (due objects lock at the
# mount, and the retention counts from then), wormctl's commands, and who
# may set append-only.
. "$(dirname "$0")/lib.sh"
require_binaries

for c in logrotate gzip zcat python3 setfattr; do
	command -v "$c" >/dev/null || { fail "$c available (tests/run_all.sh installs it)"; done_testing; }
done

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" -o allow_other || { fail "mount"; done_testing; }
ok "mounted"

U() { setpriv --reuid=1000 --regid=1000 --clear-groups -- "$@"; }

# ---- wormctl and the attributes
B=$M/applogs
check "wormctl bucket create" "$WORMCTL" bucket create "$B"
chmod 0777 "$B"   # others may write in it: the refusals below are wormfs's
check_errno "autocommit without syntax: EINVAL" EINVAL setxattr "$B" user.worm.autocommit "10"
check_errno "autocommit 0s: EINVAL" EINVAL setxattr "$B" user.worm.autocommit "0s"
check_errno "autocommit 36501d: EINVAL" EINVAL setxattr "$B" user.worm.autocommit "36501d"
check_errno "create an object" OK create "$B/plain"
check_errno "autocommit is a bucket attribute" EINVAL setxattr "$B/plain" user.worm.autocommit "10s"
check "wormctl bucket autocommit 10m" "$WORMCTL" bucket autocommit "$B" 10m
check_eq "autocommit reads back" "10m" "$(h getxattr "$B" user.worm.autocommit)"
check_not "wormctl bucket autocommit 5x fails" "$WORMCTL" bucket autocommit "$B" 5x
check "wormctl bucket autocommit off" "$WORMCTL" bucket autocommit "$B" off
check_errno "autocommit off: no attribute" ENODATA getxattr "$B" user.worm.autocommit
chown 1000:1000 "$B/plain" && chmod 0666 "$B/plain"
out=$(U "$HARNESS" setxattr "$B" user.worm.autocommit 1h)
check_eq "autocommit by another user than the bucket owner: EPERM" EPERM "$out"
check "wormctl append-only on" "$WORMCTL" append-only on "$B/plain"
check_eq "append-only reads back ON" "ON" "$(h getxattr "$B/plain" user.worm.append-only)"
check_match "wormctl ls --locked shows the appendable object" "mutable\+append .*plain" \
	"$("$WORMCTL" ls --locked "$B" 2>&1)"
check_match "ls --json has append_only" '"append_only": *true' "$("$WORMCTL" ls --json "$B" 2>&1)"
check_errno "append-only: append OK" OK append "$B/plain" "abc"
check_errno "append-only: open for writing without O_APPEND EPERM (chattr +a)" EPERM \
	open "$B/plain" "WRONLY"
check_errno "append-only: write at 0 EPERM" EPERM pwrite "$B/plain" 0 x
check_errno "append-only: write at the end, not O_APPEND: EPERM too" EPERM pwrite "$B/plain" 3 x
check_errno "append-only: append again OK" OK append "$B/plain" "def"
check_eq "append-only: content" "abcdef" "$(cat "$B/plain")"
check_errno "append-only: truncate EPERM" EPERM truncate "$B/plain" 0
check_errno "append-only: fallocate EPERM" EPERM fallocate "$B/plain" 0 100
check_errno "append-only: unlink EPERM" EPERM unlink "$B/plain"
check_errno "append-only: rename EPERM" EPERM rename "$B/plain" "$B/other"
check_errno "append-only: rename over it EPERM" OK create "$B/victim-src"
check_errno "append-only: a rename onto it EPERM" EPERM rename "$B/victim-src" "$B/plain"
check_errno "append-only: open O_TRUNC EPERM" EPERM open "$B/plain" "WRONLY|TRUNC"
out=$(U "$HARNESS" setxattr "$B/plain" user.worm.append-only OFF)
check_eq "owner (uid 1000) sets append-only OFF" OK "$out"
check_errno "after OFF: truncate works again" OK truncate "$B/plain" 0
out=$(setpriv --reuid=1001 --regid=1001 --clear-groups -- "$HARNESS" setxattr "$B/plain" user.worm.append-only ON)
check_eq "another user sets append-only ON: EPERM" EPERM "$out"
check_errno "bad append-only value: EINVAL" EINVAL setxattr "$B/plain" user.worm.append-only maybe
check_errno "retention on plain" OK setxattr "$B/plain" user.worm.retention "GOVERNANCE +1d"
check_errno "append-only ON on a sealed object: EPERM" EPERM setxattr "$B/plain" user.worm.append-only ON
check_not "wormctl append-only on a sealed object fails" "$WORMCTL" append-only on "$B/plain"

# ---- appendable WORM object: default retention at close, append-only ON
W=$M/wormappend
check_errno "bucket wormappend" OK mkdir "$W"
check_errno "default retention" OK setxattr "$W" user.worm.default-retention "GOVERNANCE 1d"
check_errno "default append-only ON" OK setxattr "$W" user.worm.default-append-only ON
check_errno "first write and close" OK write "$W/a.log" "one
"
check_eq "committed at close: locked" locked "$(worm_state "$W/a.log")"
check_errno "appendable: append OK under retention" OK append "$W/a.log" "two
"
check_errno "appendable: overwrite of a committed byte EPERM" EPERM pwrite "$W/a.log" 0 X
check_errno "appendable: truncate EPERM" EPERM truncate "$W/a.log" 4
check_errno "appendable: unlink EPERM" EPERM unlink "$W/a.log"
check_errno "appendable: chmod EPERM (sealed metadata)" EPERM chmod "$W/a.log" 600
check_eq "content is both appends" "one
two" "$(cat "$W/a.log")"
check "wormctl append-only off finalizes" "$WORMCTL" append-only off "$W/a.log"
check_errno "finalized: append EPERM" EPERM append "$W/a.log" "three"
check_errno "finalized: open for append EPERM" EPERM open "$W/a.log" "WRONLY|APPEND"
check_errno "finalized: ON again EPERM" EPERM setxattr "$W/a.log" user.worm.append-only ON
check_eq "finalized content unchanged" "one
two" "$(cat "$W/a.log")"

# ---- Recipe 2: date-named files (default append-only + autocommit)
AC2=3
D=$M/datelogs
check_errno "bucket datelogs" OK mkdir "$D"
check_errno "default retention" OK setxattr "$D" user.worm.default-retention "GOVERNANCE 1d"
check_errno "default append-only" OK setxattr "$D" user.worm.default-append-only ON
check "autocommit ${AC2}s" "$WORMCTL" bucket autocommit "$D" "${AC2}s"
F2=$D/app-$(date -u +%Y%m%d).log
# A writer that holds the file open (O_APPEND) until told to stop.
python3 - "$F2" "$T_BASE/r2.stop" <<'EOF' &
import os, sys, time
f = open(sys.argv[1], "a", buffering=1)
i = 0
while not os.path.exists(sys.argv[2]):
    i += 1
    f.write("r2 %d\n" % i)
    time.sleep(0.02)
f.write("r2 last\n")
f.close()
EOF
R2=$!
for i in $(seq 1 100); do [ -s "$F2" ] && break; sleep 0.1; done
check_errno "recipe 2: write at offset 0 EPERM while appends continue" EPERM pwrite "$F2" 0 X
check_errno "recipe 2: truncate EPERM" EPERM truncate "$F2" 0
check_errno "recipe 2: unlink EPERM" EPERM unlink "$F2"
check_errno "recipe 2: rename EPERM" EPERM rename "$F2" "$F2.old"
check_errno "recipe 2: a second appender is fine" OK append "$F2" "x2 1
"
sleep $((AC2 + 2))
check_eq "recipe 2: held open past the period: still mutable" mutable "$(worm_state "$F2")"
touch "$T_BASE/r2.stop"
wait $R2
check_eq "recipe 2: writer exited 0" 0 $?
n1=$(grep -c '^r2 [0-9]*$' "$F2")
check_eq "recipe 2: every line in order, none lost" "$(seq 1 "$n1" | sed 's/^/r2 /')" \
	"$(grep '^r2 [0-9]*$' "$F2")"
if wait_state "$F2" locked $((AC2 * 4 + 10)); then ok "recipe 2: locked once closed and idle"
else fail "recipe 2: locked once closed and idle" "state $(worm_state "$F2")"; fi
check_errno "recipe 2: unlink after the lock EPERM" EPERM unlink "$F2"
check_match "recipe 2: retention is the bucket default" "^GOVERNANCE " \
	"$(h getxattr "$F2" user.worm.retention)"

# ---- Recipe 1: rotation by rename with logrotate and two live writers
# The writers: a program holding the file open, reopening it on SIGHUP
# (it acknowledges each reopen so postrotate returns after it), and a
# shell >> loop. Lines "p N" and "s N", N from 1 up, each exactly once.
cat > "$T_BASE/holder.py" <<'EOF'
import os, signal, sys, time
path, stop, ack, pidf = sys.argv[1:5]
reopen = False
def hup(sig, frm):
    global reopen
    reopen = True
signal.signal(signal.SIGHUP, hup)
f = open(path, "a", buffering=1)
open(pidf + ".tmp", "w").write(str(os.getpid()))
os.rename(pidf + ".tmp", pidf)
i = 0
while not os.path.exists(stop):
    if reopen:
        reopen = False
        f.close()
        f = open(path, "a", buffering=1)
        open(ack, "w").close()
    i += 1
    f.write("p %d\n" % i)
    time.sleep(0.005)
f.close()
print(i)
EOF

# recipe1 NAME AC_SECONDS DELAYCOMPRESS(0|1) ROTATIONS INTERVAL
recipe1() {
	local name=$1 ac=$2 delay=$3 rot=$4 gap=$5
	local R=$M/$name L=$M/$name/app.log w=$T_BASE/$name i rc all f
	mkdir -p "$w"
	check_errno "$name: bucket" OK mkdir "$R"
	# The contract's minimum retention unit is a day (COMPLIANCE 7y in the
	# README's recipe); the autocommit period is seconds here.
	check_errno "$name: default retention COMPLIANCE 1d" OK setxattr "$R" \
		user.worm.default-retention "COMPLIANCE 1d"
	check "$name: autocommit ${ac}s" "$WORMCTL" bucket autocommit "$R" "${ac}s"
	cat > "$w/logrotate.conf" <<EOF
$L {
	create 0640 root root
	dateext
	dateformat -%Y%m%d-%s
	compress
	$([ "$delay" = 1 ] && echo delaycompress)
	rotate 1000
	missingok
	nomail
	sharedscripts
	postrotate
		kill -HUP \$(cat $w/holder.pid)
		for i in \$(seq 1 500); do [ -e $w/ack ] && break; sleep 0.01; done
		rm -f $w/ack
	endscript
}
EOF
	python3 "$T_BASE/holder.py" "$L" "$w/stop" "$w/ack" "$w/holder.pid" > "$w/holder.count" &
	local hp=$!
	( n=0; while [ ! -e "$w/stop" ]; do n=$((n + 1)); echo "s $n" >> "$L"; sleep 0.01; done
	  echo $n > "$w/shell.count" ) &
	local sp=$!
	for i in $(seq 1 50); do [ -e "$w/holder.pid" ] && break; sleep 0.1; done
	local bad=0
	for i in $(seq 1 "$rot"); do
		sleep "$gap"
		logrotate -f -s "$w/state" "$w/logrotate.conf" > "$w/lr.$i.log" 2>&1
		rc=$?
		if [ $rc -ne 0 ]; then
			bad=1
			fail "$name: logrotate run $i exits 0" "$(cat "$w/lr.$i.log")"
		fi
	done
	[ $bad = 0 ] && ok "$name: $rot forced logrotate runs exit 0"
	sleep "$gap"
	touch "$w/stop"
	wait $hp; wait $sp
	local np ns
	np=$(cat "$w/holder.count") ns=$(cat "$w/shell.count")
	# Every line of every file, decompressed.
	all=$( for f in "$R"/*; do case $f in *.gz) zcat "$f" ;; *) cat "$f" ;; esac; done )
	check_eq "$name: holder lines: none lost or duplicated (1..$np)" \
		"$(seq 1 "$np" | sed 's/^/p /')" "$(grep '^p ' <<<"$all" | sort -k2,2n)"
	check_eq "$name: shell lines: none lost or duplicated (1..$ns)" \
		"$(seq 1 "$ns" | sed 's/^/s /')" "$(grep '^s ' <<<"$all" | sort -k2,2n)"
	check_eq "$name: no other lines" "" "$(grep -v '^[ps] [0-9]*$' <<<"$all")"
	local nrot
	# A >> that recreates app.log between logrotate's rename and its
	# create makes logrotate move that file to app.log-DATEHOUR.backup
	# (its own race handling; the lines are kept, checked above).
	nrot=$(find "$R" -name 'app.log-*' ! -name '*.backup' | wc -l)
	check_eq "$name: one rotated file per run" "$rot" "$nrot" ||
		diag "$(ls -la "$R")" "$(cat "$w"/lr.*.log)"
	[ -n "$(find "$R" -name '*.backup')" ] && diag "logrotate's create met a file the >> loop had just created"
	if [ "$delay" = 1 ]; then
		check_eq "$name: delaycompress: all but the newest compressed" "$((rot - 1))" \
			"$(find "$R" -name 'app.log-*.gz' | wc -l)"
	else
		check_eq "$name: every rotated file compressed" "$rot" \
			"$(find "$R" -name 'app.log-*.gz' | wc -l)"
	fi
	# Once the period has passed with no writer, every file locks.
	local unlocked=""
	for f in "$R"/*; do
		wait_state "$f" locked $((ac * 4 + 15)) || unlocked="$unlocked $f=$(worm_state "$f")"
	done
	check_eq "$name: every file locked once the autocommit period passed" "" "$unlocked"
	local deletable=""
	for f in "$R"/*; do
		[ "$(h unlink "$f")" = EPERM ] || deletable="$deletable $f"
	done
	check_eq "$name: no file can be deleted (rm: EPERM)" "" "$deletable"
	check_not "$name: rm -f refuses too" rm -f "$R"/app.log-*
	check_match "$name: retention is COMPLIANCE" "^COMPLIANCE " \
		"$(h getxattr "$(ls "$R"/app.log-* | head -1)" user.worm.retention)"
}

# Without delaycompress, gzip runs right after the rename in the same run:
# the period only has to outlast one logrotate run.
recipe1 rotate 8 0 4 1.2
# With delaycompress the previous file is compressed (and deleted) at the
# next run: the period must be longer than the interval between rotations.
recipe1 rotate-delay 12 1 4 1.5

# ---- restarts: the index survives, a stop never shortens anything
AC3=3
P=$M/restart
check_errno "bucket restart" OK mkdir "$P"
check_errno "default retention" OK setxattr "$P" user.worm.default-retention "GOVERNANCE 1d"
check_errno "autocommit ${AC3}s" OK setxattr "$P" user.worm.autocommit "${AC3}s"
check_errno "write and close" OK write "$P/idle.log" "data"
check_eq "mutable after close" mutable "$(worm_state "$P/idle.log")"
umount_fs "$M" || fail "unmount"
sleep $((AC3 + 2))
t0=$(date +%s)
mount_fg "$S" "$M" -o allow_other || { fail "remount"; done_testing; }
check_eq "due while stopped: locked at the mount" locked "$(worm_state "$P/idle.log")"
until=$(date -u -d "$(h getxattr "$P/idle.log" user.worm.retention | cut -d' ' -f2)" +%s)
if [ "$until" -ge $((t0 + 86400 - 5)) ]; then ok "retention counts from the lock, not from the deadline"
else fail "retention counts from the lock" "until $until, mount at $t0"; fi
check_eq "autocommit survives the restart" "${AC3}s" "$(h getxattr "$P" user.worm.autocommit)"
check_eq "default append-only survives the restart" "ON" "$(h getxattr "$D" user.worm.default-append-only)"
audit=$(cat "$M/.wormfs/audit")
check_match "audit trail: the autocommit lock" \
	'kind=retention op=autocommit path=/restart/idle.log uid=- rule=default-retention' "$audit"
check_match "audit trail: the autocommit setting" 'kind=autocommit op=set path=/restart ' "$audit"
check_match "audit trail: append-only OFF (finalize)" \
	'kind=append-only op=set path=/wormappend/a.log attr=user.worm.append-only uid=0 rule=- value=OFF' "$audit"
check_errno "a new file after the restart" OK write "$P/new.log" "x"
check_eq "new file mutable" mutable "$(worm_state "$P/new.log")"
if wait_state "$P/new.log" locked $((AC3 * 4 + 10)); then ok "new file autocommits after the restart"
else fail "new file autocommits after the restart"; fi

# ---- crash atomicity of appends to an appendable WORM object
X=$M/crashlogs
check_errno "bucket crashlogs" OK mkdir "$X"
check_errno "default retention" OK setxattr "$X" user.worm.default-retention "GOVERNANCE 1d"
check_errno "default append-only" OK setxattr "$X" user.worm.default-append-only ON
head -c 100000 /dev/urandom > "$T_BASE/big.want"
check "write 100,000 bytes, close: locked, appendable" cp "$T_BASE/big.want" "$X/big"
check_eq "appendable object locked" locked "$(worm_state "$X/big")"
umount_fs "$M" || fail "unmount"
head -c 30000 /dev/urandom > "$T_BASE/lost"
head -c 20000 /dev/urandom > "$T_BASE/kept"
WORMFS_CRASH_AT=write mount_fg "$S" "$M" || { fail "mount with the hook"; done_testing; }
cat "$T_BASE/lost" 2>/dev/null >> "$X/big"
if hook_fired "$M" "$S"; then ok "daemon killed inside an append, before its commit"
else fail "daemon killed inside an append, before its commit"; fi
WORMFS_CRASH_AT=commit mount_fg "$S" "$M" || { fail "mount with the hook"; done_testing; }
check_eq "after the recovery: the committed 100,000 bytes, nothing of the lost append" "" \
	"$(cmp "$X/big" "$T_BASE/big.want" 2>&1)"
cat "$T_BASE/kept" 2>/dev/null >> "$X/big"
if hook_fired "$M" "$S"; then ok "daemon killed right after an append's commit"
else fail "daemon killed right after an append's commit"; fi
cat "$T_BASE/kept" >> "$T_BASE/big.want"
mount_fg "$S" "$M" -o allow_other || { fail "remount"; done_testing; }
check_eq "after the recovery: the committed prefix and the committed append" "" \
	"$(cmp "$X/big" "$T_BASE/big.want" 2>&1)"
check_eq "still locked" locked "$(worm_state "$X/big")"
check_errno "and still appendable" OK append "$X/big" "end"

ino_big=$(stat -c %i "$X/big") ino_p=$(stat -c %i "$P")
umount_fs "$M" || fail "unmount"
check_eq "daemon exit status 0" 0 "$UMOUNT_STATUS"
check "wormctl verify: the store verifies" "$WORMCTL" verify "$S"
check "wormctl audit verify: the chain holds" "$WORMCTL" audit verify "$S"
out=$("$WORMCTL" ls --locked "$S" 2>&1)
diag "$out"
check_match "wormctl ls --locked STORE: the appendable object, marked +append" \
	"GOVERNANCE .* locked\+append crashlogs/big" "$out"
check_match "wormctl ls --locked STORE: a finalized object without the mark" \
	"locked +wormappend/a.log" "$out"

# ---- the new record fields are authenticated
if build_tamper; then
	# Clearing the append-only flag (bit 4) of the appendable object.
	check "tamper: clear the append-only flag" "$TAMPER" flip "$S/meta" "$ino_big" flags 0 16
	out=$("$WORMCTL" verify "$S" 2>&1)
	check_match "verify: a cleared append-only flag fails authentication" \
		"DAMAGED crashlogs/big: metadata record fails authentication" "$out"
	check "tamper: restore it" "$TAMPER" flip "$S/meta" "$ino_big" flags 0 16
	check "verify clean again" "$WORMCTL" verify "$S"
	# Lengthening a bucket's autocommit period (3 s -> 259 s).
	check "tamper: change the autocommit period" "$TAMPER" flip "$S/meta" "$ino_p" autocommit_s 1 1
	digest_reseal "$S"
	mount_fg "$S" "$M" || { fail "remount"; done_testing; }
	h getxattr "$P" user.worm.autocommit >/dev/null
	check_match "a changed autocommit period fails authentication" \
		"metadata record of inode $ino_p fails authentication" "$(cat "${MNT_LOG[$M]}")"
	check_errno "and the bucket refuses changes (fail closed)" EPERM \
		setxattr "$P" user.worm.autocommit 1s
	umount_fs "$M" || fail "unmount"
else
	fail "tamper.c compiles"
fi
done_testing
