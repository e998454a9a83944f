/* SPDX-License-Identifier: MIT */
/* source-connections: where a source is counted (router/srcbucket.h), the
 * forwarders' counts on their load pages (common/load.h) and the
 * listener's decision over them (listener/srcconn.h), with hand-off pages
 * laid out as the forwarders lay them. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "suites.h"
#include "common/load.h"
#include "listener/srcconn.h"
#include "router/config.h"
#include "router/srcbucket.h"

static const uint8_t key[SIPHASH_KEY_LEN] = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6 };

static int fam(const char *a)
{
	return strchr(a, ':') ? AF_INET6 : AF_INET;
}

static struct srcbucket bucket(const uint8_t k[SIPHASH_KEY_LEN], unsigned v6, const char *a, uint32_t site)
{
	uint8_t b[16];
	struct srcbucket out;
	ck_assert_int_eq(inet_pton(fam(a), a, b), 1);
	ck_assert_int_eq(srcbucket_of(k, 32, v6, fam(a), b, site, &out), 0);
	return out;
}

static bool same(struct srcbucket x, struct srcbucket y)
{
	return memcmp(&x, &y, sizeof(x)) == 0;
}

/* A /64 is one source, another /64 another; an IPv4 client is the same
 * source seen plain or v4-mapped; one source has a bucket of its own in
 * every site's rows, and its global buckets do not depend on the site. */
START_TEST(bucket_grouping)
{
	ck_assert(same(bucket(key, 64, "2001:db8:1:2::1", 0), bucket(key, 64, "2001:db8:1:2:ffff::9", 0)));
	ck_assert(!same(bucket(key, 64, "2001:db8:1:2::1", 0), bucket(key, 64, "2001:db8:1:3::1", 0)));
	ck_assert(same(bucket(key, 48, "2001:db8:1:2::1", 0), bucket(key, 48, "2001:db8:1:3::1", 0)));
	ck_assert(same(bucket(key, 64, "192.0.2.7", 0), bucket(key, 64, "::ffff:192.0.2.7", 0)));
	ck_assert(!same(bucket(key, 64, "192.0.2.7", 0), bucket(key, 64, "192.0.2.8", 0)));
	uint8_t other[SIPHASH_KEY_LEN] = { 0 };
	ck_assert(!same(bucket(key, 64, "192.0.2.7", 0), bucket(other, 64, "192.0.2.7", 0)));
	struct srcbucket s0 = bucket(key, 64, "2001:db8::1", 0);
	static uint8_t seen[SRCBUCKET_N];
	memset(seen, 0, sizeof(seen));
	for (uint32_t site = 0; site < 5000; site++) {
		struct srcbucket s = bucket(key, 64, "2001:db8::1", site);
		ck_assert_uint_eq(s.global[0], s0.global[0]);
		ck_assert_uint_eq(s.global[1], s0.global[1]);
		ck_assert_uint_eq(seen[s.site[0]], 0);	/* a bucket of its own per site */
		seen[s.site[0]] = 1;
	}
	struct srcbucket o;
	uint8_t b[16] = { 0 };
	ck_assert_int_eq(srcbucket_of(key, 32, 64, AF_UNIX, b, 0, &o), -1);
}
END_TEST

/* A forwarder's page as load_publish_src() lays it out: the page, then
 * its counts; its own key. */
struct fake_fwd {
	struct gh_load *ld;
	struct gh_load_src *cnt;
	uint32_t received;
};

static void fwd_init(struct fake_fwd *f, uint8_t seed)
{
	char *p = aligned_alloc(LOAD_PAGE, LOAD_PAGE + sizeof(struct gh_load_src));
	ck_assert_ptr_nonnull(p);
	memset(p, 0, LOAD_PAGE + sizeof(struct gh_load_src));
	f->ld = (struct gh_load *)(void *)p;
	f->ld->magic = LOAD_MAGIC;
	f->ld->src_offset = LOAD_PAGE;
	for (unsigned i = 0; i < SIPHASH_KEY_LEN; i++)
		f->ld->src_key[i] = (uint8_t)(seed * 31 + i);
	f->cnt = load_src_mine(f->ld);
	ck_assert_ptr_eq(f->cnt, p + LOAD_PAGE);
	f->received = 0;
}

static struct sockaddr_in6 peer(const char *a)
{
	struct sockaddr_in6 p = { .sin6_family = AF_INET6 };
	if (fam(a) == AF_INET) {
		struct sockaddr_in *p4 = (struct sockaddr_in *)(void *)&p;
		p4->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, a, &p4->sin_addr), 1);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, a, &p.sin6_addr), 1);
	}
	return p;
}

