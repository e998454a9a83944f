/* SPDX-License-Identifier: MIT */
/*
 * Birth, end and log record of a connection (conn.h). Both fds of a relay
 * can be in one epoll batch: an ended connection stays parked until the
 * batch is over, so a later event of the same batch finds FS_DEAD instead
 * of freed or reused memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "common/clock.h"
#include "common/counters.h"
#include "common/log.h"
#include "forwarder/conn.h"
#include "router/config.h"

void conn_setup(struct fconns *cs, const struct gh_config *cfg)
{
	memset(cs, 0, sizeof(*cs));
	cs->cfg = cfg;
	dlist_init(&cs->ended);
	dlist_init(&cs->parked);
	dlist_init(&cs->free);
}

static struct fconn *alloc(struct fconns *cs)
{
	struct fconn *c;
	if (!dlist_empty(&cs->free)) {
		c = dlist_entry(cs->free.next, struct fconn, link);
		dlist_remove(&c->link);
		uint16_t gen = c->gen;
		memset(c, 0, sizeof(*c));
		c->gen = gen;
		return c;
	}
	c = calloc(1, sizeof(*c));
	/* the tag keeps 48 bits of address: true of every x86-64/arm64
	 * user pointer unless 5-level paging addresses were asked for */
	if (c && ((uintptr_t)c & ~FTAG_PTR_MASK)) {
		free(c);
		return NULL;
	}
	return c;
}

struct fconn *conn_new(struct fconns *cs, int cfd, const char *name)
{
	size_t nl = strlen(name);
	char *copy = nl ? malloc(nl + 1) : NULL;
	struct fconn *c = (!nl || copy) ? alloc(cs) : NULL;
	if (!c) {
		free(copy);
		return NULL;
	}
	if (copy)
		memcpy(copy, name, nl + 1);
	c->name = copy;
	c->cfd = cfd;
	c->sfd = -1;
	pump_dir_init(&c->up);
	pump_dir_init(&c->down);
	c->start_ms = clock_now_ms();
	cs->n++;
	counters_conn_new();
	return c;
}

static void log_end(const struct fconns *cs, const struct fconn *c, const char *result)
{
	char client[64], server[64], in[24], out[24], dur[24], esc[4 * HOSTNAME_MAX + 1], msg[1600];
	char a[INET6_ADDRSTRLEN];
	const struct gh_site *s = &cs->cfg->sites[c->site];
	size_t ns;
	const struct gh_addr *sv = config_servers(cs->cfg, c->site, c->kind, c->alpn_route, &ns);

	inet_ntop(c->client_family, c->client_addr, a, sizeof(a));
	snprintf(client, sizeof(client), c->client_family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, c->client_port);
	snprintf(server, sizeof(server), "%s",
		 c->tries ? sv[c->server].text : "-");
	snprintf(in, sizeof(in), "%llu", (unsigned long long)c->up.bytes);
	snprintf(out, sizeof(out), "%llu", (unsigned long long)c->down.bytes);
	/* from our own intake: a hostile listener's timestamp must not
	 * reach the journal as a duration */
	uint64_t now = clock_now_ms();
	snprintf(dur, sizeof(dur), "%llu", (unsigned long long)(now > c->start_ms ? now - c->start_ms : 0));
	const char *name = c->name ? c->name : "";
	log_escape(name, strlen(name), esc, sizeof(esc));
	snprintf(msg, sizeof(msg), "%s %s %s -> %s %s in=%s out=%s ms=%s %s", client, gh_kind_str(c->kind),
		 esc[0] ? esc : "-", s->name, server, in, out, dur, result);
	struct log_field fl[] = {
		{ "GATEHOUSE_CLIENT", client },
		{ "GATEHOUSE_KIND", gh_kind_str(c->kind) },
		{ "GATEHOUSE_NAME", esc },
		{ "GATEHOUSE_SITE", s->name },
		{ "GATEHOUSE_SERVER", server },
		{ "GATEHOUSE_BYTES_IN", in },
		{ "GATEHOUSE_BYTES_OUT", out },
		{ "GATEHOUSE_DURATION_MS", dur },
		{ "GATEHOUSE_RESULT", result },
	};
	log_record(strcmp(result, "ok") ? LOG_WARNING : LOG_INFO, msg, fl, sizeof(fl) / sizeof(fl[0]));
}

void conn_end(struct fconns *cs, struct fconn *c, const char *result)
{
	if (c->state == FS_DEAD)
		return;
	log_end(cs, c, result);
	counters_conn_end(c->site, c->kind, result, c->up.bytes, c->down.bytes);
	dlist_remove(&c->link);
	/* No EPOLL_CTL_DEL: a registration the listener's copy of the
	 * socket keeps alive is disarmed by the generation in its tag. */
	if (c->cfd >= 0)
		close(c->cfd);
	if (c->sfd >= 0)
		close(c->sfd);
	c->cfd = c->sfd = -1;
	c->state = FS_DEAD;
	dlist_append(&cs->ended, &c->link);
	cs->n--;
}

struct fconn *conn_next_ended(struct fconns *cs)
{
	if (dlist_empty(&cs->ended))
		return NULL;
	struct fconn *c = dlist_entry(cs->ended.next, struct fconn, link);
	dlist_remove(&c->link);
	dlist_append(&cs->parked, &c->link);
	return c;
}

void conn_recycle(struct fconns *cs)
{
	while (!dlist_empty(&cs->parked)) {
		struct fconn *c = dlist_entry(cs->parked.next, struct fconn, link);
		dlist_remove(&c->link);
		free(c->name);
		c->name = NULL;
		c->gen++;	/* old tags now name a generation that is gone */
		dlist_append(&cs->free, &c->link);
	}
}

void conn_teardown(struct fconns *cs)
{
	while (!dlist_empty(&cs->free)) {
		struct fconn *c = dlist_entry(cs->free.next, struct fconn, link);
		dlist_remove(&c->link);
		free(c);
	}
}
