/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.x request-head parser (see http_head.h), RFC 9112.
 *
 * One left-to-right scan over buf[0 .. min(len, cap)). A decision taken at
 * byte i looks at bytes 0..i only (a CR waits for the byte after it), the
 * scan stops at the first error, and running out of bytes is NEED_MORE, or
 * 414/431 once cap bytes are in. So the answer for a prefix never
 * contradicts the answer for the whole: scanning the whole walks through the
 * same bytes and stops at the same place. Bytes after the blank line are
 * never looked at, so a body or a pipelined request changes nothing.
 *
 * Rules beyond the grammar, each also noted where it is applied:
 *  - CONNECT is 405: a reverse proxy opens no tunnels. PRI (the HTTP/2
 *    preface's method) is 505 as soon as it is seen.
 *  - After routing the connection becomes a tunnel to the backend, so
 *    ambiguous framing is refused up front (request smuggling): Content-
 *    Length with Transfer-Encoding, Content-Length values that are not
 *    digits or disagree as numbers, Transfer-Encoding whose last coding is
 *    not chunked or that comes in an HTTP/1.0 request.
 *  - Host: values are compared after normalisation; identical duplicates
 *    are accepted (RFC 9112 §3.2 asks for 400 on any duplicate, but an
 *    identical repeat routes only one way), different ones are 400.
 *  - An absolute-form target and a Host must name the same authority, or
 *    400 (RFC 9112 §3.2.2 lets a server refuse; the backend might believe
 *    the Host where we routed by the target). Same means the same name
 *    after normalisation and the same port once a missing port is read as
 *    the scheme's default: "http://A.example/" and "Host: a.example:80"
 *    agree; an empty Host does not agree with any authority.
 *  - HTTP/1.1 with an absolute-form target and no Host is accepted: the
 *    routing name is unambiguous (RFC 9112 §3.2 still wants a Host).
 *  - An empty Host is accepted and gives no routing name (RFC 9110 §7.2).
 *  - "http://host?query" (a query with no path) is 400: path stays a
 *    pointer into the caller's buffer and "/?query" is not in it.
 */
#include <stdbool.h>
#include <string.h>
#include "router/http_head.h"

/* RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the
 * request line; a few are tolerated, a stream of them is not a request. */
#define EMPTY_LINES_MAX 4

/* path of an absolute-form target with no path (RFC 9112 §3.2.1) */
static const uint8_t root_path[] = "/";

enum step {
	STEP_OK,	/* the piece parsed; pos is past it */
	STEP_MORE,	/* bytes ran out before the piece ended */
	STEP_BAD,	/* out->status and out->reason are set */
};

struct scan {
	const uint8_t *buf;
	size_t pos;
	size_t end;			/* min(len, cap): never read at or past it */
	struct http_head *out;

	/* request line */
	const uint8_t *method, *target, *path;
	size_t method_len, target_len, path_len;
	enum http_target_form form;
	int minor;
	bool abs_host;			/* absolute-form target named the host */
	char host[HOSTNAME_MAX + 1];	/* from the target */
	size_t host_len;
	unsigned abs_port;		/* the target's port, or its scheme's */
	unsigned default_port;		/* the scheme's: 80 or 443 */

	/* header fields */
	bool hdr_host_seen;
	char hdr_host[HOSTNAME_MAX + 1];	/* first Host, normalised */
	size_t hdr_host_len;			/* 0: the Host was empty */
	bool cl_seen;
	uint64_t cl;
	bool te_seen;
	const uint8_t *te;		/* value of the last Transfer-Encoding */
	size_t te_len;
};

static enum step fail(struct scan *s, int status, const char *reason)
{
	s->out->status = status;
	s->out->reason = reason;
	return STEP_BAD;
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 9110 §5.6.2 tchar */
static bool is_tchar(uint8_t c)
{
	if (is_alpha(c) || is_digit(c))
		return true;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
	case '+': case '-': case '.': case '^': case '_': case '`': case '|':
	case '~':
		return true;
	}
	return false;
}

/* RFC 9112 §3.2: request-target bytes, VCHAR only */
static bool is_target_char(uint8_t c)
{
	return c >= 0x21 && c <= 0x7e;
}

/* RFC 9110 §5.5: field-vchar / SP / HTAB, obs-text included */
static bool is_value_char(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static bool eq_nocase(const uint8_t *a, size_t a_len, const char *b)
{
	size_t n = strlen(b);

	if (a_len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = a[i];

		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (c != (uint8_t)b[i])
			return false;
	}
	return true;
}

static bool eq_exact(const uint8_t *a, size_t a_len, const char *b)
{
	return a_len == strlen(b) && memcmp(a, b, a_len) == 0;
}

/* The caller saw CR or LF at pos. RFC 9112 §2.2: a line ends with CRLF or a
 * bare LF; a CR not followed by LF is refused. */
static enum step line_end(struct scan *s)
{
	if (s->buf[s->pos] == '\n') {
		s->pos++;
		return STEP_OK;
	}
	if (s->pos + 1 >= s->end)
		return STEP_MORE;
	if (s->buf[s->pos + 1] != '\n')
		return fail(s, 400, "bare cr");
	s->pos += 2;
	return STEP_OK;
}

/* RFC 9112 §3.2.1-3.2.4: which form the request-target takes */
static enum step target_form(struct scan *s)
{
	const uint8_t *t = s->target;
	size_t n = s->target_len, skip;

	/* origin-form: absolute-path [ "?" query ] */
	if (t[0] == '/') {
		s->form = HTTP_TARGET_ORIGIN;
		s->path = t;
		s->path_len = n;
		return STEP_OK;
	}
	/* asterisk-form: only for a server-wide OPTIONS */
	if (n == 1 && t[0] == '*') {
		if (!eq_exact(s->method, s->method_len, "OPTIONS"))
			return fail(s, 400, "asterisk-form without options");
		s->form = HTTP_TARGET_ASTERISK;
		s->path = t;
		s->path_len = n;
		return STEP_OK;
	}
	/* absolute-form; the scheme is case-insensitive (RFC 3986 §3.1) */
	if (n >= 7 && eq_nocase(t, 7, "http://")) {
		skip = 7;
		s->form = HTTP_TARGET_ABSOLUTE_HTTP;
		s->default_port = 80;
	} else if (n >= 8 && eq_nocase(t, 8, "https://")) {
		skip = 8;
		s->form = HTTP_TARGET_ABSOLUTE_HTTPS;
		s->default_port = 443;
	} else {
		return fail(s, 400, "bad target form");
	}

	const uint8_t *auth = t + skip;
	size_t auth_len = 0;

	while (skip + auth_len < n && auth[auth_len] != '/' &&
	       auth[auth_len] != '?' && auth[auth_len] != '#')
		auth_len++;
	/* userinfo is deprecated in http(s) URIs (RFC 9110 §4.2.4) and a
	 * classic way to disguise the real host */
	if (memchr(auth, '@', auth_len))
		return fail(s, 400, "userinfo in target");
	/* an http(s) URI needs a host (RFC 9110 §4.2.1) */
	if (auth_len == 0)
		return fail(s, 400, "empty authority in target");
	if (hostname_normalize(auth, auth_len, s->host, &s->host_len) != HOSTNAME_OK)
		return fail(s, 400, "bad host in target");
	s->abs_host = true;
	s->abs_port = hostname_port(auth, auth_len);
	if (s->abs_port == 0)
		s->abs_port = s->default_port;

	size_t rest = n - skip - auth_len;

	if (rest == 0) {
		s->path = root_path;
		s->path_len = 1;
	} else if (auth[auth_len] == '/') {
		s->path = auth + auth_len;
		s->path_len = rest;
	} else {
		return fail(s, 400, "absolute-form without path");
	}
	return STEP_OK;
}

/* RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive.
 * Each byte is judged as it arrives, so "HTTP/2" is 505 at once. */
static enum step version(struct scan *s)
{
	static const char name[] = "HTTP/";

	for (size_t i = 0; i < sizeof(name) - 1; i++) {
		if (s->pos >= s->end)
			return STEP_MORE;
		if (s->buf[s->pos] != (uint8_t)name[i])
			return fail(s, 400, "bad http version");
		s->pos++;
	}
	/* major */
	if (s->pos >= s->end)
		return STEP_MORE;
	if (!is_digit(s->buf[s->pos]))
		return fail(s, 400, "bad http version");
	if (s->buf[s->pos] != '1')
		return fail(s, 505, "http version not supported");
	s->pos++;
	if (s->pos >= s->end)
		return STEP_MORE;
	if (s->buf[s->pos] != '.')
		return fail(s, 400, "bad http version");
	s->pos++;
	/* minor: 1.0 and 1.1 only; 1.2 would be a version we cannot vouch for */
	if (s->pos >= s->end)
		return STEP_MORE;
	if (!is_digit(s->buf[s->pos]))
		return fail(s, 400, "bad http version");
	if (s->buf[s->pos] > '1')
		return fail(s, 505, "http version not supported");
	s->minor = s->buf[s->pos] - '0';
	s->pos++;
	if (s->pos >= s->end)
		return STEP_MORE;
	if (s->buf[s->pos] != '\r' && s->buf[s->pos] != '\n')
		return fail(s, 400, "bad http version");
	return line_end(s);
}

/* RFC 9112 §3: request-line = method SP request-target SP HTTP-version CRLF */
static enum step request_line(struct scan *s)
{
	size_t start;
	enum step r;

	for (int n = 0;; n++) {
		if (s->pos >= s->end)
			return STEP_MORE;
		if (s->buf[s->pos] != '\r' && s->buf[s->pos] != '\n')
			break;
		if (n == EMPTY_LINES_MAX)
			return fail(s, 400, "too many empty lines");
		r = line_end(s);
		if (r != STEP_OK)
			return r;
	}

	/* method = token */
	start = s->pos;
	while (s->pos < s->end && is_tchar(s->buf[s->pos]))
		s->pos++;
	if (s->pos >= s->end)
		return STEP_MORE;
	if (s->pos == start || s->buf[s->pos] != ' ')
		return fail(s, 400, "bad method");
	s->method = s->buf + start;
	s->method_len = s->pos - start;
	/* a reverse proxy opens no tunnels (RFC 9110 §9.3.6) */
	if (eq_exact(s->method, s->method_len, "CONNECT"))
		return fail(s, 405, "connect not allowed");
	/* "PRI * HTTP/2.0": an HTTP/2 prior-knowledge preface (RFC 9113 §3.4) */
	if (eq_exact(s->method, s->method_len, "PRI"))
		return fail(s, 505, "http/2 preface");
	s->pos++;

	/* request-target: no whitespace, no CTL, no byte over 0x7e */
	start = s->pos;
	while (s->pos < s->end && is_target_char(s->buf[s->pos]))
		s->pos++;
	if (s->pos >= s->end)
		return STEP_MORE;
	if (s->buf[s->pos] == '\r' || s->buf[s->pos] == '\n')
		return fail(s, 400, "no http version");
	if (s->pos == start)
		return fail(s, 400, "empty target");
	if (s->buf[s->pos] != ' ')
		return fail(s, 400, "bad byte in target");
	s->target = s->buf + start;
	s->target_len = s->pos - start;
	r = target_form(s);
	if (r != STEP_OK)
		return r;
	s->pos++;

	return version(s);
}

/* Content-Length = 1*DIGIT (RFC 9110 §8.6); lists ("5, 5") are refused */
static enum step content_length(struct scan *s, const uint8_t *v, size_t n)
{
	uint64_t cl = 0;

	if (n == 0)
		return fail(s, 400, "bad content-length");
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(v[i]))
			return fail(s, 400, "bad content-length");
		uint64_t d = (uint64_t)(v[i] - '0');
		if (cl > (UINT64_MAX - d) / 10)
			return fail(s, 400, "bad content-length");
		cl = cl * 10 + d;
	}
	/* both framings at once is the classic smuggling setup (RFC 9112 §6.3) */
	if (s->te_seen)
		return fail(s, 400, "content-length with transfer-encoding");
	/* repeats must agree, or the backend may pick another one */
	if (s->cl_seen && s->cl != cl)
		return fail(s, 400, "conflicting content-length");
	s->cl_seen = true;
	s->cl = cl;
	return STEP_OK;
}

