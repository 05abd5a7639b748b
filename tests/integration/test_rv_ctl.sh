#!/bin/bash
# test_rv_ctl: review of the administration surface (control socket,
# design section 16).
#
#  1. A client that got its reply and then keeps sending a byte now and
#     then (never a pause long enough to end the drain) does not hold the
#     control thread: another client is served and the daemon exits after
#     an unmount while that client is still sending.
#  2. A string member holding a NUL (\u0000) is refused (EINVAL), not read
#     as its prefix: user-add "ab\u0000cd" added "ab", user-remove
#     "alice\u0000x" removed alice, an imported secret was cut short.
#  3. wormctl s3 user list while mounted takes a long reply: 1000 users
#     (a tenth of NS_USER_MAX) of the longest names, key ids and groups
#     made a reply over the client's old 512 KiB bound (EMSGSIZE, while
#     the offline list worked).
#  4. A root daemon serving a store whose directory belongs to a user: that
#     user replaces STORE/ctl.sock with a socket of their own. Root's
#     wormctl sends it nothing (no imported secret, no forged success):
#     it talks only to a server run by root or by the caller itself.
#  5. A request whose client closed the connection while it waited in the
#     queue (behind a long request; wormctl gives up after 60 s and says
#     it failed) is not done when its turn comes: before, a user-add was
#     done then (its made secret sent to nobody). A client that only shuts
#     down its writing half after the request is still served.
#  6. Passphrase files: a NUL byte in the first line made init use the
#     bytes before it as the passphrase (a 38-byte file became "ab"): init
#     refuses it and creates nothing. A pipe is read to its end, not one
#     read's worth (a passphrase written in two pieces was cut).
#  7. A key ring put back from a copy older than a key rotate (offline or
#     through the socket): its removed versions would be active again and
#     wrap new data keys. A writable mount refuses it, naming both
#     versions; with the current ring back it mounts.
#  8. An online rewrap paced by the KMS limiter (throttle = wait, 2
#     requests/s) does not hold off other writers: chmods elsewhere in
#     the mount finish while the rewrap still runs (before, the rewrap
#     waited for its tokens, and wrote and synced the object's header,
#     inside its write transaction: each chmod waited for one object).
. "$(dirname "$0")/lib.sh"
require_binaries

S=$T_BASE/store
M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }

# dribble READY: connect, send one request, wait for its reply, write
# READY, then send a space every 50 ms for up to 120 s.
dribble() {
	python3 - "$S/ctl.sock" "$1" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'{"op":"user-list"}\n')
data = b""
while b"\n" not in data:
    b = s.recv(4096)
    if not b:
        break
    data += b
open(sys.argv[2], "w").write("ready\n")
t = time.time()
try:
    while time.time() - t < 120:
        s.send(b" ")
        time.sleep(0.05)
except OSError:
    pass
PY
	DRIBBLER=$!
	for _ in $(seq 1 100); do [ -s "$1" ] && break; sleep 0.1; done
}

# ============================================================ 1. a slow tail
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
dribble "$T_BASE/ready1"
check_eq "dribbling client got its reply" "ready" "$(cat "$T_BASE/ready1" 2>/dev/null)"
out=$(timeout 60 "$WORMCTL" s3 user list "$S" 2>&1); rc=$?
alive=$(kill -0 "$DRIBBLER" 2>/dev/null && echo alive || echo gone)
check_eq "another client is served while the first one still sends" "0|alive" "$rc|$alive"
kill "$DRIBBLER" 2>/dev/null; wait "$DRIBBLER" 2>/dev/null
dribble "$T_BASE/ready2"
# (The client would send for 120 s; umount_fs waits 20 s for the exit.)
umount_check "$M" "unmount while a client still sends"
kill "$DRIBBLER" 2>/dev/null; wait "$DRIBBLER" 2>/dev/null

# ============================================================ 2. NUL in strings
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
raw() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
d = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    d += b
print(d.decode(errors="replace").strip())' "$S/ctl.sock" "$1"
}
check "add alice" "$WORMCTL" s3 user add "$S" alice --uid 5
check_match "user-remove \"alice\\u0000x\": EINVAL" '"ok":false,"errno":22' \
	"$(raw '{"op":"user-remove","name":"alice\u0000x"}')"
check_match "user-add \"ab\\u0000cd\": EINVAL" '"ok":false,"errno":22' \
	"$(raw '{"op":"user-add","name":"ab\u0000cd","uid":6}')"
check_match "imported secret with a NUL: EINVAL" '"ok":false,"errno":22' \
	"$(raw '{"op":"user-add","name":"imp","uid":7,"access_key_id":"AKIAIMPORTED0000001","secret":"abcdefghijklmnopqrstuvwxyz0123456789ABCD\u0000tail"}')"
check_eq "users unchanged: alice only" "alice" \
	"$("$WORMCTL" s3 user list "$S" | awk '{ print $1 }' | tr '\n' ' ' | sed 's/ $//')"
umount_check "$M" "NUL in strings"

