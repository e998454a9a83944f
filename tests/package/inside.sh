#!/bin/bash
# The gatehouse package test, run inside systemd-nspawn with systemd as PID 1
# by gh-packagetest.service (see run.sh). The root file system is the
# host's /usr, /etc and /var under throw-away overlays: dpkg may write them
# without touching the host. The .deb is in /opt/debs.
#
# Installs the package with dpkg -i, checks what its maintainer scripts left
# (sockets enabled and listening, services not started), routes through the
# PACKAGED units to IPv6 backends, then purges it and checks that nothing
# runs, listens or stays loaded and no file is left.
#
# Prints "PASS N what" or "FAIL N what" per check (reasons on the "  - "
# lines above it) to the console and to /srv/results/results; run.sh counts
# them. Exit status 0 only if every check passed.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export SYSTEMD_PAGER='' SYSTEMD_COLORS=0 LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
T=/srv/pkgtest			# tests/package, read-only
RES=/srv/results		# written here, read by run.sh on the host
W=/run/gh-pkgtest		# scratch
CONF=/etc/gatehouse/gatehouse.conf
NS=ghb				# the backends' network namespace
SRV=fd00:ab::2			# the backends' address in it
LIBEXEC=/usr/libexec/gatehouse
SOCKETS="gatehouse-http.socket gatehouse-tls.socket gatehouse-forwarder.socket gatehouse-config.socket"
METRICS_UNITS="gatehouse-metrics.socket gatehouse-metrics-forwarders.socket gatehouse-metrics.service"
# where the package or its maintainer scripts put things (compared before
# install and after purge; /usr/lib and /usr/share are too big to walk)
WATCH="/etc /var/lib /run /usr/libexec /usr/sbin /usr/lib/systemd /usr/lib/sysusers.d
	/usr/lib/tmpfiles.d /usr/share/doc /usr/share/man /usr/share/lintian"
mkdir -p "$W"
. /srv/lib/checks.sh

gh_procs() { pgrep -f "^$LIBEXEC/|gatehouse-(listener|forwarder)" | tr '\n' ' '; }
fwd_units() { systemctl list-units --plain --no-legend --state=running 'gatehouse-forwarder@*.service' | sed 's/ .*//'; }
gh_units() { systemctl list-units --all --plain --no-legend 'gatehouse*' | sed 's/ .*//'; }
listening() { ss -Hltn "( sport = :80 or sport = :443 )"; }
watched() { find $WATCH -xdev -name '*gatehouse*' 2>/dev/null | sort; }
http_get() { curl -sS --max-time 5 -H "Host: $1" "$2"; }
tls_get() {	# NAME: body over :443 with SNI NAME, cert verified for NAME
	curl -sS --max-time 5 --cacert "$W/cert.pem" --resolve "$1:443:127.0.0.1" "https://$1/"
}

# ---------------------------------------------------------------- setup
begin 0 "setup: a clean slate, IPv6 backends in netns $NS"
# The host may carry a docker-style policy-rc.d (exit 101) that forbids
# every service start; a real system has none. This is the overlay's copy.
if [ -e /usr/sbin/policy-rc.d ]; then
	rm -f /usr/sbin/policy-rc.d && info "removed the host's /usr/sbin/policy-rc.d (overlay only)"
fi
# leftovers of earlier `make install`/tmpfiles runs on the host, in the overlay
[ -e /var/lib/gatehouse ] && rm -rf /var/lib/gatehouse && info "removed the host's /var/lib/gatehouse (overlay only)"
# man-db's trigger would rebuild its index (seconds): not under test
rm -f /var/lib/man-db/auto-update
if dpkg-query -W gatehouse >/dev/null 2>&1; then
	no "gatehouse is already installed here: $(dpkg-query -W -f '${Status} ${Version}' gatehouse)"
