/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include "router/proxy_parse.h"

static const uint8_t v2_sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
static const char v1_magic[] = "PROXY ";

static enum proxy_parse_status invalid(struct proxy_parse_result *out, const char *why)
{
	out->error = why;
	return PROXY_PARSE_INVALID;
}

/* An address of either family into an endpoint, IPv4-mapped unwrapped (what
 * proxy_endpoint_from_sockaddr does for a real peer). */
static void set_addr(struct proxy_endpoint *e, int family, const uint8_t *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (family == AF_INET6 && memcmp(a, mapped, 12) == 0) {
		e->family = AF_INET;
		memcpy(e->addr, a + 12, 4);
		return;
	}
	e->family = family;
	memcpy(e->addr, a, family == AF_INET ? 4 : 16);
}

/* ---- v1 ---------------------------------------------------------------- */

enum v1_proto { V1_TCP4, V1_TCP6, V1_UNKNOWN };

static bool is_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* One byte of the fixed start ("PROXY TCP4 ", "PROXY TCP6 ", "PROXY UNKNOWN"
 * then space or CR). Returns NULL if it fits, else the reason. Sets *proto
 * once byte 6 is seen; *fixed to where free text starts. */
static const char *v1_fixed_byte(size_t i, uint8_t c, enum v1_proto *proto, size_t *fixed)
{
	if (i < 6)
		return c == (uint8_t)v1_magic[i] ? NULL : "v1: bad signature";
	if (i == 6) {
		if (c == 'T') {
			*proto = V1_TCP4;	/* 4 or 6 is decided at byte 9 */
			*fixed = 11;
		} else if (c == 'U') {
			*proto = V1_UNKNOWN;
			*fixed = 13;
		} else {
			return "v1: protocol is not TCP4, TCP6 or UNKNOWN";
		}
		return NULL;
	}
	if (*proto == V1_UNKNOWN)
		return c == (uint8_t)"PROXY UNKNOWN"[i] ? NULL : "v1: protocol is not TCP4, TCP6 or UNKNOWN";
	if (i == 9) {
		if (c == '6')
			*proto = V1_TCP6;
		else if (c != '4')
			return "v1: protocol is not TCP4, TCP6 or UNKNOWN";
		return NULL;
	}
	if (i == 10)
		return c == ' ' ? NULL : "v1: expected a space after the protocol";
	return c == (uint8_t)"PROXY TCP"[i] ? NULL : "v1: protocol is not TCP4, TCP6 or UNKNOWN";
}

/* A byte of the free text before the CR: the characters an address or port
 * can hold, and spaces; UNKNOWN's text may be anything but CR and LF. */
static bool v1_text_byte(enum v1_proto proto, size_t i, uint8_t c)
{
	if (proto == V1_UNKNOWN)
		return i > 13 || c == ' ';	/* "PROXY UNKNOWN" then a space (or the CR) */
	if (c == ' ' || c == '.' || (c >= '0' && c <= '9'))
		return true;
	return proto == V1_TCP6 && (c == ':' || is_hex(c));
}

