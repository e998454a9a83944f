/* SPDX-License-Identifier: MIT */
/* Health checks (issue #16.3): the `check` lines and what they resolve
 * to, rise and fall, the verdict on an answer, the checker's ClientHello
 * (read back by the listener's own parser), the page's seals and its key,
 * and the forwarder's pick skipping servers the page has down. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "suites.h"
#include "common/clock.h"
#include "common/health.h"
#include "forwarder/dial.h"
#include "forwarder/state.h"
#include "health/hello.h"
#include "health/page.h"
#include "health/tally.h"
#include "health/verdict.h"
#include "router/config.h"
#include "router/tls_hello.h"

struct errs {
	unsigned n;
	char msg[8][512];
};

static void collect(void *userdata, const char *message)
{
	struct errs *e = userdata;

	if (e->n < 8)
		snprintf(e->msg[e->n], sizeof(e->msg[0]), "%s", message);
	e->n++;
}

static struct gh_config *load(const char *text)
{
	struct gh_config *c = NULL;
	struct errs e = { 0 };
	int r = config_parse("t.conf", text, strlen(text), collect, &e, &c);

	ck_assert_msg(r == 0, "expected success: %s", e.n ? e.msg[0] : "(no message)");
	return c;
}

static void refused(const char *text, const char *want)
{
	struct gh_config *c = NULL;
	struct errs e = { 0 };
	int r = config_parse("t.conf", text, strlen(text), collect, &e, &c);

	ck_assert_int_eq(r, -EINVAL);
	ck_assert_msg(e.n >= 1 && strstr(e.msg[0], want), "want '%s', got '%s'", want, e.n ? e.msg[0] : "");
}

static const char rules[] =
	"check inter 1s\n"
	"site a.example\n"
	"    http [2001:db8::1]:80 [2001:db8::2]:80\n"
	"    tls [2001:db8::1]:443\n"
	"    check http-status 204 http-path /hc rise 3 fall 2 tls-hello\n"
	"    check [2001:db8::2]:80 off\n"
	"site b.example\n"
	"    http [2001:db8::1]:80\n"
	"site c.example\n"
	"    http [2001:db8::9]:80\n"
	"    check off\n";

START_TEST(check_lines_resolve_most_specific_first)
{
	struct gh_config *c = load(rules);
	uint32_t a1 = config_server_check(c, 0, GH_KIND_HTTP, 0, 0);
	uint32_t atls = config_server_check(c, 0, GH_KIND_TLS, 0, 0);
	uint32_t b1 = config_server_check(c, 1, GH_KIND_HTTP, 0, 0);

	ck_assert_uint_eq(c->n_checks, 3);
	/* the site's line: its options, only what fits each kind */
	ck_assert_uint_ne(a1, GH_NO_CHECK);
	ck_assert_uint_eq(c->checks[a1].opts.http_status, 204);
	ck_assert_str_eq(c->checks[a1].opts.http_path, "/hc");
	ck_assert(!c->checks[a1].opts.tls_hello);
	ck_assert_uint_eq(c->checks[a1].opts.rise, 3);
	ck_assert_uint_eq(c->checks[a1].opts.inter_ms, 2000);	/* the site's line replaces the global one */
	ck_assert(c->checks[atls].opts.tls_hello);
	ck_assert_uint_eq(c->checks[atls].opts.http_status, 0);
	/* a server's own line */
	ck_assert_uint_eq(config_server_check(c, 0, GH_KIND_HTTP, 0, 1), GH_NO_CHECK);
	/* the global line, for a site without its own: same address, other
	 * options, so another target */
	ck_assert_uint_ne(b1, a1);
	ck_assert_uint_eq(c->checks[b1].opts.inter_ms, 1000);
	ck_assert_uint_eq(c->checks[b1].opts.http_status, 0);
	ck_assert_uint_eq(c->checks[b1].opts.fall, 3);	/* HAProxy's defaults */
	ck_assert_uint_eq(c->checks[b1].opts.rise, 2);
	ck_assert_uint_eq(config_server_check(c, 2, GH_KIND_HTTP, 0, 0), GH_NO_CHECK);	/* check off */
	ck_assert_uint_eq(config_check_max_inter(c), 2000);
	config_free(c);
}
END_TEST

