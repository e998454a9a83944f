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
#include "router/config_image.h"
#include "router/config_parser.h"
#include "router/gh_limits.h"
#include "router/http_head.h"
#include "router/routes.h"

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

	for (size_t i = 0; i < config_n_directives; i++)
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

/* Is s in kind k's route table? A site with only tls-alpn servers is
 * routed on TLS too. */
static bool config_site_routed(const struct gh_site *s, enum gh_kind k)
{
	return s->n_servers[k] > 0 || (k == GH_KIND_TLS && s->n_alpn > 0);
}

/* Checks that need the whole file, then the route tables. */
static int config_finish(struct config_parser *p)
{
	static const char *const default_addr[GH_KIND_TCP_COUNT] = {
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
		if (s->n_names > 0 && s->n_servers[GH_KIND_HTTP] + s->n_servers[GH_KIND_TLS] +
		    s->n_servers[GH_KIND_QUIC] + s->n_alpn == 0)
			config_error_at(p, s->line, "site '%s' has no servers (add 'http', 'tls' or 'quic' lines)",
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
	 * units decide). QUIC is opt-in: no `listen quic`, no UDP socket. */
	for (int k = 0; k < GH_KIND_TCP_COUNT; k++) {
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

	/* sites sharing a server must have the same allow/deny list: with no
	 * site having a list of its own they all do, and 100 000 sites skip
	 * sorting 200 000 servers */
	bool site_acl = false;
	for (size_t i = 0; i < c->n_sites && !site_acl; i++)
		site_acl = c->sites[i].acl.n_rules > 0;
	for (int k = 0; k < GH_KIND_COUNT && site_acl; k++) {
		r = config_check_shared(p, (enum gh_kind)k);
		if (r < 0)
			return r;
	}
	config_srcaddr_finish(p);
	config_proxy_finish(p);

	if (p->n_errors)
		return 0;
	r = config_alpn_finish(c);
	if (r < 0)
		return r;
	r = config_check_finish(p);
	if (r < 0 || p->n_errors)
		return r;

	r = config_acl_build(&c->acl);
	if (r == 0)
		r = config_acl_build(&c->accept_proxy);
	for (size_t i = 0; i < c->n_listens && r == 0; i++)
		r = config_acl_build(&c->listens[i].proxy);
	for (size_t i = 0; i < c->n_sites && r == 0; i++)
		r = config_acl_build(&c->sites[i].acl);
	if (r < 0)
		return r;

	/*
	 * The parser's table of every name (p->names: each site's names, in
	 * file order, to its index) is the route table of a kind that every
	 * site is served on: the same keys added in the same order, so the
	 * same slots and the same probes. Such kinds share it instead of
	 * building their own (100 000 sites on every kind: a table of
	 * 200 000 names per kind fewer to build, hold and map). Sharing is by
	 * pointer (routes_free_each, the compiled config's writer).
	 */
	bool every[GH_KIND_COUNT];
	for (int k = 0; k < GH_KIND_COUNT; k++) {
		every[k] = true;
		for (size_t i = 0; i < c->n_sites && every[k]; i++)
			every[k] = config_site_routed(&c->sites[i], (enum gh_kind)k);
	}
	c->site_by_name = routes_new();
	/* every kind served on every site shares the one table */
	struct routes *all = NULL;
	for (int k = 0; k < GH_KIND_COUNT; k++) {
		if (every[k] && !all) {
			all = p->names;
			p->names = NULL;
		}
		c->routes[k] = every[k] ? all : routes_new();
	}
	if (!c->site_by_name || !c->routes[GH_KIND_HTTP] || !c->routes[GH_KIND_TLS] || !c->routes[GH_KIND_QUIC])
		return -ENOMEM;
	for (size_t i = 0; i < c->n_sites; i++) {
		const struct gh_site *s = &c->sites[i];

		r = routes_add(c->site_by_name, s->name, (uint32_t)i, NULL);
		/* names were checked unique while parsing: -EEXIST can't happen */
		if (r < 0)
			return r == -EEXIST ? -EINVAL : r;
		for (int k = 0; k < GH_KIND_COUNT; k++) {
			if (every[k] || !config_site_routed(s, (enum gh_kind)k))
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
	p.c->quic_idle_timeout_ms = 30000;	/* QUIC's usual max_idle_timeout */
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
	if (c->image) {
		config_image_free(c);
		return;
	}
	for (size_t i = 0; i < c->n_sites; i++) {
		struct gh_site *s = &c->sites[i];

		/* s->name is s->names[0], not its own allocation */
		for (size_t j = 0; j < s->n_names; j++)
			free(s->names[j]);
		free(s->names);
		for (int k = 0; k < GH_KIND_COUNT; k++)
			free(s->servers[k]);
		config_alpn_free(s->alpn, s->n_alpn);
		config_acl_free(&s->acl);
	}
	config_check_free(c);
	free(c->sites);
	config_alpn_free(c->alpn, c->n_alpn);
	config_acl_free(&c->acl);
	config_acl_free(&c->accept_proxy);
	for (size_t i = 0; c->listens && i < c->n_listens; i++)
		config_acl_free(&c->listens[i].proxy);
	free(c->listens);
	routes_free_each(c->routes, GH_KIND_COUNT);	/* kinds may share one */
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
