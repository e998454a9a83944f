#!/bin/bash
# The gatehouse system test, run inside systemd-nspawn with systemd as PID 1
# by gatehouse-systemtest.service (see run.sh). The units, generator,
# sysusers and tmpfiles snippets are the ones `make install` staged.
#
# Prints "PASS N what" or "FAIL N what" per check (reasons on the "  - "
# lines above it) to the console and to /srv/results/results; run.sh counts
# them. Exit status 0 only if every check passed.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export SYSTEMD_PAGER='' SYSTEMD_COLORS=0 LC_ALL=C.UTF-8
T=/srv/systemtest		# tests/system, read-only
RES=/srv/results		# written here, read by run.sh on the host
W=/run/gh-systest		# scratch
CONF=/etc/gatehouse/gatehouse.conf
NS=ghb				# the backends' network namespace
SRV=fd00:ab::2			# the backends' address in it
mkdir -p "$W"
. /srv/lib/checks.sh
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }

lpid() { systemctl show -P MainPID gatehouse-listener.service; }
listener_up() { [ "$(systemctl is-active gatehouse-listener.service)" = active ] && [ "$(lpid)" != 0 ]; }
fwd_units() { systemctl list-units --plain --no-legend --state=running 'gatehouse-forwarder@*.service' | sed 's/ .*//'; }
fwd_pids() {
	local u
	for u in $(fwd_units); do systemctl show -P MainPID "$u"; done | grep -v '^0$'
}
gh_procs() { pgrep -f '^/opt/gatehouse/libexec/gatehouse/' | tr '\n' ' '; }
# http_get HOST URL: body of a plain HTTP request through gatehouse
http_get() { curl -sS --max-time 5 -H "Host: $1" "$2"; }
tls_get() {	# NAME: body over :443 with SNI NAME, cert verified for NAME
	curl -sS --max-time 5 --cacert "$W/cert.pem" --resolve "$1:443:127.0.0.1" "https://$1/"
}
# req_loop N FILE: N sequential requests through :80 (a new connection each,
# from one python process: 200 curl processes take 15-30 s here), one line
# per request: "200" or what went wrong
req_loop() { python3 $T/loop.py "$1" web.test "$2"; }
loop_report() {	# N FILE [RESETS]: every request answered 200, but RESETS resets?
	local got bad resets
	got=$(lines "$2")
	bad=$(grep -vc '^200$' "$2")
	resets=$(grep -c 'ConnectionResetError' "$2")
	if [ "$got" -ne "$1" ] || [ "$bad" -gt "${3:-0}" ] || [ "$bad" -ne "$resets" -a "$bad" -ne 0 ]; then
		no "$got of $1 requests done, $bad not answered 200: $(grep -v '^200$' "$2" | head -n 5 | tr '\n' ' ')"
	elif [ "$bad" -ne 0 ]; then
		info "$bad request(s) reset: $(grep -v '^200$' "$2" | head -n 1)"
	fi
}
write_config() {
	mkdir -p /etc/gatehouse
	chmod 0755 /etc/gatehouse
	cat >"$CONF" <<EOF
# gatehouse system test: backends live in network namespace $NS at $SRV
inspect-timeout 5s
connect-timeout 2s
idle-timeout 50s
http-mode route

site web.test www.web.test
    http [$SRV]:8080
    tls  [$SRV]:8443

site other.test
    http [$SRV]:8081

default http reject
default tls  reject
EOF
	chmod 0644 "$CONF"
}

# ---------------------------------------------------------------- setup
begin 0 "setup: config, IPv6 backends in netns $NS, generator drop-in"
write_config
gatehouse=/opt/gatehouse/sbin/gatehouse
msg=$($gatehouse check -c "$CONF" 2>&1) || no "gatehouse check rejects the test config: $msg"

ip netns add $NS &&
	ip link add gh0 type veth peer name gh1 netns $NS &&
	ip addr add fd00:ab::1/64 dev gh0 nodad && ip link set gh0 up &&
	ip -n $NS addr add $SRV/64 dev gh1 nodad && ip -n $NS link set gh1 up &&
	ip -n $NS link set lo up || no "could not set up netns $NS and the veth pair"

