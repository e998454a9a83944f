/* SPDX-License-Identifier: MIT */
/*
 * `gatehouse import-haproxy FILE` (import_haproxy.h, gatehouse(8)).
 *
 * Three passes:
 *  1. read: split each line into words as HAProxy does (quotes, backslashes,
 *     '#'), and fold the sections into proxies (frontend, backend, listen)
 *     holding only what gatehouse can express. Everything else is reported
 *     where it is met, with its line.
 *  2. resolve: frontends become the two kinds (mode http -> http, mode tcp
 *     -> tls); a backend reached by a frontend's
 *     `use_backend PREFIX%[name fetch,converters]SUFFIX` rule becomes the
 *     site named by the middle of its name, so NAME_http and NAME_tls join
 *     in one `site NAME`.
 *  3. write: the config text, then parse it with gatehouse's own parser, so
 *     what is printed is what `gatehouse check` accepts.
 *
 * Messages (stderr): "FILE:LINE: cannot translate: ..." for what gatehouse
 * cannot do, marked "(not essential ...)" when the result still routes the
 * same names to the same servers; "FILE:LINE: note: ..." for differences
 * worth knowing. Only essential ones make the exit status 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "router/config.h"
#include "router/hostname.h"
#include "cli/import_haproxy.h"

#define HX_TEXT_MAX 100				/* longest HAProxy line quoted back */
#define HX_MAX_MS (24ull * 3600ull * 1000ull)	/* gatehouse's longest duration */
#define HX_ARRAY(a) (sizeof(a) / sizeof((a)[0]))

enum hx_class {
	HX_SILENT,	/* gatehouse does this itself, or it only concerns HAProxy */
	HX_NOTE,	/* translated, with a difference worth knowing */
	HX_MINOR,	/* not translated; the names still reach the same servers */
	HX_ESSENTIAL,	/* not translated; the result does not behave the same */
};

/* A duration and where it was set; line 0 means unset. */
struct hx_ms {
	uint64_t ms;
	unsigned line;
	char text[HX_TEXT_MAX + 4];
};

struct hx_timeouts {
	struct hx_ms connect, client, server, tunnel, http_request, queue;
};

struct hx_addr {
	int family;			/* AF_INET6 or AF_INET */
	char host[INET6_ADDRSTRLEN];	/* canonical, from inet_ntop */
	unsigned port;			/* 0: none given */
	bool any;			/* the unspecified address */
};

struct hx_srvopts {
	int proxy;		/* PROXY header: 0 off, 1 or 2 */
	unsigned proxy_line;	/* where that was said; 0 = nowhere */
	bool backup, disabled;
	unsigned maxconn;	/* 0: none (HAProxy: no limit) */
};

struct hx_server {
	char *name;
	struct hx_addr a;
	struct hx_srvopts o;
	unsigned line;
};

struct hx_bind {
	struct hx_addr a;
	bool v6only;
	unsigned line;
	char text[HX_TEXT_MAX + 4];
};

/* use_backend PREFIX%[fetch,converters]SUFFIX */
struct hx_rule {
	char *prefix, *suffix;
	bool lower;		/* `lower` converter: capitals in a backend name are unreachable */
	unsigned line;
};

struct hx_proxy {
	char *name;
	unsigned line;
	bool fe, be;		/* frontend, backend; both for `listen` */
	bool disabled;
	bool skip;		/* a frontend gatehouse cannot stand in for */
	bool tcp;		/* mode tcp (HAProxy's default mode) */
	struct hx_timeouts t;
	struct hx_srvopts defsrv;
	/* frontend */
	struct hx_bind *binds;
	size_t n_binds;
	struct hx_rule *rules;
	size_t n_rules;
	char *default_backend;		/* default_backend, or an unconditional use_backend */
	unsigned default_line;
	bool default_by_rule;		/* it came from `use_backend NAME` */
	unsigned redirect_line;		/* `redirect scheme https`; 0 = none */
	bool hello_rule;		/* tcp-request content ... req_ssl_hello_type 1 */
	struct hx_ms inspect;		/* tcp-request inspect-delay */
	/* backend */
	struct hx_server *servers;
	size_t n_servers;
	unsigned server_lines;		/* translated or not */
	bool used;			/* part of a site */
};

struct hx_site {
	char name[HOSTNAME_MAX + 1];
	bool synthetic;		/* "<backend>.invalid": reached only as a default */
	struct hx_proxy *be[GH_KIND_COUNT];
	bool has[GH_KIND_COUNT];	/* servers of that kind were written */
};

/* The frontends of one kind, merged: gatehouse has one route table each. */
struct hx_kind {
	struct hx_proxy **fe;
	size_t n_fe;
	unsigned port;		/* the one port they bind, 0 none, UINT32_MAX several */
	struct hx_site *default_site;
	unsigned default_line;
	const char *default_backend;
};

struct hx_line {
	char **argv;
	size_t argc, cap;
	unsigned no;
	char text[HX_TEXT_MAX + 4];	/* the line as written, for messages */
};

struct hx {
	const char *file;
	unsigned n_essential;
	struct hx_proxy defaults;	/* the latest `defaults` section */
	bool in_defaults;
	struct hx_proxy *cur;		/* proxy section being read; NULL elsewhere */
	struct hx_proxy **px;
	size_t n_px;
	unsigned global_line;
	struct hx_site *sites;
	size_t n_sites;
	struct hx_kind kinds[GH_KIND_COUNT];
};

/* ------------------------------------------------------------------ */
/* memory and messages                                                 */

static void hx_oom(void)
{
	/* a few KiB of config: no output beats a half-written one */
	fprintf(stderr, "gatehouse: out of memory\n");
	exit(1);
}

static void *hx_grow(void *p, size_t n, size_t size)
{
	void *q = reallocarray(p, n ? n : 1, size);

	if (!q)
		hx_oom();
	return q;
}

static char *hx_strdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		hx_oom();
	return d;
}

__attribute__((format(printf, 4, 5)))
static void hx_say(struct hx *x, unsigned line, enum hx_class c, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	int n;

	if (c == HX_SILENT)
		return;
	if (c == HX_ESSENTIAL)
		x->n_essential++;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* names and words from the file are unbounded: cut the message */
	if (n >= (int)sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4);
	if (line)
		fprintf(stderr, "%s:%u: ", x->file, line);
	else
		fprintf(stderr, "%s: ", x->file);
	fprintf(stderr, "%s%s%s\n", c == HX_NOTE ? "note: " : "cannot translate: ", msg,
		c == HX_MINOR ? " (not essential: converted without it)" : "");
}

/* ------------------------------------------------------------------ */
/* words                                                               */

