/* SPDX-License-Identifier: MIT */
/*
 * `accept-proxy CIDR...`: the front balancers trusted to send a PROXY v1/v2
 * header (router/proxy_parse.h) on every `listen`. Both daemons read it from
 * their own config: the listener to parse the client behind the header, the
 * forwarder to check the socket's real peer before it believes one
 * (docs/edge-policy.md, "The PROXY header and the forwarder").
 * `direct-clients serve|refuse`: whether any other peer is a client too.
 */
#include <errno.h>
#include <string.h>
#include "router/config.h"
#include "router/config_parser.h"
#include "router/prefixset.h"

int config_do_accept_proxy(struct config_parser *p, const struct config_directive *d,
			   const struct config_tok *arg, size_t n)
{
	if (p->cur != GH_NO_SITE) {
		config_error(p, "'%s' applies to every listen: put it before the first site", d->name);
		return 0;
	}
	/* the list is the allow list of an ACL: a match is a trusted balancer */
	for (size_t i = 0; i < n; i++) {
		char q[QUOTE_BUF], why[PREFIX_ERROR_MAX];
		struct prefix px;

		if (prefix_parse(arg[i].s, arg[i].len, &px, why, sizeof(why)) < 0) {
			config_error(p, "bad prefix '%s' for '%s': %s", Q(q, &arg[i]), d->name, why);
			continue;
		}
		int r = config_acl_add(p, &p->c->accept_proxy, &px, GH_ACL_ALLOW);
		if (r)
			return r < 0 ? r : 0;
	}
	return 0;
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
	if (p->c->refuse_direct && p->c->accept_proxy.n_rules == 0)
		config_error_at(p, p->seen_direct,
				"'direct-clients refuse' without 'accept-proxy' would refuse every client: name the balancers");
}

bool config_proxy_trusted(const struct gh_config *c, int family, const uint8_t *addr)
{
	if (!c->accept_proxy.set)
		return false;
	return prefixset_lookup(c->accept_proxy.set, family, addr) == GH_ACL_ALLOW;
}
