/* SPDX-License-Identifier: MIT */
/*
 * Shared bits of the bench tools: addresses, clocks, a ClientHello builder
 * and an incremental "is the whole ClientHello here yet" reader. Header
 * only (static functions), so each tool is one `cc` command.
 */
#pragma once
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define UNUSED __attribute__((unused))

static UNUSED void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static UNUSED double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "[::1]:21001", "127.0.0.1:21001" or a bare port (means [::1]). */
static UNUSED socklen_t parse_addr(const char *s, struct sockaddr_storage *ss)
{
	char host[128];
	const char *port;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host))
			die("bad address %s", s);
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		port = end + 2;
	} else if (strchr(s, ':')) {
		const char *c = strrchr(s, ':');
		if ((size_t)(c - s) >= sizeof(host))
			die("bad address %s", s);
		memcpy(host, s, (size_t)(c - s));
		host[c - s] = '\0';
		port = c + 1;
	} else {
		strcpy(host, "::1");
		port = s;
	}
	unsigned long p = strtoul(port, NULL, 10);
	if (p == 0 || p > 65535)
		die("bad port in %s", s);
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		return sizeof(*a6);
	}
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		return sizeof(*a4);
	}
	die("bad host in %s (numeric loopback addresses only)", s);
	return 0;
}

static UNUSED int listen_on(const char *spec, int backlog, bool nonblock)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(spec, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	int one = 1;
	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0)
		die("listen %s: %s", spec, strerror(errno));
	return fd;
}

/* Blocking connect with send/receive timeouts. */
static UNUSED int connect_to(const struct sockaddr_storage *ss, socklen_t len, int timeout_s)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = { .tv_sec = timeout_s };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)ss, len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- ClientHello builder ------------------------------------------------
 * A TLS 1.3 ClientHello shaped like a browser's: session id, a cipher list,
 * SNI first, the usual extensions, an X25519 key share (plus a 1216-byte
 * X25519MLKEM768 share when pq), and a padding extension (RFC 7685) to hit
 * the requested handshake size exactly. Optional extensions are dropped to
 * reach small sizes. Records are fragmented at 16384 bytes like OpenSSL's.
 */
struct hb {
	uint8_t *p;
	size_t n, cap;
};

static UNUSED void hb_put(struct hb *b, const void *d, size_t n)
{
	if (b->n + n > b->cap)
		die("hello buffer too small");
	memcpy(b->p + b->n, d, n);
	b->n += n;
}
static UNUSED void hb_u8(struct hb *b, unsigned v) { uint8_t x = (uint8_t)v; hb_put(b, &x, 1); }
static UNUSED void hb_u16(struct hb *b, unsigned v) { hb_u8(b, v >> 8); hb_u8(b, v & 255); }
static UNUSED void hb_u24(struct hb *b, unsigned v) { hb_u8(b, v >> 16); hb_u16(b, v & 0xffff); }
static UNUSED void hb_fill(struct hb *b, size_t n, uint32_t *seed)
{
	for (size_t i = 0; i < n; i++) {
		*seed ^= *seed << 13;
		*seed ^= *seed >> 17;
		*seed ^= *seed << 5;
		hb_u8(b, *seed & 255);
	}
}

enum { X_EMS, X_RENEG, X_GROUPS, X_ECPF, X_TICKET, X_ALPN, X_STATUS, X_SIGALGS, X_SCT,
       X_KEYSHARE, X_PSKMODES, X_VERSIONS, X_COMPRESS, X_COUNT };

