/* SPDX-License-Identifier: MIT */
/*
 * The compiled config (router/config_image.h, common/config_load.c): an
 * image reads back as the config it was built from, with the same route
 * lookups and probe counts; a truncated or corrupt one is refused with a
 * reason (or, where a changed byte still makes a valid image, read without
 * any access outside it: run under ASan too); the memfd carrying it is
 * sealed, and nothing else is accepted as an image.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "common/config_load.h"
#include "router/config.h"
#include "router/config_image.h"
#include "router/config_image_format.h"
#include "router/config_parser.h"
#include "router/prefixset.h"
#include "router/routes.h"
#include "suites.h"

/* Every directive that reaches a daemon's struct at least once. */
static const char rich[] =
	"inspect-timeout 3s\n"
	"connect-timeout 2s\n"
	"idle-timeout 40s\n"
	"quic-idle-timeout 20s\n"
	"http-mode redirect-https\n"
	"listen http [::1]:8080\n"
	"listen tls [::1]:8443 accept-proxy 192.0.2.50/32 2001:db8:50::/48\n"
	"listen tls 127.0.0.1:8444\n"
	"listen quic [::1]:8453\n"
	"forwarders 3\n"
	"max-head-size 8k\n"
	"max-connections 5000\n"
	"queue-timeout 1s\n"
	"user gh-test\n"
	"chroot /var/empty\n"
	"metrics [::1]:9469\n"
	"tls-alpn acme-tls/1 [::1]:9443\n"
	"deny 198.51.100.0/24 2001:db8:bad::/48\n"
	"source-prefix 2001:db8:ff::/96\n"
	"source-rate 100/1s\n"
	"source-inspecting 64\n"
	"source-prefix-v6 56\n"
	"source-table 32768\n"
	"source-connections 50\n"
	"accept-proxy 10.0.0.0/8 2001:db8:1b::/48\n"
	"direct-clients refuse\n"
	"check inter 1s rise 3 fall 2\n"
	"site a.example www.a.example *.a.example\n"
	"    http [2001:db8::a]:80\n"
	"    tls [2001:db8::a]:443 [2001:db8::a2]:443\n"
	"    quic [2001:db8::a]:443 [2001:db8::a3]:443\n"
	"    proxy-protocol v2\n"
	"    site-max-connections 7\n"
	"    source-connections 5\n"
	"    source-rate 10/2s\n"
	"    check http-status 204 http-path /healthz tls-hello\n"
	"    check off [2001:db8::a2]:443\n"
	"site b.example\n"
	"    tls 192.0.2.7:443\n"
	"    quic 192.0.2.7:443\n"
	"    source-prefix off\n"
	"    tls-alpn h2 [2001:db8::b2]:443\n"
	"    check inter 500ms [2001:db8::b2]:443\n"
	"    allow 192.0.2.0/24\n"
	"    deny all\n"
	"site c.example *.deep.c.example\n"
	"    http [2001:db8::c]:80\n"
	"    proxy-protocol v1\n"
	"    source-prefix 2001:db8:ee::/96\n"
	"default http c.example\n"
	"default tls a.example\n"
	"default quic b.example\n";

static void no_errors(void *userdata, const char *message)
{
	(void)userdata;
	ck_abort_msg("config error: %s", message);
}

static struct gh_config *parse_rich(void)
{
	struct gh_config *c = NULL;

	ck_assert_int_eq(config_parse("rich.conf", rich, sizeof(rich) - 1, no_errors, NULL, &c), 0);
	return c;
}

/* An 8-byte aligned image of c; *size its length. */
static void *image_of(const struct gh_config *c, size_t *size)
{
	void *buf;

	*size = config_image_size(c);
	ck_assert_uint_gt(*size, 0);
	buf = aligned_alloc(8, (*size + 7) & ~(size_t)7);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(config_image_write(c, buf, *size), 0);
	return buf;
}

static const char *const probes_names[] = {
	"a.example", "www.a.example", "x.a.example", "x.y.a.example", "b.example", "c.example",
	"deep.c.example", "q.deep.c.example", "r.q.deep.c.example", "nope.example", "example", "a",
};

/* Same answers and the same probes from both configs, every name. */
static void same_routes(const struct gh_config *x, const struct gh_config *y)
{
	for (size_t i = 0; i < sizeof(probes_names) / sizeof(*probes_names); i++) {
		const char *n = probes_names[i];
		size_t len = strlen(n);

		for (int k = 0; k < GH_KIND_COUNT; k++) {
			uint32_t sx = 0, sy = 0;
			size_t px = 0, py = 0;
			int rx = routes_lookup_probes(x->routes[k], n, len, &sx, &px);
			int ry = routes_lookup_probes(y->routes[k], n, len, &sy, &py);

			ck_assert_int_eq(rx, ry);
			if (rx == 0)
				ck_assert_uint_eq(sx, sy);
			ck_assert_uint_eq(px, py);
			ck_assert_uint_eq(config_route(x, (enum gh_kind)k, n, len),
					  config_route(y, (enum gh_kind)k, n, len));
		}
		ck_assert_uint_eq(config_site_index(x, n, len), config_site_index(y, n, len));
	}
}

static void same_acl(const struct gh_acl *x, const struct gh_acl *y)
{
	static const uint8_t v4[][4] = { { 192, 0, 2, 1 }, { 198, 51, 100, 9 }, { 203, 0, 113, 1 } };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x0b, 0xad };

	ck_assert_uint_eq(x->n_rules, y->n_rules);
	ck_assert_uint_eq(x->line, y->line);
	if (x->n_rules)
		ck_assert_mem_eq(x->rules, y->rules, x->n_rules * sizeof(*x->rules));
	for (size_t i = 0; i < 3; i++)
		ck_assert_int_eq(config_acl_allows(x, AF_INET, v4[i]), config_acl_allows(y, AF_INET, v4[i]));
	ck_assert_int_eq(config_acl_allows(x, AF_INET6, v6), config_acl_allows(y, AF_INET6, v6));
}

/* A site's or the global source-prefix, and the source a backend
 * connection of each kind of client takes from it. */
static void same_prefix(const struct gh_config *x, const struct gh_config *y, uint32_t site,
			const struct gh_source_prefix *px, const struct gh_source_prefix *py)
{
	static const uint8_t v4[4] = { 203, 0, 113, 5 }, v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 9 };
	struct sockaddr_in6 ax, ay;

	ck_assert_int_eq(px->on, py->on);
	ck_assert_uint_eq(px->line, py->line);
	ck_assert_mem_eq(px->prefix, py->prefix, sizeof(px->prefix));
	if (site == GH_NO_SITE)
		return;
	memset(&ax, 0, sizeof(ax));
	memset(&ay, 0, sizeof(ay));
	ck_assert_int_eq(config_source_addr(x, site, AF_INET, v4, &ax), config_source_addr(y, site, AF_INET, v4, &ay));
	ck_assert_mem_eq(&ax, &ay, sizeof(ax));
	ck_assert_int_eq(config_source_addr(x, site, AF_INET6, v6, &ax), false);
	ck_assert_int_eq(config_source_addr(y, site, AF_INET6, v6, &ay), false);
}