# /etc is the staged one: no /etc/ssl/openssl.cnf here
printf '[req]\ndistinguished_name = dn\n[dn]\n' >"$W/openssl.cnf"
export OPENSSL_CONF=$W/openssl.cnf
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=web.test -addext subjectAltName=DNS:web.test \
	-keyout "$W/key.pem" -out "$W/cert.pem" 2>"$W/openssl.err" || no "openssl req: $(cat "$W/openssl.err")"
chmod 0644 "$W/key.pem"
mkdir -p "$W/www1" "$W/www2"
echo "http-backend web.test" >"$W/www1/index.html"
echo "http-backend other.test" >"$W/www2/index.html"
backend() {	# UNIT CMD...: a backend unit inside the namespace
	local u=$1; shift
	systemd-run -q --unit="$u" -p NetworkNamespacePath=/run/netns/$NS "$@" || no "systemd-run $u failed"
}
backend gh-backend-web /usr/bin/python3 -m http.server --bind $SRV --directory "$W/www1" 8080
backend gh-backend-other /usr/bin/python3 -m http.server --bind $SRV --directory "$W/www2" 8081
backend gh-backend-tls /usr/bin/python3 $T/backend.py "$W/cert.pem" "$W/key.pem" $SRV 8443 web.test
wait_for 50 curl -sfg -o /dev/null --max-time 1 "http://[$SRV]:8080/" || no "backend [$SRV]:8080 not answering"
wait_for 50 curl -sfg -o /dev/null --max-time 1 "http://[$SRV]:8081/" || no "backend [$SRV]:8081 not answering"
wait_for 50 curl -sfg -o /dev/null --max-time 1 --cacert "$W/cert.pem" --resolve "web.test:8443:[$SRV]" \
	https://web.test:8443/ || no "TLS backend [$SRV]:8443 not answering"

# the generator reads the config on daemon-reload
systemctl daemon-reload || no "systemctl daemon-reload failed"
dropin=/run/systemd/generator/gatehouse-forwarder@.service.d/50-servers.conf
grep -qx "IPAddressAllow=$SRV" "$dropin" 2>/dev/null ||
	no "generator wrote no IPAddressAllow=$SRV ($dropin: $(cat "$dropin" 2>&1 | tr '\n' ' '))"
end

# ------------------------------------------------------------- check 1
begin 1 "enable --now: sockets listening, no gatehouse process before the first connection"
msg=$(systemctl enable --now gatehouse-http.socket gatehouse-tls.socket 2>&1) ||
	no "systemctl enable --now gatehouse-http.socket gatehouse-tls.socket failed: $msg"
for s in gatehouse-http.socket gatehouse-tls.socket gatehouse-forwarder.socket; do
	st=$(systemctl is-enabled $s 2>&1)
	[ "$st" = enabled ] || no "$s is '$st' after enable, expected enabled (Install Also=)"
done
for s in gatehouse-http.socket gatehouse-tls.socket; do
	st=$(systemctl is-active $s)
	[ "$st" = active ] || no "$s is '$st', expected active (listening)"
done
for p in 80 443; do
	[ -n "$(ss -Hltn "sport = :$p")" ] || no "nothing listens on TCP port $p"
done
p=$(gh_procs)
[ -z "$p" ] || no "gatehouse processes run before any connection: pids $p"
st=$(systemctl is-active gatehouse-listener.service)
[ "$st" = inactive ] || no "gatehouse-listener.service is '$st' before any connection, expected inactive"
[ -z "$(fwd_units)" ] || no "forwarder instances run before any connection: $(fwd_units | tr '\n' ' ')"
end

