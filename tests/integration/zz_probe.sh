#!/usr/bin/env bash
. "$(dirname "$0")/lib.sh"
require_binaries
S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "init"; done_testing; }
mount_fg "$S" "$M" -o allow_other || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
U() { setpriv --reuid=1000 --regid=1000 --clear-groups -- "$@"; }
V() { setpriv --reuid=2000 --regid=2000 --clear-groups -- "$@"; }
B=$M/pbk; mkdir $B; chmod 0777 $B
V sh -c "echo victim > $B/v; chmod 0666 $B/v"
for val in "GOVERNANCE +1d" "compliance +1d" "COMPLIANCE +1h" "GOVERNANCE 2030-01-01T00:00:00Z" " GOVERNANCE +1d\n" "GOVERNANCE\t+1y"; do
  check_errno_as_user "non-owner retention '$val'" EPERM setxattr $B/v user.worm.retention "$(printf "$val")"
done
check_errno_as_user "non-owner hold" EPERM setxattr $B/v user.worm.legal-hold ON
check_errno_as_user "non-owner hold ' on'" EPERM setxattr $B/v user.worm.legal-hold " on"
check_errno "root GOV +1d" OK setxattr $B/v user.worm.retention "GOVERNANCE 2030-01-01T00:00:00Z"
check_errno_as_user "non-owner extend same date" EPERM setxattr $B/v user.worm.retention "GOVERNANCE 2030-01-01T00:00:00Z"
check_errno_as_user "non-owner gov->comp same date" EPERM setxattr $B/v user.worm.retention "COMPLIANCE 2030-01-01T00:00:00Z"
check_errno_as_user "non-owner gov->comp later" EPERM setxattr $B/v user.worm.retention "COMPLIANCE 2031-01-01T00:00:00Z"
check_errno_as_user "non-owner remove" EPERM removexattr $B/v user.worm.retention
check_errno_as_user "non-owner default on bucket owned by root" EPERM setxattr $B user.worm.default-retention "COMPLIANCE 1d"
check_eq "victim value" "GOVERNANCE 2030-01-01T00:00:00Z" "$(h getxattr $B/v user.worm.retention)"
# default retention triggered by a non-owner writer on a pre-existing mutable object
V sh -c "echo victim2 > $B/v2; chmod 0666 $B/v2"
setfattr -n user.worm.default-retention -v "COMPLIANCE 1d" $B
U sh -c ": >> $B/v2"
sleep 0.3
diag "v2 after non-owner open+close in default bucket: $(h getxattr $B/v2 user.worm.state) $(h getxattr $B/v2 user.worm.retention)"
# NULs, long, non-ascii
python3 - "$B" <<'PY'
import os,sys,errno
b=sys.argv[1]; f=b+"/n"; open(f,"w").write("x")
def t(name,val,path=f):
    try: os.setxattr(path,name,val); r="OK"
    except OSError as e: r=errno.errorcode[e.errno]
    print("# %-28s %-40r %s"%(name,val[:40],r))
R="user.worm.retention"; H="user.worm.legal-hold"; D="user.worm.default-retention"; L="user.worm.lock-config"
for v in [b"GOVERNANCE +1d\0", b"GOVERNANCE +1d\0\0", b"GOVERNANCE\0+1d", b"ON\0", b"O\0N", b" "*127+b"ON", b" "*200+b"ON", b"GOVERNANCE +"+b"9"*10+b"y", b"GOVERNANCE +"+b"9"*11+b"d", b"GOVERNANCE +0d", b"GOVERNANCE +-1d", b"GOVERNANCE +36501d", b"GOVERNANCE +101y", b"GOVERNANCE +100y",b"GOVERNANCE +876001h", b"GOVERNANCE 2106-02-08T00:00:00Z", b"GOVERNANCE 2030-06-30T23:59:60Z", b"GOVERNANCE \xef\xbc\x8b1d", b"G\xc3\x96VERNANCE +1d", b"GOVERNANCE 2030-01-01", b"GOVERNANCE 2030-01-01 00:00:00Z", b"GOVERNANCE +1d +1d", b"GOVERNANCE\r\n+1d", b"GOVERNANCE +1d\r\n"]:
    t(R if not v.startswith((b"O",b" ")) else H, v)
os.mkdir(b+"/../db2") if False else None
PY
B2=$M/lockb; mkdir $B2
setfattr -n user.worm.default-retention -v "COMPLIANCE 100y" $B2
setfattr -n user.worm.lock-config -v in-progress $B2
cfg=$(h getxattr $B2 user.worm.lock-config); id=$(echo "$cfg" | awk '{print $2}')
for v in "GOVERNANCE 1d" "compliance 99y" "COMPLIANCE 36500d" "COMPLIANCE 36499d" "GOVERNANCE 100y"; do
 check_errno "in-progress change to '$v'" EPERM setxattr $B2 user.worm.default-retention "$v"
done
check_errno "in-progress same value, other case/space" OK setxattr $B2 user.worm.default-retention "$(printf ' compliance\t100Y\n')"
check_errno "in-progress remove" EPERM removexattr $B2 user.worm.default-retention
check_errno "remove lock-config" EPERM removexattr $B2 user.worm.lock-config
check_errno "start again while in progress" "EBUSY|EPERM|EINVAL" setxattr $B2 user.worm.lock-config in-progress
check_errno "complete" OK setxattr $B2 user.worm.lock-config "locked $id"
check_errno "complete twice" EINVAL setxattr $B2 user.worm.lock-config "locked $id"
check_eq "default" "COMPLIANCE 100y" "$(h getxattr $B2 user.worm.default-retention)"
# race: abort+weaken+restart vs complete
B3=$M/raceb; mkdir $B3; bad=0; lockedn=0; pids=
for i in $(seq 1 100); do
  setfattr -n user.worm.default-retention -v "COMPLIANCE 100y" $B3 2>/dev/null
  setfattr -n user.worm.lock-config -v in-progress $B3
  id=$(h getxattr $B3 user.worm.lock-config | awk '{print $2}')
  ( setfattr -n user.worm.lock-config -v unlocked $B3 2>/dev/null; setfattr -n user.worm.default-retention -v "GOVERNANCE 1d" $B3 2>/dev/null; setfattr -n user.worm.lock-config -v in-progress $B3 2>/dev/null ) & pids="$pids $!"
  ( setfattr -n user.worm.lock-config -v "locked $id" $B3 2>/dev/null; setfattr -n user.worm.lock-config -v "locked $id" $B3 2>/dev/null ) & pids="$pids $!"
  wait $pids; pids=
  st=$(h getxattr $B3 user.worm.lock-config); d=$(h getxattr $B3 user.worm.default-retention)
  if [ "$st" = locked ]; then lockedn=$((lockedn+1)); [ "$d" = "COMPLIANCE 100y" ] || { bad=$((bad+1)); diag "locked with $d"; }; rmdir $B3; mkdir $B3; continue; fi
  setfattr -n user.worm.lock-config -v unlocked $B3 2>/dev/null
done
diag "race: i=$i locked=$lockedn bad=$bad"
grep -c "lock change" ${MNT_LOG[$M]} | sed 's/^/# lock changes logged: /'
umount_check "$M" probe
done_testing