START_TEST(same_server_same_check_is_one_target)
{
	struct gh_config *c = load("check\nsite a\n http [::1]:80\nsite b\n http [::1]:80\n");

	ck_assert_uint_eq(c->n_checks, 1);
	ck_assert_uint_eq(config_server_check(c, 0, GH_KIND_HTTP, 0, 0), 0);
	ck_assert_uint_eq(config_server_check(c, 1, GH_KIND_HTTP, 0, 0), 0);
	config_free(c);
	/* an HTTP check sends the site's name: one per site */
	c = load("check http-status 200\nsite a\n http [::1]:80\nsite b\n http [::1]:80\n");
	ck_assert_uint_eq(c->n_checks, 2);
	config_free(c);
}
END_TEST

START_TEST(checks_id_follows_the_server_list)
{
	struct gh_config *a = load("check\nsite a\n http [::1]:80 [::1]:81\n");
	struct gh_config *b = load("check\nsite a\n http [::1]:81 [::1]:80\n");
	struct gh_config *a2 = load("check\nsite a\n http [::1]:80 [::1]:81\n");
	struct gh_config *none = load("site a\n http [::1]:80\n");

	ck_assert_uint_ne(a->checks_id, b->checks_id);
	ck_assert_uint_eq(a->checks_id, a2->checks_id);
	ck_assert_uint_eq(none->n_checks, 0);
	ck_assert_ptr_null(none->sites[0].check_of[GH_KIND_HTTP]);
	config_free(a);
	config_free(b);
	config_free(a2);
	config_free(none);
}
END_TEST

/* quic servers are not checked: a TCP connect says nothing of a UDP
 * service, so they get no target and `check ADDR` cannot name one */
START_TEST(quic_servers_not_checked)
{
	struct gh_config *c = load("check\nsite a\n tls [::1]:443\n quic [::1]:8443\n");

	ck_assert_uint_eq(c->n_checks, 1);
	ck_assert_uint_eq(c->checks[0].kind, GH_KIND_TLS);
	ck_assert_ptr_null(c->sites[0].check_of[GH_KIND_QUIC]);
	ck_assert_uint_eq(config_server_check(c, 0, GH_KIND_QUIC, 0, 0), GH_NO_CHECK);
	config_free(c);
	refused("site a\n tls [::1]:443\n quic [::1]:8443\n check [::1]:8443\n", "not a server of site 'a'");
}
END_TEST

START_TEST(check_errors)
{
	refused("site a\n http [::1]:80\n check [::1]:81\n", "not a server of site 'a'");
	refused("check [::1]:80\nsite a\n http [::1]:80\n", "belongs inside its site");
	refused("check inter 50ms\nsite a\n http [::1]:80\n", "100ms to 1h");
	refused("check rise 0\nsite a\n http [::1]:80\n", "'rise' takes 1 to 100");
	refused("check fall 101\nsite a\n http [::1]:80\n", "'fall' takes 1 to 100");
	refused("check http-status 600\nsite a\n http [::1]:80\n", "100 to 599");
	refused("check http-path x\nsite a\n http [::1]:80\n", "must start with '/'");
	refused("check off inter 1s\nsite a\n http [::1]:80\n", "takes no options");
	refused("check\ncheck\nsite a\n http [::1]:80\n", "already set for every site");
	refused("site a\n http [::1]:80\n check\n check rise 3\n", "already set for this site");
	refused("check inter\nsite a\n http [::1]:80\n", "'inter' needs a value");
	refused("check sometimes\nsite a\n http [::1]:80\n", "neither an option");
}
END_TEST