# ------------------------------------------------------------- check 2
begin 2 "first connections start the services and reach the IPv6 backends (Host on :80, SNI on :443)"
body=$(http_get web.test http://127.0.0.1/ 2>&1)
[ "$body" = "http-backend web.test" ] || no "curl -H 'Host: web.test' http://127.0.0.1/ gave '$body'"
body=$(http_get other.test 'http://[::1]/' 2>&1)
[ "$body" = "http-backend other.test" ] || no "curl -H 'Host: other.test' http://[::1]/ gave '$body'"
body=$(tls_get web.test 2>"$W/tls.err")
[ "$body" = "tls-backend web.test" ] || no "https://web.test/ over :443 gave '$body' ($(tail -n 2 "$W/tls.err" | tr '\n' ' '))"
cn=$(openssl s_client -connect 127.0.0.1:443 -servername web.test </dev/null 2>/dev/null |
	openssl x509 -noout -subject 2>/dev/null)
case "$cn" in
*"CN = web.test"* | *"CN=web.test"*) ;;
*) no "the certificate served over :443 with SNI web.test has subject '$cn', expected CN=web.test" ;;
esac
listener_up || no "gatehouse-listener.service is not active after the first connection"
# default `forwarders`: one per CPU but one, at least one (common/daemon.c)
want=$(( $(nproc) > 1 ? $(nproc) - 1 : 1 ))
wait_for 20 eval '[ "$(fwd_pids | wc -l)" -ge "$want" ]' ||
	no "$(fwd_pids | wc -l) forwarder instances running, expected $want (one per listener channel)"
info "listener pid $(lpid), forwarder units: $(fwd_units | tr '\n' ' ')"
end

