#!/bin/bash
# demo.sh: from a fresh Debian 12 machine to a mounted wormfs demo store.
#
#   bash tools/demo.sh         (as root)
#
# Installs the build and runtime packages (only those missing), builds
# wormfs in build/ (meson + ninja), creates a store in
# /var/tmp/wormfs-demo/store (once), mounts it on /var/tmp/wormfs-demo/mnt,
# creates the bucket "demo" with a sample object, serves the same store
# over S3 on 127.0.0.1 (port 9000), makes an S3 user for the demo (once:
# its key is kept in DEMO/s3-credentials, mode 0600) and prints what to
# try, through the mount and with the AWS CLI and boto3.
# Non-interactive and idempotent: a second run reuses the store, the user
# and its key, and says so if it is already mounted.
#
# Environment: WORMFS_DEMO_DIR (default /var/tmp/wormfs-demo),
#              WORMFS_BUILD_DIR (default build/ in the repository),
#              WORMFS_DEMO_S3_PORT (default 9000).
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${WORMFS_BUILD_DIR:-$ROOT/build}
DEMO=${WORMFS_DEMO_DIR:-/var/tmp/wormfs-demo}
STORE=$DEMO/store
MNT=$DEMO/mnt
BUCKET=demo
S3_PORT=${WORMFS_DEMO_S3_PORT:-9000}
ENDPOINT=http://127.0.0.1:$S3_PORT
CREDS=$DEMO/s3-credentials

# Build and runtime packages (every dependency() of meson.build; tests/
# run_all.sh installs these and its test tools), and the S3 clients of the
# quick start.
PACKAGES=(build-essential meson ninja-build pkg-config libfuse3-dev fuse3
	  libsodium-dev libssl-dev liblmdb-dev libcriterion-dev libinih-dev libjson-c-dev
	  zlib1g-dev libisal-dev libmicrohttpd-dev libexpat1-dev attr faketime gocryptfs
	  curl awscli python3-boto3)

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'demo.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (e.g. sudo bash $0)"

# 1. Packages: apt only when something is missing, so a second run is fast
# and works offline.
missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	say "Installing packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends "${PACKAGES[@]}"
else
	say "Packages already installed"
fi

# FUSE needs /dev/fuse (the module may not be loaded on a minimal system).
if [ ! -c /dev/fuse ]; then
	modprobe fuse 2>/dev/null || true
	[ -c /dev/fuse ] || die "/dev/fuse is missing (no FUSE support in this kernel or container)"
fi

# 2. Build.
if [ ! -f "$BUILD/build.ninja" ]; then
	say "Configuring $BUILD"
	meson setup "$BUILD" "$ROOT"
fi
say "Building (ninja -C $BUILD)"
ninja -C "$BUILD"
WORMFS=$BUILD/wormfs
WORMCTL=$BUILD/wormctl
if [ ! -x "$WORMFS" ] || [ ! -x "$WORMCTL" ]; then
	die "build did not produce $WORMFS and $WORMCTL"
fi

# 3. Store: create it once; never touch a directory that is something else.
if [ -f "$STORE/FORMAT" ]; then
	say "Reusing the store $STORE"
elif [ -d "$STORE" ] && [ -n "$(ls -A "$STORE")" ]; then
	die "$STORE exists, is not empty and is not a wormfs store; remove it or set WORMFS_DEMO_DIR"
else
	say "Creating the store $STORE"
	mkdir -p "$DEMO"
	"$WORMCTL" init "$STORE"
fi

# 4. Mount. findmnt reads the mount table without touching the mount
# point, which a dead daemon leaves unreachable (ENOTCONN).
fstype=$(findmnt -n -o FSTYPE --mountpoint "$MNT" 2>/dev/null | tail -1 || true)
# The same daemon serves S3 on 127.0.0.1 (a port in use fails the start
# with nothing mounted).
MOUNT_CMD=("$WORMFS" "$STORE" "$MNT" -o "s3.listen=127.0.0.1:$S3_PORT")
mount_demo() {
	"${MOUNT_CMD[@]}" ||   # daemonizes once the mount is up
		die "wormfs did not start (is port $S3_PORT in use? set WORMFS_DEMO_S3_PORT)"
}
fstype=$(findmnt -n -o FSTYPE --mountpoint "$MNT" 2>/dev/null | tail -1 || true)
if [ -z "$fstype" ]; then
	mkdir -p "$MNT"
	say "Mounting: ${MOUNT_CMD[*]}"
	mount_demo
elif [ "$fstype" != "fuse.wormfs" ]; then
	die "$MNT is already a mount point of type $fstype, not wormfs"
elif cat "$MNT/.wormfs/version" >/dev/null 2>&1; then
	say "Already mounted: $STORE on $MNT"
else
	# The daemon is gone ("Transport endpoint is not connected").
	say "Stale mount on $MNT (daemon not running): unmounting and mounting again"
	fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"
	mount_demo
fi
# Any answer (even 403) means the endpoint is up.
if ! curl -s -o /dev/null --max-time 5 "$ENDPOINT/"; then
	die "no S3 endpoint on $ENDPOINT: was $MNT mounted without it? unmount it
(fusermount3 -u $MNT) and run this script again"
fi

# 5. Demo bucket and a sample object.
if [ ! -d "$MNT/$BUCKET" ]; then
	say "Creating the bucket $BUCKET"
	"$WORMCTL" bucket create "$MNT/$BUCKET"
