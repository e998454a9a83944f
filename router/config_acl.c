/* SPDX-License-Identifier: MIT */
/*
 * Access lists in the config: the `allow`/`deny` directive, the rule that
 * sites sharing a server share their list, and the built lookup sets
 * (router/prefixset.h). Evaluation order: gatehouse.conf(5) "Access lists".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "router/config.h"
#include "router/config_parser.h"
#include "router/prefixset.h"

/* allow|deny CIDR|all...: before any site the global list, inside a site
 * that site's; rules keep their written order (first match decides) */
static int acl_push(struct gh_acl *acl, const struct prefix *px, uint32_t verdict)
{
	/* capacity: 4, then doubled whenever the count reaches a power of 2 */
	if ((acl->n_rules & (acl->n_rules - 1)) == 0) {
		size_t cap = acl->n_rules < 2 ? 4 : acl->n_rules * 2;
		struct prefixset_entry *r = reallocarray(acl->rules, cap, sizeof(*r));

		if (!r)
			return -ENOMEM;
		acl->rules = r;
	}
	acl->rules[acl->n_rules++] = (struct prefixset_entry){ .prefix = *px, .value = verdict };
	return 0;
}

int config_acl_add(struct config_parser *p, struct gh_acl *acl, const struct prefix *px,
		   uint32_t verdict)
{
	if (acl->n_rules + 1 > CONFIG_MAX_ACL_RULES) {
		config_error(p, "too many %s prefixes in one list (at most %u)",
			     acl == &p->c->accept_proxy ? "accept-proxy" : "allow/deny",
			     CONFIG_MAX_ACL_RULES);
		return 1;
	}
	int r = acl_push(acl, px, verdict);
	if (r < 0)
		return r;
	if (!acl->line)
		acl->line = p->line;
	return 0;
}

int config_do_acl(struct config_parser *p, const struct config_directive *d,
		  const struct config_tok *arg, size_t n)
{
	uint32_t verdict = d->name[0] == 'a' ? GH_ACL_ALLOW : GH_ACL_DENY;
	struct gh_acl *acl = p->cur == GH_NO_SITE ? &p->c->acl : &p->c->sites[p->cur].acl;

	for (size_t i = 0; i < n; i++) {
		char q[QUOTE_BUF], why[PREFIX_ERROR_MAX];
		struct prefix px[2];
		size_t k = 1;
		int r;

		if (tok_is(&arg[i], "all")) {
			px[0] = (struct prefix){ .family = AF_INET, .len = 0 };
			px[1] = (struct prefix){ .family = AF_INET6, .len = 0 };
			k = 2;
		} else if (prefix_parse(arg[i].s, arg[i].len, &px[0], why, sizeof(why)) < 0) {
			config_error(p, "bad prefix '%s' for '%s': %s", Q(q, &arg[i]), d->name, why);
			continue;
		}
		for (size_t j = 0; j < k; j++) {
			r = config_acl_add(p, acl, &px[j], verdict);
			if (r)
				return r < 0 ? r : 0;
		}
	}
	return 0;
}

static bool acl_equal(const struct gh_acl *a, const struct gh_acl *b)
{
	if (a->n_rules != b->n_rules)
		return false;
	for (size_t i = 0; i < a->n_rules; i++) {
		const struct prefixset_entry *x = &a->rules[i], *y = &b->rules[i];

		if (x->value != y->value || x->prefix.family != y->prefix.family ||
		    x->prefix.len != y->prefix.len || memcmp(x->prefix.addr, y->prefix.addr, 16) != 0)
			return false;
	}
	return true;
}

struct server_ref {
	char text[64];	/* the address, an IPv4-mapped one as the IPv4 it is */
	uint32_t site;
};

/* [::ffff:192.0.2.1]:80 dials the same server as 192.0.2.1:80 */
static void server_key(const struct gh_addr *a, char *out, size_t size)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;
	char v4[INET_ADDRSTRLEN];

	if (a->ss.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
	    inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], v4, sizeof(v4))) {
		snprintf(out, size, "%s:%u", v4, ntohs(s6->sin6_port));
		return;
	}
	snprintf(out, size, "%s", a->text);
}

static int server_ref_cmp(const void *a, const void *b)
{
	const struct server_ref *x = a, *y = b;
	int r = strcmp(x->text, y->text);

	if (r)
		return r;
	return x->site < y->site ? -1 : x->site > y->site;
}

/* Sites whose access lists differ must not share a server of a kind: once
 * a connection is handed off the listener sees no more of it, so a client
 * allowed on one site would reach the other through the same backend
 * (a second, pipelined request naming it on :80; another Host inside the
 * TLS session on :443). Sorting the (server, site) pairs finds every
 * shared server in n log n. */
int config_check_shared(struct config_parser *p, enum gh_kind k)
{
	const struct gh_config *c = p->c;
	struct server_ref *refs;
	size_t n = 0;

	for (size_t i = 0; i < c->n_sites; i++)
		n += c->sites[i].n_servers[k];
	if (n < 2)
		return 0;
	refs = calloc(n, sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < c->n_sites; i++)
		for (size_t j = 0; j < c->sites[i].n_servers[k]; j++) {
			server_key(&c->sites[i].servers[k][j], refs[n].text, sizeof(refs[n].text));
			refs[n++].site = (uint32_t)i;
		}
	qsort(refs, n, sizeof(*refs), server_ref_cmp);
	for (size_t i = 0, first = 0; i < n; i++) {
		if (strcmp(refs[i].text, refs[first].text) != 0) {
			first = i;
			continue;
		}
		const struct gh_site *a = &c->sites[refs[first].site], *b = &c->sites[refs[i].site];
		if (acl_equal(&a->acl, &b->acl))
			continue;
		config_error_at(p, b->line,
				"site '%s' shares %s server %s with site '%s' (line %u) but their "
				"allow/deny lists differ: a client allowed on one would reach the other "
				"through that server (%s); give both the same list, or each its own server",
				b->name ? b->name : "(unnamed)", gh_kind_str(k), refs[i].text,
				a->name ? a->name : "(unnamed)", a->line,
				k == GH_KIND_HTTP ? "a pipelined request on the same connection"
						  : "another Host inside the same TLS session");
	}
	free(refs);
	return 0;
}

int config_acl_build(struct gh_acl *acl)
{
	if (acl->n_rules == 0)
		return 0;
	acl->set = prefixset_build(acl->rules, acl->n_rules, PREFIXSET_FIRST_MATCH);
	return acl->set ? 0 : -errno;
}

bool config_acl_allows(const struct gh_acl *acl, int family, const uint8_t *addr)
{
	if (!acl->set)
		return true;
	/* no matching rule lets the client in, as nginx */
	return prefixset_lookup(acl->set, family, addr) != GH_ACL_DENY;
}

void config_acl_free(struct gh_acl *acl)
{
	free(acl->rules);
	prefixset_free(acl->set);
}
