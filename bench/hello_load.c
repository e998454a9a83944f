/* SPDX-License-Identifier: MIT */
/*
 * hello_load: the ClientHello load generator.
 *
 *   hello_load -a ADDR -n CONNS -c CONCURRENCY -s SNI
 *              [-w WIRE_BYTES | -H HANDSHAKE_BYTES] [-q] [-S SPLIT -P PAUSE_MS]
 *              [-r REPLY_BYTES] [-t TOTAL_TIMEOUT_S] [-T CONN_TIMEOUT_S] [-o FILE]
 *
 * Each connection: connect, send a ClientHello with SNI (-w: that many bytes
 * on the wire in one record; -H: a handshake of that size, fragmented into
 * records of 16 KiB; -q: with a 1216-byte X25519MLKEM768 key share), read
 * the reply until EOF, close. -S N -P MS: send the first N bytes, wait MS
 * milliseconds, send the rest (TCP_NODELAY, so two segments). CONCURRENCY
 * connections run at once, so pauses overlap. A connection succeeds when it
 * received at least REPLY_BYTES (default 100) before EOF.
 * Bounded: CONNS connections, TOTAL_TIMEOUT_S seconds (default 120) in all,
 * CONN_TIMEOUT_S (default 10) each. resets= counts connections that ended
 * on ECONNRESET (or EPIPE) in any call: a proxy's RST, which a client of a
 * well-behaved proxy never sees here.
 * Prints one line: ok=N fail=N resets=N secs=S rate=R wire=B hs=B p50_ms=L p99_ms=L
 * (p50/p99: what a successful client waited, connect() to the reply's EOF).
 * Exit 1 on any failure.
 */
#include <getopt.h>
#include <signal.h>
#include <sys/epoll.h>
#include "common.h"

enum st { ST_FREE, ST_CONNECTING, ST_SEND1, ST_PAUSED, ST_SEND2, ST_READ };

struct lc {
	int fd;
	enum st st;
	size_t sent, got;
	double deadline;
	double t_start;		/* connect(): the latency's start */
	unsigned gen;		/* bumped per connection: stale pause entries are skipped */
};

struct pause_ent {
	struct lc *c;
	unsigned gen;
	double resume_at;
};

static struct sockaddr_storage dst;
static socklen_t dst_len;
static uint8_t hello[70000];
static size_t hello_len, split_at;
static double pause_s;
static size_t want_reply = 100;
static int ep;
static unsigned long ok, fail, resets;
static double conn_timeout = 10;
static double *lat;		/* seconds, one per successful connection */
static size_t n_lat, cap_lat;

static struct pause_ent *pauseq;
static size_t pq_head, pq_len, pq_cap;

