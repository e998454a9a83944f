/* SPDX-License-Identifier: MIT */
/*
 * Hand-off intake. Each message on the channel (common/handoff.h) is one
 * client; what the listener says is checked here against this forwarder's
 * own config and the kernel, and a client becomes a connection (conn.h)
 * that the queue admits (queue.h). A hostile listener can send anything:
 * refusals are logged at a bounded rate, and a client fd is made
 * non-blocking before any I/O (a blocking one would stall every relay of
 * this process in one splice()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include "common/clock.h"
#include "common/handoff.h"
#include "common/log.h"
#include "forwarder/conn.h"
#include "forwarder/intake.h"
#include "forwarder/queue.h"
#include "forwarder/srccount.h"
#include "forwarder/quic_relay.h"
#include "forwarder/state.h"
#include "router/proxy_header.h"
#include "router/proxy_parse.h"

/* A count the rate limit held back, once its window is over. */
static void report_suppressed(struct forwarder *f, uint64_t now)
{
	unsigned n = ratelimit_flush(&f->refusals, now);
	if (n)
		log_msg(LOG_WARNING, "%u hand-off refusals not logged (at most %u a second)", n,
			INTAKE_REFUSALS_PER_SEC);
}

/* May a refusal (or a hand-off's lie) be logged now? */
static bool may_log(struct forwarder *f)
{
	uint64_t now = clock_now_ms();
	report_suppressed(f, now);
	return ratelimit_take(&f->refusals, now);
}

static void reject(struct forwarder *f, const struct handoff_in *in, const char *why)
{
	if (!may_log(f))
		return;
	char site[4 * HOSTNAME_MAX + 1];
	log_escape(in->msg.site, strnlen(in->msg.site, sizeof(in->msg.site)), site, sizeof(site));
	log_msg(LOG_WARNING, "refused hand-off (site '%s'): %s", site, why);
}

/* A trusted balancer's PROXY header, read off fd: exactly len bytes that
 * proxy_parse() takes as one whole header. Its source replaces *ep when it
 * names one (LOCAL and UNKNOWN leave the balancer as the client). NULL, or
 * why the hand-off is refused. */
static const char *read_proxy(int fd, size_t len, struct proxy_endpoint *ep)
{
	uint8_t buf[PROXY_PARSE_MAX];
	struct proxy_parse_result r;

	if (len == 0)
		return "no PROXY header length for a trusted balancer's connection";
	/* the listener saw these bytes with MSG_PEEK: they are all there */
	ssize_t got = recv(fd, buf, len, MSG_DONTWAIT);
	if (got != (ssize_t)len)
		return "PROXY header shorter than the hand-off said";
	if (proxy_parse(buf, len, &r) != PROXY_PARSE_DONE || r.header_len != len)
		return "PROXY header not whole at the hand-off's length";
	if (r.kind == PROXY_KIND_PROXIED)
		*ep = r.src;
	return NULL;
}

/* The listen the client reached, found from the kernel's word on the
 * address it reached (never the listener's), when a listen has its own
 * accept-proxy list; else NULL: the global list is all there is. */
static const struct gh_listen *listen_of(const struct forwarder *f, int fd)
{
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local);

	if (!f->cfg->proxy_listen_lists || getsockname(fd, (struct sockaddr *)&local, &ll) < 0)
		return NULL;
	return config_listen_at(f->cfg, (const struct sockaddr *)&local);
}

/* Who the client is comes from the kernel, or from a PROXY header read here
 * from a peer this forwarder's own config trusts, never from the message:
 * a compromised listener must not be able to forge log records or PROXY
 * headers. The message's copy is only a cross-check. NULL, or why the
 * hand-off is refused. */
static const char *client_from_kernel(struct forwarder *f, int fd, const struct handoff_msg *m,
				      struct proxy_endpoint *out)
{
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	struct proxy_endpoint ep;
	const struct gh_listen *on = listen_of(f, fd);
	if (getpeername(fd, (struct sockaddr *)&peer, &pl) < 0 ||
	    proxy_endpoint_from_sockaddr((struct sockaddr *)&peer, &ep) < 0) {
		memset(&ep, 0, sizeof(ep));
		ep.family = AF_INET6;
	}
	if (config_proxy_trusted(f->cfg, on, ep.family, ep.addr)) {
		const char *why = read_proxy(fd, m->proxy_len, &ep);
		if (why)
			return why;
	} else if (m->proxy_len) {
		return "PROXY header length for a peer that is not an accept-proxy balancer";
	} else if (config_proxy_refuses(f->cfg, on)) {
		/* the listener refuses these itself; one that hands one off is
		 * not believed either */
		return "peer is not an accept-proxy balancer (direct-clients refuse)";
	}
	*out = ep;
	if ((ep.family != m->client_family || ep.port != m->client_port ||
	     memcmp(ep.addr, m->client_addr, ep.family == AF_INET ? 4 : 16)) && may_log(f))
		log_msg(LOG_WARNING, "hand-off for site '%s' named another client than its socket's peer", m->site);
	return NULL;
}

