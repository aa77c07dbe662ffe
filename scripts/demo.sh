#!/usr/bin/env bash
# The main job on embedded defaults: build a demo OS tree, commit it into an
# archive repository with ots, publish a summary, verify the repository with
# both ots and (when installed) the real ostree, and check it out again.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
[ -f dist/puller/cli.js ] || npm run build >/dev/null
work=${1:-$(mktemp -d /tmp/ots-demo.XXXXXX)}
ots() { node bin/ots.js "$@"; }

mkdir -p "$work/tree/usr/bin" "$work/tree/usr/etc" "$work/tree/usr/lib/modules/6.1.0"
echo "demo OS 1.0" > "$work/tree/usr/etc/os-release"
printf '#!/bin/sh\necho hello from ostree-ts\n' > "$work/tree/usr/bin/hello"
chmod 755 "$work/tree/usr/bin/hello"
ln -sf hello "$work/tree/usr/bin/hi"

ots --repo="$work/repo" init --mode=archive
commit=$(ots --repo="$work/repo" commit -b demo/stable -s "Demo 1.0" --add-metadata-string=version=1.0 "$work/tree")
ots --repo="$work/repo" summary -u
echo "== committed $commit"
ots --repo="$work/repo" log demo/stable
ots --repo="$work/repo" ls -R demo/stable
ots --repo="$work/repo" fsck
if command -v ostree >/dev/null; then
  echo "== real ostree reads it:"
  ostree fsck --repo="$work/repo"
  ostree summary --repo="$work/repo" -v | head -5
fi
ots --repo="$work/repo" checkout demo/stable "$work/checkout"
diff -r "$work/tree" "$work/checkout" && echo "== checkout matches the source tree ($work/checkout)"
