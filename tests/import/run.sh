#!/bin/bash
# SPDX-License-Identifier: MIT
# `gatehouse import-haproxy` (issue #7): HAProxy configs in, gatehouse.conf
# out. For each config here:
#   - haproxy -c accepts the input (when haproxy is installed: proof the
#     seed setups are real HAProxy configs, not our idea of one);
#   - the output passes `gatehouse check`;
#   - the same names route to the same servers: routes.py reads the HAProxy
#     config on its own and the converted one, and the tables must match;
#   - what can't be translated is named as FILE:LINE with exit status 1.
# BUILD=DIR picks the build (default build). Ends with "import: N passed, M failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
GH=$BUILD/gatehouse
DIR=tests/import
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { # NAME COMMAND...: passes when the command succeeds
	local name=$1
	shift
	if "$@" >"$TMP/out" 2>&1; then ok "$name"; else bad "$name"; sed 's/^/     /' "$TMP/out"; fi
}

if [ ! -x "$GH" ]; then
	echo "FAIL $GH not built (make BUILD=$BUILD all)"
	echo "import: 0 passed, 1 failed"
	exit 1
fi

# convert NAME: $TMP/NAME.conf, $TMP/NAME.err, $TMP/NAME.rc
convert() {
	"$GH" import-haproxy "$DIR/$1.cfg" >"$TMP/$1.conf" 2>"$TMP/$1.err"
	echo $? >"$TMP/$1.rc"
}

haproxy_valid() {
	if ! command -v haproxy >/dev/null; then
		echo "skip haproxy -c -f $1.cfg (haproxy not installed)"
		return
	fi
	check "haproxy -c accepts $1.cfg" haproxy -q -c -f "$DIR/$1.cfg"
}

same_routes() { # NAME: the converted table equals the one read from HAProxy's
	python3 "$DIR/routes.py" haproxy "$DIR/$1.cfg" >"$TMP/$1.want"
	python3 "$DIR/routes.py" gatehouse "$TMP/$1.conf" >"$TMP/$1.got"
	if [ -s "$TMP/$1.want" ] && diff -u "$TMP/$1.want" "$TMP/$1.got" >"$TMP/diff"; then
		ok "$1: same names route to the same servers ($(grep -c . "$TMP/$1.want") facts)"
	else
		bad "$1: routing tables differ (want vs got)"
		sed 's/^/     /' "$TMP/diff"
	fi
}

has_line() { # NAME REGEX: the converted config has a matching line
	if grep -Eq -- "$2" "$TMP/$1.conf"; then ok "$1: has /$2/"; else bad "$1: no line /$2/"; fi
}

has_err() { # NAME REGEX: stderr has a matching line
	if grep -Eq -- "$2" "$TMP/$1.err"; then ok "$1: says /$2/"; else
		bad "$1: stderr lacks /$2/"
		sed 's/^/     /' "$TMP/$1.err"
	fi
}

rc_is() { # NAME RC
	local got
	got=$(cat "$TMP/$1.rc")
	if [ "$got" = "$2" ]; then ok "$1: exit status $2"; else
		bad "$1: exit status $got, want $2"
		sed 's/^/     /' "$TMP/$1.err"
	fi
}

checks_ok() { # NAME: gatehouse check accepts the output
	check "$1: gatehouse check accepts the output" "$GH" check -c "$TMP/$1.conf"
}

# --- the seed setups: redirect-only :80 and the L7 :80, both with :443 SNI
for seed in seed-redirect seed-route; do
	haproxy_valid "$seed"
	convert "$seed"
	rc_is "$seed" 0
	checks_ok "$seed"
	same_routes "$seed"
	# nothing essential reported, and nothing "cannot translate" at all
	if grep -q "cannot translate" "$TMP/$seed.err"; then
		bad "$seed: something was not translated"
		sed 's/^/     /' "$TMP/$seed.err"
	else
		ok "$seed: everything translated"
	fi
	# the unbracketed IPv6 of the seed, canonicalised
	has_line "$seed" '^ +tls +\[2601:40e:69:69::feed\]:443 '
	has_line "$seed" '^ +tls +\[2601:40e:69:69::beef\]:443 '
	has_line "$seed" '^site test1\.apalrd\.net$'
	has_line "$seed" '^site test2\.apalrd\.net$'
	# Debian's `timeout connect 5000` (ms), client/server 50000, inspect-delay 5s
	has_line "$seed" '^connect-timeout +5s '
	has_line "$seed" '^idle-timeout +50s '
	has_line "$seed" '^inspect-timeout +5s '
	has_line "$seed" '^listen +http +0\.0\.0\.0:80 '
	has_line "$seed" '^listen +tls +0\.0\.0\.0:443 '
	has_line "$seed" '^default +tls +reject'