static void take(struct forwarder *f, struct handoff_in *in)
{
	if (in->error != HANDOFF_OK) {
		reject(f, in, handoff_error_str(in->error));
		return;
	}
	const struct handoff_msg *m = &in->msg;
	uint32_t site = config_site_index(f->cfg, m->site, strlen(m->site));
	size_t ns = 0;
	/* the route is the listener's word: this forwarder's config must have it */
	if (site != GH_NO_SITE && !config_alpn_route_ok(f->cfg, site, m->kind, m->alpn_route)) {
		reject(f, in, "site has no such tls-alpn route");
		close(in->fd);
		return;
	}
	if (site != GH_NO_SITE)
		config_servers(f->cfg, site, m->kind, m->alpn_route, &ns);
	if (site == GH_NO_SITE || ns == 0) {
		reject(f, in, site == GH_NO_SITE ? "unknown site" : "site has no server of this kind");
		close(in->fd);
		return;
	}
	/* The listener should accept with SOCK_NONBLOCK; a blocking socket
	 * would freeze this process in its first splice(). Setting the flags
	 * outright (rather than adding to F_GETFL's) keeps one fcntl per
	 * client, and drops O_ASYNC a listener might have set. */
	if (fcntl(in->fd, F_SETFL, O_RDWR | O_NONBLOCK) < 0) {
		int e = errno;
		if (may_log(f))
			log_msg(LOG_WARNING, "refused hand-off (site '%s'): fcntl(O_NONBLOCK): %s", m->site,
				strerror(e));
		close(in->fd);
		return;
	}
	/* after O_NONBLOCK: a PROXY header is read before any relay */
	struct proxy_endpoint client;
	const char *why = client_from_kernel(f, in->fd, m, &client);
	if (why) {
		reject(f, in, why);
		close(in->fd);
		return;
	}
	struct fconn *c = conn_new(&f->conns, in->fd, m->name);
	if (!c) {
		close(in->fd);
		return;
	}
	c->kind = m->kind;
	c->site = site;
	c->alpn_route = m->alpn_route;
	/* checked by handoff_recv: HTTP only, bounded */
	if (m->one_request) {
		c->up.limited = true;
		c->up.left = m->one_request;
	}
	c->proxy_version = (uint8_t)f->cfg->sites[site].proxy_protocol;
	c->client_family = (uint8_t)client.family;
	c->client_port = client.port;
	memcpy(c->client_addr, client.addr, sizeof(c->client_addr));
	srccount_take(f, c);
	f->total++;
	queue_admit(f, c);
}

/* Stop reading hand-offs while at the relay cap: a received fd that cannot
 * be installed (EMFILE) would be lost, whereas a message left in the channel
 * makes the listener stop accepting, and the client waits in the backlog. */
static void channel_pause(struct forwarder *f, bool pause)
{
	if (!f->channel_open || f->channel_paused == pause)
		return;
	struct epoll_event ev = { .events = pause ? 0 : EPOLLIN, .data.u64 = FTAG_CHANNEL };
	if (epoll_ctl(f->epfd, EPOLL_CTL_MOD, f->channel, &ev) == 0)
		f->channel_paused = pause;
}

void intake_close(struct forwarder *f)
{
	if (f->channel < 0)
		return;
	epoll_ctl(f->epfd, EPOLL_CTL_DEL, f->channel, NULL);
	close(f->channel);
	f->channel = -1;
	f->channel_open = false;
}