/* What the forwarder does: read n hand-offs (counting each client of
 * source a at site, its own key), then publish `taken`. */
static void fwd_take(struct fake_fwd *f, const struct gh_config *cfg, const char *a, uint32_t site, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct srcbucket b = bucket(f->ld->src_key, config_source_v6_prefix(cfg), a, site);
		load_src_add(f->cnt, &b, cfg->sites[site].src_connections != 0, 1);
	}
	f->received += n;
	atomic_store_explicit(&f->ld->taken, f->received, memory_order_release);
}

static void fwd_end(struct fake_fwd *f, const struct gh_config *cfg, const char *a, uint32_t site)
{
	struct srcbucket b = bucket(f->ld->src_key, config_source_v6_prefix(cfg), a, site);
	load_src_add(f->cnt, &b, cfg->sites[site].src_connections != 0, -1);
}

static enum srcconn_verdict admit_send(struct srcconn *s, const char *a, uint32_t site, unsigned chan)
{
	struct sockaddr_in6 p = peer(a);
	struct srcconn_ticket t;
	enum srcconn_verdict v = srcconn_admit(s, &p, site, &t);
	if (v == SRCCONN_OK)
		srcconn_sent(s, chan, &t);
	return v;
}

static uint32_t held(struct srcconn *s, const char *a, uint32_t site)
{
	struct sockaddr_in6 p = peer(a);
	return srcconn_held(s, &p, site);
}

static struct gh_config *parse_ok(const char *text)
{
	struct gh_config *cfg;
	ck_assert_int_eq(config_parse("t.conf", text, strlen(text), NULL, NULL, &cfg), 0);
	return cfg;
}

/* source-connections 3 over two forwarders: what each holds and what is
 * in flight add up; a relay ending anywhere lets the source in again;
 * another source is not affected; a site's own limit counts that site. */
START_TEST(across_forwarders)
{
	struct gh_config *cfg = parse_ok("source-connections 3\n"
					 "site a.example\n  tls [::1]:443\n"
					 "site b.example\n  tls [::1]:444\n  source-connections 1\n");
	struct srcconn s;
	struct fake_fwd f1, f2;
	const char *A = "2001:db8:a:1::5", *A2 = "2001:db8:a:1::6", *B = "192.0.2.9";

	fwd_init(&f1, 1);
	fwd_init(&f2, 2);
	ck_assert_int_eq(srcconn_init(&s, cfg), 0);
	ck_assert(s.on);
	ck_assert_int_eq(srcconn_add_channel(&s, f1.ld, f1.cnt), 0);
	ck_assert_int_eq(srcconn_add_channel(&s, f2.ld, f2.cnt), 0);

	ck_assert_int_eq(admit_send(&s, A, 0, 0), SRCCONN_OK);
	fwd_take(&f1, cfg, A, 0, 1);
	ck_assert_int_eq(admit_send(&s, A2, 0, 1), SRCCONN_OK);	/* same /64 */
	fwd_take(&f2, cfg, A2, 0, 1);
	ck_assert_uint_eq(held(&s, A, GH_NO_SITE), 2);
	/* the third is sent, not yet taken: it counts all the same */
	ck_assert_int_eq(admit_send(&s, A, 0, 0), SRCCONN_OK);
	ck_assert_uint_eq(held(&s, A, GH_NO_SITE), 3);
	ck_assert_int_eq(admit_send(&s, A, 0, 1), SRCCONN_OVER_GLOBAL);
	ck_assert_int_eq(admit_send(&s, B, 0, 1), SRCCONN_OK);	/* another source */
	fwd_take(&f2, cfg, B, 0, 1);
	/* taken: counted by the forwarder now, no longer here */
	fwd_take(&f1, cfg, A, 0, 1);
	ck_assert_uint_eq(held(&s, A, GH_NO_SITE), 3);
	ck_assert_int_eq(admit_send(&s, A, 0, 0), SRCCONN_OVER_GLOBAL);
	/* one relay ends in the second forwarder: room for one more */
	fwd_end(&f2, cfg, A2, 0);
	ck_assert_uint_eq(held(&s, A, GH_NO_SITE), 2);
	ck_assert_int_eq(admit_send(&s, A, 0, 1), SRCCONN_OK);
	fwd_take(&f2, cfg, A, 0, 1);
	ck_assert_int_eq(admit_send(&s, A, 0, 0), SRCCONN_OVER_GLOBAL);

	/* site b: one connection per source to it, and the global 3 */
	ck_assert_int_eq(admit_send(&s, B, 1, 0), SRCCONN_OK);
	ck_assert_uint_eq(held(&s, B, 1), 1);
	ck_assert_int_eq(admit_send(&s, B, 1, 1), SRCCONN_OVER_SITE);
	fwd_take(&f1, cfg, B, 1, 1);
	ck_assert_int_eq(admit_send(&s, B, 1, 1), SRCCONN_OVER_SITE);
	ck_assert_int_eq(admit_send(&s, B, 0, 1), SRCCONN_OK);	/* site a: global 2 of 3 */
	ck_assert_int_eq(admit_send(&s, A, 1, 1), SRCCONN_OVER_GLOBAL);	/* A is at 3 anyway */
	fwd_end(&f1, cfg, B, 1);
	ck_assert_uint_eq(held(&s, B, 1), 0);
	ck_assert_int_eq(admit_send(&s, B, 1, 1), SRCCONN_OK);

	srcconn_free(&s);
	free(f1.ld);
	free(f2.ld);
	config_free(cfg);
}
END_TEST

