/* SPDX-License-Identifier: MIT */
/*
 * HAProxy's words and values (import_lex.h): the first pass of
 * `import-haproxy` to meet the file's bytes, fuzzed on its own and with
 * the passes after it (tests/fuzz/fuzz_haproxy.c).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/import_lex.h"

void hx_oom(void)
{
	/* a few KiB of config: no output beats a half-written one */
	fprintf(stderr, "gatehouse: out of memory\n");
	exit(1);
}

void *hx_grow(void *p, size_t n, size_t size)
{
	void *q = reallocarray(p, n ? n : 1, size);

	if (!q)
		hx_oom();
	return q;
}

char *hx_strdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		hx_oom();
	return d;
}

/* ------------------------------------------------------------------ */
/* words                                                               */

void hx_line_clear(struct hx_line *l)
{
	for (size_t i = 0; i < l->argc; i++)
		free(l->argv[i]);
	l->argc = 0;
}

void hx_line_free(struct hx_line *l)
{
	hx_line_clear(l);
	free(l->argv);
	l->argv = NULL;
	l->cap = 0;
}

static void hx_push_word(struct hx_line *l, const char *s, size_t n)
{
	char *w;

	if (l->argc == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->argv = hx_grow(l->argv, l->cap, sizeof(*l->argv));
	}
	w = malloc(n + 1);
	if (!w)
		hx_oom();
	memcpy(w, s, n);
	w[n] = '\0';
	l->argv[l->argc++] = w;
}

/* HAProxy's word rules: blanks separate words; "..." and '...' group them
 * (a backslash escapes outside quotes and inside double quotes); an
 * unquoted '#' starts a comment. "${VAR}" is kept as written, so an address
 * using one is reported rather than guessed. */
void hx_tokenize(struct hx_line *l, const char *s)
{
	size_t len = strlen(s), n = 0, end = len, start, o = 0;
	char *tok = malloc(len + 1);
	bool in_tok = false;
	char quote = 0;

	if (!tok)
		hx_oom();
	hx_line_clear(l);
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (quote) {
			if (ch == quote)
				quote = 0;
			else if (ch == '\\' && quote == '"' && i + 1 < len)
				tok[n++] = s[++i];
			else
				tok[n++] = ch;
			continue;
		}
		if (ch == ' ' || ch == '\t') {
			if (in_tok)
				hx_push_word(l, tok, n);
			n = 0;
			in_tok = false;
			continue;
		}
		if (ch == '#') {
			end = i;
			break;
		}
		in_tok = true;
		if (ch == '"' || ch == '\'')
			quote = ch;
		else if (ch == '\\' && i + 1 < len)
			tok[n++] = s[++i];
		else
			tok[n++] = ch;
	}
	if (in_tok)
		hx_push_word(l, tok, n);
	free(tok);

	for (start = 0; start < end && (s[start] == ' ' || s[start] == '\t'); start++)
		;
	while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
		end--;
	for (size_t i = start; i < end && o < HX_TEXT_MAX; i++) {
		unsigned char ch = (unsigned char)s[i];

		/* quoted into messages and '#' comments: printable only */
		l->text[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	if (end - start > HX_TEXT_MAX) {
		memcpy(l->text + o, "...", 3);
		o += 3;
	}
	l->text[o] = '\0';
}

/* argv[from..] is exactly the blank-separated words of want. */
bool hx_words(const struct hx_line *l, size_t from, const char *want)
{
	size_t i = from;

	while (*want) {
		size_t n;

		while (*want == ' ')
			want++;
		if (!*want)
			break;
		n = strcspn(want, " ");
		if (i >= l->argc || strlen(l->argv[i]) != n || strncmp(l->argv[i], want, n) != 0)
			return false;
		i++;
		want += n;
	}
	return i == l->argc;
}

void hx_no_controls(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\n') || s[i] == 0x7f)
			s[i] = '?';
}

/* ------------------------------------------------------------------ */
/* values                                                              */

/* HAProxy durations: a number and an optional unit (us ms s m h d); no
 * unit means milliseconds ("timeout connect 5000"). */
bool hx_duration(const char *s, uint64_t *ms)
{
	static const struct {
		const char *unit;
		uint64_t mul, div;
	} units[] = {
		{ "", 1, 1 }, { "us", 1, 1000 }, { "ms", 1, 1 }, { "s", 1000, 1 },
		{ "m", 60000, 1 }, { "h", 3600000, 1 }, { "d", 86400000, 1 },
	};
	uint64_t v = 0;
	size_t i = 0;

	if (s[0] < '0' || s[0] > '9')
		return false;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > UINT32_MAX)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	for (size_t u = 0; u < HX_ARRAY(units); u++) {
		if (strcmp(s + i, units[u].unit) == 0) {
			/* round microseconds up: gatehouse counts in ms */
			*ms = (v * units[u].mul + units[u].div - 1) / units[u].div;
			return true;
		}
	}
	return false;
}

