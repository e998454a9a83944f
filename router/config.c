/* SPDX-License-Identifier: MIT */
/*
 * Config parser (DESIGN.md "Configuration (contract)"). Pure: it reads a
 * buffer, resolves no names and opens nothing. One line, one directive;
 * `#` starts a comment anywhere; words are separated by spaces or tabs;
 * indentation means nothing: a site-only directive applies to the latest
 * `site`. Every error is reported and parsing carries on, so one run of
 * `gatehouse check` shows them all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "router/config.h"
#include "router/gh_limits.h"
#include "router/http_head.h"
#include "router/routes.h"

#define CONFIG_MAX_DURATION_MS (24u * 3600u * 1000u)
#define CONFIG_MAX_FORWARDERS GH_MAX_FORWARDERS
#define CONFIG_MIN_HEAD 1024u
#define CONFIG_MAX_HEAD 65536u
/* far more than anyone needs, and they keep the duplicate scans cheap */
#define CONFIG_MAX_SERVERS GH_MAX_SERVERS		/* per site and kind */
#define CONFIG_MAX_LISTENS GH_MAX_LISTENS
/* longest word quoted back in a message; the rest becomes "..." */
#define CONFIG_QUOTE_MAX 80u

struct config_tok {
	const char *s;
	size_t len;
};

struct config_parser {
	const char *file;
	unsigned line;
	config_error_fn err;
	void *userdata;
	unsigned n_errors;

	struct gh_config *c;
	size_t sites_cap;
	size_t listens_cap;
	/* every site name (not only the first) -> site, to refuse reuse */
	struct routes *names;
	uint32_t cur;			/* latest site, or GH_NO_SITE */
	unsigned cur_proxy_line;	/* its proxy-protocol line, 0 = none yet */
	unsigned cur_maxconn_line;	/* its site-max-connections line, 0 = none yet */

	/* line of a single-valued directive's first use, 0 = not seen */
	unsigned seen_inspect, seen_connect, seen_idle, seen_mode;
	unsigned seen_forwarders, seen_head, seen_user, seen_chroot, seen_maxconn, seen_queue;
	unsigned default_line[GH_KIND_COUNT];
	char *default_name[GH_KIND_COUNT];	/* NULL: reject */

	struct config_tok *toks;
	size_t toks_cap;
};

struct config_directive {
	const char *name;
	size_t min_args, max_args;
	const char *usage;
	int (*fn)(struct config_parser *p, const struct config_directive *d,
		  const struct config_tok *arg, size_t n);
};

const char *gh_kind_str(enum gh_kind k)
{
	return k == GH_KIND_TLS ? "tls" : "http";
}

const char *gh_http_mode_str(enum gh_http_mode m)
{
	return m == GH_HTTP_REDIRECT_HTTPS ? "redirect-https" : "route";
}

static bool tok_is(const struct config_tok *t, const char *word)
{
	size_t n = strlen(word);

	return t->len == n && memcmp(t->s, word, n) == 0;
}

/* A word from the file, made safe to print: a config may hold any bytes. */
static const char *config_quote(char *buf, size_t size, const char *s, size_t len)
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

#define QUOTE_BUF (CONFIG_QUOTE_MAX * 4 + 8)
#define Q(buf, tok) config_quote(buf, sizeof(buf), (tok)->s, (tok)->len)

__attribute__((format(printf, 3, 4)))
static void config_error_at(struct config_parser *p, unsigned line, const char *fmt, ...)
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

#define config_error(p, ...) config_error_at((p), (p)->line, __VA_ARGS__)

/* Digits only, no sign; saturates at limit + 1 so callers see "too big". */
static bool config_uint(const char *s, size_t len, uint64_t limit, uint64_t *out)
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
static const char *config_duration(const char *s, size_t len, uint32_t *ms)
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

enum {
	ADDR_STAR = 1 << 0,	/* "*:80" means "[::]:80" (listen only) */
	ADDR_DIALABLE = 1 << 1,	/* refuse the unspecified address (servers) */
};

