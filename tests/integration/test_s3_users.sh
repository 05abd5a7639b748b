#!/usr/bin/env bash
# S3 users and the control socket (design.md sections 11 and 16,
# docs/CLI.md "S3 users"):
#  1. Offline: wormctl s3 user add (made key, --json, import with
#     --access-key/--secret-file), list (text, --json; never a secret),
#     remove; duplicate names and key ids, bad names, bad options: exact
#     messages and exit codes; nothing changed by a refusal; the secret is
#     in no byte of the store; the audit trail records add and remove.
#  2. Online through STORE/ctl.sock while mounted: add, list, remove, key
#     rotate, key rewrap (the users' secrets re-sealed); a caller that is
#     neither root nor the store's owner is refused (and logged); garbage,
#     an oversized request, an idle client: error replies or a drop, the
#     daemon stays up and serves the next request.
#  3. After the unmount: the socket is gone, the state digest matches
#     (a writable mount again), verify is clean, the users are there; a
#     stale socket file (a daemon killed) sends wormctl offline when the
#     store is not mounted, and a new mount replaces it; a socket served by
#     another uid gets no request; a detached
#     daemon serves the socket too.
. "$(dirname "$0")/lib.sh"
require_binaries

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }

# ============================================================ 1. offline
out=$("$WORMCTL" s3 user add "$S" alice --uid 1000 --groups 10,20 --admin 2>&1); rc=$?
check_eq "add: exit 0" 0 "$rc"
check_match "add: prints ACCESS_KEY_ID SECRET once" '^AKIA[A-Z0-9]{16} [A-Za-z0-9+/]{40}$' "$out"
ALICE_KEY=${out%% *} ALICE_SECRET=${out#* }
json=$("$WORMCTL" s3 user add "$S" bob --uid 1001 --gid 2000 --json 2>&1)
check_eq "add --json: name, access_key_id, secret_access_key, uid, gid" "bob 20 40 1001 2000" \
	"$(printf '%s' "$json" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["name"], len(j["access_key_id"]), len(j["secret_access_key"]), j["uid"], j["gid"])' 2>&1)"
BOB_SECRET=$(printf '%s' "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret_access_key"])')

printf 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n' >"$T_BASE/secret"
out=$("$WORMCTL" s3 user add "$S" carol --uid 7 --access-key AKIAIOSFODNN7EXAMPLE --secret-file "$T_BASE/secret" 2>&1); rc=$?
check_eq "import: exit 0, prints the key id only" "0 AKIAIOSFODNN7EXAMPLE" "$rc $out"

# What a refused command must not change: the users, the audit trail, and
# every store file but data.mdb and head (any writable open persists the
# compliance clock, and its close signs a new head over it).
state_of() {
	store_listing "$1" | grep -v -e 'meta/data.mdb' -e '\./head'
	"$WORMCTL" s3 user list "$1" --json
	"$WORMCTL" audit "$1" | grep -v 'kind=store-head'
}
before=$(state_of "$S")
out=$("$WORMCTL" s3 user add "$S" alice --uid 5 2>&1); rc=$?
check_eq "duplicate name: exit 1, clear message" "1|wormctl: s3 user add $S: user 'alice' exists" "$rc|$out"
out=$("$WORMCTL" s3 user add "$S" dave --uid 5 --access-key AKIAIOSFODNN7EXAMPLE --secret-file "$T_BASE/secret" 2>&1); rc=$?
check_eq "duplicate key id: exit 1, clear message" \
	"1|wormctl: s3 user add $S: user 'dave' or access key id 'AKIAIOSFODNN7EXAMPLE' exists" "$rc|$out"
