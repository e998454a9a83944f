/* SPDX-License-Identifier: MIT */
/*
 * gatehouse-metrics -c FILE: serves the daemons' counters in the
 * Prometheus text format on the listening stream socket it is given, and
 * takes the counters pages from its launcher over "control"
 * (common/counters.h) under `gatehouse run`, or under systemd from the
 * daemons themselves on its two page sockets (metrics/peers.h).
 * It reads HTTP request heads from scrapers and nothing else; it opens no
 * file and dials nothing (its filter: POLICY_METRICS), and the pages it
 * maps are sealed against any writable mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include "common/clock.h"
#include "common/daemon.h"
#include "common/fdpass.h"
#include "common/log.h"
#include "metrics/pages.h"
#include "metrics/peers.h"
#include "metrics/render.h"
#include "policy/policy.h"

#define TAG_LISTEN 1u
#define TAG_CONTROL 2u
#define MAX_CLIENTS 16
#define CLIENT_TIMEOUT_MS 5000
#define REQ_MAX 4096

struct mclient {
	int fd;			/* -1: free slot */
	size_t got, sent;
	uint64_t deadline_ms;
	struct mbuf out;	/* the answer, once the head is in */
	char req[REQ_MAX];
};

struct exporter {
	int epfd, listen_fd, control_fd;
	bool control_open;
	uint64_t start_time;
	struct pages pages;
	struct peers peers;	/* under systemd */
	struct mclient clients[MAX_CLIENTS];
};

static void client_close(struct exporter *x, struct mclient *c)
{
	(void)x;	/* close() drops it from the epoll set */
	close(c->fd);
	c->fd = -1;
	mbuf_free(&c->out);
}

static void answer(struct exporter *x, struct mclient *c)
{
	const char *status = "200 OK", *ctype = "text/plain; version=0.0.4; charset=utf-8";
	struct mbuf body = { 0 };
	bool head = !strncmp(c->req, "HEAD ", 5);

	if (strncmp(c->req, "GET ", 4) && !head) {
		status = "405 Method Not Allowed";
		mbuf_printf(&body, "GET /metrics\n");
	} else if (strncmp(c->req + (head ? 5 : 4), "/metrics ", 9) && strncmp(c->req + (head ? 5 : 4), "/ ", 2)) {
		status = "404 Not Found";
		mbuf_printf(&body, "GET /metrics\n");
	} else {
		render_metrics(&x->pages, x->start_time, &body);
	}
	if (body.failed) {
		status = "500 Internal Server Error";
		mbuf_free(&body);
		mbuf_printf(&body, "out of memory\n");
	}
	mbuf_printf(&c->out, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		    status, status[0] == '2' ? ctype : "text/plain", body.len);
	if (!head && body.len && !c->out.failed) {
		mbuf_printf(&c->out, "%.*s", (int)body.len, body.p);
	}
	mbuf_free(&body);
}

static void client_send(struct exporter *x, struct mclient *c)
{
	while (c->sent < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->sent, c->out.len - c->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN) {
			struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
			epoll_ctl(x->epfd, EPOLL_CTL_MOD, c->fd, &ev);
			return;
		}
		if (n <= 0)
			break;
		c->sent += (size_t)n;
	}
	client_close(x, c);
}

static void client_event(struct exporter *x, struct mclient *c, uint32_t events)
{
	if (c->out.len) {
		client_send(x, c);
		return;
	}
	ssize_t n = recv(c->fd, c->req + c->got, REQ_MAX - 1 - c->got, MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN && !(events & (EPOLLHUP | EPOLLERR)))
		return;
	if (n <= 0) {
		client_close(x, c);
		return;
	}
	c->got += (size_t)n;
	c->req[c->got] = '\0';
	if (!strstr(c->req, "\r\n\r\n") && !strstr(c->req, "\n\n")) {
		if (c->got == REQ_MAX - 1)
			client_close(x, c);
		return;
	}
	answer(x, c);
	if (c->out.failed)
		client_close(x, c);
	else
		client_send(x, c);
}

