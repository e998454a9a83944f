/* SPDX-License-Identifier: MIT */
/*
 * `check [off] [inter D] [rise N] [fall N] [http-status CODE] [http-path P]
 *        [tls-hello] [ADDRESS:PORT...]`: active health checks (HAProxy's
 * `check inter rise fall`). Before any site it is every site's default;
 * inside a site it is that site's (all its servers), or, with addresses,
 * only those servers of the site. The most specific line wins: a server's
 * own, then its site's, then the global one. At the end of the file the
 * lines become the list of servers a health daemon checks (cfg->checks,
 * each distinct address, kind and options once) and each site's map from
 * its servers to that list, which the forwarders read health state by.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "router/config.h"
#include "router/config_parser.h"
#include "router/siphash.h"

bool config_check_path_ok(const char *s, size_t len, size_t max)
{
	if (len == 0 || len >= max || s[0] != '/')
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* One option and its value (arg[*i], maybe arg[*i + 1]): true if it was
 * one (errors are reported), false if the word is not an option. */
static bool check_option(struct config_parser *p, struct gh_check_rule *r, const struct config_tok *arg,
			 size_t n, size_t *i)
{
	const struct config_tok *w = &arg[*i], *v = *i + 1 < n ? &arg[*i + 1] : NULL;
	char q[QUOTE_BUF];
	uint64_t u;

	if (tok_is(w, "off")) {
		r->off = true;
		return true;
	}
	if (tok_is(w, "tls-hello")) {
		r->opts.tls_hello = true;
		return true;
	}
	if (!tok_is(w, "inter") && !tok_is(w, "rise") && !tok_is(w, "fall") && !tok_is(w, "http-status") &&
	    !tok_is(w, "http-path"))
		return false;
	if (!v) {
		config_error(p, "'check': '%s' needs a value", Q(q, w));
		return true;
	}
	(*i)++;
	if (tok_is(w, "inter")) {
		uint32_t ms;
		const char *why = config_duration(v->s, v->len, &ms);
		if (why)
			config_error(p, "'check': bad duration '%s' for 'inter': %s", Q(q, v), why);
		else if (ms < CONFIG_CHECK_MIN_INTER_MS || ms > CONFIG_CHECK_MAX_INTER_MS)
			config_error(p, "'check': 'inter' must be 100ms to 1h, not '%s'", Q(q, v));
		else
			r->opts.inter_ms = ms;
	} else if (tok_is(w, "rise") || tok_is(w, "fall")) {
		if (!config_uint(v->s, v->len, CONFIG_CHECK_MAX_COUNT, &u) || u == 0 || u > CONFIG_CHECK_MAX_COUNT)
			config_error(p, "'check': '%s' takes 1 to %u, not '%s'", tok_is(w, "rise") ? "rise" : "fall",
				     CONFIG_CHECK_MAX_COUNT, Q(q, v));
		else if (tok_is(w, "rise"))
			r->opts.rise = (uint8_t)u;
		else
			r->opts.fall = (uint8_t)u;
	} else if (tok_is(w, "http-status")) {
		if (!config_uint(v->s, v->len, 599, &u) || u < 100 || u > 599)
			config_error(p, "'check': 'http-status' takes 100 to 599, not '%s'", Q(q, v));
		else
			r->opts.http_status = (uint16_t)u;
	} else {
		if (!config_check_path_ok(v->s, v->len, sizeof(r->opts.http_path)))
			config_error(p, "'check': 'http-path' must start with '/', hold visible ASCII only "
				     "and be under %zu bytes, not '%s'", sizeof(r->opts.http_path), Q(q, v));
		else {
			memcpy(r->opts.http_path, v->s, v->len);
			r->opts.http_path[v->len] = '\0';
		}
	}
	return true;
}

int config_do_check(struct config_parser *p, const struct config_directive *d,
		    const struct config_tok *arg, size_t n)
{
	struct gh_config *c = p->c;
	struct gh_check_rule r = {
		.opts = { .inter_ms = 2000, .rise = 2, .fall = 3, .http_path = "/" },
		.site = p->cur,
		.line = p->line,
	};
	unsigned errors = p->n_errors;
	char q[QUOTE_BUF];

	(void)d;
	size_t opts = 0;
	for (size_t i = 0; i < n; i++) {
		if (check_option(p, &r, arg, n, &i)) {
			opts++;
			continue;
		}
		struct gh_addr a;
		const char *why = config_addr(arg[i].s, arg[i].len, ADDR_DIALABLE, &a);
		if (why) {
			config_error(p, "'check': '%s' is neither an option (off, inter, rise, fall, http-status, "
				     "http-path, tls-hello) nor a server address: %s", Q(q, &arg[i]), why);
			continue;
		}
		if (p->cur == GH_NO_SITE) {
			config_error(p, "'check %s': a server's own check belongs inside its site", a.text);
			continue;
		}
		struct gh_addr *l = reallocarray(r.addrs, r.n_addrs + 1, sizeof(*l));
		if (!l) {
			free(r.addrs);
			return -ENOMEM;
		}
		r.addrs = l;
		r.addrs[r.n_addrs++] = a;
	}
	if (r.off && opts > 1)
		config_error(p, "'check off' takes no options (only server addresses)");
	/* one line for every server of a scope: a second is a leftover */
	for (size_t i = 0; !r.n_addrs && i < c->n_check_rules; i++)
		if (c->check_rules[i].site == r.site && !c->check_rules[i].n_addrs)
			config_error(p, "'check' already set for %s at line %u",
				     r.site == GH_NO_SITE ? "every site" : "this site", c->check_rules[i].line);
	if (p->n_errors != errors) {
		free(r.addrs);
		return 0;
	}
	struct gh_check_rule *l = reallocarray(c->check_rules, c->n_check_rules + 1, sizeof(*l));
	if (!l) {
		free(r.addrs);
		return -ENOMEM;
	}
	c->check_rules = l;
	c->check_rules[c->n_check_rules++] = r;
	return 0;
}