static UNUSED void hello_ext(struct hb *b, int which, bool pq, uint32_t *seed)
{
	switch (which) {
	case X_EMS: hb_u16(b, 0x0017); hb_u16(b, 0); break;
	case X_RENEG: hb_u16(b, 0xff01); hb_u16(b, 1); hb_u8(b, 0); break;
	case X_GROUPS:
		hb_u16(b, 0x000a); hb_u16(b, 10); hb_u16(b, 8);
		if (pq)
			hb_u16(b, 0x11ec);
		hb_u16(b, 0x001d); hb_u16(b, 0x0017); hb_u16(b, 0x0018);
		if (!pq)
			hb_u16(b, 0x0019);
		break;
	case X_ECPF: hb_u16(b, 0x000b); hb_u16(b, 2); hb_u8(b, 1); hb_u8(b, 0); break;
	case X_TICKET: hb_u16(b, 0x0023); hb_u16(b, 0); break;
	case X_ALPN:
		hb_u16(b, 0x0010); hb_u16(b, 14); hb_u16(b, 12);
		hb_u8(b, 2); hb_put(b, "h2", 2); hb_u8(b, 8); hb_put(b, "http/1.1", 8);
		break;
	case X_STATUS: hb_u16(b, 0x0005); hb_u16(b, 5); hb_u8(b, 1); hb_u16(b, 0); hb_u16(b, 0); break;
	case X_SIGALGS: {
		static const uint16_t sa[] = { 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601 };
		hb_u16(b, 0x000d); hb_u16(b, 2 + 2 * 8); hb_u16(b, 2 * 8);
		for (int i = 0; i < 8; i++)
			hb_u16(b, sa[i]);
		break;
	}
	case X_SCT: hb_u16(b, 0x0012); hb_u16(b, 0); break;
	case X_KEYSHARE:
		hb_u16(b, 0x0033);
		if (pq) {
			hb_u16(b, 2 + 4 + 1216 + 4 + 32); hb_u16(b, 4 + 1216 + 4 + 32);
			hb_u16(b, 0x11ec); hb_u16(b, 1216); hb_fill(b, 1216, seed);
		} else {
			hb_u16(b, 2 + 4 + 32); hb_u16(b, 4 + 32);
		}
		hb_u16(b, 0x001d); hb_u16(b, 32); hb_fill(b, 32, seed);
		break;
	case X_PSKMODES: hb_u16(b, 0x002d); hb_u16(b, 2); hb_u8(b, 1); hb_u8(b, 1); break;
	case X_VERSIONS: hb_u16(b, 0x002b); hb_u16(b, 5); hb_u8(b, 4); hb_u16(b, 0x0304); hb_u16(b, 0x0303); break;
	case X_COMPRESS: hb_u16(b, 0x001b); hb_u16(b, 3); hb_u8(b, 2); hb_u16(b, 0x0002); break;
	}
}

/* The handshake message (type 1 + 24-bit length + body), hs_size bytes in
 * all, built with the extensions in keep[]. Returns its size, which is
 * hs_size unless the kept extensions alone are bigger. */
static UNUSED size_t hello_hs(uint8_t *out, size_t cap, const char *sni, bool pq, size_t hs_size,
			      const bool keep[X_COUNT], unsigned n_suites)
{
	static const uint16_t suites[] = { 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030,
					   0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035 };
	uint32_t seed = 0x9e3779b9u;
	struct hb b = { out, 0, cap };
	size_t sl = strlen(sni);

	hb_u8(&b, 1);
	hb_u24(&b, 0);		/* patched */
	hb_u16(&b, 0x0303);
	hb_fill(&b, 32, &seed);
	hb_u8(&b, 32);
	hb_fill(&b, 32, &seed);
	hb_u16(&b, 2 * n_suites);
	for (unsigned i = 0; i < n_suites; i++)
		hb_u16(&b, suites[i]);
	hb_u8(&b, 1);
	hb_u8(&b, 0);
	size_t ext_len_at = b.n;
	hb_u16(&b, 0);		/* patched */
	if (sl) {
		hb_u16(&b, 0x0000);
		hb_u16(&b, (unsigned)sl + 5);
		hb_u16(&b, (unsigned)sl + 3);
		hb_u8(&b, 0);
		hb_u16(&b, (unsigned)sl);
		hb_put(&b, sni, sl);
	}
	for (int i = 0; i < X_COUNT; i++)
		if (keep[i])
			hello_ext(&b, i, pq, &seed);
	if (hs_size >= b.n + 4) {
		size_t pad = hs_size - b.n - 4;
		hb_u16(&b, 0x0015);
		hb_u16(&b, (unsigned)pad);
		for (size_t i = 0; i < pad; i++)
			hb_u8(&b, 0);
	}
	size_t body = b.n - 4;
	out[1] = (uint8_t)(body >> 16);
	out[2] = (uint8_t)(body >> 8);
	out[3] = (uint8_t)body;
	size_t ext = b.n - ext_len_at - 2;
	out[ext_len_at] = (uint8_t)(ext >> 8);
	out[ext_len_at + 1] = (uint8_t)ext;
	return b.n;
}