static enum step transfer_encoding(struct scan *s, const uint8_t *v, size_t n)
{
	/* an HTTP/1.0 message with Transfer-Encoding has faulty framing
	 * (RFC 9112 §6.1) */
	if (s->minor == 0)
		return fail(s, 400, "transfer-encoding in http/1.0");
	/* both framings at once is the classic smuggling setup (RFC 9112 §6.3) */
	if (s->cl_seen)
		return fail(s, 400, "content-length with transfer-encoding");
	s->te_seen = true;
	s->te = v;
	s->te_len = n;
	return STEP_OK;
}

static enum step host_field(struct scan *s, const uint8_t *v, size_t n)
{
	char tmp[HOSTNAME_MAX + 1];
	size_t tmp_len = 0;

	/* an empty Host is allowed (RFC 9110 §7.2): no routing name */
	if (n > 0 && hostname_normalize(v, n, tmp, &tmp_len) != HOSTNAME_OK)
		return fail(s, 400, "bad host");
	/* the target's authority and the Host must agree (see the top) */
	if (s->abs_host) {
		unsigned port = n > 0 ? hostname_port(v, n) : 0;

		if (port == 0)
			port = s->default_port;
		if (tmp_len != s->host_len || memcmp(tmp, s->host, tmp_len) != 0 ||
		    port != s->abs_port)
			return fail(s, 400, "host differs from target");
	}
	if (!s->hdr_host_seen) {
		s->hdr_host_seen = true;
		memcpy(s->hdr_host, tmp, tmp_len);
		s->hdr_host[tmp_len] = '\0';
		s->hdr_host_len = tmp_len;
		return STEP_OK;
	}
	/* a repeat must name the same host, whatever its spelling */
	if (tmp_len != s->hdr_host_len || memcmp(tmp, s->hdr_host, tmp_len) != 0)
		return fail(s, 400, "conflicting host");
	return STEP_OK;
}