fi
watched >"$W/before"
[ -s "$W/before" ] && info "already present before install: $(tr '\n' ' ' <"$W/before")"
n=$(ls /opt/debs/gatehouse_*.deb 2>/dev/null | wc -l)
[ "$n" = 1 ] || no "expected exactly one /opt/debs/gatehouse_*.deb, found $n"

ip netns add $NS &&
	ip link add gh0 type veth peer name gh1 netns $NS &&
	ip addr add fd00:ab::1/64 dev gh0 nodad && ip link set gh0 up &&
	ip -n $NS addr add $SRV/64 dev gh1 nodad && ip -n $NS link set gh1 up &&
	ip -n $NS link set lo up || no "could not set up netns $NS and the veth pair"
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
backend ghb-web /usr/bin/python3 -m http.server --bind $SRV --directory "$W/www1" 8080
backend ghb-other /usr/bin/python3 -m http.server --bind $SRV --directory "$W/www2" 8081
backend ghb-tls /usr/bin/python3 /srv/backend.py "$W/cert.pem" "$W/key.pem" $SRV 8443 web.test
end

# ------------------------------------------------------------- check 1
begin 1 "dpkg -i installs the package: user, tmpfiles, units, generator, binaries"
deb=$(ls /opt/debs/gatehouse_*.deb 2>/dev/null | head -n 1)
if ! dpkg -i "$deb" >"$W/dpkg-i.log" 2>&1; then
	no "dpkg -i $deb failed: $(tail -n 5 "$W/dpkg-i.log" | tr '\n' '|')"
