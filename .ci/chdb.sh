#!/usr/bin/env bash
# Fetches current ClickHouse for the tests — the engine of chDB, libchdb.so,
# shipped in the npm package below — verifies the package against the
# pinned sha512, and prints the path of libchdb.so (for
# TRUSTPIPE_TEST_CHDB_LIB). The package and the extracted library are
# cached under ${XDG_CACHE_HOME:-~/.cache}/trustpipe/chdb; npm keeps its
# own cache too. Needs npm (.ci/test.sh installs it from Debian).
set -euo pipefail

pkg=@chdb/lib-linux-x64-gnu
version=26.7.3-stable.1   # chDB's build of ClickHouse 26.7.2.1
# The package's sha512 (its npm integrity, sha512-XP97mMqn…wpw==, in hex).
sha512=5cff7b98caa7739b59a4a432c11f0dedc2d3b073624e61ebdf4a42e66ce8de35a6ba48ca9f62016bad1cd81fe059435cb858ce3235a8a2b408082a81563e70a7

[ "$(uname -s)/$(uname -m)" = Linux/x86_64 ] || { echo "chdb: $pkg is built for Linux x86_64 only" >&2; exit 1; }
cache=${XDG_CACHE_HOME:-$HOME/.cache}/trustpipe/chdb/$version
tarball=$cache/chdb-lib-linux-x64-gnu-$version.tgz
lib=$cache/libchdb.so
mkdir -p "$cache"

sum() { sha512sum "$1" | cut -d' ' -f1; }

if [ ! -f "$tarball" ] || [ "$(sum "$tarball")" != "$sha512" ]; then
  rm -f "$tarball" "$lib"
  echo "chdb: fetching $pkg@$version (about 180 MB)" >&2
  (cd "$cache" && npm pack --silent "$pkg@$version" >/dev/null)
fi
got=$(sum "$tarball")
if [ "$got" != "$sha512" ]; then
  rm -f "$tarball"
  echo "chdb: $pkg@$version has sha512 $got, pinned $sha512" >&2
  exit 1
fi
if [ ! -f "$lib" ]; then
  tmp=$(mktemp -d "$cache/extract.XXXXXX")
  tar -xzf "$tarball" -C "$tmp" package/libchdb.so
  mv "$tmp/package/libchdb.so" "$lib"
  rm -rf "$tmp"
fi
echo "$lib"
