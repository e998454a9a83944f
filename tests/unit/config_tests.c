/* SPDX-License-Identifier: MIT */
/* Config parser: the DESIGN.md example, routing, and one case per error. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "router/config.h"
#include "router/gh_limits.h"
#include "common/config_load.h"
#include "suites.h"

/* DESIGN.md "Configuration (contract)", verbatim. */
static const char design_example[] =
	"# timeouts (defaults shown)\n"
	"inspect-timeout 5s        # whole ClientHello / request head must arrive by then\n"
	"connect-timeout 5s\n"
	"idle-timeout    50s\n"
	"\n"
	"# where `gatehouse run` binds; under systemd the .socket unit decides\n"
	"listen http [::]:80\n"
	"listen tls  [::]:443\n"
	"\n"
	"http-mode route            # or: redirect-https   (ACME challenges still routed)\n"
	"\n"
	"site test1.example.net\n"
	"    http [2001:db8:69::feed]:80\n"
	"    tls  [2001:db8:69::feed]:443\n"
	"\n"
	"site test2.example.net www.test2.example.net *.beef.example\n"
	"    http [2001:db8:69::beef]:80\n"
	"    tls  [2001:db8:69::beef]:443 [2001:db8:69::bee2]:443   # round robin + failover\n"
	"    proxy-protocol v2      # or v1; per site, off by default\n"
	"\n"
	"default tls  reject        # or a site name\n"
	"default http reject\n";

#define MAX_ERRS 32

struct errs {
	unsigned n;
	char msg[MAX_ERRS][512];
};

static void collect(void *userdata, const char *message)
{
	struct errs *e = userdata;

	if (e->n < MAX_ERRS)
		snprintf(e->msg[e->n], sizeof(e->msg[0]), "%s", message);
	e->n++;
}

static int parse_len(const char *text, size_t len, struct errs *e, struct gh_config **c)
{
	memset(e, 0, sizeof(*e));
	return config_parse("test.conf", text, len, collect, e, c);
}

static int parse(const char *text, struct errs *e, struct gh_config **c)
{
	return parse_len(text, strlen(text), e, c);
}

/* Parse text that must load; fails the test with the first error otherwise. */
static struct gh_config *load(const char *text)
{
	struct gh_config *c = NULL;
	struct errs e;
	int r = parse(text, &e, &c);

	ck_assert_msg(r == 0, "expected success, got %d: %s", r, e.n ? e.msg[0] : "(no message)");
	ck_assert_uint_eq(e.n, 0);
	ck_assert_ptr_nonnull(c);
	return c;
}

static uint32_t route(const struct gh_config *c, enum gh_kind k, const char *name)
{
	return config_route(c, k, name, strlen(name));
}

static uint32_t site_index(const struct gh_config *c, const char *name)
{
	return config_site_index(c, name, strlen(name));
}

static void check_design(const struct gh_config *c)
{
	const struct gh_site *s;

	ck_assert_uint_eq(c->inspect_timeout_ms, 5000);
	ck_assert_uint_eq(c->connect_timeout_ms, 5000);
	ck_assert_uint_eq(c->idle_timeout_ms, 50000);
	ck_assert_int_eq(c->http_mode, GH_HTTP_ROUTE);

	ck_assert_uint_eq(c->n_listens, 2);
	ck_assert_int_eq(c->listens[0].kind, GH_KIND_HTTP);
	ck_assert_str_eq(c->listens[0].addr.text, "[::]:80");
	ck_assert_uint_eq(c->listens[0].line, 7);
	ck_assert_int_eq(c->listens[1].kind, GH_KIND_TLS);
	ck_assert_str_eq(c->listens[1].addr.text, "[::]:443");
	ck_assert_uint_eq(c->listens[1].line, 8);

	ck_assert_uint_eq(c->n_sites, 2);
	s = &c->sites[0];
	ck_assert_str_eq(s->name, "test1.example.net");
	ck_assert_uint_eq(s->n_names, 1);
	ck_assert_uint_eq(s->line, 12);
	ck_assert_uint_eq(s->n_servers[GH_KIND_HTTP], 1);
	ck_assert_str_eq(s->servers[GH_KIND_HTTP][0].text, "[2001:db8:69::feed]:80");
	ck_assert_uint_eq(s->n_servers[GH_KIND_TLS], 1);
	ck_assert_str_eq(s->servers[GH_KIND_TLS][0].text, "[2001:db8:69::feed]:443");
	ck_assert_int_eq(s->proxy_protocol, 0);

	s = &c->sites[1];
	ck_assert_str_eq(s->name, "test2.example.net");
	ck_assert_uint_eq(s->n_names, 3);
	ck_assert_str_eq(s->names[0], "test2.example.net");
	ck_assert_str_eq(s->names[1], "www.test2.example.net");
	ck_assert_str_eq(s->names[2], "*.beef.example");
	ck_assert_uint_eq(s->line, 16);
	ck_assert_uint_eq(s->n_servers[GH_KIND_HTTP], 1);
	ck_assert_str_eq(s->servers[GH_KIND_HTTP][0].text, "[2001:db8:69::beef]:80");
	/* the round-robin pair, in file order */
	ck_assert_uint_eq(s->n_servers[GH_KIND_TLS], 2);
	ck_assert_str_eq(s->servers[GH_KIND_TLS][0].text, "[2001:db8:69::beef]:443");
	ck_assert_str_eq(s->servers[GH_KIND_TLS][1].text, "[2001:db8:69::bee2]:443");
	ck_assert_int_eq(s->proxy_protocol, 2);

	ck_assert_uint_eq(c->default_site[GH_KIND_HTTP], GH_NO_SITE);
	ck_assert_uint_eq(c->default_site[GH_KIND_TLS], GH_NO_SITE);
	/* extensions left at their defaults */
	ck_assert_uint_eq(c->forwarders, 0);
	ck_assert_uint_eq(c->max_head, 16384);
}

START_TEST(test_design_example)
{
	struct gh_config *c = load(design_example);
	const struct sockaddr_in6 *sin6;
	struct in6_addr want;

	check_design(c);
	/* the sockaddr behind the text */
	sin6 = (const struct sockaddr_in6 *)&c->sites[1].servers[GH_KIND_TLS][1].ss;
	ck_assert_int_eq(sin6->sin6_family, AF_INET6);
	ck_assert_uint_eq(ntohs(sin6->sin6_port), 443);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8:69::bee2", &want), 1);
	ck_assert_mem_eq(&sin6->sin6_addr, &want, sizeof(want));
	ck_assert_uint_eq(c->sites[1].servers[GH_KIND_TLS][1].len, sizeof(struct sockaddr_in6));
	config_free(c);
}
END_TEST

START_TEST(test_design_routing)
{
	struct gh_config *c = load(design_example);

	for (int k = 0; k < GH_KIND_TCP_COUNT; k++) {
		ck_assert_uint_eq(route(c, k, "test1.example.net"), 0);
		ck_assert_uint_eq(route(c, k, "test2.example.net"), 1);
		ck_assert_uint_eq(route(c, k, "www.test2.example.net"), 1);
		ck_assert_uint_eq(route(c, k, "a.beef.example"), 1);
		ck_assert_uint_eq(route(c, k, "x.y.beef.example"), 1);
		/* rejects: the bare wildcard suffix, unknown names, near misses */
		ck_assert_uint_eq(route(c, k, "beef.example"), GH_NO_SITE);
		ck_assert_uint_eq(route(c, k, "nosuch.example"), GH_NO_SITE);
		ck_assert_uint_eq(route(c, k, "www.test1.example.net"), GH_NO_SITE);
		ck_assert_uint_eq(route(c, k, "example.net"), GH_NO_SITE);
	}
	ck_assert_uint_eq(site_index(c, "test1.example.net"), 0);
	ck_assert_uint_eq(site_index(c, "test2.example.net"), 1);
	/* only the first name names the site */
	ck_assert_uint_eq(site_index(c, "www.test2.example.net"), GH_NO_SITE);
	ck_assert_uint_eq(site_index(c, "a.beef.example"), GH_NO_SITE);
	ck_assert_uint_eq(site_index(c, "nosuch.example"), GH_NO_SITE);
	ck_assert_uint_eq(config_route(c, GH_KIND_COUNT, "test1.example.net", 17), GH_NO_SITE);
	config_free(c);
	config_free(NULL);
}
END_TEST

/* The same file with CRLF line ends, and as tabs, means the same. */
START_TEST(test_crlf_and_tabs)
{
	size_t n = strlen(design_example);
	char *crlf = malloc(n * 2 + 1), *tabs = malloc(n + 1);
	struct gh_config *c;
	size_t o = 0;

	ck_assert_ptr_nonnull(crlf);
	ck_assert_ptr_nonnull(tabs);
	for (size_t i = 0; i < n; i++) {
		if (design_example[i] == '\n')
			crlf[o++] = '\r';
		crlf[o++] = design_example[i];
		tabs[i] = design_example[i] == ' ' ? '\t' : design_example[i];
	}
	crlf[o] = '\0';
	tabs[n] = '\0';
	c = load(crlf);
	check_design(c);
	config_free(c);
	c = load(tabs);
	check_design(c);
	config_free(c);
	free(crlf);
	free(tabs);
}
END_TEST

START_TEST(test_defaults)
{
	struct gh_config *c = load("# nothing but a comment\n\n   \t\n");

	ck_assert_uint_eq(c->inspect_timeout_ms, 5000);
	ck_assert_uint_eq(c->connect_timeout_ms, 5000);
	ck_assert_uint_eq(c->idle_timeout_ms, 50000);
	ck_assert_int_eq(c->http_mode, GH_HTTP_ROUTE);
	ck_assert_uint_eq(c->n_sites, 0);
	ck_assert_uint_eq(c->forwarders, 0);
	ck_assert_uint_eq(c->max_head, 16384);
	/* no listen lines: [::]:80 and [::]:443, dual stack */
	ck_assert_uint_eq(c->n_listens, 2);
	ck_assert_int_eq(c->listens[0].kind, GH_KIND_HTTP);
	ck_assert_str_eq(c->listens[0].addr.text, "[::]:80");
	ck_assert_uint_eq(c->listens[0].line, 0);
	ck_assert_int_eq(c->listens[1].kind, GH_KIND_TLS);
	ck_assert_str_eq(c->listens[1].addr.text, "[::]:443");
	ck_assert_uint_eq(route(c, GH_KIND_TLS, "a.example"), GH_NO_SITE);
	config_free(c);

	/* an empty buffer too */
	c = load("");
	ck_assert_uint_eq(c->n_listens, 2);
	config_free(c);
}
END_TEST