/* A port: decimal, 0..65535, no sign, no leading zero. */
static bool v1_port(const uint8_t *p, size_t n, uint16_t *port)
{
	uint32_t v = 0;

	if (n == 0 || n > 5 || (n > 1 && p[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(p[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool v1_addr(int family, const uint8_t *p, size_t n, struct proxy_endpoint *e)
{
	char text[INET6_ADDRSTRLEN];
	uint8_t a[16];

	if (n == 0 || n >= sizeof(text))
		return false;
	memcpy(text, p, n);
	text[n] = '\0';
	if (inet_pton(family, text, a) != 1)
		return false;
	set_addr(e, family, a);
	return true;
}

/* The fields of a complete TCP4/TCP6 line: buf[11..cr). */
static enum proxy_parse_status v1_fields(const uint8_t *buf, size_t cr, enum v1_proto proto,
					 struct proxy_parse_result *out)
{
	static const char *const bad[4] = {
		"v1: bad source address", "v1: bad destination address",
		"v1: bad source port", "v1: bad destination port",
	};
	const uint8_t *f[4];
	size_t n[4], nf = 0, start = 11;
	int family = proto == V1_TCP4 ? AF_INET : AF_INET6;

	for (size_t i = 11; i <= cr; i++) {
		if (i < cr && buf[i] != ' ')
			continue;
		if (i == start)
			return invalid(out, "v1: fields must be separated by single spaces");
		if (nf == 4)
			return invalid(out, "v1: more than SRC DST SPORT DPORT");
		f[nf] = buf + start;
		n[nf++] = i - start;
		start = i + 1;
	}
	if (nf != 4)
		return invalid(out, "v1: fewer than SRC DST SPORT DPORT");
	if (!v1_addr(family, f[0], n[0], &out->src))
		return invalid(out, bad[0]);
	if (!v1_addr(family, f[1], n[1], &out->dst))
		return invalid(out, bad[1]);
	if (!v1_port(f[2], n[2], &out->src.port))
		return invalid(out, bad[2]);
	if (!v1_port(f[3], n[3], &out->dst.port))
		return invalid(out, bad[3]);
	out->kind = PROXY_KIND_PROXIED;
	return PROXY_PARSE_DONE;
}

static enum proxy_parse_status parse_v1(const uint8_t *buf, size_t len, struct proxy_parse_result *out)
{
	enum v1_proto proto = V1_UNKNOWN;
	size_t fixed = 7, end = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;

	out->version = 1;
	for (size_t i = 0; i < end; i++) {
		uint8_t c = buf[i];

		if (c == '\r' && i >= fixed) {
			if (i + 1 >= PROXY_V1_MAX)
				return invalid(out, "v1: longer than 107 bytes");
			if (i + 1 == len)
				return PROXY_PARSE_NEED_MORE;
			if (buf[i + 1] != '\n')
				return invalid(out, "v1: CR not followed by LF");
			out->header_len = i + 2;
			if (proto == V1_UNKNOWN) {
				out->kind = PROXY_KIND_UNKNOWN;
				return PROXY_PARSE_DONE;
			}
			return v1_fields(buf, i, proto, out);
		}
		if (c == '\n')
			return invalid(out, "v1: LF without CR");
		if (i < fixed) {
			const char *why = v1_fixed_byte(i, c, &proto, &fixed);
			if (why)
				return invalid(out, why);
		} else if (c == '\r' || !v1_text_byte(proto, i, c)) {
			return invalid(out, "v1: unexpected byte");
		}
	}
	if (len >= PROXY_V1_MAX)
		return invalid(out, "v1: longer than 107 bytes");
	return PROXY_PARSE_NEED_MORE;
}

/* ---- v2 ---------------------------------------------------------------- */

/* TLVs fill [off, total) exactly; their values are not looked at. */
static bool v2_tlvs(const uint8_t *buf, size_t off, size_t total)
{
	while (off < total) {
		if (total - off < 3)
			return false;
		size_t vlen = (size_t)buf[off + 1] << 8 | buf[off + 2];
		if (vlen > total - off - 3)
			return false;
		off += 3 + vlen;
	}
	return true;
}

static enum proxy_parse_status parse_v2(const uint8_t *buf, size_t len, struct proxy_parse_result *out)
{
	size_t n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);

	out->version = 2;
	if (memcmp(buf, v2_sig, n) != 0)
		return invalid(out, "v2: bad signature");
	if (len <= 12)
		return PROXY_PARSE_NEED_MORE;
	if (buf[12] >> 4 != 2)
		return invalid(out, "v2: version is not 2");
	unsigned cmd = buf[12] & 0x0f;
	if (cmd > 1)
		return invalid(out, "v2: command is not LOCAL or PROXY");
	if (len <= 13)
		return PROXY_PARSE_NEED_MORE;

	uint8_t fam = buf[13];
	size_t need = 0;		/* address bytes the family requires */
	if (cmd == 1) {
		switch (fam) {
		case 0x00: need = 0; break;	/* AF_UNSPEC */
		case 0x11: need = 12; break;	/* TCP over IPv4 */
		case 0x21: need = 36; break;	/* TCP over IPv6 */
		case 0x31: need = 216; break;	/* stream over AF_UNIX */
		case 0x12: case 0x22: case 0x32:
			return invalid(out, "v2: datagram addresses on a stream connection");
		default:
			return invalid(out, "v2: unknown address family or transport");
		}
	}
	if (len < PROXY_V2_HEAD)
		return PROXY_PARSE_NEED_MORE;
	size_t total = PROXY_V2_HEAD + ((size_t)buf[14] << 8 | buf[15]);
	if (total > PROXY_PARSE_MAX)
		return invalid(out, "v2: header longer than 1024 bytes");
	if (total < PROXY_V2_HEAD + need)
		return invalid(out, "v2: address block too short for its family");
	if (len < total)
		return PROXY_PARSE_NEED_MORE;

	out->header_len = total;
	if (cmd == 0) {
		out->kind = PROXY_KIND_LOCAL;	/* the whole block is ignored */
		return PROXY_PARSE_DONE;
	}
	if (!v2_tlvs(buf, PROXY_V2_HEAD + need, total))
		return invalid(out, "v2: TLVs do not fill the header exactly");
	if (fam != 0x11 && fam != 0x21) {
		out->kind = PROXY_KIND_UNKNOWN;
		return PROXY_PARSE_DONE;
	}
	int family = fam == 0x11 ? AF_INET : AF_INET6;
	size_t al = family == AF_INET ? 4 : 16;
	const uint8_t *a = buf + PROXY_V2_HEAD;
	set_addr(&out->src, family, a);
	set_addr(&out->dst, family, a + al);
	out->src.port = (uint16_t)(a[2 * al] << 8 | a[2 * al + 1]);
	out->dst.port = (uint16_t)(a[2 * al + 2] << 8 | a[2 * al + 3]);
	out->kind = PROXY_KIND_PROXIED;
	return PROXY_PARSE_DONE;
}

enum proxy_parse_status proxy_parse(const uint8_t *buf, size_t len, struct proxy_parse_result *out)
{
	memset(out, 0, sizeof(*out));
	out->error = "";
	if (len == 0)
		return PROXY_PARSE_NEED_MORE;
	if (buf[0] == 'P')
		return parse_v1(buf, len, out);
	if (buf[0] == '\r')
		return parse_v2(buf, len, out);
	return invalid(out, "not a PROXY header");
}