void intake_ready(struct forwarder *f)
{
	struct handoff_in in[HANDOFF_BATCH];

	for (;;) {
		unsigned room = queue_intake_room(f);
		if (!room) {
			channel_pause(f, true);
			return;
		}
		unsigned want = room < HANDOFF_BATCH ? room : HANDOFF_BATCH;
		int n = f->quic.n_socks ? handoff_recv_any(f->channel, in, f->quic.chan_bufs, want)
					: handoff_recv(f->channel, in, want);
		if (n < 0) {
			if (n == -EAGAIN)
				return;
			log_msg(LOG_ERR, "channel: %s", strerror(-n));
			n = 0;
		}
		if (n == 0) {
			/* listener gone: finish what we relay, take nothing new */
			intake_close(f);
			return;
		}
		f->received += (uint32_t)n;
		for (int i = 0; i < n; i++) {
			if (in[i].quic && in[i].error == HANDOFF_OK)
				fquic_message(f, f->quic.chan_bufs[i], in[i].quic_len);
			else
				take(f, &in[i]);
		}
		if (n < (int)want)
			return;
	}
}

void intake_after_round(struct forwarder *f, uint64_t now)
{
	if (f->channel_paused && queue_intake_room(f))
		channel_pause(f, false);
	report_suppressed(f, now);
}

uint64_t intake_deadline(const struct forwarder *f)
{
	return ratelimit_deadline(&f->refusals);
}

static bool has_quic_servers(const struct gh_config *cfg)
{
	for (size_t i = 0; i < cfg->n_sites; i++)
		if (cfg->sites[i].n_servers[GH_KIND_QUIC])
			return true;
	return false;
}

/* Started by systemd for one channel: the QUIC sockets to reply on come
 * from the listener, first on the channel (common/handoff.h), when the
 * config has quic servers. Moved to a fresh contiguous range (the
 * seccomp filter names them as one), each vetted. A listener that sends
 * none within LOAD_WAIT_MS leaves this forwarder without QUIC. */
#define QUIC_SOCKETS_WAIT_MS 5000
#define QUIC_SOCKETS_FD_BASE 100
static int quic_sockets_from_listener(struct forwarder *f)
{
	int fds[GH_MAX_LISTENS], r = 0;

	if (!has_quic_servers(f->cfg))
		return 0;
	int n = handoff_quic_sockets_recv(f->channel, QUIC_SOCKETS_WAIT_MS, fds, GH_MAX_LISTENS);
	if (n < 0) {
		log_msg(LOG_WARNING, "no QUIC sockets from the listener (%s): QUIC flows will be refused",
			strerror(-n));
		return 0;
	}
	for (int i = 0; i < n; i++) {
		int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, QUIC_SOCKETS_FD_BASE);
		close(fds[i]);
		if (r == 0 && moved < 0)
			r = log_errno(-errno, "moving a QUIC socket");
		else if (r == 0)
			r = fquic_add_socket(f, moved, false);
		if (r < 0 && moved >= 0)
			close(moved);
	}
	if (r == 0 && f->quic.n_socks)
		r = fquic_setup(f);
	return r;
}

int intake_setup(struct forwarder *f)
{
	ratelimit_init(&f->refusals, 1000, INTAKE_REFUSALS_PER_SEC);
	/* fd 3 is the channel (systemd names it "connection", `gatehouse
	 * run` "forward"); `gatehouse run` adds its QUIC sockets, "quic" */
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);
	int r = 0;
	bool from_launcher = names && n >= 1 && !strcmp(names[0], "forward");
	if (n < 1)
		r = log_errno(-EINVAL, "expected a channel fd from the listener, got %d fds", n);
	for (int i = 1; i < n && r == 0; i++) {
		if (!names || strcmp(names[i], "quic"))
			r = log_errno(-EINVAL, "unexpected fd %d named '%s'", SD_LISTEN_FDS_START + i,
				      names ? names[i] : "?");
		else
			r = fquic_add_socket(f, SD_LISTEN_FDS_START + i, true);
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	if (r < 0)
		return r;
	if ((r = fquic_setup(f)) < 0)
		return r;
	f->channel = SD_LISTEN_FDS_START;
	if (sd_is_socket(f->channel, AF_UNIX, SOCK_SEQPACKET, 0) <= 0) {
		log_msg(LOG_ERR, "fd 3 is not a connected SOCK_SEQPACKET channel");
		return -EINVAL;
	}
	f->channel_open = true;
	f->load = load_publish_src(f->channel, f->max_conns, config_source_connections_on(f->cfg));
	f->src_counts = load_src_mine(f->load);
	if (!from_launcher && (r = quic_sockets_from_listener(f)) < 0)
		return r;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = FTAG_CHANNEL };
	if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->channel, &ev) < 0) {
		int e = errno;
		log_msg(LOG_ERR, "epoll_ctl(channel): %s", strerror(e));
		return -e;
	}
	return 0;
}