static void finish(struct lc *c, bool good)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->st = ST_FREE;
	if (good) {
		ok++;
		if (n_lat < cap_lat)
			lat[n_lat++] = now_s() - c->t_start;
	} else {
		fail++;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The q-quantile of the latencies in ms (nearest rank), 0 if none. */
static double quantile_ms(double q)
{
	if (!n_lat)
		return 0;
	size_t i = (size_t)(q * (double)n_lat);
	return lat[i < n_lat ? i : n_lat - 1] * 1e3;
}

static void set_events(struct lc *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* A reset the client saw: what the issue counts (ECONNRESET on any call;
 * EPIPE is a send after one). */
static void count_reset(int err)
{
	if (err == ECONNRESET || err == EPIPE)
		resets++;
}

/* Send from c->sent up to limit; returns true when all of it is out. */
static bool send_upto(struct lc *c, size_t limit)
{
	while (c->sent < limit) {
		ssize_t n = send(c->fd, hello + c->sent, limit - c->sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return false;
			count_reset(errno);
			finish(c, false);
			return false;
		}
		c->sent += (size_t)n;
	}
	return true;
}

static void progress(struct lc *c, double now)
{
	if (c->st == ST_SEND1) {
		size_t limit = split_at ? split_at : hello_len;
		if (!send_upto(c, limit)) {
			if (c->st != ST_FREE)
				set_events(c, EPOLLOUT);
			return;
		}
		if (split_at && c->sent == split_at && pq_len < pq_cap) {
			c->st = ST_PAUSED;
			pauseq[(pq_head + pq_len++) % pq_cap] =
				(struct pause_ent){ .c = c, .gen = c->gen, .resume_at = now + pause_s };
			set_events(c, EPOLLIN);	/* an early EOF or error still shows */
			return;
		}
		if (c->sent < hello_len) {
			c->st = ST_SEND2;	/* no room to pause: send the rest now */
			progress(c, now);
			return;
		}
		c->st = ST_READ;
		set_events(c, EPOLLIN);
		return;
	}
	if (c->st == ST_SEND2) {
		if (!send_upto(c, hello_len)) {
			if (c->st != ST_FREE)
				set_events(c, EPOLLOUT);
			return;
		}
		c->st = ST_READ;
		set_events(c, EPOLLIN);
	}
}

static void readable(struct lc *c)
{
	uint8_t buf[4096];
	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		if (n > 0) {
			c->got += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0)
			count_reset(errno);
		/* EOF or error: done; a reply before EOF is success */
		finish(c, c->got >= want_reply && (c->st == ST_READ || c->st == ST_PAUSED || c->st == ST_SEND2)
				  && c->sent == hello_len);
		return;
	}
}

static void start(struct lc *c, double now)
{
	int fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		c->fd = -1;
		fail++;
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->gen++;
	c->sent = c->got = 0;
	c->deadline = now + conn_timeout;
	c->t_start = now;
	int r = connect(fd, (struct sockaddr *)&dst, dst_len);
	if (r < 0 && errno != EINPROGRESS) {
		finish(c, false);
		return;
	}
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	c->st = r == 0 ? ST_SEND1 : ST_CONNECTING;
	if (r == 0)
		progress(c, now);
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *sni = "hello.test", *out = NULL;
	unsigned long n_conns = 1, conc = 1;
	size_t wire = 251, hs = 0;
	bool pq = false;
	double total_timeout = 120;
	int o;

	while ((o = getopt(argc, argv, "a:n:c:s:w:H:qS:P:r:t:T:o:")) != -1) {
		switch (o) {
		case 'a': addr = optarg; break;
		case 'n': n_conns = strtoul(optarg, NULL, 10); break;
		case 'c': conc = strtoul(optarg, NULL, 10); break;
		case 's': sni = optarg; break;
		case 'w': wire = strtoul(optarg, NULL, 10); hs = 0; break;
		case 'H': hs = strtoul(optarg, NULL, 10); wire = 0; break;
		case 'q': pq = true; break;
		case 'S': split_at = strtoul(optarg, NULL, 10); break;
		case 'P': pause_s = strtod(optarg, NULL) / 1000.0; break;
		case 'r': want_reply = strtoul(optarg, NULL, 10); break;
		case 't': total_timeout = strtod(optarg, NULL); break;
		case 'T': conn_timeout = strtod(optarg, NULL); break;
		case 'o': out = optarg; break;
		default: die("see the comment at the top of hello_load.c");
		}
	}
	if (!addr || n_conns == 0 || conc == 0 || n_conns > 10000000)
		die("hello_load: -a ADDR -n CONNS (1..1e7) -c CONCURRENCY required");
	if (conc > n_conns)
		conc = n_conns;
	dst_len = parse_addr(addr, &dst);
	hello_len = hello_build(hello, sizeof(hello), sni, pq, wire, hs);
	if (split_at >= hello_len)
		split_at = 0;
	if (out) {
		FILE *f = fopen(out, "wb");
		if (!f || fwrite(hello, 1, hello_len, f) != hello_len)
			die("write %s", out);
		fclose(f);
	}
	signal(SIGPIPE, SIG_IGN);
	ep = epoll_create1(EPOLL_CLOEXEC);
	struct lc *slots = calloc(conc, sizeof(*slots));
	pq_cap = 4 * conc + 4;
	pauseq = calloc(pq_cap, sizeof(*pauseq));
	struct epoll_event *evs = calloc(conc, sizeof(*evs));
	cap_lat = n_conns;
	lat = calloc(cap_lat, sizeof(*lat));
	if (!slots || !pauseq || !evs || !lat)
		die("out of memory");
	for (unsigned long i = 0; i < conc; i++)
		slots[i].fd = -1;

	unsigned long started = 0;
	double t0 = now_s(), last_scan = t0;
	for (;;) {
		double now = now_s();
		for (unsigned long i = 0; i < conc && started < n_conns; i++)
			if (slots[i].st == ST_FREE) {
				started++;
				start(&slots[i], now);
			}
		if (ok + fail >= n_conns)
			break;
		if (now - t0 > total_timeout) {
			for (unsigned long i = 0; i < conc; i++)
				if (slots[i].st != ST_FREE)
					finish(&slots[i], false);
			fail += n_conns - started;
			break;
		}
		int timeout = 50;
		if (pq_len) {
			double d = pauseq[pq_head].resume_at - now;
			timeout = d <= 0 ? 0 : (int)(d * 1000) + 1;
			if (timeout > 50)
				timeout = 50;
		}
		int n = epoll_wait(ep, evs, (int)conc, timeout);
		now = now_s();
		for (int i = 0; i < n; i++) {
			struct lc *c = evs[i].data.ptr;
			if (c->st == ST_FREE)
				continue;
			if (c->st == ST_CONNECTING) {
				int err = 0;
				socklen_t l = sizeof(err);
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
				if (err || (evs[i].events & (EPOLLERR | EPOLLHUP))) {
					count_reset(err);
					finish(c, false);
					continue;
				}
				c->st = ST_SEND1;
				progress(c, now);
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
				readable(c);
				if (c->st == ST_FREE)
					continue;
			}
			if (evs[i].events & EPOLLOUT)
				progress(c, now);
		}
		/* resume paused connections that are due (FIFO: one pause length) */
		while (pq_len) {
			struct pause_ent *pe = &pauseq[pq_head];
			struct lc *c = pe->c;
			bool live = c->st == ST_PAUSED && c->gen == pe->gen;
			if (live && pe->resume_at > now)
				break;
			pq_head = (pq_head + 1) % pq_cap;
			pq_len--;
			if (!live)
				continue;
			c->st = ST_SEND2;
			progress(c, now);
		}
		if (now - last_scan > 0.1) {
			last_scan = now;
			for (unsigned long i = 0; i < conc; i++)
				if (slots[i].st != ST_FREE && slots[i].st != ST_PAUSED && slots[i].deadline < now)
					finish(&slots[i], false);
		}
	}
	double secs = now_s() - t0;
	qsort(lat, n_lat, sizeof(*lat), cmp_double);
	printf("ok=%lu fail=%lu resets=%lu secs=%.4f rate=%.1f wire=%zu hs=%zu p50_ms=%.3f p99_ms=%.3f\n", ok, fail,
	       resets, secs, secs > 0 ? (double)ok / secs : 0.0, hello_len, wire ? wire - 5 : hs, quantile_ms(0.50),
	       quantile_ms(0.99));
	return fail ? 1 : 0;
}
