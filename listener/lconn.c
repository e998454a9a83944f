/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/counters.h"
#include "common/log.h"
#include "router/config.h"
#include "router/hostname.h"
#include "router/srclimit.h"
#include "listener/lconn.h"

void lconns_init(struct lconns *t, unsigned max_inspecting)
{
	memset(t, 0, sizeof(*t));
	dlist_init(&t->inspecting);
	t->max_inspecting = max_inspecting;
	t->accept_resume_ms = UINT64_MAX;
	ratelimit_init(&t->rejects, 1000, LCONN_LOG_PER_SEC);
	ratelimit_init(&t->accept_errors, 1000, LCONN_LOG_PER_SEC);
}

int lconn_limits_init(struct lconns *t, const struct gh_config *cfg)
{
	uint8_t key[SIPHASH_KEY_LEN];
	const struct srclimit_config sc = {
		.v4_prefix = 32,
		.v6_prefix = config_source_v6_prefix(cfg),
		.max_concurrent = cfg->src.inspecting,
		.rate = cfg->src.rate,
		.window_ms = cfg->src.window_ms,
	};

	/* the sites' rates: a table of their own, rates only */
	const struct srclimit_config ssc = { .v4_prefix = 32, .v6_prefix = sc.v6_prefix };

	if (!config_source_limits_on(cfg) && !config_site_rates_on(cfg))
		return 0;
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
		int err = errno ? errno : EIO;
		log_msg(LOG_ERR, "getrandom for the per-source table key: %s", strerror(err));
		return -err;
	}
	bool ok = (!config_source_limits_on(cfg) || (t->src = srclimit_new(config_source_slots(cfg), &sc, key))) &&
		  (!config_site_rates_on(cfg) || (t->site_src = srclimit_new(config_source_slots(cfg), &ssc, key)));
	explicit_bzero(key, sizeof(key));
	if (!ok) {
		int err = errno;
		log_msg(LOG_ERR, "per-source table of %u slots: %s", config_source_slots(cfg), strerror(err));
		lconn_limits_free(t);
		return -err;
	}
	if (t->src)
		log_msg(LOG_INFO, "per-source limits: %u slots, %zu bytes", config_source_slots(cfg),
			srclimit_memory(t->src));
	if (t->site_src)
		log_msg(LOG_INFO, "per-site source rates: %u slots, %zu bytes", config_source_slots(cfg),
			srclimit_memory(t->site_src));
	return 0;
}

void lconn_limits_free(struct lconns *t)
{
	srclimit_free(t->src);
	t->src = NULL;
	srclimit_free(t->site_src);
	t->site_src = NULL;
}

/* The source's address bytes; false for a family never accepted. */
bool lconn_peer_addr(const struct sockaddr_in6 *peer, int *family, const uint8_t **addr)
{
	if (peer->sin6_family == AF_INET) {
		*family = AF_INET;
		*addr = (const uint8_t *)&((const struct sockaddr_in *)(const void *)peer)->sin_addr;
		return true;
	}
	if (peer->sin6_family == AF_INET6) {
		*family = AF_INET6;	/* srclimit groups ::ffff:a.b.c.d as IPv4 */
		*addr = peer->sin6_addr.s6_addr;
		return true;
	}
	return false;
}

int lconn_admit(struct lconns *t, const struct sockaddr_in6 *peer, uint64_t now_ms,
		uint32_t *retry_after_s)
{
	const uint8_t *addr;
	int family;

	*retry_after_s = 0;
	if (!t->src)
		return SRCLIMIT_OK;
	if (!lconn_peer_addr(peer, &family, &addr))
		return SRCLIMIT_FULL;
	return (int)srclimit_admit(t->src, family, addr, now_ms, retry_after_s);
}

int lconn_site_rate(struct lconns *t, const struct sockaddr_in6 *peer, uint32_t site, uint32_t rate,
		    uint32_t window_ms, uint64_t now_ms, uint32_t *retry_after_s)
{
	const uint8_t *addr;
	int family;

	*retry_after_s = 0;
	if (!t->site_src || !rate)
		return SRCLIMIT_OK;
	if (!lconn_peer_addr(peer, &family, &addr))
		return SRCLIMIT_FULL;
	return (int)srclimit_take(t->site_src, family, addr, site, rate, window_ms, now_ms, retry_after_s);
}

void lconn_unadmit(struct lconns *t, const struct sockaddr_in6 *peer)
{
	const uint8_t *addr;
	int family;

	if (t->src && lconn_peer_addr(peer, &family, &addr))
		srclimit_release(t->src, family, addr);
}

static void report(struct ratelimit *r, uint64_t now_ms, const char *what)
{
	unsigned n = ratelimit_flush(r, now_ms);
	if (n)
		log_msg(LOG_NOTICE, "%u %s suppressed", n, what);
}