# ============================================================ 3. long replies
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
added=$(python3 - "$S/ctl.sock" <<'PY'
import json, socket, sys
groups = list(range(100000, 100032))
n = 0
for i in range(1000):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sys.argv[1])
    req = {"op": "user-add", "name": ("u%05d" % i) + "x" * 58, "uid": 4000000000 + i,
           "gid": 4000000000 + i, "groups": groups,
           "access_key_id": ("K%05d" % i) + "A" * 122, "secret": "S" * 128}
    s.sendall(json.dumps(req).encode() + b"\n")
    d = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        d += b
    s.close()
    if b'"ok":true' not in d:
        print("add %d: %s" % (i, d.decode(errors="replace")))
        break
    n += 1
print(n)
PY
)
check_eq "1000 users of the longest fields added online" "1000" "$added"
out=$("$WORMCTL" s3 user list "$S" 2>&1); rc=$?
check_eq "online list: exit 0, every user (1 + 1000)" "0|1001" "$rc|$(echo "$out" | wc -l)"
out=$("$WORMCTL" s3 user list --json "$S" 2>&1); rc=$?
check_eq "online list --json: every user" "0|1001" \
	"$rc|$(echo "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["users"]))' 2>&1)"
umount_check "$M" "long replies"

# ============================================================ 4. a fake daemon
S4=$T_BASE/store4
make_store "$S4" || fail "wormctl init store4"
chown "$TEST_UID" "$S4"
mount_fg "$S4" "$M" || { fail "mount store4"; done_testing; }
setpriv --reuid="$TEST_UID" --regid="$TEST_UID" --clear-groups -- /usr/bin/python3 -c '
import os, socket, sys
os.unlink(sys.argv[1])
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(1)
s.settimeout(30)
open(sys.argv[2] + ".ready", "w").close()
c, _ = s.accept()
c.settimeout(5)
d = b""
try:
    while True:
        b = c.recv(65536)
        if not b:
            break
        d += b
        if b"\n" in d:
            c.sendall(b"{\"ok\":true,\"user\":{\"name\":\"bob\",\"access_key_id\":\"AKIAIMPORTED0000001\"}}\n")
            break
except OSError:
    pass
open(sys.argv[2], "wb").write(d)
' "$S4/ctl.sock" "$S4/captured" &
FAKE=$!
for _ in $(seq 1 100); do [ -e "$S4/captured.ready" ] && break; sleep 0.1; done
printf 'TopSecretImportedKey0123456789abcdefghij\n' >"$T_BASE/secret"
out=$("$WORMCTL" s3 user add "$S4" bob --uid 0 --access-key AKIAIMPORTED0000001 \
	--secret-file "$T_BASE/secret" 2>&1); rc=$?
wait "$FAKE"
check_eq "a socket served by the store directory's owner (not the daemon): refused" \
	"1|wormctl: s3 user add $S4: control socket: served by a process that is neither root nor the caller (refused)" \
	"$rc|$out"
check_eq "that server got no byte of the request" "0" "$(wc -c <"$S4/captured" 2>&1)"
umount_check "$M" "fake daemon"

# ============================================================ 5. gone clients
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
out=$(python3 - "$S/ctl.sock" <<'PY'
import socket, sys
path = sys.argv[1]
# A: holds the serving thread (sends nothing; dropped after 5 s)
a = socket.socket(socket.AF_UNIX)
a.connect(path)
# B: queued behind A; sends a request, then gives up and closes
b = socket.socket(socket.AF_UNIX)
b.connect(path)
b.sendall(b'{"op":"user-add","name":"ghost","uid":77}\n')
b.close()
# D: queued too; sends a request and shuts down writing, waits for the reply
d = socket.socket(socket.AF_UNIX)
d.settimeout(60)
d.connect(path)
d.sendall(b'{"op":"user-add","name":"halfclosed","uid":78}\n')
d.shutdown(socket.SHUT_WR)
a.settimeout(60)
while a.recv(4096):
    pass
data = b""
while True:
    x = d.recv(4096)
    if not x:
        break
    data += x
print("half-closed:", data.decode(errors="replace").strip()[:40])
PY
)
check_match "a client that shut down writing is served" 'half-closed: \{"ok":true' "$out"
users=$("$WORMCTL" s3 user list "$S" | awk '{ print $1 }' | tr '\n' ' ' | sed 's/ $//')
check_eq "the request of a client gone meanwhile is not done" "0|1" \
	"$(echo " $users " | grep -c ' ghost ')|$(echo " $users " | grep -c ' halfclosed ')"
check_match "the skipped request is logged" 'closed the connection before its request was served: not done' \
	"$(cat "${MNT_LOG[$M]}")"
umount_check "$M" "gone clients"

# ============================================================ 6. passphrase files
PWD6=$T_BASE/pw
mkdir -m 0700 "$PWD6"
printf 'ab\0cdefghijklmnopqrstuvwxyz0123456789\n' >"$PWD6/nul"
printf 'ab\n' >"$PWD6/ab"
chmod 0600 "$PWD6/nul" "$PWD6/ab"
out=$(WORMFS_PWHASH_FAST=1 "$WORMCTL" init --passphrase-file "$PWD6/nul" "$T_BASE/s6" 2>&1); rc=$?
check_eq "init with a NUL byte in the passphrase: refused" \
	"1|wormctl: init $T_BASE/s6: passphrase file $PWD6/nul: the first line holds a NUL byte (a passphrase is one line of text)" \
	"$rc|$out"
