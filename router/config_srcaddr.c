/* SPDX-License-Identifier: MIT */
/*
 * `source-prefix PREFIX/96|off`: backends see IPv4 clients. The forwarder
 * binds each backend connection of an IPv4 client to PREFIX with the
 * client's address as its last 32 bits (RFC 6052's /96 form:
 * 2001:db8:ff::203.0.113.5), so an application that cannot read PROXY
 * headers still logs and limits by client. Before any site it is global;
 * in a site it is the site's own (`off` turns a global one off there).
 * IPv6 clients keep the host's normal source: their own address would need
 * IP_TRANSPARENT and CAP_NET_ADMIN (README, "Client addresses").
 */
#include <arpa/inet.h>
#include <string.h>
#include "router/config.h"
#include "router/config_parser.h"

/* /96s that would not make a source address of this host: why, or NULL */
static const char *prefix_reserved(const uint8_t *a)
{
	static const uint8_t zero[12], mapped[12] = { [10] = 0xff, [11] = 0xff },
			     nat64[12] = { 0x00, 0x64, 0xff, 0x9b };

	if (!memcmp(a, zero, 12))
		return "::/96 holds the unspecified, loopback and IPv4-compatible addresses";
	if (!memcmp(a, mapped, 12))
		return "::ffff:0:0/96 is IPv4-mapped: its addresses are IPv4 sources";
	if (!memcmp(a, nat64, 12))
		return "64:ff9b::/96 is NAT64's well-known prefix: backends route it to a translator; "
		       "use a /96 of your own";
	if (a[0] == 0xff)
		return "a multicast prefix";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "a link-local prefix needs an interface";
	return NULL;
}

int config_do_source_prefix(struct config_parser *p, const struct config_directive *d,
			    const struct config_tok *arg, size_t n)
{
	struct gh_source_prefix *sp, v = { .line = p->line };
	char q[QUOTE_BUF], text[INET6_ADDRSTRLEN + 8];
	const char *slash, *why;
	uint8_t a[16];

	(void)n;
	if (p->cur == GH_NO_SITE)
		sp = &p->c->source_prefix;
	else
		sp = &p->c->sites[p->cur].source_prefix;
	if (sp->line) {
		config_error(p, "'%s' already set at line %u", d->name, sp->line);
		return 0;
	}
	if (tok_is(arg, "off")) {
		*sp = v;
		return 0;
	}
	slash = memchr(arg->s, '/', arg->len);
	if (!slash || (size_t)(slash - arg->s) >= sizeof(text) || arg->len - (size_t)(slash - arg->s) > 4) {
		config_error(p, "bad source-prefix '%s': an IPv6 /96 such as 2001:db8:ff::/96, or off",
			     Q(q, arg));
		return 0;
	}
	memcpy(text, arg->s, (size_t)(slash - arg->s));
	text[slash - arg->s] = '\0';
	if (inet_pton(AF_INET6, text, a) != 1) {
		config_error(p, "bad source-prefix '%s': %s", Q(q, arg),
			     inet_pton(AF_INET, text, a) == 1 ? "it must be IPv6 (an IPv6 /96 holds IPv4 clients)"
							      : "not an IPv6 address before the '/'");
		return 0;
	}
	if (arg->len - (size_t)(slash - arg->s) != 3 || memcmp(slash, "/96", 3) != 0) {
		config_error(p, "bad source-prefix '%s': the length must be /96 (the client's IPv4 address "
			     "fills the last 32 bits)", Q(q, arg));
		return 0;
	}
	if (a[12] | a[13] | a[14] | a[15]) {
		config_error(p, "bad source-prefix '%s': bits set past /96", Q(q, arg));
		return 0;
	}
	why = prefix_reserved(a);
	if (why) {
		config_error(p, "bad source-prefix '%s': %s", Q(q, arg), why);
		return 0;
	}
	memcpy(v.prefix, a, 12);
	v.on = true;
	*sp = v;
	return 0;
}

/* An IPv4 server in list[0..n), or NULL. */
static const struct gh_addr *first_v4(const struct gh_addr *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].ss.ss_family == AF_INET)
			return &list[i];
	return NULL;
}

void config_srcaddr_finish(struct config_parser *p)
{
	struct gh_config *c = p->c;

	for (size_t i = 0; i < c->n_sites; i++) {
		struct gh_site *s = &c->sites[i];
		const struct gh_addr *v4 = NULL;
		const char *what = NULL;

		if (!s->source_prefix.line)
			s->source_prefix = c->source_prefix;
		if (!s->source_prefix.on || !s->name)
			continue;
		/* an IPv4 socket cannot take an IPv6 source: refuse rather than
		 * let some of a site's clients lose what the line promises (TCP only:
		 * QUIC flows keep the host's source) */
		for (int k = 0; k < GH_KIND_TCP_COUNT && !v4; k++)
			if ((v4 = first_v4(s->servers[k], s->n_servers[k])))
				what = gh_kind_str((enum gh_kind)k);
		for (size_t r = 0; r < s->n_alpn && !v4; r++)
			if ((v4 = first_v4(s->alpn[r].servers, s->alpn[r].n_servers)))
				what = "tls-alpn";
		for (size_t r = 0; r < c->n_alpn && !v4; r++)
			if ((v4 = first_v4(c->alpn[r].servers, c->alpn[r].n_servers)))
				what = "global tls-alpn";
		if (v4)
			config_error_at(p, s->source_prefix.line,
					"site '%s' takes its source addresses from this source-prefix, but its %s "
					"server %s is IPv4 (use IPv6 servers, or 'source-prefix off' in the site)",
					s->name, what, v4->text);
	}
}

bool config_source_addr(const struct gh_config *c, uint32_t site, int family,
			const uint8_t *addr, struct sockaddr_in6 *out)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	const struct gh_source_prefix *sp;

	if (site >= c->n_sites)
		return false;
	sp = &c->sites[site].source_prefix;
	if (!sp->on)
		return false;
	if (family == AF_INET6 && !memcmp(addr, mapped, 12))
		addr += 12;	/* a v4-mapped client is the IPv4 client it is */
	else if (family != AF_INET)
		return false;
	*out = (struct sockaddr_in6){ .sin6_family = AF_INET6 };
	memcpy(out->sin6_addr.s6_addr, sp->prefix, 12);
	memcpy(out->sin6_addr.s6_addr + 12, addr, 4);
	return true;
}

bool config_uses_source_prefix(const struct gh_config *c)
{
	for (size_t i = 0; i < c->n_sites; i++)
		if (c->sites[i].source_prefix.on)
			return true;
	return false;
}