START_TEST(test_listen)
{
	struct gh_config *c = load(
		"listen http *:80\n"
		"listen http 127.0.0.1:8080\n"
		"listen tls [::1]:8443\n"
		"listen tls 0.0.0.0:443\n");
	const struct sockaddr_in *sin;

	ck_assert_uint_eq(c->n_listens, 4);
	ck_assert_str_eq(c->listens[0].addr.text, "[::]:80");
	ck_assert_int_eq(c->listens[0].addr.ss.ss_family, AF_INET6);
	ck_assert_str_eq(c->listens[1].addr.text, "127.0.0.1:8080");
	ck_assert_int_eq(c->listens[1].kind, GH_KIND_HTTP);
	ck_assert_uint_eq(c->listens[1].line, 2);
	sin = (const struct sockaddr_in *)&c->listens[1].addr.ss;
	ck_assert_int_eq(sin->sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(sin->sin_port), 8080);
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), 0x7f000001);
	ck_assert_uint_eq(c->listens[1].addr.len, sizeof(struct sockaddr_in));
	ck_assert_str_eq(c->listens[2].addr.text, "[::1]:8443");
	ck_assert_int_eq(c->listens[2].kind, GH_KIND_TLS);
	ck_assert_str_eq(c->listens[3].addr.text, "0.0.0.0:443");
	config_free(c);

	/* listens for one kind only: the other gets its default */
	c = load("listen tls [::1]:8443\n");
	ck_assert_uint_eq(c->n_listens, 2);
	ck_assert_int_eq(c->listens[0].kind, GH_KIND_TLS);
	ck_assert_int_eq(c->listens[1].kind, GH_KIND_HTTP);
	ck_assert_str_eq(c->listens[1].addr.text, "[::]:80");
	config_free(c);
}
END_TEST

/* `metrics`: off unless asked; an address like a listen one */
START_TEST(test_metrics)
{
	struct gh_config *c = load("site a.example\n  http [::1]:80\n");
	ck_assert_uint_eq(c->metrics.len, 0);
	config_free(c);
	c = load("metrics [::1]:9469\nsite a.example\n  http [::1]:80\n");
	ck_assert_str_eq(c->metrics.text, "[::1]:9469");
	ck_assert_uint_eq(c->metrics.len, sizeof(struct sockaddr_in6));
	ck_assert_uint_eq(c->n_listens, 2);	/* not a listen line */
	config_free(c);
}
END_TEST

START_TEST(test_extensions_and_modes)
{
	struct gh_config *c = load(
		"forwarders 4\n"
		"max-head-size 8k\n"
		"http-mode redirect-https\n"
		"inspect-timeout 500ms\n"
		"connect-timeout 2m\n"
		"idle-timeout 24h\n"
		"site a.example\n"
		"  tls [2001:db8::a]:443\n"
		"  proxy-protocol v1\n"
		"site b.example\n"
		"  tls 192.0.2.7:443\n"
		"  proxy-protocol off\n");

	ck_assert_uint_eq(c->forwarders, 4);
	ck_assert_uint_eq(c->max_head, 8192);
	ck_assert_int_eq(c->http_mode, GH_HTTP_REDIRECT_HTTPS);
	ck_assert_str_eq(gh_http_mode_str(c->http_mode), "redirect-https");
	ck_assert_uint_eq(c->inspect_timeout_ms, 500);
	ck_assert_uint_eq(c->connect_timeout_ms, 120000);
	ck_assert_uint_eq(c->idle_timeout_ms, 86400000);
	ck_assert_int_eq(c->sites[0].proxy_protocol, 1);
	ck_assert_int_eq(c->sites[1].proxy_protocol, 0);
	ck_assert_str_eq(c->sites[1].servers[GH_KIND_TLS][0].text, "192.0.2.7:443");
	ck_assert_int_eq(c->sites[1].servers[GH_KIND_TLS][0].ss.ss_family, AF_INET);
	config_free(c);

	c = load("max-head-size 2048\nforwarders 0\n");
	ck_assert_uint_eq(c->max_head, 2048);
	ck_assert_uint_eq(c->forwarders, 0);
	config_free(c);
	c = load("max-head-size 64k\nforwarders 64\n");
	ck_assert_uint_eq(c->max_head, 65536);
	ck_assert_uint_eq(c->forwarders, 64);
	config_free(c);
	c = load("max-head-size 1K\n");
	ck_assert_uint_eq(c->max_head, 1024);
	ck_assert_ptr_null(c->user);
	ck_assert_ptr_null(c->chroot_dir);
	ck_assert_uint_eq(c->max_connections, 0);
	config_free(c);
	c = load("user gh-proxy\nchroot /srv/empty\nmax-connections 20000\n");
	ck_assert_str_eq(c->user, "gh-proxy");
	ck_assert_str_eq(c->chroot_dir, "/srv/empty");
	ck_assert_uint_eq(c->max_connections, 20000);
	config_free(c);
	/* per site; queue-timeout defaults to connect-timeout */
	c = load("connect-timeout 3s\nsite a.example\n  http [2001:db8::1]:80\n  site-max-connections 50\n"
		 "site b.example\n  http [2001:db8::2]:80\n");
	ck_assert_uint_eq(c->sites[0].max_connections, 50);
	ck_assert_uint_eq(c->sites[1].max_connections, 0);
	ck_assert_uint_eq(c->queue_timeout_ms, 3000);
	config_free(c);
	c = load("queue-timeout 250ms\nconnect-timeout 3s\n");
	ck_assert_uint_eq(c->queue_timeout_ms, 250);
	config_free(c);
}
END_TEST

/* A default site, named before it is defined; kinds route separately. */
START_TEST(test_default_site)
{
	struct gh_config *c = load(
		"default tls fallback.example\n"
		"default http web.example\n"
		"site tlsonly.example\n"
		"  tls [2001:db8::1]:443\n"
		"site web.example\n"
		"  http [2001:db8::2]:80\n"
		"site fallback.example\n"
		"  tls [2001:db8::3]:443\n"
		"  http [2001:db8::3]:80\n");

	ck_assert_uint_eq(c->default_site[GH_KIND_TLS], 2);
	ck_assert_uint_eq(c->default_site[GH_KIND_HTTP], 1);
	ck_assert_uint_eq(route(c, GH_KIND_TLS, "tlsonly.example"), 0);
	/* no http servers: the name is not in the http table, the default answers */
	ck_assert_uint_eq(route(c, GH_KIND_HTTP, "tlsonly.example"), 1);
	ck_assert_uint_eq(route(c, GH_KIND_TLS, "web.example"), 2);
	ck_assert_uint_eq(route(c, GH_KIND_HTTP, "web.example"), 1);
	ck_assert_uint_eq(route(c, GH_KIND_TLS, "unknown.example"), 2);
	ck_assert_uint_eq(route(c, GH_KIND_HTTP, "unknown.example"), 1);
	ck_assert_uint_eq(route(c, GH_KIND_HTTP, "fallback.example"), 2);
	config_free(c);
}
END_TEST

START_TEST(test_names)
{
	struct gh_config *c = load(
		"site Example.COM. *.Example.com\n"
		"  http [2001:db8::1]:80\n"
		"site *.a.example.com\n"
		"  http [2001:db8::2]:80\n"
		"site b.a.example.com\n"
		"  http [2001:db8::3]:80 [2001:db8::4]:80\n"
		"  http [2001:db8::5]:80   # servers accumulate\n");

	ck_assert_str_eq(c->sites[0].name, "example.com");
	ck_assert_str_eq(c->sites[0].names[1], "*.example.com");
	ck_assert_str_eq(c->sites[1].name, "*.a.example.com");
	ck_assert_uint_eq(c->sites[2].n_servers[GH_KIND_HTTP], 3);
	ck_assert_str_eq(c->sites[2].servers[GH_KIND_HTTP][2].text, "[2001:db8::5]:80");
	ck_assert_uint_eq(c->sites[2].n_servers[GH_KIND_TLS], 0);
	ck_assert_uint_eq(route(c, GH_KIND_HTTP, "example.com"), 0);
	ck_assert_uint_eq(route(c, GH_KIND_HTTP, "www.example.com"), 0);
	ck_assert_uint_eq(route(c, GH_KIND_HTTP, "a.example.com"), 0);
	ck_assert_uint_eq(route(c, GH_KIND_HTTP, "x.a.example.com"), 1);
	ck_assert_uint_eq(route(c, GH_KIND_HTTP, "b.a.example.com"), 2);
	ck_assert_uint_eq(route(c, GH_KIND_HTTP, "c.b.a.example.com"), 1);
	ck_assert_uint_eq(route(c, GH_KIND_TLS, "example.com"), GH_NO_SITE);
	/* a wildcard can be a site's name, and only the exact text finds it */
	ck_assert_uint_eq(site_index(c, "*.a.example.com"), 1);
	ck_assert_uint_eq(site_index(c, "x.a.example.com"), GH_NO_SITE);
	ck_assert_uint_eq(site_index(c, "b.a.example.com"), 2);
	ck_assert_uint_eq(site_index(c, "*.example.com"), GH_NO_SITE);
	config_free(c);
}
END_TEST

/* `#` anywhere, no space needed; a last line without a newline. */
START_TEST(test_comments)
{
	struct gh_config *c = load(
		"#site commented.example\n"
		"site a.example#comment right after a word\n"
		"\t\thttp\t[2001:db8::1]:80#and here\n"
		"  # indented comment\n"
		"proxy-protocol v2");

	ck_assert_uint_eq(c->n_sites, 1);
	ck_assert_str_eq(c->sites[0].name, "a.example");
	ck_assert_uint_eq(c->sites[0].n_servers[GH_KIND_HTTP], 1);
	ck_assert_int_eq(c->sites[0].proxy_protocol, 2);
	config_free(c);
}
END_TEST

#define SITE_A "site a.example\n  http [2001:db8::1]:80\n"	/* 2 lines */

/* Each case holds exactly one error, on the line given. */