done
has_line seed-route '^http-mode +route'
has_line seed-route '^ +http +\[2601:40e:69:69::feed\]:80 '
has_line seed-route '^ +http +\[2601:40e:69:69::beef\]:80 '
check "seed-route: check summary" grep -q "OK: 2 sites, 2 names, 4 servers (http: 2, tls: 2), http-mode route" \
	<("$GH" check -c "$TMP/seed-route.conf")
has_line seed-redirect '^http-mode +redirect-https'
if grep -Eq '^ +http ' "$TMP/seed-redirect.conf"; then bad "seed-redirect: has http servers"; else
	ok "seed-redirect: no http servers (every request but ACME is redirected)"; fi
check "seed-redirect: check summary" grep -q "OK: 2 sites, 2 names, 2 servers (http: 0, tls: 2), http-mode redirect-https" \
	<("$GH" check -c "$TMP/seed-redirect.conf")
has_err seed-redirect '^tests/import/seed-redirect\.cfg:[0-9]+: note: .*302.*301'

# --- the other forms: bracketed/unbracketed IPv6, IPv4, backup, PROXY, binds
haproxy_valid features
convert features
rc_is features 0
checks_ok features
same_routes features
has_line features '^listen +http +\[::\]:80 '
has_line features '^listen +tls +\[::\]:443 '
has_line features '^connect-timeout +4s '
has_line features '^idle-timeout +1m '
has_line features '^inspect-timeout +3s '
has_line features '^ +http +\[2001:db8:10::2\]:8080 '
has_line features '^ +tls +\[2001:db8:10::1\]:443 '
has_line features '^ +tls +\[2001:db8:40::1\]:443 '
has_line features '^ +proxy-protocol v2 .*send-proxy-v2'
has_line features '^ +proxy-protocol v1 .*send-proxy$'
has_line features '^default +http +fallback '
# server maxconn: summed into the site's cap; none when a server has no limit
has_line features '^ +site-max-connections +64 .*features\.cfg:52 maxconn'
has_line features '^queue-timeout +2s '
# server check inter rise fall: a check line for that server (#16.3),
# from a server line and from default-server
has_line features '^ +check inter 2s rise 3 fall 2 \[2001:db8:10::1\]:443 +# tests/import/features\.cfg:41 check$'
has_line features '^ +check inter 500ms \[2001:db8:20::25\]:443 +# tests/import/features\.cfg:46 check$'
has_line features '^ +check inter 500ms 198\.51\.100\.7:443 '
if grep -Eq '^ +check .*\[2001:db8:10::2\]:443' "$TMP/features.conf"; then
	bad "features: a server without check got a check line"; else
	ok "features: no check line for servers without check"; fi
has_err features '^tests/import/features\.cfg:36: note: site .www\.example\.net.: other servers have maxconn, this one none'
if grep -A8 '^site www\.example\.net' "$TMP/features.conf" | grep -q 'site-max-connections'; then
	bad "features: www.example.net got a cap although its http servers have no limit"; else
	ok "features: no cap for www.example.net (http servers without maxconn)"; fi
has_line features '^default +tls +www\.example\.net '
# backups after the others, and said so
if awk '/^site www.example.net/{s=1} s&&/^ +http/{print $2} /^$/{s=0}' "$TMP/features.conf" |
	tail -n1 | grep -qx '192.0.2.10:8080'; then ok "features: backup server listed last"; else
	bad "features: backup server not last"; fi
has_err features '^tests/import/features\.cfg:36: note: server .b. is a backup'
has_err features '^tests/import/features\.cfg:48: note: server .m2. is a backup'

# --- what can't be translated: FILE:LINE, exit 1, the rest still printed
convert bad-hostname
rc_is bad-hostname 1
has_err bad-hostname '^tests/import/bad-hostname\.cfg:17: cannot translate: .*web1\.example\.net.*never resolved'
checks_ok bad-hostname
has_line bad-hostname '^site good\.example\.net$'

# --- routing by ACL: named (several lines add up), anonymous, ||/or, SNI and Host
haproxy_valid acl
convert acl
rc_is acl 0
checks_ok acl
same_routes acl
has_line acl '^site store\.example\.net$'
has_err acl '^tests/import/acl\.cfg:28: note: .blog\.example\.net. already reaches backend .blog-tls.'

haproxy_valid bad-acl
convert bad-acl
rc_is bad-acl 1
has_err bad-acl '^tests/import/bad-acl\.cfg:16: cannot translate: .use_backend blog if from_lan.: acl .from_lan. \(line 14\) names no hosts'
has_err bad-acl '^tests/import/bad-acl\.cfg:17: cannot translate: .*a negated condition'
has_err bad-acl "^tests/import/bad-acl\\.cfg:18: cannot translate: .*joined by 'and'"
has_err bad-acl '^tests/import/bad-acl\.cfg:19: cannot translate: .*-m str'
checks_ok bad-acl
has_line bad-acl '^site www\.example\.net$'
has_line bad-acl '^site blog\.example\.net$'

