#!/usr/bin/env bash
# The namespace rules of design.md section 3: buckets at the root, S3 bucket
# names, refused node types, EXDEV across buckets, the .wormfs directory and
# its Prometheus statistics (also the refusal counter of section 10).
. "$(dirname "$0")/lib.sh"
require_binaries

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted"

# ---- bucket names (S3 rules)
for n in AB ab a..b 192.168.0.1 -abc abc- ab_c "a b" Abc "$(printf 'a%.0s' $(seq 64))"; do
	check_errno "bucket name '$n': EINVAL" EINVAL mkdir "$M/$n"
	check_errno "bucket name '$n' left nothing behind" ENOENT access "$M/$n" f
done
for n in my-bucket.1 abc 1.2.3 a-b "$(printf 'b%.0s' $(seq 63))"; do
	check_errno "bucket name '$n' accepted" OK mkdir "$M/$n"
	check_eq "bucket '$n' is a directory" directory "$(stat -c %F "$M/$n" 2>&1)"
done
check_errno "existing bucket: EEXIST" EEXIST mkdir "$M/abc"

# ---- what the root refuses
check_errno "file at root: EPERM" EPERM create "$M/forbidden-at-root"
check_errno "refused root file not created" ENOENT access "$M/forbidden-at-root" f
check_errno "symlink at root: EPERM" EPERM symlink abc "$M/rootlink"
check_errno "mknod at root: EPERM" EPERM mknod "$M/rootnode"
check_errno "mkfifo at root: EPERM" EPERM mkfifo "$M/rootfifo"
check_errno "bucket rename: EPERM" EPERM rename "$M/abc" "$M/abd"
check_errno "bucket rename to existing bucket: EPERM" EPERM rename "$M/abc" "$M/a-b"
check_errno "bucket moved into another bucket: EPERM" "EPERM|EXDEV" rename "$M/abc" "$M/a-b/sub"
check_errno "bucket still there after refused renames" OK access "$M/abc" f

# ---- inside a bucket
B=$M/my-bucket.1
check_errno "file in bucket" OK write "$B/f" data
check_errno "hard link: EPERM" EPERM link "$B/f" "$B/hard"
check_errno "hard link across buckets: EPERM or EXDEV" "EPERM|EXDEV" link "$B/f" "$M/abc/hard"
# Refused by ns like every other rule: in the refusal log with its full
# path, counted as op=link, in the audit trail.
check "hard link refusal logged (op=link, path, rule)" grep -qF \
	"refused op=link path=/my-bucket.1/hard uid=0 errno=EPERM rule=hard-links" "${MNT_LOG[$M]}"
check_match "hard link refusals counted as op=link" '^wormfs_refusals_total\{op="link"\} [1-9]' \
	"$(grep '^wormfs_refusals_total{op="link"}' "$M/.wormfs/stats")"
for i in $(seq 1 40); do grep -q 'kind=refusal op=link' "$M/.wormfs/audit" && break; sleep 0.1; done
check_match "hard link refusal in the audit trail" \
	'kind=refusal op=link path=/my-bucket.1/hard uid=0 errno=1 rule=hard-links' "$(cat "$M/.wormfs/audit")"
check_errno "mknod char device: EPERM" EPERM mknod "$B/node"
check_errno "mkfifo: EPERM" EPERM mkfifo "$B/fifo"
check_errno "unix socket: EPERM" EPERM mksock "$B/sock"
check_eq "refused nodes left nothing behind" "f" "$(ls "$B" | tr '\n' ' ' | sed 's/ $//')"
check_errno "file moved to the root: EPERM" "EPERM|EXDEV" rename "$B/f" "$M/f"
check_errno "rmdir non-empty bucket: ENOTEMPTY" ENOTEMPTY rmdir "$B"
check_errno "rmdir empty bucket" OK rmdir "$M/1.2.3"
check_errno "removed bucket gone" ENOENT access "$M/1.2.3" f

# Across buckets: EXDEV, so mv copies.
check_errno "rename across buckets: EXDEV" EXDEV rename "$B/f" "$M/abc/f"
mkdir "$B/dd"
check_errno "dir rename across buckets: EXDEV" EXDEV rename "$B/dd" "$M/abc/dd"
mkdir -p "$B/tree/sub"
head -c 200000 /dev/urandom >"$T_BASE/blob"
cp "$T_BASE/blob" "$B/tree/sub/blob"
check "mv of a file across buckets" mv "$B/f" "$M/abc/f"
check_eq "moved file content" data "$(cat "$M/abc/f" 2>&1)"
check_errno "source gone after mv" ENOENT access "$B/f" f
check "mv of a directory tree across buckets" mv "$B/tree" "$M/abc/tree"
check "moved tree content identical" cmp "$T_BASE/blob" "$M/abc/tree/sub/blob"
check_errno "source tree gone after mv" ENOENT access "$B/tree" f

