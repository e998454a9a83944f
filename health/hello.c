/* SPDX-License-Identifier: MIT */
#include <string.h>
#include "health/hello.h"

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int bad;
};

static void put(struct wbuf *w, const void *b, size_t n)
{
	if (w->bad || w->len + n > w->cap) {
		w->bad = 1;
		return;
	}
	memcpy(w->p + w->len, b, n);
	w->len += n;
}

static void u8(struct wbuf *w, unsigned v)
{
	uint8_t b = (uint8_t)v;
	put(w, &b, 1);
}

static void u16(struct wbuf *w, unsigned v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put(w, b, 2);
}

/* a length field of `bytes` bytes at `at`, filled in once its content is written */
static void patch(struct wbuf *w, size_t at, unsigned bytes)
{
	if (w->bad)
		return;
	size_t v = w->len - at - bytes;
	for (unsigned i = 0; i < bytes; i++)
		w->p[at + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static size_t hole(struct wbuf *w, unsigned bytes)
{
	size_t at = w->len;
	static const uint8_t zero[4];
	put(w, zero, bytes);
	return at;
}

size_t hello_build(const char *sni, uint64_t seed, uint8_t *out, size_t cap)
{
	static const uint16_t suites[] = { 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8 };
	static const uint16_t sigalgs[] = { 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601 };
	struct wbuf w = { out, 0, cap, 0 };
	size_t sni_len = strlen(sni);

	if (sni_len > 253)
		return 0;
	u8(&w, 22);		/* handshake record, TLS 1.0 on the record as is usual */
	u16(&w, 0x0301);
	size_t rec = hole(&w, 2);
	u8(&w, 1);		/* ClientHello */
	size_t hs = hole(&w, 3);
	u16(&w, 0x0303);
	for (int i = 0; i < 32; i++)	/* random: unpredictability buys nothing here */
		u8(&w, (unsigned)(seed >> (8 * (i % 8))) ^ (unsigned)(i * 37));
	u8(&w, 32);		/* a legacy session id, as TLS 1.3 middlebox compatibility has it */
	for (int i = 0; i < 32; i++)
		u8(&w, (unsigned)i);
	u16(&w, sizeof(suites));
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		u16(&w, suites[i]);
	u8(&w, 1);
	u8(&w, 0);		/* no compression */
	size_t exts = hole(&w, 2);
	if (sni_len) {
		u16(&w, 0);	/* server_name */
		u16(&w, (unsigned)sni_len + 5);
		u16(&w, (unsigned)sni_len + 3);
		u8(&w, 0);
		u16(&w, (unsigned)sni_len);
		put(&w, sni, sni_len);
	}
	u16(&w, 10);		/* supported_groups: x25519, secp256r1, secp384r1 */
	u16(&w, 8);
	u16(&w, 6);
	u16(&w, 0x001d);
	u16(&w, 0x0017);
	u16(&w, 0x0018);
	u16(&w, 11);		/* ec_point_formats: uncompressed */
	u16(&w, 2);
	u8(&w, 1);
	u8(&w, 0);
	u16(&w, 13);		/* signature_algorithms */
	u16(&w, sizeof(sigalgs) + 2);
	u16(&w, sizeof(sigalgs));
	for (size_t i = 0; i < sizeof(sigalgs) / sizeof(sigalgs[0]); i++)
		u16(&w, sigalgs[i]);
	u16(&w, 43);		/* supported_versions: 1.3, 1.2 */
	u16(&w, 5);
	u8(&w, 4);
	u16(&w, 0x0304);
	u16(&w, 0x0303);
	u16(&w, 45);		/* psk_key_exchange_modes: psk_dhe_ke */
	u16(&w, 2);
	u8(&w, 1);
	u8(&w, 1);
	u16(&w, 51);		/* key_share: x25519, the base point (u = 9) */
	u16(&w, 38);
	u16(&w, 36);
	u16(&w, 0x001d);
	u16(&w, 32);
	u8(&w, 9);
	for (int i = 1; i < 32; i++)
		u8(&w, 0);
	patch(&w, exts, 2);
	patch(&w, hs, 3);
	patch(&w, rec, 2);
	return w.bad ? 0 : w.len;
}
