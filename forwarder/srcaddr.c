/* SPDX-License-Identifier: MIT */
/*
 * Source addresses from a source-prefix (srcaddr.h). The route check runs
 * once, before the sandbox (it needs a UDP socket); a prefix found without
 * its local route stays refused until the forwarder restarts (a reload):
 * connecting from it anyway would send the backend a source whose replies
 * leave this host by its default route, and the client would wait out
 * connect-timeout for nothing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/log.h"
#include "common/ratelimit.h"
#include "forwarder/conn.h"
#include "forwarder/srcaddr.h"
#include "forwarder/state.h"

#define SRCADDR_LOG_PER_SEC 5

static struct ratelimit logged;

static bool may_log(void)
{
	uint64_t now = clock_now_ms();
	unsigned n = ratelimit_flush(&logged, now);

	if (n)
		log_msg(LOG_ERR, "%u source address failures not logged (at most %u a second)", n,
			SRCADDR_LOG_PER_SEC);
	return ratelimit_take(&logged, now);
}

/* The path MTU of the route to a (no packet sent), or -1 with no route. */
static int route_mtu(const struct sockaddr_in6 *a)
{
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), mtu = -1;
	socklen_t l = sizeof(mtu);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0 ||
	    getsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &mtu, &l) < 0)
		mtu = -1;
	close(fd);
	return mtu;
}

/* Does the route to prefix::1 lead to lo, where the AnyIP route puts it?
 * Asked without a packet: under systemd IPAddressDeny=any would drop a
 * test datagram to the prefix (and allowing the prefix would let the
 * forwarder reach every local service bound to [::]). The route's path
 * MTU is its device's: compared with the route to ::1's, which is lo's
 * (65536 unless changed; no Ethernet-like device goes past 65535). */
static bool prefix_local(const uint8_t prefix[12])
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(9) },
			    lo = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT, .sin6_port = htons(9) };
	int lo_mtu = route_mtu(&lo);

	memcpy(a.sin6_addr.s6_addr, prefix, 12);
	a.sin6_addr.s6_addr[15] = 1;
	return lo_mtu > 0 && route_mtu(&a) == lo_mtu;
}

static const char *prefix_text(const uint8_t prefix[12], char *buf)
{
	uint8_t a[16] = { 0 };

	memcpy(a, prefix, 12);
	inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
	return buf;
}

int srcaddr_setup(struct forwarder *f)
{
	const struct gh_config *cfg = f->cfg;

	ratelimit_init(&logged, 1000, SRCADDR_LOG_PER_SEC);
	f->src_unrouted = calloc(cfg->n_sites ? cfg->n_sites : 1, sizeof(bool));
	if (!f->src_unrouted)
		return -ENOMEM;
	/* sites mostly share the global prefix: each distinct one once */
	for (size_t i = 0; i < cfg->n_sites; i++) {
		const struct gh_source_prefix *sp = &cfg->sites[i].source_prefix;
		size_t j;
		char t[INET6_ADDRSTRLEN];

		if (!sp->on)
			continue;
		for (j = 0; j < i; j++)
			if (cfg->sites[j].source_prefix.on && !memcmp(cfg->sites[j].source_prefix.prefix, sp->prefix, 12))
				break;
		if (j < i) {
			f->src_unrouted[i] = f->src_unrouted[j];
			continue;
		}
		f->src_unrouted[i] = !prefix_local(sp->prefix);
		if (f->src_unrouted[i])
			log_msg(LOG_ERR, "source-prefix %s/96 (line %u) is not local to this host: backends' replies "
				"would not come back, so its sites' IPv4 clients get no relay until it is "
				"(ip -6 route add local %s/96 dev lo, then reload)",
				prefix_text(sp->prefix, t), sp->line, t);
	}
	return 0;
}

void srcaddr_free(struct forwarder *f)
{
	free(f->src_unrouted);
	f->src_unrouted = NULL;
}

int srcaddr_bind(struct forwarder *f, const struct fconn *c, int fd)
{
	const struct gh_config *cfg = f->cfg;
	struct sockaddr_in6 a;
	char t[INET6_ADDRSTRLEN];
	int one = 1, err;

	if (!config_source_addr(cfg, c->site, c->client_family, c->client_addr, &a))
		return 0;
	if (f->src_unrouted[c->site]) {
		if (may_log())
			log_msg(LOG_ERR, "no relay from %s for site %s: source-prefix (line %u) has no local "
				"route on this host", inet_ntop(AF_INET6, &a.sin6_addr, t, sizeof(t)),
				cfg->sites[c->site].name, cfg->sites[c->site].source_prefix.line);
		return -EADDRNOTAVAIL;
	}
	/* an IPv6 AnyIP route does not make its addresses bindable
	 * (ipv6_chk_addr looks at interface addresses only): FREEBIND does,
	 * per socket and with no capability */
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one)) == 0 &&
	    bind(fd, (const struct sockaddr *)&a, sizeof(a)) == 0)
		return 0;
	err = errno;
	if (may_log())
		log_msg(LOG_ERR, "bind to source %s for site %s: %s", inet_ntop(AF_INET6, &a.sin6_addr, t, sizeof(t)),
			cfg->sites[c->site].name, strerror(err));
	return -err;
}