out=$("$WORMCTL" s3 user add "$S" 'bad/name' --uid 5 2>&1); rc=$?
check_eq "bad name: usage error (exit 2)" 2 "$rc"
check_match "bad name: the rules are named" 'NAME is 1\.\.64 of' "$out"
out=$("$WORMCTL" s3 user add "$S" erin --uid 5 --access-key SHORT --secret-file "$T_BASE/secret" 2>&1)
check_eq "short access key id: exit 2" 2 "$?"
printf 'short\n' >"$T_BASE/shortsecret"
out=$("$WORMCTL" s3 user add "$S" erin --uid 5 --access-key AKIAERINERINERIN0000 --secret-file "$T_BASE/shortsecret" 2>&1)
check_eq "short secret: exit 1" 1 "$?"
check_match "short secret: message" 'expected one line of 8\.\.128 printable' "$out"
out=$("$WORMCTL" s3 user add "$S" erin 2>&1)
check_eq "add without --uid: exit 2" "2" "$?"
out=$("$WORMCTL" s3 user add "$S" erin --uid 4294967295 2>&1)
check_eq "--uid 4294967295 ((uid_t)-1): exit 2" "2" "$?"
out=$("$WORMCTL" s3 user add "$S" erin --uid 5 --groups 1,,2 2>&1)
check_eq "--groups 1,,2: exit 2" "2" "$?"
out=$("$WORMCTL" s3 user add "$S" erin --uid 5 --access-key AKIAERINERINERIN0000 2>&1)
check_eq "--access-key without --secret-file: exit 2" "2" "$?"
out=$("$WORMCTL" s3 user list "$S" --uid 5 2>&1)
check_eq "list --uid: exit 2" "2" "$?"
out=$("$WORMCTL" s3 user frob "$S" 2>&1)
check_eq "unknown s3 user command: exit 2" "2" "$?"
check_eq "refusals changed nothing in the store" "$before" "$(state_of "$S")"

list=$("$WORMCTL" s3 user list "$S")
check_eq "list: three users in name order" "alice bob carol" "$(printf '%s\n' "$list" | awk '{ print $1 }' | tr '\n' ' ' | sed 's/ $//')"
check_match "list: alice's key, ids, groups, admin" "^alice $ALICE_KEY uid=1000 gid=1000 groups=10,20 admin created=" "$list"
check_not "list: no secret" grep -qF -e "$ALICE_SECRET" -e "$BOB_SECRET" -e wJalrXUtnFEMI <<<"$list"
jl=$("$WORMCTL" s3 user list "$S" --json)
check_eq "list --json: users with fields, no secret" "alice,bob,carol False" \
	"$(printf '%s' "$jl" | python3 -c 'import json,sys; u=json.load(sys.stdin)["users"]; print(",".join(x["name"] for x in u), any("secret_access_key" in x for x in u))' 2>&1)"
check_not "no secret in any byte of the store" grep -rqaF -e "$ALICE_SECRET" -e "$BOB_SECRET" -e wJalrXUtnFEMI "$S"
check "the key id is in the store (the grep can hit)" grep -rqaF "$ALICE_KEY" "$S"

check "remove bob" "$WORMCTL" s3 user remove "$S" bob
out=$("$WORMCTL" s3 user remove "$S" bob 2>&1); rc=$?
check_eq "remove again: exit 1, no such user" "1|wormctl: s3 user remove $S: no user 'bob'" "$rc|$out"
audit=$("$WORMCTL" audit "$S")
check_match "audit: user add" "kind=s3-user op=add uid=0 rule=- value=\"name=alice key=$ALICE_KEY uid=1000 gid=1000 admin\"" "$audit"
check_match "audit: user remove" 'kind=s3-user op=remove uid=0 rule=- value="name=bob keys=1"' "$audit"
check "audit verify" "$WORMCTL" audit verify "$S"
check "verify" "$WORMCTL" verify "$S"

# ============================================================ 2. online
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
check_eq "socket: STORE/ctl.sock, mode 0600" "socket 600" "$(stat -c '%F %a' "$S/ctl.sock" 2>&1)"
out=$("$WORMCTL" s3 user add "$S" dora --uid 1002 2>&1); rc=$?
check_eq "add while mounted (through the daemon): exit 0" 0 "$rc"
check_match "add while mounted: key and secret" '^AKIA[A-Z0-9]{16} [A-Za-z0-9+/]{40}$' "$out"
check_match "the daemon logged the add" 's3 user added: name=dora' "$(cat "${MNT_LOG[$M]}")"
out=$("$WORMCTL" s3 user add "$S" dora --uid 1002 2>&1); rc=$?
check_eq "duplicate while mounted: the same message and exit" "1|wormctl: s3 user add $S: user 'dora' exists" "$rc|$out"
out=$("$WORMCTL" s3 user add "$S" 'bad name' --uid 5 2>&1)
check_eq "bad name while mounted: exit 2" 2 "$?"
check_eq "list while mounted" "alice carol dora" "$("$WORMCTL" s3 user list "$S" | awk '{ print $1 }' | tr '\n' ' ' | sed 's/ $//')"
check "remove while mounted" "$WORMCTL" s3 user remove "$S" carol
out=$("$WORMCTL" s3 user remove "$S" carol 2>&1); rc=$?
check_eq "remove again while mounted: exit 1" "1|wormctl: s3 user remove $S: no user 'carol'" "$rc|$out"
out=$("$WORMCTL" key rotate "$S" 2>&1); rc=$?
check_eq "key rotate while mounted (through the daemon)" \
	"0|active master key is now version 2; new data keys use it (wormctl key rewrap re-wraps existing ones)" "$rc|$out"
