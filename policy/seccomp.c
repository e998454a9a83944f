/* SPDX-License-Identifier: MIT */
/*
 * The seccomp allowlists, one per process: a row per rule and why.
 * Anything no row allows kills the process (SCMP_ACT_KILL_PROCESS). A row
 * may test the call's arguments, as registers: seccomp cannot read memory,
 * so what a call finds behind a pointer (sendmsg/sendmmsg's msg_name, a
 * path) is beyond it, and those calls are allowed only where the fd they
 * use was fixed before the filter. Several rows for one call are an OR.
 * Native architecture only: other ABIs (x32, i386 on x86-64) are not added
 * to the filter, so their calls hit the default action and die too.
 *
 * README's "What each process may do" lists these rows one for one; review
 * beside units/gatehouse-*.service SystemCallFilter=.
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/log.h"
#include "policy/policy.h"

struct row {
	int nr;
	unsigned n_args;
	struct scmp_arg_cmp args[2];
	const char *why;
};

#define ARG(n, cmp, a, b) { .arg = (n), .op = (cmp), .datum_a = (a), .datum_b = (b) }
#define EQ(n, v) ARG(n, SCMP_CMP_EQ, (scmp_datum_t)(v), 0)
#define CLEAR(n, bits) ARG(n, SCMP_CMP_MASKED_EQ, (scmp_datum_t)(bits), 0)
#define ROW(name, why) { SCMP_SYS(name), 0, { { 0 } }, why }
#define ROW1(name, a, why) { SCMP_SYS(name), 1, { a }, why }
#define ROW2(name, a, b, why) { SCMP_SYS(name), 2, { a, b }, why }

/* Both processes: memory, time, signals, exit, logging. */
static const struct row common_rows[] = {
	/* memory: malloc/free (single-threaded: the main arena, brk and
	 * mmap; glibc's free() trims with brk and madvise(MADV_DONTNEED)) */
	ROW(brk, "malloc"),
	ROW1(mmap, CLEAR(2, PROT_EXEC), "malloc of large blocks; never executable memory"),
	ROW(munmap, "free of large blocks"),
	ROW(mremap, "realloc of large blocks"),
	ROW1(madvise, EQ(2, MADV_DONTNEED), "free() returning memory; no other advice (MADV_REMOVE would punch a shared page)"),
	/* time: vDSO normally; the syscall is the fallback */
	ROW(clock_gettime, "deadlines and log durations"),
	ROW(gettimeofday, "vDSO fallback"),
	/* event loop */
	ROW(epoll_pwait, "the event loop (signal mask atomically)"),
	ROW(epoll_ctl, "add/remove client and server fds"),
	/* signals and exit (one thread: exit_group only) */
	ROW(rt_sigreturn, "return from the SIGTERM handler"),
	ROW(rt_sigpending, "busy rounds and exit: a SIGTERM epoll_pwait did not deliver"),
	ROW(exit_group, "exit"),
	/* I/O on fds we already hold */
	ROW(close, "close clients, servers, pipes"),
	ROW1(write, EQ(0, STDERR_FILENO), "log lines on stderr (fd 2); nothing else is written with write()"),
	ROW1(sendto, EQ(4, 0), "send(): answers, relay, notify socket; never to an address"),
	ROW(recvfrom, "recv(): peek and relay"),
	ROW1(shutdown, EQ(1, SHUT_WR), "half-close our sending side; never SHUT_RD (it stops a shared listening socket)"),
};

/* The listener: accept, peek, answer, hand off. No socket(), connect(),
 * open(), execve(), fork(): it can only talk on fds it was given. */
static const struct row listener_rows[] = {
	ROW1(accept4, EQ(3, SOCK_NONBLOCK | SOCK_CLOEXEC),
	     "take clients from the listening sockets, non-blocking (a forwarder relies on it)"),
	/* its fd is not fixed here (the channels are many): a msg_name is
	 * ignored on a channel; on the journal or notify socket it could name
	 * another abstract socket of the listener's network namespace, which
	 * is an empty one of its own when root (sandbox.c) or under systemd
	 * (PrivateNetwork=) */
	ROW(sendmmsg, "hand-off: several clients per call over the channel; journal records"),
	ROW(getsockname, "the address a client reached: the listen whose own accept-proxy list applies"),
};

/* The forwarder: receive fds, dial servers, relay. socket() is allowed
 * below only for TCP over IPv6 (and IPv4 when a backend needs it). */