/* Which peers each daemon takes for a balancer on each listen (and off
 * any listen), and whether it refuses the rest there. */
static void same_proxy(const struct gh_config *x, const struct gh_config *y)
{
	static const uint8_t v4[][4] = { { 10, 1, 2, 3 }, { 192, 0, 2, 50 }, { 192, 0, 2, 51 } };
	static const uint8_t v6[][16] = { { 0x20, 0x01, 0x0d, 0xb8, 0, 0x1b, 1 }, { 0x20, 0x01, 0x0d, 0xb8, 0, 0x50, 2 },
					  { 0x20, 0x01, 0x0d, 0xb8, 0, 0x51 } };

	ck_assert_int_eq(x->refuse_direct, y->refuse_direct);
	ck_assert_int_eq(x->proxy_listen_lists, y->proxy_listen_lists);
	same_acl(&x->accept_proxy, &y->accept_proxy);
	ck_assert_uint_eq(x->n_listens, y->n_listens);
	for (size_t l = 0; l <= x->n_listens; l++) {
		const struct gh_listen *lx = l < x->n_listens ? &x->listens[l] : NULL;
		const struct gh_listen *ly = l < y->n_listens ? &y->listens[l] : NULL;

		if (lx) {
			ck_assert_int_eq(lx->kind, ly->kind);
			ck_assert_mem_eq(&lx->addr, &ly->addr, sizeof(lx->addr));
			ck_assert_uint_eq(lx->line, ly->line);
			same_acl(&lx->proxy, &ly->proxy);
			/* each daemon finds the same listen from the address reached
			 * (a TCP connection's: not a quic one) */
			ck_assert_ptr_eq(config_listen_at(y, (const struct sockaddr *)&lx->addr.ss),
					 lx->kind == GH_KIND_QUIC ? NULL : ly);
		}
		ck_assert_int_eq(config_proxy_any(x, lx), config_proxy_any(y, ly));
		ck_assert_int_eq(config_proxy_refuses(x, lx), config_proxy_refuses(y, ly));
		for (size_t i = 0; i < 3; i++) {
			ck_assert_int_eq(config_proxy_trusted(x, lx, AF_INET, v4[i]),
					 config_proxy_trusted(y, ly, AF_INET, v4[i]));
			ck_assert_int_eq(config_proxy_trusted(x, lx, AF_INET6, v6[i]),
					 config_proxy_trusted(y, ly, AF_INET6, v6[i]));
		}
	}
}

/* Health checks: the same targets, the same id, and config_server_check
 * the same for every (site, kind, route, server), one past each end too;
 * the `check` lines themselves stay behind (parse-time only). */
static void same_checks(const struct gh_config *x, const struct gh_config *y)
{
	ck_assert_uint_eq(y->n_checks, x->n_checks);
	ck_assert_uint_eq(y->checks_id, x->checks_id);
	ck_assert_uint_eq(config_check_max_inter(y), config_check_max_inter(x));
	ck_assert_ptr_null(y->check_rules);
	ck_assert_uint_eq(y->n_check_rules, 0);
	for (size_t i = 0; i < x->n_checks; i++) {
		const struct gh_check_target *a = &x->checks[i], *b = &y->checks[i];

		ck_assert_mem_eq(&b->addr, &a->addr, sizeof(a->addr));
		ck_assert_int_eq(b->kind, a->kind);
		ck_assert_uint_eq(b->site, a->site);
		ck_assert_uint_eq(b->opts.inter_ms, a->opts.inter_ms);
		ck_assert_uint_eq(b->opts.rise, a->opts.rise);
		ck_assert_uint_eq(b->opts.fall, a->opts.fall);
		ck_assert_int_eq(b->opts.tls_hello, a->opts.tls_hello);
		ck_assert_uint_eq(b->opts.http_status, a->opts.http_status);
		ck_assert_str_eq(b->opts.http_path, a->opts.http_path);
	}
	ck_assert_uint_eq(y->n_sites, x->n_sites);
	for (uint32_t s = 0; s < x->n_sites; s++)
		for (unsigned k = 0; k < GH_KIND_COUNT; k++) {
			ck_assert_int_eq(!y->sites[s].check_of[k], !x->sites[s].check_of[k]);
			for (unsigned r = 0; r <= x->sites[s].n_alpn + 1; r++) {
				size_t n = 0;

				if (config_alpn_route_ok(x, s, k, r))
					config_servers(x, s, k, r, &n);
				for (size_t i = 0; i <= n; i++)
					ck_assert_msg(config_server_check(y, s, k, r, i) ==
							      config_server_check(x, s, k, r, i),
						      "site %u %s route %u server %zu", s, gh_kind_str((enum gh_kind)k), r, i);
			}
		}
}

static void same_alpn(const struct gh_alpn_route *x, size_t nx, const struct gh_alpn_route *y, size_t ny)
{
	ck_assert_uint_eq(nx, ny);
	for (size_t r = 0; r < nx; r++) {
		ck_assert_str_eq(x[r].protocol, y[r].protocol);
		ck_assert_uint_eq(x[r].protocol_len, y[r].protocol_len);
		ck_assert_int_eq(x[r].inherited, y[r].inherited);
		ck_assert_uint_eq(x[r].line, y[r].line);
		ck_assert_uint_eq(x[r].n_servers, y[r].n_servers);
		ck_assert_mem_eq(x[r].servers, y[r].servers, x[r].n_servers * sizeof(*x[r].servers));
	}
}