fi
st=$(dpkg-query -W -f '${Status}' gatehouse 2>&1)
[ "$st" = "install ok installed" ] || no "dpkg-query status '$st', expected 'install ok installed'"
grep -iE 'warning|error' "$W/dpkg-i.log" | head -n 3 | while read -r l; do info "dpkg -i said: $l"; done
getent passwd gatehouse >/dev/null || no "no gatehouse user after install (sysusers)"
getent group gatehouse >/dev/null || no "no gatehouse group after install (sysusers)"
getent passwd gatehouse-forwarder >/dev/null || no "no gatehouse-forwarder user after install (sysusers)"
[ -d /var/lib/gatehouse ] || no "no /var/lib/gatehouse after install (tmpfiles)"
[ -f "$CONF" ] || no "no $CONF after install"
grep -qx "$CONF" /var/lib/dpkg/info/gatehouse.conffiles 2>/dev/null || no "$CONF is not a conffile"
for u in $SOCKETS gatehouse.service gatehouse-listener.service gatehouse-forwarder@.service gatehouse-config.service $METRICS_UNITS; do
	# a template is not loaded by name: ask about an instance of it
	f=$(systemctl show -P FragmentPath "${u/@./@0.}" 2>/dev/null)
	case "$f" in
	/lib/systemd/system/"$u" | /usr/lib/systemd/system/"$u") ;;
	*) no "$u is loaded from '$f', expected the package's /lib/systemd/system/$u" ;;
	esac
	for p in $(sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\([^ ]*\).*/\1/p' "$f" 2>/dev/null); do
		[ -x "$p" ] || no "$u runs $p, which the package did not install"
		dpkg -S "$p" >/dev/null 2>&1 || case "$p" in /bin/* | /usr/bin/*) ;; *) no "$u runs $p, not from the package" ;; esac
	done
done
for p in /usr/sbin/gatehouse $LIBEXEC/gatehouse-listener $LIBEXEC/gatehouse-forwarder $LIBEXEC/gatehouse-metrics \
	$LIBEXEC/gatehouse-config; do
	[ -x "$p" ] || no "$p missing or not executable"
done
[ -f /usr/share/man/man8/gatehouse-metrics.8.gz ] || no "no gatehouse-metrics(8) man page"
[ -f /usr/share/man/man8/gatehouse-config.8.gz ] || no "no gatehouse-config(8) man page"

ls /lib/systemd/system-generators/gatehouse-generator /usr/lib/systemd/system-generators/gatehouse-generator >/dev/null 2>&1 ||
	no "no gatehouse-generator in the system generator directory"
info "installed $(basename "$deb"): $(dpkg-query -W -f '${Version}' gatehouse), $(dpkg -L gatehouse | wc -l) paths"
end

# ------------------------------------------------------------- check 2
begin 2 "after install: sockets enabled and listening, no service started, no gatehouse process"
for s in $SOCKETS; do
	st=$(systemctl is-enabled $s 2>&1)
	[ "$st" = enabled ] || no "$s is '$st' after install, expected enabled"
	st=$(systemctl is-active $s 2>&1)
	[ "$st" = active ] || no "$s is '$st' after install, expected active"
done
for p in 80 443; do
	[ -n "$(ss -Hltn "sport = :$p")" ] || no "nothing listens on TCP port $p after install"
done
[ -S /run/gatehouse/forward.sock ] || no "no /run/gatehouse/forward.sock after install"
[ -S /run/gatehouse/config.sock ] || no "no /run/gatehouse/config.sock after install"
st=$(systemctl is-active gatehouse-listener.service)
[ "$st" = inactive ] || no "gatehouse-listener.service is '$st' after install, expected inactive"
st=$(systemctl is-enabled gatehouse-listener.service 2>&1)
case "$st" in static | disabled) ;; *) no "gatehouse-listener.service is '$st', expected static (started by its sockets only)" ;; esac
# the admin's handle is enabled and active (it started only the sockets),
# so `systemctl status|reload gatehouse` work on a fresh install
st=$(systemctl is-active gatehouse.service)
[ "$st" = active ] || no "gatehouse.service is '$st' after install, expected active"
st=$(systemctl is-enabled gatehouse.service 2>&1)
[ "$st" = enabled ] || no "gatehouse.service is '$st' after install, expected enabled"
msg=$(systemctl reload gatehouse 2>&1) || no "systemctl reload gatehouse on a fresh install failed: $msg"
st=$(systemctl is-active gatehouse-listener.service)
[ "$st" = inactive ] || no "systemctl reload gatehouse started the listener ('$st'), expected inactive"
# the exporter is opt-in: shipped, neither enabled nor listening
for u in $METRICS_UNITS; do
	st=$(systemctl is-enabled $u 2>&1)
	case "$st" in disabled | static) ;; *) no "$u is '$st' after install, expected disabled (opt-in)" ;; esac
	st=$(systemctl is-active $u 2>&1)
	[ "$st" = inactive ] || no "$u is '$st' after install, expected inactive"
done
[ -z "$(ss -Hltn 'sport = :9469')" ] || no "something listens on port 9469 right after install"
p=$(gh_procs)
[ -z "$p" ] || no "gatehouse processes run right after install: pids $p"
end

# ------------------------------------------------------------- check 3
begin 3 "the test config: gatehouse check, daemon-reload runs the packaged generator; still nothing runs"
cat >"$CONF" <<EOF
# gatehouse package test: backends live in network namespace $NS at $SRV
inspect-timeout 5s
connect-timeout 2s
http-mode route

site web.test www.web.test
    http [$SRV]:8080
    tls  [$SRV]:8443

site other.test
    http [$SRV]:8081

default http reject
default tls  reject
EOF
cp "$CONF" "$W/test.conf"
msg=$(gatehouse check -c "$CONF" 2>&1) || no "gatehouse check rejects the test config: $msg"
systemctl daemon-reload || no "systemctl daemon-reload failed"
dropin=/run/systemd/generator/gatehouse-forwarder@.service.d/50-servers.conf
grep -qx "IPAddressAllow=$SRV" "$dropin" 2>/dev/null ||
	no "generator wrote no IPAddressAllow=$SRV ($dropin: $(cat "$dropin" 2>&1 | tr '\n' ' '))"
wait_for 50 curl -sfg -o /dev/null --max-time 1 "http://[$SRV]:8080/" || no "backend [$SRV]:8080 not answering"
wait_for 50 curl -sfg -o /dev/null --max-time 1 "http://[$SRV]:8081/" || no "backend [$SRV]:8081 not answering"
wait_for 50 curl -sfg -o /dev/null --max-time 1 --cacert "$W/cert.pem" --resolve "web.test:8443:[$SRV]" \
	https://web.test:8443/ || no "TLS backend [$SRV]:8443 not answering"
for s in gatehouse-http.socket gatehouse-tls.socket; do
	st=$(systemctl is-active $s)
	[ "$st" = active ] || no "$s is '$st' after daemon-reload"
done
p=$(gh_procs)
[ -z "$p" ] || no "gatehouse processes run before the first connection: pids $p"
[ -z "$(fwd_units)" ] || no "forwarder instances run before the first connection: $(fwd_units | tr '\n' ' ')"
end

# ------------------------------------------------------------- check 4
begin 4 "first connections start the packaged services and reach the IPv6 backends (Host on :80, SNI on :443)"
body=$(http_get web.test http://127.0.0.1/ 2>&1)
[ "$body" = "http-backend web.test" ] || no "curl -H 'Host: web.test' http://127.0.0.1/ gave '$body'"
body=$(http_get other.test 'http://[::1]/' 2>&1)
[ "$body" = "http-backend other.test" ] || no "curl -H 'Host: other.test' http://[::1]/ gave '$body'"
body=$(tls_get web.test 2>"$W/tls.err")
[ "$body" = "tls-backend web.test" ] || no "https://web.test/ over :443 gave '$body' ($(tail -n 2 "$W/tls.err" | tr '\n' ' '))"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Host: nobody.test' http://127.0.0.1/)
[ "$code" = 421 ] || no "an unknown Host on :80 got HTTP '$code', expected 421"
st=$(systemctl is-active gatehouse-listener.service)
[ "$st" = active ] || no "gatehouse-listener.service is '$st' after the first connection"
lp=$(systemctl show -P MainPID gatehouse-listener.service)
exe=$(readlink "/proc/$lp/exe" 2>/dev/null)
[ "$exe" = "$LIBEXEC/gatehouse-listener" ] || no "the listener (pid $lp) runs '$exe', expected $LIBEXEC/gatehouse-listener"
uid=$(awk '/^Uid:/ { print $3 }' "/proc/$lp/status" 2>/dev/null)
sc=$(awk '/^Seccomp:/ { print $2 }' "/proc/$lp/status" 2>/dev/null)
[ -n "$uid" ] && [ "$uid" != 0 ] && [ "$sc" = 2 ] || no "the listener (pid $lp) has uid '$uid', Seccomp '$sc': expected not root, 2"
[ -n "$(fwd_units)" ] || no "no gatehouse-forwarder@ instance runs after the first connections"
# the config compiled once by the packaged gatehouse-config, mapped by each
grep -q 'memfd:gatehouse.conf.image' "/proc/$lp/maps" 2>/dev/null ||
	no "the listener (pid $lp) maps no config image from gatehouse-config"
st=$(systemctl is-active gatehouse-config.service)
[ "$st" = active ] || no "gatehouse-config.service is '$st' after the first connection, expected active"
wait_for 30 eval 'journalctl -q --no-pager GATEHOUSE_SITE=web.test GATEHOUSE_RESULT=ok -o cat | grep -q .' ||
	no "no journal record with GATEHOUSE_SITE=web.test GATEHOUSE_RESULT=ok"
info "listener pid $lp ($exe, uid $uid), forwarders: $(fwd_units | tr '\n' ' ')"
end

# ----------------------------------------------------------- check 4b
# The package's autopkgtest, run as the harness would: as root, on the
# installed package, systemd running. It restores the config and the sockets.
begin 4b "debian/tests/route (the autopkgtest): a backend on [::1], gatehouse.service, curl routes"
if /srv/debtests/route >"$W/route.out" 2>"$W/route.err"; then
	info "$(tail -n 1 "$W/route.out")"
else
	no "debian/tests/route exited $?: $(tail -n 5 "$W/route.err" | tr '\n' '|') $(tail -n 3 "$W/route.out" | tr '\n' '|')"
fi
grep -q '^PASS: .*via systemd' "$W/route.out" || no "debian/tests/route did not route through systemd: $(tr '\n' '|' <"$W/route.out")"
cmp -s "$CONF" "$W/test.conf" || no "debian/tests/route did not restore $CONF"
for s in gatehouse.service gatehouse-http.socket gatehouse-tls.socket; do
	st=$(systemctl is-active $s)
	[ "$st" = active ] || no "$s is '$st' after debian/tests/route, expected active again"
done
end

# The same script without systemd's help: `gatehouse run` binds :80 itself,
# so the packaged sockets step aside meanwhile.
begin 4c "debian/tests/route with GATEHOUSE_ROUTE_VIA=run: gatehouse run routes"
systemctl stop gatehouse.service || no "systemctl stop gatehouse failed"
if GATEHOUSE_ROUTE_VIA=run /srv/debtests/route >"$W/route-run.out" 2>"$W/route-run.err"; then
	info "$(tail -n 1 "$W/route-run.out")"
else
	no "GATEHOUSE_ROUTE_VIA=run debian/tests/route exited $?: $(tail -n 5 "$W/route-run.err" | tr '\n' '|') $(tail -n 3 "$W/route-run.out" | tr '\n' '|')"
fi
grep -q '^PASS: .*via run' "$W/route-run.out" || no "debian/tests/route did not route through gatehouse run: $(tr '\n' '|' <"$W/route-run.out")"
wait_for 50 eval '[ -z "$(gh_procs)" ]' || no "gatehouse run left processes: $(gh_procs)"
systemctl start gatehouse.service || no "could not start gatehouse.service again"
end

# The packaged exporter, opted into; left enabled so that the purge below
# must take it away too
begin 4d "gatehouse-metrics.socket from the package: the daemons hand their pages, a scrape and gatehouse status count the requests"
msg=$(systemctl enable --now gatehouse-metrics.socket 2>&1) || no "systemctl enable --now gatehouse-metrics.socket failed: $msg"
msg=$(systemctl restart gatehouse 2>&1) || no "systemctl restart gatehouse failed: $msg"
for i in 1 2 3; do
	body=$(http_get web.test http://127.0.0.1/ 2>&1)
	[ "$body" = "http-backend web.test" ] || no "request $i through gatehouse gave '$body'"
done
ok='gatehouse_connections_total{site="web.test",kind="http",result="ok"} '
metric() { curl -sg --max-time 5 'http://[::1]:9469/metrics' | grep -v '^#' | grep -m1 -F -- "$1" | sed 's/.* //'; }
wait_for 50 eval '[ "$(metric "$ok")" = 3 ]' || no "the scrape says '$ok$(metric "$ok")', expected 3"
out=$(gatehouse status --interval 0 2>&1) || no "gatehouse status exited $?: $out"
grep -qE '^web\.test +3 +0 ' <<<"$out" || no "gatehouse status has no 'web.test 3 0' row: $(tr '\n' '|' <<<"$out")"
ep=$(systemctl show -P MainPID gatehouse-metrics.service)
sc=$(sed -n 's/^Seccomp:[[:space:]]*//p' "/proc/$ep/status" 2>/dev/null)
[ "$sc" = 2 ] || no "the exporter (pid $ep) has Seccomp '$sc', expected 2"
info "exporter pid $ep; $(systemctl show -P StatusText gatehouse-metrics.service)"
end

# ------------------------------------------------------------- check 5
begin 5 "dpkg --purge gatehouse succeeds and dpkg forgets the package"
dpkg -L gatehouse >"$W/files" 2>/dev/null
cp /var/lib/dpkg/info/gatehouse.conffiles "$W/conffiles" 2>/dev/null
if ! dpkg --purge gatehouse >"$W/dpkg-purge.log" 2>&1; then
	no "dpkg --purge gatehouse failed: $(tail -n 5 "$W/dpkg-purge.log" | tr '\n' '|')"
fi
# (not `| while ... no`: a pipe's subshell would lose the failure)
said=$(grep -iE 'warning|error' "$W/dpkg-purge.log" | head -n 3)
[ -z "$said" ] || no "dpkg --purge said: $(tr '\n' '|' <<<"$said")"
st=$(dpkg-query -W -f '${Status}' gatehouse 2>/dev/null)
case "$st" in "" | "unknown ok not-installed" | "purge ok not-installed") ;; *) no "dpkg-query status after purge: '$st'" ;; esac
l=$(dpkg -L gatehouse 2>/dev/null)
[ -z "$l" ] || no "dpkg -L gatehouse still lists $(echo "$l" | wc -l) paths"
end