check_eq "nothing created" "absent" "$([ -e "$T_BASE/s6/keys/keyring" ] && echo present || echo absent)"
mkfifo -m 0600 "$PWD6/fifo"
( printf 'abcdefgh'; sleep 1; printf 'ijkl\n' ) >"$PWD6/fifo" &
out=$(WORMFS_PWHASH_FAST=1 "$WORMCTL" init --passphrase-file "$PWD6/fifo" "$T_BASE/s7" 2>&1)
check_eq "init from a pipe written in two pieces" 0 "$?"
wait
printf 'abcdefghijkl\n' >"$PWD6/whole"
chmod 0600 "$PWD6/whole"
check "the whole line is the passphrase" "$WORMCTL" key list "$T_BASE/s7" --passphrase-file "$PWD6/whole"

# ============================================================ 7. key ring copies
S8=$T_BASE/store8
make_store "$S8" || fail "wormctl init store8"
cp -p "$S8/keys/keyring" "$T_BASE/keyring.1"
check "key rotate offline" "$WORMCTL" key rotate "$S8"
check "key remove 1" "$WORMCTL" key remove "$S8" 1
cp -p "$S8/keys/keyring" "$T_BASE/keyring.2"
mount_fg "$S8" "$M" || { fail "mount store8"; done_testing; }
mkdir "$M/bkt" && echo one >"$M/bkt/a"
check "key rotate through the socket" "$WORMCTL" key rotate "$S8"
umount_check "$M" "store8"
cp -p "$S8/keys/keyring" "$T_BASE/keyring.3"
cp "$T_BASE/keyring.1" "$S8/keys/keyring"
if mount_fg "$S8" "$M"; then
	fail "a key ring from before the offline rotate: mount refused"
	umount_fs "$M"
else
	check_match "a key ring from before the offline rotate: mount refused" \
		"refused: the key ring's active master key version 1 is below version 3, which a key rotate made active" \
		"$(cat "${MNT_LOG[$M]}")"
fi
cp "$T_BASE/keyring.2" "$S8/keys/keyring"
if mount_fg "$S8" "$M"; then
	fail "a key ring from before the online rotate: mount refused"
	umount_fs "$M"
else
	check_match "a key ring from before the online rotate: mount refused" \
		"active master key version 2 is below version 3" "$(cat "${MNT_LOG[$M]}")"
fi
cp "$T_BASE/keyring.3" "$S8/keys/keyring"
mount_fg "$S8" "$M" || fail "the current key ring back: mounts"
check_eq "and the object reads" "one" "$(cat "$M/bkt/a" 2>&1)"
umount_check "$M" "current key ring"
check "verify" "$WORMCTL" verify "$S8"

# ============================================================ 8. paced rewrap
S9=$T_BASE/store9
make_store "$S9" || fail "wormctl init store9"
mount_fg "$S9" "$M" -o crypto_rate=2,crypto_burst=1,throttle=wait,max_wait_ms=60000,dek_cache_entries=0 ||
	{ fail "mount store9"; done_testing; }
mkdir "$M/bkt" "$M/other"
for i in $(seq 1 12); do echo "$i" >"$M/bkt/f$i"; done
touch "$M/other/x"
check "key rotate" "$WORMCTL" key rotate "$S9"
kms_req() {
	awk '$1 == "wormfs_kms_requests_total{class=\"cryptographic\"}" { print $2 }' "$M/.wormfs/stats"
}
r0=$(kms_req)
"$WORMCTL" key rewrap "$S9" >"$T_BASE/rewrap9.out" 2>&1 &
RW=$!
# Until the rewrap has asked the KMS three times (it is then at its
# second object, waiting for a token).
for _ in $(seq 1 200); do [ "$(kms_req)" -ge $((r0 + 3)) ] && break; sleep 0.1; done
# Before, each chmod waited for one object's transaction (about 1 s here):
# twenty of them outlasted the ten objects left.
rc=0
for i in $(seq 1 10); do
	chmod 600 "$M/other/x" || rc=1
	chmod 644 "$M/other/x" || rc=1
done
alive=$(kill -0 "$RW" 2>/dev/null && echo running || echo done)
check_eq "twenty chmods elsewhere finish while the rewrap still runs" "0|running" "$rc|$alive"
wait "$RW"
check_eq "the rewrap completes" "re-wrapped 12 data keys under master key version 2 (by the daemon)" \
	"$(cat "$T_BASE/rewrap9.out")"
check_eq "every object reads" "1 12" "$(cat "$M/bkt/f1") $(cat "$M/bkt/f12")"
umount_check "$M" "paced rewrap"
check "verify" "$WORMCTL" verify "$S9"

done_testing