/* Every field a daemon reads, the parsed config against the image's. */
START_TEST(test_round_trip)
{
	struct gh_config *c = parse_rich(), *m = NULL, *copy = parse_rich();
	char why[256] = "";
	size_t size;
	void *img = image_of(c, &size);

	ck_assert_int_eq(config_image_open(img, size, NULL, &m, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "");
	/* the image stands alone: the config it came from is gone */
	config_free(c);
	c = copy;
	ck_assert_uint_eq(m->inspect_timeout_ms, c->inspect_timeout_ms);
	ck_assert_uint_eq(m->connect_timeout_ms, c->connect_timeout_ms);
	ck_assert_uint_eq(m->idle_timeout_ms, c->idle_timeout_ms);
	ck_assert_uint_eq(m->quic_idle_timeout_ms, 20000);
	ck_assert_int_eq(m->http_mode, GH_HTTP_REDIRECT_HTTPS);
	ck_assert_uint_eq(m->forwarders, 3);
	ck_assert_uint_eq(m->max_head, 8192);
	ck_assert_uint_eq(m->max_connections, 5000);
	ck_assert_uint_eq(m->queue_timeout_ms, 1000);
	ck_assert_str_eq(m->user, "gh-test");
	ck_assert_str_eq(m->chroot_dir, "/var/empty");
	ck_assert_mem_eq(&m->metrics, &c->metrics, sizeof(m->metrics));
	for (int k = 0; k < GH_KIND_COUNT; k++)
		ck_assert_uint_eq(m->default_site[k], c->default_site[k]);
	ck_assert_uint_eq(m->n_listens, 4);
	same_proxy(c, m);
	same_acl(&m->acl, &c->acl);
	same_prefix(c, m, GH_NO_SITE, &c->source_prefix, &m->source_prefix);
	ck_assert_mem_eq(&m->src, &c->src, sizeof(m->src));
	ck_assert_int_eq(config_source_limits_on(m), config_source_limits_on(c));
	ck_assert_uint_eq(config_source_slots(m), config_source_slots(c));
	ck_assert_uint_eq(config_source_v6_prefix(m), config_source_v6_prefix(c));
	ck_assert_int_eq(config_source_connections_on(m), config_source_connections_on(c));
	ck_assert_int_eq(config_site_rates_on(m), config_site_rates_on(c));
	same_alpn(m->alpn, m->n_alpn, c->alpn, c->n_alpn);
	ck_assert_uint_eq(m->n_sites, c->n_sites);
	for (size_t i = 0; i < c->n_sites; i++) {
		const struct gh_site *x = &c->sites[i], *y = &m->sites[i];

		ck_assert_str_eq(y->name, x->name);
		ck_assert_uint_eq(y->n_names, x->n_names);
		for (size_t j = 0; j < x->n_names; j++)
			ck_assert_str_eq(y->names[j], x->names[j]);
		for (int k = 0; k < GH_KIND_COUNT; k++) {
			ck_assert_uint_eq(y->n_servers[k], x->n_servers[k]);
			if (x->n_servers[k])
				ck_assert_mem_eq(y->servers[k], x->servers[k], x->n_servers[k] * sizeof(struct gh_addr));
		}
		ck_assert_int_eq(y->proxy_protocol, x->proxy_protocol);
		ck_assert_uint_eq(y->max_connections, x->max_connections);
		ck_assert_uint_eq(y->line, x->line);
		same_alpn(y->alpn, y->n_alpn, x->alpn, x->n_alpn);
		same_acl(&y->acl, &x->acl);
		same_prefix(c, m, (uint32_t)i, &x->source_prefix, &y->source_prefix);
		ck_assert_uint_eq(y->src_connections, x->src_connections);
		ck_assert_uint_eq(y->line_src_connections, x->line_src_connections);
		ck_assert_uint_eq(y->src_rate, x->src_rate);
		ck_assert_uint_eq(y->src_window_ms, x->src_window_ms);
		ck_assert_uint_eq(y->line_src_rate, x->line_src_rate);
	}
	/* the config has each of them set, so none compares 0 with 0 */
	ck_assert_int_eq(m->refuse_direct, true);
	ck_assert_int_eq(m->proxy_listen_lists, true);
	ck_assert_uint_eq(m->accept_proxy.n_rules, 2);
	ck_assert_uint_eq(m->listens[1].proxy.n_rules, 2);
	ck_assert_uint_eq(m->listens[0].proxy.n_rules, 0);
	ck_assert_int_eq(m->source_prefix.on, true);
	ck_assert_uint_eq(m->src.rate, 100);
	ck_assert_uint_eq(m->src.window_ms, 1000);
	ck_assert_uint_eq(m->src.inspecting, 64);
	ck_assert_uint_eq(m->src.v6_prefix, 56);
	ck_assert_uint_eq(m->src.slots, 32768);
	ck_assert_uint_eq(m->src.connections, 50);
	ck_assert_uint_ne(m->src.line_rate * m->src.line_inspecting * m->src.line_prefix * m->src.line_table *
				  m->src.line_connections, 0);
	ck_assert_int_eq(m->sites[0].source_prefix.on, true);		/* the global one */
	ck_assert_int_eq(m->sites[1].source_prefix.on, false);		/* off */
	ck_assert_uint_ne(m->sites[1].source_prefix.line, 0);
	ck_assert_int_eq(m->sites[2].source_prefix.prefix[5], 0xee);	/* its own */
	ck_assert_uint_eq(m->sites[0].src_connections, 5);
	ck_assert_uint_eq(m->sites[0].src_rate, 10);
	ck_assert_uint_eq(m->sites[0].src_window_ms, 2000);
	ck_assert_uint_eq(m->sites[1].src_rate, 0);
	ck_assert_uint_eq(m->sites[0].max_connections, 7);
	ck_assert_uint_eq(m->sites[1].n_alpn, 2);	/* its own h2, the global acme-tls/1 */
	ck_assert_uint_eq(m->sites[1].servers[GH_KIND_TLS][0].ss.ss_family, AF_INET);
	/* QUIC: its listen, servers, default and route table of its own */
	ck_assert_int_eq(m->listens[3].kind, GH_KIND_QUIC);
	ck_assert_uint_eq(m->default_site[GH_KIND_QUIC], 1);
	ck_assert_uint_eq(m->default_site[GH_KIND_TLS], 0);
	ck_assert_uint_eq(m->sites[0].n_servers[GH_KIND_QUIC], 2);
	ck_assert_str_eq(m->sites[0].servers[GH_KIND_QUIC][1].text, "[2001:db8::a3]:443");
	ck_assert_uint_eq(m->sites[2].n_servers[GH_KIND_QUIC], 0);
	ck_assert_uint_eq(config_route(m, GH_KIND_QUIC, "x.a.example", 11), 0);
	ck_assert_uint_eq(config_route(m, GH_KIND_QUIC, "b.example", 9), 1);
	/* not in the table: the default quic site takes it */
	uint32_t none;
	ck_assert_int_lt(routes_lookup(m->routes[GH_KIND_QUIC], "c.example", 9, &none), 0);
	ck_assert_uint_eq(config_route(m, GH_KIND_QUIC, "c.example", 9), 1);
	same_routes(c, m);
	same_checks(c, m);
	ck_assert_uint_gt(m->n_checks, 0);
	/* a's tls server 2 is `check off`; b's h2 route server its own inter */
	ck_assert_uint_eq(config_server_check(m, 0, GH_KIND_TLS, 0, 1), GH_NO_CHECK);
	ck_assert_uint_eq(m->checks[config_server_check(m, 1, GH_KIND_TLS, 1, 0)].opts.inter_ms, 500);
	config_free(m);
	config_free(c);
	free(img);
}
END_TEST

/* Every site on TLS (one by tls-alpn only), not every one on HTTP: TLS
 * takes the parser's table of all names, HTTP gets its own, and the image
 * keeps them apart; every name routes the same from it. */
START_TEST(test_round_trip_one_kind_shared)
{
	static const char text[] =
		"site t1.example *.t1.example\n tls [2001:db8::1]:443\n http [2001:db8::1]:80\n"
		"site t2.example\n tls [2001:db8::2]:443\n"
		"site t3.example\n tls-alpn acme-tls/1 [2001:db8::3]:443\n";
	struct gh_config *c = NULL, *m = NULL;
	char why[256];
	size_t size;

	ck_assert_int_eq(config_parse("kinds.conf", text, sizeof(text) - 1, no_errors, NULL, &c), 0);
	ck_assert_ptr_ne(c->routes[GH_KIND_HTTP], c->routes[GH_KIND_TLS]);
	ck_assert_uint_eq(routes_count(c->routes[GH_KIND_TLS]), 4);
	ck_assert_uint_eq(routes_count(c->routes[GH_KIND_HTTP]), 2);
	ck_assert_uint_eq(config_route(c, GH_KIND_TLS, "t3.example", 10), 2);
	ck_assert_uint_eq(config_route(c, GH_KIND_HTTP, "t3.example", 10), GH_NO_SITE);
	ck_assert_uint_eq(config_route(c, GH_KIND_HTTP, "x.t1.example", 12), 0);
	void *img = image_of(c, &size);
	ck_assert_int_eq(config_image_open(img, size, NULL, &m, why, sizeof(why)), 0);
	ck_assert_ptr_ne(m->routes[GH_KIND_HTTP], m->routes[GH_KIND_TLS]);
	ck_assert_uint_eq(config_route(m, GH_KIND_TLS, "t3.example", 10), 2);
	ck_assert_uint_eq(config_route(m, GH_KIND_HTTP, "t3.example", 10), GH_NO_SITE);
	ck_assert_uint_eq(config_route(m, GH_KIND_HTTP, "t2.example", 10), GH_NO_SITE);
	ck_assert_uint_eq(config_route(m, GH_KIND_TLS, "y.t1.example", 12), 0);
	same_routes(c, m);
	config_free(m);
	config_free(c);
	free(img);
}
END_TEST

/* Every site on TLS and QUIC, not every one on HTTP: TLS and QUIC share
 * the parser's table of all names (QUIC not HTTP's, which lacks some of
 * them), HTTP has its own; the image shares the same way, and each table
 * is freed once. */
START_TEST(test_round_trip_two_kinds_shared)
{
	static const char text[] =
		"site s1.example *.s1.example\n http [2001:db8::1]:80\n tls [2001:db8::1]:443\n quic [2001:db8::1]:443\n"
		"site s2.example\n tls [2001:db8::2]:443\n quic [2001:db8::2]:443\n"
		"site s3.example\n tls-alpn acme-tls/1 [2001:db8::3]:443\n quic [2001:db8::3]:443\n";
	static const struct {
		const char *name;
		uint32_t site[GH_KIND_COUNT];
	} want[] = {
		{ "s1.example", { 0, 0, 0 } },
		{ "x.s1.example", { 0, 0, 0 } },
		{ "s2.example", { GH_NO_SITE, 1, 1 } },
		{ "s3.example", { GH_NO_SITE, 2, 2 } },
		{ "s4.example", { GH_NO_SITE, GH_NO_SITE, GH_NO_SITE } },
	};
	struct gh_config *c = NULL, *m = NULL;
	char why[256];
	size_t size;

	ck_assert_int_eq(config_parse("kinds.conf", text, sizeof(text) - 1, no_errors, NULL, &c), 0);
	ck_assert_ptr_eq(c->routes[GH_KIND_TLS], c->routes[GH_KIND_QUIC]);
	ck_assert_ptr_ne(c->routes[GH_KIND_HTTP], c->routes[GH_KIND_QUIC]);
	void *img = image_of(c, &size);
	ck_assert_int_eq(config_image_open(img, size, NULL, &m, why, sizeof(why)), 0);
	ck_assert_ptr_eq(m->routes[GH_KIND_TLS], m->routes[GH_KIND_QUIC]);
	ck_assert_ptr_ne(m->routes[GH_KIND_HTTP], m->routes[GH_KIND_QUIC]);
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
		for (int k = 0; k < GH_KIND_COUNT; k++) {
			size_t len = strlen(want[i].name);

			ck_assert_msg(config_route(c, (enum gh_kind)k, want[i].name, len) == want[i].site[k],
				      "%s on %s", want[i].name, gh_kind_str((enum gh_kind)k));
			ck_assert_msg(config_route(m, (enum gh_kind)k, want[i].name, len) == want[i].site[k],
				      "%s on %s, from the image", want[i].name, gh_kind_str((enum gh_kind)k));
		}
	same_routes(c, m);
	config_free(m);
	config_free(c);
	free(img);
}
END_TEST

/* Many sites: every name routes the same, with the same probes. */
START_TEST(test_round_trip_many)
{
	const unsigned n = 5000;
	size_t cap = (size_t)n * 160, len = 0, size;
	char *text = malloc(cap), why[256];
	struct gh_config *c = NULL, *m = NULL;
	unsigned bad = 0;

	ck_assert_ptr_nonnull(text);
	for (unsigned i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len,
					"site s%u.example *.w%u.example\n http [2001:db8::%x]:80\n tls [2001:db8::%x]:443\n",
					i, i, i + 1, i + 1);
	ck_assert_int_eq(config_parse("many.conf", text, len, no_errors, NULL, &c), 0);
	/* every site on both kinds: one table serves both, in the image too */
	ck_assert_ptr_eq(c->routes[GH_KIND_HTTP], c->routes[GH_KIND_TLS]);
	void *img = image_of(c, &size);
	ck_assert_int_eq(config_image_open(img, size, NULL, &m, why, sizeof(why)), 0);
	ck_assert_ptr_eq(m->routes[GH_KIND_HTTP], m->routes[GH_KIND_TLS]);
	/* and it is the table built name by name, site by site, as before */
	struct routes *ref = routes_new();
	for (unsigned i = 0; i < n; i++) {
		char name[64];

		snprintf(name, sizeof(name), "s%u.example", i);
		bad += routes_add(ref, name, i, NULL) != 0;
		snprintf(name, sizeof(name), "*.w%u.example", i);
		bad += routes_add(ref, name, i, NULL) != 0;
	}
	for (unsigned i = 0; i < n; i++)
		for (int v = 0; v < 3; v++) {
			char name[64];
			uint32_t sx = 0, sy = 0, sr = 0;
			size_t px = 0, py = 0, pr = 0;

			snprintf(name, sizeof(name), v == 0 ? "s%u.example" : v == 1 ? "a.w%u.example" : "m%u.example", i);
			int rx = routes_lookup_probes(c->routes[GH_KIND_TLS], name, strlen(name), &sx, &px);
			int ry = routes_lookup_probes(m->routes[GH_KIND_TLS], name, strlen(name), &sy, &py);
			int rr = routes_lookup_probes(ref, name, strlen(name), &sr, &pr);
			bad += rx != ry || sx != sy || px != py;
			bad += rx != rr || sx != sr || px != pr;
		}
	ck_assert_uint_eq(bad, 0);
	routes_free(ref);
	config_free(m);
	config_free(c);
	free(img);
	free(text);
}
END_TEST

/* Open a copy of img[0..len), with the header's size field set to len when
 * consistent: the header must not be trusted either. What's left is
 * exercised (under ASan, any access outside the copy is an error). */
static int open_copy(const void *img, size_t len, bool consistent, char *why, size_t why_size)
{
	size_t alloc = len ? (len + 7) & ~(size_t)7 : 8;
	void *buf = aligned_alloc(8, alloc);
	struct gh_config *m = NULL;
	int r;

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, img, len);
	/* the header's total size: magic (8), version, endian (4 each) */
	if (consistent && len >= 24) {
		uint64_t l = len;

		memcpy((char *)buf + 16, &l, sizeof(l));
	}
	r = config_image_open(buf, len, NULL, &m, why, why_size);
	if (r == 0) {
		for (size_t i = 0; i < m->n_sites; i++) {
			const struct gh_site *s = &m->sites[i];
			volatile size_t sum = strlen(s->name);

			for (size_t j = 0; j < s->n_names; j++)
				sum += strlen(s->names[j]);
			for (unsigned k = 0; k < GH_KIND_COUNT; k++)
				for (unsigned a = 0; a <= s->n_alpn; a++) {
					size_t ns = 0;
					const struct gh_addr *sv;

					if (!config_alpn_route_ok(m, (uint32_t)i, k, a))
						continue;
					sv = config_servers(m, (uint32_t)i, k, a, &ns);
					/* what a forwarder dials: a whole address */
					for (size_t x = 0; x < ns; x++) {
						ck_assert(memchr(sv[x].text, '\0', sizeof(sv[x].text)));
						ck_assert((sv[x].ss.ss_family == AF_INET6 &&
							   sv[x].len == sizeof(struct sockaddr_in6)) ||
							  (sv[x].ss.ss_family == AF_INET &&
							   sv[x].len == sizeof(struct sockaddr_in)));
						sum += sv[x].len + strlen(sv[x].text);
					}
				}
		}
		/* the check maps as dial_setup reads them, the targets as the
		 * checker does (its Host and SNI: the target's site name) */
		for (size_t i = 0; i < m->n_sites; i++)
			for (int k = 0; k < GH_KIND_COUNT; k++) {
				const struct gh_site *s = &m->sites[i];
				size_t all = s->n_servers[k];

				for (size_t a = 0; k == GH_KIND_TLS && a < s->n_alpn; a++)
					all += s->alpn[a].n_servers;
				for (size_t x = 0; s->check_of[k] && x < all; x++)
					ck_assert(s->check_of[k][x] == GH_NO_CHECK || s->check_of[k][x] < m->n_checks);
			}
		for (size_t i = 0; i < m->n_checks; i++) {
			volatile size_t sum = strlen(m->sites[m->checks[i].site].name);

			sum += strlen(m->checks[i].opts.http_path) + strlen(m->checks[i].addr.text);
		}
		for (size_t i = 0; i < sizeof(probes_names) / sizeof(*probes_names); i++)
			for (int k = 0; k < GH_KIND_COUNT; k++) {
				uint32_t site = config_route(m, (enum gh_kind)k, probes_names[i], strlen(probes_names[i]));

				ck_assert(site == GH_NO_SITE || site < m->n_sites);
			}
		config_free(m);
	}
	free(buf);
	return r;
}