/* The rule for server a of site s: its own, the site's, the global one. */
static const struct gh_check_rule *rule_for(const struct gh_config *c, uint32_t s, const struct gh_addr *a)
{
	const struct gh_check_rule *site = NULL, *global = NULL;

	for (size_t i = 0; i < c->n_check_rules; i++) {
		const struct gh_check_rule *r = &c->check_rules[i];
		if (r->site == GH_NO_SITE) {
			global = r;
			continue;
		}
		if (r->site != s)
			continue;
		if (!r->n_addrs)
			site = r;
		for (size_t j = 0; j < r->n_addrs; j++)
			if (!strcmp(r->addrs[j].text, a->text))
				return r;
	}
	return site ? site : global;
}

static bool same_opts(const struct gh_check *a, const struct gh_check *b)
{
	return a->inter_ms == b->inter_ms && a->rise == b->rise && a->fall == b->fall &&
	       a->tls_hello == b->tls_hello && a->http_status == b->http_status &&
	       !strcmp(a->http_path, b->http_path);
}

static bool same_target(const struct gh_config *c, const struct gh_check_target *t, const struct gh_addr *a,
			enum gh_kind kind, const struct gh_check *o, uint32_t site)
{
	/* a check that sends the site's name is the site's own */
	bool named = o->http_status || o->tls_hello;
	return t->kind == kind && !strcmp(t->addr.text, a->text) && same_opts(&t->opts, o) &&
	       (!named || !strcmp(c->sites[t->site].name, c->sites[site].name));
}

