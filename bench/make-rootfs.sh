#!/usr/bin/env bash
# make-rootfs.sh - build two Debian bookworm root filesystems for benchmarks.
#
#   OUTDIR/v1  debootstrap --variant=minbase bookworm
#   OUTDIR/v2  copy of v1, upgraded from bookworm-updates/-security plus a few
#              extra packages, so v1 -> v2 looks like a realistic OS update.
#
# Usage: bash bench/make-rootfs.sh [OUTDIR]   (as root; OUTDIR=/var/tmp/ots-bench)
#
# Device nodes, FIFOs and sockets are deleted from both trees at the end:
# OSTree commits only regular files, symlinks and directories, so such
# entries would make a commit fail.
# Each finished tree gets an OUTDIR/vN.done marker; finished trees are skipped
# and an unfinished one is removed and rebuilt. Failures leave no marker.
set -euo pipefail

OUT=${1:-/var/tmp/ots-bench}
mkdir -p "$OUT"
[ "$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 1; }

# Mirror URIs from the host apt config (deb822 .sources first, then sources.list).
apt_uris() {
  { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{for(i=2;i<=NF;i++)print $i}'
    grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
      sed 's/\[[^]]*\]//' | awk '{print $2}'; } || true
}
MIRROR=$(apt_uris | grep -v security | head -n1)
SECURITY=$(apt_uris | grep security | head -n1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
echo "mirror: $MIRROR  security: $SECURITY"

# Drop character/block devices, FIFOs and sockets (OSTree can't commit them).
strip_devices() { find "$1" -xdev \( -type c -o -type b -o -type p -o -type s \) -delete; }

# Unmount anything left mounted below a tree (e.g. from an interrupted run).
umount_below() { grep -o " $1/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l || true; }

step() { echo "== $* ($(date +%T))"; }

# --- debootstrap -------------------------------------------------------------
if ! command -v debootstrap >/dev/null; then
  step "installing debootstrap"
  apt-get install -y debootstrap || { apt-get update && apt-get install -y debootstrap; }
fi

# --- v1: minbase ----------------------------------------------------------------
if [ ! -e "$OUT/v1.done" ]; then
  step "building v1"; t0=$SECONDS
  umount_below "$OUT/v1"; rm -rf --one-file-system "$OUT/v1"
  debootstrap --variant=minbase bookworm "$OUT/v1" "$MIRROR"
  rm -rf "$OUT/v1"/var/cache/apt/archives/*.deb "$OUT/v1"/var/lib/apt/lists/*
  strip_devices "$OUT/v1"
  touch "$OUT/v1.done"; echo "v1 took $((SECONDS - t0))s"
fi

# --- v2: v1 + updates + extra packages ----------------------------------------
if [ ! -e "$OUT/v2.done" ]; then
  step "building v2"; t0=$SECONDS
  R=$OUT/v2
  umount_below "$R"; rm -rf --one-file-system "$R"  # never follow into a leftover /dev bind mount
  cp -a "$OUT/v1" "$R"
  # v1 has no device nodes any more; apt/dpkg need a working /dev and some
  # maintainer scripts need /proc. Mount both, always unmount on exit.
  trap 'umount_below "$R"' EXIT
  mount --bind /dev "$R/dev"; mount --bind /dev/pts "$R/dev/pts"  # pts: apt's term log
  mountpoint -q "$R/proc" || mount -t proc proc "$R/proc"
  cp /etc/resolv.conf "$R/etc/resolv.conf"
  cat > "$R/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY bookworm-security main
EOF
  export DEBIAN_FRONTEND=noninteractive LC_ALL=C
  chroot "$R" apt-get update
  chroot "$R" apt-get -y upgrade
  chroot "$R" apt-get -y install --no-install-recommends less procps iproute2 curl
  chroot "$R" apt-get clean
  rm -rf "$R"/var/lib/apt/lists/*
  umount_below "$R"; trap - EXIT
  strip_devices "$R"
  touch "$OUT/v2.done"; echo "v2 took $((SECONDS - t0))s"
fi

# --- summary ------------------------------------------------------------------
for v in v1 v2; do
  printf '%s: %s files, %s\n' "$v" "$(find "$OUT/$v" -xdev -type f | wc -l)" \
    "$(du -sh "$OUT/$v" | cut -f1)"
done