static void hx_line_clear(struct hx_line *l)
{
	for (size_t i = 0; i < l->argc; i++)
		free(l->argv[i]);
	l->argc = 0;
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
static void hx_tokenize(struct hx_line *l, const char *s)
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
static bool hx_words(const struct hx_line *l, size_t from, const char *want)
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

/* ------------------------------------------------------------------ */
/* values                                                              */

/* HAProxy durations: a number and an optional unit (us ms s m h d); no
 * unit means milliseconds ("timeout connect 5000"). */
static bool hx_duration(const char *s, uint64_t *ms)
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
static const char *hx_fmt_ms(uint64_t ms, char *buf, size_t size)
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

static void hx_set_ms(struct hx *x, struct hx_ms *m, const struct hx_line *l, const char *value)
{
	uint64_t ms;

	if (!hx_duration(value, &ms)) {
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': not a duration", l->text);
		return;
	}
	m->ms = ms;
	m->line = l->no;
	snprintf(m->text, sizeof(m->text), "%s", l->text);
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
static const char *hx_parse_addr(const char *word, bool bind, struct hx_addr *out, bool *odd)
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

static void hx_addr_text(const struct hx_addr *a, unsigned port, char *buf, size_t size)
{
	if (a->family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", a->host, port);
	else
		snprintf(buf, size, "%s:%u", a->host, port);
}

/* ------------------------------------------------------------------ */
/* sections                                                            */

static const char *const hx_ignored_sections[] = {
	"resolvers", "peers", "userlist", "mailers", "program", "http-errors", "cache",
	"ring", "log-forward", "crt-store", "traces", "acme",
};

static void hx_proxy_free(struct hx_proxy *p)
{
	free(p->name);
	free(p->default_backend);
	for (size_t i = 0; i < p->n_rules; i++) {
		free(p->rules[i].prefix);
		free(p->rules[i].suffix);
	}
	free(p->rules);
	free(p->binds);
	for (size_t i = 0; i < p->n_servers; i++)
		free(p->servers[i].name);
	free(p->servers);
}

static void hx_defaults_reset(struct hx_proxy *d)
{
	hx_proxy_free(d);
	memset(d, 0, sizeof(*d));
	d->tcp = true;
}

static struct hx_proxy *hx_find(const struct hx *x, const char *name, bool be)
{
	for (size_t i = 0; i < x->n_px; i++)
		if ((!be || x->px[i]->be) && strcmp(x->px[i]->name, name) == 0)
			return x->px[i];
	return NULL;
}

static void hx_new_proxy(struct hx *x, const struct hx_line *l, bool fe, bool be)
{
	struct hx_proxy *p = calloc(1, sizeof(*p));
	const struct hx_proxy *d = &x->defaults;

	if (!p)
		hx_oom();
	x->cur = p;
	p->line = l->no;
	p->fe = fe;
	p->be = be;
	/* what a defaults section gives every proxy after it */
	p->tcp = d->tcp;
	p->t = d->t;
	p->defsrv = d->defsrv;
	p->disabled = d->disabled;
	if (fe) {
		p->inspect = d->inspect;
		if (d->default_backend) {
			p->default_backend = hx_strdup(d->default_backend);
			p->default_line = d->default_line;
		}
	}
	if (l->argc < 2) {
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': section without a name", l->text);
		p->name = hx_strdup("");
		p->skip = true;
	} else {
		p->name = hx_strdup(l->argv[1]);
		if (hx_find(x, p->name, false))
			hx_say(x, l->no, HX_NOTE, "'%s': a second proxy named '%s' (HAProxy refuses this)",
			       l->text, p->name);
	}
	if (l->argc > 2)
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': named defaults ('from') are not followed", l->text);
	x->px = hx_grow(x->px, x->n_px + 1, sizeof(*x->px));
	x->px[x->n_px++] = p;
}

/* Returns true when the line opened a section. */
static bool hx_section(struct hx *x, const struct hx_line *l)
{
	const char *kw = l->argv[0];

	if (!strcmp(kw, "global")) {
		x->global_line = l->no;
	} else if (!strcmp(kw, "defaults")) {
		/* a defaults section replaces the previous one entirely */
		hx_defaults_reset(&x->defaults);
		if (l->argc > 2)
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': named defaults ('from') are not followed",
			       l->text);
	} else if (!strcmp(kw, "frontend")) {
		hx_new_proxy(x, l, true, false);
	} else if (!strcmp(kw, "backend")) {
		hx_new_proxy(x, l, false, true);
	} else if (!strcmp(kw, "listen")) {
		hx_new_proxy(x, l, true, true);
	} else {
		size_t i;

		for (i = 0; i < HX_ARRAY(hx_ignored_sections); i++)
			if (!strcmp(kw, hx_ignored_sections[i]))
				break;
		if (i == HX_ARRAY(hx_ignored_sections))
			return false;
		hx_say(x, l->no, HX_NOTE, "'%s': this section has no counterpart; ignored", l->text);
	}
	x->in_defaults = !strcmp(kw, "defaults");
	if (strcmp(kw, "frontend") && strcmp(kw, "backend") && strcmp(kw, "listen"))
		x->cur = NULL;
	return true;
}

/* ------------------------------------------------------------------ */
/* proxy keywords                                                      */

static void hx_timeout(struct hx *x, struct hx_proxy *p, const struct hx_line *l,
		       const char *which, const char *value)
{
	static const char *const silent[] = {
		"check", "http-keep-alive", "client-fin", "server-fin", "tarpit",
		"client-hs",
	};

	if (!strcmp(which, "connect"))
		hx_set_ms(x, &p->t.connect, l, value);
	else if (!strcmp(which, "client"))
		hx_set_ms(x, &p->t.client, l, value);
	else if (!strcmp(which, "server"))
		hx_set_ms(x, &p->t.server, l, value);
	else if (!strcmp(which, "tunnel"))
		hx_set_ms(x, &p->t.tunnel, l, value);
	else if (!strcmp(which, "http-request"))
		hx_set_ms(x, &p->t.http_request, l, value);
	else if (!strcmp(which, "queue"))
		hx_set_ms(x, &p->t.queue, l, value);
	else {
		for (size_t i = 0; i < HX_ARRAY(silent); i++)
			if (!strcmp(which, silent[i]))
				return;
		hx_say(x, l->no, HX_MINOR, "'%s': unknown timeout", l->text);
	}
}

struct hx_opt {
	const char *name;
	unsigned char args;	/* words taken after the option's name */
	unsigned char what;
};

enum {
	BO_OK,			/* nothing to say */
	BO_V6ONLY,
	BO_TLS,			/* TLS termination */
	BO_ESSENTIAL,
	BO_MINOR,
};

static const struct hx_opt hx_bind_opts[] = {
	{ "v4v6", 0, BO_OK }, { "v6only", 0, BO_V6ONLY }, { "name", 1, BO_OK }, { "id", 1, BO_OK },
	{ "defer-accept", 0, BO_OK }, { "tfo", 0, BO_OK }, { "backlog", 1, BO_OK },
	{ "process", 1, BO_OK }, { "thread", 1, BO_OK }, { "nice", 1, BO_OK },
	{ "shards", 1, BO_OK }, { "user", 1, BO_OK }, { "group", 1, BO_OK }, { "uid", 1, BO_OK },
	{ "gid", 1, BO_OK }, { "mode", 1, BO_OK }, { "level", 1, BO_OK },
	{ "expose-fd", 1, BO_OK }, { "severity-output", 1, BO_OK },
	{ "maxconn", 1, BO_MINOR }, { "mss", 1, BO_MINOR }, { "tcp-ut", 1, BO_MINOR },
	{ "interface", 1, BO_ESSENTIAL }, { "namespace", 1, BO_ESSENTIAL },
	{ "transparent", 0, BO_ESSENTIAL }, { "accept-proxy", 0, BO_ESSENTIAL },
	{ "accept-netscaler-cip", 1, BO_ESSENTIAL }, { "proto", 1, BO_ESSENTIAL },
	{ "ssl", 0, BO_TLS }, { "crt", 1, BO_TLS }, { "crt-list", 1, BO_TLS },
	{ "ca-file", 1, BO_TLS }, { "crl-file", 1, BO_TLS }, { "verify", 1, BO_TLS },
	{ "alpn", 1, BO_TLS }, { "npn", 1, BO_TLS }, { "ciphers", 1, BO_TLS },
	{ "ciphersuites", 1, BO_TLS }, { "curves", 1, BO_TLS }, { "ecdhe", 1, BO_TLS },
	{ "ssl-min-ver", 1, BO_TLS }, { "ssl-max-ver", 1, BO_TLS }, { "strict-sni", 0, BO_TLS },
	{ "no-sslv3", 0, BO_TLS }, { "no-tlsv10", 0, BO_TLS }, { "no-tlsv11", 0, BO_TLS },
	{ "no-tlsv12", 0, BO_TLS }, { "no-tlsv13", 0, BO_TLS }, { "no-tls-tickets", 0, BO_TLS },
	{ "prefer-client-ciphers", 0, BO_TLS }, { "allow-0rtt", 0, BO_TLS },
	{ "generate-certificates", 0, BO_TLS }, { "ca-sign-file", 1, BO_TLS },
	{ "ssl-default-bind-options", 1, BO_TLS },
};

static const struct hx_opt *hx_opt_find(const struct hx_opt *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return &t[i];
	return NULL;
}

static void hx_bind(struct hx *x, struct hx_proxy *p, const struct hx_line *l)
{
	bool v6only = false, tls = false;
	char *list, *save = NULL;

	if (l->argc < 2) {
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': bind without an address", l->text);
		return;
	}
	for (size_t i = 2; i < l->argc; i++) {
		const struct hx_opt *o = hx_opt_find(hx_bind_opts, HX_ARRAY(hx_bind_opts), l->argv[i]);

		if (!o) {
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': unknown bind option '%s'", l->text, l->argv[i]);
			break;
		}
		if (o->what == BO_V6ONLY)
			v6only = true;
		else if (o->what == BO_TLS)
			tls = true;
		else if (o->what == BO_ESSENTIAL)
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': bind option '%s' has no counterpart",
			       l->text, o->name);
		else if (o->what == BO_MINOR)
			hx_say(x, l->no, HX_MINOR, "'%s': bind option '%s'", l->text, o->name);
		i += o->args;
	}
	if (tls) {
		/* this frontend speaks HTTP inside TLS it terminates: gatehouse
		 * holds no keys, so there is nothing to stand in for */
		hx_say(x, l->no, HX_ESSENTIAL,
		       "'%s': TLS termination ('ssl crt'): gatehouse never terminates TLS; route by SNI in a mode tcp frontend and keep the keys on the servers; frontend '%s' left out",
		       l->text, p->name);
		p->skip = true;
		return;
	}
	list = hx_strdup(l->argv[1]);
	for (char *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
		struct hx_bind b = { .v6only = v6only, .line = l->no };
		const char *why;
		bool odd;

		why = hx_parse_addr(a, true, &b.a, &odd);
		if (!why && b.a.port == 0)
			why = "missing port";
		if (why) {
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': address '%s': %s", l->text, a, why);
			continue;
		}
		snprintf(b.text, sizeof(b.text), "%s", l->text);
		p->binds = hx_grow(p->binds, p->n_binds + 1, sizeof(*p->binds));
		p->binds[p->n_binds++] = b;
	}
	free(list);
}

/* The fetch of a name-routing rule, for a frontend of the given mode. */
static bool hx_fetch_ok(const char *f, size_t n, bool tcp)
{
	if (tcp)
		return (n == 11 && !strncmp(f, "req_ssl_sni", n)) ||
		       (n == 11 && !strncmp(f, "req.ssl_sni", n));
	/* req.hdr(host), hdr(host), req.fhdr(Host,1)... */
	if (n > 4 && !strncmp(f, "req.", 4)) {
		f += 4;
		n -= 4;
	}
	if (n > 4 && !strncmp(f, "hdr(", 4)) {
		f += 4;
		n -= 4;
	} else if (n > 5 && !strncmp(f, "fhdr(", 5)) {
		f += 5;
		n -= 5;
	} else {
		return false;
	}
	if (n < 5 || f[n - 1] != ')' || strncasecmp(f, "host", 4) != 0)
		return false;
	if (n == 5)
		return true;
	/* an occurrence: gatehouse refuses two different Hosts with 400 */
	return f[4] == ',' && strspn(f + 5, "-0123456789") == n - 6;
}

static void hx_use_backend(struct hx *x, struct hx_proxy *p, const struct hx_line *l)
{
	const char *e, *open, *close = NULL;
	struct hx_rule r = { .line = l->no };
	const char *conv;
	int depth = 0;

	if (l->argc < 2) {
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': use_backend without a backend", l->text);
		return;
	}
	e = l->argv[1];
	if (l->argc > 2) {
		hx_say(x, l->no, HX_ESSENTIAL,
		       "'%s': routing by ACL condition: gatehouse routes by the name itself (write each name as a site)",
		       l->text);
		return;
	}
	open = strstr(e, "%[");
	if (!open) {
		/* unconditional: every client not routed by an earlier rule
		 * goes there, which is what a default is */
		if (!p->default_by_rule) {
			free(p->default_backend);
			p->default_backend = hx_strdup(e);
			p->default_line = l->no;
			p->default_by_rule = true;
		}
		return;
	}
	for (const char *c = open + 2; *c && !close; c++) {
		if (*c == '(')
			depth++;
		else if (*c == ')')
			depth--;
		else if (*c == ']' && depth == 0)
			close = c;
	}
	if (!close || strchr(close + 1, '%') || memchr(e, '%', (size_t)(open - e))) {
		hx_say(x, l->no, HX_ESSENTIAL,
		       "'%s': only one %%[...] expression naming the host is translated", l->text);
		return;
	}
	if (p->default_by_rule) {
		hx_say(x, l->no, HX_NOTE,
		       "'%s': after an unconditional use_backend at line %u, this rule never applies",
		       l->text, p->default_line);
		return;
	}
	if (close == open + 2) {
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': empty %%[] expression", l->text);
		return;
	}
	/* the fetch, then converters, split at commas outside parentheses */
	conv = open + 2;
	for (bool first = true; conv < close; first = false) {
		const char *end = conv;
		size_t n;

		for (depth = 0; end < close && (depth > 0 || *end != ','); end++)
			depth += *end == '(' ? 1 : *end == ')' ? -1 : 0;
		n = (size_t)(end - conv);
		if (first) {
			if (!hx_fetch_ok(conv, n, p->tcp)) {
				hx_say(x, l->no, HX_ESSENTIAL,
				       "'%s': routing by '%.*s': gatehouse routes %s only",
				       l->text, (int)n, conv,
				       p->tcp ? "a mode tcp frontend by the TLS SNI (req_ssl_sni)"
					      : "a mode http frontend by the Host (req.hdr(host))");
				return;
			}
		} else if (n == 5 && !strncmp(conv, "lower", n)) {
			r.lower = true;
		} else if ((n == 9 && !strncmp(conv, "word(1,:)", n)) ||
			   (n == 10 && !strncmp(conv, "field(1,:)", n))) {
			/* strips ":port"; gatehouse always does */
		} else {
			hx_say(x, l->no, HX_ESSENTIAL,
			       "'%s': converter '%.*s': only lower, word(1,:) and field(1,:) are translated",
			       l->text, (int)n, conv);
			return;
		}
		conv = end < close ? end + 1 : end;
	}
	r.prefix = malloc((size_t)(open - e) + 1);
	if (!r.prefix)
		hx_oom();
	memcpy(r.prefix, e, (size_t)(open - e));
	r.prefix[open - e] = '\0';
	r.suffix = hx_strdup(close + 1);
	p->rules = hx_grow(p->rules, p->n_rules + 1, sizeof(*p->rules));
	p->rules[p->n_rules++] = r;
}

/* `[http-request] redirect scheme https [code N] [...] [if !{ ssl_fc }]`,
 * words from i on. */
static void hx_redirect(struct hx *x, struct hx_proxy *p, const struct hx_line *l, size_t i)
{
	unsigned code = 302;	/* HAProxy's default */
	size_t cond;

	if (i + 1 >= l->argc || strcmp(l->argv[i], "scheme") || strcmp(l->argv[i + 1], "https")) {
		hx_say(x, l->no, HX_ESSENTIAL,
		       "'%s': only 'redirect scheme https' is translated (http-mode redirect-https)",
		       l->text);
		return;
	}
	for (i += 2; i < l->argc; i++) {
		const char *w = l->argv[i];

		if (!strcmp(w, "if") || !strcmp(w, "unless"))
			break;
		if (!strcmp(w, "code") && i + 1 < l->argc) {
			code = (unsigned)strtoul(l->argv[++i], NULL, 10);
		} else if (!strcmp(w, "drop-query") || !strcmp(w, "append-slash") ||
			   !strcmp(w, "ignore-empty") || !strcmp(w, "keep-query")) {
			hx_say(x, l->no, HX_MINOR,
			       "'%s': redirect option '%s': gatehouse keeps the path and query as sent",
			       l->text, w);
		} else if ((!strcmp(w, "set-cookie") || !strcmp(w, "clear-cookie")) && i + 1 < l->argc) {
			hx_say(x, l->no, HX_MINOR, "'%s': redirect option '%s'", l->text, w);
			i++;
		} else {
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': unknown redirect option '%s'", l->text, w);
			return;
		}
	}
	cond = i;
	/* on a plain-HTTP frontend ssl_fc is always false: the condition
	 * "not over TLS" always holds */
	if (cond < l->argc && !hx_words(l, cond, "if !{ ssl_fc }") &&
	    !hx_words(l, cond, "unless { ssl_fc }")) {
		hx_say(x, l->no, HX_ESSENTIAL,
		       "'%s': a redirect with a condition: gatehouse redirects every request but ACME challenges",
		       l->text);
		return;
	}
	if (!p->fe) {
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': a redirect outside a frontend is not translated",
		       l->text);
		return;
	}
	if (!p->redirect_line)
		p->redirect_line = l->no;
	if (code != 301 && code != 308)
		hx_say(x, l->no, HX_NOTE,
		       "'%s': HAProxy answers %u; gatehouse answers 301 (GET, HEAD) or 308 (other methods), and passes /.well-known/acme-challenge/ to the site",
		       l->text, code);
}