/* The target index for a server (added if new), or GH_NO_CHECK. */
static int target_of(struct config_parser *p, uint32_t s, const struct gh_addr *a, enum gh_kind kind,
		     bool alpn, uint32_t *out)
{
	struct gh_config *c = p->c;
	const struct gh_check_rule *r = rule_for(c, s, a);

	*out = GH_NO_CHECK;
	if (!r || r->off)
		return 0;
	struct gh_check o = r->opts;
	/* what applies to the server's kind; a tls-alpn route's servers (an
	 * ACME responder, say) are checked by a connect only */
	if (kind != GH_KIND_HTTP)
		o.http_status = 0;
	if (kind != GH_KIND_TLS || alpn)
		o.tls_hello = false;
	if (!o.http_status)
		strcpy(o.http_path, "/");
	for (size_t i = 0; i < c->n_checks; i++)
		if (same_target(c, &c->checks[i], a, kind, &o, s)) {
			*out = (uint32_t)i;
			return 0;
		}
	if (c->n_checks == GH_MAX_CHECKS) {
		config_error_at(p, r->line, "more than %u servers to check", GH_MAX_CHECKS);
		return 0;
	}
	struct gh_check_target *l = reallocarray(c->checks, c->n_checks + 1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	c->checks = l;
	l[c->n_checks] = (struct gh_check_target){ .addr = *a, .kind = kind, .opts = o, .site = s };
	*out = (uint32_t)c->n_checks++;
	return 0;
}

static void hash_add(uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (!*buf && *len)
		return;
	if (*len + n > *cap) {
		size_t nc = (*cap ? *cap * 2 : 1024) + n;
		uint8_t *b = realloc(*buf, nc);
		if (!b) {
			free(*buf);
			*buf = NULL;
			return;
		}
		*buf = b;
		*cap = nc;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
}

/* What the checks are, hashed: the page a health daemon writes carries
 * it, and a reader with another list (another config) ignores the page. */
uint64_t config_checks_hash(const struct gh_config *c)
{
	static const uint8_t key[SIPHASH_KEY_LEN] = "gatehouse-health";
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;

	for (size_t i = 0; i < c->n_checks; i++) {
		const struct gh_check_target *t = &c->checks[i];
		const char *host = c->sites[t->site].name;
		uint32_t v[5] = { (uint32_t)t->kind, t->opts.inter_ms, t->opts.rise, t->opts.fall,
				  (uint32_t)t->opts.http_status | (uint32_t)t->opts.tls_hello << 16 };
		hash_add(&buf, &len, &cap, t->addr.text, strlen(t->addr.text) + 1);
		hash_add(&buf, &len, &cap, v, sizeof(v));
		hash_add(&buf, &len, &cap, t->opts.http_path, strlen(t->opts.http_path) + 1);
		hash_add(&buf, &len, &cap, host, strlen(host) + 1);
	}
	uint64_t h = buf || !len ? siphash24(key, buf, len) ^ c->n_checks : 0;
	free(buf);
	return h ? h : 1;
}

/* quic servers are not checked (a TCP connect says nothing of a UDP
 * service): `check ADDR` must name one of the site's TCP servers */
static bool site_has(const struct gh_site *s, const struct gh_addr *a)
{
	for (int k = 0; k < GH_KIND_TCP_COUNT; k++)
		for (size_t i = 0; i < s->n_servers[k]; i++)
			if (!strcmp(s->servers[k][i].text, a->text))
				return true;
	for (size_t r = 0; r < s->n_alpn; r++)
		for (size_t i = 0; i < s->alpn[r].n_servers; i++)
			if (!strcmp(s->alpn[r].servers[i].text, a->text))
				return true;
	return false;
}

int config_check_finish(struct config_parser *p)
{
	struct gh_config *c = p->c;

	for (size_t i = 0; i < c->n_check_rules; i++) {
		const struct gh_check_rule *r = &c->check_rules[i];
		for (size_t j = 0; j < r->n_addrs; j++)
			if (r->site < c->n_sites && !site_has(&c->sites[r->site], &r->addrs[j]))
				config_error_at(p, r->line, "'check %s': not a server of site '%s'", r->addrs[j].text,
						c->sites[r->site].name);
	}
	if (!c->n_check_rules || p->n_errors)
		return 0;
	for (size_t s = 0; s < c->n_sites; s++) {
		struct gh_site *site = &c->sites[s];
		/* TCP kinds only: a quic server keeps check_of NULL (never down) */
		for (int k = 0; k < GH_KIND_TCP_COUNT; k++) {
			size_t all = site->n_servers[k];
			for (size_t r = 0; k == GH_KIND_TLS && r < site->n_alpn; r++)
				all += site->alpn[r].n_servers;
			site->check_of[k] = calloc(all ? all : 1, sizeof(uint32_t));
			if (!site->check_of[k])
				return -ENOMEM;
			size_t o = 0;
			for (size_t i = 0; i < site->n_servers[k]; i++, o++)
				if (target_of(p, (uint32_t)s, &site->servers[k][i], (enum gh_kind)k, false,
					      &site->check_of[k][o]) < 0)
					return -ENOMEM;
			for (size_t r = 0; k == GH_KIND_TLS && r < site->n_alpn; r++)
				for (size_t i = 0; i < site->alpn[r].n_servers; i++, o++)
					if (target_of(p, (uint32_t)s, &site->alpn[r].servers[i], GH_KIND_TLS, true,
						      &site->check_of[k][o]) < 0)
						return -ENOMEM;
		}
	}
	c->checks_id = config_checks_hash(c);
	return 0;
}

void config_check_free(struct gh_config *c)
{
	for (size_t i = 0; i < c->n_check_rules; i++)
		free(c->check_rules[i].addrs);
	free(c->check_rules);
	free(c->checks);
	for (size_t s = 0; s < c->n_sites; s++)
		for (int k = 0; k < GH_KIND_COUNT; k++)
			free(c->sites[s].check_of[k]);
}

uint32_t config_server_check(const struct gh_config *c, uint32_t site, unsigned kind, unsigned alpn_route, size_t i)
{
	if (site >= c->n_sites || kind >= GH_KIND_COUNT)
		return GH_NO_CHECK;
	const struct gh_site *s = &c->sites[site];
	if (!s->check_of[kind])
		return GH_NO_CHECK;
	size_t o = i;
	if (alpn_route) {
		if (kind != GH_KIND_TLS || alpn_route > s->n_alpn || i >= s->alpn[alpn_route - 1].n_servers)
			return GH_NO_CHECK;
		o += s->n_servers[kind];
		for (unsigned r = 1; r < alpn_route; r++)
			o += s->alpn[r - 1].n_servers;
	} else if (i >= s->n_servers[kind]) {
		return GH_NO_CHECK;
	}
	return s->check_of[kind][o];
}

uint32_t config_check_max_inter(const struct gh_config *c)
{
	uint32_t m = 0;

	for (size_t i = 0; i < c->n_checks; i++)
		if (c->checks[i].opts.inter_ms > m)
			m = c->checks[i].opts.inter_ms;
	return m;
}
