/* SPDX-License-Identifier: MIT */
/*
 * The seccomp allowlists, one per process: a row per system call and why.
 * Anything not listed kills the process (SCMP_ACT_KILL_PROCESS). Native
 * architecture only: other ABIs (x32, i386 on x86-64) are not added to the
 * filter, so their calls hit the default action and die too.
 *
 * Review beside units/gatehouse-*.service SystemCallFilter=.
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "common/log.h"
#include "policy/policy.h"

struct row {
	int nr;
	const char *why;
};

#define ROW(name, why) { SCMP_SYS(name), why }

/* Both processes: memory, time, signals, exit, logging. */
static const struct row common_rows[] = {
	/* memory: malloc/free */
	ROW(brk, "malloc"),
	ROW(mmap, "malloc of large blocks"),
	ROW(munmap, "free of large blocks"),
	ROW(mremap, "realloc of large blocks"),
	ROW(madvise, "free() returning memory"),
	/* time: vDSO normally; the syscall is the fallback */
	ROW(clock_gettime, "deadlines and log durations"),
	ROW(gettimeofday, "vDSO fallback"),
	/* event loop */
	ROW(epoll_pwait, "the event loop (signal mask atomically)"),
	ROW(epoll_wait, "the event loop"),
	ROW(epoll_ctl, "add/remove client and server fds"),
	/* signals and exit */
	ROW(rt_sigreturn, "return from the SIGTERM handler"),
	ROW(rt_sigpending, "busy rounds and exit: a SIGTERM epoll_pwait did not deliver"),
	ROW(exit_group, "exit"),
	ROW(exit, "exit"),
	/* I/O on fds we already hold */
	ROW(close, "close clients, servers, pipes"),
	ROW(write, "stderr log lines"),
	ROW(sendmsg, "journal records on the pre-connected journal socket"),
	ROW(sendto, "send(): answers, relay, notify socket"),
	ROW(recvfrom, "recv(): peek and relay"),
	ROW(shutdown, "half-close"),
};

/* The listener: accept, peek, answer, hand off. No socket(), connect(),
 * open(), execve(), fork(): it can only talk on fds it was given. */
static const struct row listener_rows[] = {
	ROW(accept4, "take clients from the listening sockets"),
	ROW(sendmmsg, "hand-off: several clients per call over the channel"),
};

/* The forwarder: receive fds, dial servers, relay. socket() is allowed
 * below only for TCP over IPv6 (and IPv4 when a backend needs it). */
static const struct row forwarder_rows[] = {
	ROW(recvmmsg, "hand-off messages with their fds"),
	ROW(sendmmsg, "journal records, one call per event-loop round"),
	ROW(connect, "dial a configured server (addresses from our own config)"),
	ROW(getsockopt, "SO_ERROR after connect, TCP_INFO to vet a received fd"),
	ROW(getpeername, "PROXY header: the client's address from the kernel"),
	ROW(getsockname, "PROXY header: the address the client reached"),
	ROW(splice, "relay without copying"),
	ROW(pipe2, "pipes for splice"),
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

static int add_rows(scmp_filter_ctx ctx, const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, rows[i].nr, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_socket_rules(scmp_filter_ctx ctx, int family)
{
	/* socket(family, SOCK_STREAM [| SOCK_NONBLOCK | SOCK_CLOEXEC], 0) */
	const uint64_t type_mask = 0xffffffffu & ~(uint64_t)(SOCK_NONBLOCK | SOCK_CLOEXEC);
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 3,
				SCMP_A0(SCMP_CMP_EQ, (uint64_t)family),
				SCMP_A1(SCMP_CMP_MASKED_EQ, type_mask, SOCK_STREAM),
				SCMP_A2(SCMP_CMP_EQ, 0));
}

int policy_seccomp_load(enum policy_proc proc, bool allow_ipv4)
{
	uint32_t kill = SCMP_ACT_KILL_PROCESS;
	int r;

	/* KILL_PROCESS needs API level 3; a unit whose SystemCallFilter=
	 * leaves out seccomp() drops us to level 1 (see TESTING.md). We are
	 * single-threaded, so killing the thread kills the process anyway. */
	if (seccomp_api_get() < 3)
		kill = SCMP_ACT_KILL;
	scmp_filter_ctx ctx = seccomp_init(kill);
	if (!ctx)
		return -ENOMEM;
	r = add_rows(ctx, common_rows, sizeof(common_rows) / sizeof(common_rows[0]));
	if (r >= 0 && proc == POLICY_LISTENER)
		r = add_rows(ctx, listener_rows, sizeof(listener_rows) / sizeof(listener_rows[0]));
	if (r >= 0 && proc == POLICY_FORWARDER) {
		r = add_rows(ctx, forwarder_rows, sizeof(forwarder_rows) / sizeof(forwarder_rows[0]));
		if (r >= 0)
			r = add_socket_rules(ctx, AF_INET6);
		if (r >= 0 && allow_ipv4)
			r = add_socket_rules(ctx, AF_INET);
		/* fcntl only to size pipes */
		if (r >= 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
					     SCMP_A1(SCMP_CMP_EQ, F_SETPIPE_SZ));
		/* ... and to make a handed-over client socket non-blocking,
		 * with exactly these flags (forwarder/intake.c) */
		if (r >= 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 2,
					     SCMP_A1(SCMP_CMP_EQ, F_SETFL),
					     SCMP_A2(SCMP_CMP_EQ, O_RDWR | O_NONBLOCK));
	}
	if (r >= 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r < 0 ? r : 0;
}