/* RFC 9112 §5: field-line = field-name ":" OWS field-value OWS */
static enum step field_line(struct scan *s)
{
	size_t start = s->pos, name_len, v_start, v_end;
	enum step r;

	/* obs-fold (RFC 9112 §5.2), or whitespace before the first field
	 * (§2.2): both are refused */
	if (is_ows(s->buf[s->pos]))
		return fail(s, 400, "line starts with whitespace");
	while (s->pos < s->end && is_tchar(s->buf[s->pos]))
		s->pos++;
	if (s->pos >= s->end)
		return STEP_MORE;
	/* RFC 9112 §5.1: no whitespace between name and colon, MUST be 400 */
	if (is_ows(s->buf[s->pos]))
		return fail(s, 400, "whitespace before colon");
	if (s->buf[s->pos] != ':')
		return fail(s, 400, "bad field name");
	if (s->pos == start)
		return fail(s, 400, "empty field name");
	name_len = s->pos - start;
	s->pos++;

	v_start = s->pos;
	while (s->pos < s->end && s->buf[s->pos] != '\r' && s->buf[s->pos] != '\n') {
		if (!is_value_char(s->buf[s->pos]))
			return fail(s, 400, "bad byte in field value");
		s->pos++;
	}
	if (s->pos >= s->end)
		return STEP_MORE;
	v_end = s->pos;
	r = line_end(s);
	if (r != STEP_OK)
		return r;