static const char *config_addr(const char *s, size_t len, unsigned flags, struct gh_addr *out)
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

static int config_kind(const struct config_tok *t)
{
	if (tok_is(t, "http"))
		return GH_KIND_HTTP;
	if (tok_is(t, "tls"))
		return GH_KIND_TLS;
	return -1;
}

/* A single-valued directive given twice is almost always a leftover. */
static bool config_once(struct config_parser *p, const struct config_directive *d, unsigned *seen)
{
	if (*seen) {
		config_error(p, "'%s' already set at line %u", d->name, *seen);
		return false;
	}
	*seen = p->line;
	return true;
}

static void config_timeout(struct config_parser *p, const struct config_directive *d,
			   const struct config_tok *arg, uint32_t *field, unsigned *seen)
{
	char q[QUOTE_BUF];
	const char *why;
	uint32_t ms;

	why = config_duration(arg->s, arg->len, &ms);
	if (why) {
		config_error(p, "bad duration '%s' for '%s': %s", Q(q, arg), d->name, why);
		return;
	}
	if (config_once(p, d, seen))
		*field = ms;
}

static int config_do_inspect(struct config_parser *p, const struct config_directive *d,
			     const struct config_tok *arg, size_t n)
{
	(void)n;
	config_timeout(p, d, arg, &p->c->inspect_timeout_ms, &p->seen_inspect);
	return 0;
}

static int config_do_connect(struct config_parser *p, const struct config_directive *d,
			     const struct config_tok *arg, size_t n)
{
	(void)n;
	config_timeout(p, d, arg, &p->c->connect_timeout_ms, &p->seen_connect);
	return 0;
}

static int config_do_idle(struct config_parser *p, const struct config_directive *d,
			  const struct config_tok *arg, size_t n)
{
	(void)n;
	config_timeout(p, d, arg, &p->c->idle_timeout_ms, &p->seen_idle);
	return 0;
}

static int config_add_listen(struct config_parser *p, enum gh_kind kind, const struct gh_addr *a,
			     unsigned line)
{
	struct gh_config *c = p->c;

	if (c->n_listens == p->listens_cap) {
		size_t cap = p->listens_cap ? p->listens_cap * 2 : 4;
		struct gh_listen *l = reallocarray(c->listens, cap, sizeof(*l));

		if (!l)
			return -ENOMEM;
		c->listens = l;
		p->listens_cap = cap;
	}
	c->listens[c->n_listens++] = (struct gh_listen){ .kind = kind, .addr = *a, .line = line };
	return 0;
}

static int config_do_listen(struct config_parser *p, const struct config_directive *d,
			    const struct config_tok *arg, size_t n)
{
	char q[QUOTE_BUF];
	struct gh_addr a;
	const char *why;
	int kind;

	(void)d;
	(void)n;
	kind = config_kind(&arg[0]);
	if (kind < 0) {
		config_error(p, "bad listen kind '%s' (http or tls)", Q(q, &arg[0]));
		return 0;
	}
	why = config_addr(arg[1].s, arg[1].len, ADDR_STAR, &a);
	if (why) {
		config_error(p, "bad address '%s': %s", Q(q, &arg[1]), why);
		return 0;
	}
	if (p->c->n_listens == CONFIG_MAX_LISTENS) {
		config_error(p, "too many listen lines (at most %u)", CONFIG_MAX_LISTENS);
		return 0;
	}
	/* one socket per address, whatever its kind: the second bind would fail */
	for (size_t i = 0; i < p->c->n_listens; i++) {
		const struct gh_listen *l = &p->c->listens[i];

		if (strcmp(l->addr.text, a.text) == 0) {
			config_error(p, "listen address %s already used by 'listen %s' at line %u",
				     a.text, gh_kind_str(l->kind), l->line);
			return 0;
		}
	}
	return config_add_listen(p, (enum gh_kind)kind, &a, p->line);
}