/* QUIC: opt-in listen, per-site servers, its own default and idle timeout */
START_TEST(test_quic)
{
	struct gh_config *c = load("listen tls [::]:443\n"
				   "listen quic [::]:443\n"
				   "quic-idle-timeout 10s\n"
				   "site a.example *.a.example\n"
				   "    tls [::1]:8443\n"
				   "    quic [::1]:9443 [::1]:9444\n"
				   "site b.example\n"
				   "    quic [2001:db8::b]:443\n"
				   "site c.example\n"
				   "    tls [::1]:7443\n"
				   "default quic b.example\n");

	/* the same address as tls: one is TCP, the other UDP */
	ck_assert_uint_eq(c->n_listens, 3);
	ck_assert_int_eq(c->listens[1].kind, GH_KIND_QUIC);
	ck_assert_str_eq(c->listens[1].addr.text, "[::]:443");
	ck_assert_uint_eq(c->quic_idle_timeout_ms, 10000);
	ck_assert_uint_eq(c->sites[0].n_servers[GH_KIND_QUIC], 2);
	ck_assert_str_eq(c->sites[0].servers[GH_KIND_QUIC][1].text, "[::1]:9444");
	ck_assert_uint_eq(route(c, GH_KIND_QUIC, "a.example"), 0);
	ck_assert_uint_eq(route(c, GH_KIND_QUIC, "x.a.example"), 0);
	ck_assert_uint_eq(route(c, GH_KIND_QUIC, "b.example"), 1);
	/* a site without quic servers is not reached over QUIC: the default */
	ck_assert_uint_eq(route(c, GH_KIND_QUIC, "c.example"), 1);
	ck_assert_uint_eq(route(c, GH_KIND_QUIC, "nosuch.example"), 1);
	/* a quic-only site is no TLS route, and tls has no default */
	ck_assert_uint_eq(route(c, GH_KIND_TLS, "b.example"), GH_NO_SITE);
	ck_assert_str_eq(gh_kind_str(GH_KIND_QUIC), "quic");
	config_free(c);

	/* no listen quic: no UDP socket, and the QUIC defaults */
	c = load("site a.example\n    quic [::1]:9443\n");
	ck_assert_uint_eq(c->n_listens, 2);
	for (size_t i = 0; i < c->n_listens; i++)
		ck_assert_int_ne(c->listens[i].kind, GH_KIND_QUIC);
	ck_assert_uint_eq(c->quic_idle_timeout_ms, 30000);
	ck_assert_uint_eq(c->default_site[GH_KIND_QUIC], GH_NO_SITE);
	config_free(c);
}
END_TEST

static const struct bad_case {
	const char *text;
	unsigned line;
	const char *msg;
} bad_cases[] = {
	/* directive and argument counts */
	{ "frobnicate 1\n", 1, "unknown directive 'frobnicate'" },
	{ SITE_A "Listen http [::]:80\n", 3, "unknown directive 'Listen'" },
	{ "listen http\n", 1, "'listen': missing argument" },
	{ "inspect-timeout\n", 1, "'inspect-timeout': missing argument" },
	{ "http-mode route redirect-https\n", 1, "'http-mode': too many arguments" },
	{ "default tls reject now\n", 1, "too many arguments" },
	{ SITE_A "  proxy-protocol v1 v2\n", 3, "too many arguments" },
	{ SITE_A "  tls\n", 3, "'tls': missing argument" },
	/* durations */
	{ "inspect-timeout 5\n", 1, "duration needs a unit (ms, s, m, h)" },
	/* quic */
	{ "listen quic [::]:443\nlisten quic [::]:443\n", 2, "already used by 'listen quic' at line 1" },
	{ "quic-idle-timeout 5\n", 1, "duration needs a unit" },
	{ "quic-idle-timeout 5s\nquic-idle-timeout 6s\n", 2, "'quic-idle-timeout' already set at line 1" },
	{ "quic [::1]:443\n", 1, "'quic' outside any site" },
	{ SITE_A "  quic [::]:443\n", 3, "bad address" },
	{ SITE_A "default quic a.example\n", 3, "'default quic': site 'a.example' has no quic servers" },
	{ "listen udp [::]:443\n", 1, "bad listen kind 'udp' (http, tls or quic)" },
	{ "connect-timeout 0s\n", 1, "must be more than 0" },
	{ "connect-timeout 0ms\n", 1, "bad duration '0ms'" },
	{ "idle-timeout 25h\n", 1, "must be at most 24h" },
	{ "idle-timeout 1441m\n", 1, "must be at most 24h" },
	{ "idle-timeout 86400001ms\n", 1, "must be at most 24h" },
	{ "idle-timeout 99999999999999999999999999s\n", 1, "must be at most 24h" },
	{ "idle-timeout 5sec\n", 1, "unknown unit" },
	{ "idle-timeout 5S\n", 1, "unknown unit" },
	{ "idle-timeout 1.5s\n", 1, "bad duration '1.5s'" },
	{ "idle-timeout s\n", 1, "bad duration 's'" },
	{ "idle-timeout -5s\n", 1, "bad duration '-5s'" },
	{ "\ninspect-timeout 1s\ninspect-timeout 2s\n", 3, "'inspect-timeout' already set at line 2" },
	/* listen */
	{ "listen https [::]:443\n", 1, "bad listen kind 'https'" },
	{ "listen http localhost:80\n", 1, "bad address 'localhost:80': not a numeric IPv4" },
	{ "listen tls ::1:443\n", 1, "bad address '::1:443': IPv6 addresses need brackets" },
	{ "listen tls [::1]\n", 1, "bad address '[::1]': missing port" },
	{ "listen tls 127.0.0.1\n", 1, "bad address '127.0.0.1': missing port" },
	{ "listen tls [::1]:0\n", 1, "port must be a number from 1 to 65535" },
	{ "listen tls [::1]:65536\n", 1, "port must be a number from 1 to 65535" },
	{ "listen tls [::1]:\n", 1, "missing port" },
	{ "listen tls [::1]:https\n", 1, "port must be" },
	{ "listen tls [::1]443\n", 1, "expected ':PORT' after ']'" },
	{ "listen tls [::1:443\n", 1, "missing ']'" },
	{ "listen tls [fe80::1%eth0]:443\n", 1, "not a numeric IPv6 address" },
	{ "listen tls 1.2.3:443\n", 1, "not a numeric IPv4 address" },
	{ "listen http [::]:80\nlisten http *:80\n", 2,
	  "listen address [::]:80 already used by 'listen http' at line 1" },
	{ "listen http [::]:8000\nlisten tls [0::0]:8000\n", 2, "already used by 'listen http'" },
	/* http-mode */
	{ "http-mode redirect\n", 1, "bad http-mode 'redirect' (route or redirect-https)" },
	{ "http-mode route\nhttp-mode route\n", 2, "'http-mode' already set at line 1" },
	/* sites and names */
	{ "site bad!.example\n  http [::1]:80\n", 1, "bad site name 'bad!.example'" },
	{ "site a..example\n  http [::1]:80\n", 1, "bad site name 'a..example'" },
	{ "site a.example:443\n  http [::1]:80\n", 1, "bad site name 'a.example:443'" },
	{ "site ok.example a*.example\n  http [::1]:80\n", 1, "bad site name 'a*.example'" },
	{ "site ok.example "
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example\n"
	  "  http [::1]:80\n", 1, "bad site name 'aaaa" },
	{ SITE_A "site b.example a.example\n  http [::1]:81\n", 3,
	  "name 'a.example' already used by site 'a.example' (line 1)" },
	{ SITE_A "site A.Example.\n  http [::1]:81\n", 3,
	  "duplicate site 'a.example' (first defined at line 1)" },
	{ "site a.example b.example B.example\n  http [::1]:80\n", 1, "name 'b.example' listed twice" },
	{ "site a.example *.w.example\n  http [::1]:80\nsite *.w.example\n  http [::1]:81\n", 3,
	  "name '*.w.example' already used by site 'a.example' (line 1)" },
	{ "site\n  http [::1]:80\n", 1, "'site': missing argument" },
	{ "site a.example\nsite b.example\n  http [::1]:80\n", 1,
	  "site 'a.example' has no servers" },
	{ SITE_A "\nsite b.example\n  proxy-protocol v2\n", 4, "site 'b.example' has no servers" },
	/* servers */
	{ "  http [::1]:80\n" SITE_A, 1, "'http' outside any site" },
	{ "tls [::1]:443\n", 1, "'tls' outside any site" },
	{ "proxy-protocol v2\n" SITE_A, 1, "'proxy-protocol' outside any site" },
	{ SITE_A "  tls [2001:db8::1]\n", 3, "bad address '[2001:db8::1]': missing port" },
	{ SITE_A "  tls [::]:443\n", 3, "unspecified address" },
	{ SITE_A "  tls 0.0.0.0:443\n", 3, "unspecified address" },
	{ SITE_A "  tls *:443\n", 3, "bad address '*:443'" },
	{ SITE_A "  tls backend.example:443\n", 3, "bad address 'backend.example:443'" },
	{ SITE_A "  http [2001:db8:0::1]:80\n", 3,
	  "http server [2001:db8::1]:80 listed twice in site 'a.example'" },
	{ SITE_A "  tls [::1]:443 [::1]:443\n", 3, "listed twice" },
	{ SITE_A "  proxy-protocol v3\n", 3, "bad proxy-protocol 'v3' (v1, v2 or off)" },
	{ SITE_A "  proxy-protocol v1\n  proxy-protocol v2\n", 4,
	  "'proxy-protocol' already set at line 3" },
	/* defaults */
	{ "default https reject\n", 1, "bad default kind 'https'" },
	{ "default tls nosuch.example\n" SITE_A, 1, "'default tls': no site named 'nosuch.example'" },
	{ SITE_A "default tls a.example\n", 3, "'default tls': site 'a.example' has no tls servers" },
	{ "default http a.example\ndefault http reject\n" SITE_A, 2,
	  "'default http' already set at line 1" },
	{ "default tls a..example\n", 1, "bad site name 'a..example' for 'default tls'" },
	{ "site a.example www.a.example\n  http [::1]:80\ndefault http www.a.example\n", 3,
	  "it is another name of site 'a.example'" },
	{ "site *.a.example\n  http [::1]:80\ndefault http b.a.example\n", 3,
	  "no site named 'b.a.example'" },
	/* extensions */
	{ "forwarders 65\n", 1, "bad forwarders '65'" },
	{ "forwarders -1\n", 1, "bad forwarders '-1'" },
	{ "forwarders four\n", 1, "bad forwarders 'four'" },
	{ "forwarders 1\nforwarders 2\n", 2, "'forwarders' already set at line 1" },
	{ "max-head-size 512\n", 1, "bad max-head-size '512': bytes from 1k to 64k" },
	{ "user root\n", 1, "bad user 'root': a system user name other than root" },
	{ "user Gate\n", 1, "bad user 'Gate'" },
	{ "user a/b\n", 1, "bad user 'a/b'" },
	{ "user a b\n", 1, "too many" },
	{ "user x\nuser y\n", 2, "'user' already set at line 1" },
	{ "chroot relative\n", 1, "bad chroot 'relative': an absolute directory other than /" },
	{ "chroot /\n", 1, "bad chroot '/'" },
	{ "chroot /var/../etc\n", 1, "bad chroot '/var/../etc'" },
	{ "max-connections 0\n", 1, "bad max-connections '0': a number from 1 to 10000000" },
	{ "max-connections many\n", 1, "bad max-connections 'many'" },
	{ "site-max-connections 5\n", 1, "'site-max-connections' outside any site (it belongs after a 'site' line)" },
	{ SITE_A "site-max-connections 0\n", 3, "bad site-max-connections '0': a number from 1 to 10000000" },
	{ SITE_A "site-max-connections 5\nsite-max-connections 6\n", 4, "'site-max-connections' already set at line 3" },
	{ "queue-timeout forever\n", 1, "bad duration 'forever' for 'queue-timeout'" },
	{ "queue-timeout 1s\nqueue-timeout 2s\n", 2, "'queue-timeout' already set at line 1" },
	{ "max-head-size 65k\n", 1, "bad max-head-size '65k'" },
	{ "max-head-size 1m\n", 1, "bad max-head-size '1m'" },
	{ "max-head-size k\n", 1, "bad max-head-size 'k'" },
	{ "max-head-size 16kk\n", 1, "bad max-head-size '16kk'" },
	{ "max-head-size 99999999999999999999999k\n", 1, "bad max-head-size" },
	/* access lists */
	{ "allow\n", 1, "'allow': missing argument (usage: allow CIDR|all [CIDR...])" },
	{ "deny 10.0.0.1/8\n", 1,
	  "bad prefix '10.0.0.1/8' for 'deny': host bits set after /8 (the prefix is 10.0.0.0/8)" },
	{ "allow 192.0.2.0/33\n", 1, "bad prefix '192.0.2.0/33' for 'allow': prefix length must be 0..32" },
	{ SITE_A "  allow 2001:db8::/129\n", 3,
	  "bad prefix '2001:db8::/129' for 'allow': prefix length must be 0..128" },
	{ SITE_A "  deny 10.0.0.0/8 example.com\n", 3,
	  "bad prefix 'example.com' for 'deny': not an IPv4 or IPv6 address or prefix" },
	{ SITE_A "  allow [::1]\n", 3, "bad prefix '[::1]' for 'allow'" },
	{ SITE_A "  deny ALL\n", 3, "bad prefix 'ALL' for 'deny'" },
	{ SITE_A "  deny 192.0.2.0/24\nsite b.example\n  http [2001:db8::1]:80\n", 4,
	  "site 'b.example' shares http server [2001:db8::1]:80 with site 'a.example' (line 1) but their "
	  "allow/deny lists differ: a client allowed on one would reach the other through that "
	  "server (a pipelined request on the same connection); give both the same list, or each "
	  "its own server" },
	{ "site a.example\n  tls [::1]:443\n  allow 10.0.0.0/8\n  deny all\n"
	  "site b.example\n  tls [::2]:443 [::1]:443\n  allow 10.0.0.0/8\n", 5,
	  "site 'b.example' shares tls server [::1]:443 with site 'a.example' (line 1) but their "
	  "allow/deny lists differ: a client allowed on one would reach the other through that "
	  "server (another Host inside the same TLS session)" },
	{ "site a.example\n  http [::FFFF:192.0.2.1]:80\n  deny all\nsite b.example\n  http 192.0.2.1:80\n", 4,
	  "site 'b.example' shares http server 192.0.2.1:80 with site 'a.example' (line 1)" },
	/* per-source limits (global only) */
	{ "source-rate 20\n", 1, "bad source-rate '20': expected N/DURATION with N from 1 to 1000000, e.g. 20/1s" },
	{ "source-rate 0/1s\n", 1, "bad source-rate '0/1s'" },
	{ "source-rate x/1s\n", 1, "bad source-rate 'x/1s'" },
	{ "source-rate 5/1\n", 1, "bad duration in source-rate '5/1': duration needs a unit (ms, s, m, h)" },
	{ "source-rate 5/2d\n", 1, "bad duration in source-rate '5/2d': unknown unit" },
	{ "source-rate 5/1s\nsource-rate 6/1s\n", 2, "'source-rate' already set at line 1" },
	{ SITE_A "source-inspecting 5\n", 3, "'source-inspecting' is global: put it before the first 'site'" },
	{ SITE_A "source-table 20000\n", 3, "'source-table' is global: put it before the first 'site'" },
	{ SITE_A "source-rate 5/1s\nsource-rate 6/1s\n", 4, "'source-rate' already set at line 3" },
	{ SITE_A "source-rate 5\n", 3, "bad source-rate '5': expected N/DURATION" },
	{ "source-inspecting 0\n", 1, "bad source-inspecting '0': a number from 1 to 16384" },
	{ "source-inspecting 16385\n", 1, "bad source-inspecting '16385'" },
	{ "source-prefix-v6 129\n", 1, "bad source-prefix-v6 '129': a number from 1 to 128" },
	{ "source-prefix-v6 0\n", 1, "bad source-prefix-v6 '0'" },
	{ "source-prefix-v6 48\nsource-prefix-v6 56\n", 2, "'source-prefix-v6' already set at line 1" },
	{ "source-table 100\n", 1, "bad source-table '100': a number from 16384 to 16777216" },
	{ "source-table 16777217\n", 1, "bad source-table '16777217'" },
	{ "source-table\n", 1, "'source-table': missing argument (usage: source-table N)" },
	{ "source-connections 0\n", 1, "bad source-connections '0': a number from 1 to 1000000" },
	{ "source-connections 1000001\n", 1, "bad source-connections '1000001'" },
	{ "source-connections 5\nsource-connections 6\n", 2, "'source-connections' already set at line 1" },
	{ SITE_A "source-connections 5\nsource-connections 6\n", 4, "'source-connections' already set at line 3" },
	/* bytes that have no place in a config */
	{ SITE_A "listen http\r[::]:80\n", 3, "control character 0x0d" },
	{ SITE_A "forwarders 4\x01\n", 3, "control character 0x01" },
	{ "site a.\xc3\xa9xample\n  http [::1]:80\n", 1, "bad site name 'a.\\xc3\\xa9xample'" },
	/* metrics ADDRESS:PORT */
	{ SITE_A "metrics localhost:9100\n", 3, "bad metrics address 'localhost:9100'" },
	{ SITE_A "metrics [::1]:9100\nmetrics [::1]:9101\n", 4, "'metrics' already set at line 3" },
	{ "listen http [::1]:8080\n" SITE_A "metrics [::1]:8080\n", 4, "metrics address [::1]:8080 already used by 'listen http'" },
	{ SITE_A "metrics\n", 3, "metrics ADDRESS:PORT" },
};