	while (v_start < v_end && is_ows(s->buf[v_start]))
		v_start++;
	while (v_end > v_start && is_ows(s->buf[v_end - 1]))
		v_end--;

	const uint8_t *name = s->buf + start, *v = s->buf + v_start;
	size_t n = v_end - v_start;

	if (eq_nocase(name, name_len, "host"))
		return host_field(s, v, n);
	if (eq_nocase(name, name_len, "content-length"))
		return content_length(s, v, n);
	if (eq_nocase(name, name_len, "transfer-encoding"))
		return transfer_encoding(s, v, n);
	return STEP_OK;
}

/* RFC 9112 §6.3: in a request, chunked must be the final coding, or the
 * body length is unknown and the answer MUST be 400 */
static bool te_ends_chunked(const uint8_t *v, size_t n)
{
	size_t i = n;

	while (i > 0 && v[i - 1] != ',')
		i--;
	while (i < n && is_ows(v[i]))
		i++;
	return eq_nocase(v + i, n - i, "chunked");
}

/* field lines up to and including the blank line */
static enum step fields(struct scan *s)
{
	enum step r;

	for (;;) {
		if (s->pos >= s->end)
			return STEP_MORE;
		if (s->buf[s->pos] == '\r' || s->buf[s->pos] == '\n')
			break;
		r = field_line(s);
		if (r != STEP_OK)
			return r;
	}
	r = line_end(s);
	if (r != STEP_OK)
		return r;