static int config_do_http_mode(struct config_parser *p, const struct config_directive *d,
			       const struct config_tok *arg, size_t n)
{
	enum gh_http_mode m;
	char q[QUOTE_BUF];

	(void)n;
	if (tok_is(arg, "route")) {
		m = GH_HTTP_ROUTE;
	} else if (tok_is(arg, "redirect-https")) {
		m = GH_HTTP_REDIRECT_HTTPS;
	} else {
		config_error(p, "bad http-mode '%s' (route or redirect-https)", Q(q, arg));
		return 0;
	}
	if (config_once(p, d, &p->seen_mode))
		p->c->http_mode = m;
	return 0;
}

/* The site holding name as one of its names (exact, wildcards as written). */
static uint32_t config_site_with_name(const struct config_parser *p, const char *name, size_t len)
{
	uint32_t i;

	/* "*.x" is found too: its walk probes the wildcard half with "x" first */
	if (routes_lookup(p->names, name, len, &i) < 0)
		return GH_NO_SITE;
	/* the lookup also answers through wildcards: confirm an exact name */
	for (size_t k = 0; k < p->c->sites[i].n_names; k++) {
		const char *nm = p->c->sites[i].names[k];

		if (strlen(nm) == len && memcmp(nm, name, len) == 0)
			return i;
	}
	return GH_NO_SITE;
}

static int config_do_site(struct config_parser *p, const struct config_directive *d,
			  const struct config_tok *arg, size_t n)
{
	struct gh_config *c = p->c;
	struct gh_site *s;
	uint32_t idx;

	/* site indexes are uint32_t with GH_NO_SITE reserved; far beyond any
	 * file config_load_file() would read, but config_parse() takes any buffer */
	if (c->n_sites >= GH_NO_SITE - 1) {
		config_error(p, "too many sites");
		p->cur = GH_NO_SITE;
		return 0;
	}
	if (c->n_sites == p->sites_cap) {
		size_t cap = p->sites_cap ? p->sites_cap * 2 : 8;
		struct gh_site *ns = reallocarray(c->sites, cap, sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		c->sites = ns;
		p->sites_cap = cap;
	}
	idx = (uint32_t)c->n_sites++;
	s = &c->sites[idx];
	*s = (struct gh_site){ .line = p->line };
	/* even a nameless site becomes current, so its server lines don't
	 * add "outside any site" errors or land in the previous site */
	p->cur = idx;
	p->cur_proxy_line = 0;
	p->cur_maxconn_line = 0;
	if (n == 0) {
		config_error(p, "'site': missing argument (usage: %s)", d->usage);
		return 0;
	}
	s->names = calloc(n, sizeof(*s->names));
	if (!s->names)
		return -ENOMEM;

	for (size_t i = 0; i < n; i++) {
		char norm[HOSTNAME_MAX + 1], q[QUOTE_BUF];
		enum hostname_status hs;
		uint32_t other;
		size_t len;
		int r;

		hs = hostname_normalize_pattern((const uint8_t *)arg[i].s, arg[i].len, norm, &len);
		if (hs != HOSTNAME_OK) {
			config_error(p, "bad site name '%s': %s", Q(q, &arg[i]),
				     hostname_status_str(hs));
			continue;
		}
		r = routes_add(p->names, norm, idx, &other);
		if (r == -EEXIST) {
			const struct gh_site *o = &c->sites[other];

			if (other == idx)
				config_error(p, "name '%s' listed twice", norm);
			else if (i == 0 && strcmp(o->name, norm) == 0)
				config_error(p, "duplicate site '%s' (first defined at line %u)",
					     norm, o->line);
			else
				config_error(p, "name '%s' already used by site '%s' (line %u)",
					     norm, o->name, o->line);
			continue;
		}
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			config_error(p, "bad site name '%s'", Q(q, &arg[i]));
			continue;
		}
		s->names[s->n_names] = strdup(norm);
		if (!s->names[s->n_names])
			return -ENOMEM;
		s->n_names++;
		s->name = s->names[0];
	}
	return 0;
}

