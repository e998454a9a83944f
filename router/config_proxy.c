/* SPDX-License-Identifier: MIT */
/*
 * `accept-proxy CIDR...`: the front balancers trusted to send a PROXY v1/v2
 * header (router/proxy_parse.h) on every `listen`. Both daemons read it from
 * their own config: the listener to parse the client behind the header, the
 * forwarder to check the socket's real peer before it believes one
 * (docs/edge-policy.md, "The PROXY header and the forwarder").
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

bool config_proxy_trusted(const struct gh_config *c, int family, const uint8_t *addr)
{
	if (!c->accept_proxy.set)
		return false;
	return prefixset_lookup(c->accept_proxy.set, family, addr) == GH_ACL_ALLOW;
}