static void hx_tcp_request(struct hx *x, struct hx_proxy *p, const struct hx_line *l)
{
	static const char *const fetch[] = { "req_ssl_hello_type", "req.ssl_hello_type" };

	if (l->argc == 3 && !strcmp(l->argv[1], "inspect-delay")) {
		hx_set_ms(x, &p->inspect, l, l->argv[2]);
		return;
	}
	/* waiting for a ClientHello (and refusing anything else) is what
	 * gatehouse's tls listener does anyway */
	for (size_t i = 0; i < HX_ARRAY(fetch); i++) {
		char accept[80], reject1[80], reject2[80];

		snprintf(accept, sizeof(accept), "content accept if { %s 1 }", fetch[i]);
		snprintf(reject1, sizeof(reject1), "content reject unless { %s 1 }", fetch[i]);
		snprintf(reject2, sizeof(reject2), "content reject if !{ %s 1 }", fetch[i]);
		if (hx_words(l, 1, accept) || hx_words(l, 1, reject1) || hx_words(l, 1, reject2)) {
			p->hello_rule = true;
			return;
		}
	}
	hx_say(x, l->no, HX_ESSENTIAL,
	       "'%s': TCP request rules (filters, limits, captures) have no counterpart", l->text);
}

static void hx_http_request(struct hx *x, struct hx_proxy *p, const struct hx_line *l)
{
	const char *act = l->argc > 1 ? l->argv[1] : "";

	if (!strcmp(act, "redirect")) {
		hx_redirect(x, p, l, 2);
		return;
	}
	if (!strncmp(act, "set-header", 10) || !strncmp(act, "add-header", 10) ||
	    !strncmp(act, "replace-header", 14)) {
		hx_say(x, l->no, HX_ESSENTIAL,
		       "'%s': gatehouse never changes requests (for the client's address, see proxy-protocol)",
		       l->text);
		return;
	}
	hx_say(x, l->no, HX_ESSENTIAL,
	       "'%s': HTTP request rules: gatehouse routes requests by their Host and never changes or filters them",
	       l->text);
}

enum {
	OP_SILENT,
	OP_HEALTH,
	OP_CONN,
	OP_STRICT,
	OP_ESSENTIAL,
};

static const struct {
	const char *name;
	int what;
} hx_options[] = {
	{ "httplog", OP_SILENT }, { "tcplog", OP_SILENT }, { "httpslog", OP_SILENT },
	{ "dontlognull", OP_SILENT }, { "dontlog-normal", OP_SILENT }, { "logasap", OP_SILENT },
	{ "log-separate-errors", OP_SILENT }, { "log-health-checks", OP_SILENT },
	{ "redispatch", OP_SILENT }, { "splice-auto", OP_SILENT }, { "splice-request", OP_SILENT },
	{ "splice-response", OP_SILENT }, { "tcpka", OP_SILENT }, { "clitcpka", OP_SILENT },
	{ "srvtcpka", OP_SILENT }, { "contstats", OP_SILENT }, { "socket-stats", OP_SILENT },
	{ "http-buffer-request", OP_SILENT }, { "abortonclose", OP_SILENT },
	{ "nolinger", OP_SILENT }, { "prefer-last-server", OP_SILENT },
	{ "http-ignore-probes", OP_SILENT }, { "independent-streams", OP_SILENT },
	{ "idle-close-on-response", OP_SILENT }, { "http-pretend-keepalive", OP_SILENT },
	{ "http-no-delay", OP_SILENT }, { "tcp-smart-accept", OP_SILENT },
	{ "tcp-smart-connect", OP_SILENT }, { "http-use-htx", OP_SILENT },
	{ "httpchk", OP_HEALTH }, { "ssl-hello-chk", OP_HEALTH }, { "tcp-check", OP_HEALTH },
	{ "mysql-check", OP_HEALTH }, { "pgsql-check", OP_HEALTH }, { "redis-check", OP_HEALTH },
	{ "smtpchk", OP_HEALTH }, { "ldap-check", OP_HEALTH }, { "spop-check", OP_HEALTH },
	{ "external-check", OP_HEALTH }, { "allbackups", OP_HEALTH },
	{ "http-server-close", OP_CONN }, { "httpclose", OP_CONN }, { "http-keep-alive", OP_CONN },
	{ "forceclose", OP_CONN }, { "http-tunnel", OP_CONN },
	{ "accept-invalid-http-request", OP_STRICT }, { "accept-invalid-http-response", OP_STRICT },
	{ "accept-unsafe-violations-in-http-request", OP_STRICT },
	{ "accept-unsafe-violations-in-http-response", OP_STRICT },
	{ "forwardfor", OP_ESSENTIAL }, { "originalto", OP_ESSENTIAL },
	{ "http-use-proxy-header", OP_ESSENTIAL }, { "transparent", OP_ESSENTIAL },
	{ "http_proxy", OP_ESSENTIAL }, { "http-restrict-req-hdr-names", OP_ESSENTIAL },
	{ "checkcache", OP_STRICT }, { "persist", OP_HEALTH },
};