static const struct row forwarder_rows[] = {
	ROW(recvmmsg, "hand-off messages with their fds"),
	ROW(connect, "dial a configured server (addresses from our own config)"),
	ROW(getsockopt, "SO_ERROR after connect, TCP_INFO to vet a received fd"),
	ROW(getpeername, "PROXY header: the client's address from the kernel"),
	ROW(getsockname, "PROXY header: the address the client reached"),
	ROW(splice, "relay without copying"),
	ROW(pipe2, "pipes for splice"),
	ROW1(fcntl, EQ(1, F_SETPIPE_SZ), "size the splice pipes"),
	ROW2(fcntl, EQ(1, F_SETFL), EQ(2, O_RDWR | O_NONBLOCK),
	     "make a received client fd non-blocking, its flags set outright (forwarder/intake.c)"),
};

/* The exporter: answer scrapers on its one listening socket, take pages
 * and config snapshots from its launcher's channel, map the pages
 * read-only (the common mmap row; the pages' F_SEAL_FUTURE_WRITE refuses
 * a writable mapping, and no row allows mprotect). No socket(),
 * connect(), open(): it cannot reach anything it was not given. */
static const struct row metrics_rows[] = {
	ROW1(accept4, EQ(3, SOCK_NONBLOCK | SOCK_CLOEXEC), "take scrapers from the metrics socket"),
	ROW(recvmsg, "pages and config snapshots, with their fds, from the launcher"),
	ROW1(fcntl, EQ(1, F_GET_SEALS), "refuse a page that is not sealed against shrinking and writing"),
	ROW1(lseek, EQ(2, SEEK_END), "a page's size"),
	ROW(pread64, "read a config snapshot (a sealed memfd) by its fd"),
};

/* The health checker: dial the config's servers, send a check, read the
 * start of the answer. socket() as the forwarder's (TCP, IPv6 and IPv4
 * when a checked server needs it); no accept, bind, listen, open, no
 * fd-passing receive: it talks only to the servers it dials. */
static const struct row health_rows[] = {
	ROW(connect, "dial a configured server (addresses from our own config)"),
	ROW(getsockopt, "SO_ERROR after connect"),
};

/* The config image service: read the config file (read-only; seccomp
 * cannot see the path, its unit's ProtectSystem=strict and user make
 * every file read-only), compile it into a memfd, seal it, hand it out
 * on connections it accepts on its one socket. No socket(), connect(),
 * no write but to stderr. */
static const struct row config_rows[] = {
	ROW1(openat, EQ(2, O_RDONLY | O_CLOEXEC), "the config file, read-only"),
	ROW(read, "the config file's text"),
	ROW1(memfd_create, EQ(1, MFD_CLOEXEC | MFD_ALLOW_SEALING), "a new image"),
	ROW(ftruncate, "size a new image"),
	ROW1(fcntl, EQ(1, F_ADD_SEALS), "seal a new image against writes, shrinking, growing, new seals"),
	ROW1(sendmsg, EQ(2, MSG_DONTWAIT | MSG_NOSIGNAL), "the image's fd (SCM_RIGHTS) to a daemon that connected"),
};

bool policy_seccomp_disabled(void)
{
#if defined(GATEHOUSE_NO_SECCOMP)
	/* `make NOSECCOMP=1`: for valgrind, whose own system calls the filter
	 * would kill. Never a default; the daemons say so loudly at start. */
	return true;
#elif defined(__SANITIZE_ADDRESS__)
	return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return true;
#else
	return false;
#endif
#else
	return false;
#endif
}

/* Calls that read from the fd in their first argument. In a forwarder
 * holding QUIC sockets they are allowed on every fd but those (which it
 * only sends on): [lo, hi] is their range, contiguous as passed. */
static bool reads_fd(int nr)
{
	return nr == SCMP_SYS(recvfrom) || nr == SCMP_SYS(recvmmsg) || nr == SCMP_SYS(splice);
}

static int add_rows_but(scmp_filter_ctx ctx, const struct row *rows, size_t n, int lo, int hi)
{
	for (size_t i = 0; i < n; i++) {
		int r;
		if (lo >= 0 && reads_fd(rows[i].nr) && rows[i].n_args == 0) {
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, rows[i].nr, 1,
					     SCMP_A0(SCMP_CMP_LT, (scmp_datum_t)lo));
			if (r >= 0)
				r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, rows[i].nr, 1,
						     SCMP_A0(SCMP_CMP_GT, (scmp_datum_t)hi));
		} else {
			r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, rows[i].nr, rows[i].n_args, rows[i].args);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_rows(scmp_filter_ctx ctx, const struct row *rows, size_t n)
{
	return add_rows_but(ctx, rows, n, -1, -1);
}