out=$("$WORMCTL" key rewrap "$S" 2>&1); rc=$?
check_eq "key rewrap while mounted (through the daemon): the users' secrets" \
	"0|re-wrapped 2 data keys under master key version 2 (by the daemon)" "$rc|$out"
mkdir "$M/bkt" && echo after-rotate >"$M/bkt/obj"
check_eq "a file written after the online rotate reads back" "after-rotate" "$(cat "$M/bkt/obj")"

# A caller who may reach the socket but is neither root nor the owner.
chmod 0755 "$S"; chmod 0666 "$S/ctl.sock"
out=$(setpriv --reuid="$TEST_UID" --regid="$TEST_UID" --clear-groups -- "$WORMCTL" s3 user list "$S" 2>&1); rc=$?
check_eq "non-owner caller: refused by the daemon (exit 1)" \
	"1|wormctl: s3 user list $S: permission denied: only root or the store's owner (uid 0) may use the control socket" "$rc|$out"
check_match "the refusal is logged" "refused op=ctl path=$S/ctl.sock uid=$TEST_UID errno=EACCES rule=ctl-peer" "$(cat "${MNT_LOG[$M]}")"
chmod 0600 "$S/ctl.sock"; chmod 0700 "$S"
out=$(setpriv --reuid="$TEST_UID" --regid="$TEST_UID" --clear-groups -- "$WORMCTL" s3 user add "$S" mallory --uid 0 2>&1); rc=$?
check_eq "non-owner caller through a 0600 socket: refused (exit 1)" 1 "$rc"

# Garbage on the socket: answers, then the daemon serves the next request.
ctl_raw() {
	python3 - "$S/ctl.sock" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect(sys.argv[1])
mode = sys.argv[2]
try:
    if mode == "garbage":
        s.sendall(b"\x00\xffnot json{{{\n")
    elif mode == "array":
        s.sendall(b"[1,2,3]\n")
    elif mode == "trailing":
        s.sendall(b'{"op":"user-list"} {"op":"user-list"}\n')
    elif mode == "unknown":
        s.sendall(b'{"op":"format-disk"}\n')
    elif mode == "types":
        s.sendall(b'{"op":"user-add","name":5,"uid":"x"}\n')
    elif mode == "negative":
        s.sendall(b'{"op":"user-add","name":"neg","uid":-1}\n')
    elif mode == "huge":
        s.sendall(b"x" * 70000)
    elif mode == "idle":
        pass
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    print(data.decode(errors="replace").strip() or "closed")
except Exception as e:
    print("error", type(e).__name__)
EOF
}
check_match "garbage: error reply" '"ok":false,"errno":22,"error":"request is not one JSON object"' "$(ctl_raw garbage)"
check_match "a JSON array: error reply" '"errno":22' "$(ctl_raw array)"
check_match "two objects on the line: error reply" '"errno":22' "$(ctl_raw trailing)"
check_match "unknown op: EOPNOTSUPP" '"errno":95,"error":"unknown op' "$(ctl_raw unknown)"
check_match "wrong types: EINVAL" '"errno":22,"error":"user-add needs name' "$(ctl_raw types)"
check_match "uid -1: EINVAL" '"errno":22' "$(ctl_raw negative)"
check_match "oversized request: EMSGSIZE" '"errno":90,"error":"request over 65536 bytes"' "$(ctl_raw huge)"
check_eq "idle client: dropped" "closed" "$(ctl_raw idle)"
check_match "the drop is logged" 'sent no request within 5000 ms: dropped' "$(cat "${MNT_LOG[$M]}")"
check "daemon alive: list works after the bad requests" "$WORMCTL" s3 user list "$S"
# Clients at once: served one after another, each gets its own key.
pids=()
for i in 1 2 3 4 5 6; do
	"$WORMCTL" s3 user add "$S" "par$i" --uid $((2000 + i)) >"$T_BASE/par$i.out" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"   # these only: the daemon is a child of this shell too