/* A ticket dropped before its hand-off is sent gives its place back; a
 * channel gone lets go of what was in flight on it, and of its forwarder's
 * counts (its relays died with it; a page left counted would hold the
 * source's place for good now that the listener outlives a forwarder); a
 * channel that never takes keeps at most SRCCONN_RING in flight counted;
 * a replacement's page counts from then on. */
START_TEST(drop_gone_ring)
{
	struct gh_config *cfg = parse_ok("source-connections 1000\nsite a.example\n  tls [::1]:443\n");
	struct srcconn s;
	struct fake_fwd f1;
	struct srcconn_ticket t;
	struct sockaddr_in6 p = peer("192.0.2.1");

	fwd_init(&f1, 1);
	ck_assert_int_eq(srcconn_init(&s, cfg), 0);
	ck_assert_int_eq(srcconn_add_channel(&s, f1.ld, f1.cnt), 0);
	ck_assert_int_eq(srcconn_admit(&s, &p, 0, &t), SRCCONN_OK);
	ck_assert_uint_eq(held(&s, "192.0.2.1", GH_NO_SITE), 1);
	srcconn_drop(&s, &t);
	srcconn_drop(&s, &t);	/* once only */
	ck_assert_uint_eq(held(&s, "192.0.2.1", GH_NO_SITE), 0);
	for (unsigned i = 0; i < SRCCONN_RING + 10; i++)
		ck_assert_int_eq(admit_send(&s, "192.0.2.1", 0, 0), SRCCONN_OK);
	ck_assert_uint_eq(held(&s, "192.0.2.1", GH_NO_SITE), SRCCONN_RING);
	/* the forwarder takes 20 (the 10 let go plus 10): counted there now */
	fwd_take(&f1, cfg, "192.0.2.1", 0, 20);
	ck_assert_uint_eq(held(&s, "192.0.2.1", GH_NO_SITE), 20 + SRCCONN_RING - 10);
	srcconn_channel_gone(&s, 0);
	ck_assert_uint_eq(held(&s, "192.0.2.1", GH_NO_SITE), 0);
	/* a new forwarder in its place: counted without a page it is not */
	struct fake_fwd f2;
	fwd_init(&f2, 2);
	ck_assert_int_eq(srcconn_channel_back(&s, 0, f2.ld, NULL), -EPROTO);
	ck_assert_int_eq(srcconn_channel_back(&s, 0, f2.ld, f2.cnt), 0);
	ck_assert_int_eq(admit_send(&s, "192.0.2.1", 0, 0), SRCCONN_OK);
	fwd_take(&f2, cfg, "192.0.2.1", 0, 3);
	ck_assert_uint_eq(held(&s, "192.0.2.1", GH_NO_SITE), 3);
	srcconn_free(&s);
	free(f1.ld);
	free(f2.ld);
	config_free(cfg);
}
END_TEST

/* With the limit on, a forwarder whose page has no counts (or no page)
 * cannot be counted and is refused; with it off, nothing is needed. */
