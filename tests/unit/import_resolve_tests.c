/* SPDX-License-Identifier: MIT */
/*
 * import-haproxy's resolver (cli/import_resolve.h) on small models built
 * here by hand, as the reader would leave them: which backends become
 * which sites, and the defaults of each kind. And one run of the whole
 * import (cli/import_haproxy.h) for what it prints.
 */
#include <stdlib.h>
#include <string.h>
#include "suites.h"
#include "cli/import_haproxy.h"
#include "cli/import_resolve.h"

struct model {
	struct hx x;
	char *msgs;
	size_t msgs_len;
	FILE *err;
};

static void model_init(struct model *m)
{
	m->msgs = NULL;
	m->err = open_memstream(&m->msgs, &m->msgs_len);
	ck_assert_ptr_nonnull(m->err);
	hx_init(&m->x, "t.cfg", m->err);
}

static void model_free(struct model *m)
{
	hx_free(&m->x);
	fclose(m->err);
	free(m->msgs);
}

/* what the resolver said, so far */
static const char *said(struct model *m)
{
	fflush(m->err);
	return m->msgs ? m->msgs : "";
}

static struct hx_proxy *proxy(struct model *m, const char *name, bool fe, bool be, bool tcp)
{
	struct hx_proxy *p = calloc(1, sizeof(*p));

	ck_assert_ptr_nonnull(p);
	p->name = hx_strdup(name);
	p->line = (unsigned)m->x.n_px * 10 + 1;
	p->fe = fe;
	p->be = be;
	p->tcp = tcp;
	m->x.px = hx_grow(m->x.px, m->x.n_px + 1, sizeof(*m->x.px));
	m->x.px[m->x.n_px++] = p;
	return p;
}

static struct hx_proxy *frontend(struct model *m, const char *name, bool tcp, unsigned port)
{
	struct hx_proxy *p = proxy(m, name, true, false, tcp);
	bool odd;
	char a[16];

	snprintf(a, sizeof(a), ":%u", port);
	p->binds = hx_grow(NULL, 1, sizeof(*p->binds));
	memset(p->binds, 0, sizeof(*p->binds));
	ck_assert_ptr_null(hx_parse_addr(a, true, &p->binds[0].a, &odd));
	p->binds[0].line = p->line + 1;
	p->n_binds = 1;
	p->hello_rule = tcp;
	return p;
}

/* use_backend PREFIX%[...]SUFFIX */
static void rule(struct hx_proxy *p, const char *prefix, const char *suffix, bool lower)
{
	p->rules = hx_grow(p->rules, p->n_rules + 1, sizeof(*p->rules));
	p->rules[p->n_rules] = (struct hx_rule){
		.prefix = hx_strdup(prefix), .suffix = hx_strdup(suffix), .lower = lower,
		.line = p->line + 2,
	};
	p->n_rules++;
}

static void backend(struct model *m, const char *name, bool tcp, const char *server)
{
	struct hx_proxy *p = proxy(m, name, false, true, tcp);
	bool odd;

	p->servers = hx_grow(NULL, 1, sizeof(*p->servers));
	memset(p->servers, 0, sizeof(*p->servers));
	ck_assert_ptr_null(hx_parse_addr(server, false, &p->servers[0].a, &odd));
	p->servers[0].name = hx_strdup("s");
	p->servers[0].line = p->line + 1;
	p->n_servers = 1;
	p->server_lines = 1;
}

static const struct hx_site *site(const struct model *m, const char *name)
{
	for (size_t i = 0; i < m->x.n_sites; i++)
		if (!strcmp(m->x.sites[i].name, name))
			return &m->x.sites[i];
	return NULL;
}

