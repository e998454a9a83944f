/* SPDX-License-Identifier: MIT */
/*
 * `accept-proxy CIDR...`: the front balancers trusted to send a PROXY v1/v2
 * header (router/proxy_parse.h), before any site for every `listen`, or
 * as `listen KIND ADDRESS accept-proxy CIDR...` for that listen alone. Both
 * daemons read them from their own config: the listener to parse the
 * client behind the header, the forwarder to check the socket's real peer
 * before it believes one (docs/edge-policy.md, "The PROXY header and the
 * forwarder"); each finds the listen from the address the connection
 * reached. `direct-clients serve|refuse`: whether any other peer of a
 * listen with balancers is a client too.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include "router/config.h"
#include "router/config_parser.h"
#include "router/prefixset.h"

/* CIDR words into acl as trusted balancers (the allow list of an ACL). */
static int add_balancers(struct config_parser *p, struct gh_acl *acl, const char *what,
			 const struct config_tok *arg, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char q[QUOTE_BUF], why[PREFIX_ERROR_MAX];
		struct prefix px;

		if (prefix_parse(arg[i].s, arg[i].len, &px, why, sizeof(why)) < 0) {
			config_error(p, "bad prefix '%s' for '%s': %s", Q(q, &arg[i]), what, why);
			continue;
		}
		int r = config_acl_add(p, acl, &px, GH_ACL_ALLOW);
		if (r)
			return r < 0 ? r : 0;
	}
	return 0;
}

int config_do_accept_proxy(struct config_parser *p, const struct config_directive *d,
			   const struct config_tok *arg, size_t n)
{
	if (p->cur != GH_NO_SITE) {
		config_error(p, "'%s' applies to every listen: put it before the first site", d->name);
		return 0;
	}
	return add_balancers(p, &p->c->accept_proxy, d->name, arg, n);
}

int config_listen_options(struct config_parser *p, struct gh_listen *l, const struct config_tok *arg,
			  size_t n)
{
	char q[QUOTE_BUF];

	if (!tok_is(&arg[0], "accept-proxy")) {
		config_error(p, "unknown listen option '%s' (accept-proxy CIDR...)", Q(q, &arg[0]));
		return 0;
	}
	if (n < 2) {
		config_error(p, "'listen ... accept-proxy' needs at least one CIDR");
		return 0;
	}
	if (l->kind == GH_KIND_QUIC) {
		/* a PROXY header is a TCP stream's first bytes: QUIC has none */
		config_error(p, "'listen quic' takes no accept-proxy (PROXY headers are for TCP)");
		return 0;
	}
	return add_balancers(p, &l->proxy, "accept-proxy", arg + 1, n - 1);
}

int config_do_direct_clients(struct config_parser *p, const struct config_directive *d,
			     const struct config_tok *arg, size_t n)
{
	char q[QUOTE_BUF];
	bool refuse;

	(void)n;
	if (p->cur != GH_NO_SITE) {
		config_error(p, "'%s' applies to every listen: put it before the first site", d->name);
		return 0;
	}
	if (tok_is(arg, "serve")) {
		refuse = false;
	} else if (tok_is(arg, "refuse")) {
		refuse = true;
	} else {
		config_error(p, "bad %s '%s' (serve or refuse)", d->name, Q(q, arg));
		return 0;
	}
	if (p->seen_direct) {
		config_error(p, "'%s' already set at line %u", d->name, p->seen_direct);
		return 0;
	}
	p->seen_direct = p->line;
	p->c->refuse_direct = refuse;
	return 0;
}

void config_proxy_finish(struct config_parser *p)
{
	const struct gh_config *c = p->c;
	bool any = c->accept_proxy.n_rules > 0;

	for (size_t i = 0; i < c->n_listens; i++)
		p->c->proxy_listen_lists |= c->listens[i].proxy.n_rules > 0;
	any |= c->proxy_listen_lists;
	if (c->refuse_direct && !any)
		config_error_at(p, p->seen_direct,
				"'direct-clients refuse' without 'accept-proxy' would refuse every client: name the balancers");
}

/* addr as the listens hold it: IPv4-mapped taken as IPv4 */
static void local_of(const struct sockaddr *sa, int *family, const uint8_t **addr, uint16_t *port)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	*family = sa->sa_family;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		*addr = (const uint8_t *)&s4->sin_addr;
		*port = ntohs(s4->sin_port);
		return;
	}
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
	*addr = s6->sin6_addr.s6_addr;
	*port = ntohs(s6->sin6_port);
	if (memcmp(*addr, mapped, 12) == 0) {
		*family = AF_INET;
		*addr += 12;
	}
}

const struct gh_listen *config_listen_at(const struct gh_config *c, const struct sockaddr *local)
{
	static const uint8_t zero[16];
	const struct gh_listen *wild = NULL;
	const uint8_t *addr, *la;
	uint16_t port, lport;
	int family, lfamily;

	if (local->sa_family != AF_INET && local->sa_family != AF_INET6)
		return NULL;
	local_of(local, &family, &addr, &port);
	for (size_t i = 0; i < c->n_listens; i++) {
		const struct gh_listen *l = &c->listens[i];

		local_of((const struct sockaddr *)&l->addr.ss, &lfamily, &la, &lport);
		if (lport != port)
			continue;
		size_t al = lfamily == AF_INET ? 4 : 16;
		if (lfamily == family && memcmp(la, addr, al) == 0)
			return l;
		/* [::] (dual stack) takes what 0.0.0.0 does not */
		if (memcmp(la, zero, al) == 0 && (lfamily == family || lfamily == AF_INET6) &&
		    (!wild || lfamily == AF_INET))
			wild = l;
	}
	return wild;
}

bool config_proxy_trusted(const struct gh_config *c, const struct gh_listen *on, int family,
			  const uint8_t *addr)
{
	if (c->accept_proxy.set && prefixset_lookup(c->accept_proxy.set, family, addr) == GH_ACL_ALLOW)
		return true;
	return on && on->proxy.set && prefixset_lookup(on->proxy.set, family, addr) == GH_ACL_ALLOW;
}

bool config_proxy_any(const struct gh_config *c, const struct gh_listen *on)
{
	return c->accept_proxy.set || (on && on->proxy.set);
}

bool config_proxy_refuses(const struct gh_config *c, const struct gh_listen *on)
{
	return c->refuse_direct && config_proxy_any(c, on);
}