/* The site a site-only directive applies to, or GH_NO_SITE after an error. */
static uint32_t config_current(struct config_parser *p, const struct config_directive *d)
{
	if (p->cur == GH_NO_SITE)
		config_error(p, "'%s' outside any site (it belongs after a 'site' line)", d->name);
	return p->cur;
}

static const char *site_label(const struct gh_site *s)
{
	return s->name ? s->name : "(unnamed)";
}

static int config_do_server(struct config_parser *p, const struct config_directive *d,
			    const struct config_tok *arg, size_t n)
{
	enum gh_kind kind = strcmp(d->name, "tls") == 0 ? GH_KIND_TLS : GH_KIND_HTTP;
	uint32_t idx = config_current(p, d);
	struct gh_addr *list;
	struct gh_site *s;
	size_t want;

	if (idx == GH_NO_SITE)
		return 0;
	s = &p->c->sites[idx];
	/* room for what can be kept, not for every word on the line */
	want = s->n_servers[kind] + (n < CONFIG_MAX_SERVERS ? n : CONFIG_MAX_SERVERS);
	if (want > CONFIG_MAX_SERVERS)
		want = CONFIG_MAX_SERVERS;
	list = s->servers[kind];
	if (want > s->n_servers[kind]) {
		list = reallocarray(list, want, sizeof(*list));
		if (!list)
			return -ENOMEM;
		s->servers[kind] = list;
	}

	for (size_t i = 0; i < n; i++) {
		char q[QUOTE_BUF];
		struct gh_addr a;
		const char *why;
		bool dup = false;

		why = config_addr(arg[i].s, arg[i].len, ADDR_DIALABLE, &a);
		if (why) {
			config_error(p, "bad address '%s': %s", Q(q, &arg[i]), why);
			continue;
		}
		for (size_t k = 0; k < s->n_servers[kind] && !dup; k++)
			dup = strcmp(list[k].text, a.text) == 0;
		if (dup) {
			config_error(p, "%s server %s listed twice in site '%s'",
				     d->name, a.text, site_label(s));
			continue;
		}
		if (s->n_servers[kind] == CONFIG_MAX_SERVERS) {
			config_error(p, "too many %s servers in site '%s' (at most %u)",
				     d->name, site_label(s), CONFIG_MAX_SERVERS);
			break;
		}
		list[s->n_servers[kind]++] = a;
	}
	return 0;
}

static int config_do_proxy(struct config_parser *p, const struct config_directive *d,
			   const struct config_tok *arg, size_t n)
{
	uint32_t idx = config_current(p, d);
	char q[QUOTE_BUF];
	int v;

	(void)n;
	if (idx == GH_NO_SITE)
		return 0;
	if (tok_is(arg, "v1")) {
		v = 1;
	} else if (tok_is(arg, "v2")) {
		v = 2;
	} else if (tok_is(arg, "off")) {
		v = 0;
	} else {
		config_error(p, "bad proxy-protocol '%s' (v1, v2 or off)", Q(q, arg));
		return 0;
	}
	if (config_once(p, d, &p->cur_proxy_line))
		p->c->sites[idx].proxy_protocol = v;
	return 0;
}

static int config_do_default(struct config_parser *p, const struct config_directive *d,
			     const struct config_tok *arg, size_t n)
{
	char norm[HOSTNAME_MAX + 1], q[QUOTE_BUF];
	enum hostname_status hs;
	size_t len;
	int kind;

	(void)d;
	(void)n;
	kind = config_kind(&arg[0]);
	if (kind < 0) {
		config_error(p, "bad default kind '%s' (http or tls)", Q(q, &arg[0]));
		return 0;
	}
	if (p->default_line[kind]) {
		config_error(p, "'default %s' already set at line %u", gh_kind_str((enum gh_kind)kind),
			     p->default_line[kind]);
		return 0;
	}
	/* a site literally named "reject" can't be a default: the keyword wins */
	if (tok_is(&arg[1], "reject")) {
		p->default_line[kind] = p->line;
		return 0;
	}
	hs = hostname_normalize_pattern((const uint8_t *)arg[1].s, arg[1].len, norm, &len);
	if (hs != HOSTNAME_OK) {
		config_error(p, "bad site name '%s' for 'default %s': %s", Q(q, &arg[1]),
			     gh_kind_str((enum gh_kind)kind), hostname_status_str(hs));
		return 0;
	}
	/* sites may come later in the file: resolved in config_finish() */
	p->default_name[kind] = strdup(norm);
	if (!p->default_name[kind])
		return -ENOMEM;
	p->default_line[kind] = p->line;
	return 0;
}

