/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: config_parse() on the input. The config is trusted (root
 * writes it), but `gatehouse check` must never crash on a bad one, and a
 * config that loads must hold what the listener and forwarder rely on.
 * Also runs the input through config_parse_addr() and
 * config_parse_duration() on their own. A config that loads also compiles
 * into an image (router/config_image.h, what `gatehouse run` hands every
 * daemon) that opens as the same config: the reader's checks refuse
 * nothing the parser accepts.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "router/config.h"
#include "router/config_image.h"
#include "router/routes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count_error(void *userdata, const char *message)
{
	unsigned *n = userdata;

	/* every message carries the "FILE:LINE: " prefix */
	assert(strncmp(message, "fuzz.conf:", 10) == 0);
	(*n)++;
}

/* a site is routed on a kind when it has servers for it (tls-alpn ones
 * count on TLS) */
static bool served(const struct gh_site *s, enum gh_kind k)
{
	return s->n_servers[k] > 0 || (k == GH_KIND_TLS && s->n_alpn > 0);
}

/* tls-alpn routes: valid protocols, servers, no protocol twice, and each
 * picked by an offer of its own protocol unless an earlier one is it */
static void check_alpn(const struct gh_site *s)
{
	assert(s->n_alpn <= 32);
	for (size_t r = 0; r < s->n_alpn; r++) {
		const struct gh_alpn_route *a = &s->alpn[r];
		uint8_t offer[256];

		assert(a->protocol_len >= 1 && strlen(a->protocol) == a->protocol_len);
		assert(a->n_servers >= 1);
		for (size_t j = 0; j < a->n_servers; j++)
			assert(a->servers[j].len > 0);
		for (size_t q = 0; q < r; q++)
			assert(strcmp(s->alpn[q].protocol, a->protocol) != 0);
		offer[0] = a->protocol_len;
		memcpy(offer + 1, a->protocol, a->protocol_len);
		assert(config_alpn_pick(s, offer, 1u + a->protocol_len) == r + 1);
	}
}

static void check_route(const struct gh_config *c, enum gh_kind k, const char *name)
{
	uint32_t site = config_route(c, k, name, strlen(name));

	assert(site == GH_NO_SITE || site < c->n_sites);
	if (site != GH_NO_SITE)
		assert(served(&c->sites[site], k));
}

/* health checks: each server maps to no target or to one with its own
 * address and kind, whose options are in range */
static void check_health(const struct gh_config *c, uint32_t site)
{
	const struct gh_site *s = &c->sites[site];

	assert(c->n_checks <= 4096);
	for (int k = 0; k < GH_KIND_COUNT; k++) {
		for (unsigned r = 0; r <= (k == GH_KIND_TLS ? s->n_alpn : 0); r++) {
			size_t n;
			const struct gh_addr *sv = config_servers(c, site, (unsigned)k, r, &n);
			for (size_t i = 0; i < n; i++) {
				uint32_t t = config_server_check(c, site, (unsigned)k, r, i);
				if (t == GH_NO_CHECK)
					continue;
				assert(t < c->n_checks);
				const struct gh_check_target *ct = &c->checks[t];
				assert(!strcmp(ct->addr.text, sv[i].text) && ct->kind == (enum gh_kind)k);
				assert(ct->opts.inter_ms >= 100 && ct->opts.inter_ms <= 3600000);
				assert(ct->opts.rise >= 1 && ct->opts.rise <= 100 && ct->opts.fall >= 1 && ct->opts.fall <= 100);
				assert(!ct->opts.http_status || (k == GH_KIND_HTTP && ct->opts.http_status >= 100));
				assert(!ct->opts.tls_hello || (k == GH_KIND_TLS && r == 0));
				assert(ct->opts.http_path[0] == '/' && ct->site < c->n_sites);
			}
		}
	}
}