START_TEST(test_truncated_refused)
{
	struct gh_config *c = parse_rich();
	char why[256];
	size_t size;
	void *img = image_of(c, &size);

	for (size_t len = 0; len < size; len++) {
		/* as cut: the header says more than there is */
		ck_assert_int_eq(open_copy(img, len, false, why, sizeof(why)), -EINVAL);
		ck_assert_msg(strstr(why, "truncated"), "cut at %zu: '%s'", len, why);
		/* and with a header that agrees: an array ends outside */
		ck_assert_msg(open_copy(img, len, true, why, sizeof(why)) == -EINVAL, "cut at %zu of %zu opens", len, size);
		ck_assert_msg(why[0], "cut at %zu: no reason", len);
	}
	ck_assert_int_eq(open_copy(img, size, false, why, sizeof(why)), 0);
	config_free(c);
	free(img);
}
END_TEST

/* Every byte changed three ways: refused with a reason, or read (an
 * unimportant byte, a name's letter) with no access outside the image. */
START_TEST(test_corrupt_bytes)
{
	static const uint8_t flips[] = { 0xff, 0x80, 0x01 };
	struct gh_config *c = parse_rich();
	char why[256];
	size_t size, refused = 0;
	uint8_t *img = image_of(c, &size), *copy = malloc(size);

	ck_assert_ptr_nonnull(copy);
	for (size_t i = 0; i < size; i++)
		for (size_t f = 0; f < sizeof(flips); f++) {
			int r;

			memcpy(copy, img, size);
			copy[i] ^= flips[f];
			why[0] = '\0';
			r = open_copy(copy, size, false, why, sizeof(why));
			ck_assert_msg(r == 0 || (r == -EINVAL && why[0]), "byte %zu ^ %#x: %d '%s'", i,
				      flips[f], r, why);
			refused += r != 0;
		}
	ck_assert_uint_gt(refused, 0);
	config_free(c);
	free(img);
	free(copy);
}
END_TEST