# ------------------------------------------------------------- check 3
begin 3 "listener and forwarders: Seccomp 2, NoNewPrivs 1, CapEff 0, not root; IP allow list"
vet() {	# WHAT PID
	local what=$1 pid=$2 st sc nnp cap uid root
	st=$(cat "/proc/$pid/status" 2>/dev/null) || { no "$what pid $pid: no /proc/$pid/status"; return; }
	sc=$(sed -n 's/^Seccomp:[[:space:]]*//p' <<<"$st")
	nnp=$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' <<<"$st")
	cap=$(sed -n 's/^CapEff:[[:space:]]*//p' <<<"$st")
	uid=$(sed -n 's/^Uid:[[:space:]]*//p' <<<"$st" | tr -s '[:space:]' '/')
	uid=${uid%/}
	root=$(readlink "/proc/$pid/root")
	[ "$sc" = 2 ] || no "$what pid $pid: Seccomp: $sc, expected 2 (filter mode)"
	[ "$nnp" = 1 ] || no "$what pid $pid: NoNewPrivs: $nnp, expected 1"
	[ "$cap" = 0000000000000000 ] || no "$what pid $pid: CapEff: $cap, expected 0000000000000000"
	case "/$uid/" in */0/*) no "$what pid $pid: Uid (real/effective/saved/fs) $uid includes root" ;; esac
	info "$what pid $pid: uid $uid ($(id -nu "${uid%%/*}" 2>/dev/null || echo dynamic)), root $root, its / holds: $(ls "/proc/$pid/root/" 2>&1 | tr '\n' ' ')"
}
p=$(lpid)
[ "$p" != 0 ] && vet listener "$p" || no "no listener main pid"
n=0
for p in $(fwd_pids); do vet forwarder "$p"; n=$((n + 1)); done
[ $n -gt 0 ] || no "no forwarder process to look at"
# the generator's drop-in is in force: the forwarders may reach the
# configured servers and nothing else
for u in $(fwd_units | head -n 1); do
	allow=$(systemctl show -P IPAddressAllow "$u") deny=$(systemctl show -P IPAddressDeny "$u")
	case " $allow " in *" $SRV/128 "* | *" $SRV "*) ;; *) no "$u: IPAddressAllow is '$allow', expected $SRV" ;; esac
	case "$deny" in *::/0*) ;; *) no "$u: IPAddressDeny is '$deny', expected any" ;; esac
	info "$u: IPAddressAllow=$allow IPAddressDeny=$deny"
done
end

# ------------------------------------------------------------- check 4
begin 4 "journalctl GATEHOUSE_SITE=web.test -o json: every field, RESULT=ok"
fields="GATEHOUSE_CLIENT GATEHOUSE_KIND GATEHOUSE_NAME GATEHOUSE_SITE GATEHOUSE_SERVER GATEHOUSE_BYTES_IN GATEHOUSE_BYTES_OUT GATEHOUSE_DURATION_MS GATEHOUSE_RESULT"
journal_ok() {
	journalctl -q --no-pager GATEHOUSE_SITE=web.test -o json >"$W/j4.json" 2>&1
	python3 - "$W/j4.json" $fields >"$W/j4.out" 2>&1 <<'EOF'
import json, sys
path, keys = sys.argv[1], sys.argv[2:]
recs = [json.loads(l) for l in open(path) if l.startswith("{")]
problems = []
if not recs:
    problems.append("no record")
for r in recs:
    miss = [k for k in keys if k not in r]
    if miss:
        problems.append("record %r lacks %s" % (r.get("MESSAGE"), " ".join(miss)))
    elif r["GATEHOUSE_RESULT"] != "ok":
        problems.append("record %r has GATEHOUSE_RESULT=%s" % (r.get("MESSAGE"), r["GATEHOUSE_RESULT"]))
kinds = {r.get("GATEHOUSE_KIND") for r in recs}
for k in ("http", "tls"):
    if k not in kinds:
        problems.append("no record with GATEHOUSE_KIND=%s" % k)
if not any(r.get("GATEHOUSE_SERVER", "").startswith("[fd00:ab::2]:") for r in recs):
    problems.append("no record with GATEHOUSE_SERVER=[fd00:ab::2]:PORT")
print("; ".join(problems) if problems else "%d records" % len(recs))
sys.exit(1 if problems else 0)
EOF
}
if wait_for 30 journal_ok; then
	info "$(cat "$W/j4.out"), e.g. $(journalctl -q --no-pager GATEHOUSE_SITE=web.test -o cat -n 1)"
else
	no "$(head -c 600 "$W/j4.out")"
fi
end

# ------------------------------------------------------------- check 5
# The one client the listener may hold at the kill (accepted, being
# inspected: tens of microseconds each) dies with it, as a client in any
# proxy's hands does on SIGKILL; the backlog keeps all others.
begin 5 "SIGKILL of the listener under 200 sequential requests: at most the one it held fails, listener restarted"
old=$(lpid)
restarts0=$(systemctl show -P NRestarts gatehouse-listener.service)
req_loop 200 "$W/loop5" &
loop=$!
wait_for 100 eval '[ "$(lines "$W/loop5")" -ge 30 ]' || no "the request loop does not progress"
done_at_kill=$(lines "$W/loop5")
[ "$old" != 0 ] && kill -KILL "$old" || no "could not kill the listener (pid $old)"
wait $loop
[ "$done_at_kill" -lt 200 ] || no "the loop had finished before the kill; nothing was tested"
loop_report 200 "$W/loop5" 1
wait_for 50 listener_up || no "gatehouse-listener.service is not active again after SIGKILL"
new=$(lpid)
[ "$new" != "$old" ] && [ "$new" != 0 ] || no "listener pid still $old (or none) after SIGKILL"
restarts1=$(systemctl show -P NRestarts gatehouse-listener.service)
[ "$restarts1" -gt "$restarts0" ] || no "NRestarts $restarts0 -> $restarts1: systemd did not restart it"
body=$(http_get web.test http://127.0.0.1/ 2>&1)
[ "$body" = "http-backend web.test" ] || no "after the restart curl gave '$body'"
info "killed pid $old after $done_at_kill requests; new listener pid $new"
end

# ------------------------------------------------------------- check 6
begin 6 "systemctl reload under load keeps an established relay flowing"
rm -f "$W/stop" "$W/progress"
python3 $T/stream.py 127.0.0.1 443 web.test "$W/cert.pem" "$W/progress" "$W/stop" >"$W/stream.out" 2>&1 &
stream=$!
progress() { cat "$W/progress" 2>/dev/null || echo 0; }
wait_for 50 eval '[ "$(progress)" -ge 5 ]' || no "the long relay does not flow before the reload: $(cat "$W/stream.out")"
old=$(lpid)
old_fwd=$(fwd_pids | tr '\n' ' ')
req_loop 100 "$W/loop6" &
loop=$!
wait_for 50 eval '[ "$(lines "$W/loop6")" -ge 10 ]'
msg=$(systemctl reload gatehouse-listener.service 2>&1) || no "systemctl reload failed: $msg"
wait_for 50 eval 'listener_up && [ "$(lpid)" != "$old" ]' || no "no new listener after the reload (pid still $(lpid))"
p0=$(progress)
wait_for 50 eval '[ "$(progress)" -ge $((p0 + 20)) ]' ||
	no "the relay stopped after the reload: $p0 -> $(progress) round trips; $(cat "$W/stream.out")"
wait $loop
loop_report 100 "$W/loop6"
alive=
for p in $old_fwd; do [ -d /proc/$p ] && alive="$alive $p"; done
[ -n "$alive" ] || no "no forwarder from before the reload is alive, yet the relay must be in one"
touch "$W/stop"
wait $stream || no "the long relay broke: $(cat "$W/stream.out")"
info "listener $old -> $(lpid); $(cat "$W/stream.out"); pre-reload forwarder(s) still relaying:$alive"
gone() { local p; for p in $old_fwd; do [ -d /proc/$p ] && return 1; done; return 0; }
wait_for 50 gone || no "forwarders from before the reload did not exit once their relays ended:$(for p in $old_fwd; do [ -d /proc/$p ] && echo -n " $p"; done)"
end

begin 7 "reload with a broken config fails, the old listener keeps serving, the journal says FILE:LINE why"
cp "$CONF" "$W/good.conf"
echo "bogus-directive 1" >>"$CONF"
line=$(wc -l <"$CONF")
old=$(lpid)
since=$(date '+%Y-%m-%d %H:%M:%S')
if msg=$(systemctl reload gatehouse-listener.service 2>&1); then
	no "systemctl reload with a broken config exited 0"
fi
sleep 0.3
[ "$(lpid)" = "$old" ] && listener_up || no "the listener changed or stopped: pid $old -> $(lpid), $(systemctl is-active gatehouse-listener.service)"
body=$(http_get web.test http://127.0.0.1/ 2>&1)
[ "$body" = "http-backend web.test" ] || no "after the failed reload curl gave '$body'"
body=$(tls_get web.test 2>&1)
[ "$body" = "tls-backend web.test" ] || no "after the failed reload https://web.test/ gave '$body'"
want="$CONF:$line: "
wait_for 20 eval 'journalctl -q --no-pager -u gatehouse-listener.service --since "$since" -o cat | grep -qF "$want"' ||
	no "the journal of gatehouse-listener.service does not say '$want': $(journalctl -q --no-pager -u gatehouse-listener.service --since "$since" -o cat | tail -n 4 | tr '\n' '|')"
info "journal: $(journalctl -q --no-pager -u gatehouse-listener.service --since "$since" -o cat | grep -F "$CONF:$line" | head -n 1)"
cp "$W/good.conf" "$CONF"
end

begin 10 "health checks under systemd: one sandboxed checker, a dead server down in the journal and skipped"
cp "$CONF" "$W/pre-health.conf"
sed -i "s|^    http \[$SRV\]:8081\$|    http [$SRV]:8081 [$SRV]:8099\n    check inter 300ms rise 2 fall 2|" "$CONF"
grep -q '^    check inter 300ms' "$CONF" || no "could not add the check line: $(cat "$CONF" | tr '\n' '|')"
systemctl daemon-reload || no "systemctl daemon-reload failed"
hdropin=/run/systemd/generator/gatehouse-health.service.d/50-servers.conf
grep -qx "IPAddressAllow=$SRV" "$hdropin" 2>/dev/null ||
	no "generator wrote no IPAddressAllow=$SRV for the checker ($hdropin: $(cat "$hdropin" 2>&1 | tr '\n' ' '))"
st=$(systemctl is-enabled gatehouse-health.socket 2>&1)
[ "$st" = enabled ] || no "gatehouse-health.socket is '$st', expected enabled (Also= of the http and tls sockets)"
old=$(lpid)
msg=$(systemctl reload gatehouse-listener.service 2>&1) || no "systemctl reload failed: $msg"
wait_for 50 eval 'listener_up && [ "$(lpid)" != "$old" ]' || no "no new listener after the reload"
# the new forwarders start on the listener's channels and ask for the page
down() { journalctl -q --no-pager -u gatehouse-health.service -o cat GATEHOUSE_RESULT=server_down "GATEHOUSE_SERVER=[$SRV]:8099"; }
wait_for 100 eval '[ -n "$(down)" ]' ||
	no "no server_down record for [$SRV]:8099: $(journalctl -q --no-pager -u gatehouse-health.service -o cat | tail -n 5 | tr '\n' '|')"
info "journal: $(down | head -n 1)"
hpid=$(systemctl show -P MainPID gatehouse-health.service)
if [ "$hpid" != 0 ] && [ -r /proc/$hpid/status ]; then
	grep -q '^Seccomp:[[:space:]]*2' /proc/$hpid/status || no "gatehouse-health has no seccomp filter"
	grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$hpid/status || no "gatehouse-health lacks NoNewPrivs"
	grep -q '^CapEff:[[:space:]]*0*$' /proc/$hpid/status || no "gatehouse-health has capabilities"
	[ "$(awk '/^Uid:/ {print $2}' /proc/$hpid/status)" != 0 ] || no "gatehouse-health runs as root"
else
	no "gatehouse-health.service has no main process"
fi
[ "$(pgrep -fc '^/opt/gatehouse/libexec/gatehouse/gatehouse-health')" = 1 ] || no "not exactly one checker: $(pgrep -fa gatehouse-health | tr '\n' '|')"
since=$(date '+%Y-%m-%d %H:%M:%S')
sleep 1	# the journal's --since has a one-second grain
bad=0
for i in $(seq 1 20); do
	body=$(http_get other.test 'http://[::1]/' 2>&1)
	[ "$body" = "http-backend other.test" ] || bad=$((bad + 1))
done
[ $bad = 0 ] || no "$bad of 20 requests to other.test not answered by its live server"
dialled=$(journalctl -q --no-pager --since "$since" -o cat | grep -F "connect to [$SRV]:8099")
[ -z "$dialled" ] || no "a forwarder dialled the down server: $(echo "$dialled" | head -n 2 | tr '\n' '|')"
miss=$(journalctl -q --no-pager -b -o cat | grep -E "no health page")
[ -z "$miss" ] || no "a forwarder got no page: $(echo "$miss" | head -n 2 | tr '\n' '|')"
end

begin 8 "no gatehouse unit crashed (SIGSYS, core dump, failure exit) during the run"
# every end of a gatehouse process, as systemd saw it; the only tolerated
# failure is check 5's SIGKILL of the listener
bad=$(journalctl -q --no-pager -b -o cat _PID=1 |
	grep -E '^gatehouse[^ ]*: (Main process exited|Failed with result)' |
	grep -vE 'status=0/SUCCESS' |
	grep -vE "^gatehouse-listener.service: (Main process exited, code=killed, status=9/KILL|Failed with result 'signal')")
[ -z "$bad" ] || no "$(echo "$bad" | head -n 8 | tr '\n' '|')"
end

begin 9 "every listener took its forwarders' load pages (least-loaded hand-off, not the round-robin fallback)"
# under systemd the pages cross forwarder@'s accepted connection: memfd_create,
# sealing and SCM_RIGHTS must all pass the units' own filters
starts=$(journalctl -q --no-pager -b -u gatehouse-listener.service -o cat | grep -c 'forwarder channels$')
miss=$(journalctl -q --no-pager -b -o cat | grep -E 'sent no load figures|load page: ')
[ "$starts" -ge 2 ] || no "only $starts listener start(s) in the journal; the run restarts it several times"
[ -z "$miss" ] || no "$(echo "$miss" | head -n 3 | tr '\n' '|')"
info "$starts listener starts, none without load pages"
end

finish