static void hx_option(struct hx *x, const struct hx_line *l)
{
	const char *name;

	if (l->argc < 2) {
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': option without a name", l->text);
		return;
	}
	name = l->argv[1];
	for (size_t i = 0; i < HX_ARRAY(hx_options); i++) {
		if (strcmp(name, hx_options[i].name))
			continue;
		switch (hx_options[i].what) {
		case OP_SILENT:
			return;
		case OP_HEALTH:
			hx_say(x, l->no, HX_MINOR,
			       "'%s': no health checks: gatehouse tries the next server when a connect fails",
			       l->text);
			return;
		case OP_CONN:
			hx_say(x, l->no, HX_MINOR,
			       "'%s': gatehouse routes a connection by its first request, then tunnels it",
			       l->text);
			return;
		case OP_STRICT:
			hx_say(x, l->no, HX_MINOR,
			       "'%s': gatehouse is strict: a malformed request head gets 400", l->text);
			return;
		default:
			hx_say(x, l->no, HX_ESSENTIAL,
			       "'%s': gatehouse never changes requests (for the client's address, see proxy-protocol)",
			       l->text);
			return;
		}
	}
	hx_say(x, l->no, HX_MINOR, "'%s': unknown option", l->text);
}

enum {
	SO_SILENT,
	SO_HEALTH,
	SO_LOAD,
	SO_MAXCONN,
	SO_PERSIST,
	SO_TLS,
	SO_ESSENTIAL,
	SO_PROXY1,
	SO_PROXY2,
	SO_PROXY2_TLV,
	SO_NOPROXY,
	SO_BACKUP,
	SO_NOBACKUP,
	SO_DISABLED,
	SO_ENABLED,
};

static const struct hx_opt hx_server_opts[] = {
	{ "check", 0, SO_HEALTH }, { "no-check", 0, SO_SILENT }, { "check-ssl", 0, SO_HEALTH },
	{ "check-send-proxy", 0, SO_HEALTH }, { "agent-check", 0, SO_HEALTH },
	{ "no-agent-check", 0, SO_SILENT }, { "inter", 1, SO_HEALTH }, { "fastinter", 1, SO_HEALTH },
	{ "downinter", 1, SO_HEALTH }, { "rise", 1, SO_HEALTH }, { "fall", 1, SO_HEALTH },
	{ "port", 1, SO_HEALTH }, { "addr", 1, SO_HEALTH }, { "agent-port", 1, SO_HEALTH },
	{ "agent-inter", 1, SO_HEALTH }, { "agent-addr", 1, SO_HEALTH },
	{ "agent-send", 1, SO_HEALTH }, { "observe", 1, SO_HEALTH }, { "on-error", 1, SO_HEALTH },
	{ "on-marked-down", 1, SO_HEALTH }, { "on-marked-up", 1, SO_HEALTH },
	{ "error-limit", 1, SO_HEALTH }, { "slowstart", 1, SO_HEALTH },
	{ "check-sni", 1, SO_HEALTH }, { "check-alpn", 1, SO_HEALTH },
	{ "check-proto", 1, SO_HEALTH }, { "track", 1, SO_HEALTH }, { "health-check", 1, SO_HEALTH },
	{ "weight", 1, SO_LOAD }, { "maxconn", 1, SO_MAXCONN }, { "maxqueue", 1, SO_LOAD },
	{ "minconn", 1, SO_LOAD },
	{ "cookie", 1, SO_PERSIST }, { "non-stick", 0, SO_PERSIST }, { "stick", 0, SO_SILENT },
	{ "id", 1, SO_SILENT }, { "tfo", 0, SO_SILENT }, { "pool-max-conn", 1, SO_SILENT },
	{ "pool-low-conn", 1, SO_SILENT }, { "pool-purge-delay", 1, SO_SILENT },
	{ "max-reuse", 1, SO_SILENT }, { "tcp-ut", 1, SO_SILENT },
	{ "resolvers", 1, SO_SILENT }, { "resolve-prefer", 1, SO_SILENT },
	{ "resolve-net", 1, SO_SILENT }, { "resolve-opts", 1, SO_SILENT },
	{ "init-addr", 1, SO_SILENT }, { "log-proto", 1, SO_SILENT },
	{ "ssl", 0, SO_TLS }, { "verify", 1, SO_TLS }, { "verifyhost", 1, SO_TLS },
	{ "no-verifyhost", 0, SO_TLS }, { "sni", 1, SO_TLS }, { "ca-file", 1, SO_TLS },
	{ "crt", 1, SO_TLS }, { "crl-file", 1, SO_TLS }, { "alpn", 1, SO_TLS },
	{ "npn", 1, SO_TLS }, { "ciphers", 1, SO_TLS }, { "ciphersuites", 1, SO_TLS },
	{ "ssl-min-ver", 1, SO_TLS }, { "ssl-max-ver", 1, SO_TLS }, { "no-ssl-reuse", 0, SO_TLS },
	{ "ssl-reuse", 0, SO_TLS }, { "force-sslv3", 0, SO_TLS }, { "force-tlsv10", 0, SO_TLS },
	{ "force-tlsv11", 0, SO_TLS }, { "force-tlsv12", 0, SO_TLS }, { "force-tlsv13", 0, SO_TLS },
	{ "no-sslv3", 0, SO_TLS }, { "no-tlsv10", 0, SO_TLS }, { "no-tlsv11", 0, SO_TLS },
	{ "no-tlsv12", 0, SO_TLS }, { "no-tlsv13", 0, SO_TLS }, { "allow-0rtt", 0, SO_TLS },
	{ "no-ssl", 0, SO_SILENT },
	{ "source", 1, SO_ESSENTIAL }, { "usesrc", 1, SO_ESSENTIAL },
	{ "namespace", 1, SO_ESSENTIAL }, { "proto", 1, SO_ESSENTIAL }, { "redir", 1, SO_ESSENTIAL },
	{ "socks4", 1, SO_ESSENTIAL }, { "set-proxy-v2-tlv-fmt", 1, SO_ESSENTIAL },
	{ "send-proxy", 0, SO_PROXY1 }, { "send-proxy-v2", 0, SO_PROXY2 },
	{ "send-proxy-v2-ssl", 0, SO_PROXY2_TLV }, { "send-proxy-v2-ssl-cn", 0, SO_PROXY2_TLV },
	{ "proxy-v2-options", 1, SO_PROXY2_TLV }, { "no-send-proxy", 0, SO_NOPROXY },
	{ "no-send-proxy-v2", 0, SO_NOPROXY }, { "backup", 0, SO_BACKUP },
	{ "no-backup", 0, SO_NOBACKUP }, { "disabled", 0, SO_DISABLED }, { "enabled", 0, SO_ENABLED },
};

/* The options of a server or default-server line, words from `from` on,
 * into o. Returns false when the server can't be used as translated. */
static bool hx_server_options(struct hx *x, const struct hx_line *l, size_t from,
			      struct hx_srvopts *o)
{
	char health[HX_TEXT_MAX + 4] = "", load[HX_TEXT_MAX + 4] = "", persist[HX_TEXT_MAX + 4] = "";
	bool usable = true, tls = false;