# ------------------------------------------------------------- check 6
begin 6 "after purge nothing runs, listens or stays loaded"
wait_for 50 eval '[ -z "$(gh_procs)" ]' || no "gatehouse processes still run after purge: $(ps -o pid=,args= -p "$(gh_procs | tr ' ' ',' | sed 's/,$//')" 2>&1 | tr '\n' '|')"
[ -z "$(listening)" ] || no "still listening after purge: $(listening | tr -s ' ' | tr '\n' '|')"
l=$(ss -Hxl | grep -F /run/gatehouse/)
[ -z "$l" ] || no "a UNIX socket below /run/gatehouse still listens: $l"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -H 'Host: web.test' http://127.0.0.1/)
[ "$code" = 000 ] || no "a request to :80 after purge got HTTP '$code', expected connection refused"
u=$(gh_units)
[ -z "$u" ] || no "gatehouse units still loaded after purge: $(systemctl list-units --all --plain --no-legend 'gatehouse*' | tr -s ' ' | tr '\n' '|')"
for s in $SOCKETS gatehouse-listener.service; do
	st=$(systemctl show -P LoadState "$s")
	[ "$st" = not-found ] || no "$s has LoadState '$st' after purge, expected not-found"
done
end

# ------------------------------------------------------------- check 7
begin 7 "after purge no file is left (package files, conffile, enablement links, generator output, state)"
while read -r f; do
	[ "$f" = /. ] && continue
	if [ -d "$f" ]; then	# shared directories (/lib, /usr/sbin) stay
		case "$f" in *gatehouse*) no "directory $f (from dpkg -L) still exists: $(ls -A "$f" | head -n 5 | tr '\n' ' ')" ;; esac
	elif [ -e "$f" ] || [ -L "$f" ]; then
		no "$f (from dpkg -L) still exists"
	fi
done <"$W/files"
[ -s "$W/conffiles" ] || no "the package had no conffiles list"
while read -r f; do
	[ ! -e "$f" ] || no "conffile $f still exists after purge"
	for x in "$f".dpkg-old "$f".dpkg-dist "$f".dpkg-new "$f".dpkg-bak "$f".ucf-old; do
		[ ! -e "$x" ] || no "$x exists after purge"
	done
done <"$W/conffiles"
for d in /etc/gatehouse $LIBEXEC /usr/share/doc/gatehouse /run/gatehouse/forward.sock /run/gatehouse /var/lib/gatehouse; do
	[ ! -e "$d" ] || no "$d still exists after purge"
done
watched >"$W/after"
left=$(comm -13 "$W/before" "$W/after")
[ -z "$left" ] || no "left behind (absent before install): $(echo "$left" | tr '\n' ' ')"
getent passwd gatehouse >/dev/null && info "the gatehouse system user remains (Debian policy: system users are not removed on purge)"
end

finish