static int config_do_forwarders(struct config_parser *p, const struct config_directive *d,
				const struct config_tok *arg, size_t n)
{
	char q[QUOTE_BUF];
	uint64_t v;

	(void)n;
	if (!config_uint(arg->s, arg->len, CONFIG_MAX_FORWARDERS, &v) || v > CONFIG_MAX_FORWARDERS) {
		config_error(p, "bad forwarders '%s': a number from 1 to %u (0: one per CPU but one)",
			     Q(q, arg), CONFIG_MAX_FORWARDERS);
		return 0;
	}
	if (config_once(p, d, &p->seen_forwarders))
		p->c->forwarders = (unsigned)v;
	return 0;
}

static int config_do_max_head(struct config_parser *p, const struct config_directive *d,
			      const struct config_tok *arg, size_t n)
{
	size_t len = arg->len, mult = 1;
	char q[QUOTE_BUF];
	uint64_t v;

	(void)n;
	if (len > 0 && (arg->s[len - 1] == 'k' || arg->s[len - 1] == 'K')) {
		len--;
		mult = 1024;
	}
	if (!config_uint(arg->s, len, CONFIG_MAX_HEAD, &v) || v * mult < CONFIG_MIN_HEAD ||
	    v * mult > CONFIG_MAX_HEAD) {
		config_error(p, "bad max-head-size '%s': bytes from 1k to 64k, e.g. 16k", Q(q, arg));
		return 0;
	}
	if (config_once(p, d, &p->seen_head))
		p->c->max_head = (size_t)(v * mult);
	return 0;
}

/* user NAME: a plain system user name, resolved (needs /etc/passwd) by the
 * daemon before it chroots; checked here only for its shape */
static int config_do_user(struct config_parser *p, const struct config_directive *d,
			  const struct config_tok *arg, size_t n)
{
	char q[QUOTE_BUF];

	(void)n;
	bool ok = arg->len > 0 && arg->len <= 32 && (arg->s[0] == '_' || (arg->s[0] >= 'a' && arg->s[0] <= 'z'));
	for (size_t i = 1; ok && i < arg->len; i++) {
		char ch = arg->s[i];
		ok = ch == '_' || ch == '-' || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
	}
	if (!ok || (arg->len == 4 && !memcmp(arg->s, "root", 4))) {
		config_error(p, "bad user '%s': a system user name other than root", Q(q, arg));
		return 0;
	}
	if (config_once(p, d, &p->seen_user)) {
		p->c->user = strndup(arg->s, arg->len);
		if (!p->c->user)
			return -ENOMEM;
	}
	return 0;
}

static int config_do_chroot(struct config_parser *p, const struct config_directive *d,
			    const struct config_tok *arg, size_t n)
{
	char q[QUOTE_BUF];

	(void)n;
	if (arg->len < 2 || arg->s[0] != '/' || arg->len > 255 || memmem(arg->s, arg->len, "/../", 4) ||
	    (arg->len >= 3 && !memcmp(arg->s + arg->len - 3, "/..", 3))) {
		config_error(p, "bad chroot '%s': an absolute directory other than /", Q(q, arg));
		return 0;
	}
	if (config_once(p, d, &p->seen_chroot)) {
		p->c->chroot_dir = strndup(arg->s, arg->len);
		if (!p->c->chroot_dir)
			return -ENOMEM;
	}
	return 0;
}

