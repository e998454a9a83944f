#!/bin/bash
# Install the Debian packages gatehouse builds and tests with, if missing.
# Used by `make demo` and by CI; with arguments, those packages instead
# (bench/install-deps.sh). Does nothing when all are there.
set -euo pipefail
need=(make gcc pkg-config libsystemd-dev libssl-dev libseccomp-dev check
      clang libclang-rt-14-dev systemd systemd-container curl openssl iproute2 python3 groff-base
      debhelper dpkg-dev fakeroot rsync valgrind prometheus ngtcp2-client ngtcp2-server chromium)
[ $# -eq 0 ] || need=("$@")
missing=()
for p in "${need[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "missing packages: ${missing[*]}" >&2
	echo "run as root, or: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps apt from starting what it installs (haproxy, nginx and
# sniproxy for the bench) on machines that have an init
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
fi
trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