START_TEST(test_bad)
{
	const struct bad_case *t = &bad_cases[_i];
	struct gh_config *c = (struct gh_config *)1;
	char prefix[32];
	struct errs e;
	int r;

	r = parse(t->text, &e, &c);
	ck_assert_msg(r == -EINVAL, "case %d: expected -EINVAL, got %d", _i, r);
	ck_assert_ptr_null(c);
	ck_assert_msg(e.n == 1, "case %d: expected 1 error, got %u: %s%s%s", _i, e.n,
		      e.n ? e.msg[0] : "", e.n > 1 ? " | " : "", e.n > 1 ? e.msg[1] : "");
	snprintf(prefix, sizeof(prefix), "test.conf:%u: ", t->line);
	ck_assert_msg(strncmp(e.msg[0], prefix, strlen(prefix)) == 0,
		      "case %d: expected line %u: %s", _i, t->line, e.msg[0]);
	ck_assert_msg(strstr(e.msg[0], t->msg), "case %d: expected '%s' in: %s", _i, t->msg,
		      e.msg[0]);
}
END_TEST

/* A NUL inside a line is refused, not taken for the end of the text. */
START_TEST(test_nul_byte)
{
	static const char text[] = "site a.example\n  http [::1]:80\0garbage\n  tls [::1]:443\n";
	struct gh_config *c;
	struct errs e;

	ck_assert_int_eq(parse_len(text, sizeof(text) - 1, &e, &c), -EINVAL);
	ck_assert_uint_eq(e.n, 1);
	ck_assert_str_eq(e.msg[0],
			 "test.conf:2: control character 0x00 (only spaces and tabs separate words)");
}
END_TEST