# ---- .wormfs
check_eq ".wormfs is a directory" directory "$(stat -c %F "$M/.wormfs" 2>&1)"
check_match ".wormfs/version readable" '[0-9]+\.[0-9]+' "$(cat "$M/.wormfs/version" 2>&1)"
clock=$(cat "$M/.wormfs/clock" 2>&1)
check_match ".wormfs/clock is RFC 3339" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$' "$clock"
cs=$(date -d "$clock" +%s 2>/dev/null || echo 0)
check_match ".wormfs/clock within 5 minutes of the system clock" '^1$' "$(( cs - $(date +%s) < 300 && $(date +%s) - cs < 300 ))"
check_errno ".wormfs is not a bucket: no files in it" "EROFS|EPERM" create "$M/.wormfs/new"
for f in version stats clock; do
	check_errno "open .wormfs/$f for writing: EROFS or EPERM" "EROFS|EPERM" open "$M/.wormfs/$f" WRONLY
	check_errno "truncate .wormfs/$f: EROFS or EPERM" "EROFS|EPERM" truncate "$M/.wormfs/$f" 0
	check_errno "unlink .wormfs/$f: EROFS or EPERM" "EROFS|EPERM" unlink "$M/.wormfs/$f"
done
check_errno "chmod .wormfs/stats: EROFS or EPERM" "EROFS|EPERM" chmod "$M/.wormfs/stats" 0666
check_errno "setxattr on .wormfs/stats: EROFS or EPERM" "EROFS|EPERM" setxattr "$M/.wormfs/stats" user.x y
check_errno "mkdir in .wormfs: EROFS or EPERM" "EROFS|EPERM" mkdir "$M/.wormfs/d"
check_errno "rename .wormfs/version: EROFS or EPERM" "EROFS|EPERM|EXDEV" rename "$M/.wormfs/version" "$M/abc/v"
check_errno "rmdir .wormfs: EROFS or EPERM" "EROFS|EPERM" rmdir "$M/.wormfs"
check_errno "rename .wormfs: EROFS or EPERM" "EROFS|EPERM" rename "$M/.wormfs" "$M/xyz"
check_errno ".wormfs/version still readable" OK open "$M/.wormfs/version" RDONLY

# ---- stats: Prometheus text format, counters move
# Counter samples as "series value" lines.
counters() {
	awk '$1 == "#" && $2 == "TYPE" && $4 == "counter" { c[$3] = 1; next }
	     /^#/ || NF < 2 { next }
	     { n = $1; sub(/\{.*/, "", n); b = n; sub(/_total$/, "", b)
	       if ((n in c) || (b in c)) print $1, $2 }' "$@"
}
# Sum of samples whose metric name mentions refusals.
refusals() {
	awk '/^#/ || NF < 2 { next } { n = $1; sub(/\{.*/, "", n) } tolower(n) ~ /refus|denied|reject/ { s += $2; f = 1 }
	     END { if (f) print s + 0; else print "none" }' "$@"
}
cat "$M/.wormfs/stats" >"$T_BASE/stats0" 2>&1
check "stats readable" test -s "$T_BASE/stats0"
bad=$(grep -Ev '^(#.*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? ([-+]?[0-9.]+([eE][-+]?[0-9]+)?|NaN|[-+]?Inf)( -?[0-9]+)?)?$' "$T_BASE/stats0")
check_eq "stats is Prometheus text format (every line a comment or a sample)" "" "$bad"
check_match "stats declares counters (# TYPE ... counter)" . "$(counters "$T_BASE/stats0")"
check_match "stats declares a refusal counter" '^[0-9]' "$(refusals "$T_BASE/stats0")"
diag "stats metric names: $(grep -v '^#' "$T_BASE/stats0" | sed 's/[{ ].*//' | sort -u | tr '\n' ' ')"

# Some work: objects written and read back.
for i in $(seq 1 20); do h write "$M/abc/s$i" "payload $i" >/dev/null; cat "$M/abc/s$i" >/dev/null; done
cat "$M/.wormfs/stats" >"$T_BASE/stats1" 2>&1
inc=$(join <(counters "$T_BASE/stats0" | sort) <(counters "$T_BASE/stats1" | sort) | awk '$3 > $2 { print $1 }')
dec=$(join <(counters "$T_BASE/stats0" | sort) <(counters "$T_BASE/stats1" | sort) | awk '$3 < $2 { print $1, $2, "->", $3 }')
check_match "some counter increased after 20 writes and reads" . "$inc"
diag "increased: $(echo $inc)"
check_eq "no counter decreased" "" "$dec"

r0=$(refusals "$T_BASE/stats1")
check_errno "a refused operation" EPERM create "$M/refused-at-root"
r1=$(refusals <(cat "$M/.wormfs/stats"))
check_match "refusal counter increased after a refused operation ($r0 -> $r1)" '^1$' \
	"$( [ "$r0" != none ] && [ "$r1" != none ] && awk -v a="$r0" -v b="$r1" 'BEGIN { print (b > a) }')"
check "refusal logged with the path" grep -q 'refused-at-root' "${MNT_LOG[$M]}"

umount_check "$M" "namespace"
done_testing