fi
if [ ! -e "$MNT/$BUCKET/hello.txt" ]; then
	echo "Hello from wormfs: this object is stored encrypted under its own data key." \
		> "$MNT/$BUCKET/hello.txt"
fi
say "Contents of $MNT/$BUCKET/hello.txt:"
cat "$MNT/$BUCKET/hello.txt"

# 6. The S3 user of the demo (uid 0, like the mount's root): made once,
# its key kept in a 0600 file, so a second run prints the same one. The
# store is mounted: wormctl goes through the daemon's control socket.
users=$("$WORMCTL" s3 user list "$STORE" | awk '{ print $1 }')
if [ -s "$CREDS" ] && grep -qx demo <<<"$users"; then
	say "Reusing the S3 user demo ($CREDS)"
else
	if grep -qx demo <<<"$users"; then
		# Its key was lost with the file: the secret is shown only once.
		"$WORMCTL" s3 user remove "$STORE" demo
	fi
	say "Creating the S3 user demo (uid 0); its key goes to $CREDS"
	(umask 077; "$WORMCTL" s3 user add "$STORE" demo --uid 0 >"$CREDS.tmp") &&
		mv -f "$CREDS.tmp" "$CREDS"
fi
chmod 0600 "$CREDS"
read -r S3_KEY S3_SECRET <"$CREDS"

# 7. What to try.
cat <<EOF

wormfs is mounted on $MNT (store: $STORE),
and the same store is served over S3 on $ENDPOINT.
Try, as root:

  cd $MNT/$BUCKET
  f=report-\$(date +%H%M%S).txt          # a fresh name each time
  echo "Q3 figures" > \$f                 # a mutable object

  # Lock it for one day (S3 Object Lock, COMPLIANCE mode):
  setfattr -n user.worm.retention -v "COMPLIANCE +1d" \$f
  rm \$f                  # rm: cannot remove '...': Operation not permitted (even root)
  echo more >> \$f        # Operation not permitted
  mv \$f other.txt        # Operation not permitted
  getfattr -d \$f         # user.worm.retention="COMPLIANCE <date>"
  getfattr -n user.worm.state \$f           # locked

  # GOVERNANCE mode: a bypass principal (root by default) can still delete,
  # but only in two steps (plain rm is refused):
  echo draft > g.txt
  setfattr -n user.worm.retention -v "GOVERNANCE +1h" g.txt
  rm g.txt                                       # Operation not permitted
  $WORMCTL rm --bypass-governance g.txt

  # Legal hold and a bucket default retention:
  setfattr -n user.worm.legal-hold -v ON hello.txt
  setfattr -n user.worm.default-retention -v "GOVERNANCE 1d" $MNT/$BUCKET

  # Inspect:
  $WORMCTL ls --locked $MNT
  $WORMCTL retention get \$f
  cat $MNT/.wormfs/clock                  # compliance clock
  cat $MNT/.wormfs/stats                  # Prometheus counters (refusals, KMS)
  $WORMCTL verify $STORE                  # every object present and authentic
  head -c 100000 /dev/urandom > big-\$(date +%H%M%S).bin   # over 16 KiB: a content file,
  find $STORE/objects -type f             # named by a random id, never by name
                                          # (smaller ones are sealed in meta/)

S3 (the same objects; credentials of the user "demo", kept in $CREDS;
new keys get fresh names, as above: the bucket's default retention locks
each new object for a day, so a key used once cannot be written again):

  export AWS_ACCESS_KEY_ID=$S3_KEY
  export AWS_SECRET_ACCESS_KEY=$S3_SECRET
  export AWS_DEFAULT_REGION=us-east-1
  aws --endpoint-url $ENDPOINT s3 ls s3://$BUCKET/
  aws --endpoint-url $ENDPOINT s3 cp s3://$BUCKET/hello.txt -
  k=from-s3/os-release-\$(date +%H%M%S)
  aws --endpoint-url $ENDPOINT s3 cp /etc/os-release s3://$BUCKET/\$k
  cat $MNT/$BUCKET/\$k    # at once a file in the mount

  # boto3:
  python3 - <<'PY'
import boto3, time
s3 = boto3.client("s3", endpoint_url="$ENDPOINT", region_name="us-east-1",
                  aws_access_key_id="$S3_KEY",
                  aws_secret_access_key="$S3_SECRET")
key = "boto3/note-%d.txt" % time.time_ns()    # a fresh key each run
s3.put_object(Bucket="$BUCKET", Key=key, Body=b"written with boto3")
print(s3.get_object(Bucket="$BUCKET", Key=key)["Body"].read().decode())
print([o["Key"] for o in s3.list_objects_v2(Bucket="$BUCKET")["Contents"]])
PY

  # A lock set through the mount refuses an S3 delete (403 AccessDenied):
  f=s3-locked-\$(date +%H%M%S).txt
  aws --endpoint-url $ENDPOINT s3 cp /etc/hostname s3://$BUCKET/\$f
  setfattr -n user.worm.retention -v "COMPLIANCE +1d" $MNT/$BUCKET/\$f
  aws --endpoint-url $ENDPOINT s3 rm s3://$BUCKET/\$f
      # delete failed: ... An error occurred (AccessDenied) when calling the DeleteObject operation

Unmount:   fusermount3 -u $MNT
Mount:     ${MOUNT_CMD[*]}
Logs:      the daemon logs to syslog (journalctl -t wormfs); run it with -f
           to keep it in the foreground with logs on stderr.
Run again: bash $0   (reuses the store)
EOF