convert bad-http
rc_is bad-http 1
has_err bad-http '^tests/import/bad-http\.cfg:10: cannot translate: .http-request set-header'
has_err bad-http '^tests/import/bad-http\.cfg:14: cannot translate: .bind :443 ssl crt'
checks_ok bad-http
if grep -q '^listen tls' "$TMP/bad-http.conf"; then bad "bad-http: the TLS-terminating frontend was kept"; else
	ok "bad-http: the TLS-terminating frontend is left out"; fi

convert bad-expression
rc_is bad-expression 1
has_err bad-expression '^tests/import/bad-expression\.cfg:12: cannot translate: .*map\('
has_err bad-expression '^tests/import/bad-expression\.cfg:21: cannot translate: .*send-proxy'
checks_ok bad-expression

# accept-proxy on one bind of two: that listen alone
has_line bad-expression '^listen +tls +0\.0\.0\.0:443 +accept-proxy 0\.0\.0\.0/0 ::/0 +# .*:15 bind :443 accept-proxy'
has_line bad-expression '^listen +http +0\.0\.0\.0:80 +# '
has_err bad-expression '^tests/import/bad-expression\.cfg:15: note: .*accept-proxy 0\.0\.0\.0/0 ::/0 trusts every peer'

# --- tcp-request rules on the source: the global list and per-source limits
haproxy_valid limits
convert limits
rc_is limits 0
checks_ok limits
same_routes limits
has_line limits '^allow 192\.0\.2\.0/24 2001:db8:ff1::/48 +# .*limits\.cfg:25 tcp-request connection accept if office'
has_line limits '^deny 198\.51\.0\.0/16 +# .*limits\.cfg:26 '
has_line limits '^source-connections 20 '
has_line limits '^source-rate 100/10s '
has_err limits '^tests/import/limits\.cfg:26: note: .*host bits set; written as 198\.51\.0\.0/16'
has_err limits '^tests/import/limits\.cfg:29: note: .*token bucket'
has_err limits "^tests/import/limits\\.cfg:20: note: frontend 'www-tls''s access rules and limits apply to every listen"
if grep -q "0ff1.*host bits" "$TMP/limits.err"; then bad "limits: a leading zero read as host bits"; else
	ok "limits: 2001:db8:0ff1::/48 has no host bits"; fi
# the lines come before the sites: gatehouse's global list
if awk '/^site /{s=1} s&&/^(allow|deny|source-)/{f=1} END{exit !f}' "$TMP/limits.conf"; then
	bad "limits: a global line after a site"; else ok "limits: global lines before the sites"; fi

haproxy_valid bad-limits
convert bad-limits
rc_is bad-limits 1
checks_ok bad-limits
has_err bad-limits "^tests/import/bad-limits\\.cfg:12: cannot translate: .*'accept unless'"
has_err bad-limits "^tests/import/bad-limits\\.cfg:14: cannot translate: per-source limits need 'tcp-request connection track-sc0 src'"
has_line bad-limits '^allow 192\.0\.2\.0/24 +# .*bad-limits\.cfg:13 '
has_line bad-limits '^deny all +# .*bad-limits\.cfg:13 '
if grep -q '^source-' "$TMP/bad-limits.conf"; then bad "bad-limits: a limit written without its table"; else
	ok "bad-limits: no limit without its table"; fi

# --- behind a balancer: accept-proxy on every bind
haproxy_valid proxy
convert proxy
rc_is proxy 0
checks_ok proxy
same_routes proxy
has_line proxy '^listen +http +0\.0\.0\.0:80 +accept-proxy 0\.0\.0\.0/0 ::/0 +# '
has_line proxy '^listen +tls +0\.0\.0\.0:443 +accept-proxy 0\.0\.0\.0/0 ::/0 +# '
has_err proxy '^tests/import/proxy\.cfg:11: note: .*accept-proxy 0\.0\.0\.0/0 ::/0 trusts every peer'

# a file that isn't there, and the usage
if "$GH" import-haproxy "$TMP/none.cfg" >/dev/null 2>"$TMP/none.err"; then bad "missing file: exit 0"; else
	ok "missing file: exit 1"; fi
"$GH" import-haproxy >/dev/null 2>&1
if [ $? = 2 ]; then ok "no FILE: usage, exit 2"; else bad "no FILE: want exit 2"; fi

echo "import: $pass passed, $fail failed"
[ "$fail" = 0 ]
