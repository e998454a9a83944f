/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/counters.h"
#include "common/log.h"
#include "router/config.h"
#include "router/hostname.h"
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
	if (c->fd >= 0)
		close(c->fd);	/* also drops it from the epoll set */
	t->n_inspecting--;
	t->stats.active--;
	free(c);
}

int lconn_detach(struct lconns *t, struct lconn *c)
{
	(void)t;	/* still counted: n_inspecting bounds the ring too */
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