/* Build a handshake of exactly hs_size bytes if at all possible, dropping
 * optional extensions (least common first) to get small. */
static UNUSED size_t hello_exact(uint8_t *out, size_t cap, const char *sni, bool pq, size_t hs_size)
{
	static const int drop_order[] = { X_COMPRESS, X_SCT, X_STATUS, X_TICKET, X_ECPF, X_RENEG,
					  X_EMS, X_ALPN, X_PSKMODES };
	bool keep[X_COUNT];
	for (int i = 0; i < X_COUNT; i++)
		keep[i] = true;
	unsigned n_suites = 15;
	size_t dropped = 0;
	for (;;) {
		size_t n = hello_hs(out, cap, sni, pq, hs_size, keep, n_suites);
		if (n == hs_size)
			return n;
		if (dropped < sizeof(drop_order) / sizeof(drop_order[0]))
			keep[drop_order[dropped++]] = false;
		else if (n_suites > 3)
			n_suites--;
		else
			return n;	/* cannot get that small */
	}
}

/* Wrap a handshake message in handshake records of at most 16384 bytes. */
static UNUSED size_t hello_records(const uint8_t *hs, size_t hs_len, uint8_t *out, size_t cap)
{
	size_t o = 0;
	for (size_t off = 0; off < hs_len;) {
		size_t n = hs_len - off > 16384 ? 16384 : hs_len - off;
		if (o + 5 + n > cap)
			die("record buffer too small");
		out[o++] = 0x16;
		out[o++] = 0x03;
		out[o++] = 0x01;
		out[o++] = (uint8_t)(n >> 8);
		out[o++] = (uint8_t)n;
		memcpy(out + o, hs + off, n);
		o += n;
		off += n;
	}
	return o;
}

/* A whole ClientHello on the wire: `wire` bytes if wire > 0 (one record),
 * else a handshake of `hs` bytes in as many records as it takes. */
static UNUSED size_t hello_build(uint8_t *out, size_t cap, const char *sni, bool pq, size_t wire, size_t hs)
{
	static uint8_t tmp[70000];
	if (wire)
		hs = wire - 5;
	if (hs > sizeof(tmp))
		die("hello too big");
	size_t n = hello_exact(tmp, sizeof(tmp), sni, pq, hs);
	if (n != hs)
		fprintf(stderr, "note: asked for a %zu-byte handshake, built %zu\n", hs, n);
	return hello_records(tmp, n, out, cap);
}

/* ---- "is the whole ClientHello here" -------------------------------- */
struct hello_reader {
	uint8_t rh[5];
	uint8_t hh[4];
	uint8_t rh_n, hh_n;
	bool done, bad;
	uint32_t rec_left;
	uint32_t hs_len;
	uint64_t hs_got;
};

static UNUSED void hello_feed(struct hello_reader *r, const uint8_t *p, size_t n)
{
	while (n && !r->done && !r->bad) {
		if (r->rec_left == 0) {
			r->rh[r->rh_n++] = *p++;
			n--;
			if (r->rh_n == 5) {
				r->rh_n = 0;
				if (r->rh[0] != 0x16) {
					r->bad = true;
					return;
				}
				r->rec_left = (uint32_t)r->rh[3] << 8 | r->rh[4];
			}
			continue;
		}
		size_t take = n < r->rec_left ? n : r->rec_left;
		for (size_t i = 0; i < take && r->hh_n < 4; i++)
			r->hh[r->hh_n++] = p[i];
		r->hs_got += take;
		r->rec_left -= (uint32_t)take;
		p += take;
		n -= take;
		if (r->hh_n == 4) {
			r->hs_len = (uint32_t)r->hh[1] << 16 | (uint32_t)r->hh[2] << 8 | r->hh[3];
			if (r->hs_got >= 4 + (uint64_t)r->hs_len)
				r->done = true;
		}
	}
}
