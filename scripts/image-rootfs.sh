#!/usr/bin/env bash
# Assembles the root of the operator image (Dockerfile, stage `runtime`) under the directory given:
# node stripped of symbol tables (kept with KEEP_NODE_SYMBOLS=1), the shared libraries it loads (as ldd resolves them here, so the
# same script serves amd64 and arm64), the CA bundle, users, nsswitch.conf, os-release, and the
# dpkg records and copyright files of the Debian packages those files come from.
set -euo pipefail
root=${1:?usage: image-rootfs.sh DIR}
node_bin=$(command -v node)

mkdir -p "$root"/usr/local/bin "$root"/etc/ssl/certs "$root"/var/lib/dpkg/status.d "$root"/tmp "$root"/app
chmod 1777 "$root"/tmp
if [ -n "${KEEP_NODE_SYMBOLS:-}" ]; then
  cp "$node_bin" "$root/usr/local/bin/node"
else
  strip --strip-all -o "$root/usr/local/bin/node" "$node_bin"
fi

libs=$(ldd "$node_bin" | grep -o '/[^ ]*' | sort -u)
for lib in $libs; do
  cp --parents -L "$lib" "$root"
done
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
cp /etc/os-release "$root/etc/os-release"

packages=$(for lib in $libs; do dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib"; done \
  | cut -d: -f1 | sort -u)
for pkg in $packages ca-certificates; do
  dpkg-query -s "$pkg" > "$root/var/lib/dpkg/status.d/$pkg"
  if [ -f "/usr/share/doc/$pkg/copyright" ]; then
    mkdir -p "$root/usr/share/doc/$pkg"
    cp "/usr/share/doc/$pkg/copyright" "$root/usr/share/doc/$pkg/"
  fi
done

cat > "$root/etc/passwd" <<'USERS'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
USERS
cat > "$root/etc/group" <<'GROUPS'
root:x:0:
nonroot:x:65532:
GROUPS
echo 'hosts: files dns' > "$root/etc/nsswitch.conf"

"$root/usr/local/bin/node" --version >/dev/null
echo "image root: node $("$node_bin" --version), packages: $(echo "$packages" ca-certificates | tr '\n' ' ')"