/* No sites at all: still an image, of the header and the listens. */
START_TEST(test_empty_config)
{
	struct gh_config *c = NULL, *m = NULL;
	char why[256];
	size_t size;

	ck_assert_int_eq(config_parse("empty.conf", "", 0, no_errors, NULL, &c), 0);
	void *img = image_of(c, &size);
	ck_assert_int_eq(config_image_open(img, size, NULL, &m, why, sizeof(why)), 0);
	ck_assert_uint_eq(m->n_sites, 0);
	ck_assert_uint_eq(m->n_listens, c->n_listens);
	ck_assert_uint_eq(config_route(m, GH_KIND_TLS, "a.example", 9), GH_NO_SITE);
	ck_assert_uint_eq(config_site_index(m, "a.example", 9), GH_NO_SITE);
	config_free(m);
	/* one byte more than its arrays: refused too */
	void *big = aligned_alloc(8, size + 8);
	ck_assert_ptr_nonnull(big);
	memcpy(big, img, size);
	((char *)big)[size] = 0;
	uint64_t l = size + 1;
	memcpy((char *)big + 16, &l, sizeof(l));
	ck_assert_int_eq(config_image_open(big, size + 1, NULL, &m, why, sizeof(why)), -EINVAL);
	ck_assert_msg(strstr(why, "arrays end at"), "%s", why);
	free(big);
	config_free(c);
	free(img);

	/* no sites but a string (user, chroot): the strings end the image
	 * unaligned, and the empty arrays after them still lie inside it */
	static const char *const alone[] = { "user x-\n", "chroot /v]\n", "user gh\nchroot /var/empty\n" };
	for (size_t i = 0; i < sizeof(alone) / sizeof(*alone); i++) {
		ck_assert_int_eq(config_parse("alone.conf", alone[i], strlen(alone[i]), no_errors, NULL, &c), 0);
		img = image_of(c, &size);
		ck_assert_msg(config_image_open(img, size, NULL, &m, why, sizeof(why)) == 0, "%s: %s", alone[i], why);
		ck_assert_str_eq(m->user ? m->user : "", c->user ? c->user : "");
		ck_assert_str_eq(m->chroot_dir ? m->chroot_dir : "", c->chroot_dir ? c->chroot_dir : "");
		config_free(m);
		config_free(c);
		free(img);
	}
}
END_TEST