/* The largest unit that says ms exactly: 5000 -> "5s", 1500 -> "1500ms". */
const char *hx_fmt_ms(uint64_t ms, char *buf, size_t size)
{
	if (ms % 3600000 == 0)
		snprintf(buf, size, "%lluh", (unsigned long long)(ms / 3600000));
	else if (ms % 60000 == 0)
		snprintf(buf, size, "%llum", (unsigned long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, size, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, size, "%llums", (unsigned long long)ms);
	return buf;
}

static bool hx_is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

/* An HAProxy address, [ipv4@|ipv6@|tcp@|tcp4@|tcp6@]HOST[:PORT], read the
 * way HAProxy reads it: the LAST colon separates the port, so unbracketed
 * IPv6 with a port (2601:40e:69:69:0:0:0:feed:443) works, and brackets do
 * too. The host is canonicalised with inet_pton/inet_ntop. *odd is set when
 * the whole word is also an IPv6 address: HAProxy then took its last group
 * as the port, which may not be what was meant. NULL, or why not. */
const char *hx_parse_addr(const char *word, bool bind, struct hx_addr *out, bool *odd)
{
	static const struct {
		const char *prefix;
		int family;
	} prefixes[] = {
		{ "ipv4@", AF_INET }, { "ipv6@", AF_INET6 }, { "tcp@", 0 },
		{ "tcp4@", AF_INET }, { "tcp6@", AF_INET6 },
	};
	const char *s = word, *port_s = NULL;
	unsigned char bin[16];
	char host[256];
	bool bracketed = false, name = true;
	int want = 0;

	memset(out, 0, sizeof(*out));
	*odd = false;
	for (size_t i = 0; i < HX_ARRAY(prefixes); i++) {
		if (strncmp(s, prefixes[i].prefix, strlen(prefixes[i].prefix)) == 0) {
			want = prefixes[i].family;
			s += strlen(prefixes[i].prefix);
			break;
		}
	}
	if (strchr(s, '@') || s[0] == '/')
		return "not a TCP address (UNIX sockets, fd@, abns@, udp@... have no counterpart)";
	if (strchr(s, '$'))
		return "environment variables are not expanded here; write the address";
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || (size_t)(close - s - 1) >= sizeof(host))
			return "malformed [IPv6] address";
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		if (close[1] == ':')
			port_s = close + 2;
		else if (close[1] != '\0')
			return "malformed [IPv6] address";
		bracketed = true;
	} else {
		const char *colon = strrchr(s, ':');
		size_t hl = colon ? (size_t)(colon - s) : strlen(s);

		if (hl >= sizeof(host))
			return "address too long";
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (colon)
			port_s = colon + 1;
	}

	if (port_s) {
		unsigned long port = 0;

		if (*port_s == '\0')
			return "empty port";
		if (*port_s == '+' || *port_s == '-')
			return "port offsets (+N, -N) have no counterpart";
		for (const char *p = port_s; *p; p++) {
			if (*p == '-')
				return "port ranges have no counterpart";
			if (*p < '0' || *p > '9' || port > 65535)
				return "bad port";
			port = port * 10 + (unsigned long)(*p - '0');
		}
		if (port == 0 || port > 65535)
			return "port must be from 1 to 65535";
		out->port = (unsigned)port;
	}

	if (host[0] == '\0' || strcmp(host, "*") == 0) {
		if (bracketed)
			return "malformed [IPv6] address";
		if (!bind)
			return "no address (HAProxy would dial the client's destination)";
		/* `bind :80` is IPv4 only in HAProxy, unless ipv6@ says otherwise */
		out->family = want == AF_INET6 ? AF_INET6 : AF_INET;
		out->any = true;
		snprintf(out->host, sizeof(out->host), "%s", out->family == AF_INET6 ? "::" : "0.0.0.0");
		return NULL;
	}
	static const unsigned char zero[16];

	if (want != AF_INET && inet_pton(AF_INET6, host, bin) == 1) {
		out->family = AF_INET6;
		out->any = !memcmp(bin, zero, 16);
	} else if (!bracketed && want != AF_INET6 && inet_pton(AF_INET, host, bin) == 1) {
		out->family = AF_INET;
		out->any = !memcmp(bin, zero, 4);
	} else if (!bracketed && port_s && inet_pton(AF_INET6, s, bin) == 1) {
		return "HAProxy takes the last ':' for the port: write [ADDRESS]:PORT";
	} else {
		bool letter = false;

		for (const char *p = host; *p; p++) {
			name &= hx_is_name_char(*p);
			letter |= (*p >= 'g' && *p <= 'z') || (*p >= 'G' && *p <= 'Z');
		}
		if (name && letter)
			return "host names are never resolved: write the server's address";
		return "not a numeric IPv4 or IPv6 address";
	}
	inet_ntop(out->family, bin, out->host, sizeof(out->host));
	if (out->any && !bind)
		return "the unspecified address (HAProxy would dial the client's destination)";
	if (!bracketed && port_s && out->family == AF_INET6 && inet_pton(AF_INET6, s, bin) == 1)
		*odd = true;
	return NULL;
}

void hx_addr_text(const struct hx_addr *a, unsigned port, char *buf, size_t size)
{
	if (a->family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", a->host, port);
	else
		snprintf(buf, size, "%s:%u", a->host, port);
}