	for (size_t i = from; i < l->argc; i++) {
		const struct hx_opt *op = hx_opt_find(hx_server_opts, HX_ARRAY(hx_server_opts), l->argv[i]);
		char *group = NULL;

		if (!op) {
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': unknown server option '%s'", l->text, l->argv[i]);
			break;
		}
		switch (op->what) {
		case SO_HEALTH: group = health; break;
		case SO_LOAD: group = load; break;
		case SO_PERSIST: group = persist; break;
		case SO_TLS: tls = true; break;
		case SO_ESSENTIAL:
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': server option '%s' has no counterpart",
			       l->text, op->name);
			usable = false;
			break;
		case SO_PROXY2_TLV:
			hx_say(x, l->no, HX_MINOR,
			       "'%s': '%s': gatehouse sends a plain PROXY v2 header (no TLVs)",
			       l->text, op->name);
			if (op->args)
				break;
			/* fall through */
		case SO_PROXY2:
		case SO_PROXY1:
			o->proxy = op->what == SO_PROXY1 ? 1 : 2;
			o->proxy_line = l->no;
			break;
		case SO_NOPROXY:
			o->proxy = 0;
			o->proxy_line = l->no;
			break;
		case SO_BACKUP: o->backup = true; break;
		case SO_NOBACKUP: o->backup = false; break;
		case SO_DISABLED: o->disabled = true; break;
		case SO_ENABLED: o->disabled = false; break;
		case SO_MAXCONN: {
			/* summed over a site's servers into site-max-connections */
			char *end = NULL;
			unsigned long v = i + 1 < l->argc ? strtoul(l->argv[i + 1], &end, 10) : 0;
			if (!end || *end || v == 0 || v > 10000000) {
				hx_say(x, l->no, HX_MINOR, "'%s': maxconn '%s' left out (gatehouse takes 1 to 10000000)",
				       l->text, i + 1 < l->argc ? l->argv[i + 1] : "");
				v = 0;
			}
			o->maxconn = (unsigned)v;
			break;
		}
		default: break;
		}
		if (group) {
			size_t len = strlen(group);

			snprintf(group + len, HX_TEXT_MAX - len, "%s%s", len ? " " : "", op->name);
		}
		i += op->args;
	}
	if (health[0])
		hx_say(x, l->no, HX_MINOR,
		       "'%s': health checks (%s): gatehouse has none; it tries the next server when a connect fails",
		       l->text, health);
	if (load[0])
		hx_say(x, l->no, HX_MINOR, "'%s': %s: gatehouse's round robin has no weights or server queues",
		       l->text, load);
	if (persist[0])
		hx_say(x, l->no, HX_MINOR, "'%s': %s: no server persistence; one connection goes to one server",
		       l->text, persist);
	if (tls) {
		hx_say(x, l->no, HX_ESSENTIAL,
		       "'%s': TLS to the server ('ssl'): gatehouse never terminates or re-encrypts TLS; the client's own TLS reaches the server",
		       l->text);
		usable = false;
	}
	return usable;
}

static void hx_server(struct hx *x, struct hx_proxy *p, const struct hx_line *l)
{
	struct hx_server s = { .o = p->defsrv, .line = l->no };
	const char *why;
	bool odd;

	p->server_lines++;
	if (l->argc < 3) {
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': server without an address", l->text);
		return;
	}
	why = hx_parse_addr(l->argv[2], false, &s.a, &odd);
	if (why) {
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': server %s at '%s': %s", l->text, l->argv[1],
		       l->argv[2], why);
		return;
	}
	if (odd) {
		char t[80];

		hx_addr_text(&s.a, s.a.port, t, sizeof(t));
		hx_say(x, l->no, HX_NOTE,
		       "'%s': HAProxy reads '%s' as %s (the last colon separates the port); bracket the address to make that plain",
		       l->text, l->argv[2], t);
	}
	if (!hx_server_options(x, l, 3, &s.o))
		return;
	s.name = hx_strdup(l->argv[1]);
	p->servers = hx_grow(p->servers, p->n_servers + 1, sizeof(*p->servers));
	p->servers[p->n_servers++] = s;
}

static const struct {
	const char *kw;
	enum hx_class c;
	const char *why;
} hx_keywords[] = {
	{ "log", HX_SILENT, NULL }, { "log-format", HX_SILENT, NULL },
	{ "log-format-sd", HX_SILENT, NULL }, { "error-log-format", HX_SILENT, NULL },
	{ "log-tag", HX_SILENT, NULL }, { "log-steps", HX_SILENT, NULL },
	{ "description", HX_SILENT, NULL }, { "id", HX_SILENT, NULL },
	{ "retries", HX_SILENT, NULL }, { "fullconn", HX_SILENT, NULL },
	{ "hash-type", HX_SILENT, NULL }, { "hash-balance-factor", HX_SILENT, NULL },
	{ "http-reuse", HX_SILENT, NULL }, { "bind-process", HX_SILENT, NULL },
	{ "max-keep-alive-queue", HX_SILENT, NULL }, { "declare", HX_SILENT, NULL },
	{ "capture", HX_SILENT, NULL }, { "acl", HX_SILENT, NULL }, { "grace", HX_SILENT, NULL },
	{ "server-state-file-name", HX_SILENT, NULL },
	{ "load-server-state-from-file", HX_SILENT, NULL }, { "backlog", HX_SILENT, NULL },
	{ "guid", HX_SILENT, NULL },
	{ "maxconn", HX_MINOR, "connection limits: gatehouse bounds clients under inspection, not per proxy" },
	{ "rate-limit", HX_MINOR, "no rate limits" },
	{ "stats", HX_MINOR, "no statistics page: `systemctl status` shows counters, the journal has a record per connection" },
	{ "monitor-uri", HX_MINOR, "no monitoring URI" }, { "monitor", HX_MINOR, "no monitoring URI" },
	{ "monitor-net", HX_MINOR, "no monitoring" },
	{ "errorloc", HX_MINOR, "gatehouse answers errors with its own short pages" },
	{ "errorloc302", HX_MINOR, "gatehouse answers errors with its own short pages" },
	{ "errorloc303", HX_MINOR, "gatehouse answers errors with its own short pages" },
	{ "errorfiles", HX_MINOR, "gatehouse answers errors with its own short pages" },
	{ "http-error", HX_MINOR, "gatehouse answers errors with its own short pages" },
	{ "cookie", HX_MINOR, "no server persistence: one connection goes to one server" },
	{ "stick-table", HX_MINOR, "no stick tables" },
	{ "stick", HX_MINOR, "no server persistence" }, { "stick-on", HX_MINOR, "no server persistence" },
	{ "stick-match", HX_MINOR, "no server persistence" },
	{ "stick-store-request", HX_MINOR, "no server persistence" },
	{ "stick-store-response", HX_MINOR, "no server persistence" },
	{ "persist", HX_MINOR, "no server persistence" },
	{ "force-persist", HX_MINOR, "no server persistence" },
	{ "ignore-persist", HX_MINOR, "no server persistence" },
	{ "http-check", HX_MINOR, "no health checks: gatehouse tries the next server when a connect fails" },
	{ "tcp-check", HX_MINOR, "no health checks: gatehouse tries the next server when a connect fails" },
	{ "external-check", HX_MINOR, "no health checks" },
	{ "email-alert", HX_MINOR, "no e-mail alerts: see the journal" },
	{ "compression", HX_MINOR, "no compression: responses pass as the server sends them" },
	{ "unique-id-format", HX_MINOR, "no request ids" },
	{ "unique-id-header", HX_MINOR, "no request ids" },
	{ "http-response", HX_ESSENTIAL, "gatehouse never changes or filters responses" },
	{ "http-after-response", HX_ESSENTIAL, "gatehouse never changes or filters responses" },
	{ "tcp-response", HX_ESSENTIAL, "TCP response rules have no counterpart" },
	{ "filter", HX_ESSENTIAL, "filters have no counterpart" },
	{ "server-template", HX_ESSENTIAL, "templates need name resolution: list each server's address" },
	{ "use-server", HX_ESSENTIAL, "server selection rules have no counterpart" },
	{ "dispatch", HX_ESSENTIAL, "write the address as a server" },
	{ "source", HX_ESSENTIAL, "gatehouse does not choose the source address" },
	{ "transparent", HX_ESSENTIAL, "no transparent proxying" },
	{ "http-send-name-header", HX_ESSENTIAL, "gatehouse never changes requests" },
	{ "reqadd", HX_ESSENTIAL, "gatehouse never changes requests" },
	{ "reqrep", HX_ESSENTIAL, "gatehouse never changes requests" },
	{ "rspadd", HX_ESSENTIAL, "gatehouse never changes responses" },
	{ "rsprep", HX_ESSENTIAL, "gatehouse never changes responses" },
};

/* One line inside frontend/backend/listen (or defaults: dflt). */
static void hx_proxy_line(struct hx *x, struct hx_proxy *p, bool dflt, const struct hx_line *l)
{
	const char *kw = l->argv[0];
	bool fe = dflt || p->fe, be = dflt || p->be;

	if (!strcmp(kw, "mode")) {
		if (l->argc == 2 && !strcmp(l->argv[1], "http")) {
			p->tcp = false;
		} else if (l->argc == 2 && !strcmp(l->argv[1], "tcp")) {
			p->tcp = true;
		} else {
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': only modes http and tcp are translated", l->text);
			p->skip = true;
		}
	} else if (!strcmp(kw, "timeout") && l->argc == 3) {
		hx_timeout(x, p, l, l->argv[1], l->argv[2]);
	} else if ((!strcmp(kw, "contimeout") || !strcmp(kw, "clitimeout") ||
		    !strcmp(kw, "srvtimeout")) && l->argc == 2) {
		hx_timeout(x, p, l, kw[0] == 'c' && kw[1] == 'o' ? "connect" :
				    kw[0] == 'c' ? "client" : "server", l->argv[1]);
	} else if (!strcmp(kw, "disabled")) {
		p->disabled = true;
	} else if (!strcmp(kw, "enabled")) {
		p->disabled = false;
	} else if (!strcmp(kw, "no")) {
		/* `no option X`, `no log`: turning something off leaves
		 * nothing for gatehouse to do */
	} else if (!strcmp(kw, "option")) {
		hx_option(x, l);
	} else if (!strcmp(kw, "errorfile")) {
		/* Debian's stock pages say what gatehouse's own answers say */
		if (l->argc < 3 || strncmp(l->argv[2], "/etc/haproxy/errors/", 20) != 0)
			hx_say(x, l->no, HX_MINOR, "'%s': gatehouse answers errors with its own short pages",
			       l->text);
	} else if (!strcmp(kw, "balance")) {
		if (l->argc < 2 || (strcmp(l->argv[1], "roundrobin") && strcmp(l->argv[1], "static-rr")))
			hx_say(x, l->no, HX_MINOR, "'%s': gatehouse balances by round robin", l->text);
	} else if (!strcmp(kw, "bind") && p->fe && !dflt) {
		hx_bind(x, p, l);
	} else if (!strcmp(kw, "use_backend") && p->fe && !dflt) {
		hx_use_backend(x, p, l);
	} else if (!strcmp(kw, "default_backend") && fe) {
		if (l->argc != 2) {
			hx_say(x, l->no, HX_ESSENTIAL, "'%s': default_backend takes one name", l->text);
		} else if (!p->default_by_rule) {
			free(p->default_backend);
			p->default_backend = hx_strdup(l->argv[1]);
			p->default_line = l->no;
		}
	} else if (!strcmp(kw, "http-request") && fe) {
		hx_http_request(x, p, l);
	} else if (!strcmp(kw, "redirect") && fe) {
		hx_redirect(x, p, l, 1);
	} else if (!strcmp(kw, "tcp-request") && fe) {
		hx_tcp_request(x, p, l);
	} else if (!strcmp(kw, "server") && p->be && !dflt) {
		hx_server(x, p, l);
	} else if (!strcmp(kw, "default-server") && be) {
		hx_server_options(x, l, 1, &p->defsrv);
	} else if (!strcmp(kw, "bind") || !strcmp(kw, "use_backend") || !strcmp(kw, "server") ||
		   !strcmp(kw, "default_backend") || !strcmp(kw, "http-request") ||
		   !strcmp(kw, "tcp-request") || !strcmp(kw, "redirect") ||
		   !strcmp(kw, "default-server")) {
		hx_say(x, l->no, HX_MINOR, "'%s': not allowed in this section (HAProxy ignores or refuses it)",
		       l->text);
	} else {
		for (size_t i = 0; i < HX_ARRAY(hx_keywords); i++) {
			if (strcmp(kw, hx_keywords[i].kw))
				continue;
			hx_say(x, l->no, hx_keywords[i].c, "'%s': %s", l->text, hx_keywords[i].why);
			return;
		}
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': unknown keyword", l->text);
	}
}

