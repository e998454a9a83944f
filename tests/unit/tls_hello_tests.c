/* SPDX-License-Identifier: MIT */
/*
 * tls_hello: real ClientHellos made by libssl and hand-built ones (a
 * post-quantum-sized share, odd SNI lists), each re-framed into many record
 * layouts and parsed whole and at every prefix, with an OpenSSL server as the
 * reference for the name and the offered ALPN protocols. Then bad inputs, each naming the error it expects
 * and the input length at which the parser must already know it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "suites.h"
#include "router/tls_hello.h"

#define REC_HANDSHAKE	22u
#define EXT_PAD		0xfa42u	/* unassigned: OpenSSL servers skip it */
#define EXT_SNI		0u

/* what the case and framing under test are, for failure messages */
static char where[200];

/* ---- byte strings with back-patched length prefixes ---- */

struct bytes {
	uint8_t *p;
	size_t len, cap;
	size_t open_at[8], open_width[8];
	int depth;
};

static void b_reserve(struct bytes *b, size_t n)
{
	if (b->len + n <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 512;
	while (cap < b->len + n)
		cap *= 2;
	b->p = realloc(b->p, cap);
	ck_assert_ptr_nonnull(b->p);
	b->cap = cap;
}

static void b_put(struct bytes *b, const void *src, size_t n)
{
	b_reserve(b, n);
	if (n)
		memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void b_fill(struct bytes *b, uint8_t v, size_t n)
{
	b_reserve(b, n);
	memset(b->p + b->len, v, n);
	b->len += n;
}

static void b_uint(struct bytes *b, size_t v, size_t width)
{
	for (size_t i = width; i-- > 0;) {
		uint8_t c = (uint8_t)(v >> (8 * i));

		b_put(b, &c, 1);
	}
}

static void b_u8(struct bytes *b, size_t v)
{
	b_uint(b, v, 1);
}

static void b_u16(struct bytes *b, size_t v)
{
	b_uint(b, v, 2);
}

static void b_str(struct bytes *b, const char *s)
{
	b_put(b, s, strlen(s));
}

/* a length prefix filled in by the matching b_close() */
static void b_open(struct bytes *b, size_t width)
{
	ck_assert_int_lt(b->depth, 8);
	b->open_at[b->depth] = b->len;
	b->open_width[b->depth++] = width;
	b_fill(b, 0, width);
}

static void b_close(struct bytes *b)
{
	ck_assert_int_gt(b->depth, 0);
	b->depth--;
	size_t at = b->open_at[b->depth], w = b->open_width[b->depth];
	size_t v = b->len - at - w;

	for (size_t i = 0; i < w; i++)
		b->p[at + i] = (uint8_t)(v >> (8 * (w - 1 - i)));
}

static void b_free(struct bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- record framing ---- */

static void put_record(struct bytes *w, uint8_t type, uint16_t ver, const uint8_t *p, size_t n)
{
	b_u8(w, type);
	b_u16(w, ver);
	b_u16(w, n);
	b_put(w, p, n);
}

/* records cut at ascending handshake offsets cuts[] */
static void frame_cuts(struct bytes *w, const struct bytes *hs, uint16_t ver,
		       const size_t *cuts, size_t ncuts)
{
	size_t from = 0;

	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : hs->len;

		if (to <= from || to > hs->len)
			continue;
		put_record(w, REC_HANDSHAKE, ver, hs->p + from, to - from);
		from = to;
	}
}

/* records of k handshake bytes each */
static void frame_every(struct bytes *w, const struct bytes *hs, uint16_t ver, size_t k)
{
	for (size_t from = 0; from < hs->len; from += k) {
		size_t n = hs->len - from < k ? hs->len - from : k;

		put_record(w, REC_HANDSHAKE, ver, hs->p + from, n);
	}
}

/* handshake bytes of well-formed records, which only the tests make */
static void unframe(const uint8_t *w, size_t n, struct bytes *hs)
{
	size_t off = 0;

	while (off + 5 <= n && w[off] == REC_HANDSHAKE) {
		size_t l = (size_t)w[off + 3] << 8 | w[off + 4];

		ck_assert_uint_le(off + 5 + l, n);
		b_put(hs, w + off + 5, l);
		off += 5 + l;
	}
	ck_assert_uint_eq(off, n);
}

/* ---- OpenSSL as the reference ---- */

struct want {
	bool has_sni;
	size_t sni_len;
	char sni[300];
	/* checked only where set: the ALPN list (wire form) the parser keeps */
	bool check_alpn;
	bool has_alpn, alpn_dropped;
	size_t alpn_len;
	uint8_t alpn[TLS_HELLO_ALPN_MAX];
};

struct ossl_ref {
	bool hello_seen;	/* the ClientHello callback ran */
	struct want raw;	/* first host_name in the extension it handed us */
	unsigned version;
	bool name_seen;		/* the servername callback ran */
	struct want name;	/* SSL_get_servername() there */
	bool has_alpn;		/* the ALPN extension it handed us */
	size_t alpn_len;
	uint8_t alpn[1024];
};

/* RFC 6066 §3, read plainly: first host_name entry of the list */
static void ref_first_host_name(const uint8_t *p, size_t n, struct want *w)
{
	if (n < 2 || ((size_t)p[0] << 8 | p[1]) != n - 2)
		return;
	for (size_t off = 2; off + 3 <= n;) {
		size_t l = (size_t)p[off + 1] << 8 | p[off + 2];

		if (off + 3 + l > n)
			return;
		if (p[off] == 0 && l <= TLS_HELLO_SNI_MAX) {
			w->has_sni = true;
			w->sni_len = l;
			memcpy(w->sni, p + off + 3, l);
			return;
		}
		off += 3 + l;
	}
}

static int ref_hello_cb(SSL *s, int *al, void *arg)
{
	struct ossl_ref *r = arg;
	const unsigned char *ext;
	size_t n;

	(void)al;
	r->hello_seen = true;
	r->version = SSL_client_hello_get0_legacy_version(s);
	if (SSL_client_hello_get0_ext(s, TLSEXT_TYPE_server_name, &ext, &n))
		ref_first_host_name(ext, n, &r->raw);
	if (SSL_client_hello_get0_ext(s, TLSEXT_TYPE_application_layer_protocol_negotiation, &ext,
				      &n) && n >= 2 && n - 2 <= sizeof(r->alpn)) {
		r->has_alpn = true;
		r->alpn_len = n - 2;
		memcpy(r->alpn, ext + 2, n - 2);
	}
	/* carry on, so OpenSSL parses the name itself for the next callback */
	return SSL_CLIENT_HELLO_SUCCESS;
}

static int ref_servername_cb(SSL *s, int *al, void *arg)
{
	struct ossl_ref *r = arg;
	const char *name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);

	(void)al;
	r->name_seen = true;
	if (name) {
		r->name.has_sni = true;
		r->name.sni_len = strlen(name);
		ck_assert_uint_le(r->name.sni_len, TLS_HELLO_SNI_MAX);
		memcpy(r->name.sni, name, r->name.sni_len);
	}
	/* nothing past this point matters here */
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* Feed wire to a fresh OpenSSL server and record what it saw. */
static void ossl_server(const uint8_t *wire, size_t n, struct ossl_ref *r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	ck_assert_ptr_nonnull(ctx);
	memset(r, 0, sizeof(*r));
	/* take every version, so old-style hellos reach the callbacks too */
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	SSL_CTX_set_client_hello_cb(ctx, ref_hello_cb, r);
	SSL_CTX_set_tlsext_servername_callback(ctx, ref_servername_cb);
	SSL_CTX_set_tlsext_servername_arg(ctx, r);

	SSL *s = SSL_new(ctx);
	BIO *rb = BIO_new_mem_buf(wire, (int)n);
	BIO *wb = BIO_new(BIO_s_mem());

	ck_assert(s && rb && wb);
	BIO_set_mem_eof_return(rb, -1);
	SSL_set_bio(s, rb, wb);
	SSL_set_accept_state(s);
	ck_assert_int_le(SSL_do_handshake(s), 0);
	SSL_free(s);
	SSL_CTX_free(ctx);
	ERR_clear_error();
}

static bool want_eq(const struct want *a, const struct want *b)
{
	return a->has_sni == b->has_sni && a->sni_len == b->sni_len &&
	       memcmp(a->sni, b->sni, a->sni_len) == 0;
}

/* ---- checks every good input goes through ---- */

enum ref_mode {
	REF_FULL,	/* OpenSSL parses the name itself and must agree */
	REF_RAW,	/* OpenSSL refuses the name (NUL, odd list) but hands us
			 * the extension; its first host_name must agree */
	REF_NONE,
};

static void expect_done(const struct tls_hello *h, enum tls_hello_status st,
			size_t wire_len, const struct want *want)
{
	ck_assert_msg(st == TLS_HELLO_DONE, "%s: status %d error %s", where, st,
		      tls_hello_error_str(h->error));
	ck_assert_msg(h->wire_len == wire_len, "%s: wire_len %zu, want %zu", where,
		      h->wire_len, wire_len);
	ck_assert_msg(h->has_sni == want->has_sni && h->sni_len == want->sni_len,
		      "%s: sni %d/%zu, want %d/%zu", where, h->has_sni, h->sni_len,
		      want->has_sni, want->sni_len);
	ck_assert_msg(memcmp(h->sni, want->sni, h->sni_len) == 0 && h->sni[h->sni_len] == '\0',
		      "%s: sni bytes differ", where);
	if (!want->check_alpn)
		return;
	ck_assert_msg(h->has_alpn == want->has_alpn && h->alpn_dropped == want->alpn_dropped &&
		      h->alpn_len == want->alpn_len && memcmp(h->alpn, want->alpn, h->alpn_len) == 0,
		      "%s: alpn %d/%d/%zu, want %d/%d/%zu", where, h->has_alpn, h->alpn_dropped,
		      h->alpn_len, want->has_alpn, want->alpn_dropped, want->alpn_len);
	/* every kept protocol is found, and nothing else: not a prefix, not
	 * another case, not a protocol past the array */
	for (size_t i = 0; i < want->alpn_len; i += 1u + want->alpn[i])
		ck_assert(tls_hello_offers_alpn(h, (const char *)want->alpn + i + 1, want->alpn[i]));
	ck_assert(!tls_hello_offers_alpn(h, "h", 1));
	ck_assert(!tls_hello_offers_alpn(h, "H2", 2));
	ck_assert(!tls_hello_offers_alpn(h, "acme-tls/10", 11));
	ck_assert(!tls_hello_offers_alpn(h, "proto-39", 8));
}

/*
 * Parse every prefix (or, for big inputs, the start, the end and a sample):
 * each must ask for more, with a need past the prefix and within the hello,
 * never shrinking.
 */
static void check_prefixes(const uint8_t *w, size_t n, bool single_record)
{
	size_t last_need = 0, stride = n > 12000 ? n / 700 : 1;

	for (size_t p = 0; p < n; p++) {
		if (stride > 1 && p > 600 && p + 600 < n && p % stride != 0)
			continue;

		struct tls_hello h;
		enum tls_hello_status st = tls_hello_parse(w, p, &h);

		ck_assert_msg(st == TLS_HELLO_NEED_MORE, "%s: prefix %zu: status %d error %s",
			      where, p, st, tls_hello_error_str(h.error));
		ck_assert_msg(h.need > p && h.need <= n, "%s: prefix %zu: need %zu, total %zu",
			      where, p, h.need, n);
		ck_assert_msg(h.need >= last_need, "%s: prefix %zu: need fell %zu -> %zu",
			      where, p, last_need, h.need);
		/* one record: its header alone tells the full length */
		if (single_record && p >= 5)
			ck_assert_msg(h.need == n, "%s: prefix %zu: need %zu, want %zu",
				      where, p, h.need, n);
		last_need = h.need;
	}
}

/* Bytes a client may send right after its hello: they are not the hello's. */
static void check_followers(const uint8_t *w, size_t n, const struct want *want)
{
	static const uint8_t ccs[] = { 0x14, 0x03, 0x03, 0x00, 0x01, 0x01 };
	static const uint8_t app[] = { 0x17, 0x03, 0x03, 0x00, 0x03, 0xde, 0xad, 0x00 };
	static const uint8_t junk[] = { 0x00, 0xff, 'G', 'E', 'T' };
	struct bytes b = { 0 };
	struct tls_hello h;

	b_put(&b, w, n);
	b_put(&b, ccs, sizeof(ccs));
	b_put(&b, app, sizeof(app));
	b_put(&b, junk, sizeof(junk));
	for (size_t extra = 1; extra <= b.len - n; extra++)
		expect_done(&h, tls_hello_parse(b.p, n + extra, &h), n, want);
	b_free(&b);
}

static void check_good_wire(const uint8_t *w, size_t n, const struct want *want,
			    enum ref_mode ref, bool single_record)
{
	struct tls_hello h;
	enum tls_hello_status st = tls_hello_parse(w, n, &h);

	expect_done(&h, st, n, want);
	check_prefixes(w, n, single_record);
	check_followers(w, n, want);
	if (ref == REF_NONE)
		return;

	struct ossl_ref r;

	ossl_server(w, n, &r);
	ck_assert_msg(r.hello_seen, "%s: OpenSSL refused the hello", where);
	ck_assert_msg(r.version == h.client_version, "%s: version %#x, OpenSSL %#x", where,
		      h.client_version, r.version);
	ck_assert_msg(want_eq(&r.raw, want), "%s: OpenSSL's extension has another name", where);
	if (ref == REF_FULL)
		ck_assert_msg(r.name_seen, "%s: OpenSSL did not reach SNI processing", where);
	if (r.name_seen)
		ck_assert_msg(want_eq(&r.name, want), "%s: OpenSSL's SNI is '%.*s'", where,
			      (int)r.name.sni_len, r.name.sni);
	/* what we keep is the start of OpenSSL's list, all of it unless dropped */
	if (want->check_alpn) {
		ck_assert_msg(r.has_alpn == h.has_alpn, "%s: OpenSSL's ALPN presence differs", where);
		ck_assert(h.alpn_len <= r.alpn_len && memcmp(h.alpn, r.alpn, h.alpn_len) == 0);
		ck_assert(h.alpn_dropped == (h.alpn_len < r.alpn_len));
	}
}

/* where to cut records: around the handshake header, in the fixed fields,
 * and across the server_name extension, name included */
static size_t interesting_cuts(const struct bytes *hs, const struct want *want, size_t *cuts)
{
	static const size_t fixed[] = { 1, 2, 3, 4, 5, 6, 38, 39, 40, 71, 72, 73, 74 };
	size_t n = 0;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		cuts[n++] = fixed[i];
	if (want->has_sni && want->sni_len > 0) {
		const uint8_t *at = memmem(hs->p, hs->len, want->sni, want->sni_len);

		ck_assert_ptr_nonnull(at);
		size_t name = (size_t)(at - hs->p);

		/* ext type(2) len(2) list len(2) name_type(1) name len(2) */
		for (size_t back = 9; back > 0; back--)
			cuts[n++] = name - back;
		cuts[n++] = name + 1;
		cuts[n++] = name + want->sni_len / 2;
		cuts[n++] = name + want->sni_len - 1;
		cuts[n++] = name + want->sni_len;
	}
	cuts[n++] = hs->len - 4;
	cuts[n++] = hs->len - 1;
	return n;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * One handshake message, many record layouts: one record, records of 1, 2,
 * 7, 100 and 16384 bytes, two records cut at each interesting offset, and
 * records cut at all of them at once.
 */
static void check_good_hs(const char *name, const struct bytes *hs, uint16_t rec_ver,
			  const struct want *want, enum ref_mode ref)
{
	static const size_t sizes[] = { 1, 2, 7, 100, 16384 };
	size_t cuts[40], ncuts = interesting_cuts(hs, want, cuts);
	struct bytes w = { 0 };

	if (hs->len <= 16384) {
		snprintf(where, sizeof(where), "%s, one record", name);
		frame_every(&w, hs, rec_ver, hs->len);
		check_good_wire(w.p, w.len, want, ref, true);
		w.len = 0;
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(where, sizeof(where), "%s, %zu-byte records", name, sizes[i]);
		frame_every(&w, hs, rec_ver, sizes[i]);
		check_good_wire(w.p, w.len, want, ref, hs->len <= sizes[i]);
		w.len = 0;
	}
	for (size_t i = 0; i < ncuts; i++) {
		/* OpenSSL takes no record over 2^14 */
		if (cuts[i] == 0 || cuts[i] >= hs->len || cuts[i] > 16384 ||
		    hs->len - cuts[i] > 16384)
			continue;
		snprintf(where, sizeof(where), "%s, cut at %zu", name, cuts[i]);
		frame_cuts(&w, hs, rec_ver, &cuts[i], 1);
		check_good_wire(w.p, w.len, want, ref, false);
		w.len = 0;
	}
	qsort(cuts, ncuts, sizeof(cuts[0]), cmp_size);
	if (cuts[ncuts - 1] + 16384 >= hs->len) {
		snprintf(where, sizeof(where), "%s, cut at all", name);
		frame_cuts(&w, hs, rec_ver, cuts, ncuts);
		check_good_wire(w.p, w.len, want, ref, false);
	}
	b_free(&w);
}

/* ---- hellos made by libssl ---- */

struct gen_case {
	const char *name;
	int max_version;
	const char *sni;
	size_t sni_fill;	/* or: a name of this many bytes */
	const char *alpn;	/* ALPN list in wire form, or ALPN_MANY */
	const char *groups;
	uint64_t options;
	size_t pad;		/* payload of an unknown extension */
	size_t body;		/* or: pad until the handshake body is this long */
	enum tls_hello_error err;	/* NONE: must parse */
};

#define ALPN_WEB "\x02h2\x08http/1.1"
#define ALPN_ACME "\x0a" "acme-tls/1"
/* 40 protocols "proto-00".."proto-39", 360 bytes: past TLS_HELLO_ALPN_MAX */
#define ALPN_MANY "many"

static const struct gen_case gen_cases[] = {
	/* RFC 8737 §3: a TLS-ALPN-01 validator offers acme-tls/1 alone */
	{ "tls13 alpn acme-tls/1", TLS1_3_VERSION, "acme.example", 0, ALPN_ACME, NULL, 0, 0, 0, 0 },
	{ "tls12 alpn acme-tls/1 h2", TLS1_2_VERSION, "acme.example", 0,
	  "\x02h2\x0a" "acme-tls/1", NULL, 0, 0, 0, 0 },
	{ "tls13 alpn 40 protocols", TLS1_3_VERSION, "many.example", 0, ALPN_MANY, NULL, 0, 0, 0, 0 },
	/* what `openssl s_client` sends today: TLS 1.3, one X25519 share */
	{ "tls13", TLS1_3_VERSION, "example.com", 0, NULL, NULL, 0, 0, 0, 0 },
	{ "tls12 only", TLS1_2_VERSION, "test1.example.net", 0, NULL, NULL, 0, 0, 0, 0 },
	{ "tls13 no sni", TLS1_3_VERSION, NULL, 0, NULL, NULL, 0, 0, 0, 0 },
	{ "tls12 no sni", TLS1_2_VERSION, NULL, 0, NULL, NULL, 0, 0, 0, 0 },
	{ "tls13 alpn h2 http/1.1", TLS1_3_VERSION, "www.test2.example.net", 0, ALPN_WEB, NULL, 0, 0, 0, 0 },
	/* first share P-256: a 65-byte point */
	{ "tls13 groups P-256 first", TLS1_3_VERSION, "a.beef.example", 0, ALPN_WEB,
	  "P-256:X25519:P-384:ffdhe2048", 0, 0, 0, 0 },
	/* a 512-byte finite-field share */
	{ "tls13 ffdhe4096 share", TLS1_3_VERSION, "ffdhe.example", 0, NULL, "ffdhe4096", 0, 0, 0, 0 },
	/* ~1.8 KB like an X25519MLKEM768 hello: the common case, not the edge */
	{ "tls13 pq-sized", TLS1_3_VERSION, "pq.example", 0, ALPN_WEB, NULL, 0, 1216 + 32, 0, 0 },
	{ "tls12 padding extension", TLS1_2_VERSION, "pad.example", 0, NULL, NULL,
	  SSL_OP_TLSEXT_PADDING, 0, 0, 0 },
	{ "tls13 255-byte name", TLS1_3_VERSION, NULL, 255, NULL, NULL, 0, 0, 0, 0 },
	/* not normalised here: hostname_normalize() does that */
	{ "tls13 raw case and dot", TLS1_3_VERSION, "WWW.Example.COM.", 0, NULL, NULL, 0, 0, 0, 0 },
	/* 16380 + 4: the message fills a 16384-byte record exactly */
	{ "body 16380, one full record", TLS1_3_VERSION, "big.example", 0, NULL, NULL, 0, 0, 16380, 0 },
	/* at the cap; OpenSSL itself splits it into two records */
	{ "body 16384, the cap", TLS1_3_VERSION, "cap.example", 0, NULL, NULL, 0, 0, 16384, 0 },
	{ "body 16385, over the cap", TLS1_3_VERSION, "over.example", 0, NULL, NULL, 0, 0, 16385,
	  TLS_HELLO_E_TOO_BIG },
	{ "40 KB, three records", TLS1_3_VERSION, "huge.example", 0, NULL, NULL, 0, 40000, 0,
	  TLS_HELLO_E_TOO_BIG },
};

struct pad_arg {
	uint8_t *p;
	size_t len;
};

static int pad_add(SSL *s, unsigned int type, unsigned int context, const unsigned char **out,
		   size_t *outlen, X509 *x, size_t chainidx, int *al, void *arg)
{
	const struct pad_arg *pa = arg;

	(void)s, (void)type, (void)context, (void)x, (void)chainidx, (void)al;
	*out = pa->p;
	*outlen = pa->len;
	return 1;
}

/* Payload that starts like a server_name extension: a parser that searches
 * for one instead of walking would route on the decoy. */
static void pad_fill(uint8_t *p, size_t n)
{
	static const uint8_t decoy[] = { 0x00, 0x00, 0x00, 0x12, 0x00, 0x10, 0x00, 0x00, 0x0d,
					 'd', 'e', 'c', 'o', 'y', '.', 'i', 'n', 'v', 'a', 'l',
					 'i', 'd', '.' };

	for (size_t i = 0; i < n; i++)
		p[i] = i < sizeof(decoy) ? decoy[i] : (uint8_t)(i * 7);
}

/* The wire list of a case's alpn. */
static size_t alpn_list(const char *alpn, uint8_t *list)
{
	size_t n = 0;

	if (strcmp(alpn, ALPN_MANY) != 0) {
		memcpy(list, alpn, strlen(alpn));
		return strlen(alpn);
	}
	for (int i = 0; i < 40; i++) {
		list[n++] = 8;
		n += (size_t)sprintf((char *)list + n, "proto-%02d", i);
	}
	return n;
}

/* What the parser keeps of it: whole entries while they fit. */
static void want_alpn(struct want *w, const char *alpn)
{
	uint8_t list[512];
	size_t n = alpn ? alpn_list(alpn, list) : 0;

	w->check_alpn = true;
	w->has_alpn = alpn != NULL;
	for (size_t i = 0; i < n; i += 1u + list[i]) {
		if (w->alpn_len + 1 + list[i] > TLS_HELLO_ALPN_MAX) {
			w->alpn_dropped = true;
			continue;
		}
		memcpy(w->alpn + w->alpn_len, list + i, 1u + list[i]);
		w->alpn_len += 1u + list[i];
	}
}

/* SSL_connect once against memory BIOs; the hello is what it wrote. */
static void gen_hello(const struct gen_case *g, const char *sni, size_t pad, struct bytes *wire)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct pad_arg pa = { NULL, pad };

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(SSL_CTX_set_max_proto_version(ctx, g->max_version), 1);
	if (g->groups)
		ck_assert_int_eq(SSL_CTX_set1_groups_list(ctx, g->groups), 1);
	if (g->options)
		SSL_CTX_set_options(ctx, g->options);
	if (pad) {
		pa.p = malloc(pad);
		ck_assert_ptr_nonnull(pa.p);
		pad_fill(pa.p, pad);
		ck_assert_int_eq(SSL_CTX_add_custom_ext(ctx, EXT_PAD, SSL_EXT_CLIENT_HELLO, pad_add,
							NULL, &pa, NULL, NULL), 1);
	}

	SSL *s = SSL_new(ctx);
	BIO *rb = BIO_new(BIO_s_mem());
	BIO *wb = BIO_new(BIO_s_mem());

	ck_assert(s && rb && wb);
	if (sni)
		ck_assert_int_eq(SSL_set_tlsext_host_name(s, sni), 1);
	/* SSL_set_alpn_protos() returns 0 on success */
	if (g->alpn) {
		uint8_t list[512];
		size_t n = alpn_list(g->alpn, list);

		ck_assert_int_eq(SSL_set_alpn_protos(s, list, (unsigned)n), 0);
	}
	SSL_set_bio(s, rb, wb);
	SSL_set_connect_state(s);
	ck_assert_int_eq(SSL_do_handshake(s), -1);
	ck_assert_int_eq(SSL_get_error(s, -1), SSL_ERROR_WANT_READ);

	char *data;
	long n = BIO_get_mem_data(wb, &data);

	ck_assert_int_gt(n, 0);
	b_put(wire, data, (size_t)n);
	SSL_free(s);
	SSL_CTX_free(ctx);
	free(pa.p);
}

static size_t hs_body_len(const struct bytes *hs)
{
	return (size_t)hs->p[1] << 16 | (size_t)hs->p[2] << 8 | hs->p[3];
}

/* Whole or cut, an over-cap hello is refused once its 4-byte handshake
 * header is in, and never before. */
static void check_too_big(const uint8_t *w, size_t n, size_t decide_at)
{
	for (size_t p = 0; p <= n; p++) {
		struct tls_hello h;
		enum tls_hello_status st = tls_hello_parse(w, p, &h);

		if (p < decide_at) {
			ck_assert_msg(st == TLS_HELLO_NEED_MORE, "%s: prefix %zu: status %d",
				      where, p, st);
			continue;
		}
		ck_assert_msg(st == TLS_HELLO_INVALID && h.error == TLS_HELLO_E_TOO_BIG,
			      "%s: prefix %zu: status %d error %s", where, p, st,
			      tls_hello_error_str(h.error));
		if (p > decide_at + 100)
			p += 997;	/* nothing changes later; sample */
	}
}

START_TEST(test_libssl_hellos)
{
	const struct gen_case *g = &gen_cases[_i];
	char longname[TLS_HELLO_SNI_MAX + 1];
	const char *sni = g->sni;
	struct bytes wire = { 0 }, hs = { 0 };
	struct want want = { 0 };

	if (g->sni_fill) {
		/* labels of 63 bytes, as long as DNS allows */
		for (size_t i = 0; i < g->sni_fill; i++)
			longname[i] = i % 64 == 63 ? '.' : (char)('a' + i % 26);
		longname[g->sni_fill] = '\0';
		sni = longname;
	}
	if (sni) {
		want.has_sni = true;
		want.sni_len = strlen(sni);
		memcpy(want.sni, sni, want.sni_len);
	}
	want_alpn(&want, g->alpn);

	size_t pad = g->pad;

	if (g->body) {
		/* a first hello tells the size without padding; pad the rest */
		gen_hello(g, sni, 64, &wire);
		unframe(wire.p, wire.len, &hs);
		ck_assert_uint_lt(hs_body_len(&hs), g->body);
		pad = 64 + g->body - hs_body_len(&hs);
		wire.len = hs.len = 0;
	}
	gen_hello(g, sni, pad, &wire);
	unframe(wire.p, wire.len, &hs);
	if (g->body)
		ck_assert_uint_eq(hs_body_len(&hs), g->body);
	uint16_t rec_ver = (uint16_t)(wire.p[1] << 8 | wire.p[2]);

	if (g->err == TLS_HELLO_E_TOO_BIG) {
		snprintf(where, sizeof(where), "%s, as sent", g->name);
		check_too_big(wire.p, wire.len, 9);
		wire.len = 0;
		snprintf(where, sizeof(where), "%s, 1-byte records", g->name);
		frame_every(&wire, &hs, rec_ver, 1);
		check_too_big(wire.p, wire.len, 4 * 6);
	} else {
		ck_assert_int_eq(g->err, TLS_HELLO_E_NONE);
		snprintf(where, sizeof(where), "%s, as sent", g->name);
		check_good_wire(wire.p, wire.len, &want, REF_FULL, wire.len == hs.len + 5);
		check_good_hs(g->name, &hs, rec_ver, &want, REF_FULL);
	}
	b_free(&wire);
	b_free(&hs);
}
END_TEST

/* ---- hand-built hellos ---- */

static const uint16_t some_ciphers[] = { 0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xcca9 };

/* handshake header; close with b_close() */
static void put_hs_begin(struct bytes *b)
{
	b_u8(b, 1);
	b_open(b, 3);
}

/* legacy_version .. legacy_compression_methods */
static void put_head(struct bytes *b, uint16_t version, size_t sid_len)
{
	b_u16(b, version);
	b_fill(b, 0x5a, 32);
	b_u8(b, sid_len);
	b_fill(b, 0xa5, sid_len);
	b_open(b, 2);
	for (size_t i = 0; i < sizeof(some_ciphers) / sizeof(some_ciphers[0]); i++)
		b_u16(b, some_ciphers[i]);
	b_close(b);
	b_u8(b, 1);
	b_u8(b, 0);
}

static void put_sni(struct bytes *b, const void *name, size_t n)
{
	b_u16(b, EXT_SNI);
	b_open(b, 2);
	b_open(b, 2);
	b_u8(b, 0);
	b_open(b, 2);
	b_put(b, name, n);
	b_close(b);
	b_close(b);
	b_close(b);
}

/*
 * What a 2025 browser sends, less the ECH and GREASE details OpenSSL 3.0
 * would not care about: X25519MLKEM768 (0x11ec, a 1216-byte share) first,
 * then X25519 (pq), or X25519 alone.
 */
static void put_tls13_exts(struct bytes *b, bool pq)
{
	static const uint8_t sigalgs[] = { 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03, 0x08, 0x05 };

	b_u16(b, 0x0a0a);		/* GREASE, empty */
	b_u16(b, 0);
	b_u16(b, 10);			/* supported_groups */
	b_open(b, 2);
	b_open(b, 2);
	if (pq)
		b_u16(b, 0x11ec);
	b_u16(b, 0x001d);
	b_u16(b, 0x0017);
	b_close(b);
	b_close(b);
	b_u16(b, 13);			/* signature_algorithms */
	b_open(b, 2);
	b_open(b, 2);
	b_put(b, sigalgs, sizeof(sigalgs));
	b_close(b);
	b_close(b);
	b_u16(b, 16);			/* ALPN */
	b_open(b, 2);
	b_open(b, 2);
	b_u8(b, 2);
	b_str(b, "h2");
	b_u8(b, 8);
	b_str(b, "http/1.1");
	b_close(b);
	b_close(b);
	b_u16(b, 51);			/* key_share */
	b_open(b, 2);
	b_open(b, 2);
	if (pq) {
		b_u16(b, 0x11ec);
		b_u16(b, 1216);
		for (size_t i = 0; i < 1216; i++)
			b_u8(b, (i * 131 + 7) & 0xff);
	}
	b_u16(b, 0x001d);
	b_u16(b, 32);
	b_fill(b, 0x09, 32);
	b_close(b);
	b_close(b);
	b_u16(b, 45);			/* psk_key_exchange_modes: psk_dhe_ke */
	b_u16(b, 2);
	b_u8(b, 1);
	b_u8(b, 1);
	b_u16(b, 43);			/* supported_versions: 1.3, 1.2 */
	b_u16(b, 5);
	b_u8(b, 4);
	b_u16(b, 0x0304);
	b_u16(b, 0x0303);
}

/* A complete TLS 1.3 hello: head, sni (if name), the usual extensions. */
static void hello_std(struct bytes *hs, const void *name, size_t n, bool pq)
{
	put_hs_begin(hs);
	put_head(hs, 0x0303, 32);
	b_open(hs, 2);
	if (name)
		put_sni(hs, name, n);
	put_tls13_exts(hs, pq);
	b_close(hs);
	b_close(hs);
}

static void want_name(struct want *w, const void *name, size_t n)
{
	w->has_sni = true;
	w->sni_len = n;
	memcpy(w->sni, name, n);
}

static void good_pq(struct bytes *hs, struct want *w)
{
	want_name(w, "pq.example.net", 14);
	put_hs_begin(hs);
	put_head(hs, 0x0303, 32);
	b_open(hs, 2);
	put_sni(hs, "pq.example.net", 14);
	put_tls13_exts(hs, true);
	/* padding (RFC 7685) up to Chrome's usual size */
	b_u16(hs, 21);
	b_open(hs, 2);
	b_fill(hs, 0, 1800 - hs->len);
	b_close(hs);
	b_close(hs);
	b_close(hs);
	ck_assert_uint_eq(hs->len, 1800);
}

static void good_pq_no_sni(struct bytes *hs, struct want *w)
{
	(void)w;
	hello_std(hs, NULL, 0, true);
}

/* TLS 1.0 style: no extensions block at all */
static void good_no_extensions(struct bytes *hs, struct want *w)
{
	(void)w;
	put_hs_begin(hs);
	put_head(hs, 0x0301, 0);
	b_close(hs);
}

/* an extensions block that is there but empty */
static void good_empty_extensions(struct bytes *hs, struct want *w)
{
	(void)w;
	put_hs_begin(hs);
	put_head(hs, 0x0303, 32);
	b_u16(hs, 0);
	b_close(hs);
}

/* the name is raw bytes: a NUL neither ends nor shortens it */
static void good_embedded_nul(struct bytes *hs, struct want *w)
{
	static const char name[] = "evil.example\0.good.example";

	want_name(w, name, sizeof(name) - 1);
	hello_std(hs, name, sizeof(name) - 1, false);
}

/* entries of other name types come first and are skipped; the second
 * host_name is not used */
static void good_other_types_first(struct bytes *hs, struct want *w)
{
	want_name(w, "real.example", 12);
	put_hs_begin(hs);
	put_head(hs, 0x0303, 32);
	b_open(hs, 2);
	b_u16(hs, EXT_SNI);
	b_open(hs, 2);
	b_open(hs, 2);
	b_u8(hs, 1);
	b_u16(hs, 3);
	b_str(hs, "abc");
	b_u8(hs, 0x7f);
	b_u16(hs, 0);
	b_u8(hs, 0);
	b_u16(hs, 12);
	b_str(hs, "real.example");
	b_u8(hs, 0);
	b_u16(hs, 13);
	b_str(hs, "other.example");
	b_close(hs);
	b_close(hs);
	put_tls13_exts(hs, false);
	b_close(hs);
	b_close(hs);
}

/* a list without any host_name: no name, not an error */
static void good_no_host_name(struct bytes *hs, struct want *w)
{
	(void)w;
	put_hs_begin(hs);
	put_head(hs, 0x0303, 32);
	b_open(hs, 2);
	b_u16(hs, EXT_SNI);
	b_u16(hs, 7);
	b_u16(hs, 5);
	b_u8(hs, 2);
	b_u16(hs, 2);
	b_str(hs, "xy");
	put_tls13_exts(hs, false);
	b_close(hs);
	b_close(hs);
}

/* server_name as the very last bytes of the hello */
static void good_sni_last(struct bytes *hs, struct want *w)
{
	want_name(w, "last.example", 12);
	put_hs_begin(hs);
	put_head(hs, 0x0303, 32);
	b_open(hs, 2);
	put_tls13_exts(hs, false);
	put_sni(hs, "last.example", 12);
	b_close(hs);
	b_close(hs);
}

static void good_name_255(struct bytes *hs, struct want *w)
{
	char name[255];

	memset(name, 'n', sizeof(name));
	want_name(w, name, sizeof(name));
	hello_std(hs, name, sizeof(name), false);
}

/* shortest hello there is: 41-byte body, empty session id */
static void good_minimal(struct bytes *hs, struct want *w)
{
	(void)w;
	put_hs_begin(hs);
	b_u16(hs, 0x0303);
	b_fill(hs, 1, 32);
	b_u8(hs, 0);
	b_u16(hs, 2);
	b_u16(hs, 0x1301);
	b_u8(hs, 1);
	b_u8(hs, 0);
	b_close(hs);
	ck_assert_uint_eq(hs->len, 45);
}

static const struct good_case {
	const char *name;
	void (*build)(struct bytes *hs, struct want *w);
	enum ref_mode ref;
} good_cases[] = {
	{ "pq hello, 0x11ec share, 1800 bytes", good_pq, REF_FULL },
	{ "pq hello, no sni", good_pq_no_sni, REF_FULL },
	{ "tls 1.0 style, no extensions", good_no_extensions, REF_FULL },
	{ "empty extensions block", good_empty_extensions, REF_FULL },
	{ "embedded NUL in host_name", good_embedded_nul, REF_RAW },
	{ "other name types before host_name", good_other_types_first, REF_RAW },
	{ "server_name without host_name", good_no_host_name, REF_RAW },
	{ "server_name last", good_sni_last, REF_FULL },
	{ "255-byte host_name", good_name_255, REF_FULL },
	{ "minimal hello", good_minimal, REF_FULL },
};

START_TEST(test_built_hellos)
{
	const struct good_case *g = &good_cases[_i];
	struct bytes hs = { 0 };
	struct want want = { 0 };

	g->build(&hs, &want);
	/* clients put 0x0301 or 0x0303 in the record header; both go */
	check_good_hs(g->name, &hs, _i % 2 ? 0x0303 : 0x0301, &want, g->ref);
	b_free(&hs);
}
END_TEST

/* ---- bad inputs ---- */

/* Each builder writes wire bytes and returns the input length from which
 * the error must show; shorter prefixes must ask for more. */
typedef size_t bad_build_fn(struct bytes *w);

static size_t one_record(struct bytes *w, const struct bytes *hs, size_t hs_at)
{
	put_record(w, REC_HANDSHAKE, 0x0301, hs->p, hs->len);
	return 5 + hs_at;
}

static size_t bad_http(struct bytes *w)
{
	b_str(w, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
	return 1;
}

/* SSLv2-compatible CLIENT-HELLO (RFC 5246 E.2): 2-byte header, top bit set */
static size_t bad_sslv2(struct bytes *w)
{
	static const uint8_t v2[] = { 0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10 };

	b_put(w, v2, sizeof(v2));
	b_fill(w, 0x33, 0x2e + 2 - sizeof(v2));
	return 1;
}

static void put_random(struct bytes *w, size_t n)
{
	uint32_t x = 0x9e3779b9;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		b_u8(w, x & 0xff);
	}
}

static size_t bad_random(struct bytes *w)
{
	put_random(w, 600);
	ck_assert_uint_ne(w->p[0], REC_HANDSHAKE);
	return 1;
}

static size_t bad_random_after_0x16(struct bytes *w)
{
	b_u8(w, REC_HANDSHAKE);
	put_random(w, 600);
	ck_assert_uint_ne(w->p[1], 3);
	return 2;
}

static size_t bad_record_version_2(struct bytes *w)
{
	struct bytes hs = { 0 };

	hello_std(&hs, "a.example", 9, false);
	one_record(w, &hs, 0);
	w->p[1] = 2;
	b_free(&hs);
	return 2;
}

static size_t bad_alert_first(struct bytes *w)
{
	static const uint8_t alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28 };
	struct bytes hs = { 0 };

	b_put(w, alert, sizeof(alert));
	hello_std(&hs, "a.example", 9, false);
	one_record(w, &hs, 0);
	b_free(&hs);
	return 1;
}

static size_t bad_zero_record_first(struct bytes *w)
{
	struct bytes hs = { 0 };

	put_record(w, REC_HANDSHAKE, 0x0301, NULL, 0);
	hello_std(&hs, "a.example", 9, false);
	one_record(w, &hs, 0);
	b_free(&hs);
	return 5;
}

static size_t bad_zero_record_inside(struct bytes *w)
{
	struct bytes hs = { 0 };

	hello_std(&hs, "a.example", 9, false);
	put_record(w, REC_HANDSHAKE, 0x0301, hs.p, 50);
	size_t at = w->len + 5;

	put_record(w, REC_HANDSHAKE, 0x0301, NULL, 0);
	put_record(w, REC_HANDSHAKE, 0x0301, hs.p + 50, hs.len - 50);
	b_free(&hs);
	return at;
}

/* 2^14 + 2048 + 1 */
static size_t bad_record_too_long(struct bytes *w)
{
	b_u8(w, REC_HANDSHAKE);
	b_u16(w, 0x0301);
	b_u16(w, 18433);
	b_fill(w, 1, 100);
	return 5;
}

static size_t bad_server_hello(struct bytes *w)
{
	struct bytes hs = { 0 };

	hello_std(&hs, "a.example", 9, false);
	hs.p[0] = 2;
	one_record(w, &hs, 1);
	b_free(&hs);
	return 6;
}

static size_t bad_too_big(struct bytes *w)
{
	struct bytes hs = { 0 };

	b_u8(&hs, 1);
	b_uint(&hs, TLS_HELLO_MAX_HANDSHAKE + 1, 3);
	b_fill(&hs, 0, 2000);
	/* the record length does not matter: the header alone decides */
	one_record(w, &hs, 4);
	b_free(&hs);
	return 9;
}

static size_t bad_too_big_24bit(struct bytes *w)
{
	struct bytes hs = { 0 };

	b_u8(&hs, 1);
	b_uint(&hs, 0xffffff, 3);
	b_fill(&hs, 0, 60);
	/* the handshake header itself split over four records */
	frame_every(w, &hs, 0x0301, 1);
	b_free(&hs);
	return 6 * 4;
}

static size_t bad_body_too_short(struct bytes *w)
{
	struct bytes hs = { 0 };

	b_u8(&hs, 1);
	b_uint(&hs, 40, 3);
	b_fill(&hs, 3, 40);
	one_record(w, &hs, 4);
	b_free(&hs);
	return 9;
}

static size_t bad_session_id_33(struct bytes *w)
{
	struct bytes hs = { 0 };
	size_t at;

	put_hs_begin(&hs);
	b_u16(&hs, 0x0303);
	b_fill(&hs, 0, 32);
	b_u8(&hs, 33);
	at = hs.len;
	b_fill(&hs, 0, 33);
	b_u16(&hs, 2);
	b_u16(&hs, 0x1301);
	b_u8(&hs, 1);
	b_u8(&hs, 0);
	b_close(&hs);
	at = one_record(w, &hs, at);
	b_free(&hs);
	return at;
}

/* head with a raw cipher_suites length; returns where it ends */
static size_t put_head_ciphers(struct bytes *hs, size_t cipher_len, size_t real)
{
	size_t at;

	b_u16(hs, 0x0303);
	b_fill(hs, 0, 32);
	b_u8(hs, 0);
	b_u16(hs, cipher_len);
	at = hs->len;
	b_fill(hs, 0x13, real);
	b_u8(hs, 1);
	b_u8(hs, 0);
	return at;
}

static size_t bad_cipher_odd(struct bytes *w)
{
	struct bytes hs = { 0 };
	size_t at;

	put_hs_begin(&hs);
	at = put_head_ciphers(&hs, 5, 5);
	b_close(&hs);
	at = one_record(w, &hs, at);
	b_free(&hs);
	return at;
}

static size_t bad_cipher_empty(struct bytes *w)
{
	struct bytes hs = { 0 };
	size_t at;

	put_hs_begin(&hs);
	at = put_head_ciphers(&hs, 0, 0);
	b_fill(&hs, 0, 4);	/* keep the body at the 41-byte minimum */
	b_close(&hs);
	at = one_record(w, &hs, at);
	b_free(&hs);
	return at;
}

static size_t bad_cipher_past_hello(struct bytes *w)
{
	struct bytes hs = { 0 };
	size_t at;

	put_hs_begin(&hs);
	at = put_head_ciphers(&hs, 0x1000, 40);
	b_close(&hs);
	at = one_record(w, &hs, at);
	b_free(&hs);
	return at;
}

static size_t bad_compression_empty(struct bytes *w)
{
	struct bytes hs = { 0 };
	size_t at;

	put_hs_begin(&hs);
	b_u16(&hs, 0x0303);
	b_fill(&hs, 0, 32);
	b_u8(&hs, 0);
	b_u16(&hs, 4);
	b_fill(&hs, 0x13, 4);
	b_u8(&hs, 0);
	at = hs.len;
	b_u16(&hs, 0);
	b_close(&hs);
	at = one_record(w, &hs, at);
	b_free(&hs);
	return at;
}

/* one byte after compression_methods: neither no block nor a block */
static size_t bad_extensions_stray_byte(struct bytes *w)
{
	struct bytes hs = { 0 };

	put_hs_begin(&hs);
	put_head(&hs, 0x0303, 0);
	b_u8(&hs, 0);
	b_close(&hs);
	one_record(w, &hs, 0);
	b_free(&hs);
	/* known once compression_methods is read */
	return w->len - 1;
}

/* the block's length must reach the end of the hello exactly */
static size_t bad_extensions_short(struct bytes *w)
{
	struct bytes hs = { 0 };
	size_t at;

	put_hs_begin(&hs);
	put_head(&hs, 0x0303, 32);
	b_u16(&hs, 4);
	at = hs.len;
	b_u16(&hs, 0x0a0a);
	b_u16(&hs, 0);
	b_u16(&hs, 0x1a1a);
	b_u16(&hs, 0);
	b_close(&hs);
	at = one_record(w, &hs, at);
	b_free(&hs);
	return at;
}

static size_t bad_extensions_long(struct bytes *w)
{
	struct bytes hs = { 0 };
	size_t at;

	put_hs_begin(&hs);
	put_head(&hs, 0x0303, 32);
	b_u16(&hs, 9);
	at = hs.len;
	b_u16(&hs, 0x0a0a);
	b_u16(&hs, 4);
	b_fill(&hs, 0, 4);
	b_close(&hs);
	at = one_record(w, &hs, at);
	b_free(&hs);
	return at;
}

static size_t bad_extension_past_block(struct bytes *w)
{
	struct bytes hs = { 0 };
	size_t at;

	put_hs_begin(&hs);
	put_head(&hs, 0x0303, 32);
	b_open(&hs, 2);
	b_u16(&hs, 0x0a0a);
	b_u16(&hs, 0);
	b_u16(&hs, 16);
	b_u16(&hs, 9);
	at = hs.len;
	b_fill(&hs, 0, 8);
	b_close(&hs);
	b_close(&hs);
	at = one_record(w, &hs, at);
	b_free(&hs);
	return at;
}

/* three bytes left in the block: not room for type(2) + length(2) */
static size_t bad_extension_header_cut(struct bytes *w)
{
	struct bytes hs = { 0 };
	size_t at;

	put_hs_begin(&hs);
	put_head(&hs, 0x0303, 32);
	b_open(&hs, 2);
	b_u16(&hs, 0x0a0a);
	b_u16(&hs, 0);
	at = hs.len + 2;
	b_u16(&hs, 0);
	b_u8(&hs, 0);
	b_close(&hs);
	b_close(&hs);
	at = one_record(w, &hs, at);
	b_free(&hs);
	return at;
}

/* a server_name extension whose body is given raw */
static size_t hello_raw_sni(struct bytes *w, const void *ext, size_t n, size_t decide_in_ext)
{
	struct bytes hs = { 0 };
	size_t at;

	put_hs_begin(&hs);
	put_head(&hs, 0x0303, 32);
	b_open(&hs, 2);
	b_u16(&hs, 0x0a0a);
	b_u16(&hs, 0);
	b_u16(&hs, EXT_SNI);
	b_u16(&hs, n);
	at = hs.len + decide_in_ext;
	b_put(&hs, ext, n);
	put_tls13_exts(&hs, false);
	b_close(&hs);
	b_close(&hs);
	at = one_record(w, &hs, at);
	b_free(&hs);
	return at;
}

static size_t bad_sni_list_short(struct bytes *w)
{
	static const uint8_t e[] = { 0, 12, 0, 0, 10, 'a', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', 'x' };

	return hello_raw_sni(w, e, sizeof(e), 2);
}

static size_t bad_sni_list_long(struct bytes *w)
{
	static const uint8_t e[] = { 0, 14, 0, 0, 10, 'a', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', 'x' };

	return hello_raw_sni(w, e, sizeof(e), 2);
}

static size_t bad_sni_ext_empty(struct bytes *w)
{
	return hello_raw_sni(w, NULL, 0, 0);
}

static size_t bad_sni_ext_one_byte(struct bytes *w)
{
	static const uint8_t e[] = { 0 };

	return hello_raw_sni(w, e, sizeof(e), 0);
}

static size_t bad_sni_list_empty(struct bytes *w)
{
	static const uint8_t e[] = { 0, 0 };

	return hello_raw_sni(w, e, sizeof(e), 2);
}

static size_t bad_sni_entry_cut(struct bytes *w)
{
	static const uint8_t e[] = { 0, 2, 0, 0 };

	return hello_raw_sni(w, e, sizeof(e), 3);
}

static size_t bad_sni_name_empty(struct bytes *w)
{
	static const uint8_t e[] = { 0, 3, 0, 0, 0 };

	return hello_raw_sni(w, e, sizeof(e), 5);
}

static size_t bad_sni_name_past_list(struct bytes *w)
{
	static const uint8_t e[] = { 0, 8, 0, 0, 6, 'a', '.', 'b', 'c', 'd' };

	return hello_raw_sni(w, e, sizeof(e), 5);
}

/* a well-formed list around a name over TLS_HELLO_SNI_MAX */
static size_t hello_long_name(struct bytes *w, size_t n)
{
	uint8_t e[5 + 300];

	ck_assert_uint_le(n, 300);
	e[0] = (uint8_t)((n + 3) >> 8);
	e[1] = (uint8_t)(n + 3);
	e[2] = 0;
	e[3] = (uint8_t)(n >> 8);
	e[4] = (uint8_t)n;
	memset(e + 5, 'x', n);
	return hello_raw_sni(w, e, 5 + n, 5);
}

static size_t bad_sni_256(struct bytes *w)
{
	return hello_long_name(w, 256);
}

static size_t bad_sni_300(struct bytes *w)
{
	return hello_long_name(w, 300);
}

static size_t bad_sni_twice(struct bytes *w)
{
	struct bytes hs = { 0 };
	size_t at;

	put_hs_begin(&hs);
	put_head(&hs, 0x0303, 32);
	b_open(&hs, 2);
	put_sni(&hs, "first.example", 13);
	b_u16(&hs, 0x0a0a);
	b_u16(&hs, 0);
	at = hs.len + 4;
	put_sni(&hs, "first.example", 13);
	b_close(&hs);
	b_close(&hs);
	at = one_record(w, &hs, at);
	b_free(&hs);
	return at;
}

/* a hello cut in two records with another record type between */
static size_t hello_interleaved(struct bytes *w, uint8_t type, uint16_t ver)
{
	static const uint8_t payload[] = { 0x01 };
	struct bytes hs = { 0 };
	size_t at;

	hello_std(&hs, "a.example", 9, true);
	put_record(w, REC_HANDSHAKE, 0x0301, hs.p, 700);
	at = w->len + (type == REC_HANDSHAKE ? 2 : 1);
	put_record(w, type, ver, payload, sizeof(payload));
	put_record(w, REC_HANDSHAKE, 0x0301, hs.p + 700, hs.len - 700);
	b_free(&hs);
	return at;
}

static size_t bad_ccs_inside(struct bytes *w)
{
	return hello_interleaved(w, 20, 0x0303);
}

static size_t bad_appdata_inside(struct bytes *w)
{
	return hello_interleaved(w, 23, 0x0303);
}

static size_t bad_second_record_version(struct bytes *w)
{
	return hello_interleaved(w, REC_HANDSHAKE, 0x0203);
}

/* a HelloRequest packed after the hello in its record */
static size_t bad_trailing(struct bytes *w)
{
	struct bytes hs = { 0 };

	hello_std(&hs, "a.example", 9, false);
	b_fill(&hs, 0, 4);
	one_record(w, &hs, 0);
	b_free(&hs);
	return 9;
}

/* three records, the last one longer than what is left of the hello */
static size_t bad_trailing_last_record(struct bytes *w)
{
	struct bytes hs = { 0 };
	size_t at;

	hello_std(&hs, "a.example", 9, true);
	put_record(w, REC_HANDSHAKE, 0x0301, hs.p, 3);
	put_record(w, REC_HANDSHAKE, 0x0301, hs.p + 3, 1000);
	at = w->len + 5;
	b_fill(&hs, 0x16, 1);
	put_record(w, REC_HANDSHAKE, 0x0301, hs.p + 1003, hs.len - 1003);
	b_free(&hs);
	return at;
}

/* the record header shows the excess before the message length is in */
static size_t bad_trailing_seen_late(struct bytes *w)
{
	struct bytes hs = { 0 };

	hello_std(&hs, "a.example", 9, false);
	b_fill(&hs, 0, 1);
	put_record(w, REC_HANDSHAKE, 0x0301, hs.p, 2);
	put_record(w, REC_HANDSHAKE, 0x0301, hs.p + 2, hs.len - 2);
	b_free(&hs);
	return 5 + 2 + 5 + 2;
}

/*
 * A hello whose last extension is ALPN with body[0..n) (after another,
 * good ALPN extension if twice); the error must show once decide bytes of
 * the body are in.
 */
static size_t alpn_bad(struct bytes *w, const char *body, size_t n, size_t decide, bool twice)
{
	struct bytes hs = { 0 };
	size_t body_at;

	put_hs_begin(&hs);
	put_head(&hs, 0x0303, 32);
	b_open(&hs, 2);
	put_sni(&hs, "a.example", 9);
	if (twice) {
		b_u16(&hs, 16);
		b_u16(&hs, 5);
		b_put(&hs, "\x00\x03\x02h2", 5);
	}
	b_u16(&hs, 16);
	b_u16(&hs, n);
	body_at = hs.len;
	b_put(&hs, body, n);
	b_close(&hs);
	b_close(&hs);
	size_t at = one_record(w, &hs, body_at + decide);
	b_free(&hs);
	return at;
}

#define ALPN_BAD(fn, body, decide, twice) \
	static size_t fn(struct bytes *w) \
	{ \
		return alpn_bad(w, body, sizeof(body) - 1, decide, twice); \
	}
/* no room for the list length */
ALPN_BAD(bad_alpn_empty, "", 0, false)
ALPN_BAD(bad_alpn_one_byte, "\x00", 0, false)
/* the list must fill the extension exactly */
ALPN_BAD(bad_alpn_list_short, "\x00\x03\x02h2x", 2, false)
ALPN_BAD(bad_alpn_list_long, "\x00\x05\x02h2", 2, false)
/* protocol_name_list<2..2^16-1> */
ALPN_BAD(bad_alpn_list_empty, "\x00\x00", 2, false)
ALPN_BAD(bad_alpn_list_one, "\x00\x01\x01", 2, false)
/* ProtocolName<1..2^8-1> */
ALPN_BAD(bad_alpn_name_empty_first, "\x00\x03\x00\x01" "a", 3, false)
ALPN_BAD(bad_alpn_name_empty_later, "\x00\x04\x02h2\x00", 6, false)
ALPN_BAD(bad_alpn_name_past_list, "\x00\x03\x05" "ab", 3, false)
ALPN_BAD(bad_alpn_twice, "\x00\x0b\x0a" "acme-tls/1", 0, true)

static const struct bad_case {
	const char *name;
	bad_build_fn *build;
	enum tls_hello_error err;
} bad_cases[] = {
	{ "plain HTTP", bad_http, TLS_HELLO_E_NOT_TLS },
	{ "SSLv2-compatible hello", bad_sslv2, TLS_HELLO_E_NOT_TLS },
	{ "random bytes", bad_random, TLS_HELLO_E_NOT_TLS },
	{ "0x16 then random bytes", bad_random_after_0x16, TLS_HELLO_E_RECORD_VERSION },
	{ "record version 2", bad_record_version_2, TLS_HELLO_E_RECORD_VERSION },
	/* a client speaking alert first is not one we route */
	{ "alert record first", bad_alert_first, TLS_HELLO_E_NOT_TLS },
	{ "zero-length first record", bad_zero_record_first, TLS_HELLO_E_RECORD_LENGTH },
	{ "zero-length record inside", bad_zero_record_inside, TLS_HELLO_E_RECORD_LENGTH },
	{ "record over 2^14 + 2048", bad_record_too_long, TLS_HELLO_E_RECORD_LENGTH },
	{ "handshake type 2", bad_server_hello, TLS_HELLO_E_NOT_CLIENT_HELLO },
	{ "handshake over the cap", bad_too_big, TLS_HELLO_E_TOO_BIG },
	{ "handshake 2^24-1, header in 1-byte records", bad_too_big_24bit, TLS_HELLO_E_TOO_BIG },
	{ "handshake body under 41 bytes", bad_body_too_short, TLS_HELLO_E_LENGTH },
	{ "session_id 33", bad_session_id_33, TLS_HELLO_E_LENGTH },
	{ "cipher_suites odd", bad_cipher_odd, TLS_HELLO_E_LENGTH },
	{ "cipher_suites empty", bad_cipher_empty, TLS_HELLO_E_LENGTH },
	{ "cipher_suites past the hello", bad_cipher_past_hello, TLS_HELLO_E_LENGTH },
	{ "compression_methods empty", bad_compression_empty, TLS_HELLO_E_LENGTH },
	{ "stray byte for extensions", bad_extensions_stray_byte, TLS_HELLO_E_LENGTH },
	{ "extensions block short of the end", bad_extensions_short, TLS_HELLO_E_LENGTH },
	{ "extensions block past the end", bad_extensions_long, TLS_HELLO_E_LENGTH },
	{ "extension past its block", bad_extension_past_block, TLS_HELLO_E_LENGTH },
	{ "extension header cut by its block", bad_extension_header_cut, TLS_HELLO_E_LENGTH },
	{ "server_name list shorter than extension", bad_sni_list_short, TLS_HELLO_E_SNI },
	{ "server_name list longer than extension", bad_sni_list_long, TLS_HELLO_E_SNI },
	{ "server_name extension empty", bad_sni_ext_empty, TLS_HELLO_E_SNI },
	{ "server_name extension of one byte", bad_sni_ext_one_byte, TLS_HELLO_E_SNI },
	{ "server_name list empty", bad_sni_list_empty, TLS_HELLO_E_SNI },
	{ "server_name entry cut", bad_sni_entry_cut, TLS_HELLO_E_SNI },
	{ "host_name length 0", bad_sni_name_empty, TLS_HELLO_E_SNI },
	{ "host_name past the list", bad_sni_name_past_list, TLS_HELLO_E_SNI },
	{ "host_name 256 bytes", bad_sni_256, TLS_HELLO_E_SNI_TOO_LONG },
	{ "host_name 300 bytes", bad_sni_300, TLS_HELLO_E_SNI_TOO_LONG },
	{ "two server_name extensions", bad_sni_twice, TLS_HELLO_E_SNI },
	{ "ChangeCipherSpec inside the hello", bad_ccs_inside, TLS_HELLO_E_RECORD_TYPE },
	{ "application data inside the hello", bad_appdata_inside, TLS_HELLO_E_RECORD_TYPE },
	{ "second record version 2", bad_second_record_version, TLS_HELLO_E_RECORD_VERSION },
	{ "bytes after the hello in its record", bad_trailing, TLS_HELLO_E_TRAILING },
	{ "last record longer than the hello", bad_trailing_last_record, TLS_HELLO_E_TRAILING },
	{ "one byte after the hello in its record", bad_trailing_seen_late, TLS_HELLO_E_TRAILING },
	{ "ALPN extension empty", bad_alpn_empty, TLS_HELLO_E_ALPN },
	{ "ALPN extension of one byte", bad_alpn_one_byte, TLS_HELLO_E_ALPN },
	{ "ALPN list shorter than extension", bad_alpn_list_short, TLS_HELLO_E_ALPN },
	{ "ALPN list longer than extension", bad_alpn_list_long, TLS_HELLO_E_ALPN },
	{ "ALPN list empty", bad_alpn_list_empty, TLS_HELLO_E_ALPN },
	{ "ALPN list of one byte", bad_alpn_list_one, TLS_HELLO_E_ALPN },
	{ "ALPN first protocol empty", bad_alpn_name_empty_first, TLS_HELLO_E_ALPN },
	{ "ALPN later protocol empty", bad_alpn_name_empty_later, TLS_HELLO_E_ALPN },
	{ "ALPN protocol past the list", bad_alpn_name_past_list, TLS_HELLO_E_ALPN },
	{ "two ALPN extensions", bad_alpn_twice, TLS_HELLO_E_ALPN },
};

START_TEST(test_bad_inputs)
{
	const struct bad_case *c = &bad_cases[_i];
	struct bytes w = { 0 };
	size_t at = c->build(&w);

	snprintf(where, sizeof(where), "%s", c->name);
	ck_assert_msg(at > 0 && at <= w.len, "%s: decided at %zu of %zu", where, at, w.len);
	for (size_t p = 0; p <= w.len; p++) {
		struct tls_hello h;
		enum tls_hello_status st = tls_hello_parse(w.p, p, &h);

		if (p < at) {
			ck_assert_msg(st == TLS_HELLO_NEED_MORE && h.need > p,
				      "%s: prefix %zu: status %d error %s need %zu", where, p, st,
				      tls_hello_error_str(h.error), h.need);
			continue;
		}
		ck_assert_msg(st == TLS_HELLO_INVALID && h.error == c->err,
			      "%s: prefix %zu: status %d error '%s', want '%s'", where, p, st,
			      tls_hello_error_str(h.error), tls_hello_error_str(c->err));
		ck_assert(!h.has_sni && h.sni_len == 0);
		ck_assert(!h.has_alpn && !h.alpn_dropped && h.alpn_len == 0);
	}
	b_free(&w);
}
END_TEST

/* ---- need, exactly ---- */

START_TEST(test_need_values)
{
	static const struct {
		const char *what;
		uint8_t in[12];
		size_t len, need;
	} cases[] = {
		/* nothing yet: a record header and the shortest hello */
		{ "empty", { 0 }, 0, 5 + 4 + 41 },
		{ "first byte", { 0x16 }, 1, 50 },
		{ "record header, 512", { 0x16, 3, 1, 2, 0 }, 5, 517 },
		/* a 10-byte record cannot hold the hello: one more header and
		 * the rest of the 45 bytes */
		{ "record header, 10", { 0x16, 3, 1, 0, 10 }, 5, 15 + 5 + 35 },
		/* handshake length 1800 in a 512-byte record */
		{ "hs header, 1800", { 0x16, 3, 1, 2, 0, 1, 0, 7, 8 }, 9, 517 + 5 + 1804 - 512 },
		/* handshake header cut by the record */
		{ "hs header cut", { 0x16, 3, 1, 0, 2, 1, 0, 0x16, 3, 1, 0, 3 }, 12, 15 + 5 + 40 },
		/* the whole hello in this record */
		{ "hs header, 300 in 304", { 0x16, 3, 3, 1, 0x30, 1, 0, 1, 0x2c }, 9, 309 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tls_hello h;

		ck_assert_int_eq(tls_hello_parse(cases[i].in, cases[i].len, &h), TLS_HELLO_NEED_MORE);
		ck_assert_msg(h.need == cases[i].need, "%s: need %zu, want %zu", cases[i].what,
			      h.need, cases[i].need);
	}
	/* NULL is fine when there is nothing to read */
	struct tls_hello h;

	ck_assert_int_eq(tls_hello_parse(NULL, 0, &h), TLS_HELLO_NEED_MORE);
}
END_TEST

START_TEST(test_error_strings)
{
	for (int e = TLS_HELLO_E_NONE; e <= TLS_HELLO_E_ALPN; e++) {
		const char *s = tls_hello_error_str((enum tls_hello_error)e);

		ck_assert_ptr_nonnull(s);
		ck_assert_uint_gt(strlen(s), 0);
		ck_assert_uint_lt(strlen(s), 48);
		for (int f = TLS_HELLO_E_NONE; f < e; f++)
			ck_assert_str_ne(s, tls_hello_error_str((enum tls_hello_error)f));
	}
	ck_assert_str_eq(tls_hello_error_str(TLS_HELLO_E_NOT_TLS), "not TLS");
	ck_assert_str_eq(tls_hello_error_str((enum tls_hello_error)99), "unknown error");
}
END_TEST

/* the struct says nothing stale after an early stop */
START_TEST(test_out_reset)
{
	struct bytes hs = { 0 }, w = { 0 };
	struct tls_hello h;

	hello_std(&hs, "stale.example", 13, false);
	one_record(&w, &hs, 0);
	ck_assert_int_eq(tls_hello_parse(w.p, w.len, &h), TLS_HELLO_DONE);
	ck_assert(h.has_sni && h.has_alpn && h.alpn_len == 12);
	/* cut right after the ALPN list was copied: none of it is left */
	const uint8_t *list = memmem(w.p, w.len, "\x02h2\x08http/1.1", 12);

	ck_assert_ptr_nonnull(list);
	ck_assert_int_eq(tls_hello_parse(w.p, (size_t)(list - w.p) + 12, &h), TLS_HELLO_NEED_MORE);
	ck_assert(!h.has_alpn && h.alpn_len == 0 && !tls_hello_offers_alpn(&h, "h2", 2));
	/* cut right after the name was copied */
	const uint8_t *name = memmem(w.p, w.len, "stale.example", 13);

	ck_assert_ptr_nonnull(name);
	ck_assert_int_eq(tls_hello_parse(w.p, (size_t)(name - w.p) + 13, &h), TLS_HELLO_NEED_MORE);
	ck_assert(!h.has_sni && h.sni_len == 0 && h.sni[0] == '\0');
	ck_assert_int_eq(h.error, TLS_HELLO_E_NONE);
	ck_assert_uint_eq(h.wire_len, 0);
	b_free(&hs);
	b_free(&w);
}
END_TEST

Suite *make_tls_hello_suite(void)
{
	Suite *s = suite_create("tls_hello");
	TCase *tc = tcase_create("core");

	/* every prefix of every framing, with OpenSSL beside: seconds under ASan */
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_libssl_hellos, 0, (int)(sizeof(gen_cases) / sizeof(gen_cases[0])));
	tcase_add_loop_test(tc, test_built_hellos, 0, (int)(sizeof(good_cases) / sizeof(good_cases[0])));
	tcase_add_loop_test(tc, test_bad_inputs, 0, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, test_need_values);
	tcase_add_test(tc, test_error_strings);
	tcase_add_test(tc, test_out_reset);
	suite_add_tcase(s, tc);
	return s;
}