START_TEST(test_named_errors)
{
	struct gh_config *c = parse_rich();
	char why[256];
	size_t size;
	uint8_t *img = image_of(c, &size);

	img[0] ^= 1;
	ck_assert_int_eq(open_copy(img, size, false, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "not a gatehouse config image (bad magic)");
	img[0] ^= 1;
	img[8] ^= 1;	/* version */
	ck_assert_int_eq(open_copy(img, size, false, why, sizeof(why)), -EINVAL);
	ck_assert_msg(strstr(why, "another build"), "%s", why);
	config_free(c);
	free(img);
}
END_TEST

/* The per-source, source-prefix and accept-proxy values out of what the
 * parser accepts, each refused by name: a daemon never runs with a limit,
 * a prefix or a balancer list the launcher could not have parsed. */
START_TEST(test_new_fields_checked)
{
	struct gh_config *c = parse_rich();
	char why[256];
	size_t size;
	uint8_t *img = image_of(c, &size), *copy = aligned_alloc(8, (size + 7) & ~(size_t)7);
	const struct ci_header *h0 = (const void *)img;
	struct ci_header *h = (void *)copy;
	struct ci_site *sites = (void *)(copy + h0->sites.off);
	struct prefixset_entry *entries = (void *)(copy + h0->entries.off);
	static const struct {
		const char *what, *why;
	} cases[] = {
		{ "source-table below the inspecting cap", "per-source limit" },
		{ "source-rate without its window", "per-source limit" },
		{ "source-prefix-v6 past 128", "per-source limit" },
		{ "source-connections past its cap", "per-source limit" },
		{ "direct-clients not 0 or 1", "direct-clients" },
		{ "a listen's list but no flag", "disagree" },
		{ "direct-clients refuse with no list", "disagree" },
		{ "a global accept-proxy rule that denies", "allow only" },
		{ "a listen's accept-proxy rule that denies", "allow only" },
		{ "global source-prefix on = 2", "global source-prefix" },
		{ "a site's source-prefix off with bits left", "source-prefix" },
		{ "a site's source-rate window past a day", "source-rate" },
		{ "a site's source-connections past its cap", "source-connections" },
		{ "quic-idle-timeout past a day", "a timeout" },
		{ "a quic listen with an accept-proxy list", "quic with an accept-proxy list" },
		{ "default quic on a site without quic servers", "default quic: site 2 has no quic servers" },
	};

	ck_assert_ptr_nonnull(copy);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct gh_config *m = (void *)1;
		const struct ci_listen *ls = (const void *)(copy + h0->listens.off);

		memcpy(copy, img, size);
		switch (i) {
		case 0: h->src_slots = GH_MAX_INSPECTING - 1; break;
		case 1: h->src_window_ms = 0; break;
		case 2: h->src_v6_prefix = 129; break;
		case 3: h->src_connections = CONFIG_SOURCE_CONNECTIONS_MAX + 1; break;
		case 4: h->refuse_direct = 2; break;
		case 5: h->proxy_listen_lists = 0; break;
		case 6: {
			/* no list anywhere: every listen's and the global one gone */
			struct ci_listen *w = (void *)(copy + h0->listens.off);

			for (uint64_t l = 0; l < h0->listens.count; l++)
				w[l].n_proxy = 0;
			h->n_accept_proxy = 0;
			h->proxy_listen_lists = 0;
			break;
		}
		case 7: entries[h0->accept_proxy].value = GH_ACL_DENY; break;
		case 8: entries[ls[1].proxy + 1].value = GH_ACL_DENY; break;
		case 9: h->source_prefix.on = 2; break;
		case 10: sites[1].source_prefix.prefix[3] = 1; break;
		case 11: sites[0].src_window_ms = CONFIG_MAX_DURATION_MS + 1; break;
		case 12: sites[0].src_connections = CONFIG_SOURCE_CONNECTIONS_MAX + 1; break;
		case 13: h->quic_idle_timeout_ms = CONFIG_MAX_DURATION_MS + 1; break;
		case 14: {
			struct ci_listen *w = (void *)(copy + h0->listens.off);

			ck_assert_uint_eq(w[3].kind, GH_KIND_QUIC);
			w[3].proxy = w[1].proxy;
			w[3].n_proxy = w[1].n_proxy;
			break;
		}
		case 15: h->default_site[GH_KIND_QUIC] = 2; break;
		}
		ck_assert_int_eq(config_image_open(copy, size, NULL, &m, why, sizeof(why)), -EINVAL);
		ck_assert_ptr_null(m);
		ck_assert_msg(strstr(why, cases[i].why), "%s: '%s'", cases[i].what, why);
	}
	/* case 6 with direct-clients serve is a valid image: what refused it
	 * was refuse with no balancer to trust */
	memcpy(copy, img, size);
	struct ci_listen *w = (void *)(copy + h0->listens.off);
	struct gh_config *m = NULL;

	for (uint64_t l = 0; l < h0->listens.count; l++)
		w[l].n_proxy = 0;
	h->n_accept_proxy = 0;
	h->proxy_listen_lists = 0;
	h->refuse_direct = 0;
	ck_assert_int_eq(config_image_open(copy, size, NULL, &m, why, sizeof(why)), 0);
	ck_assert(!config_proxy_any(m, &m->listens[1]));
	config_free(m);
	config_free(c);
	free(img);
	free(copy);
}
END_TEST

/* `check` global, per site and per server, with every option, `check
 * off` both ways, tls-alpn routes' servers (own and inherited) checked:
 * the image answers as the parse does, server by server. */