static int add_socket_rules(scmp_filter_ctx ctx, int family, int type)
{
	/* socket(family, type [| SOCK_NONBLOCK | SOCK_CLOEXEC], 0) */
	const uint64_t type_mask = 0xffffffffu & ~(uint64_t)(SOCK_NONBLOCK | SOCK_CLOEXEC);
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 3,
				SCMP_A0(SCMP_CMP_EQ, (uint64_t)family),
				SCMP_A1(SCMP_CMP_MASKED_EQ, type_mask, (uint64_t)type),
				SCMP_A2(SCMP_CMP_EQ, 0));
}

static int seccomp_load_rows(enum policy_proc proc, bool allow_ipv4, bool allow_source_bind, const int *quic_fds,
			     unsigned n_quic_fds, int serve_fd, int ctl_fd);

/* `source-prefix` (forwarder/srcaddr.c): a backend socket bound to the
 * client's address. seccomp sees registers, not the sockaddr, nor which
 * fd the forwarder made: it checks that the length is an IPv6 socket
 * address's, the size bind() on an AF_INET6 socket takes, and that the
 * option is IPV6_FREEBIND with an int. What is left open is said in
 * README ("Client addresses"); the unit adds SocketBindDeny=any, so
 * under systemd the port too can only be 0 (the kernel's pick). */
static int add_source_bind_rules(scmp_filter_ctx ctx)
{
	int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 3,
				 SCMP_A1(SCMP_CMP_EQ, IPPROTO_IPV6, 0), SCMP_A2(SCMP_CMP_EQ, IPV6_FREEBIND, 0),
				 SCMP_A4(SCMP_CMP_EQ, sizeof(int), 0));
	if (r >= 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(bind), 1,
				     SCMP_A2(SCMP_CMP_EQ, sizeof(struct sockaddr_in6), 0));
	return r;
}
int policy_seccomp_load(enum policy_proc proc, bool allow_ipv4)
{
	return policy_seccomp_load_full(proc, allow_ipv4, false, NULL, 0);
}

int policy_seccomp_load_bind(enum policy_proc proc, bool allow_ipv4, bool allow_source_bind)
{
	return policy_seccomp_load_full(proc, allow_ipv4, allow_source_bind, NULL, 0);
}

int policy_seccomp_load_quic(enum policy_proc proc, bool allow_ipv4, const int *quic_fds, unsigned n_quic_fds)
{
	return policy_seccomp_load_full(proc, allow_ipv4, false, quic_fds, n_quic_fds);
}

int policy_seccomp_load_full(enum policy_proc proc, bool allow_ipv4, bool allow_source_bind, const int *quic_fds,
			     unsigned n_quic_fds)
{
	return seccomp_load_rows(proc, allow_ipv4, allow_source_bind, quic_fds, n_quic_fds, -1, -1);
}

int policy_seccomp_load_listener(const int *quic_fds, unsigned n_quic_fds, int ctl_fd)
{
	return seccomp_load_rows(POLICY_LISTENER, false, false, quic_fds, n_quic_fds, -1, ctl_fd);
}

int policy_seccomp_load_config(int serve_fd)
{
	return seccomp_load_rows(POLICY_CONFIG, false, false, NULL, 0, serve_fd, -1);
}

/* the checker has no source bind and no QUIC socket: it dials TCP only */
int policy_seccomp_load_health(bool allow_ipv4, int serve_fd)
{
	return seccomp_load_rows(POLICY_HEALTH, allow_ipv4, false, NULL, 0, serve_fd, -1);
}