/* Every error is reported, each at its own line, in one pass. */
START_TEST(test_many_errors)
{
	static const char text[] =
		"default tls nosuch.example\n"		/* 1: resolved at the end */
		"inspect-timeout 5\n"			/* 2 */
		"site a.example\n"
		"  http [::1]:80\n"
		"  tls ::1:443 [::1]:444 nope\n"	/* 5: two bad addresses */
		"  proxy-protocol v9\n"			/* 6 */
		"site empty.example\n"			/* 7: no servers */
		"\n"
		"bogus\r\n"				/* 9 */
		"site a.example\n"			/* 10 */
		"  http [::1]:80\n";
	static const struct {
		unsigned line;
		const char *msg;
	} want[] = {
		{ 2, "duration needs a unit" },
		{ 5, "bad address '::1:443'" },
		{ 5, "bad address 'nope'" },
		{ 6, "bad proxy-protocol 'v9'" },
		{ 9, "unknown directive 'bogus'" },
		{ 10, "duplicate site 'a.example'" },
		{ 7, "site 'empty.example' has no servers" },
		{ 1, "no site named 'nosuch.example'" },
	};
	struct gh_config *c;
	struct errs e;

	ck_assert_int_eq(parse(text, &e, &c), -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(e.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char prefix[32];

		snprintf(prefix, sizeof(prefix), "test.conf:%u: ", want[i].line);
		ck_assert_msg(strncmp(e.msg[i], prefix, strlen(prefix)) == 0 &&
			      strstr(e.msg[i], want[i].msg),
			      "error %zu: expected line %u '%s', got: %s", i, want[i].line,
			      want[i].msg, e.msg[i]);
	}
}
END_TEST

/* Caps on servers and listens: one error, at the line that goes over. */
START_TEST(test_limits)
{
	size_t cap = 64 * 1024, o = 0;
	char *text = malloc(cap);
	struct gh_config *c;
	struct errs e;

	ck_assert_ptr_nonnull(text);
	o += (size_t)snprintf(text + o, cap - o, "site a.example\n  tls");
	for (unsigned i = 1; i <= 256; i++)
		o += (size_t)snprintf(text + o, cap - o, " [2001:db8::%x]:443", i);
	o += (size_t)snprintf(text + o, cap - o, "\n");
	c = load(text);
	ck_assert_uint_eq(c->sites[0].n_servers[GH_KIND_TLS], 256);
	config_free(c);

	o += (size_t)snprintf(text + o, cap - o, "  tls [2001:db8::1:1]:443 [2001:db8::1:2]:443\n");
	for (unsigned i = 1; i <= GH_MAX_LISTENS + 1; i++)
		o += (size_t)snprintf(text + o, cap - o, "listen http 127.0.0.1:%u\n", i);
	ck_assert_int_eq(parse(text, &e, &c), -EINVAL);
	ck_assert_uint_eq(e.n, 2);
	ck_assert_str_eq(e.msg[0], "test.conf:3: too many tls servers in site 'a.example' (at most 256)");
	ck_assert_str_eq(e.msg[1], "test.conf:36: too many listen lines (at most 32)");
	free(text);
}
END_TEST

/* A long, binary word is quoted back escaped and cut short. */
START_TEST(test_quoting)
{
	char text[600];
	struct gh_config *c;
	struct errs e;

	memset(text, '\xff', 500);
	memcpy(text + 500, " x\n", 4);
	ck_assert_int_eq(parse(text, &e, &c), -EINVAL);
	ck_assert_uint_eq(e.n, 1);
	ck_assert_ptr_nonnull(strstr(e.msg[0], "test.conf:1: unknown directive '\\xff\\xff"));
	ck_assert_ptr_nonnull(strstr(e.msg[0], "...'"));
	ck_assert_uint_lt(strlen(e.msg[0]), 400);
}
END_TEST

static const struct {
	const char *in;
	int r;
	uint32_t ms;
} duration_cases[] = {
	{ "500ms", 0, 500 },
	{ "5s", 0, 5000 },
	{ "2m", 0, 120000 },
	{ "1h", 0, 3600000 },
	{ "24h", 0, 86400000 },
	{ "1440m", 0, 86400000 },
	{ "86400000ms", 0, 86400000 },
	{ "1ms", 0, 1 },
	{ "007s", 0, 7000 },
	{ "", -EINVAL, 0 },
	{ "5", -EINVAL, 0 },		/* a unit is required */
	{ "0s", -EINVAL, 0 },
	{ "0h", -EINVAL, 0 },
	{ "25h", -EINVAL, 0 },
	{ "4294967296ms", -EINVAL, 0 },	/* 2^32: must not wrap to 0 */
	{ "4294968s", -EINVAL, 0 },	/* wraps uint32 once multiplied */
	{ "5S", -EINVAL, 0 },
	{ "5 s", -EINVAL, 0 },
	{ " 5s", -EINVAL, 0 },
	{ "+5s", -EINVAL, 0 },
	{ "5ss", -EINVAL, 0 },
	{ "5us", -EINVAL, 0 },
	{ "ms", -EINVAL, 0 },
};

START_TEST(test_duration)
{
	uint32_t ms = 0;
	int r = config_parse_duration(duration_cases[_i].in, strlen(duration_cases[_i].in), &ms);

	ck_assert_msg(r == duration_cases[_i].r, "'%s': got %d", duration_cases[_i].in, r);
	if (r == 0)
		ck_assert_uint_eq(ms, duration_cases[_i].ms);
}
END_TEST

static const struct {
	const char *in;
	const char *text;	/* NULL: refused */
	int family;
	unsigned port;
} addr_cases[] = {
	{ "[2001:DB8::1]:443", "[2001:db8::1]:443", AF_INET6, 443 },
	{ "[2001:db8:0:0:0:0:0:1]:1", "[2001:db8::1]:1", AF_INET6, 1 },
	{ "[::1]:65535", "[::1]:65535", AF_INET6, 65535 },
	{ "[::]:80", "[::]:80", AF_INET6, 80 },
	{ "[::ffff:192.0.2.1]:80", "[::ffff:192.0.2.1]:80", AF_INET6, 80 },
	{ "192.0.2.1:443", "192.0.2.1:443", AF_INET, 443 },
	{ "0.0.0.0:80", "0.0.0.0:80", AF_INET, 80 },
	{ "192.0.2.1:080", "192.0.2.1:80", AF_INET, 80 },
	{ "", NULL, 0, 0 },
	{ "[::1]", NULL, 0, 0 },
	{ "[::1]:", NULL, 0, 0 },
	{ "[::1]:0", NULL, 0, 0 },
	{ "[::1]:65536", NULL, 0, 0 },
	{ "[::1]:123456", NULL, 0, 0 },
	{ "[::1]:-1", NULL, 0, 0 },
	{ "[::1]:80x", NULL, 0, 0 },
	{ "[::1]x:80", NULL, 0, 0 },
	{ "[]:80", NULL, 0, 0 },
	{ "[::1", NULL, 0, 0 },
	{ "::1:80", NULL, 0, 0 },
	{ "2001:db8::1", NULL, 0, 0 },
	{ "[192.0.2.1]:80", NULL, 0, 0 },
	{ "[fe80::1%lo]:80", NULL, 0, 0 },
	{ "[1:2:3:4:5:6:7:8:9]:80", NULL, 0, 0 },
	{ "[0000000000000000000000000000000000000000000000000::1]:80", NULL, 0, 0 },
	{ "192.0.2.1", NULL, 0, 0 },
	{ "192.0.2:80", NULL, 0, 0 },
	{ "192.0.2.256:80", NULL, 0, 0 },
	{ "0x7f.0.0.1:80", NULL, 0, 0 },
	{ "localhost:80", NULL, 0, 0 },
	{ ":80", NULL, 0, 0 },
	{ "*:80", NULL, 0, 0 },		/* listen lines only */
};

START_TEST(test_addr)
{
	const char *in = addr_cases[_i].in;
	struct gh_addr a;
	int r = config_parse_addr(in, strlen(in), &a);

	if (!addr_cases[_i].text) {
		ck_assert_msg(r == -EINVAL, "'%s' accepted as %s", in, a.text);
		return;
	}
	ck_assert_msg(r == 0, "'%s' refused", in);
	ck_assert_str_eq(a.text, addr_cases[_i].text);
	ck_assert_int_eq(a.ss.ss_family, addr_cases[_i].family);
	if (addr_cases[_i].family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a.ss;

		ck_assert_uint_eq(a.len, sizeof(*sin6));
		ck_assert_uint_eq(ntohs(sin6->sin6_port), addr_cases[_i].port);
	} else {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.ss;

		ck_assert_uint_eq(a.len, sizeof(*sin));
		ck_assert_uint_eq(ntohs(sin->sin_port), addr_cases[_i].port);
	}
	/* the canonical text parses back to the same address */
	{
		struct gh_addr b;

		ck_assert_int_eq(config_parse_addr(a.text, strlen(a.text), &b), 0);
		ck_assert_str_eq(b.text, a.text);
		ck_assert_mem_eq(&b.ss, &a.ss, a.len);
	}
}
END_TEST

/* A temporary file holding text[0..len); returns its path (static buffer). */
static const char *write_temp(const char *text, size_t len)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/gh-config-test-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

/* config_load_file(): errors as lines on errf, errno-style returns. */
START_TEST(test_load_file)
{
	struct gh_config *c = (struct gh_config *)1;
	const char *path;
	char *out = NULL, want[160];
	size_t out_len = 0;
	FILE *errf;

	path = write_temp(design_example, strlen(design_example));
	ck_assert_int_eq(config_load_file(path, NULL, &c), 0);
	check_design(c);
	config_free(c);
	unlink(path);

	errf = open_memstream(&out, &out_len);
	path = write_temp("site a.example\nbogus\n", 21);
	ck_assert_int_eq(config_load_file(path, errf, &c), -EINVAL);
	ck_assert_ptr_null(c);
	fflush(errf);
	snprintf(want, sizeof(want), "%s:2: unknown directive 'bogus'\n%s:1: site 'a.example' has no servers",
		 path, path);
	ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "got: %s", out);
	unlink(path);

	ck_assert_int_eq(config_load_file("/nonexistent/gatehouse.conf", errf, &c), -ENOENT);
	ck_assert_ptr_null(c);
	fflush(errf);
	ck_assert_ptr_nonnull(strstr(out, "/nonexistent/gatehouse.conf: No such file or directory\n"));
	ck_assert_int_eq(config_load_file("/", errf, &c), -EISDIR);
	fclose(errf);
	free(out);
}
END_TEST

/* Over CONFIG_LOAD_MAX is refused before parsing; exactly at it is read. */
START_TEST(test_load_too_big)
{
	char path[] = "/tmp/gh-config-test-XXXXXX";
	struct gh_config *c;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	/* sparse file: NUL bytes, which the parser refuses line by line */
	ck_assert_int_eq(ftruncate(fd, CONFIG_LOAD_MAX + 1), 0);
	ck_assert_int_eq(config_load_file(path, NULL, &c), -EFBIG);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(lseek(fd, CONFIG_LOAD_MAX - 1, SEEK_SET), CONFIG_LOAD_MAX - 1);
	ck_assert_int_eq(write(fd, "\n", 1), 1);
	close(fd);
	/* 16 MiB of spaces would be valid; here one line of NULs, one error */
	ck_assert_int_eq(config_load_file(path, NULL, &c), -EINVAL);
	unlink(path);
}
END_TEST

/* ---- tls-alpn ---- */

static const char alpn_conf[] =
	"tls-alpn acme-tls/1 [::1]:8443\n"
	"tls-alpn h2 [::1]:9000\n"
	"site a.example\n"
	"  tls [2001:db8::a]:443\n"
	"site b.example\n"
	"  tls [2001:db8::b]:443\n"
	"  tls-alpn acme-tls/1 [2001:db8::c]:8443 [2001:db8::d]:8443\n"
	"  tls-alpn http/1.1 [2001:db8::e]:443\n"
	"site alpn-only.example\n"
	"  tls-alpn acme-tls/1 [::1]:8444\n"
	"site plain.example\n"
	"  http [2001:db8::f]:80\n";

static unsigned pick(const struct gh_config *c, const char *site, const char *offered, size_t len)
{
	uint32_t i = site_index(c, site);

	ck_assert_uint_ne(i, GH_NO_SITE);
	return config_alpn_pick(&c->sites[i], (const uint8_t *)offered, len);
}