static const char checked[] =
	"listen http [::1]:8080\n"
	"listen tls [::1]:8443\n"
	"tls-alpn acme-tls/1 [::1]:9443\n"
	"check inter 3s rise 4 fall 5\n"
	"site a.example\n"
	"    http [2001:db8::a]:80 [2001:db8::a2]:80\n"
	"    tls [2001:db8::a]:443\n"
	"    check http-status 200 http-path /up tls-hello\n"
	"    check off [2001:db8::a2]:80\n"
	"site b.example\n"
	"    http [2001:db8::b]:80\n"
	"    tls [2001:db8::b]:443 [2001:db8::b2]:443\n"
	"    tls-alpn h2 [2001:db8::b3]:443 [2001:db8::b]:443\n"
	"    check rise 1 fall 1 inter 100ms tls-hello [2001:db8::b2]:443\n"
	"    check off [2001:db8::b3]:443\n"
	"site c.example\n"
	"    tls [2001:db8::c]:443\n"
	"    quic [2001:db8::c]:443\n"
	"    check off\n"
	"site d.example\n"
	"    http [2001:db8::a]:80\n";

static struct gh_config *parse_checked(void)
{
	struct gh_config *c = NULL;

	ck_assert_int_eq(config_parse("checked.conf", checked, sizeof(checked) - 1, no_errors, NULL, &c), 0);
	return c;
}

START_TEST(test_round_trip_checks)
{
	struct gh_config *c = parse_checked(), *m = NULL;
	char why[256] = "";
	size_t size;
	void *img = image_of(c, &size);
	const struct gh_check_target *t;

	ck_assert_msg(config_image_open(img, size, NULL, &m, why, sizeof(why)) == 0, "%s", why);
	same_checks(c, m);
	ck_assert_uint_ne(m->checks_id, 0);
	/* what each line made of it, read from the image */
	t = &m->checks[config_server_check(m, 0, GH_KIND_HTTP, 0, 0)];
	ck_assert_uint_eq(t->opts.http_status, 200);
	ck_assert_str_eq(t->opts.http_path, "/up");
	ck_assert_uint_eq(t->opts.rise, 2);	/* a site's line: the defaults, not the global one's */
	ck_assert_uint_eq(config_server_check(m, 0, GH_KIND_HTTP, 0, 1), GH_NO_CHECK);
	t = &m->checks[config_server_check(m, 0, GH_KIND_TLS, 0, 0)];
	ck_assert(t->opts.tls_hello);
	ck_assert_uint_eq(t->opts.http_status, 0);
	/* the inherited acme-tls/1 route of a: the site's line, a connect only */
	t = &m->checks[config_server_check(m, 0, GH_KIND_TLS, 1, 0)];
	ck_assert_str_eq(t->addr.text, "[::1]:9443");
	ck_assert(!t->opts.tls_hello);
	t = &m->checks[config_server_check(m, 1, GH_KIND_TLS, 0, 1)];
	ck_assert_uint_eq(t->opts.inter_ms, 100);
	ck_assert_uint_eq(t->opts.rise, 1);
	ck_assert_uint_eq(t->opts.fall, 1);
	ck_assert(t->opts.tls_hello);
	/* b's h2 route: its first server off, its second shares b's tls one */
	ck_assert_uint_eq(config_server_check(m, 1, GH_KIND_TLS, 1, 0), GH_NO_CHECK);
	ck_assert_uint_eq(config_server_check(m, 1, GH_KIND_TLS, 1, 1), config_server_check(m, 1, GH_KIND_TLS, 0, 0));
	ck_assert_uint_eq(m->checks[config_server_check(m, 1, GH_KIND_TLS, 0, 0)].opts.inter_ms, 3000);
	/* c: `check off`, its quic server never checked */
	for (unsigned k = 0; k < GH_KIND_COUNT; k++)
		ck_assert_uint_eq(config_server_check(m, 2, k, 0, 0), GH_NO_CHECK);
	ck_assert_ptr_null(m->sites[2].check_of[GH_KIND_QUIC]);
	/* d: the global line, the same address as a's own check of it */
	t = &m->checks[config_server_check(m, 3, GH_KIND_HTTP, 0, 0)];
	ck_assert_uint_eq(t->opts.rise, 4);
	ck_assert_uint_eq(t->opts.fall, 5);
	ck_assert_uint_ne(config_server_check(m, 3, GH_KIND_HTTP, 0, 0), config_server_check(m, 0, GH_KIND_HTTP, 0, 0));
	config_free(m);
	config_free(c);
	free(img);
}
END_TEST

/* Corrupt health checks refused by name: a forwarder indexing its page
 * with a wrong slot, a checker probing what the launcher never parsed, or
 * a checks_id that makes every reader ignore the page. */
START_TEST(test_checks_checked)
{
	struct gh_config *c = parse_checked();
	char why[256];
	size_t size;
	uint8_t *img = image_of(c, &size), *copy = aligned_alloc(8, (size + 7) & ~(size_t)7);
	const struct ci_header *h0 = (const void *)img;
	struct ci_header *h = (void *)copy;
	struct ci_site *sites = (void *)(copy + h0->sites.off);
	struct gh_check_target *checks = (void *)(copy + h0->checks.off);
	uint32_t *check_of = (void *)(copy + h0->check_of.off);
	/* a's http server 0 (http-status 200) and b's tls server 1 (tls-hello) */
	uint32_t a_http = c->sites[0].check_of[GH_KIND_HTTP][0], b_tls = c->sites[1].check_of[GH_KIND_TLS][1];
	static const struct {
		const char *what, *why;
	} cases[] = {
		{ "a check_of entry past the list", "not its own" },
		{ "a check_of entry of another server", "not its own" },
		{ "quic servers checked", "quic health checks" },
		{ "a check_of map one short", "tls health checks" },
		{ "a check_of map past the array", "tls health checks" },
		{ "no map but a count", "without an array" },
		{ "a quic target", "health check" },
		{ "a target's site past the sites", "health check" },
		{ "rise 0", "health check" },
		{ "fall past 100", "health check" },
		{ "inter under 100ms", "health check" },
		{ "inter over an hour", "health check" },
		{ "http-path without its NUL", "health check" },
		{ "http-path not starting with /", "health check" },
		{ "http-status 600", "health check" },
		{ "http-status on a tls target", "health check" },
		{ "tls-hello on an http target", "health check" },
		{ "tls-hello byte 2", "health check" },
		{ "a bad target address", "health check" },
		{ "checks_id changed", "checks_id" },
		{ "a valid inter that is not the list's", "checks_id" },
		{ "checks_id 0 with checks", "checks_id" },
	};

	ck_assert_ptr_nonnull(copy);
	ck_assert_uint_ne(a_http, b_tls);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct gh_config *m = (void *)1;

		memcpy(copy, img, size);
		switch (i) {
		case 0: check_of[sites[0].check_of[GH_KIND_HTTP]] = (uint32_t)h0->checks.count; break;
		case 1: check_of[sites[0].check_of[GH_KIND_HTTP]] = b_tls; break;
		case 2:
			sites[2].check_of[GH_KIND_QUIC] = sites[2].check_of[GH_KIND_TLS];
			sites[2].n_check_of[GH_KIND_QUIC] = 1;
			break;
		case 3: sites[1].n_check_of[GH_KIND_TLS]--; break;
		case 4: sites[1].check_of[GH_KIND_TLS] = (uint32_t)h0->check_of.count - 1; break;
		case 5: sites[2].check_of[GH_KIND_QUIC] = CI_NONE; sites[2].n_check_of[GH_KIND_QUIC] = 1; break;
		case 6: checks[b_tls].kind = GH_KIND_QUIC; break;
		case 7: checks[b_tls].site = (uint32_t)h0->sites.count; break;
		case 8: checks[b_tls].opts.rise = 0; break;
		case 9: checks[b_tls].opts.fall = CONFIG_CHECK_MAX_COUNT + 1; break;
		case 10: checks[b_tls].opts.inter_ms = CONFIG_CHECK_MIN_INTER_MS - 1; break;
		case 11: checks[b_tls].opts.inter_ms = CONFIG_CHECK_MAX_INTER_MS + 1; break;
		case 12: memset(checks[a_http].opts.http_path, 'a', sizeof(checks[a_http].opts.http_path)); break;
		case 13: checks[a_http].opts.http_path[0] = 'u'; break;
		case 14: checks[a_http].opts.http_status = 600; break;
		case 15: checks[b_tls].opts.http_status = 200; break;
		case 16: memset(&checks[a_http].opts.tls_hello, 1, 1); break;
		case 17: memset(&checks[b_tls].opts.tls_hello, 2, 1); break;
		case 18: checks[b_tls].addr.len = 3; break;
		case 19: h->checks_id ^= 1; break;
		case 20: checks[b_tls].opts.inter_ms = 200; break;
		case 21: h->checks_id = 0; break;
		}
		ck_assert_int_eq(config_image_open(copy, size, NULL, &m, why, sizeof(why)), -EINVAL);
		ck_assert_ptr_null(m);
		ck_assert_msg(strstr(why, cases[i].why), "%s: '%s'", cases[i].what, why);
	}
	config_free(c);
	free(img);
	free(copy);
}
END_TEST

