#!/usr/bin/env bash
# pjdfstest (POSIX conformance) inside a bucket. pjdfstest is not part of
# this repository: the test runs only when WORMFS_PJDFSTEST names a built
# pjdfstest checkout (the directory holding the pjdfstest binary and
# tests/), and skips saying so otherwise. docs/pjdfstest.md tells how to
# get and build it, and why some of its test files fail on wormfs: wormfs
# refuses hard links, device nodes, FIFOs and sockets (EPERM) by design.
# The test fails when a test file fails that is not on that list (a real
# deviation), or when pjdfstest does not run to completion. It takes
# 5-15 minutes.
. "$(dirname "$0")/lib.sh"

PJD=${WORMFS_PJDFSTEST:-}
if [ -z "$PJD" ]; then
	skip "pjdfstest" "WORMFS_PJDFSTEST is not set: give it a built pjdfstest checkout (docs/pjdfstest.md)"
	done_testing
fi
if [ ! -x "$PJD/pjdfstest" ] || [ ! -f "$PJD/tests/conf" ]; then
	fail "WORMFS_PJDFSTEST=$PJD is a built pjdfstest checkout" \
		"expected $PJD/pjdfstest (run autoreconf -ifs && ./configure && make there) and $PJD/tests/conf"
	done_testing
fi
command -v prove >/dev/null || { fail "prove (perl) is installed" "apt-get install perl"; done_testing; }
command -v openssl >/dev/null || { fail "openssl is installed (pjdfstest makes its names with it)"; done_testing; }
if [ "$(id -u)" != 0 ]; then
	skip "pjdfstest" "pjdfstest must run as root (it switches uids)"
	done_testing
fi
require_binaries
PJD=$(cd "$PJD" && pwd)

# The test files that fail on wormfs, each because of the refusals by
# design or their cascades (docs/pjdfstest.md, section 2).
EXPECTED="chmod/00 chmod/01 chmod/11 chown/00 chown/01 chown/07 link/00 link/01
link/02 link/03 link/06 link/07 link/09 link/10 mkdir/01 mkdir/10 mkfifo/00
mkfifo/01 mkfifo/02 mkfifo/03 mkfifo/05 mkfifo/06 mkfifo/09 mknod/00 mknod/01
mknod/02 mknod/03 mknod/05 mknod/06 mknod/08 mknod/11 open/01 open/06 open/17
open/22 open/24 rename/00 rename/09 rename/10 rename/12 rename/13 rename/14
rename/20 rename/23 rmdir/01 rmdir/06 symlink/08 unlink/00 unlink/11
utimensat/00"

S=$T_BASE/store M=$T_BASE/mnt OUT=$T_BASE/pjd.out
make_store "$S" || { fail "wormctl init"; done_testing; }
# pjdfstest switches uids itself: allow_other.
mount_fg "$S" "$M" -o allow_other || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
mkdir -p "$M/pjd/t" && chmod 0755 "$M/pjd" "$M/pjd/t"
(cd "$M/pjd/t" && timeout 1800 prove -r "$PJD/tests") >"$OUT" 2>&1
rc=$?
grep -E '^(Files=|Result: )' "$OUT" | sed 's/^/# /'
check_match "pjdfstest ran to completion (prove exit $rc)" '^Result: ' "$(grep '^Result:' "$OUT")"

# prove's summary: "/DIR/tests/chmod/00.t (Wstat: 0 Tests: 119 Failed: 60)".
unexpected="" failing=""
while read -r f n; do
	failing="$failing $f:$n"
	case " $(echo $EXPECTED) " in
	*" $f "*) ;;
	*) unexpected="$unexpected $f" ;;
	esac
done < <(sed -n "s|^$PJD/tests/\([^ ]*\)\.t *(Wstat: [0-9]* Tests: [0-9]* Failed: \([0-9]*\)).*|\1 \2|p" "$OUT")
diag "failing test files (file:failed subtests):${failing:- none}"
passing=""
for f in $EXPECTED; do
	case " $failing " in *" $f:"*) ;; *) passing="$passing $f" ;; esac
done
[ -z "$passing" ] || diag "expected to fail but passed (a refusal gone, or a different pjdfstest):$passing"
check_eq "every failing test file is one of the refusal files in docs/pjdfstest.md" "" "${unexpected# }"
umount_check "$M" "pjdfstest"
done_testing
