/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * HTTP/1.x request-head parser (RFC 9112): request line, header fields up to
 * a cap, the Host. Stateless like tls_hello.h: called again on the whole
 * prefix each time more bytes arrive (the listener peeks, never consumes).
 *
 * Routing name: the authority of an absolute-form target, else the Host,
 * normalised with hostname_normalize(). When both are sent they must name
 * the same authority, or the head is 400 (RFC 9112 §3.2.2 lets a server
 * refuse it; see http_head.c for what "same" means).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "router/hostname.h"

#define HTTP_HEAD_DEFAULT_CAP 16384u

enum http_head_status {
	HTTP_HEAD_NEED_MORE,	/* consistent so far, blank line not seen yet */
	HTTP_HEAD_DONE,		/* whole head parsed, fields below set */
	HTTP_HEAD_INVALID,	/* answer out->status (400, 405, 414, 431, 505) */
};

/* RFC 9112 §3.2: the request-target's form (authority-form is refused) */
enum http_target_form {
	HTTP_TARGET_ORIGIN,		/* "/path?query" */
	HTTP_TARGET_ASTERISK,		/* "*" (OPTIONS) */
	HTTP_TARGET_ABSOLUTE_HTTP,	/* "http://authority/path" */
	HTTP_TARGET_ABSOLUTE_HTTPS,	/* "https://authority/path" */
};

struct http_head {
	/* HTTP_HEAD_INVALID: the status to answer and a short reason for logs */
	int status;
	const char *reason;

	/* HTTP_HEAD_DONE: pointers into the caller's buffer */
	const uint8_t *method;
	size_t method_len;
	const uint8_t *target;		/* request-target as sent */
	size_t target_len;
	enum http_target_form form;
	const uint8_t *path;		/* origin-form path and query ("/" when the
					 * absolute-form target has none; "*" for
					 * asterisk-form) */
	size_t path_len;
	int version_minor;		/* HTTP/1.<minor>: 0 or 1 */
	bool has_host;			/* a routing name was found (absolute-form or Host) */
	char host[HOSTNAME_MAX + 1];	/* normalised, NUL-terminated */
	size_t host_len;
	bool has_body;			/* Content-Length over 0, or Transfer-Encoding */
	size_t head_len;		/* bytes up to and including the blank line */
};

/* Parse buf[0..len). cap bounds the head (request line + fields + blank
 * line); a head not complete within cap bytes is 431 (414 if the request
 * line alone is over cap). Never reads past buf[len - 1]. */
enum http_head_status http_head_parse(const uint8_t *buf, size_t len, size_t cap, struct http_head *out);