/* a finished window's count goes out before the next window's records */
static bool log_take(struct ratelimit *r, uint64_t now_ms, const char *what)
{
	report(r, now_ms, what);
	return ratelimit_take(r, now_ms);
}

bool lconn_accept_log_take(struct lconns *t, uint64_t now_ms)
{
	return log_take(&t->accept_errors, now_ms, "accept error records");
}

void lconn_log_flush(struct lconns *t, uint64_t now_ms)
{
	report(&t->rejects, now_ms, "rejection records");
	report(&t->accept_errors, now_ms, "accept error records");
}

uint64_t lconn_log_deadline(const struct lconns *t)
{
	uint64_t a = ratelimit_deadline(&t->rejects), b = ratelimit_deadline(&t->accept_errors);
	return a < b ? a : b;
}

struct lconn *lconn_new(struct lconns *t, int fd, unsigned kind, const struct sockaddr_in6 *peer,
			uint64_t accepted_usec, uint64_t deadline_ms)
{
	struct lconn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->type = LOBJ_CONN;
	c->kind = (uint8_t)kind;
	c->fd = fd;
	c->peer = *peer;
	c->listen = LCONN_NO_LISTEN;	/* accept.c names it */
	c->accepted_usec = accepted_usec;
	c->deadline_ms = deadline_ms;
	dlist_append(&t->inspecting, &c->link);
	t->n_inspecting++;
	t->stats.accepted++;
	ctr_add(&gh_ctr->accepted, 1);
	t->stats.active++;
	return c;
}

void lconn_free(struct lconns *t, struct lconn *c)
{
	if (!c)
		return;
	dlist_remove(&c->link);
	if (c->counted)
		lconn_unadmit(t, &c->peer);
	if (c->fd >= 0)
		close(c->fd);	/* also drops it from the epoll set */
	t->n_inspecting--;
	t->stats.active--;
	free(c);
}

int lconn_detach(struct lconns *t, struct lconn *c)
{
	/* still counted in n_inspecting (it bounds the ring too), but no
	 * longer under inspection: its source's slot is free again */
	if (c->counted)
		lconn_unadmit(t, &c->peer);
	counters_inspected(c->accepted_usec, clock_realtime_us());
	int fd = c->fd;
	dlist_remove(&c->link);
	free(c);
	return fd;
}

void lconn_sent(struct lconns *t, unsigned n)
{
	t->stats.handed_off += n;
	ctr_add(&gh_ctr->handed_off, n);
	t->n_inspecting -= n;
	t->stats.active -= n;
}

struct lconn *lconn_first(struct lconns *t)
{
	if (dlist_empty(&t->inspecting))
		return NULL;
	return dlist_entry(t->inspecting.next, struct lconn, link);
}

void lconn_reject_log(struct lconns *t, const struct lconn *c, const char *result,
		      const char *name, const char *detail, int status)
{
	if (strcmp(result, "redirect") != 0)
		t->stats.rejected++;
	counters_answer(result);
	counters_inspected(c->accepted_usec, clock_realtime_us());
	if (!log_take(&t->rejects, clock_now_ms(), "rejection records"))
		return;
	char client[64], esc[4 * HOSTNAME_MAX + 1], st[8], msg[1200];
	log_format_addr((const struct sockaddr *)&c->peer, client, sizeof(client));
	log_escape(name, strlen(name), esc, sizeof(esc));
	snprintf(st, sizeof(st), "%d", status);
	snprintf(msg, sizeof(msg), "%s %s %s %s%s%s", client, gh_kind_str(c->kind),
		 esc[0] ? esc : "-", result, status ? " " : "", status ? st : "");
	struct log_field f[] = {
		{ "GATEHOUSE_CLIENT", client },
		{ "GATEHOUSE_KIND", gh_kind_str(c->kind) },
		{ "GATEHOUSE_NAME", esc },
		{ "GATEHOUSE_RESULT", result },
		{ "GATEHOUSE_DETAIL", detail ? detail : "" },	/* the parser's reason */
		{ "GATEHOUSE_STATUS", st },
	};
	log_record(strcmp(result, "redirect") ? LOG_NOTICE : LOG_INFO, msg, f, status ? 6 : 5);
}

void lconn_pause_accept(struct lconns *t, uint64_t until_ms)
{
	t->accept_resume_ms = until_ms;
}

bool lconn_accept_wanted(const struct lconns *t, bool ring_backed_up, bool draining, uint64_t now_ms)
{
	return !draining && !ring_backed_up && t->n_inspecting < t->max_inspecting &&
	       (t->accept_resume_ms == UINT64_MAX || now_ms >= t->accept_resume_ms);
}
