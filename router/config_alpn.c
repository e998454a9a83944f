/* SPDX-License-Identifier: MIT */
/*
 * `tls-alpn PROTOCOL ADDRESS:PORT...`: servers for TLS clients offering an
 * ALPN protocol (RFC 7301), tried before a site's `tls` servers; above all
 * acme-tls/1, so RFC 8737 TLS-ALPN-01 validations reach a certificate
 * manager. Inside a site it is the site's; before any site it is global
 * and copied, at the end of the file, into every site served on TLS that
 * has no line of its own for that protocol (after the site's own lines, so
 * written order decides among a site's own routes first).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "router/config.h"
#include "router/config_parser.h"

/* RFC 7301: 1..255 bytes; we take visible ASCII, what every registered
 * protocol id is (a config word holds no space or control byte anyway) */
static const char *alpn_protocol_bad(const struct config_tok *t)
{
	if (t->len == 0 || t->len > 255)
		return "1 to 255 bytes";
	for (size_t i = 0; i < t->len; i++)
		if ((unsigned char)t->s[i] < 0x21 || (unsigned char)t->s[i] > 0x7e)
			return "visible ASCII only";
	return NULL;
}

static void alpn_route_free(struct gh_alpn_route *r)
{
	free(r->servers);
}

void config_alpn_free(struct gh_alpn_route *routes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		alpn_route_free(&routes[i]);
	free(routes);
}

static int alpn_append(struct gh_alpn_route **list, size_t *n, const struct gh_alpn_route *r)
{
	struct gh_alpn_route *l = reallocarray(*list, *n + 1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	*list = l;
	l[(*n)++] = *r;
	return 0;
}

static const struct gh_alpn_route *alpn_find(const struct gh_alpn_route *list, size_t n,
					     const char *proto, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].protocol_len == len && memcmp(list[i].protocol, proto, len) == 0)
			return &list[i];
	return NULL;
}

int config_do_tls_alpn(struct config_parser *p, const struct config_directive *d,
		       const struct config_tok *arg, size_t n)
{
	struct gh_config *c = p->c;
	struct gh_alpn_route **list = &c->alpn, r = { .line = p->line };
	size_t *count = &c->n_alpn;
	const char *scope = "global", *why;
	char q[QUOTE_BUF];

	(void)d;
	if (p->cur != GH_NO_SITE) {
		list = &c->sites[p->cur].alpn;
		count = &c->sites[p->cur].n_alpn;
		scope = c->sites[p->cur].name ? c->sites[p->cur].name : "(unnamed)";
	}
	why = alpn_protocol_bad(&arg[0]);
	if (why) {
		config_error(p, "bad tls-alpn protocol '%s': %s", Q(q, &arg[0]), why);
		return 0;
	}
	const struct gh_alpn_route *o = alpn_find(*list, *count, arg[0].s, arg[0].len);
	if (o) {
		config_error(p, "tls-alpn %s already routed at line %u (%s)", o->protocol, o->line,
			     scope);
		return 0;
	}
	if (*count == CONFIG_MAX_ALPN_ROUTES) {
		config_error(p, "too many tls-alpn lines (%s; at most %u)", scope,
			     CONFIG_MAX_ALPN_ROUTES);
		return 0;
	}
	memcpy(r.protocol, arg[0].s, arg[0].len);
	r.protocol[arg[0].len] = '\0';
	r.protocol_len = (uint8_t)arg[0].len;
	if (n - 1 > CONFIG_MAX_SERVERS) {
		config_error(p, "too many servers for tls-alpn %s (at most %u)", r.protocol,
			     CONFIG_MAX_SERVERS);
		return 0;
	}
	r.servers = calloc(n - 1, sizeof(*r.servers));
	if (!r.servers)
		return -ENOMEM;
	for (size_t i = 1; i < n; i++) {
		struct gh_addr a;
		bool dup = false;

		why = config_addr(arg[i].s, arg[i].len, ADDR_DIALABLE, &a);
		if (why) {
			config_error(p, "bad address '%s': %s", Q(q, &arg[i]), why);
			continue;
		}
		for (size_t k = 0; k < r.n_servers && !dup; k++)
			dup = strcmp(r.servers[k].text, a.text) == 0;
		if (dup) {
			config_error(p, "tls-alpn %s server %s listed twice", r.protocol, a.text);
			continue;
		}
		r.servers[r.n_servers++] = a;
	}
	if (r.n_servers == 0 || alpn_append(list, count, &r) < 0) {
		bool oom = r.n_servers != 0;

		alpn_route_free(&r);
		return oom ? -ENOMEM : 0;
	}
	return 0;
}

/* The global routes into every site served on TLS, each where the site has
 * no line of its own for the protocol. */
int config_alpn_finish(struct gh_config *c)
{
	for (size_t i = 0; i < c->n_sites; i++) {
		struct gh_site *s = &c->sites[i];
		size_t own = s->n_alpn;

		if (s->n_servers[GH_KIND_TLS] == 0 && own == 0)
			continue;
		for (size_t g = 0; g < c->n_alpn; g++) {
			const struct gh_alpn_route *gr = &c->alpn[g];
			struct gh_alpn_route r = *gr;

			if (alpn_find(s->alpn, own, gr->protocol, gr->protocol_len))
				continue;
			r.inherited = true;
			r.servers = reallocarray(NULL, gr->n_servers, sizeof(*r.servers));
			if (!r.servers)
				return -ENOMEM;
			memcpy(r.servers, gr->servers, gr->n_servers * sizeof(*r.servers));
			if (alpn_append(&s->alpn, &s->n_alpn, &r) < 0) {
				free(r.servers);
				return -ENOMEM;
			}
		}
	}
	return 0;
}

unsigned config_alpn_pick(const struct gh_site *s, const uint8_t *offered, size_t len)
{
	for (size_t r = 0; r < s->n_alpn; r++) {
		const struct gh_alpn_route *a = &s->alpn[r];

		for (size_t i = 0; i < len; i += 1u + offered[i])
			if (offered[i] == a->protocol_len && i + 1u + offered[i] <= len &&
			    memcmp(offered + i + 1, a->protocol, a->protocol_len) == 0)
				return (unsigned)r + 1;
	}
	return 0;
}

const struct gh_addr *config_servers(const struct gh_config *c, uint32_t site, unsigned kind,
				     unsigned alpn_route, size_t *n)
{
	const struct gh_site *s = &c->sites[site];

	if (alpn_route == 0) {
		*n = s->n_servers[kind];
		return s->servers[kind];
	}
	*n = s->alpn[alpn_route - 1].n_servers;
	return s->alpn[alpn_route - 1].servers;
}

bool config_alpn_route_ok(const struct gh_config *c, uint32_t site, unsigned kind,
			  unsigned alpn_route)
{
	if (site >= c->n_sites)
		return false;
	if (alpn_route == 0)
		return true;
	return kind == GH_KIND_TLS && alpn_route <= c->sites[site].n_alpn;
}