static void accept_clients(struct exporter *x)
{
	for (;;) {
		int fd = accept4(x->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct mclient *c = NULL;
		for (int i = 0; i < MAX_CLIENTS && !c; i++)
			if (x->clients[i].fd < 0)
				c = &x->clients[i];
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
		if (!c || epoll_ctl(x->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);	/* busy: a scraper retries */
			continue;
		}
		c->fd = fd;
		c->got = c->sent = 0;
		c->deadline_ms = clock_now_ms() + CLIENT_TIMEOUT_MS;
	}
}

static void control_event(struct exporter *x)
{
	for (;;) {
		struct ctr_msg m;
		int fd;
		bool cut;
		ssize_t n = fdpass_recv(x->control_fd, &m, sizeof(m), &fd, &cut, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (fd >= 0)
				close(fd);
			x->control_open = false;	/* the launcher is gone: so are we */
			return;
		}
		if (n != (ssize_t)sizeof(m)) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		pages_apply(&x->pages, &m, fd);
	}
}

static int setup(void *ctx, const struct gh_config *cfg)
{
	struct exporter *x = ctx;
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);

	(void)cfg;
	x->listen_fd = x->control_fd = -1;
	x->start_time = (uint64_t)time(NULL);
	peers_init(&x->peers);
	for (int i = 0; i < MAX_CLIENTS; i++)
		x->clients[i].fd = -1;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names ? names[i] : "";
		/* gatehouse-metrics.socket names both its sockets "metrics": the
		 * stream one is the scrapers', the packet one the listeners' */
		if (!strcmp(name, "metrics") && sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0)
			x->listen_fd = fd;
		else if (!strcmp(name, "control") && sd_is_socket(fd, AF_UNIX, SOCK_SEQPACKET, 0) > 0)
			x->control_fd = fd;
		else if (!strcmp(name, "metrics") && sd_is_socket(fd, AF_UNIX, SOCK_SEQPACKET, 1) > 0)
			x->peers.sock[0] = fd;
		else if (!strcmp(name, "forwarders") && sd_is_socket(fd, AF_UNIX, SOCK_SEQPACKET, 1) > 0)
			x->peers.sock[1] = fd;
		else
			log_msg(LOG_ERR, "unexpected fd %d named '%s'", fd, name);
		free(names ? names[i] : NULL);
	}
	free(names);
	bool systemd = x->peers.sock[0] >= 0 && x->peers.sock[1] >= 0;
	if (x->listen_fd < 0 || (x->control_fd < 0) == !systemd) {
		log_msg(LOG_ERR, "needs a listening socket named 'metrics' and either a channel named 'control' "
			"(`gatehouse run` with a `metrics` line passes both) or the page sockets named 'metrics' "
			"and 'forwarders' (gatehouse-metrics.socket, gatehouse-metrics-forwarders.socket)");
		return -EINVAL;
	}
	fcntl(x->listen_fd, F_SETFL, fcntl(x->listen_fd, F_GETFL) | O_NONBLOCK);
	x->control_open = true;
	x->epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event el = { .events = EPOLLIN, .data.u64 = TAG_LISTEN };
	struct epoll_event ec = { .events = EPOLLIN, .data.u64 = TAG_CONTROL };
	if (x->epfd < 0 || epoll_ctl(x->epfd, EPOLL_CTL_ADD, x->listen_fd, &el) < 0 ||
	    (x->control_fd >= 0 && epoll_ctl(x->epfd, EPOLL_CTL_ADD, x->control_fd, &ec) < 0) ||
	    peers_watch(&x->peers, x->epfd) < 0) {
		log_errno(-errno, "epoll");
		return -EINVAL;
	}
	return x->epfd;
}

static int sandbox(void *ctx, const struct gh_config *cfg)
{
	(void)ctx;
	struct policy_opts po = { .user = cfg->user, .chroot_dir = cfg->chroot_dir, .die_with_parent = true };
	return policy_enter(POLICY_METRICS, &po);
}

static void event(void *ctx, const struct epoll_event *ev)
{
	struct exporter *x = ctx;

	if (ev->data.u64 == TAG_LISTEN)
		accept_clients(x);
	else if (ev->data.u64 == TAG_CONTROL)
		control_event(x);
	else if (ev->data.u64 < PEERS_TAG_CONN + PEERS_MAX)
		peers_event(&x->peers, x->epfd, &x->pages, ev->data.u64, ev->events);
	else
		client_event(x, ev->data.ptr, ev->events);
}

static void after_round(void *ctx, uint64_t now)
{
	struct exporter *x = ctx;

	for (int i = 0; i < MAX_CLIENTS; i++)
		if (x->clients[i].fd >= 0 && now >= x->clients[i].deadline_ms)
			client_close(x, &x->clients[i]);
}

static uint64_t deadline(void *ctx)
{
	struct exporter *x = ctx;
	uint64_t d = UINT64_MAX;

	for (int i = 0; i < MAX_CLIENTS; i++)
		if (x->clients[i].fd >= 0 && x->clients[i].deadline_ms < d)
			d = x->clients[i].deadline_ms;
	return d;
}

static void status(void *ctx, char *buf, size_t size)
{
	const struct exporter *x = ctx;

	snprintf(buf, size, "%u counters pages, generation %u", x->pages.n_pages, x->pages.newest_gen);
	if (x->control_fd < 0)
		snprintf(buf + strlen(buf), size - strlen(buf), ", %u daemons connected", peers_count(&x->peers));
}

static bool before_wait(void *ctx, bool stop, uint64_t now)
{
	const struct exporter *x = ctx;

	(void)now;
	/* under `gatehouse run` it lives as long as its launcher */
	return stop || (x->control_fd >= 0 && !x->control_open);
}

static int teardown(void *ctx, bool stopped)
{
	struct exporter *x = ctx;

	(void)stopped;
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (x->clients[i].fd >= 0)
			client_close(x, &x->clients[i]);
	peers_free(&x->peers);
	pages_free(&x->pages);
	close(x->epfd);
	return 0;
}

int main(int argc, char **argv)
{
	static struct exporter x;
	const struct daemon_def def = {
		.name = "gatehouse-metrics",
		.usage = "",
		.max_events = 32,
		.ctx = &x,
		.setup = setup,
		.sandbox = sandbox,
		.event = event,
		.after_round = after_round,
		.deadline = deadline,
		.status = status,
		.before_wait = before_wait,
		.teardown = teardown,
	};
	return daemon_main(&def, argc, argv);
}
