#!/usr/bin/env bash
# Fetch Debian's cloud kernel (virtio/NVMe and ext4 built in) for the qemu boot
# test and print the path of its vmlinuz. Cached in $OTS_TEST_KERNEL_DIR
# (default /var/tmp/ots-test-kernel); needs only apt's configured mirror.
set -euo pipefail
dir=${OTS_TEST_KERNEL_DIR:-/var/tmp/ots-test-kernel}
found=$(ls "$dir"/root/boot/vmlinuz-* 2>/dev/null | head -1 || true)
if [ -z "$found" ]; then
  mkdir -p "$dir"
  pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
  [ -n "$pkg" ] || { echo "no linux-image-cloud-amd64 in apt's lists: run apt-get update" >&2; exit 1; }
  (cd "$dir" && apt-get download -q "$pkg" >/dev/null 2>&1 && mkdir -p root && dpkg-deb --fsys-tarfile ./"$pkg"_*.deb | tar -x -C root --wildcards './boot/vmlinuz-*' && rm -f ./"$pkg"_*.deb)
  found=$(ls "$dir"/root/boot/vmlinuz-* | head -1)
fi
echo "$found"
