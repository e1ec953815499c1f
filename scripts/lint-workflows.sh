#!/usr/bin/env bash
# Lints the GitHub workflows (.github/workflows/*.yml) with actionlint, built from the Go module proxy
# and cached under ${XDG_CACHE_HOME:-$HOME/.cache}/kubemcp/actionlint-<version>/ (needs Go on PATH;
# the first run builds it in about a minute).
# actionlint checks the shell of `run:` steps with shellcheck when shellcheck is on PATH; without it
# that check is skipped (and this script says so). The pyflakes check is off (no Python steps).
set -euo pipefail
cd "$(dirname "$0")/.."

version=v1.7.12
dir="${KUBEMCP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubemcp}/actionlint-$version"
bin="$dir/actionlint"

if [ ! -x "$bin" ]; then
  if ! command -v go >/dev/null; then
    echo "✗ Go is required to build actionlint $version and is not on PATH." >&2
    exit 1
  fi
  echo "building actionlint $version from the Go module proxy into $dir …" >&2
  mkdir -p "$dir"
  GOBIN="$dir" GOFLAGS="${GOFLAGS:-} -trimpath" go install "github.com/rhysd/actionlint/cmd/actionlint@$version"
fi

if command -v shellcheck >/dev/null; then
  shellcheck_arg=(-shellcheck "$(command -v shellcheck)")
  echo "actionlint $version (run: scripts checked with $(shellcheck --version | sed -n 's/^version: //p' | sed 's/^/shellcheck /'))"
else
  shellcheck_arg=(-shellcheck=)
  echo "actionlint $version (shellcheck not installed: run: scripts are not shell-checked)"
fi

shopt -s nullglob
files=(.github/workflows/*.yml .github/workflows/*.yaml)
if [ ${#files[@]} -eq 0 ]; then
  echo "no workflow files under .github/workflows" >&2
  exit 1
fi
"$bin" "${shellcheck_arg[@]}" -pyflakes= "${files[@]}"
echo "actionlint: ${files[*]} OK"