/* The seed's setup: NAME_http and NAME_tls join in one site NAME. */
START_TEST(test_names_join)
{
	struct model m;
	const struct hx_site *s;

	model_init(&m);
	rule(frontend(&m, "web", false, 80), "", "_http", true);
	rule(frontend(&m, "tls", true, 443), "", "_tls", true);
	backend(&m, "test1.example.net_http", false, "2601:40e:69:69:0:0:0:feed:80");
	backend(&m, "test1.example.net_tls", true, "[2601:40e:69:69::feed]:443");
	backend(&m, "test2.example.net_tls", true, "[2001:db8::2]:443");
	backend(&m, "unused_backend", true, "[2001:db8::3]:443");
	hx_resolve(&m.x);

	ck_assert_uint_eq(m.x.kinds[GH_KIND_HTTP].n_fe, 1);
	ck_assert_uint_eq(m.x.kinds[GH_KIND_TLS].n_fe, 1);
	ck_assert_uint_eq(m.x.kinds[GH_KIND_HTTP].port, 80);
	ck_assert_uint_eq(m.x.n_sites, 2);
	s = site(&m, "test1.example.net");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->be[GH_KIND_HTTP]->name, "test1.example.net_http");
	ck_assert_str_eq(s->be[GH_KIND_TLS]->name, "test1.example.net_tls");
	s = site(&m, "test2.example.net");
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_null(s->be[GH_KIND_HTTP]);
	ck_assert_ptr_null(hx_default_site(&m.x, GH_KIND_TLS));
	ck_assert_uint_eq(m.x.n_essential, 0);
	ck_assert_ptr_nonnull(strstr(said(&m), "t.cfg:51: note: backend 'unused_backend' is reached by no translated frontend rule"));
	model_free(&m);
}
END_TEST

/* A name the rule's `lower` never produces, and one that is no host name. */
START_TEST(test_names_left_out)
{
	struct model m;

	model_init(&m);
	rule(frontend(&m, "tls", true, 443), "be_", "", true);
	backend(&m, "be_Www.example.net", true, "[2001:db8::1]:443");
	backend(&m, "be_a..b", true, "[2001:db8::2]:443");
	backend(&m, "be_*.example.net", true, "[2001:db8::3]:443");
	backend(&m, "be_ok.example.net", true, "[2001:db8::4]:443");
	hx_resolve(&m.x);

	ck_assert_uint_eq(m.x.n_sites, 1);
	ck_assert_ptr_nonnull(site(&m, "ok.example.net"));
	ck_assert_ptr_nonnull(strstr(said(&m), "backend 'be_Www.example.net': the rule at line 3 lowercases names"));
	ck_assert_ptr_nonnull(strstr(said(&m), "backend 'be_a..b': 'a..b'"));
	ck_assert_ptr_nonnull(strstr(said(&m), "it would match other names"));
	ck_assert_uint_eq(m.x.n_essential, 0);
	model_free(&m);
}
END_TEST

/* Defaults reached by no name get a site under .invalid; with one for
 * each kind, the first must still be the site it was when the second is
 * added. */
START_TEST(test_default_sites)
{
	struct model m;

	model_init(&m);
	frontend(&m, "web", false, 80)->default_backend = hx_strdup("Fallback_HTTP");
	frontend(&m, "tls", true, 443)->default_backend = hx_strdup("fb_tls");
	backend(&m, "Fallback_HTTP", false, "[2001:db8::80]:80");
	backend(&m, "fb_tls", true, "[2001:db8::443]:443");
	hx_resolve(&m.x);

	ck_assert_uint_eq(m.x.n_sites, 2);
	for (int k = 0; k < GH_KIND_TCP_COUNT; k++) {
		const struct hx_site *s = hx_default_site(&m.x, (enum gh_kind)k);

		ck_assert_ptr_nonnull(s);
		ck_assert(s >= m.x.sites && s < m.x.sites + m.x.n_sites);
		ck_assert(s->synthetic);
		ck_assert_str_eq(s->name, k == GH_KIND_HTTP ? "fallback_http.invalid" : "fb_tls.invalid");
		ck_assert_ptr_eq(s->be[k], hx_find(&m.x, k == GH_KIND_HTTP ? "Fallback_HTTP" : "fb_tls", true));
	}
	ck_assert_uint_eq(m.x.n_essential, 0);
	model_free(&m);
}
END_TEST

/* Two frontends of one kind that route differently: gatehouse has one
 * table per kind, so the second is left out, essentially. */