static void check_config(const struct gh_config *c)
{
	bool have[GH_KIND_COUNT] = { false };

	assert(c->inspect_timeout_ms > 0 && c->connect_timeout_ms > 0 && c->idle_timeout_ms > 0 &&
	       c->quic_idle_timeout_ms > 0);
	assert(c->queue_timeout_ms > 0 && c->queue_timeout_ms <= 24u * 3600u * 1000u);
	assert(c->max_connections <= 10000000);
	assert(c->max_head >= 1024 && c->max_head <= 65536);
	assert(c->forwarders <= 64);
	for (size_t i = 0; i < c->n_listens; i++) {
		struct gh_addr a;

		have[c->listens[i].kind] = true;
		assert(config_parse_addr(c->listens[i].addr.text, strlen(c->listens[i].addr.text),
					 &a) == 0);
	}
	assert(have[GH_KIND_HTTP] && have[GH_KIND_TLS]);

	for (int k = 0; k < GH_KIND_COUNT; k++) {
		uint32_t d = c->default_site[k];

		assert(d == GH_NO_SITE || (d < c->n_sites && c->sites[d].n_servers[k] > 0));
	}

	for (size_t i = 0; i < c->n_sites; i++) {
		const struct gh_site *s = &c->sites[i];

		assert(s->n_names >= 1 && s->name == s->names[0]);
		assert(s->n_servers[GH_KIND_HTTP] + s->n_servers[GH_KIND_TLS] + s->n_servers[GH_KIND_QUIC] +
		       s->n_alpn >= 1);
		check_alpn(s);
		check_health(c, (uint32_t)i);
		assert(s->proxy_protocol >= 0 && s->proxy_protocol <= 2);
		assert(s->max_connections <= 10000000);
		assert(config_site_index(c, s->name, strlen(s->name)) == i);
		for (int k = 0; k < GH_KIND_COUNT; k++)
			for (size_t j = 0; j < s->n_servers[k]; j++)
				assert(s->servers[k][j].len > 0);
		for (size_t j = 0; j < s->n_names; j++) {
			const char *n = s->names[j];
			char sub[HOSTNAME_MAX + 8];

			assert(strlen(n) <= HOSTNAME_MAX);
			for (int k = 0; k < GH_KIND_COUNT; k++) {
				check_route(c, k, n);
				if (n[0] == '*') {
					/* "*.x": a name under it routes somewhere valid */
					snprintf(sub, sizeof(sub), "a%s", n + 1);
					check_route(c, k, sub);
					continue;
				}
				/* names are unique: an exact name routes to its own site */
				if (served(s, k))
					assert(config_route(c, k, n, strlen(n)) == i);
			}
		}
	}
}

/* c through its image, and back: opens, holds the same as c */
static void check_image(const struct gh_config *c)
{
	size_t size = config_image_size(c);
	struct gh_config *m = NULL;
	char why[256];
	void *buf;

	assert(size > 0);
	buf = aligned_alloc(8, (size + 7) & ~(size_t)7);
	if (!buf)
		return;
	assert(config_image_write(c, buf, size) == 0);
	int r = config_image_open(buf, size, NULL, &m, why, sizeof(why));
	if (r == -ENOMEM) {
		free(buf);
		return;
	}
	if (r != 0)
		fprintf(stderr, "image refused: %s\n", why);
	assert(r == 0);
	check_config(m);
	assert(m->n_sites == c->n_sites && m->n_listens == c->n_listens);
	assert(m->refuse_direct == c->refuse_direct && m->proxy_listen_lists == c->proxy_listen_lists);
	assert(m->accept_proxy.n_rules == c->accept_proxy.n_rules && m->acl.n_rules == c->acl.n_rules);
	assert(memcmp(&m->src, &c->src, sizeof(m->src)) == 0);
	assert(m->source_prefix.on == c->source_prefix.on);
	assert(m->quic_idle_timeout_ms == c->quic_idle_timeout_ms);
	for (int k = 0; k < GH_KIND_COUNT; k++) {
		assert(m->default_site[k] == c->default_site[k]);
		/* kinds sharing a table share it in the image too; two empty
		 * tables may become one there (the same empty arrays) */
		for (int j = 0; j < k; j++)
			if ((m->routes[j] == m->routes[k]) != (c->routes[j] == c->routes[k]))
				assert(m->routes[j] == m->routes[k] && routes_count(c->routes[j]) == 0 &&
				       routes_count(c->routes[k]) == 0);
	}
	for (size_t i = 0; i < c->n_listens; i++)
		assert(m->listens[i].proxy.n_rules == c->listens[i].proxy.n_rules &&
		       m->listens[i].kind == c->listens[i].kind);
	for (size_t i = 0; i < c->n_sites; i++) {
		const struct gh_site *x = &c->sites[i], *y = &m->sites[i];

		assert(y->source_prefix.on == x->source_prefix.on &&
		       memcmp(y->source_prefix.prefix, x->source_prefix.prefix, sizeof(x->source_prefix.prefix)) == 0);
		assert(y->src_rate == x->src_rate && y->src_window_ms == x->src_window_ms &&
		       y->src_connections == x->src_connections && y->acl.n_rules == x->acl.n_rules);
		for (int k = 0; k < GH_KIND_COUNT; k++)
			assert(y->n_servers[k] == x->n_servers[k]);
	}
	config_free(m);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gh_config *c = NULL;
	unsigned n_errors = 0;
	struct gh_addr a;
	uint32_t ms;
	int r;

	r = config_parse("fuzz.conf", (const char *)data, size, count_error, &n_errors, &c);
	assert(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == 0) {
		assert(n_errors == 0 && c);
		check_config(c);
		check_image(c);
	} else {
		assert(!c);
		if (r == -EINVAL)
			assert(n_errors > 0);
	}
	config_free(c);

	/* the value parsers alone, on the raw bytes */
	if (config_parse_addr((const char *)data, size, &a) == 0) {
		struct gh_addr b;

		assert(config_parse_addr(a.text, strlen(a.text), &b) == 0);
		assert(strcmp(a.text, b.text) == 0 && a.len == b.len);
		assert(memcmp(&a.ss, &b.ss, a.len) == 0);
	}
	if (config_parse_duration((const char *)data, size, &ms) == 0)
		assert(ms > 0 && ms <= 24u * 3600u * 1000u);
	return 0;
}