keys=$(cat "$T_BASE"/par?.out | awk '{ print $1 }' | sort -u | grep -c '^AKIA')
check_eq "six concurrent adds: six distinct keys" 6 "$keys"
check_eq "six concurrent adds: all listed" 6 "$("$WORMCTL" s3 user list "$S" | grep -c '^par')"
for i in 1 2 3 4 5 6; do "$WORMCTL" s3 user remove "$S" "par$i" >/dev/null 2>&1 || fail "remove par$i"; done
check_eq "the mount still serves" "after-rotate" "$(cat "$M/bkt/obj")"

umount_check "$M" "online session"
check_eq "socket removed at unmount" "gone" "$([ -e "$S/ctl.sock" ] && echo there || echo gone)"

# ============================================================ 3. after
check_eq "key list: version 2 active" "2" "$("$WORMCTL" key list "$S" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["active"])')"
check "verify after the online changes" "$WORMCTL" verify "$S"
check "audit verify after the online changes" "$WORMCTL" audit verify "$S"
check_match "audit: online rotate recorded" 'kind=key-ring op=rotate version=2 via=ctl peer_uid=0' "$("$WORMCTL" audit "$S")"
# The state digest matches: a writable mount is not refused.
mount_fg "$S" "$M" || fail "mount again after the online changes (state digest matches)"
check_eq "users after the remount" "alice dora" "$("$WORMCTL" s3 user list "$S" | awk '{ print $1 }' | tr '\n' ' ' | sed 's/ $//')"
# A stale socket: kill -9 leaves it behind.
crash_daemon "$M" "$S" || fail "crash the daemon"
check_eq "a killed daemon leaves its socket" "there" "$([ -S "$S/ctl.sock" ] && echo there || echo gone)"
check "stale socket, store not mounted: offline add works" "$WORMCTL" s3 user add "$S" frank --uid 9
check_match "stale socket: list offline" '^frank ' "$("$WORMCTL" s3 user list "$S" | tail -n 1)"
# A socket bound by someone else (here: in a directory they could write)
# gets no request from wormctl.
chmod 0777 "$S"; rm -f "$S/ctl.sock"
setpriv --reuid="$TEST_UID" --regid="$TEST_UID" --clear-groups -- /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); s.settimeout(15)
try:
    c, _ = s.accept(); c.sendall(b"{\"ok\":true,\"users\":[]}\n"); c.close()
except Exception:
    pass
' "$S/ctl.sock" &
FAKE=$!
for _ in $(seq 1 50); do [ -S "$S/ctl.sock" ] && break; sleep 0.1; done
out=$("$WORMCTL" s3 user list "$S" 2>&1); rc=$?
check_eq "a socket served by another uid: refused (exit 1)" \
	"1|wormctl: s3 user list $S: control socket: served by a process that is neither root nor the caller (refused)" "$rc|$out"
kill "$FAKE" 2>/dev/null; wait "$FAKE" 2>/dev/null
rm -f "$S/ctl.sock"; chmod 0700 "$S"
# Rewrap offline re-seals every user's secret, so version 1 can go.
check "key rewrap offline" "$WORMCTL" key rewrap "$S"
check "key remove 1 (no object or secret uses it)" "$WORMCTL" key remove "$S" 1
mount_fg "$S" "$M" || fail "mount replaces the stale socket"
check "the new daemon answers on the socket" "$WORMCTL" s3 user remove "$S" frank
check_eq "users after rewrap and remove" "alice dora" "$("$WORMCTL" s3 user list "$S" | awk '{ print $1 }' | tr '\n' ' ' | sed 's/ $//')"
umount_check "$M" "after the stale socket"
# A detached daemon (no -f) serves the socket too.
if mount_bg "$S" "$M"; then
	check "detached daemon: add through the socket" "$WORMCTL" s3 user add "$S" gina --uid 11
	check_match "detached daemon: list" '^gina ' "$("$WORMCTL" s3 user list "$S" | grep '^gina')"
	umount_fs "$M" || fail "unmount the detached daemon"
	check_eq "detached daemon: socket removed at unmount" "gone" "$([ -e "$S/ctl.sock" ] && echo there || echo gone)"
else
	fail "mount detached"
fi
check "verify at the end" "$WORMCTL" verify "$S"

done_testing