static int seccomp_load_rows(enum policy_proc proc, bool allow_ipv4, bool allow_source_bind, const int *quic_fds,
			     unsigned n_quic_fds, int serve_fd, int ctl_fd)
{
	uint32_t kill = SCMP_ACT_KILL_PROCESS;
	int r, lo = -1, hi = -1;

	for (unsigned i = 0; i < n_quic_fds; i++) {
		if (lo < 0 || quic_fds[i] < lo)
			lo = quic_fds[i];
		if (quic_fds[i] > hi)
			hi = quic_fds[i];
	}
	/* the forwarder's range must hold its QUIC sockets only */
	if (proc == POLICY_FORWARDER && n_quic_fds && (unsigned)(hi - lo + 1) != n_quic_fds) {
		log_msg(LOG_ERR, "seccomp: the QUIC sockets are not contiguous fds (%d..%d for %u)", lo, hi,
			n_quic_fds);
		return -EINVAL;
	}
	if (proc != POLICY_FORWARDER)
		lo = hi = -1;

	/* KILL_PROCESS needs API level 3; a unit whose SystemCallFilter=
	 * leaves out seccomp() drops us to level 1 (see TESTING.md). We are
	 * single-threaded, so killing the thread kills the process anyway. */
	if (seccomp_api_get() < 3)
		kill = SCMP_ACT_KILL;
	scmp_filter_ctx ctx = seccomp_init(kill);
	if (!ctx)
		return -ENOMEM;
	r = add_rows_but(ctx, common_rows, sizeof(common_rows) / sizeof(common_rows[0]), lo, hi);
	if (r >= 0 && proc == POLICY_LISTENER)
		r = add_rows(ctx, listener_rows, sizeof(listener_rows) / sizeof(listener_rows[0]));
	/* the listener reads every datagram of its QUIC sockets, with the
	 * address each was sent to: recvmmsg on those fds only */
	for (unsigned i = 0; r >= 0 && proc == POLICY_LISTENER && i < n_quic_fds; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(recvmmsg), 1,
				     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)quic_fds[i]));
	/* under `gatehouse run`: a replacement forwarder's channel (and its
	 * load page's memfd) from the launcher, SCM_RIGHTS on the control
	 * socket (common/handoff_chan.h). That fd only: a channel's messages
	 * are still read with recv() alone, which takes no fd. The page is
	 * mapped by the common mmap row (no PROT_EXEC); its seals refuse a
	 * writable shared mapping, and no row allows mprotect. */
	if (r >= 0 && proc == POLICY_LISTENER && ctl_fd >= 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(recvmmsg), 1,
				     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)ctl_fd));
	if (r >= 0 && (proc == POLICY_FORWARDER || proc == POLICY_HEALTH)) {
		if (proc == POLICY_FORWARDER)
			r = add_rows_but(ctx, forwarder_rows, sizeof(forwarder_rows) / sizeof(forwarder_rows[0]), lo, hi);
		else
			r = add_rows(ctx, health_rows, sizeof(health_rows) / sizeof(health_rows[0]));
		if (r >= 0)
			r = add_socket_rules(ctx, AF_INET6, SOCK_STREAM);
		if (r >= 0 && allow_ipv4)
			r = add_socket_rules(ctx, AF_INET, SOCK_STREAM);
		if (r >= 0 && allow_source_bind)
			r = add_source_bind_rules(ctx);
		/* QUIC: a connected UDP socket per flow to a configured server,
		 * and sendmmsg on any fd: batches to those sockets (connected,
		 * like TCP, so no address is needed; seccomp cannot read
		 * msg_name, but connect() is open to this process anyway) and
		 * replies on the QUIC sockets, from the client's address */
		if (r >= 0 && n_quic_fds)
			r = add_socket_rules(ctx, AF_INET6, SOCK_DGRAM);
		if (r >= 0 && n_quic_fds && allow_ipv4)
			r = add_socket_rules(ctx, AF_INET, SOCK_DGRAM);
		if (r >= 0 && n_quic_fds)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendmmsg), 0);
		/* journal records, one call per event-loop round: on the journal
		 * socket only. Its msg_name is memory seccomp cannot read; on any
		 * other datagram socket (the notify one) it could name another
		 * abstract socket. No journal socket, no sendmmsg. */
		if (r >= 0 && !n_quic_fds && log_journal_fd() >= 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendmmsg), 1,
					     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)log_journal_fd()));
	}
	/* the health checker under systemd: take a forwarder's connection on
	 * its one listening socket, send the page (SCM_RIGHTS) on it. The
	 * fd of that sendmsg is not fixed (each connection's own), so its
	 * flags are: a msg_name on a connected socket is refused (EISCONN)
	 * or ignored, but on the journal socket it could name another
	 * abstract socket of the host's namespace, as README says. */
	if (r >= 0 && proc == POLICY_HEALTH && serve_fd > 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(accept4), 2, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)serve_fd),
				     SCMP_A3(SCMP_CMP_EQ, SOCK_NONBLOCK | SOCK_CLOEXEC));
	if (r >= 0 && proc == POLICY_HEALTH && serve_fd > 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendmsg), 1,
				     SCMP_A2(SCMP_CMP_EQ, MSG_DONTWAIT | MSG_NOSIGNAL));
	if (r >= 0 && proc == POLICY_METRICS)
		r = add_rows(ctx, metrics_rows, sizeof(metrics_rows) / sizeof(metrics_rows[0]));
	/* gatehouse-config: blocking accept on its one socket; journal
	 * records as the forwarder's (on the journal socket only) */
	if (r >= 0 && proc == POLICY_CONFIG)
		r = add_rows(ctx, config_rows, sizeof(config_rows) / sizeof(config_rows[0]));
	if (r >= 0 && proc == POLICY_CONFIG)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(accept4), 2, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)serve_fd),
				     SCMP_A3(SCMP_CMP_EQ, SOCK_CLOEXEC));
	if (r >= 0 && proc == POLICY_CONFIG && log_journal_fd() >= 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendmmsg), 1,
				     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)log_journal_fd()));
	if (r >= 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r < 0 ? r : 0;
}
