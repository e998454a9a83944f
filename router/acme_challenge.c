/* SPDX-License-Identifier: MIT */
/*
 * ACME HTTP-01 challenge matching (see acme_challenge.h).
 *
 * Strict on purpose: whatever this lets through reaches a plain-HTTP
 * backend that may serve more than challenges. RFC 8555 §8.3 builds the
 * URL from the token alone, so a validator sends "GET
 * /.well-known/acme-challenge/TOKEN" with no query; a query gets the
 * redirect like any other request.
 */
#include <string.h>
#include "router/acme_challenge.h"

/* RFC 4648 §5 base64url, without the '=' padding (RFC 8555 §8.3) */
static bool is_base64url(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static bool method_is(const struct http_head *h, const char *m)
{
	return h->method_len == strlen(m) && memcmp(h->method, m, h->method_len) == 0;
}

bool acme_challenge(const struct http_head *h)
{
	const size_t plen = sizeof(ACME_CHALLENGE_PREFIX) - 1;

	if (!method_is(h, "GET") && !method_is(h, "HEAD"))
		return false;
	/* a challenge request has no body; one would follow the head to the
	 * backend */
	if (h->has_body)
		return false;
	/* origin-form, or absolute-form with the http scheme: an https://
	 * target on the plain port is no challenge a validator sends */
	if (h->form != HTTP_TARGET_ORIGIN && h->form != HTTP_TARGET_ABSOLUTE_HTTP)
		return false;
	if (h->path_len <= plen || memcmp(h->path, ACME_CHALLENGE_PREFIX, plen) != 0)
		return false;
	for (size_t i = plen; i < h->path_len; i++)
		if (!is_base64url(h->path[i]))
			return false;
	return true;
}
