#!/bin/bash
# Runs in the kind base image and writes to stdout a tarball of a small root filesystem for
# kube-proxy and kube-router: iptables (nft and legacy), ipset, conntrack, nft, ip, a shell and a
# few coreutils, with the shared libraries of every binary and of every xtables extension (without
# libm, iptables-restore fails with "Couldn't load match 'statistic'").
set -euo pipefail
list=$(mktemp)
# Paths are recorded under /usr (merged /usr: /bin, /sbin, /lib and /lib64 are links into it).
add() {
  local p=${1#/}
  case $p in bin/* | sbin/* | lib/* | lib64/*) p=usr/$p ;; esac
  printf '%s\n' "$p" >>"$list"
}
bins=(xtables-nft-multi xtables-legacy-multi ipset conntrack nft ip sh dash cat cp mv mkdir rm ls ln sleep)
for b in "${bins[@]}"; do
  p=$(command -v "$b") || { echo "netfilter root: $b is not in the base" >&2; exit 1; }
  add "$p"
done
for f in /usr/sbin/ip6tables* /usr/sbin/iptables* /usr/sbin/arptables* /usr/sbin/ebtables*; do
  [ -e "$f" ] && add "$f"
done
elves=()
for b in "${bins[@]}"; do elves+=("$(readlink -f "$(command -v "$b")")"); done
for f in /usr/lib/x86_64-linux-gnu/xtables/*.so /usr/lib/x86_64-linux-gnu/libnftables.so*; do
  [ -e "$f" ] && { add "$f"; elves+=("$f"); }
done
for f in "${elves[@]}"; do
  ldd "$f" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' | while read -r lib; do
    add "$lib"
    add "$(readlink -f "$lib")"
  done
done
for f in /etc/protocols /etc/services /etc/ethertypes /etc/nsswitch.conf /etc/passwd /etc/group; do
  [ -e "$f" ] && add "$f"
done
stage=$(mktemp -d)
sort -u "$list" -o "$list"
# -L: symbolic links (alternatives, library names) are copied as the files they name.
while read -r f; do cp -L --parents "/$f" "$stage/"; done <"$list"
cd "$stage"
ln -s usr/bin bin
ln -s usr/sbin sbin
ln -s usr/lib lib
ln -s usr/lib64 lib64
mkdir -p run tmp
chmod 1777 tmp
tar -c .