static int hx_read(struct hx *x, FILE *f)
{
	struct hx_line l = { 0 };
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	bool outside = true;

	while ((n = getline(&buf, &cap, f)) >= 0) {
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = '\0';
		l.no++;
		hx_tokenize(&l, buf);
		if (l.argc == 0)
			continue;
		if (hx_section(x, &l)) {
			outside = false;
			continue;
		}
		if (x->in_defaults)
			hx_proxy_line(x, &x->defaults, true, &l);
		else if (x->cur)
			hx_proxy_line(x, x->cur, false, &l);
		else if (outside)
			hx_say(x, l.no, HX_ESSENTIAL, "'%s': outside any section", l.text);
		/* else: global and ignored sections */
	}
	hx_line_clear(&l);
	free(l.argv);
	free(buf);
	return ferror(f) ? -EIO : 0;
}

/* ------------------------------------------------------------------ */
/* resolve                                                             */

static bool hx_rules_equal(const struct hx_proxy *a, const struct hx_proxy *b)
{
	if (a->n_rules != b->n_rules)
		return false;
	for (size_t i = 0; i < a->n_rules; i++)
		if (strcmp(a->rules[i].prefix, b->rules[i].prefix) ||
		    strcmp(a->rules[i].suffix, b->rules[i].suffix))
			return false;
	return true;
}

static bool hx_str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The backend a frontend uses for clients no rule routed (a `listen`
 * section with servers is its own). */
static const char *hx_fallback(const struct hx_proxy *p)
{
	if (p->default_backend)
		return p->default_backend;
	if (p->be && p->n_servers)
		return p->name;
	return NULL;
}

static void hx_kinds(struct hx *x)
{
	for (size_t i = 0; i < x->n_px; i++) {
		struct hx_proxy *p = x->px[i];
		enum gh_kind k = p->tcp ? GH_KIND_TLS : GH_KIND_HTTP;
		struct hx_kind *kd = &x->kinds[k];
		bool only443 = p->n_binds > 0;

		if (!p->fe || p->disabled || p->skip)
			continue;
		if (p->n_binds == 0) {
			hx_say(x, p->line, HX_NOTE, "frontend '%s' binds no address; left out", p->name);
			continue;
		}
		for (size_t b = 0; b < p->n_binds; b++)
			only443 &= p->binds[b].a.port == 443;
		if (p->tcp && p->n_rules == 0 && !p->hello_rule && !only443) {
			hx_say(x, p->line, HX_ESSENTIAL,
			       "mode tcp frontend '%s' neither routes by SNI nor waits for a ClientHello: gatehouse passes only TLS; left out",
			       p->name);
			continue;
		}
		if (kd->n_fe) {
			const struct hx_proxy *first = kd->fe[0];

			if (!hx_rules_equal(first, p) || !hx_str_eq(hx_fallback(first), hx_fallback(p)) ||
			    (first->redirect_line != 0) != (p->redirect_line != 0)) {
				hx_say(x, p->line, HX_ESSENTIAL,
				       "frontend '%s' routes differently from frontend '%s' (line %u): gatehouse has one route table for all %s listeners; left out",
				       p->name, first->name, first->line, gh_kind_str(k));
				continue;
			}
		}
		kd->fe = hx_grow(kd->fe, kd->n_fe + 1, sizeof(*kd->fe));
		kd->fe[kd->n_fe++] = p;
		for (size_t b = 0; b < p->n_binds; b++) {
			unsigned port = p->binds[b].a.port;

			kd->port = kd->port == 0 || kd->port == port ? port : UINT32_MAX;
		}
	}
}

static struct hx_site *hx_site_get(struct hx *x, const char *name, bool synthetic)
{
	for (size_t i = 0; i < x->n_sites; i++)
		if (!strcmp(x->sites[i].name, name))
			return &x->sites[i];
	x->sites = hx_grow(x->sites, x->n_sites + 1, sizeof(*x->sites));
	memset(&x->sites[x->n_sites], 0, sizeof(x->sites[0]));
	snprintf(x->sites[x->n_sites].name, sizeof(x->sites[0].name), "%s", name);
	x->sites[x->n_sites].synthetic = synthetic;
	return &x->sites[x->n_sites++];
}