START_TEST(test_tls_alpn)
{
	struct gh_config *c = load(alpn_conf);
	const struct gh_site *a = &c->sites[site_index(c, "a.example")];
	const struct gh_site *b = &c->sites[site_index(c, "b.example")];
	const struct gh_site *o = &c->sites[site_index(c, "alpn-only.example")];
	const struct gh_site *p = &c->sites[site_index(c, "plain.example")];
	const struct gh_addr *sv;
	size_t n;

	/* global lines, as written, in a site without its own */
	ck_assert_uint_eq(c->n_alpn, 2);
	ck_assert_uint_eq(a->n_alpn, 2);
	ck_assert_str_eq(a->alpn[0].protocol, "acme-tls/1");
	ck_assert(a->alpn[0].inherited);
	ck_assert_str_eq(a->alpn[0].servers[0].text, "[::1]:8443");
	ck_assert_str_eq(a->alpn[1].protocol, "h2");
	/* own lines first, then the globals it has no line for */
	ck_assert_uint_eq(b->n_alpn, 3);
	ck_assert_str_eq(b->alpn[0].protocol, "acme-tls/1");
	ck_assert(!b->alpn[0].inherited);
	ck_assert_uint_eq(b->alpn[0].n_servers, 2);
	ck_assert_str_eq(b->alpn[1].protocol, "http/1.1");
	ck_assert_str_eq(b->alpn[2].protocol, "h2");
	ck_assert(b->alpn[2].inherited);
	ck_assert_uint_eq(o->n_alpn, 2);
	/* a site not on TLS stays off it: the globals do not put it there */
	ck_assert_uint_eq(p->n_alpn, 0);
	ck_assert_uint_eq(route(c, GH_KIND_TLS, "plain.example"), GH_NO_SITE);
	/* a site with tls-alpn servers only is routed on TLS */
	ck_assert_uint_eq(route(c, GH_KIND_TLS, "alpn-only.example"), site_index(c, "alpn-only.example"));

	/* the first route any offered protocol names, in the routes' order */
	ck_assert_uint_eq(pick(c, "a.example", "\x0a" "acme-tls/1", 11), 1);
	ck_assert_uint_eq(pick(c, "a.example", "\x02h2\x08http/1.1", 12), 2);
	ck_assert_uint_eq(pick(c, "a.example", "\x08http/1.1", 9), 0);
	ck_assert_uint_eq(pick(c, "b.example", "\x02h2\x08http/1.1", 12), 2);
	ck_assert_uint_eq(pick(c, "b.example", "\x02h2\x08http/1.1\x0a" "acme-tls/1", 23), 1);
	ck_assert_uint_eq(pick(c, "b.example", "\x02h2", 3), 3);
	/* exact bytes: no prefix, no case folding, nothing offered */
	ck_assert_uint_eq(pick(c, "a.example", "\x09" "acme-tls/", 10), 0);
	ck_assert_uint_eq(pick(c, "a.example", "\x02H2", 3), 0);
	ck_assert_uint_eq(pick(c, "a.example", "", 0), 0);
	/* a length byte past the list is not read past it */
	ck_assert_uint_eq(pick(c, "a.example", "\x0b" "acme-tls/1", 11), 0);

	/* the forwarder's view: servers per route, and which routes exist */
	uint32_t bi = site_index(c, "b.example");
	sv = config_servers(c, bi, GH_KIND_TLS, 0, &n);
	ck_assert(n == 1 && strcmp(sv[0].text, "[2001:db8::b]:443") == 0);
	sv = config_servers(c, bi, GH_KIND_TLS, 1, &n);
	ck_assert(n == 2 && strcmp(sv[1].text, "[2001:db8::d]:8443") == 0);
	sv = config_servers(c, bi, GH_KIND_TLS, 3, &n);
	ck_assert(n == 1 && strcmp(sv[0].text, "[::1]:9000") == 0);
	ck_assert(config_alpn_route_ok(c, bi, GH_KIND_TLS, 0));
	ck_assert(config_alpn_route_ok(c, bi, GH_KIND_TLS, 3));
	ck_assert(!config_alpn_route_ok(c, bi, GH_KIND_TLS, 4));
	ck_assert(!config_alpn_route_ok(c, bi, GH_KIND_TLS, 255));
	ck_assert(!config_alpn_route_ok(c, bi, GH_KIND_HTTP, 1));
	ck_assert(config_alpn_route_ok(c, bi, GH_KIND_HTTP, 0));
	ck_assert(!config_alpn_route_ok(c, (uint32_t)c->n_sites, GH_KIND_TLS, 0));
	config_free(c);
}
END_TEST

/* Each holds exactly one error, on the line given. */
static const struct bad_case alpn_bad_cases[] = {
	{ "tls-alpn acme-tls/1\n", 1, "'tls-alpn': missing argument (usage: tls-alpn PROTOCOL ADDRESS:PORT" },
	{ "tls-alpn [::1]:8443\n", 1, "'tls-alpn': missing argument" },
	{ "tls-alpn acme-tls/\xc3\xa9 [::1]:8443\n", 1, "bad tls-alpn protocol 'acme-tls/\\xc3\\xa9': visible ASCII only" },
	{ "tls-alpn acme-tls/1 [::1]:8443\ntls-alpn acme-tls/1 [::1]:8444\n", 2,
	  "tls-alpn acme-tls/1 already routed at line 1 (global)" },
	{ SITE_A "  tls-alpn h2 [::1]:1\n  tls-alpn h2 [::1]:2\n", 4, "tls-alpn h2 already routed at line 3 (a.example)" },
	{ SITE_A "  tls-alpn h2 [::1]:1 [::1]:1\n", 3, "tls-alpn h2 server [::1]:1 listed twice" },
	{ SITE_A "  tls-alpn h2 [::]:1\n", 3, "bad address '[::]:1'" },
	{ SITE_A "  tls-alpn h2 example.com:443\n", 3, "bad address 'example.com:443'" },
	{ "tls-alpn a [::1]:1\ntls-alpn b [::1]:1\ntls-alpn c [::1]:1\ntls-alpn d [::1]:1\n"
	  "tls-alpn e [::1]:1\ntls-alpn f [::1]:1\ntls-alpn g [::1]:1\ntls-alpn h [::1]:1\n"
	  "tls-alpn i [::1]:1\ntls-alpn j [::1]:1\ntls-alpn k [::1]:1\ntls-alpn l [::1]:1\n"
	  "tls-alpn m [::1]:1\ntls-alpn n [::1]:1\ntls-alpn o [::1]:1\ntls-alpn p [::1]:1\n"
	  "tls-alpn q [::1]:1\n", 17, "too many tls-alpn lines (global; at most 16)" },
};

