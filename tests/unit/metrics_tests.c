/* SPDX-License-Identifier: MIT */
/*
 * The exporter's view of the pages (metrics/pages.c, render.c): what a page
 * says is bounded by the exporter's own config and the launcher's word,
 * pages not sealed are refused, and a daemon's figures outlive it.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/counters.h"
#include "health/page.h"
#include "metrics/pages.h"
#include "metrics/peers.h"
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
	int fd = counters_page(CTR_FORWARDER, 2, 0, &c);
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
	munmap(c, counters_size(2, 0));
}
END_TEST

/* A page that could be shrunk (SIGBUS) or written by another mapping is
 * refused; so is one for a generation the exporter has no config of. */
START_TEST(test_unsealed_page_refused)
{
	struct pages ps = { 0 };
	config_msg(&ps, 1, conf1);
	int fd = memfd_create("plain", MFD_CLOEXEC);
	ck_assert_int_eq(ftruncate(fd, (off_t)counters_size(2, 0)), 0);
	page_msg(&ps, 1, 100, CTR_FORWARDER, fd);
	ck_assert_uint_eq(ps.n_pages, 0);
	struct gh_counters *c;
	fd = counters_page(CTR_FORWARDER, 2, 0, &c);
	page_msg(&ps, 7, 101, CTR_FORWARDER, fd);
	ck_assert_uint_eq(ps.n_pages, 0);
	pages_free(&ps);
	munmap(c, counters_size(2, 0));
}
END_TEST

/* The role is the launcher's word: a listener's page that says
 * "forwarder" and carries site figures adds none of them. */
START_TEST(test_role_from_launcher)
{
	struct pages ps = { 0 };
	struct gh_counters *c;
	int fd = counters_page(CTR_FORWARDER, 2, 0, &c);
	ctr_add(&c->sites[0].conns[GH_KIND_HTTP][0], 9);
	ctr_add(&c->handed_off, 3);
	config_msg(&ps, 1, conf1);
	page_msg(&ps, 1, 100, CTR_LISTENER, fd);
	ck_assert(rendered(&ps, "gatehouse_connections_total{site=\"a.example\",kind=\"http\",result=\"ok\"} 0\n"));
	ck_assert(rendered(&ps, "gatehouse_handoffs_total 3\n"));
	pages_free(&ps);
	munmap(c, counters_size(2, 0));
}
END_TEST

/* A daemon gone keeps its figures in the totals, by site name, through a
 * reload that drops its site; the new generation's sites start at 0. */