/* A connection count, 1 to 10000000, set once (seen: its first line). */
static void config_count(struct config_parser *p, const struct config_directive *d,
			 const struct config_tok *arg, unsigned *field, unsigned *seen)
{
	char q[QUOTE_BUF];
	uint64_t v;

	if (!config_uint(arg->s, arg->len, 10000000, &v) || v < 1 || v > 10000000) {
		config_error(p, "bad %s '%s': a number from 1 to 10000000", d->name, Q(q, arg));
		return;
	}
	if (config_once(p, d, seen))
		*field = (unsigned)v;
}

static int config_do_max_connections(struct config_parser *p, const struct config_directive *d,
				     const struct config_tok *arg, size_t n)
{
	(void)n;
	config_count(p, d, arg, &p->c->max_connections, &p->seen_maxconn);
	return 0;
}

/* site-only: at most N relays to this site at once (all forwarders) */
static int config_do_site_max_connections(struct config_parser *p, const struct config_directive *d,
					  const struct config_tok *arg, size_t n)
{
	uint32_t idx = config_current(p, d);

	(void)n;
	if (idx != GH_NO_SITE)
		config_count(p, d, arg, &p->c->sites[idx].max_connections, &p->cur_maxconn_line);
	return 0;
}

static int config_do_queue(struct config_parser *p, const struct config_directive *d,
			   const struct config_tok *arg, size_t n)
{
	(void)n;
	config_timeout(p, d, arg, &p->c->queue_timeout_ms, &p->seen_queue);
	return 0;
}

static const struct config_directive config_directives[] = {
	{ "inspect-timeout", 1, 1, "inspect-timeout DURATION", config_do_inspect },
	{ "connect-timeout", 1, 1, "connect-timeout DURATION", config_do_connect },
	{ "idle-timeout", 1, 1, "idle-timeout DURATION", config_do_idle },
	{ "listen", 2, 2, "listen http|tls ADDRESS:PORT", config_do_listen },
	{ "http-mode", 1, 1, "http-mode route|redirect-https", config_do_http_mode },
	/* min 0: the handler reports it, and still opens a (nameless) site */
	{ "site", 0, SIZE_MAX, "site NAME [NAME...]", config_do_site },
	{ "http", 1, SIZE_MAX, "http ADDRESS:PORT [ADDRESS:PORT...]", config_do_server },
	{ "tls", 1, SIZE_MAX, "tls ADDRESS:PORT [ADDRESS:PORT...]", config_do_server },
	{ "proxy-protocol", 1, 1, "proxy-protocol v1|v2|off", config_do_proxy },
	{ "default", 2, 2, "default http|tls reject|SITE", config_do_default },
	{ "forwarders", 1, 1, "forwarders N", config_do_forwarders },
	{ "max-head-size", 1, 1, "max-head-size SIZE", config_do_max_head },
	{ "user", 1, 1, "user NAME", config_do_user },
	{ "chroot", 1, 1, "chroot DIRECTORY", config_do_chroot },
	{ "max-connections", 1, 1, "max-connections N", config_do_max_connections },
	{ "site-max-connections", 1, 1, "site-max-connections N", config_do_site_max_connections },
	{ "queue-timeout", 1, 1, "queue-timeout DURATION", config_do_queue },
};

