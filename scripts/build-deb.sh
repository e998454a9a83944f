#!/bin/bash
# SPDX-License-Identifier: MIT
# Build the Debian package from the working tree (uncommitted work
# included), in a clean copy, and leave the results in OUTDIR:
#
#   scripts/build-deb.sh [--install-deps] [--no-lintian] OUTDIR
#
# The copy excludes build directories and .git, so nothing built here leaks
# into the package. dpkg-buildpackage -us -uc -b runs there (binary only,
# unsigned), then lintian checks the .changes and its .deb: any error or
# warning fails the build. --install-deps installs missing build
# dependencies with apt-get (as root).
set -euo pipefail

install_deps=0
lintian=1
out=
while [ $# -gt 0 ]; do
	case $1 in
	--install-deps) install_deps=1 ;;
	--no-lintian) lintian=0 ;;
	-h | --help)
		sed -n '3,13p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	-*)
		echo "build-deb: unknown option $1" >&2
		exit 2
		;;
	*) out=$1 ;;
	esac
	shift
done
if [ -z "$out" ]; then
	echo "usage: scripts/build-deb.sh [--install-deps] [--no-lintian] OUTDIR" >&2
	exit 2
fi

top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
for tool in dpkg-buildpackage dpkg-parsechangelog rsync; do
	if ! command -v "$tool" >/dev/null; then
		echo "build-deb: $tool missing: apt-get install dpkg-dev debhelper rsync" >&2
		exit 1
	fi
done

version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
source=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Source)
work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/$source-$version

# what the package is built from: the tree as it is, minus build output
rsync -a --delete \
	--exclude='/.git/' --exclude='/build*/' --exclude='/bench/build*/' \
	--exclude='/debian/.debhelper/' --exclude='/debian/'"$source"'/' \
	--exclude='/debian/tmp/' --exclude='/debian/files' --exclude='/debian/*.substvars' \
	--exclude='/debian/debhelper-build-stamp' --exclude='*.o' --exclude='*.d' \
	"$top/" "$src/"

cd "$src"
if ! dpkg-checkbuilddeps 2>"$work/deps"; then
	if [ "$install_deps" = 1 ] && [ "$(id -u)" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get build-dep -y "$src"
	else
		cat "$work/deps" >&2
		echo "build-deb: install them with: sudo apt-get build-dep $top (or pass --install-deps as root)" >&2
		exit 1
	fi
fi

dpkg-buildpackage -us -uc -b

cd "$work"
changes=$(ls "$source"_"$version"_*.changes)
files=("$changes")
# the .changes lists what was built: .deb, dbgsym .deb, .buildinfo
while read -r f; do
	files+=("$f")
done < <(sed -n '/^Files:/,/^[^ ]/s/^ [0-9a-f]\{32\} [0-9]* [^ ]* [^ ]* //p' "$changes")
cp "${files[@]}" "$out/"

if [ "$lintian" = 1 ]; then
	if command -v lintian >/dev/null; then
		# errors and warnings fail; overrides carry their reason in debian/
		lintian --fail-on error,warning --display-info "$out/$changes"
	else
		echo "build-deb: lintian not installed: skipped (apt-get install lintian)" >&2
	fi
fi
echo "build-deb: results in $out:"
for f in "${files[@]}"; do echo "  $f"; done