/* The host a rule turns into this backend's name, or false. */
static bool hx_rule_host(struct hx *x, const struct hx_rule *r, const struct hx_proxy *b,
			 char *host, size_t size)
{
	size_t pl = strlen(r->prefix), sl = strlen(r->suffix), nl = strlen(b->name);
	char lower[HOSTNAME_MAX + 1], norm[HOSTNAME_MAX + 1];
	enum hostname_status hs;
	size_t mid, len;

	if (nl <= pl + sl || strncmp(b->name, r->prefix, pl) || strcmp(b->name + nl - sl, r->suffix))
		return false;
	mid = nl - pl - sl;
	if (mid > HOSTNAME_MAX) {
		hx_say(x, b->line, HX_MINOR, "backend '%s': the name it is reached by is too long; left out",
		       b->name);
		return false;
	}
	for (size_t i = 0; i < mid; i++) {
		char c = b->name[pl + i];

		if (r->lower && c >= 'A' && c <= 'Z') {
			hx_say(x, b->line, HX_NOTE,
			       "backend '%s': the rule at line %u lowercases names, so HAProxy never reached it; left out",
			       b->name, r->line);
			return false;
		}
		lower[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	lower[mid] = '\0';
	hs = hostname_normalize_pattern((const uint8_t *)lower, mid, norm, &len);
	/* a name gatehouse would rewrite (trailing dot, port) or read as a
	 * wildcard is not the literal name HAProxy compared */
	if (hs != HOSTNAME_OK || strcmp(norm, lower) || lower[0] == '*') {
		hx_say(x, b->line, HX_MINOR,
		       "backend '%s': '%s' (from the rule at line %u) is not a host name gatehouse routes (%s); left out",
		       b->name, lower, r->line,
		       hs != HOSTNAME_OK ? hostname_status_str(hs) : "it would match other names");
		return false;
	}
	snprintf(host, size, "%s", norm);
	return true;
}

static void hx_sites(struct hx *x)
{
	for (size_t i = 0; i < x->n_px; i++) {
		struct hx_proxy *b = x->px[i];
		enum gh_kind k = b->tcp ? GH_KIND_TLS : GH_KIND_HTTP;
		const struct hx_kind *kd = &x->kinds[k];

		if (!b->be || b->disabled || kd->n_fe == 0)
			continue;
		for (size_t r = 0; r < kd->fe[0]->n_rules; r++) {
			char host[HOSTNAME_MAX + 1];
			struct hx_site *s;

			if (!hx_rule_host(x, &kd->fe[0]->rules[r], b, host, sizeof(host)))
				continue;
			s = hx_site_get(x, host, false);
			if (s->be[k]) {
				hx_say(x, b->line, HX_NOTE,
				       "backend '%s': name '%s' already reaches backend '%s'; left out",
				       b->name, host, s->be[k]->name);
				continue;
			}
			s->be[k] = b;
			b->used = true;
			break;
		}
	}

	for (int k = 0; k < GH_KIND_COUNT; k++) {
		struct hx_kind *kd = &x->kinds[k];
		const char *name;
		struct hx_proxy *b;
		struct hx_site *s = NULL;

		if (kd->n_fe == 0 || !(name = hx_fallback(kd->fe[0])))
			continue;
		kd->default_backend = name;
		kd->default_line = kd->fe[0]->default_backend ? kd->fe[0]->default_line : kd->fe[0]->line;
		b = hx_find(x, name, true);
		if (!b) {
			hx_say(x, kd->default_line, HX_ESSENTIAL, "no backend named '%s'", name);
			continue;
		}
		if (b->tcp != (k == GH_KIND_TLS)) {
			hx_say(x, kd->default_line, HX_ESSENTIAL,
			       "backend '%s' is mode %s, its frontend mode %s", name,
			       b->tcp ? "tcp" : "http", k == GH_KIND_TLS ? "tcp" : "http");
			continue;
		}
		for (size_t i = 0; i < x->n_sites && !s; i++)
			if (x->sites[i].be[k] == b)
				s = &x->sites[i];
		if (!s) {
			/* reached by no name, only as the default: a name that
			 * can't exist (RFC 6761 .invalid) keeps it that way */
			char syn[HOSTNAME_MAX + 1];
			size_t n = 0;

			for (const char *c = name; *c && n < HOSTNAME_LABEL_MAX; c++) {
				char ch = *c >= 'A' && *c <= 'Z' ? (char)(*c - 'A' + 'a') : *c;

				syn[n++] = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
					   ch == '_' ? ch : '-';
			}
			snprintf(syn + n, sizeof(syn) - n, "%s.invalid", n ? "" : "default");
			s = hx_site_get(x, syn, true);
			if (s->be[k] && s->be[k] != b) {
				hx_say(x, kd->default_line, HX_ESSENTIAL,
				       "backend '%s': its site name '%s' is taken", name, syn);
				continue;
			}
			s->be[k] = b;
			b->used = true;
		}
		kd->default_site = s;
	}

	for (size_t i = 0; i < x->n_px; i++) {
		const struct hx_proxy *b = x->px[i];

		if (b->be && !b->fe && !b->used && !b->disabled)
			hx_say(x, b->line, HX_NOTE,
			       "backend '%s' is reached by no translated frontend rule; left out", b->name);
	}
}

/* ------------------------------------------------------------------ */
/* write                                                               */

struct hx_pick {
	uint64_t ms;
	unsigned line;
	const char *text;
	bool differ;
};

static void hx_pick(struct hx_pick *pk, const struct hx_ms *m)
{
	if (!m->line)
		return;
	if (pk->line && m->ms != pk->ms)
		pk->differ = true;
	/* 0 is "no timeout" in HAProxy: the largest of all */
	if (!pk->line || (pk->ms != 0 && (m->ms == 0 || m->ms > pk->ms))) {
		pk->ms = m->ms;
		pk->line = m->line;
		pk->text = m->text;
	}
}

static void hx_write_timeout(struct hx *x, FILE *o, const char *directive, const struct hx_pick *pk,
			     const char *why, bool say_differ)
{
	char d[32];
	uint64_t ms = pk->ms;

	if (!pk->line)
		return;
	if (ms == 0 || ms > HX_MAX_MS) {
		hx_say(x, pk->line, HX_NOTE, "'%s': gatehouse's longest %s is 24h", pk->text, directive);
		ms = HX_MAX_MS;
	}
	fprintf(o, "%-16s%-9s # %s:%u %s%s\n", directive, hx_fmt_ms(ms, d, sizeof(d)), x->file,
		pk->line, pk->text, why);
	if (pk->differ && say_differ)
		hx_say(x, pk->line, HX_NOTE, "gatehouse has one %s: took the largest, %s", directive, d);
}

static void hx_write_timeouts(struct hx *x, FILE *o)
{
	struct hx_pick inspect = { 0 }, connect = { 0 }, idle = { 0 }, queue = { 0 };

	for (int k = 0; k < GH_KIND_COUNT; k++) {
		for (size_t i = 0; i < x->kinds[k].n_fe; i++) {
			const struct hx_proxy *p = x->kinds[k].fe[i];

			hx_pick(&inspect, k == GH_KIND_TLS ? &p->inspect : &p->t.http_request);
			hx_pick(&idle, &p->t.client);
			hx_pick(&idle, &p->t.tunnel);
		}
	}
	for (size_t i = 0; i < x->n_px; i++) {
		const struct hx_proxy *p = x->px[i];

		if (!p->used)
			continue;
		hx_pick(&connect, &p->t.connect);
		hx_pick(&queue, &p->t.queue);
		hx_pick(&idle, &p->t.server);
		hx_pick(&idle, &p->t.tunnel);
	}
	if (inspect.line || connect.line || idle.line || queue.line)
		fprintf(o, "# timeouts\n");
	hx_write_timeout(x, o, "inspect-timeout", &inspect, "", true);
	hx_write_timeout(x, o, "connect-timeout", &connect, "", true);
	/* one idle timeout for both sides: the larger of client and server
	 * is the translation itself, not news */
	hx_write_timeout(x, o, "idle-timeout", &idle, " (the largest of client/server)", false);
	/* a wait for a site's slot (site-max-connections, from maxconn) */
	hx_write_timeout(x, o, "queue-timeout", &queue, "", true);
	if (inspect.line || connect.line || idle.line || queue.line)
		fputc('\n', o);
}

static void hx_write_listens(struct hx *x, FILE *o)
{
	struct {
		const struct hx_bind *b;
		enum gh_kind k;
		char text[80];
	} *all = NULL;
	size_t n = 0;
	bool any = false;

	for (int k = 0; k < GH_KIND_COUNT; k++) {
		for (size_t i = 0; i < x->kinds[k].n_fe; i++) {
			const struct hx_proxy *p = x->kinds[k].fe[i];

			for (size_t j = 0; j < p->n_binds; j++) {
				all = hx_grow(all, n + 1, sizeof(*all));
				all[n].b = &p->binds[j];
				all[n].k = (enum gh_kind)k;
				hx_addr_text(&p->binds[j].a, p->binds[j].a.port, all[n].text,
					     sizeof(all[n].text));
				n++;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct hx_bind *b = all[i].b;
		enum gh_kind k = all[i].k;
		bool dup = false;

		/* the same address twice would be refused, and a dual-stack
		 * [::]:P already takes the clients of 0.0.0.0:P */
		for (size_t j = 0; j < n && !dup; j++) {
			const struct hx_bind *c = all[j].b;

			dup = (j < i && !strcmp(all[j].text, all[i].text)) ||
			      (b->a.any && b->a.family == AF_INET && c->a.any &&
			       c->a.family == AF_INET6 && c->a.port == b->a.port);
		}
		if (dup)
			continue;
		if (!any)
			fprintf(o, "# where `gatehouse run` listens; under systemd the gatehouse-http.socket\n"
				   "# and gatehouse-tls.socket units decide (ports 80 and 443, all addresses)\n");
		any = true;
		fprintf(o, "listen %-4s %-18s # %s:%u %s%s\n", gh_kind_str(k), all[i].text, x->file,
			b->line, b->text,
			b->a.any && b->a.family == AF_INET ? " (IPv4 only, as in HAProxy)" : "");
		if (b->v6only && b->a.any && b->a.family == AF_INET6)
			hx_say(x, b->line, HX_NOTE, "'%s': gatehouse's [::]:%u is dual stack: IPv4 clients too",
			       b->text, b->a.port);
		if (b->a.port != (k == GH_KIND_HTTP ? 80u : 443u))
			hx_say(x, b->line, HX_NOTE,
			       "'%s': under systemd, set this port in gatehouse-%s.socket (systemctl edit gatehouse-%s.socket)",
			       b->text, gh_kind_str(k), gh_kind_str(k));
	}
	free(all);
	if (any)
		fputc('\n', o);
}

/* maxconn over a site's servers: their sum, the first line giving one,
 * and a server without one (then the site has no cap). */
struct hx_cap {
	unsigned long long sum;
	unsigned line, unlimited;
	const struct hx_proxy *be;	/* a backend that gave a maxconn */
};

/* The servers of site s for kind k as gatehouse lines; returns how many,
 * and the PROXY version they agree on in *proxy (-1: they disagree). */
static size_t hx_write_servers(struct hx *x, FILE *o, const struct hx_site *s, enum gh_kind k,
			       int *proxy, unsigned *proxy_line, struct hx_cap *cap)
{
	const struct hx_proxy *b = s->be[k];
	size_t written = 0, n_seen = 0;
	char (*seen)[80] = NULL;

	if (!b)
		return 0;
	/* gatehouse has no backup tier: backups go last, so they are
	 * tried after the others when a connect fails */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < b->n_servers; i++) {
			const struct hx_server *sv = &b->servers[i];
			unsigned port = sv->a.port;
			char t[80];
			bool dup = false;

			if (sv->o.backup != (pass == 1))
				continue;
			if (sv->o.disabled) {
				hx_say(x, sv->line, HX_NOTE, "server '%s' is disabled; left out", sv->name);
				continue;
			}
			if (port == 0) {
				if (x->kinds[k].port == 0 || x->kinds[k].port == UINT32_MAX) {
					hx_say(x, sv->line, HX_ESSENTIAL,
					       "server '%s' has no port and the %s frontends bind several; write the port",
					       sv->name, gh_kind_str(k));
					continue;
				}
				port = x->kinds[k].port;
			}
			hx_addr_text(&sv->a, port, t, sizeof(t));
			for (size_t j = 0; j < n_seen && !dup; j++)
				dup = !strcmp(seen[j], t);
			if (dup) {
				hx_say(x, sv->line, HX_NOTE, "server '%s': %s is listed twice in backend '%s'; kept once",
				       sv->name, t, b->name);
				continue;
			}
			seen = hx_grow(seen, n_seen + 1, sizeof(*seen));
			memcpy(seen[n_seen++], t, sizeof(t));
			if (sv->o.backup)
				hx_say(x, sv->line, HX_NOTE,
				       "server '%s' is a backup: gatehouse has no backup tier, so it is listed after the others and takes its turn in the round robin",
				       sv->name);
			fprintf(o, "    %-4s %-30s # %s:%u server %s (backend %s)%s%s\n", gh_kind_str(k), t,
				x->file, sv->line, sv->name, b->name, sv->o.backup ? ", backup" : "",
				sv->a.port ? "" : ", port from the bind");
			if (!cap)
				;	/* the same backend as the other kind: counted there */
			else if (sv->o.maxconn) {
				cap->sum += sv->o.maxconn;
				cap->line = cap->line ? cap->line : sv->line;
				cap->be = b;
			} else {
				cap->unlimited = sv->line;
			}
			if (*proxy == -2) {
				*proxy = sv->o.proxy;
				*proxy_line = sv->o.proxy_line ? sv->o.proxy_line : sv->line;
			} else if (*proxy != sv->o.proxy && *proxy != -1) {
				hx_say(x, sv->line, HX_ESSENTIAL,
				       "server '%s' of site '%s': the servers disagree on send-proxy (see line %u): gatehouse sends a PROXY header to all servers of a site or to none; left off",
				       sv->name, s->name, *proxy_line);
				*proxy = -1;
			}
			written++;
		}
	}
	free(seen);
	if (b->server_lines == 0)
		hx_say(x, b->line, HX_NOTE,
		       "backend '%s' has no servers: HAProxy answered 503; gatehouse will %s", b->name,
		       k == GH_KIND_HTTP ? "answer 421" : "send unrecognized_name");
	return written;
}

/* HAProxy's per-server maxconn, as one cap per site: the sum over the
 * site's servers of both kinds, or none if any server has no limit. */
static void hx_write_cap(struct hx *x, FILE *m, const struct hx_site *s, const struct hx_cap *cap)
{
	char text[48];

	if (!cap->line)
		return;
	if (cap->unlimited) {
		hx_say(x, cap->unlimited, HX_NOTE,
		       "site '%s': other servers have maxconn, this one none (no limit): no site-max-connections",
		       s->name);
		return;
	}
	/* HAProxy's limit is the servers', whichever frontend: sites sharing
	 * the backend each get it whole here */
	size_t sharing = 0;
	for (size_t i = 0; i < x->n_sites; i++)
		for (int k = 0; k < GH_KIND_COUNT; k++)
			if (x->sites[i].be[k] == cap->be && (k == 0 || x->sites[i].be[0] != cap->be))
				sharing++;
	if (sharing > 1)
		hx_say(x, cap->line, HX_NOTE,
		       "backend '%s' serves %zu sites: each gets its maxconn sum as site-max-connections, so "
		       "together they may reach %zu times it", cap->be->name, sharing, sharing);
	snprintf(text, sizeof(text), "site-max-connections %llu", cap->sum > 10000000 ? 10000000ull : cap->sum);
	fprintf(m, "    %-35s # %s:%u maxconn, summed over the site's servers\n", text, x->file, cap->line);
}

static void hx_write_sites(struct hx *x, FILE *o)
{
	for (size_t i = 0; i < x->n_sites; i++) {
		struct hx_site *s = &x->sites[i];
		char *body = NULL;
		size_t body_len = 0, n = 0;
		FILE *m = open_memstream(&body, &body_len);
		int proxy = -2;
		unsigned proxy_line = 0;
		struct hx_cap cap = { 0 };

		if (!m)
			hx_oom();
		for (int k = 0; k < GH_KIND_COUNT; k++) {
			bool again = k > 0 && s->be[k] == s->be[0];
			size_t w = hx_write_servers(x, m, s, (enum gh_kind)k, &proxy, &proxy_line, again ? NULL : &cap);

			s->has[k] = w > 0;
			n += w;
		}
		if (proxy > 0)
			fprintf(m, "    %-35s # %s:%u send-proxy%s\n", proxy == 2 ? "proxy-protocol v2" :
				"proxy-protocol v1", x->file, proxy_line, proxy == 2 ? "-v2" : "");
		hx_write_cap(x, m, s, &cap);
		if (fclose(m) != 0)
			hx_oom();
		if (n == 0) {
			fprintf(o, "# site %s: no server could be translated (see the messages)\n\n", s->name);
		} else if (s->synthetic) {
			fprintf(o, "site %s   # only reached as a default (.invalid is never a real name)\n%s\n",
				s->name, body);
		} else {
			fprintf(o, "site %s\n%s\n", s->name, body);
		}
		free(body);
	}
}

static void hx_write_defaults(struct hx *x, FILE *o)
{
	static const char *const none[GH_KIND_COUNT] = {
		"no default_backend: HAProxy answered 503, gatehouse answers 421",
		"no default_backend: HAProxy closed the connection, gatehouse sends an unrecognized_name alert",
	};
	bool redirect = x->kinds[GH_KIND_HTTP].n_fe && x->kinds[GH_KIND_HTTP].fe[0]->redirect_line;

	for (int k = 0; k < GH_KIND_COUNT; k++) {
		const struct hx_kind *kd = &x->kinds[k];
		const char *ks = gh_kind_str((enum gh_kind)k);

		if (kd->n_fe == 0)
			continue;
		if (kd->default_site && kd->default_site->has[k])
			fprintf(o, "default %-4s %-25s # %s:%u backend %s\n", ks, kd->default_site->name,
				x->file, kd->default_line, kd->default_backend);
		else if (kd->default_backend)
			fprintf(o, "default %-4s %-25s # backend '%s' has no servers here\n", ks, "reject",
				kd->default_backend);
		else if (k == GH_KIND_HTTP && redirect)
			fprintf(o, "default %-4s %-25s # only ACME challenges are routed; no site: 421\n", ks,
				"reject");
		else
			fprintf(o, "default %-4s %-25s # %s\n", ks, "reject", none[k]);
	}
}

static void hx_check_error(void *userdata, const char *message)
{
	struct hx *x = userdata;

	x->n_essential++;
	fprintf(stderr, "%s: the converted configuration fails gatehouse's check: %s\n", x->file, message);
}

static void hx_write(struct hx *x, FILE *o)
{
	const struct hx_kind *http = &x->kinds[GH_KIND_HTTP];

	fprintf(o, "# gatehouse.conf converted from %s by `gatehouse import-haproxy`.\n"
		   "# Check it with `gatehouse check -c FILE`; see gatehouse.conf(5).\n",
		x->file);
	if (x->global_line)
		fprintf(o, "# HAProxy's global section (%s:%u: user, chroot, logging, stats socket)\n"
			   "# has no counterpart: gatehouse runs sandboxed and logs to the journal.\n",
			x->file, x->global_line);
	fputc('\n', o);
	hx_write_timeouts(x, o);
	hx_write_listens(x, o);
	if (http->n_fe) {
		const struct hx_proxy *p = http->fe[0];

		if (p->redirect_line)
			fprintf(o, "http-mode redirect-https  # %s:%u redirect scheme https (ACME challenges are still routed)\n\n",
				x->file, p->redirect_line);
		else
			fprintf(o, "http-mode route           # frontend %s (%s:%u)\n\n", p->name, x->file, p->line);
		if (p->n_rules > 0 || hx_fallback(p))
			fprintf(o, "# HAProxy routed each request by its own Host; gatehouse routes a\n"
				   "# connection by its first request (browsers keep one per site).\n\n");
	} else if (x->kinds[GH_KIND_TLS].n_fe) {
		fprintf(o, "# HAProxy had no mode http frontend; gatehouse still listens for HTTP\n"
			   "# (port 80) and answers 421 for names whose site has no http servers.\n\n");
	}
	hx_write_sites(x, o);
	hx_write_defaults(x, o);
}

int cmd_import_haproxy(const char *path)
{
	char *shown = hx_strdup(path);
	struct hx x = { .file = shown };
	struct gh_config *c = NULL;
	char *out = NULL;
	size_t out_len = 0;
	FILE *f, *o;
	int r;

	/* the name goes into '#' comments and messages: printable only */
	for (char *ch = shown; *ch; ch++)
		if ((unsigned char)*ch < 0x20 || *ch == 0x7f)
			*ch = '?';
	hx_defaults_reset(&x.defaults);
	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "gatehouse: %s: %s\n", shown, strerror(errno));
		free(shown);
		return 1;
	}
	r = hx_read(&x, f);
	fclose(f);
	if (r < 0) {
		fprintf(stderr, "gatehouse: %s: read error\n", shown);
		free(shown);
		return 1;
	}
	hx_kinds(&x);
	if (x.kinds[GH_KIND_HTTP].n_fe + x.kinds[GH_KIND_TLS].n_fe == 0)
		hx_say(&x, 0, HX_ESSENTIAL, "no frontend gatehouse can stand in for");
	hx_sites(&x);

	o = open_memstream(&out, &out_len);
	if (!o)
		hx_oom();
	hx_write(&x, o);
	if (fclose(o) != 0)
		hx_oom();

	/* what we print must be what gatehouse accepts */
	r = config_parse("(converted)", out, out_len, hx_check_error, &x, &c);
	if (r == -ENOMEM)
		hx_oom();
	config_free(c);
	fwrite(out, 1, out_len, stdout);
	free(out);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "gatehouse: stdout: %s\n", strerror(errno));
		x.n_essential++;
	}

	for (size_t i = 0; i < x.n_px; i++) {
		hx_proxy_free(x.px[i]);
		free(x.px[i]);
	}
	free(x.px);
	hx_proxy_free(&x.defaults);
	free(x.sites);
	for (int k = 0; k < GH_KIND_COUNT; k++)
		free(x.kinds[k].fe);
	free(shown);
	return x.n_essential ? 1 : 0;
}