static int config_line(struct config_parser *p, const char *s, size_t len)
{
	const struct config_directive *d = NULL;
	char q[QUOTE_BUF];
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			config_error(p, "control character 0x%02x (only spaces and tabs separate words)",
				     ch);
			return 0;
		}
	}
	for (size_t i = 0; i < len;) {
		size_t start;

		if (s[i] == ' ' || s[i] == '\t') {
			i++;
			continue;
		}
		start = i;
		while (i < len && s[i] != ' ' && s[i] != '\t')
			i++;
		if (n == p->toks_cap) {
			size_t cap = p->toks_cap ? p->toks_cap * 2 : 16;
			struct config_tok *t = reallocarray(p->toks, cap, sizeof(*t));

			if (!t)
				return -ENOMEM;
			p->toks = t;
			p->toks_cap = cap;
		}
		p->toks[n++] = (struct config_tok){ .s = s + start, .len = i - start };
	}
	if (n == 0)
		return 0;

	for (size_t i = 0; i < sizeof(config_directives) / sizeof(config_directives[0]); i++)
		if (tok_is(&p->toks[0], config_directives[i].name))
			d = &config_directives[i];
	if (!d) {
		config_error(p, "unknown directive '%s'", Q(q, &p->toks[0]));
		return 0;
	}
	if (n - 1 < d->min_args) {
		config_error(p, "'%s': missing argument (usage: %s)", d->name, d->usage);
		return 0;
	}
	if (n - 1 > d->max_args) {
		config_error(p, "'%s': too many arguments (usage: %s)", d->name, d->usage);
		return 0;
	}
	return d->fn(p, d, p->toks + 1, n - 1);
}

/* Checks that need the whole file, then the route tables. */
static int config_finish(struct config_parser *p)
{
	static const char *const default_addr[GH_KIND_COUNT] = {
		[GH_KIND_HTTP] = "[::]:80",
		[GH_KIND_TLS] = "[::]:443",
	};
	struct gh_config *c = p->c;
	int r;

	if (!p->seen_queue)
		c->queue_timeout_ms = c->connect_timeout_ms;	/* as HAProxy's timeout queue */
	for (size_t i = 0; i < c->n_sites; i++) {
		const struct gh_site *s = &c->sites[i];

		/* a nameless site has had its error already */
		if (s->n_names > 0 && s->n_servers[GH_KIND_HTTP] + s->n_servers[GH_KIND_TLS] == 0)
			config_error_at(p, s->line, "site '%s' has no servers (add 'http' or 'tls' lines)",
					s->name);
	}

	for (int k = 0; k < GH_KIND_COUNT; k++) {
		const char *want = p->default_name[k];
		uint32_t idx;

		if (!want)
			continue;
		idx = config_site_with_name(p, want, strlen(want));
		if (idx == GH_NO_SITE) {
			config_error_at(p, p->default_line[k], "'default %s': no site named '%s'",
					gh_kind_str((enum gh_kind)k), want);
		} else if (strcmp(c->sites[idx].name, want) != 0) {
			config_error_at(p, p->default_line[k],
					"'default %s': no site named '%s' (it is another name of site '%s'; use that)",
					gh_kind_str((enum gh_kind)k), want, c->sites[idx].name);
		} else if (c->sites[idx].n_servers[k] == 0) {
			config_error_at(p, p->default_line[k], "'default %s': site '%s' has no %s servers",
					gh_kind_str((enum gh_kind)k), want, gh_kind_str((enum gh_kind)k));
		} else {
			c->default_site[k] = idx;
		}
	}

	/* no listen line for a kind: the well-known port on every address,
	 * dual stack (what `gatehouse run` binds; under systemd the socket
	 * units decide) */
	for (int k = 0; k < GH_KIND_COUNT; k++) {
		struct gh_addr a;
		bool have = false;

		for (size_t i = 0; i < c->n_listens; i++)
			have |= c->listens[i].kind == (enum gh_kind)k;
		if (have)
			continue;
		config_addr(default_addr[k], strlen(default_addr[k]), 0, &a);
		r = config_add_listen(p, (enum gh_kind)k, &a, 0);
		if (r < 0)
			return r;
	}

	if (p->n_errors)
		return 0;

	c->site_by_name = routes_new();
	for (int k = 0; k < GH_KIND_COUNT; k++)
		c->routes[k] = routes_new();
	if (!c->site_by_name || !c->routes[GH_KIND_HTTP] || !c->routes[GH_KIND_TLS])
		return -ENOMEM;
	for (size_t i = 0; i < c->n_sites; i++) {
		const struct gh_site *s = &c->sites[i];

		r = routes_add(c->site_by_name, s->name, (uint32_t)i, NULL);
		/* names were checked unique while parsing: -EEXIST can't happen */
		if (r < 0)
			return r == -EEXIST ? -EINVAL : r;
		for (int k = 0; k < GH_KIND_COUNT; k++) {
			if (s->n_servers[k] == 0)
				continue;
			for (size_t j = 0; j < s->n_names; j++) {
				r = routes_add(c->routes[k], s->names[j], (uint32_t)i, NULL);
				if (r < 0)
					return r == -EEXIST ? -EINVAL : r;
			}
		}
	}
	return 0;
}

