#!/bin/bash
# The built programs carry what Debian's hardening=+all gives, also from a
# plain `make` (issue #11.8): PIE, full RELRO (GNU_RELRO + BIND_NOW), the
# stack protector and, outside sanitizer builds, _FORTIFY_SOURCE's checked
# functions. Reads the ELF files only.
#   BUILD=build [SAN=1] bash tests/hardening/check.sh
BUILD=${BUILD:-build}
passed=0 failed=0
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
for b in gatehouse gatehouse-listener gatehouse-forwarder gatehouse-generator gatehouse-metrics; do
	f=$BUILD/$b
	[ -f "$f" ] || { fail "$b" "not built"; continue; }
	ok=1
	readelf -hW "$f" | grep -q 'Type:.*DYN' || { fail "$b" "not a position-independent executable"; ok=0; }
	readelf -lW "$f" | grep -q GNU_RELRO || { fail "$b" "no GNU_RELRO segment"; ok=0; }
	readelf -dW "$f" | grep -Eq 'BIND_NOW|FLAGS_1.*NOW' || { fail "$b" "no BIND_NOW (-z now)"; ok=0; }
	syms=$(readelf --dyn-syms -W "$f")
	grep -q '__stack_chk_fail' <<<"$syms" || { fail "$b" "no __stack_chk_fail (-fstack-protector-strong)"; ok=0; }
	if [ "${SAN:-0}" != 1 ]; then
		grep -Eq ' __[a-z0-9_]+_chk(@| |$)' <<<"$syms" || { fail "$b" "no __*_chk function (_FORTIFY_SOURCE)"; ok=0; }
	fi
	[ $ok = 1 ] && passed=$((passed + 1))
done
echo "hardening: $passed passed, $failed failed"
[ "$failed" = 0 ]