	if (s->te_seen && !te_ends_chunked(s->te, s->te_len))
		return fail(s, 400, "chunked not final");
	/* RFC 9112 §3.2: HTTP/1.1 needs a Host; see the top for absolute-form */
	if (s->minor == 1 && !s->hdr_host_seen && !s->abs_host)
		return fail(s, 400, "missing host");
	return STEP_OK;
}

enum http_head_status http_head_parse(const uint8_t *buf, size_t len, size_t cap, struct http_head *out)
{
	struct scan s = {
		.buf = buf,
		.end = len < cap ? len : cap,
		.out = out,
	};
	bool line_done = false;
	enum step r;

	memset(out, 0, sizeof(*out));
	out->reason = "need more";

	r = request_line(&s);
	if (r == STEP_OK) {
		line_done = true;
		r = fields(&s);
	}
	if (r == STEP_BAD)
		return HTTP_HEAD_INVALID;
	if (r == STEP_MORE) {
		if (len < cap)
			return HTTP_HEAD_NEED_MORE;
		/* cap bytes in and still no end: RFC 9110 §15.5.15 / RFC 6585 §5 */
		if (!line_done) {
			out->status = 414;
			out->reason = "request line too long";
		} else {
			out->status = 431;
			out->reason = "request head too large";
		}
		return HTTP_HEAD_INVALID;
	}

	out->reason = "ok";
	out->method = s.method;
	out->method_len = s.method_len;
	out->target = s.target;
	out->target_len = s.target_len;
	out->form = s.form;
	out->path = s.path;
	out->path_len = s.path_len;
	out->version_minor = s.minor;
	/* the absolute-form authority, which any Host matched */
	if (s.abs_host) {
		memcpy(out->host, s.host, s.host_len + 1);
		out->host_len = s.host_len;
	} else if (s.hdr_host_len > 0) {
		memcpy(out->host, s.hdr_host, s.hdr_host_len + 1);
		out->host_len = s.hdr_host_len;
	}
	out->has_host = out->host_len > 0;
	out->has_body = (s.cl_seen && s.cl > 0) || s.te_seen;
	out->head_len = s.pos;
	return HTTP_HEAD_DONE;
}
