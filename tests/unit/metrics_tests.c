/* SPDX-License-Identifier: MIT */
/*
 * The exporter's view of the pages (metrics/pages.c, render.c): what a page
 * says is bounded by the exporter's own config and the launcher's word,
 * pages not sealed are refused, and a daemon's figures outlive it.
 */
#include <check.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "common/counters.h"
#include "metrics/pages.h"
#include "metrics/render.h"
#include "tests/unit/suites.h"

static const char conf1[] = "site a.example\n  http [::1]:80\nsite b.example\n  http [::1]:81\n";
static const char conf2[] = "site c.example\n  http [::1]:82\n";

static int snapshot(const char *text)
{
	int fd = memfd_create("conf", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

static void config_msg(struct pages *ps, uint32_t gen, const char *text)
{
	struct ctr_msg m = { .type = CTR_MSG_CONFIG, .gen = gen };
	pages_apply(ps, &m, snapshot(text));
}

static void page_msg(struct pages *ps, uint32_t gen, int32_t pid, uint32_t role, int fd)
{
	struct ctr_msg m = { .type = CTR_MSG_PAGE, .gen = gen, .pid = pid, .role = role };
	pages_apply(ps, &m, fd);
}

static bool rendered(const struct pages *ps, const char *line)
{
	struct mbuf b = { 0 };
	render_metrics(ps, 1, &b);
	ck_assert(!b.failed);
	mbuf_printf(&b, "%c", '\0');
	bool found = strstr(b.p, line) != NULL;
	mbuf_free(&b);
	return found;
}

/* A forwarder page that claims a million sites is read for the two its
 * config has; the counts land under the config's names. */
START_TEST(test_page_bounded_by_config)
{
	struct pages ps = { 0 };
	struct gh_counters *c;
	int fd = counters_page(CTR_FORWARDER, 2, &c);
	ck_assert_int_ge(fd, 0);
	ctr_add(&c->sites[1].conns[GH_KIND_HTTP][0], 5);
	ctr_add(&c->sites[1].bytes_in, 77);
	c->n_sites = 1000000;	/* a hostile writer */
	config_msg(&ps, 1, conf1);
	page_msg(&ps, 1, 100, CTR_FORWARDER, fd);
	ck_assert_uint_eq(ps.n_pages, 1);
	ck_assert_uint_eq(ps.pages[0].n_sites, 2);
	ck_assert(rendered(&ps, "gatehouse_connections_total{site=\"b.example\",kind=\"http\",result=\"ok\"} 5\n"));
	ck_assert(rendered(&ps, "gatehouse_bytes_total{site=\"b.example\",direction=\"in\"} 77\n"));
	ck_assert(rendered(&ps, "gatehouse_relays{generation=\"1\",forwarder=\"0\"} 0\n"));
	pages_free(&ps);
	munmap(c, counters_size(2));
}
END_TEST

/* A page that could be shrunk (SIGBUS) or written by another mapping is
 * refused; so is one for a generation the exporter has no config of. */
START_TEST(test_unsealed_page_refused)
{
	struct pages ps = { 0 };
	config_msg(&ps, 1, conf1);
	int fd = memfd_create("plain", MFD_CLOEXEC);
	ck_assert_int_eq(ftruncate(fd, (off_t)counters_size(2)), 0);
	page_msg(&ps, 1, 100, CTR_FORWARDER, fd);
	ck_assert_uint_eq(ps.n_pages, 0);
	struct gh_counters *c;
	fd = counters_page(CTR_FORWARDER, 2, &c);
	page_msg(&ps, 7, 101, CTR_FORWARDER, fd);
	ck_assert_uint_eq(ps.n_pages, 0);
	pages_free(&ps);
	munmap(c, counters_size(2));
}
END_TEST

/* The role is the launcher's word: a listener's page that says
 * "forwarder" and carries site figures adds none of them. */
START_TEST(test_role_from_launcher)
{
	struct pages ps = { 0 };
	struct gh_counters *c;
	int fd = counters_page(CTR_FORWARDER, 2, &c);
	ctr_add(&c->sites[0].conns[GH_KIND_HTTP][0], 9);
	ctr_add(&c->handed_off, 3);
	config_msg(&ps, 1, conf1);
	page_msg(&ps, 1, 100, CTR_LISTENER, fd);
	ck_assert(rendered(&ps, "gatehouse_connections_total{site=\"a.example\",kind=\"http\",result=\"ok\"} 0\n"));
	ck_assert(rendered(&ps, "gatehouse_handoffs_total 3\n"));
	pages_free(&ps);
	munmap(c, counters_size(2));
}
END_TEST

/* A daemon gone keeps its figures in the totals, by site name, through a
 * reload that drops its site; the new generation's sites start at 0. */
START_TEST(test_carried_over)
{
	struct pages ps = { 0 };
	struct gh_counters *c;
	int fd = counters_page(CTR_FORWARDER, 2, &c);
	config_msg(&ps, 1, conf1);
	page_msg(&ps, 1, 100, CTR_FORWARDER, fd);
	ctr_add(&c->sites[0].conns[GH_KIND_TLS][counters_index(ctr_result_names, CTR_RESULTS, "connect_failed")], 4);
	config_msg(&ps, 2, conf2);
	struct ctr_msg gone = { .type = CTR_MSG_GONE, .pid = 100 };
	pages_apply(&ps, &gone, -1);
	ck_assert_uint_eq(ps.n_pages, 0);
	ck_assert_uint_eq(ps.n_gens, 1);	/* generation 1 is forgotten */
	ck_assert(rendered(&ps, "gatehouse_connections_total{site=\"a.example\",kind=\"tls\",result=\"connect_failed\"} 4\n"));
	ck_assert(rendered(&ps, "gatehouse_connections_total{site=\"c.example\",kind=\"http\",result=\"ok\"} 0\n"));
	ck_assert(rendered(&ps, "gatehouse_generation 2\n"));
	pages_free(&ps);
	munmap(c, counters_size(2));
}
END_TEST

/* Results and answers outside the lists count as "other". */
START_TEST(test_unknown_result_is_other)
{
	ck_assert_str_eq(ctr_result_names[counters_index(ctr_result_names, CTR_RESULTS, "made_up")], "other");
	ck_assert_str_eq(ctr_answer_names[counters_index(ctr_answer_names, CTR_ANSWERS, "no_route")], "no_route");
	ck_assert_str_eq(ctr_answer_names[counters_index(ctr_answer_names, CTR_ANSWERS, "")], "other");
}
END_TEST

Suite *make_metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("pages");
	tcase_add_test(tc, test_page_bounded_by_config);
	tcase_add_test(tc, test_unsealed_page_refused);
	tcase_add_test(tc, test_role_from_launcher);
	tcase_add_test(tc, test_carried_over);
	tcase_add_test(tc, test_unknown_result_is_other);
	suite_add_tcase(s, tc);
	return s;
}
