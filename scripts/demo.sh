#!/usr/bin/env bash
# The main job on embedded defaults (local filesystem, loopback only):
#  1. a vendor builds two versions of a small bootable OS tree, commits them with
#     ots (signed with a throwaway ed25519 key), generates a static delta and
#     publishes the summary;
#  2. ots-server serves the repository on 127.0.0.1;
#  3. a machine's agent pulls and deploys version 1 into a fresh sysroot, then
#     upgrades to version 2 (through the delta) and shows the deployments, with
#     version 1 kept for rollback.
# Every step is checked with the real ostree CLI when it is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
[ -f dist/bundle/ots.js ] || npm run build >/dev/null
work=${1:-$(mktemp -d /tmp/ots-demo.XXXXXX)}
mkdir -p "$work"
ots() { bin/ots "$@"; }
have_ostree() { command -v ostree >/dev/null; }

make_tree() { # DIR VERSION
  local d=$1 v=$2
  mkdir -p "$d/usr/bin" "$d/usr/etc" "$d/usr/lib/modules/6.1.0" "$d/var" "$d/boot"
  printf 'NAME="Demo OS"\nID=demo\nPRETTY_NAME="Demo OS"\nVERSION_ID=%s\n' "$v" > "$d/usr/lib/os-release"
  printf 'welcome to Demo OS %s\n' "$v" > "$d/usr/etc/motd"
  printf '#!/bin/sh\necho hello from Demo OS %s\n' "$v" > "$d/usr/bin/hello"
  chmod 755 "$d/usr/bin/hello"
  ln -sf hello "$d/usr/bin/hi"
  printf 'kernel-%s' "$v" > "$d/usr/lib/modules/6.1.0/vmlinuz"
  printf 'initramfs-%s' "$v" > "$d/usr/lib/modules/6.1.0/initramfs.img"
}

echo "== vendor: build, commit, sign, delta, summary"
secret=$(node -e "const c=require('crypto');const{privateKey:k,publicKey:p}=c.generateKeyPairSync('ed25519');const s=k.export({format:'der',type:'pkcs8'}).subarray(16),P=p.export({format:'der',type:'spki'}).subarray(12);console.log(Buffer.concat([s,P]).toString('base64')+' '+P.toString('base64'))")
public=${secret#* }; secret=${secret% *}
ots --repo="$work/repo" init --mode=archive
make_tree "$work/tree1" 1
make_tree "$work/tree2" 2
c1=$(ots --repo="$work/repo" commit -b demo/x86_64/stable -s "Demo 1" --add-metadata-string=version=1 --sign="$secret" "$work/tree1")
c2=$(ots --repo="$work/repo" commit -b demo/x86_64/stable -s "Demo 2" --add-metadata-string=version=2 --sign="$secret" "$work/tree2")
ots --repo="$work/repo" static-delta generate --from="$c1" --to="$c2"
ots --repo="$work/repo" summary -u --sign="$secret"
ots --repo="$work/repo" fsck
if have_ostree; then ostree fsck --repo="$work/repo" | tail -1; fi

echo "== server: ots-server on 127.0.0.1"
node bin/ots-server.js --repo "$work/repo" --port 0 --log-level warn > "$work/server.out" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening "$work/server.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/server.out")
echo "serving $work/repo at $url"

echo "== machine: pull and deploy version 1, then upgrade to version 2"
sys="$work/sysroot"
ots admin init-fs "$sys"
ots admin os-init --sysroot="$sys" demo
ots --repo="$sys/ostree/repo" remote add --no-gpg-verify --sign-verify="ed25519=inline:$public" demo "$url"
ots --repo="$sys/ostree/repo" pull demo "demo/x86_64/stable@$c1"
ots admin deploy --sysroot="$sys" --os=demo --karg=root=LABEL=root "demo:demo/x86_64/stable"
ots admin upgrade --sysroot="$sys" --os=demo
ots admin status --sysroot="$sys"
cat "$sys"/boot/loader/entries/*.conf
if have_ostree; then
  echo "== the real ostree reads the sysroot:"
  ostree admin status --sysroot="$sys"
  ostree fsck --repo="$sys/ostree/repo" | tail -1
fi
echo "== done: $work"