START_TEST(test_carried_over)
{
	struct pages ps = { 0 };
	struct gh_counters *c;
	int fd = counters_page(CTR_FORWARDER, 2, 0, &c);
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
	munmap(c, counters_size(2, 0));
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

/*
 * Under systemd the daemons bring their pages themselves
 * (common/counters_offer.c -> metrics/peers.c), over real sockets here:
 * the exporter's two listening page sockets in a scratch directory.
 */
struct sd_exporter {
	char dir[64], lpath[96], fpath[96];
	int epfd;
	struct peers pr;
	struct pages ps;
};

static int listen_at(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	/* blocking, as systemd passes them */
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	return fd;
}

static void sd_start(struct sd_exporter *x)
{
	memset(x, 0, sizeof(*x));
	snprintf(x->dir, sizeof(x->dir), "/tmp/gh-peers.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(x->dir));
	snprintf(x->lpath, sizeof(x->lpath), "%s/l.sock", x->dir);
	snprintf(x->fpath, sizeof(x->fpath), "%s/f.sock", x->dir);
	peers_init(&x->pr);
	x->pr.sock[0] = listen_at(x->lpath);
	x->pr.sock[1] = listen_at(x->fpath);
	x->epfd = epoll_create1(EPOLL_CLOEXEC);
	ck_assert_int_ge(x->epfd, 0);
	ck_assert_int_eq(peers_watch(&x->pr, x->epfd), 0);
}

/* The exporter's loop, until the pages it holds number n (epoll is the
 * readiness signal; a second without an event fails the test). */
static void sd_until_pages(struct sd_exporter *x, unsigned n)
{
	for (int rounds = 0; x->ps.n_pages != n && rounds < 50; rounds++) {
		struct epoll_event evs[8];
		int k = epoll_wait(x->epfd, evs, 8, 1000);
		ck_assert_int_gt(k, 0);
		for (int i = 0; i < k; i++)
			peers_event(&x->pr, x->epfd, &x->ps, evs[i].data.u64, evs[i].events);
	}
	ck_assert_uint_eq(x->ps.n_pages, n);
}

static void sd_stop(struct sd_exporter *x)
{
	close(x->pr.sock[0]);
	close(x->pr.sock[1]);
	x->pr.sock[0] = x->pr.sock[1] = -1;
	peers_free(&x->pr);
	pages_free(&x->ps);
	close(x->epfd);
	unlink(x->lpath);
	unlink(x->fpath);
	rmdir(x->dir);
}

/* A forwarder offers its page with its config: the exporter names its
 * sites from that config, numbers the generations by config text (the
 * same text joins, a new one is a reload), and keeps a forwarder's
 * figures once its connection ends (the daemon exited). */
START_TEST(test_systemd_forwarder_pages)
{
	struct sd_exporter x;
	struct gh_counters *c1, *c2, *c3;
	sd_start(&x);
	int k1 = counters_offer(x.fpath, CTR_FORWARDER, counters_page(CTR_FORWARDER, 2, 0, &c1), snapshot(conf1));
	ck_assert_int_ge(k1, 0);
	sd_until_pages(&x, 1);
	ctr_add(&c1->sites[1].conns[GH_KIND_TLS][0], 3);
	ctr_add(&c1->sites[1].bytes_out, 500);
	ck_assert(rendered(&x.ps, "gatehouse_connections_total{site=\"b.example\",kind=\"tls\",result=\"ok\"} 3\n"));
	ck_assert(rendered(&x.ps, "gatehouse_relays{generation=\"1\",forwarder=\"0\"} 0\n"));
	int k2 = counters_offer(x.fpath, CTR_FORWARDER, counters_page(CTR_FORWARDER, 2, 0, &c2), snapshot(conf1));
	sd_until_pages(&x, 2);
	ck_assert(rendered(&x.ps, "gatehouse_relays{generation=\"1\",forwarder=\"1\"} 0\n"));
	int k3 = counters_offer(x.fpath, CTR_FORWARDER, counters_page(CTR_FORWARDER, 1, 0, &c3), snapshot(conf2));
	sd_until_pages(&x, 3);
	ck_assert(rendered(&x.ps, "gatehouse_relays{generation=\"2\",forwarder=\"0\"} 0\n"));
	ck_assert(rendered(&x.ps, "gatehouse_reloads_total 1\n"));
	ck_assert(rendered(&x.ps, "gatehouse_connections_total{site=\"c.example\",kind=\"http\",result=\"ok\"} 0\n"));
	close(k1);	/* the first forwarder exits */
	sd_until_pages(&x, 2);
	ck_assert(rendered(&x.ps, "gatehouse_connections_total{site=\"b.example\",kind=\"tls\",result=\"ok\"} 3\n"));
	ck_assert(rendered(&x.ps, "gatehouse_bytes_total{site=\"b.example\",direction=\"out\"} 500\n"));
	close(k2);
	close(k3);
	sd_until_pages(&x, 0);
	sd_stop(&x);
	munmap(c1, counters_size(2, 0));
	munmap(c2, counters_size(2, 0));
	munmap(c3, counters_size(1, 0));
}
END_TEST

/* The role is the socket's: a page on the listeners' socket that says
 * "forwarder" counts as a listener's (its site figures add nothing), and
 * one that brings a config there is refused. */
START_TEST(test_systemd_role_from_socket)
{
	struct sd_exporter x;
	struct gh_counters *c1, *c2, *cf;
	sd_start(&x);
	int kf = counters_offer(x.fpath, CTR_FORWARDER, counters_page(CTR_FORWARDER, 2, 0, &cf), snapshot(conf1));
	sd_until_pages(&x, 1);
	int k1 = counters_offer(x.lpath, CTR_FORWARDER, counters_page(CTR_FORWARDER, 2, 0, &c1), -1);
	ck_assert_int_ge(k1, 0);
	ctr_add(&c1->sites[0].conns[GH_KIND_HTTP][0], 9);
	ctr_add(&c1->accepted, 4);
	sd_until_pages(&x, 2);
	ck_assert(rendered(&x.ps, "gatehouse_connections_total{site=\"a.example\",kind=\"http\",result=\"ok\"} 0\n"));
	ck_assert(rendered(&x.ps, "gatehouse_accepted_total 4\n"));
	ck_assert(!rendered(&x.ps, "forwarder=\"1\""));
	int k2 = counters_offer(x.lpath, CTR_LISTENER, counters_page(CTR_LISTENER, 2, 0, &c2), snapshot(conf2));
	ck_assert_int_ge(k2, 0);
	close(k2);	/* its hang-up comes after the message: both are seen */
	for (int i = 0; i < 4; i++) {
		struct epoll_event evs[8];
		int k = epoll_wait(x.epfd, evs, 8, 200);
		for (int j = 0; j < k; j++)
			peers_event(&x.pr, x.epfd, &x.ps, evs[j].data.u64, evs[j].events);
	}
	ck_assert_uint_eq(x.ps.n_pages, 2);
	ck_assert(!rendered(&x.ps, "c.example"));
	close(k1);
	close(kf);
	sd_until_pages(&x, 0);
	sd_stop(&x);
	munmap(c1, counters_size(2, 0));
	munmap(c2, counters_size(2, 0));
	munmap(cf, counters_size(2, 0));
}
END_TEST

/* Under systemd the exporter has no launcher to hand it the checker's
 * page: a forwarder brings the one it took from gatehouse-health with its
 * counters, and the scrape says which servers are down. A page not
 * sealed is not taken (the one the generation has stays). */
START_TEST(test_systemd_forwarder_brings_health_page)
{
	static const char conf[] = "check\nsite h.example\n  http [::1]:80 [::1]:81\n";
	struct gh_config *cfg = NULL;
	ck_assert_int_eq(config_parse("h.conf", conf, strlen(conf), NULL, NULL, &cfg), 0);
	struct gh_health_page *pg = NULL;
	int hfd = page_create(cfg, &pg);
	ck_assert_int_ge(hfd, 0);
	page_set(pg, cfg->sites[0].check_of[GH_KIND_HTTP][1], HEALTH_DOWN, 1);
	page_beat(pg, clock_now_ms());
	struct sd_exporter x;
	struct gh_counters *c1, *c2;
	sd_start(&x);
	int k1 = counters_offer_fds(x.fpath, CTR_FORWARDER, counters_page(CTR_FORWARDER, 1, 0, &c1), snapshot(conf), hfd);
	ck_assert_int_ge(k1, 0);
	sd_until_pages(&x, 1);
	ck_assert(rendered(&x.ps, "gatehouse_server_up{site=\"h.example\",kind=\"http\",server=\"[::1]:80\"} 1\n"));
	ck_assert(rendered(&x.ps, "gatehouse_server_up{site=\"h.example\",kind=\"http\",server=\"[::1]:81\"} 0\n"));
	/* a second forwarder of that generation with an unsealed "page" */
	int fake = memfd_create("fake", MFD_CLOEXEC);
	ck_assert_int_eq(ftruncate(fake, (off_t)health_page_size((uint32_t)cfg->n_checks)), 0);
	int k2 = counters_offer_fds(x.fpath, CTR_FORWARDER, counters_page(CTR_FORWARDER, 1, 0, &c2), snapshot(conf), fake);
	ck_assert_int_ge(k2, 0);
	sd_until_pages(&x, 2);
	ck_assert(rendered(&x.ps, "server=\"[::1]:81\"} 0\n"));
	close(fake);
	close(k1);
	close(k2);
	sd_until_pages(&x, 0);
	sd_stop(&x);
	munmap(c1, counters_size(1, 0));
	munmap(c2, counters_size(1, 0));
	close(hfd);
	config_free(cfg);
}
END_TEST

/* The daemon's end of the connection is shut for reading: the exporter
 * cannot even queue a byte for it. */
START_TEST(test_systemd_offer_one_way)
{
	struct sd_exporter x;
	struct gh_counters *c;
	sd_start(&x);
	int k = counters_offer(x.lpath, CTR_LISTENER, counters_page(CTR_LISTENER, 0, 0, &c), -1);
	ck_assert_int_ge(k, 0);
	sd_until_pages(&x, 1);
	int theirs = -1;
	for (unsigned i = 0; i < PEERS_MAX; i++)
		if (x.pr.p[i].fd >= 0)
			theirs = x.pr.p[i].fd;
	ck_assert_int_ge(theirs, 0);
	errno = 0;
	ck_assert_int_eq(send(theirs, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL), -1);
	ck_assert_int_eq(errno, EPIPE);
	close(k);
	sd_until_pages(&x, 0);
	sd_stop(&x);
	munmap(c, counters_size(0, 0));
}
END_TEST

/* No socket at GATEHOUSE_COUNTERS_SOCKET (metrics off), or `gatehouse run`
 * as the launcher: nothing is offered. */
START_TEST(test_systemd_offer_path)
{
	unsetenv("GATEHOUSE_METRICS");
	setenv("GATEHOUSE_COUNTERS_SOCKET", "/nonexistent/gatehouse-counters.sock", 1);
	ck_assert_ptr_null(counters_offer_path());
	setenv("GATEHOUSE_COUNTERS_SOCKET", "/", 1);
	ck_assert_str_eq(counters_offer_path(), "/");
	setenv("GATEHOUSE_METRICS", "1", 1);
	ck_assert_ptr_null(counters_offer_path());
	unsetenv("GATEHOUSE_METRICS");
	unsetenv("GATEHOUSE_COUNTERS_SOCKET");
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
	tc = tcase_create("systemd");
	tcase_add_test(tc, test_systemd_forwarder_pages);
	tcase_add_test(tc, test_systemd_role_from_socket);
	tcase_add_test(tc, test_systemd_offer_one_way);
	tcase_add_test(tc, test_systemd_forwarder_brings_health_page);
	tcase_add_test(tc, test_systemd_offer_path);
	suite_add_tcase(s, tc);
	return s;
}
