/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * TLS ClientHello parser: finds the SNI host_name in the first bytes a
 * client sends on :443.
 *
 * Stateless by design: the listener peeks (MSG_PEEK) so the kernel keeps
 * every byte; on each wake-up it re-reads the stream from its first byte and
 * calls tls_hello_parse() on the whole prefix. The parser therefore keeps no
 * state between calls and no per-connection buffer exists. Re-parsing a few
 * hundred bytes of integer reads is cheaper than carrying a context.
 *
 * The handshake is reassembled across TLS records without copying: a cursor
 * walks the handshake bytes, skipping record headers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Largest ClientHello handshake body we accept (RFC 8446 allows more, no
 * client sends it; nginx's preread buffer is 16 KiB too). */
#define TLS_HELLO_MAX_HANDSHAKE 16384u
/* Largest host_name we copy out; longer is invalid (DNS names are <= 253). */
#define TLS_HELLO_SNI_MAX 255u
/* Bytes of offered ALPN protocols kept (RFC 7301 wire form: a length byte,
 * then the name). Browsers offer ~14 ("h2", "http/1.1"), an ACME validator
 * 11 ("acme-tls/1" alone, RFC 8737 §3): protocols past this are walked and
 * validated but not kept, and alpn_dropped says so. */
#define TLS_HELLO_ALPN_MAX 255u

enum tls_hello_status {
	TLS_HELLO_NEED_MORE,	/* consistent so far; out->need says how much */
	TLS_HELLO_DONE,		/* complete ClientHello; out->sni maybe empty */
	TLS_HELLO_INVALID,	/* not a ClientHello we accept; out->error */
};

enum tls_hello_error {
	TLS_HELLO_E_NONE = 0,
	TLS_HELLO_E_NOT_TLS,		/* first byte not a handshake record, e.g. HTTP, SSLv2 */
	TLS_HELLO_E_RECORD_VERSION,	/* record major version is not 3 */
	TLS_HELLO_E_RECORD_TYPE,	/* non-handshake record before the hello ended */
	TLS_HELLO_E_RECORD_LENGTH,	/* empty record, or over 2^14 + 2048 */
	TLS_HELLO_E_NOT_CLIENT_HELLO,	/* handshake type is not 1 */
	TLS_HELLO_E_TOO_BIG,		/* handshake length over TLS_HELLO_MAX_HANDSHAKE */
	TLS_HELLO_E_LENGTH,		/* an inner length disagrees with what encloses it */
	TLS_HELLO_E_SNI,		/* malformed server_name extension */
	TLS_HELLO_E_SNI_TOO_LONG,	/* host_name over TLS_HELLO_SNI_MAX */
	TLS_HELLO_E_TRAILING,		/* bytes after the hello inside its last record */
	TLS_HELLO_E_ALPN,		/* malformed or repeated ALPN extension (RFC 7301) */
};

struct tls_hello {
	/* TLS_HELLO_NEED_MORE: total input length needed at least (> len) */
	size_t need;
	/* TLS_HELLO_INVALID: why */
	enum tls_hello_error error;
	/* TLS_HELLO_DONE: */
	bool has_sni;			/* a host_name entry was present */
	size_t sni_len;
	char sni[TLS_HELLO_SNI_MAX + 1];	/* raw host_name bytes, NUL added; may
						 * contain any byte: normalise it with
						 * hostname_normalize() before use */
	bool has_alpn;			/* an ALPN extension was present */
	bool alpn_dropped;		/* some offered protocols did not fit alpn[] */
	size_t alpn_len;		/* bytes used in alpn[] */
	uint8_t alpn[TLS_HELLO_ALPN_MAX];	/* offered protocols in the client's order,
						 * each a length byte (1..255) then its bytes */
	uint16_t client_version;	/* legacy_version field of the hello */
	size_t wire_len;		/* input bytes up to the end of the record holding
					 * the hello's last byte */
};

/* Parse the first len bytes a client sent. Never reads past buf[len - 1]. */
enum tls_hello_status tls_hello_parse(const uint8_t *buf, size_t len, struct tls_hello *out);

/*
 * The same for bare handshake bytes without TLS records, as QUIC carries
 * them in CRYPTO frames: buf starts with the handshake header. need and
 * wire_len count handshake bytes; bytes after the hello are
 * TLS_HELLO_E_TRAILING. Never reads past buf[len - 1].
 */
enum tls_hello_status tls_hello_parse_handshake(const uint8_t *buf, size_t len,
						struct tls_hello *out);

/* Did the hello (TLS_HELLO_DONE) offer ALPN protocol proto[0..len)?
 * Exact bytes, as RFC 7301 §3.1 compares them. */
bool tls_hello_offers_alpn(const struct tls_hello *h, const char *proto, size_t len);

/* Short lowercase description for logs, e.g. "not TLS". */
const char *tls_hello_error_str(enum tls_hello_error e);
