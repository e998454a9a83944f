/* SPDX-License-Identifier: MIT */
/* The config's words: numbers, durations, addresses, and messages that
 * quote them safely (a config may hold any bytes). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "router/config.h"
#include "router/config_parser.h"

const char *gh_kind_str(enum gh_kind k)
{
	return k == GH_KIND_TLS ? "tls" : k == GH_KIND_QUIC ? "quic" : "http";
}

const char *gh_http_mode_str(enum gh_http_mode m)
{
	return m == GH_HTTP_REDIRECT_HTTPS ? "redirect-https" : "route";
}

bool tok_is(const struct config_tok *t, const char *word)
{
	size_t n = strlen(word);

	return t->len == n && memcmp(t->s, word, n) == 0;
}

/* A word from the file, made safe to print: a config may hold any bytes. */
const char *config_quote(char *buf, size_t size, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (o + 8 >= size || i >= CONFIG_QUOTE_MAX) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (ch >= 0x20 && ch < 0x7f) {
			buf[o++] = (char)ch;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[ch >> 4];
			buf[o++] = hex[ch & 15];
		}
	}
	buf[o] = '\0';
	return buf;
}


void config_error_at(struct config_parser *p, unsigned line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	p->n_errors++;
	if (!p->err)
		return;
	n = snprintf(msg, sizeof(msg), "%s:%u: ", p->file, line);
	if (n < 0)
		n = 0;
	else if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;	/* a huge file name: cut, keep the prefix */
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	p->err(p->userdata, msg);
}


/* Digits only, no sign; saturates at limit + 1 so callers see "too big". */
bool config_uint(const char *s, size_t len, uint64_t limit, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > limit)
			v = limit + 1;
	}
	*out = v;
	return true;
}

/* NULL on success, else what is wrong. */
const char *config_duration(const char *s, size_t len, uint32_t *ms)
{
	static const struct {
		const char *unit;
		uint32_t ms;
	} units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 3600 * 1000 },
	};
	size_t digits = 0;
	uint64_t v = 0;

	while (digits < len && s[digits] >= '0' && s[digits] <= '9')
		digits++;
	if (digits == 0)
		return "expected a number and a unit, e.g. 5s";
	if (digits == len)
		return "duration needs a unit (ms, s, m, h)";
	config_uint(s, digits, CONFIG_MAX_DURATION_MS, &v);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (len - digits != strlen(units[i].unit) ||
		    memcmp(s + digits, units[i].unit, len - digits) != 0)
			continue;
		if (v == 0)
			return "must be more than 0";
		if (v > CONFIG_MAX_DURATION_MS / units[i].ms)
			return "must be at most 24h";
		*ms = (uint32_t)v * units[i].ms;
		return NULL;
	}
	return "unknown unit (ms, s, m, h)";
}

int config_parse_duration(const char *s, size_t len, uint32_t *ms)
{
	return config_duration(s, len, ms) ? -EINVAL : 0;
}


const char *config_addr(const char *s, size_t len, unsigned flags, struct gh_addr *out)
{
	char host[INET6_ADDRSTRLEN];
	const char *port_s, *colon;
	size_t host_len, port_len;
	uint64_t port;
	int family;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return "empty";
	if ((flags & ADDR_STAR) && len >= 2 && s[0] == '*' && s[1] == ':') {
		family = AF_INET6;
		memcpy(host, "::", 3);
		port_s = s + 2;
		port_len = len - 2;
	} else if (s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (!close)
			return "missing ']'";
		host_len = (size_t)(close - s) - 1;
		port_s = close + 1;
		port_len = len - (size_t)(port_s - s);
		if (port_len == 0)
			return "missing port, e.g. [2001:db8::1]:443";
		if (*port_s != ':')
			return "expected ':PORT' after ']'";
		port_s++;
		port_len--;
		if (host_len == 0 || host_len >= sizeof(host) || memchr(s + 1, '\0', host_len))
			return "not a numeric IPv6 address";
		memcpy(host, s + 1, host_len);
		host[host_len] = '\0';
		family = AF_INET6;
	} else {
		colon = memchr(s, ':', len);
		if (!colon)
			return "missing port, e.g. 192.0.2.1:443";
		if (memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)))
			return "IPv6 addresses need brackets, e.g. [2001:db8::1]:443";
		host_len = (size_t)(colon - s);
		if (host_len == 0 || host_len >= sizeof(host) || memchr(s, '\0', host_len))
			return "not a numeric IPv4 address (names are never resolved)";
		memcpy(host, s, host_len);
		host[host_len] = '\0';
		port_s = colon + 1;
		port_len = len - host_len - 1;
		family = AF_INET;
	}
	if (port_len == 0)
		return "missing port";
	if (!config_uint(port_s, port_len, 65535, &port) || port == 0 || port > 65535)
		return "port must be a number from 1 to 65535";

	if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

		/* inet_pton refuses zone ids ("%eth0") and names: numeric only */
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return "not a numeric IPv6 address";
		if ((flags & ADDR_DIALABLE) && IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
			return "the unspecified address [::] can't be dialled";
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		out->len = sizeof(*sin6);
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(out->text, sizeof(out->text), "[%s]:%u", host, (unsigned)port);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;

		/* glibc's inet_pton(AF_INET) takes dotted quads only: no
		 * "1.2.3", no hex, no octal */
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return "not a numeric IPv4 address (names are never resolved)";
		if ((flags & ADDR_DIALABLE) && sin->sin_addr.s_addr == htonl(INADDR_ANY))
			return "the unspecified address 0.0.0.0 can't be dialled";
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		out->len = sizeof(*sin);
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(out->text, sizeof(out->text), "%s:%u", host, (unsigned)port);
	}
	return NULL;
}

int config_parse_addr(const char *s, size_t len, struct gh_addr *out)
{
	return config_addr(s, len, 0, out) ? -EINVAL : 0;
}

int config_kind(const struct config_tok *t)
{
	if (tok_is(t, "http"))
		return GH_KIND_HTTP;
	if (tok_is(t, "tls"))
		return GH_KIND_TLS;
	if (tok_is(t, "quic"))
		return GH_KIND_QUIC;
	return -1;
}
