#!/bin/bash
# Install what `make bench` needs from Debian, if missing (as root).
exec bash "$(dirname "$0")/../scripts/install-deps.sh" haproxy nginx libnginx-mod-stream sniproxy wrk python3 \
	openssl gcc libc6-dev libssl-dev make pkg-config libsystemd-dev libseccomp-dev strace linux-perf procps
