/* SPDX-License-Identifier: MIT */
#include <string.h>
#include "health/verdict.h"

/* "HTTP/1.x NNN": the status line's first 12 bytes */
static enum verdict http_verdict(uint16_t want, const uint8_t *b, size_t len, int eof, const char **why)
{
	if (len < 12) {
		*why = "connection closed before a status line";
		return eof ? VERDICT_BAD : VERDICT_MORE;
	}
	if (memcmp(b, "HTTP/1.", 7) || (b[7] != '0' && b[7] != '1') || b[8] != ' ' || b[9] < '1' || b[9] > '5' ||
	    b[10] < '0' || b[10] > '9' || b[11] < '0' || b[11] > '9') {
		*why = "not an HTTP/1 status line";
		return VERDICT_BAD;
	}
	unsigned got = (unsigned)(b[9] - '0') * 100 + (unsigned)(b[10] - '0') * 10 + (unsigned)(b[11] - '0');
	if (got != want) {
		*why = "unexpected HTTP status";
		return VERDICT_BAD;
	}
	return VERDICT_OK;
}

/* a handshake record (22, 3.x) whose first message is a ServerHello (2);
 * a HelloRetryRequest is one too, and says as much: a TLS server */
static enum verdict tls_verdict(const uint8_t *b, size_t len, int eof, const char **why)
{
	if (len < 6) {
		*why = "connection closed before a ServerHello";
		return eof ? VERDICT_BAD : VERDICT_MORE;
	}
	if (b[0] == 21) {
		*why = "TLS alert instead of a ServerHello";
		return VERDICT_BAD;
	}
	if (b[0] != 22 || b[1] != 3 || b[5] != 2) {
		*why = "not a TLS ServerHello";
		return VERDICT_BAD;
	}
	return VERDICT_OK;
}

enum verdict verdict_of(const struct gh_check *opts, enum gh_kind kind, const uint8_t *buf, size_t len, int eof,
			const char **why)
{
	if (kind == GH_KIND_HTTP && opts->http_status)
		return http_verdict(opts->http_status, buf, len, eof, why);
	if (kind == GH_KIND_TLS && opts->tls_hello)
		return tls_verdict(buf, len, eof, why);
	return VERDICT_OK;	/* a connect was all it took */
}