START_TEST(test_tls_alpn_bad)
{
	const struct bad_case *t = &alpn_bad_cases[_i];
	struct gh_config *c = (struct gh_config *)1;
	char prefix[32];
	struct errs e;

	ck_assert_int_eq(parse(t->text, &e, &c), -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(e.n == 1, "case %d: expected 1 error, got %u: %s", _i, e.n, e.n ? e.msg[0] : "");
	snprintf(prefix, sizeof(prefix), "test.conf:%u: ", t->line);
	ck_assert_msg(strncmp(e.msg[0], prefix, strlen(prefix)) == 0 && strstr(e.msg[0], t->msg),
		      "case %d: expected line %u '%s' in: %s", _i, t->line, t->msg, e.msg[0]);
}
END_TEST

/* 255 bytes is a protocol, 256 is not */
START_TEST(test_tls_alpn_lengths)
{
	char text[700], proto[300];
	struct gh_config *c;
	struct errs e;

	memset(proto, 'x', 256);
	proto[255] = '\0';
	snprintf(text, sizeof(text), "tls-alpn %s [::1]:1\nsite a.example\n  tls [::1]:2\n", proto);
	c = load(text);
	ck_assert_uint_eq(c->sites[0].alpn[0].protocol_len, 255);
	config_free(c);
	proto[255] = 'x';
	proto[256] = '\0';
	snprintf(text, sizeof(text), "tls-alpn %s [::1]:1\n", proto);
	ck_assert_int_eq(parse(text, &e, &c), -EINVAL);
	ck_assert_msg(e.n == 1 && strstr(e.msg[0], "test.conf:1: bad tls-alpn protocol") &&
		      strstr(e.msg[0], "1 to 255 bytes"), "%s", e.msg[0]);
}
END_TEST

/* source-*: global; off unless a rate or an inspection cap is set;
 * defaults /64 and 65 536 slots */
START_TEST(test_source_limits)
{
	struct gh_config *c;
	struct errs e;

	ck_assert_int_eq(parse(SITE_A, &e, &c), 0);
	ck_assert(!config_source_limits_on(c));
	ck_assert_uint_eq(config_source_v6_prefix(c), 64);
	ck_assert_uint_eq(config_source_slots(c), 65536);
	config_free(c);
	ck_assert_int_eq(parse("source-prefix-v6 48\nsource-table 20000\n" SITE_A, &e, &c), 0);
	ck_assert(!config_source_limits_on(c));	/* grouping and size alone limit nothing */
	ck_assert_uint_eq(config_source_v6_prefix(c), 48);
	ck_assert_uint_eq(config_source_slots(c), 20000);
	config_free(c);
	ck_assert_int_eq(parse("source-rate 30/2m\n" SITE_A, &e, &c), 0);
	ck_assert(config_source_limits_on(c));
	ck_assert_uint_eq(c->src.rate, 30);
	ck_assert_uint_eq(c->src.window_ms, 120000);
	ck_assert_uint_eq(c->src.inspecting, 0);
	config_free(c);
	ck_assert_int_eq(parse("source-inspecting 8\n" SITE_A, &e, &c), 0);
	ck_assert(config_source_limits_on(c));
	ck_assert_uint_eq(c->src.inspecting, 8);
	ck_assert(!config_source_connections_on(c));
	config_free(c);
	/* source-connections: global, per site, or both; no accept-time table */
	ck_assert_int_eq(parse("source-connections 20\n" SITE_A, &e, &c), 0);
	ck_assert(config_source_connections_on(c));
	ck_assert(!config_source_limits_on(c));
	ck_assert_uint_eq(c->src.connections, 20);
	ck_assert_uint_eq(c->sites[0].src_connections, 0);
	config_free(c);
	ck_assert_int_eq(parse(SITE_A "source-connections 4\nsite b.example\n  http [::1]:80\n", &e, &c), 0);
	ck_assert(config_source_connections_on(c));
	ck_assert_uint_eq(c->src.connections, 0);
	ck_assert_uint_eq(c->sites[0].src_connections, 4);
	ck_assert_uint_eq(c->sites[1].src_connections, 0);
	ck_assert(!config_site_rates_on(c));
	config_free(c);
	/* source-rate per site: no accept-time table, a site rate */
	ck_assert_int_eq(parse(SITE_A "source-rate 4/10s\nsite b.example\n  http [::1]:80\n", &e, &c), 0);
	ck_assert(!config_source_limits_on(c));
	ck_assert(config_site_rates_on(c));
	ck_assert_uint_eq(c->sites[0].src_rate, 4);
	ck_assert_uint_eq(c->sites[0].src_window_ms, 10000);
	ck_assert_uint_eq(c->sites[1].src_rate, 0);
	ck_assert_uint_eq(c->src.rate, 0);
	config_free(c);
}
END_TEST

/* allow/deny: global before any site, per site after one; first match in
 * written order; no match allows; IPv4-mapped clients are IPv4 clients. */
static bool allows(const struct gh_acl *acl, const char *addr)
{
	uint8_t a[16];
	int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;

	ck_assert_int_eq(inet_pton(fam, addr, a), 1);
	return config_acl_allows(acl, fam, a);
}

START_TEST(test_acl)
{
	static const char text[] =
		"deny 192.0.2.66 2001:db8:bad::/48\n"
		"site a.example\n"
		"  http [::1]:80\n"
		"  allow 192.0.2.0/24\n"
		"  deny 192.0.2.7\n"		/* after the /24 that allows it: never decides */
		"  allow ::1\n"
		"  deny all\n"
		"site b.example\n"
		"  http [::2]:80\n"
		"  deny 198.51.100.0/24\n"
		"site c.example\n"		/* shares a's server with the same list: fine */
		"  http [::1]:80\n"
		"  allow 192.0.2.0/24\n"
		"  deny 192.0.2.7\n"
		"  allow ::1\n"
		"  deny all\n"
		"site d.example\n"		/* no list: shares with nobody */
		"  tls [::3]:443\n";
	struct gh_config *c;
	struct errs e;

	ck_assert_int_eq(parse(text, &e, &c), 0);
	ck_assert_uint_eq(c->acl.n_rules, 2);
	ck_assert_uint_eq(c->acl.line, 1);
	ck_assert_uint_eq(c->sites[0].acl.n_rules, 5);	/* all: one rule per family */
	ck_assert_uint_eq(c->sites[0].acl.line, 4);
	ck_assert_ptr_null(c->sites[3].acl.set);

	ck_assert(!allows(&c->acl, "192.0.2.66"));
	ck_assert(!allows(&c->acl, "::ffff:192.0.2.66"));
	ck_assert(!allows(&c->acl, "2001:db8:bad:1::5"));
	ck_assert(allows(&c->acl, "192.0.2.67"));
	ck_assert(allows(&c->acl, "2001:db8:bae::1"));

	const struct gh_acl *a = &c->sites[0].acl;
	ck_assert(allows(a, "192.0.2.7"));
	ck_assert(allows(a, "::ffff:192.0.2.200"));
	ck_assert(allows(a, "::1"));
	ck_assert(!allows(a, "192.0.3.1"));
	ck_assert(!allows(a, "::ffff:192.0.3.1"));
	ck_assert(!allows(a, "::2"));
	ck_assert(!allows(a, "127.0.0.1"));

	const struct gh_acl *b = &c->sites[1].acl;
	ck_assert(!allows(b, "198.51.100.9"));
	ck_assert(allows(b, "198.51.101.9"));		/* no match: allowed */
	ck_assert(allows(b, "2001:db8::1"));
	ck_assert(allows(&c->sites[3].acl, "198.51.100.9"));	/* no list */
	config_free(c);
}
END_TEST

/* One list holds at most 1 000 000 prefixes ("all" is two): the line that
 * would pass it is an error, the list up to it is whole. */
START_TEST(test_acl_limit)
{
	const size_t lines = 500001, line_len = sizeof("deny all\n") - 1;
	char *text = malloc(lines * line_len + 1);
	struct gh_config *c;
	struct errs e;

	ck_assert_ptr_nonnull(text);
	for (size_t i = 0; i < lines - 1; i++)
		memcpy(text + i * line_len, "deny all\n", line_len);
	ck_assert_int_eq(parse_len(text, (lines - 1) * line_len, &e, &c), 0);
	ck_assert_uint_eq(c->acl.n_rules, 1000000);
	config_free(c);
	memcpy(text + (lines - 1) * line_len, "deny all\n", line_len);
	ck_assert_int_eq(parse_len(text, lines * line_len, &e, &c), -EINVAL);
	ck_assert_uint_eq(e.n, 1);
	ck_assert_str_eq(e.msg[0], "test.conf:500001: too many allow/deny prefixes in one list (at most 1000000)");
	free(text);
}
END_TEST

/* source-prefix: global, per site, `off`; the address an IPv4 client's
 * relay leaves from is the prefix with the client's address as its last
 * 32 bits, v4-mapped clients too; IPv6 clients and sites without get none */
static const char *src_of(const struct gh_config *c, const char *site, int family, const char *client)
{
	static char out[INET6_ADDRSTRLEN];
	uint8_t a[16] = { 0 };
	struct sockaddr_in6 sa;

	ck_assert_int_eq(inet_pton(family, client, a), 1);
	if (!config_source_addr(c, site_index(c, site), family, a, &sa))
		return "-";
	ck_assert_int_eq(sa.sin6_family, AF_INET6);
	ck_assert_int_eq(sa.sin6_port, 0);
	return inet_ntop(AF_INET6, &sa.sin6_addr, out, sizeof(out));
}

START_TEST(test_source_prefix)
{
	struct gh_config *c = load("source-prefix 2001:db8:ff::/96\n"
				   "site a.example\n  http [2001:db8::1]:80\n"
				   "site b.example\n  http [2001:db8::2]:80\n  source-prefix fd00:1:2:3:4:5::/96\n"
				   "site c.example\n  http [2001:db8::3]:80\n  source-prefix off\n"
				   "site d.example\n  http 192.0.2.4:80\n  source-prefix off\n");

	ck_assert_str_eq(src_of(c, "a.example", AF_INET, "203.0.113.5"), "2001:db8:ff::cb00:7105");
	ck_assert_str_eq(src_of(c, "a.example", AF_INET6, "::ffff:203.0.113.5"), "2001:db8:ff::cb00:7105");
	ck_assert_str_eq(src_of(c, "a.example", AF_INET, "255.255.255.255"), "2001:db8:ff::ffff:ffff");
	ck_assert_str_eq(src_of(c, "a.example", AF_INET6, "2001:db8:1::5"), "-");
	ck_assert_str_eq(src_of(c, "b.example", AF_INET, "127.0.0.1"), "fd00:1:2:3:4:5:7f00:1");
	ck_assert_str_eq(src_of(c, "c.example", AF_INET, "127.0.0.1"), "-");
	ck_assert_str_eq(src_of(c, "d.example", AF_INET, "127.0.0.1"), "-");
	ck_assert(config_uses_source_prefix(c));
	ck_assert(!config_source_addr(c, 99, AF_INET, (const uint8_t *)"\x7f\0\0\1", NULL));
	config_free(c);

	c = load("site a.example\n  http 192.0.2.1:80\nsite b.example\n  http [2001:db8::1]:80\n");
	ck_assert_str_eq(src_of(c, "b.example", AF_INET, "127.0.0.1"), "-");
	ck_assert(!config_uses_source_prefix(c));
	config_free(c);
}
END_TEST

static const struct bad_case source_prefix_bad_cases[] = {
	{ "source-prefix\n", 1, "'source-prefix': missing argument (usage: source-prefix IPV6-PREFIX/96|off)" },
	{ "source-prefix 2001:db8:ff::\n", 1, "bad source-prefix '2001:db8:ff::': an IPv6 /96" },
	{ "source-prefix 2001:db8:ff::/64\n", 1, "the length must be /96" },
	{ "source-prefix 2001:db8:ff::/128\n", 1, "the length must be /96" },
	{ "source-prefix 2001:db8:ff::/960\n", 1, "the length must be /96" },
	{ "source-prefix 2001:db8:ff::/12345\n", 1, "an IPv6 /96 such as 2001:db8:ff::/96, or off" },
	{ "source-prefix 192.0.2.0/24\n", 1, "it must be IPv6" },
	{ "source-prefix nope/96\n", 1, "not an IPv6 address" },
	{ "source-prefix 2001:db8:ff::1/96\n", 1, "bits set past /96" },
	{ "source-prefix ::/96\n", 1, "::/96 holds the unspecified" },
	{ "source-prefix ::ffff:0:0/96\n", 1, "IPv4-mapped" },
	{ "source-prefix 64:ff9b::/96\n", 1, "NAT64's well-known prefix" },
	{ "source-prefix ff02::/96\n", 1, "multicast" },
	{ "source-prefix fe80::/96\n", 1, "link-local" },
	{ "source-prefix off\nsource-prefix 2001:db8:ff::/96\n", 2, "'source-prefix' already set at line 1" },
	{ SITE_A "  source-prefix off\n  source-prefix off\n", 4, "'source-prefix' already set at line 3" },
	{ "source-prefix 2001:db8:ff::/96\nsite a.example\n  http 192.0.2.1:80\n", 1,
	  "site 'a.example' takes its source addresses from this source-prefix, but its http server "
	  "192.0.2.1:80 is IPv4 (use IPv6 servers, or 'source-prefix off' in the site)" },
	{ "site a.example\n  tls [2001:db8::1]:443\n  tls-alpn acme-tls/1 192.0.2.1:443\n  source-prefix fd00::/96\n", 4,
	  "its tls-alpn server 192.0.2.1:443 is IPv4" },
	{ "tls-alpn acme-tls/1 192.0.2.1:443\nsite a.example\n  tls [2001:db8::1]:443\n  source-prefix fd00::/96\n", 4,
	  "its global tls-alpn server 192.0.2.1:443 is IPv4" },
};

START_TEST(test_source_prefix_bad)
{
	const struct bad_case *t = &source_prefix_bad_cases[_i];
	struct gh_config *c = (struct gh_config *)1;
	char prefix[32];
	struct errs e;

	ck_assert_int_eq(parse(t->text, &e, &c), -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(e.n == 1, "case %d: expected 1 error, got %u: %s", _i, e.n, e.n ? e.msg[0] : "");
	snprintf(prefix, sizeof(prefix), "test.conf:%u: ", t->line);
	ck_assert_msg(strncmp(e.msg[0], prefix, strlen(prefix)) == 0 && strstr(e.msg[0], t->msg),
		      "case %d: expected line %u '%s' in: %s", _i, t->line, t->msg, e.msg[0]);
}
END_TEST

/* accept-proxy: before any site, prefixes of both families; a peer in it
 * is trusted to send a PROXY header, any other (and every peer without
 * the directive) is a direct client. */
static bool trusted(const struct gh_config *c, const char *addr)
{
	uint8_t a[16];
	int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;

	ck_assert_int_eq(inet_pton(fam, addr, a), 1);
	return config_proxy_trusted(c, NULL, fam, a);
}

START_TEST(test_accept_proxy)
{
	static const char text[] =
		"accept-proxy 10.0.0.0/8 2001:db8::/32\n"
		"accept-proxy 127.0.0.1\n"
		"listen http [::]:80\n"
		"site a.example\n"
		"  http [::1]:80\n";
	struct gh_config *c;
	struct errs e;

	ck_assert_int_eq(parse(text, &e, &c), 0);
	ck_assert_uint_eq(c->accept_proxy.n_rules, 3);
	ck_assert(trusted(c, "10.1.2.3"));
	ck_assert(trusted(c, "::ffff:10.1.2.3"));
	ck_assert(trusted(c, "127.0.0.1"));
	ck_assert(trusted(c, "2001:db8:1::5"));
	ck_assert(!trusted(c, "127.0.0.2"));
	ck_assert(!trusted(c, "11.0.0.1"));
	ck_assert(!trusted(c, "2001:db9::1"));
	config_free(c);

	ck_assert_int_eq(parse("listen http [::]:80\nsite a.example\n  http [::1]:80\n", &e, &c), 0);
	ck_assert(!trusted(c, "127.0.0.1"));
	config_free(c);
}
END_TEST

START_TEST(test_accept_proxy_errors)
{
	struct gh_config *c;
	struct errs e;

	ck_assert_int_eq(parse("accept-proxy 10.0.0.0/33\n", &e, &c), -EINVAL);
	ck_assert_msg(e.n == 1 && strstr(e.msg[0], "test.conf:1: bad prefix '10.0.0.0/33' for 'accept-proxy'"),
		      "%s", e.n ? e.msg[0] : "");
	ck_assert_int_eq(parse("accept-proxy\n", &e, &c), -EINVAL);
	ck_assert_msg(e.n == 1 && strstr(e.msg[0], "test.conf:1:"), "%s", e.n ? e.msg[0] : "");
	ck_assert_int_eq(parse("site a.example\n  http [::1]:80\n  accept-proxy 10.0.0.1\n", &e, &c),
			 -EINVAL);
	ck_assert_msg(e.n == 1 && strstr(e.msg[0], "test.conf:3: 'accept-proxy' applies to every listen"),
		      "%s", e.n ? e.msg[0] : "");
}
END_TEST

static const struct gh_listen *at(const struct gh_config *c, const char *addr, unsigned port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		ck_assert_int_eq(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
	}
	return config_listen_at(c, (const struct sockaddr *)&ss);
}

static bool trusted_on(const struct gh_config *c, const struct gh_listen *on, const char *addr)
{
	uint8_t a[16];
	int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;

	ck_assert_int_eq(inet_pton(fam, addr, a), 1);
	return config_proxy_trusted(c, on, fam, a);
}

/* `listen KIND ADDRESS accept-proxy CIDR...`: that listen's own balancers,
 * on top of the global list; a connection's listen is found from the
 * address it reached, exact first, then the wildcard of its port. */
START_TEST(test_listen_accept_proxy)
{
	static const char text[] =
		"accept-proxy 192.0.2.1\n"
		"listen tls 10.0.0.5:443 accept-proxy 10.1.0.0/16 2001:db8:ba1::/48\n"
		"listen tls [::]:443\n"
		"listen http 0.0.0.0:80\n"
		"listen http [::1]:8080 accept-proxy ::1\n"
		"site a.example\n"
		"  http [::1]:80\n";
	const struct gh_listen *bal, *pub, *h80, *h8080;
	struct gh_config *c;
	struct errs e;

	ck_assert_int_eq(parse(text, &e, &c), 0);
	ck_assert_uint_eq(c->n_listens, 4);
	bal = &c->listens[0], pub = &c->listens[1], h80 = &c->listens[2], h8080 = &c->listens[3];
	ck_assert_uint_eq(bal->proxy.n_rules, 2);
	ck_assert_uint_eq(pub->proxy.n_rules, 0);
	/* where a connection came in */
	ck_assert_ptr_eq(at(c, "10.0.0.5", 443), bal);
	ck_assert_ptr_eq(at(c, "::ffff:10.0.0.5", 443), bal);
	ck_assert_ptr_eq(at(c, "10.0.0.6", 443), pub);
	ck_assert_ptr_eq(at(c, "2001:db8::1", 443), pub);
	ck_assert_ptr_eq(at(c, "203.0.113.1", 80), h80);
	ck_assert_ptr_eq(at(c, "::ffff:203.0.113.1", 80), h80);
	ck_assert_ptr_null(at(c, "2001:db8::1", 80));	/* 0.0.0.0 is IPv4 only */
	ck_assert_ptr_eq(at(c, "::1", 8080), h8080);
	ck_assert_ptr_null(at(c, "::2", 8080));
	ck_assert_ptr_null(at(c, "10.0.0.5", 444));
	/* the listen's own list and the global one, nothing else */
	ck_assert(trusted_on(c, bal, "10.1.2.3"));
	ck_assert(trusted_on(c, bal, "2001:db8:ba1::7"));
	ck_assert(trusted_on(c, bal, "192.0.2.1"));
	ck_assert(!trusted_on(c, pub, "10.1.2.3"));
	ck_assert(trusted_on(c, pub, "192.0.2.1"));
	ck_assert(!trusted_on(c, NULL, "10.1.2.3"));
	ck_assert(trusted_on(c, h8080, "::1"));
	ck_assert(!trusted_on(c, h80, "::1"));
	config_free(c);

	/* [::] takes IPv4 too unless 0.0.0.0 has the port */
	ck_assert_int_eq(parse("listen tls [::]:443\nlisten http [::]:80 accept-proxy ::1\nsite a.example\n  http [::1]:80\n",
			       &e, &c), 0);
	ck_assert_ptr_eq(at(c, "203.0.113.1", 443), &c->listens[0]);
	ck_assert_ptr_eq(at(c, "::ffff:203.0.113.1", 80), &c->listens[1]);
	config_free(c);

	ck_assert_int_eq(parse("listen tls [::]:443 proxy 10.0.0.0/8\n", &e, &c), -EINVAL);
	ck_assert_msg(e.n == 1 && strstr(e.msg[0], "test.conf:1: unknown listen option 'proxy'"), "%s",
		      e.n ? e.msg[0] : "");
	ck_assert_int_eq(parse("listen tls [::]:443 accept-proxy\n", &e, &c), -EINVAL);
	ck_assert_msg(e.n == 1 && strstr(e.msg[0], "test.conf:1: 'listen ... accept-proxy' needs at least one CIDR"),
		      "%s", e.n ? e.msg[0] : "");
	ck_assert_int_eq(parse("\nlisten tls [::]:443 accept-proxy 10.0.0.0/40\n", &e, &c), -EINVAL);
	ck_assert_msg(e.n == 1 && strstr(e.msg[0], "test.conf:2: bad prefix '10.0.0.0/40' for 'accept-proxy'"),
		      "%s", e.n ? e.msg[0] : "");
}
END_TEST

/* direct-clients serve|refuse: serve by default; refuse needs balancers
 * to be named, or it would refuse every client. */
START_TEST(test_direct_clients)
{
	static const char site[] = "site a.example\n  http [::1]:80\n";
	struct gh_config *c;
	struct errs e;
	char text[256];

	ck_assert_int_eq(parse(site, &e, &c), 0);
	ck_assert(!c->refuse_direct);
	config_free(c);
	snprintf(text, sizeof(text), "accept-proxy 10.0.0.0/8\ndirect-clients refuse\n%s", site);
	ck_assert_int_eq(parse(text, &e, &c), 0);
	ck_assert(c->refuse_direct);
	config_free(c);
	/* the order of the two lines does not matter */
	snprintf(text, sizeof(text), "direct-clients refuse\naccept-proxy 10.0.0.0/8\n%s", site);
	ck_assert_int_eq(parse(text, &e, &c), 0);
	ck_assert(c->refuse_direct);
	config_free(c);
	snprintf(text, sizeof(text), "accept-proxy 10.0.0.0/8\ndirect-clients serve\n%s", site);
	ck_assert_int_eq(parse(text, &e, &c), 0);
	ck_assert(!c->refuse_direct);
	config_free(c);

	/* refuse acts on the listens that have balancers, and only them */
	snprintf(text, sizeof(text),
		 "direct-clients refuse\nlisten tls [::]:443\nlisten tls 10.0.0.5:8443 accept-proxy 10.1.0.0/16\n%s",
		 site);
	ck_assert_int_eq(parse(text, &e, &c), 0);
	ck_assert(!config_proxy_refuses(c, &c->listens[0]));
	ck_assert(config_proxy_refuses(c, &c->listens[1]));
	ck_assert(!config_proxy_refuses(c, NULL));
	config_free(c);

	snprintf(text, sizeof(text), "direct-clients refuse\n%s", site);
	ck_assert_int_eq(parse(text, &e, &c), -EINVAL);
	ck_assert_msg(e.n == 1 && strstr(e.msg[0], "test.conf:1: 'direct-clients refuse' without 'accept-proxy'"),
		      "%s", e.n ? e.msg[0] : "");
	snprintf(text, sizeof(text), "accept-proxy 10.0.0.0/8\ndirect-clients maybe\n%s", site);
	ck_assert_int_eq(parse(text, &e, &c), -EINVAL);
	ck_assert_msg(e.n == 1 && strstr(e.msg[0], "test.conf:2: bad direct-clients 'maybe' (serve or refuse)"),
		      "%s", e.n ? e.msg[0] : "");
	snprintf(text, sizeof(text), "accept-proxy 10.0.0.0/8\ndirect-clients refuse\ndirect-clients serve\n%s", site);
	ck_assert_int_eq(parse(text, &e, &c), -EINVAL);
	ck_assert_msg(e.n == 1 && strstr(e.msg[0], "test.conf:3: 'direct-clients' already set at line 2"),
		      "%s", e.n ? e.msg[0] : "");
	snprintf(text, sizeof(text), "accept-proxy 10.0.0.0/8\n%s  direct-clients refuse\n", site);
	ck_assert_int_eq(parse(text, &e, &c), -EINVAL);
	ck_assert_msg(e.n == 1 && strstr(e.msg[0], "test.conf:4: 'direct-clients' applies to every listen"),
		      "%s", e.n ? e.msg[0] : "");
}
END_TEST

Suite *make_config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("good");

	tcase_add_test(tc, test_design_example);
	tcase_add_test(tc, test_design_routing);
	tcase_add_test(tc, test_crlf_and_tabs);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_listen);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_extensions_and_modes);
	tcase_add_test(tc, test_default_site);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_comments);
	tcase_add_test(tc, test_acl);
	tcase_add_test(tc, test_quic);
	suite_add_tcase(s, tc);

	tc = tcase_create("bad");
	tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, test_tls_alpn);
	tcase_add_test(tc, test_tls_alpn_lengths);
	tcase_add_loop_test(tc, test_tls_alpn_bad, 0,
			    (int)(sizeof(alpn_bad_cases) / sizeof(alpn_bad_cases[0])));
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_many_errors);
	tcase_add_test(tc, test_quoting);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_acl_limit);
	tcase_add_test(tc, test_source_prefix);
	tcase_add_loop_test(tc, test_source_prefix_bad, 0,
			    (int)(sizeof(source_prefix_bad_cases) / sizeof(source_prefix_bad_cases[0])));
	tcase_add_test(tc, test_source_limits);
	tcase_add_test(tc, test_accept_proxy);
	tcase_add_test(tc, test_accept_proxy_errors);
	tcase_add_test(tc, test_listen_accept_proxy);
	tcase_add_test(tc, test_direct_clients);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_load_too_big);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_loop_test(tc, test_duration, 0,
			    (int)(sizeof(duration_cases) / sizeof(duration_cases[0])));
	tcase_add_loop_test(tc, test_addr, 0, (int)(sizeof(addr_cases) / sizeof(addr_cases[0])));
	suite_add_tcase(s, tc);
	return s;
}