START_TEST(tally_rise_and_fall)
{
	struct tally t;

	tally_init(&t);
	ck_assert_int_eq(tally_add(&t, true, 3, 2), TALLY_SAME);	/* first answer: up, nothing to say */
	ck_assert_uint_eq(t.state, HEALTH_UP);
	ck_assert_int_eq(tally_add(&t, false, 3, 2), TALLY_SAME);
	ck_assert_int_eq(tally_add(&t, true, 3, 2), TALLY_SAME);	/* a success resets the run */
	ck_assert_int_eq(tally_add(&t, false, 3, 2), TALLY_SAME);
	ck_assert_int_eq(tally_add(&t, false, 3, 2), TALLY_DOWN);
	ck_assert_uint_eq(t.state, HEALTH_DOWN);
	ck_assert_int_eq(tally_add(&t, true, 3, 2), TALLY_SAME);
	ck_assert_int_eq(tally_add(&t, true, 3, 2), TALLY_SAME);
	ck_assert_int_eq(tally_add(&t, false, 3, 2), TALLY_SAME);	/* and a failure resets it */
	ck_assert_int_eq(tally_add(&t, true, 3, 2), TALLY_SAME);
	ck_assert_int_eq(tally_add(&t, true, 3, 2), TALLY_SAME);
	ck_assert_int_eq(tally_add(&t, true, 3, 2), TALLY_UP);
	ck_assert_uint_eq(t.state, HEALTH_UP);
	/* never answered: fall failures take it down from the start */
	tally_init(&t);
	ck_assert_int_eq(tally_add(&t, false, 1, 1), TALLY_DOWN);
}
END_TEST

START_TEST(verdicts)
{
	struct gh_check http = { .http_status = 200 }, tls = { .tls_hello = true }, plain = { 0 };
	const char *why = NULL;
	static const uint8_t ok[] = "HTTP/1.1 200 OK\r\n", bad[] = "HTTP/1.0 503 Busy\r\n", junk[] = "SSH-2.0-x\r\n\r\n";
	static const uint8_t sh[] = { 22, 3, 3, 0, 90, 2, 0 }, alert[] = { 21, 3, 3, 0, 2, 2, 40 };

	ck_assert_int_eq(verdict_of(&plain, GH_KIND_HTTP, NULL, 0, 0, &why), VERDICT_OK);
	ck_assert_int_eq(verdict_of(&http, GH_KIND_HTTP, ok, 5, 0, &why), VERDICT_MORE);
	ck_assert_int_eq(verdict_of(&http, GH_KIND_HTTP, ok, 5, 1, &why), VERDICT_BAD);
	ck_assert_int_eq(verdict_of(&http, GH_KIND_HTTP, ok, sizeof(ok) - 1, 0, &why), VERDICT_OK);
	ck_assert_int_eq(verdict_of(&http, GH_KIND_HTTP, bad, sizeof(bad) - 1, 0, &why), VERDICT_BAD);
	ck_assert_str_eq(why, "unexpected HTTP status");
	ck_assert_int_eq(verdict_of(&http, GH_KIND_HTTP, junk, sizeof(junk) - 1, 0, &why), VERDICT_BAD);
	ck_assert_int_eq(verdict_of(&tls, GH_KIND_TLS, sh, sizeof(sh), 0, &why), VERDICT_OK);
	ck_assert_int_eq(verdict_of(&tls, GH_KIND_TLS, sh, 5, 0, &why), VERDICT_MORE);
	ck_assert_int_eq(verdict_of(&tls, GH_KIND_TLS, alert, sizeof(alert), 0, &why), VERDICT_BAD);
	ck_assert_str_eq(why, "TLS alert instead of a ServerHello");
	ck_assert_int_eq(verdict_of(&tls, GH_KIND_TLS, ok, sizeof(ok) - 1, 0, &why), VERDICT_BAD);
}
END_TEST

START_TEST(hello_reads_back)
{
	uint8_t buf[1024];
	struct tls_hello h;
	size_t n = hello_build("www.example.net", 42, buf, sizeof(buf));

	ck_assert_uint_gt(n, 100);
	ck_assert_int_eq(tls_hello_parse(buf, n, &h), TLS_HELLO_DONE);
	ck_assert(h.has_sni);
	ck_assert_str_eq(h.sni, "www.example.net");
	ck_assert_uint_eq(hello_build("www.example.net", 42, buf, 50), 0);	/* no room: nothing */
}
END_TEST