/* No `check` line: no targets, no maps, checks_id 0, and so in the image;
 * only `check off`: no targets but the maps, and the list's id. */
START_TEST(test_round_trip_no_checks)
{
	static const char *const texts[] = {
		"site a.example\n http [2001:db8::a]:80\n tls [2001:db8::a]:443\n",
		"check off\nsite a.example\n http [2001:db8::a]:80\n tls [2001:db8::a]:443\n",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(*texts); i++) {
		struct gh_config *c = NULL, *m = NULL;
		char why[256] = "";
		size_t size;

		ck_assert_int_eq(config_parse("n.conf", texts[i], strlen(texts[i]), no_errors, NULL, &c), 0);
		void *img = image_of(c, &size);
		ck_assert_msg(config_image_open(img, size, NULL, &m, why, sizeof(why)) == 0, "%s", why);
		ck_assert_uint_eq(m->n_checks, 0);
		ck_assert_int_eq(m->checks_id == 0, i == 0);
		same_checks(c, m);
		config_free(m);
		config_free(c);
		free(img);
	}
}
END_TEST

static int load(const char *path, char *msg, size_t size, struct gh_config **out)
{
	FILE *f = fmemopen(msg, size, "w");
	int r;

	ck_assert_ptr_nonnull(f);
	setbuf(f, NULL);
	r = config_load_file(path, f, out);
	fclose(f);
	return r;
}

/* The memfd: sealed against every change before anyone sees it; loaded
 * from it; the same bytes anywhere unsealed are refused. */
START_TEST(test_memfd_sealed)
{
	struct gh_config *c = parse_rich(), *m = NULL;
	char path[64], msg[512] = "";
	int fd = -1, seals;
	size_t size;
	void *img = image_of(c, &size);

	ck_assert_int_eq(config_load_image(c, &fd), 0);
	seals = fcntl(fd, F_GET_SEALS);
	ck_assert_int_eq(seals, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(lseek(fd, 0, SEEK_END), (off_t)size);
	/* no write, no hole punched, no writable shared mapping, no resize */
	ck_assert_int_eq(pwrite(fd, "x", 1, 0), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_ptr_eq(mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED);
	ck_assert_int_eq(ftruncate(fd, 0), -1);
	/* the same bytes as config_image_write */
	void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_mem_eq(p, img, size);
	munmap(p, size);

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ck_assert_int_eq(load(path, msg, sizeof(msg), &m), 0);
	same_routes(c, m);
	ck_assert_str_eq(m->sites[1].name, "b.example");
	config_free(m);
	close(fd);

	/* unsealed memfd, then a plain file: refused, saying why */
	fd = memfd_create("unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, img, size), (ssize_t)size);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	m = (void *)1;
	ck_assert_int_eq(load(path, msg, sizeof(msg), &m), -EPERM);
	ck_assert_ptr_null(m);
	ck_assert_msg(strstr(msg, "sealed against writes"), "%s", msg);
	/* some seals are not enough */
	ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	ck_assert_int_eq(load(path, msg, sizeof(msg), &m), -EPERM);
	close(fd);

	char tmpl[] = "/tmp/gh-image-XXXXXX";
	fd = mkstemp(tmpl);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, img, size), (ssize_t)size);
	ck_assert_int_eq(load(tmpl, msg, sizeof(msg), &m), -EPERM);
	unlink(tmpl);
	close(fd);

	/* a sealed but corrupt image: refused with the reader's reason */
	fd = memfd_create("corrupt", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, img, size - 8), (ssize_t)(size - 8));
	ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW), 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ck_assert_int_eq(load(path, msg, sizeof(msg), &m), -EINVAL);
	ck_assert_msg(strstr(msg, "config image refused: truncated"), "%s", msg);
	close(fd);

	config_free(c);
	free(img);
}
END_TEST

Suite *make_config_image_suite(void)
{
	Suite *s = suite_create("config_image");
	TCase *tc = tcase_create("image");

	tcase_set_timeout(tc, 120);	/* every byte, three ways, under ASan too */
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_round_trip_one_kind_shared);
	tcase_add_test(tc, test_round_trip_two_kinds_shared);
	tcase_add_test(tc, test_round_trip_many);
	tcase_add_test(tc, test_round_trip_checks);
	tcase_add_test(tc, test_round_trip_no_checks);
	tcase_add_test(tc, test_checks_checked);
	tcase_add_test(tc, test_truncated_refused);
	tcase_add_test(tc, test_corrupt_bytes);
	tcase_add_test(tc, test_empty_config);
	tcase_add_test(tc, test_named_errors);
	tcase_add_test(tc, test_new_fields_checked);
	tcase_add_test(tc, test_memfd_sealed);
	suite_add_tcase(s, tc);
	return s;
}