START_TEST(test_frontends_disagree)
{
	struct model m;

	model_init(&m);
	rule(frontend(&m, "a", true, 443), "", "_tls", false);
	rule(frontend(&m, "b", true, 8443), "", "_other", false);
	backend(&m, "x.example_tls", true, "[2001:db8::1]:443");
	hx_resolve(&m.x);

	ck_assert_uint_eq(m.x.kinds[GH_KIND_TLS].n_fe, 1);
	ck_assert_str_eq(m.x.kinds[GH_KIND_TLS].fe[0]->name, "a");
	ck_assert_uint_eq(m.x.n_essential, 1);
	ck_assert_ptr_nonnull(strstr(said(&m), "t.cfg:11: cannot translate: frontend 'b' routes differently from frontend 'a' (line 1)"));
	model_free(&m);
}
END_TEST

/* Nothing to stand in for: a mode tcp frontend that waits for no
 * ClientHello and routes by nothing. */
START_TEST(test_no_frontend)
{
	struct model m;
	struct hx_proxy *p;

	model_init(&m);
	p = frontend(&m, "raw", true, 25);
	p->hello_rule = false;
	hx_resolve(&m.x);

	ck_assert_uint_eq(m.x.kinds[GH_KIND_TLS].n_fe, 0);
	ck_assert_uint_eq(m.x.n_essential, 2);
	ck_assert_ptr_nonnull(strstr(said(&m), "t.cfg: cannot translate: no frontend gatehouse can stand in for"));
	model_free(&m);
}
END_TEST

/* The whole import on a config whose names hold control bytes (HAProxy
 * refuses them, gatehouse reads them): neither the config printed nor the
 * messages pass them on raw, so an ESC or CR in a file can't drive the
 * terminal of whoever runs the import. */
START_TEST(test_no_control_bytes)
{
	static char cfg[] =
		"frontend tls\n"
		"    mode tcp\n"
		"    bind :443 \"opt\033[2J\"\n"
		"    bind :443\n"
		"    tcp-request content accept if { req_ssl_hello_type 1 }\n"
		"    default_backend \"b\033[2J\r\"\n"
		"backend \"b\033[2J\r\"\n"
		"    mode tcp\n"
		"    server \"s\033]0;x\007\" [2001:db8::1]:443\n"
		"backend \"u\t\001\"\n";
	char *out = NULL, *err = NULL;
	size_t out_len = 0, err_len = 0;
	FILE *in = fmemopen(cfg, sizeof(cfg) - 1, "r");
	FILE *o = open_memstream(&out, &out_len), *e = open_memstream(&err, &err_len);

	ck_assert(in && o && e);
	ck_assert_int_eq(import_haproxy("t.cfg", in, o, e), 1);
	fclose(in);
	fclose(o);
	fclose(e);
	/* the names are there, each control byte as '?' */
	ck_assert_ptr_nonnull(strstr(out, "server s?]0;x? (backend b?[2J?)"));
	ck_assert_ptr_nonnull(strstr(err, "unknown bind option 'opt?[2J'"));
	ck_assert_ptr_nonnull(strstr(err, "backend 'u?\?' is reached by no"));
	for (size_t i = 0; i < out_len; i++)
		ck_assert_msg(out[i] == '\n' || (out[i] >= 0x20 && out[i] != 0x7f), "stdout byte %zu: %#x", i, out[i]);
	for (size_t i = 0; i < err_len; i++)
		ck_assert_msg(err[i] == '\n' || (err[i] >= 0x20 && err[i] != 0x7f), "stderr byte %zu: %#x", i, err[i]);
	free(out);
	free(err);
}
END_TEST

Suite *make_import_resolve_suite(void)
{
	Suite *s = suite_create("import_resolve");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_names_join);
	tcase_add_test(tc, test_names_left_out);
	tcase_add_test(tc, test_default_sites);
	tcase_add_test(tc, test_frontends_disagree);
	tcase_add_test(tc, test_no_frontend);
	suite_add_tcase(s, tc);
	tc = tcase_create("import");
	tcase_add_test(tc, test_no_control_bytes);
	suite_add_tcase(s, tc);
	return s;
}
