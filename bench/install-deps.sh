#!/bin/bash
# Install what `make bench` needs from Debian, if missing (as root).
set -euo pipefail
need=(haproxy nginx libnginx-mod-stream sniproxy wrk python3 openssl gcc libc6-dev libssl-dev
      make pkg-config libsystemd-dev libseccomp-dev strace procps)
missing=()
for p in "${need[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "bench: missing packages: ${missing[*]}" >&2
	echo "run as root, or: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "bench: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends; policy-rc.d keeps apt from starting the
# packaged haproxy/nginx/sniproxy services on machines that have an init
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && made_policy=1
fi
trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
