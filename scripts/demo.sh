#!/bin/bash
# `make demo`: gatehouse on unprivileged ports with two demo sites whose
# backends listen on [::1] — one TLS with its own certificate, one plain
# HTTP — and curl showing that SNI and Host pick the right backend.
set -euo pipefail
BUILD=${BUILD:-build}
dir=$(mktemp -d /tmp/gatehouse-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
[ -n "${DEMO_DEBUG:-}" ] && trap "cat $dir/gatehouse.log; cleanup" EXIT

cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=secure.demo.test -keyout tls.key -out tls.crt 2>/dev/null
mkdir -p www && echo "hello from the plain HTTP backend (www.demo.test)" > www/index.html
cat > gatehouse.conf <<CONF
listen http [::1]:8080
listen tls  [::1]:8443
inspect-timeout 5s

site www.demo.test
    http [::1]:9080

site secure.demo.test
    tls [::1]:9443

default http reject
default tls  reject
CONF

python3 -m http.server --bind ::1 --directory www 9080 >/dev/null 2>&1 & pids+=($!)
openssl s_server -quiet -accept '[::1]:9443' -cert tls.crt -key tls.key -www >/dev/null 2>&1 & pids+=($!)

gh=$(python3 "$OLDPWD/scripts/start-ready.py" gatehouse.log "$OLDPWD/$BUILD/gatehouse" run -c gatehouse.conf)
pids+=("$gh")
# the backends are ours too: wait until each answers
for i in $(seq 50); do curl -s -o /dev/null http://[::1]:9080/ && break; sleep 0.1; done
for i in $(seq 50); do (exec 3<>/dev/tcp/::1/9443) 2>/dev/null && break; sleep 0.1; done

echo "== gatehouse check"
"$OLDPWD/$BUILD/gatehouse" check -c gatehouse.conf
echo
echo "== HTTP, routed by Host: www.demo.test"
curl -sS -H 'Host: www.demo.test' http://[::1]:8080/
echo
echo "== HTTPS, routed by SNI (TLS passes through; the backend's certificate answers)"
curl -sS -k --resolve secure.demo.test:8443:[::1] https://secure.demo.test:8443/ -o /dev/null \
	-w 'connected to %{remote_ip}:%{remote_port}, certificate: ' ; \
	echo | openssl s_client -connect '[::1]:8443' -servername secure.demo.test 2>/dev/null | grep -m1 '^subject='
echo
echo "== an unknown Host gets 421 from the listener itself"
curl -sS -i -H 'Host: nobody.demo.test' http://[::1]:8080/ | head -1
echo
echo "== gatehouse's log (one line per connection)"
kill -TERM "$gh"; while kill -0 "$gh" 2>/dev/null; do sleep 0.05; done
cat gatehouse.log
