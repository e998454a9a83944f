/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/log.h"
#include "health/hello.h"
#include "health/page.h"
#include "health/probe.h"
#include "health/tally.h"
#include "health/verdict.h"

/* a check may take as long as its interval, and no longer than a
 * client's connect may (connect-timeout) */
static uint32_t timeout_of(const struct checker *k, const struct gh_check_target *t)
{
	return t->opts.inter_ms < k->cfg->connect_timeout_ms ? t->opts.inter_ms : k->cfg->connect_timeout_ms;
}

static void say_change(struct checker *k, uint32_t i, enum tally_change ch)
{
	const struct gh_check_target *t = &k->cfg->checks[i];
	const struct target *tg = &k->t[i];
	const char *site = k->cfg->sites[t->site].name;
	const char *result = ch == TALLY_DOWN ? "server_down" : "server_up";
	char reason[160], msg[512];

	if (ch == TALLY_DOWN)
		snprintf(reason, sizeof(reason), "%s%s%s (%u failed check%s in a row)", tg->last_why,
			 tg->last_errno ? ": " : "", tg->last_errno ? strerror(tg->last_errno) : "", t->opts.fall,
			 t->opts.fall == 1 ? "" : "s");
	else
		snprintf(reason, sizeof(reason), "%u good check%s in a row", t->opts.rise, t->opts.rise == 1 ? "" : "s");
	snprintf(msg, sizeof(msg), "%s %s %s %s: %s", t->addr.text, gh_kind_str(t->kind), site, result, reason);
	struct log_field fl[] = {
		{ "GATEHOUSE_SERVER", t->addr.text },
		{ "GATEHOUSE_KIND", gh_kind_str(t->kind) },
		{ "GATEHOUSE_SITE", site },
		{ "GATEHOUSE_RESULT", result },
		{ "GATEHOUSE_REASON", reason },
	};
	log_record(ch == TALLY_DOWN ? LOG_WARNING : LOG_NOTICE, msg, fl, sizeof(fl) / sizeof(fl[0]));
}

static void finish(struct checker *k, uint32_t i, bool ok, const char *why, int err)
{
	struct target *tg = &k->t[i];
	const struct gh_check_target *t = &k->cfg->checks[i];

	if (tg->fd >= 0) {
		close(tg->fd);	/* and out of the epoll set */
		tg->fd = -1;
	}
	k->checks++;
	if (!ok) {
		k->failures++;
		tg->last_why = why;
		tg->last_errno = err;
	}
	enum tally_change ch = tally_add(&tg->tally, ok, t->opts.rise, t->opts.fall);
	if (ch != TALLY_SAME) {
		tg->changes++;
		say_change(k, i, ch);
	}
	page_set(k->page, i, tg->tally.state, tg->changes);
	/* the next one an interval after this one started (HAProxy's inter) */
	uint64_t now = clock_now_ms();
	tg->due_ms = tg->started_ms + t->opts.inter_ms;
	if (tg->due_ms < now)
		tg->due_ms = now;
}

void probe_start(struct checker *k, uint32_t i, uint64_t now_ms)
{
	struct target *tg = &k->t[i];
	const struct gh_check_target *t = &k->cfg->checks[i];

	tg->started_ms = now_ms;
	tg->deadline_ms = now_ms + timeout_of(k, t);
	tg->sent = false;
	tg->got = 0;
	int fd = socket(t->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		/* out of fds is ours, not the server's: try again next time */
		log_msg(LOG_ERR, "check of %s: socket: %s", t->addr.text, strerror(errno));
		tg->due_ms = now_ms + t->opts.inter_ms;
		return;
	}
	tg->fd = fd;
	if (connect(fd, (const struct sockaddr *)&t->addr.ss, t->addr.len) < 0 && errno != EINPROGRESS) {
		finish(k, i, false, "connect", errno);
		return;
	}
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.u64 = i };
	if (epoll_ctl(k->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_msg(LOG_ERR, "check of %s: epoll_ctl: %s", t->addr.text, strerror(errno));
		close(fd);
		tg->fd = -1;
		tg->due_ms = now_ms + t->opts.inter_ms;
	}
}

/* Connected: the request, if the check has one. */
static int send_request(struct checker *k, uint32_t i)
{
	const struct gh_check_target *t = &k->cfg->checks[i];
	const char *site = k->cfg->sites[t->site].name;
	uint8_t req[1024];
	size_t len = 0;

	if (t->kind == GH_KIND_HTTP && t->opts.http_status) {
		int n = snprintf((char *)req, sizeof(req),
				 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gatehouse-health\r\nConnection: close\r\n\r\n",
				 t->opts.http_path, site[0] == '*' ? site + 2 : site);
		len = n > 0 && (size_t)n < sizeof(req) ? (size_t)n : 0;
	} else if (t->kind == GH_KIND_TLS && t->opts.tls_hello) {
		len = hello_build(site[0] == '*' ? site + 2 : site, clock_now_ms() ^ i, req, sizeof(req));
	}
	if (!len)
		return 0;
	/* a fresh connection's send buffer takes a KB at once */
	ssize_t w = send(k->t[i].fd, req, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	return w == (ssize_t)len ? 0 : w < 0 ? -errno : -EIO;
}

void probe_event(struct checker *k, uint32_t i, uint32_t events)
{
	if (i >= k->cfg->n_checks || k->t[i].fd < 0)
		return;
	struct target *tg = &k->t[i];
	const struct gh_check_target *t = &k->cfg->checks[i];

	if (!tg->sent) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(tg->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err || (events & EPOLLERR)) {
			finish(k, i, false, "connect", err ? err : ECONNREFUSED);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		tg->sent = true;
		const char *why = NULL;
		if (verdict_of(&t->opts, t->kind, NULL, 0, 0, &why) == VERDICT_OK) {
			finish(k, i, true, NULL, 0);
			return;
		}
		int r = send_request(k, i);
		if (r < 0) {
			finish(k, i, false, "sending the check", -r);
			return;
		}
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u64 = i };
		epoll_ctl(k->epfd, EPOLL_CTL_MOD, tg->fd, &ev);
		return;
	}
	for (;;) {
		ssize_t n = recv(tg->fd, tg->buf + tg->got, sizeof(tg->buf) - tg->got, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			finish(k, i, false, "reading the answer", errno);
			return;
		}
		tg->got += (size_t)n;
		const char *why = "answer";
		enum verdict v = verdict_of(&t->opts, t->kind, (const uint8_t *)tg->buf, tg->got,
					    n == 0 || tg->got == sizeof(tg->buf), &why);
		if (v != VERDICT_MORE) {
			finish(k, i, v == VERDICT_OK, why, 0);
			return;
		}
		if (n == 0)
			return;
	}
}

void probe_run(struct checker *k, uint64_t now_ms)
{
	for (uint32_t i = 0; i < k->cfg->n_checks; i++) {
		struct target *tg = &k->t[i];
		if (tg->fd >= 0 && now_ms >= tg->deadline_ms)
			finish(k, i, false, tg->sent ? "no answer in time" : "connect timed out", 0);
		if (tg->fd < 0 && now_ms >= tg->due_ms)
			probe_start(k, i, now_ms);
	}
}

uint64_t probe_next(const struct checker *k)
{
	uint64_t d = UINT64_MAX;

	for (uint32_t i = 0; i < k->cfg->n_checks; i++) {
		uint64_t t = k->t[i].fd >= 0 ? k->t[i].deadline_ms : k->t[i].due_ms;
		if (t < d)
			d = t;
	}
	return d;
}
