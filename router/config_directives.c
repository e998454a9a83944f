/* SPDX-License-Identifier: MIT */
/* One handler per directive (the table at the end), each checking its own
 * arguments and reporting FILE:LINE errors through config_error. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "router/config.h"
#include "router/config_parser.h"
#include "router/gh_limits.h"
#include "router/http_head.h"
#include "router/routes.h"

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

static int config_do_quic_idle(struct config_parser *p, const struct config_directive *d,
			       const struct config_tok *arg, size_t n)
{
	(void)n;
	config_timeout(p, d, arg, &p->c->quic_idle_timeout_ms, &p->seen_quic_idle);
	return 0;
}

int config_add_listen(struct config_parser *p, enum gh_kind kind, const struct gh_addr *a,
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
	kind = config_kind(&arg[0]);
	if (kind < 0) {
		config_error(p, "bad listen kind '%s' (http, tls or quic)", Q(q, &arg[0]));
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
	/* one socket per address and protocol: the second bind would fail
	 * (quic is UDP, so `listen tls [::]:443` and `listen quic [::]:443` share) */
	for (size_t i = 0; i < p->c->n_listens; i++) {
		const struct gh_listen *l = &p->c->listens[i];

		if (strcmp(l->addr.text, a.text) == 0 &&
		    (l->kind == GH_KIND_QUIC) == (kind == GH_KIND_QUIC)) {
			config_error(p, "listen address %s already used by 'listen %s' at line %u",
				     a.text, gh_kind_str(l->kind), l->line);
			return 0;
		}
	}
	int r = config_add_listen(p, (enum gh_kind)kind, &a, p->line);
	if (r == 0 && n > 2)	/* options: config_proxy.c */
		r = config_listen_options(p, &p->c->listens[p->c->n_listens - 1], arg + 2, n - 2);
	return r;
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
uint32_t config_site_with_name(const struct config_parser *p, const char *name, size_t len)
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
	enum gh_kind kind = (enum gh_kind)config_kind(&(struct config_tok){ d->name, strlen(d->name) });
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
		config_error(p, "bad default kind '%s' (http, tls or quic)", Q(q, &arg[0]));
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

/* metrics ADDRESS:PORT: opt-in, one address; it must not be a listen
 * address (both would be bound by `gatehouse run`) */
static int config_do_metrics(struct config_parser *p, const struct config_directive *d,
			     const struct config_tok *arg, size_t n)
{
	char q[QUOTE_BUF];
	struct gh_addr a;
	const char *why = config_addr(arg->s, arg->len, ADDR_STAR, &a);

	(void)n;
	if (why) {
		config_error(p, "bad metrics address '%s': %s", Q(q, arg), why);
		return 0;
	}
	for (size_t i = 0; i < p->c->n_listens; i++) {
		if (strcmp(p->c->listens[i].addr.text, a.text) == 0) {
			config_error(p, "metrics address %s already used by 'listen %s' at line %u", a.text,
				     gh_kind_str(p->c->listens[i].kind), p->c->listens[i].line);
			return 0;
		}
	}
	if (config_once(p, d, &p->seen_metrics))
		p->c->metrics = a;
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

const struct config_directive config_directives[] = {
	{ "inspect-timeout", 1, 1, "inspect-timeout DURATION", config_do_inspect },
	{ "connect-timeout", 1, 1, "connect-timeout DURATION", config_do_connect },
	{ "idle-timeout", 1, 1, "idle-timeout DURATION", config_do_idle },
	{ "quic-idle-timeout", 1, 1, "quic-idle-timeout DURATION", config_do_quic_idle },
	{ "listen", 2, SIZE_MAX, "listen http|tls|quic ADDRESS:PORT [accept-proxy CIDR...]", config_do_listen },
	{ "http-mode", 1, 1, "http-mode route|redirect-https", config_do_http_mode },
	/* min 0: the handler reports it, and still opens a (nameless) site */
	{ "site", 0, SIZE_MAX, "site NAME [NAME...]", config_do_site },
	{ "http", 1, SIZE_MAX, "http ADDRESS:PORT [ADDRESS:PORT...]", config_do_server },
	{ "tls", 1, SIZE_MAX, "tls ADDRESS:PORT [ADDRESS:PORT...]", config_do_server },
	{ "quic", 1, SIZE_MAX, "quic ADDRESS:PORT [ADDRESS:PORT...]", config_do_server },
	/* before any site: global; in a site: the site's (config_alpn.c) */
	{ "tls-alpn", 2, SIZE_MAX, "tls-alpn PROTOCOL ADDRESS:PORT [ADDRESS:PORT...]", config_do_tls_alpn },
	{ "proxy-protocol", 1, 1, "proxy-protocol v1|v2|off", config_do_proxy },
	{ "default", 2, 2, "default http|tls|quic reject|SITE", config_do_default },
	{ "forwarders", 1, 1, "forwarders N", config_do_forwarders },
	{ "max-head-size", 1, 1, "max-head-size SIZE", config_do_max_head },
	{ "user", 1, 1, "user NAME", config_do_user },
	{ "chroot", 1, 1, "chroot DIRECTORY", config_do_chroot },
	{ "max-connections", 1, 1, "max-connections N", config_do_max_connections },
	{ "site-max-connections", 1, 1, "site-max-connections N", config_do_site_max_connections },
	{ "queue-timeout", 1, 1, "queue-timeout DURATION", config_do_queue },
	{ "metrics", 1, 1, "metrics ADDRESS:PORT", config_do_metrics },
	{ "check", 0, SIZE_MAX, "check [off] [inter DURATION] [rise N] [fall N] [http-status CODE] "
	  "[http-path PATH] [tls-hello] [ADDRESS:PORT...]", config_do_check },
	{ "allow", 1, SIZE_MAX, "allow CIDR|all [CIDR...]", config_do_acl },
	{ "deny", 1, SIZE_MAX, "deny CIDR|all [CIDR...]", config_do_acl },
	/* before any site: global; in a site: the site's (config_srcaddr.c) */
	{ "source-prefix", 1, 1, "source-prefix IPV6-PREFIX/96|off", config_do_source_prefix },
	/* global and per site (config_limits.c) */
	{ "source-rate", 1, 1, "source-rate N/DURATION", config_do_source },
	/* global only (config_limits.c) */
	{ "source-inspecting", 1, 1, "source-inspecting N", config_do_source },
	{ "source-prefix-v6", 1, 1, "source-prefix-v6 LENGTH", config_do_source },
	{ "source-table", 1, 1, "source-table N", config_do_source },
	/* global and per site (config_limits.c) */
	{ "source-connections", 1, 1, "source-connections N", config_do_source },
	/* before any site; every listen (config_proxy.c) */
	{ "accept-proxy", 1, SIZE_MAX, "accept-proxy CIDR [CIDR...]", config_do_accept_proxy },
	{ "direct-clients", 1, 1, "direct-clients serve|refuse", config_do_direct_clients },
};

const size_t config_n_directives = sizeof(config_directives) / sizeof(config_directives[0]);