START_TEST(page_sealed_and_keyed)
{
	struct gh_config *a = load("check\nsite a\n http [::1]:80 [::1]:81\n");
	struct gh_config *b = load("check\nsite a\n http [::1]:81 [::1]:80\n");
	struct gh_health_page *pg = NULL;
	struct health_view v;
	int fd = page_create(a, &pg);

	ck_assert_int_ge(fd, 0);
	/* nobody but the writer's own mapping writes it */
	ck_assert_ptr_eq(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED);
	ck_assert_int_lt(write(fd, "x", 1), 0);
	ck_assert_int_lt(ftruncate(fd, 0), 0);
	/* another server list: refused, not read against the wrong servers */
	ck_assert_int_eq(health_view_open(&v, fd, b), -ESTALE);
	ck_assert_ptr_null(v.page);
	ck_assert_int_eq(health_view_open(&v, fd, a), 0);
	uint64_t now = clock_now_ms();
	page_set(pg, 1, HEALTH_DOWN, 1);
	ck_assert(!health_down(&v, 1, now));	/* no heartbeat yet: no word from the checker */
	page_beat(pg, now);
	ck_assert(health_down(&v, 1, now));
	ck_assert(!health_down(&v, 0, now));
	ck_assert(!health_down(&v, GH_NO_CHECK, now));
	ck_assert(!health_down(&v, 2, now));	/* out of range */
	ck_assert(!health_down(&v, 1, now + v.stale_ms + 1));	/* the checker went quiet */
	health_view_close(&v);
	close(fd);
	config_free(a);
	config_free(b);
}
END_TEST

START_TEST(page_unsealed_refused)
{
	struct gh_config *a = load("check\nsite a\n http [::1]:80\n");
	struct health_view v;
	int fd = memfd_create("fake", MFD_ALLOW_SEALING);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)health_page_size(1)), 0);
	ck_assert_int_eq(health_view_open(&v, fd, a), -EPERM);
	close(fd);
	config_free(a);
}
END_TEST

START_TEST(pick_skips_down_servers)
{
	struct gh_config *c = load("check\nsite a\n http [::1]:80 [::1]:81 [::1]:82\n");
	struct gh_health_page *pg = NULL;
	struct health_view v;
	struct fserver_state st[3] = { { .check = 0 }, { .check = 1 }, { .check = 2 } };
	uint32_t rr = 0;
	uint64_t now = clock_now_ms();
	int fd = page_create(c, &pg);

	ck_assert_int_eq(health_view_open(&v, fd, c), 0);
	page_beat(pg, now);
	page_set(pg, 1, HEALTH_DOWN, 1);
	for (int i = 0; i < 6; i++)
		ck_assert_int_ne(dial_pick(st, 3, &rr, 0, now, &v), 1);
	/* failover tries the up ones only, then gives up */
	rr = 0;
	ck_assert_int_eq(dial_pick(st, 3, &rr, 0, now, &v), 0);
	ck_assert_int_eq(dial_pick(st, 3, &rr, 1, now, &v), 2);
	st[0].avoid_until_ms = st[2].avoid_until_ms = now + 1000;	/* both just failed */
	ck_assert_int_eq(dial_pick(st, 3, &rr, 2, now, &v), -1);
	/* every one down: nothing to try, at once */
	page_set(pg, 0, HEALTH_DOWN, 1);
	page_set(pg, 2, HEALTH_DOWN, 1);
	ck_assert_int_eq(dial_pick(st, 3, &rr, 0, now, &v), -1);
	/* without a page (or a stale one) every server counts */
	ck_assert_int_ge(dial_pick(st, 3, &rr, 0, now, NULL), 0);
	ck_assert_int_ge(dial_pick(st, 3, &rr, 0, now + v.stale_ms + 1, &v), 0);
	health_view_close(&v);
	close(fd);
	config_free(c);
}
END_TEST

Suite *make_health_suite(void)
{
	Suite *s = suite_create("health");
	TCase *tc = tcase_create("health");

	tcase_add_test(tc, check_lines_resolve_most_specific_first);
	tcase_add_test(tc, same_server_same_check_is_one_target);
	tcase_add_test(tc, checks_id_follows_the_server_list);
	tcase_add_test(tc, check_errors);
	tcase_add_test(tc, quic_servers_not_checked);
	tcase_add_test(tc, tally_rise_and_fall);
	tcase_add_test(tc, verdicts);
	tcase_add_test(tc, hello_reads_back);
	tcase_add_test(tc, page_sealed_and_keyed);
	tcase_add_test(tc, page_unsealed_refused);
	tcase_add_test(tc, pick_skips_down_servers);
	suite_add_tcase(s, tc);
	return s;
}