START_TEST(pages_required)
{
	struct gh_config *on = parse_ok("site a.example\n  tls [::1]:443\n  source-connections 5\n");
	struct gh_config *off = parse_ok("source-rate 5/1s\nsite a.example\n  tls [::1]:443\n");
	struct srcconn s;
	struct fake_fwd f1;
	struct srcconn_ticket t;
	struct sockaddr_in6 p = peer("192.0.2.1");

	fwd_init(&f1, 1);
	ck_assert_int_eq(srcconn_init(&s, on), 0);
	ck_assert_int_eq(srcconn_add_channel(&s, f1.ld, NULL), -EPROTO);
	ck_assert_int_eq(srcconn_add_channel(&s, NULL, NULL), -EPROTO);
	srcconn_free(&s);
	ck_assert_int_eq(srcconn_init(&s, off), 0);
	ck_assert(!s.on);
	ck_assert_int_eq(srcconn_add_channel(&s, NULL, NULL), 0);
	ck_assert_int_eq(srcconn_admit(&s, &p, 0, &t), SRCCONN_OK);
	ck_assert(!t.held);
	srcconn_free(&s);
	free(f1.ld);
	config_free(on);
	config_free(off);
}
END_TEST

/* Collisions only over-count: 3 000 sources holding 0-3 connections each,
 * spread over two forwarders; every figure is at least the truth, and
 * nearly all are exact. */
START_TEST(collisions_overcount_only)
{
	struct gh_config *cfg = parse_ok("source-connections 100\nsite a.example\n  tls [::1]:443\n");
	struct srcconn s;
	struct fake_fwd f[2];
	enum { N = 3000 };
	static unsigned truth[N];
	char a[64];

	fwd_init(&f[0], 1);
	fwd_init(&f[1], 2);
	ck_assert_int_eq(srcconn_init(&s, cfg), 0);
	ck_assert_int_eq(srcconn_add_channel(&s, f[0].ld, f[0].cnt), 0);
	ck_assert_int_eq(srcconn_add_channel(&s, f[1].ld, f[1].cnt), 0);
	srand(7);
	for (unsigned i = 0; i < N; i++) {
		snprintf(a, sizeof(a), "2001:db8:%x:%x::1", i >> 8, i & 0xff);
		truth[i] = (unsigned)rand() % 4;
		for (unsigned k = 0; k < truth[i]; k++)
			fwd_take(&f[rand() % 2], cfg, a, 0, 1);
	}
	unsigned exact = 0;
	for (unsigned i = 0; i < N; i++) {
		snprintf(a, sizeof(a), "2001:db8:%x:%x::1", i >> 8, i & 0xff);
		uint32_t h = held(&s, a, GH_NO_SITE);
		ck_assert_uint_ge(h, truth[i]);
		exact += h == truth[i];
	}
	ck_assert_uint_ge(exact, N * 95 / 100);
	srcconn_free(&s);
	free(f[0].ld);
	free(f[1].ld);
	config_free(cfg);
}
END_TEST

/* The real page over a real channel: published with counts and a key,
 * received read-only with them; without counts, received without. */
START_TEST(page_over_channel)
{
	int ch[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ch), 0);
	struct gh_load *mine = load_publish_src(ch[0], 7, true);
	ck_assert_ptr_nonnull(mine);
	struct gh_load_src *w = load_src_mine(mine);
	ck_assert_ptr_nonnull(w);
	const struct gh_load_src *r;
	const struct gh_load *ld = load_receive_src(ch[1], 1000, &r);
	ck_assert_ptr_nonnull(ld);
	ck_assert_ptr_nonnull(r);
	static const uint8_t zero[SIPHASH_KEY_LEN];
	ck_assert(memcmp(ld->src_key, zero, sizeof(zero)) != 0);
	struct srcbucket b = bucket(mine->src_key, 64, "192.0.2.1", 0);
	load_src_add(w, &b, true, 1);
	load_src_add(w, &b, true, 1);
	ck_assert_uint_eq(load_src_held(r, &b, false), 2);
	ck_assert_uint_eq(load_src_held(r, &b, true), 2);
	load_src_add(w, &b, false, -1);
	ck_assert_uint_eq(load_src_held(r, &b, false), 1);

	ck_assert_ptr_nonnull(load_publish_src(ch[0], 7, false));
	ld = load_receive_src(ch[1], 1000, &r);
	ck_assert_ptr_nonnull(ld);
	ck_assert_ptr_null(r);
	close(ch[0]);
	close(ch[1]);
}
END_TEST

Suite *make_srcconn_suite(void)
{
	Suite *s = suite_create("srcconn");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, bucket_grouping);
	tcase_add_test(tc, across_forwarders);
	tcase_add_test(tc, drop_gone_ring);
	tcase_add_test(tc, pages_required);
	tcase_add_test(tc, collisions_overcount_only);
	tcase_add_test(tc, page_over_channel);
	suite_add_tcase(s, tc);
	return s;
}