int config_parse(const char *filename, const char *text, size_t len,
		 config_error_fn err, void *userdata, struct gh_config **out)
{
	struct config_parser p = {
		.file = filename ? filename : "(config)",
		.err = err,
		.userdata = userdata,
		.cur = GH_NO_SITE,
	};
	size_t pos = 0;
	int r = 0;

	*out = NULL;
	p.c = calloc(1, sizeof(*p.c));
	p.names = routes_new();
	if (!p.c || !p.names) {
		r = -ENOMEM;
		goto out;
	}
	p.c->inspect_timeout_ms = 5000;
	p.c->connect_timeout_ms = 5000;
	p.c->idle_timeout_ms = 50000;
	p.c->http_mode = GH_HTTP_ROUTE;
	p.c->max_head = HTTP_HEAD_DEFAULT_CAP;
	for (int k = 0; k < GH_KIND_COUNT; k++)
		p.c->default_site[k] = GH_NO_SITE;

	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t line_len = nl ? (size_t)(nl - line) : len - pos;
		const char *hash;

		pos += line_len + (nl ? 1 : 0);
		if (p.line < UINT_MAX)
			p.line++;
		hash = memchr(line, '#', line_len);
		if (hash)
			line_len = (size_t)(hash - line);
		else if (line_len > 0 && line[line_len - 1] == '\r')
			line_len--;	/* CRLF files */
		r = config_line(&p, line, line_len);
		if (r < 0)
			goto out;
	}
	r = config_finish(&p);
	if (r == 0 && p.n_errors)
		r = -EINVAL;
	if (r == -EINVAL && p.n_errors == 0)
		config_error_at(&p, p.line, "internal error building the route table");
out:
	routes_free(p.names);
	free(p.toks);
	for (int k = 0; k < GH_KIND_COUNT; k++)
		free(p.default_name[k]);
	if (r < 0) {
		config_free(p.c);
		return r;
	}
	*out = p.c;
	return 0;
}

void config_free(struct gh_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_sites; i++) {
		struct gh_site *s = &c->sites[i];

		/* s->name is s->names[0], not its own allocation */
		for (size_t j = 0; j < s->n_names; j++)
			free(s->names[j]);
		free(s->names);
		for (int k = 0; k < GH_KIND_COUNT; k++)
			free(s->servers[k]);
	}
	free(c->sites);
	free(c->listens);
	for (int k = 0; k < GH_KIND_COUNT; k++)
		routes_free(c->routes[k]);
	routes_free(c->site_by_name);
	free(c->user);
	free(c->chroot_dir);
	free(c);
}

uint32_t config_route(const struct gh_config *c, enum gh_kind kind, const char *name, size_t len)
{
	uint32_t site;

	if ((unsigned)kind >= GH_KIND_COUNT)
		return GH_NO_SITE;
	if (c->routes[kind] && routes_lookup(c->routes[kind], name, len, &site) == 0)
		return site;
	return c->default_site[kind];
}

uint32_t config_site_index(const struct gh_config *c, const char *name, size_t len)
{
	uint32_t i;

	if (!c->site_by_name || routes_lookup(c->site_by_name, name, len, &i) < 0)
		return GH_NO_SITE;
	/* a site named "*.x" sits in the wildcard half of the table, and a
	 * lookup answers through wildcards: only the exact name counts */
	if (strlen(c->sites[i].name) != len || memcmp(c->sites[i].name, name, len) != 0)
		return GH_NO_SITE;
	return i;
}
