/* SPDX-License-Identifier: MIT */
/*
 * The seccomp allowlists, tested for real: each test forks, loads a
 * process's policy in the child and makes one call. Forbidden calls must
 * kill the child with SIGSYS; the calls each daemon's loop makes must
 * succeed. Own fork rather than check's, so nothing check does after a
 * test body runs under the filter.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common/config_load.h"
#include "common/counters.h"
#include "common/fdpass.h"
#include "common/handoff_chan.h"
#include "common/load.h"
#include "common/log.h"
#include "policy/policy.h"

typedef int (*action_fn)(void);

/* the forwarder's `source-prefix` rows (bind, IPV6_FREEBIND) loaded too */
static bool source_bind;

/* Run fn in a child under the policy; return its wait status. */
static int under_policy(enum policy_proc proc, bool v4, action_fn fn)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (policy_seccomp_load_bind(proc, v4, source_bind) < 0)
			_exit(99);
		_exit(fn() == 0 ? 0 : 1);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

static void expect_sigsys(enum policy_proc proc, bool v4, action_fn fn, const char *what)
{
	int st = under_policy(proc, v4, fn);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "%s: not killed by SIGSYS (status %#x)", what, st);
}

static void expect_ok(enum policy_proc proc, bool v4, action_fn fn, const char *what)
{
	int st = under_policy(proc, v4, fn);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: failed under the policy (status %#x)", what, st);
}

/* --- forbidden calls, each by its raw number (glibc maps open() to
 * openat, stat() to newfstatat, pipe() to pipe2...: a wrapper would test
 * the sibling, not the row) --- */
static char path[] = "/etc/hostname";
static char byte[1] = "x";
static struct sockaddr_in6 somewhere = { .sin6_family = AF_INET6, .sin6_port = 9 };
static struct iovec one_iov = { .iov_base = byte, .iov_len = 1 };
static struct msghdr one_msg = { .msg_iov = &one_iov, .msg_iovlen = 1 };
static char scratch_buf[256];
static int fds2[2];

#define P(x) ((long)(uintptr_t)(x))
enum { ADDR_PATH = -1000, ADDR_BUF, ADDR_BYTE, ADDR_SOMEWHERE, ADDR_MSG, ADDR_FDS, ADDR_ARGV };
static long arg_value(long a)
{
	static char *argv[] = { path, NULL };
	switch (a) {
	case ADDR_PATH: return P(path);
	case ADDR_BUF: return P(scratch_buf);
	case ADDR_BYTE: return P(byte);
	case ADDR_SOMEWHERE: return P(&somewhere);
	case ADDR_MSG: return P(&one_msg);
	case ADDR_FDS: return P(fds2);
	case ADDR_ARGV: return P(argv);
	default: return a;
	}
}

static const struct forbidden {
	const char *what;
	long nr;
	long a[6];
	bool listener, forwarder;	/* forbidden for which */
} forbidden[] = {
	/* files: no row allows any of them */
	{ "open", SYS_open, { ADDR_PATH, O_RDONLY }, true, true },
	{ "openat", SYS_openat, { AT_FDCWD, ADDR_PATH, O_RDONLY }, true, true },
	{ "openat2", SYS_openat2, { AT_FDCWD, ADDR_PATH, ADDR_BUF, 24 }, true, true },
	{ "creat", SYS_creat, { ADDR_PATH, 0600 }, true, true },
	{ "stat", SYS_stat, { ADDR_PATH, ADDR_BUF }, true, true },
	{ "lstat", SYS_lstat, { ADDR_PATH, ADDR_BUF }, true, true },
	{ "fstat", SYS_fstat, { 2, ADDR_BUF }, true, true },
	{ "newfstatat", SYS_newfstatat, { AT_FDCWD, ADDR_PATH, ADDR_BUF, 0 }, true, true },
	{ "statx", SYS_statx, { AT_FDCWD, ADDR_PATH, 0, 0x7ff, ADDR_BUF }, true, true },
	{ "read", SYS_read, { 0, ADDR_BUF, 1 }, true, true },
	{ "readv", SYS_readv, { 0, ADDR_MSG, 0 }, true, true },
	{ "ioctl", SYS_ioctl, { 2, 0x5401, ADDR_BUF }, true, true },
	/* fds: none made but by the rows that must */
	{ "pipe", SYS_pipe, { ADDR_FDS }, true, true },
	{ "pipe2", SYS_pipe2, { ADDR_FDS, O_CLOEXEC }, true, false },
	{ "dup", SYS_dup, { 2 }, true, true },
	{ "dup2", SYS_dup2, { 2, 40 }, true, true },
	{ "dup3", SYS_dup3, { 2, 40, O_CLOEXEC }, true, true },
	{ "memfd_create", SYS_memfd_create, { ADDR_PATH, 0 }, true, true },
	{ "eventfd2", SYS_eventfd2, { 0, 0 }, true, true },
	{ "epoll_create1", SYS_epoll_create1, { 0 }, true, true },
	/* accept: the listener only, and only non-blocking close-on-exec */
	{ "accept", SYS_accept, { 0, 0, 0 }, true, true },
	{ "accept4(0)", SYS_accept4, { 0, 0, 0, 0 }, true, true },
	{ "accept4(SOCK_CLOEXEC)", SYS_accept4, { 0, 0, 0, SOCK_CLOEXEC }, true, true },
	{ "accept4(SOCK_NONBLOCK)", SYS_accept4, { 0, 0, 0, SOCK_NONBLOCK }, true, true },
	{ "accept4(SOCK_NONBLOCK|SOCK_CLOEXEC)", SYS_accept4, { 0, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC }, false, true },
	/* event loop: epoll_pwait only */
	{ "epoll_wait", SYS_epoll_wait, { 0, ADDR_BUF, 1, 0 }, true, true },
	{ "epoll_pwait2", SYS_epoll_pwait2, { 0, ADDR_BUF, 1, 0, 0, 8 }, true, true },
	{ "poll", SYS_poll, { 0, 0, 0 }, true, true },
	{ "select", SYS_select, { 0, 0, 0, 0, 0 }, true, true },
	/* half-close of our sending side only */
	{ "shutdown(SHUT_RD)", SYS_shutdown, { 0, SHUT_RD }, true, true },
	{ "shutdown(SHUT_RDWR)", SYS_shutdown, { 0, SHUT_RDWR }, true, true },
	/* memory: never executable, no advice but MADV_DONTNEED */
	{ "mmap(PROT_EXEC)", SYS_mmap, { 0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0 }, true, true },
	{ "mmap(PROT_WRITE|PROT_EXEC)", SYS_mmap, { 0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0 }, true, true },
	{ "mprotect(PROT_EXEC)", SYS_mprotect, { 0x10000, 4096, PROT_READ | PROT_EXEC }, true, true },
	{ "mprotect(PROT_READ)", SYS_mprotect, { 0x10000, 4096, PROT_READ }, true, true },
	{ "pkey_mprotect", SYS_pkey_mprotect, { 0x10000, 4096, PROT_READ | PROT_EXEC, 0 }, true, true },
	{ "madvise(MADV_REMOVE)", SYS_madvise, { 0x10000, 4096, MADV_REMOVE }, true, true },
	{ "madvise(MADV_FREE)", SYS_madvise, { 0x10000, 4096, MADV_FREE }, true, true },
	{ "madvise(MADV_DONTFORK)", SYS_madvise, { 0x10000, 4096, MADV_DONTFORK }, true, true },
	/* sending: on connected sockets only; what only memory holds is
	 * beyond seccomp, so sendmsg (unused) is not allowed at all */
	{ "sendto with an address", SYS_sendto, { 0, ADDR_BYTE, 1, 0, ADDR_SOMEWHERE, sizeof(somewhere) }, true, true },
	{ "sendmsg", SYS_sendmsg, { 0, ADDR_MSG, 0 }, true, true },
	{ "recvmsg", SYS_recvmsg, { 0, ADDR_MSG, 0 }, true, true },
	{ "sendmmsg (forwarder: no journal socket)", SYS_sendmmsg, { 0, ADDR_BUF, 1, 0 }, false, true },
	{ "recvmmsg", SYS_recvmmsg, { 0, ADDR_BUF, 1, 0, 0 }, true, false },
	{ "write(1)", SYS_write, { 1, ADDR_BYTE, 0 }, true, true },
	{ "write(0)", SYS_write, { 0, ADDR_BYTE, 0 }, true, true },
	{ "write(3)", SYS_write, { 3, ADDR_BYTE, 0 }, true, true },
	{ "writev(2)", SYS_writev, { 2, ADDR_MSG, 0 }, true, true },
	{ "pwrite64(2)", SYS_pwrite64, { 2, ADDR_BYTE, 0, 0 }, true, true },
	/* fcntl: the forwarder's two uses, nothing else, and none in the listener */
	{ "fcntl(F_SETFL, O_RDWR|O_NONBLOCK)", SYS_fcntl, { 0, F_SETFL, O_RDWR | O_NONBLOCK }, true, false },
	{ "fcntl(F_SETFL, O_NONBLOCK)", SYS_fcntl, { 0, F_SETFL, O_NONBLOCK }, true, true },
	{ "fcntl(F_GETFL)", SYS_fcntl, { 0, F_GETFL }, true, true },
	{ "fcntl(F_SETFL, O_APPEND)", SYS_fcntl, { 0, F_SETFL, O_APPEND }, true, true },
	{ "fcntl(F_SETFL, O_RDWR|O_NONBLOCK|O_APPEND)", SYS_fcntl, { 0, F_SETFL, O_RDWR | O_NONBLOCK | O_APPEND }, true, true },
	{ "fcntl(F_SETFL, O_NONBLOCK|O_ASYNC)", SYS_fcntl, { 0, F_SETFL, O_NONBLOCK | O_ASYNC }, true, true },
	{ "fcntl(F_SETFL, 0)", SYS_fcntl, { 0, F_SETFL, 0 }, true, true },
	{ "fcntl(F_SETOWN)", SYS_fcntl, { 0, F_SETOWN, 1 }, true, true },
	{ "fcntl(F_DUPFD)", SYS_fcntl, { 0, F_DUPFD, 40 }, true, true },
	{ "fcntl(F_SETPIPE_SZ)", SYS_fcntl, { 0, F_SETPIPE_SZ, 4096 }, true, false },
	/* sockets: the forwarder may make TCP over IPv6 (IPv4 when told) */
	{ "socket(AF_INET) without IPv4 backends", SYS_socket, { AF_INET, SOCK_STREAM, 0 }, true, true },
	{ "socket(AF_INET6, SOCK_DGRAM)", SYS_socket, { AF_INET6, SOCK_DGRAM, 0 }, true, true },
	{ "socket(AF_INET6, SOCK_STREAM)", SYS_socket, { AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0 }, true, false },
	{ "socket(AF_INET6, SOCK_STREAM, IPPROTO_SCTP)", SYS_socket, { AF_INET6, SOCK_STREAM, IPPROTO_SCTP }, true, true },
	{ "socket(AF_INET6, SOCK_RAW)", SYS_socket, { AF_INET6, SOCK_RAW, IPPROTO_TCP }, true, true },
	{ "socket(AF_UNIX)", SYS_socket, { AF_UNIX, SOCK_STREAM, 0 }, true, true },
	{ "socket(AF_UNIX, SOCK_DGRAM)", SYS_socket, { AF_UNIX, SOCK_DGRAM, 0 }, true, true },
	{ "socket(AF_NETLINK)", SYS_socket, { AF_NETLINK, SOCK_RAW, 0 }, true, true },
	{ "socket(AF_PACKET)", SYS_socket, { AF_PACKET, SOCK_RAW, 0 }, true, true },
	{ "socketpair", SYS_socketpair, { AF_UNIX, SOCK_STREAM, 0, ADDR_FDS }, true, true },
	{ "connect", SYS_connect, { 0, ADDR_SOMEWHERE, sizeof(somewhere) }, true, false },
	{ "bind", SYS_bind, { 0, ADDR_SOMEWHERE, sizeof(somewhere) }, true, true },
	{ "listen", SYS_listen, { 0, 1 }, true, true },
	{ "setsockopt", SYS_setsockopt, { 0, SOL_SOCKET, SO_REUSEADDR, ADDR_BUF, 4 }, true, true },
	{ "getsockopt", SYS_getsockopt, { 0, SOL_SOCKET, SO_ERROR, ADDR_BUF, ADDR_BUF }, true, false },
	{ "splice", SYS_splice, { 0, 0, 1, 0, 1, 0 }, true, false },
	/* processes and privileges */
	{ "execve", SYS_execve, { ADDR_PATH, ADDR_ARGV, 0 }, true, true },
	{ "execveat", SYS_execveat, { AT_FDCWD, ADDR_PATH, ADDR_ARGV, 0, 0 }, true, true },
	{ "clone (fork)", SYS_clone, { SIGCHLD, 0, 0, 0, 0 }, true, true },
	{ "clone3", SYS_clone3, { ADDR_BUF, 88 }, true, true },
	{ "fork", SYS_fork, { 0 }, true, true },
	{ "vfork", SYS_vfork, { 0 }, true, true },
	{ "exit (one thread)", SYS_exit, { 0 }, true, true },
	{ "ptrace", SYS_ptrace, { PTRACE_TRACEME, 0, 0, 0 }, true, true },
	{ "kill", SYS_kill, { 1, 0 }, true, true },
	{ "tgkill", SYS_tgkill, { 1, 1, 0 }, true, true },
	{ "rt_sigprocmask", SYS_rt_sigprocmask, { SIG_SETMASK, 0, 0, 8 }, true, true },
	{ "rt_sigaction", SYS_rt_sigaction, { SIGTERM, 0, 0, 8 }, true, true },
	{ "prctl", SYS_prctl, { PR_SET_DUMPABLE, 1, 0, 0, 0 }, true, true },
	{ "seccomp", SYS_seccomp, { 0, 0, 0 }, true, true },
	{ "unshare", SYS_unshare, { 0 }, true, true },
	{ "setuid", SYS_setuid, { 0 }, true, true },
	{ "chroot", SYS_chroot, { ADDR_PATH }, true, true },
	{ "mount", SYS_mount, { ADDR_PATH, ADDR_PATH, 0, 0, 0 }, true, true },
	{ "getpid", SYS_getpid, { 0 }, true, true },
	{ "nanosleep", SYS_nanosleep, { 0, 0 }, true, true },
	{ "getrandom", SYS_getrandom, { ADDR_BUF, 1, 0 }, true, true },
};
#define N_FORBIDDEN (int)(sizeof(forbidden) / sizeof(forbidden[0]))

/* the child's one call: killed, or back here to exit 0 (a test failure) */
static const struct forbidden *cur;
static int do_raw(void)
{
	const long *a = cur->a;
	(void)syscall(cur->nr, arg_value(a[0]), arg_value(a[1]), arg_value(a[2]),
		      arg_value(a[3]), arg_value(a[4]), arg_value(a[5]));
	return 0;
}

START_TEST(listener_forbidden)
{
	if (!forbidden[_i].listener)
		return;
	cur = &forbidden[_i];
	expect_sigsys(POLICY_LISTENER, false, do_raw, forbidden[_i].what);
}
END_TEST

START_TEST(forwarder_forbidden)
{
	if (!forbidden[_i].forwarder)
		return;
	cur = &forbidden[_i];
	expect_sigsys(POLICY_FORWARDER, false, do_raw, forbidden[_i].what);
}
END_TEST

/* With `source-prefix`: every row above still forbidden but the one
 * bind() of an IPv6 socket address's length, now allowed */
START_TEST(forwarder_forbidden_with_source_bind)
{
	if (!forbidden[_i].forwarder || forbidden[_i].nr == SYS_bind)
		return;
	cur = &forbidden[_i];
	source_bind = true;
	expect_sigsys(POLICY_FORWARDER, false, do_raw, forbidden[_i].what);
}
END_TEST

/* What the source-prefix rows still refuse: seccomp reads registers only,
 * so bind() is told apart by its length (sizeof(struct sockaddr_in6),
 * 28) and setsockopt() by level, option and length */
static struct sockaddr_storage any_sa;
static int one_int = 1;
enum { ADDR_ANY_SA = -2000, ADDR_ONE };
static const struct forbidden source_bind_forbidden[] = {
	{ "bind, sockaddr_in length (16)", SYS_bind, { 0, ADDR_ANY_SA, sizeof(struct sockaddr_in) }, false, true },
	{ "bind, sockaddr_un length (110)", SYS_bind, { 0, ADDR_ANY_SA, sizeof(struct sockaddr_un) }, false, true },
	{ "bind, sockaddr_storage length (128)", SYS_bind, { 0, ADDR_ANY_SA, sizeof(struct sockaddr_storage) }, false, true },
	{ "bind, length 27", SYS_bind, { 0, ADDR_ANY_SA, 27 }, false, true },
	{ "bind, length 29", SYS_bind, { 0, ADDR_ANY_SA, 29 }, false, true },
	{ "bind, length 28 + 2^32", SYS_bind, { 0, ADDR_ANY_SA, 28 + (1L << 32) }, false, true },
	{ "listen", SYS_listen, { 0, 1 }, false, true },
	{ "accept4", SYS_accept4, { 0, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC }, false, true },
	{ "setsockopt(IPV6_TRANSPARENT)", SYS_setsockopt, { 0, IPPROTO_IPV6, 75, ADDR_ONE, 4 }, false, true },
	{ "setsockopt(IP_TRANSPARENT)", SYS_setsockopt, { 0, IPPROTO_IP, IP_TRANSPARENT, ADDR_ONE, 4 }, false, true },
	{ "setsockopt(IP_FREEBIND)", SYS_setsockopt, { 0, IPPROTO_IP, IP_FREEBIND, ADDR_ONE, 4 }, false, true },
	{ "setsockopt(IPV6_FREEBIND), length 1", SYS_setsockopt, { 0, IPPROTO_IPV6, IPV6_FREEBIND, ADDR_ONE, 1 }, false, true },
	{ "setsockopt(IPV6_FREEBIND), level SOL_SOCKET", SYS_setsockopt, { 0, SOL_SOCKET, IPV6_FREEBIND, ADDR_ONE, 4 }, false, true },
	{ "setsockopt(SO_REUSEADDR)", SYS_setsockopt, { 0, SOL_SOCKET, SO_REUSEADDR, ADDR_ONE, 4 }, false, true },
	{ "setsockopt(SO_REUSEPORT)", SYS_setsockopt, { 0, SOL_SOCKET, SO_REUSEPORT, ADDR_ONE, 4 }, false, true },
	{ "setsockopt(SO_BINDTODEVICE)", SYS_setsockopt, { 0, SOL_SOCKET, SO_BINDTODEVICE, ADDR_PATH, 4 }, false, true },
	{ "setsockopt(IPV6_V6ONLY)", SYS_setsockopt, { 0, IPPROTO_IPV6, IPV6_V6ONLY, ADDR_ONE, 4 }, false, true },
	{ "socket(AF_INET6, SOCK_DGRAM)", SYS_socket, { AF_INET6, SOCK_DGRAM, 0 }, false, true },
};
#define N_SOURCE_BIND_FORBIDDEN (int)(sizeof(source_bind_forbidden) / sizeof(source_bind_forbidden[0]))

static int do_raw_sa(void)
{
	long a[6];
	for (int i = 0; i < 6; i++)
		a[i] = cur->a[i] == ADDR_ANY_SA ? P(&any_sa) : cur->a[i] == ADDR_ONE ? P(&one_int) : arg_value(cur->a[i]);
	(void)syscall(cur->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	return 0;
}

START_TEST(source_bind_still_forbidden)
{
	cur = &source_bind_forbidden[_i];
	source_bind = true;
	expect_sigsys(POLICY_FORWARDER, false, do_raw_sa, source_bind_forbidden[_i].what);
}
END_TEST

/* What the forwarder does for a source-prefix client, by raw number: a
 * fresh TCP socket, IPV6_FREEBIND, bind to an address no interface has
 * (2001:db8:ff::c000:205, port 0) */
static int do_source_bind(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET6, "2001:db8:ff::192.0.2.5", &a.sin6_addr);
	if (fd < 0)
		return 1;
	if (syscall(SYS_setsockopt, fd, IPPROTO_IPV6, IPV6_FREEBIND, &one_int, sizeof(one_int)) < 0)
		return 2;
	if (syscall(SYS_bind, fd, &a, sizeof(a)) < 0)
		return 3;
	close(fd);
	return 0;
}

START_TEST(source_bind_only_when_configured)
{
	source_bind = true;
	expect_ok(POLICY_FORWARDER, false, do_source_bind, "forwarder with source-prefix: IPV6_FREEBIND + bind");
	source_bind = false;
	expect_sigsys(POLICY_FORWARDER, false, do_source_bind, "forwarder without source-prefix: IPV6_FREEBIND");
	source_bind = true;
	expect_sigsys(POLICY_LISTENER, false, do_source_bind, "listener: never");
	expect_sigsys(POLICY_METRICS, false, do_source_bind, "exporter: never");
}
END_TEST

static int do_socket_inet(void) { return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : 1; }
static int do_socket_unix(void) { return socket(AF_UNIX, SOCK_STREAM, 0) >= 0 ? 0 : 0; }

/* What both daemons' allocator and logging do: must live. */
static int common_calls(void)
{
	char *big = malloc(8 << 20);	/* mmap, then munmap on free */
	if (!big)
		return 1;
	memset(big, 1, 8 << 20);
	free(big);
	void *p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || madvise(p, 1 << 16, MADV_DONTNEED) < 0 || munmap(p, 1 << 16) < 0)
		return 2;
	if (write(STDERR_FILENO, "", 0) < 0)
		return 3;
	if (send(fds2[0], "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1)
		return 4;
	if (shutdown(fds2[0], SHUT_WR) < 0)
		return 5;
	return 0;
}

START_TEST(common_calls_live)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds2), 0);
	expect_ok(POLICY_LISTENER, false, common_calls, "listener: malloc, madvise, stderr, send, shutdown");
	close(fds2[0]);
	close(fds2[1]);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds2), 0);
	expect_ok(POLICY_FORWARDER, false, common_calls, "forwarder: malloc, madvise, stderr, send, shutdown");
	close(fds2[0]);
	close(fds2[1]);
}
END_TEST

START_TEST(forwarder_ipv4_only_when_configured)
{
	expect_ok(POLICY_FORWARDER, true, do_socket_inet, "socket(AF_INET) with IPv4 backends");
	expect_sigsys(POLICY_FORWARDER, true, do_socket_unix, "socket(AF_UNIX) with IPv4 backends");
}
END_TEST

/* --- the listener's loop, for real, under its policy --- */
static int lst_fd, cli_fd, chan[2], ep;

static int listener_loop(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lst_fd }, out;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lst_fd, &ev) < 0 || epoll_pwait(ep, &out, 1, 5000, NULL) != 1)
		return 1;
	int c = accept4(lst_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0)
		return 2;
	char buf[64];
	struct epoll_event cev = { .events = EPOLLIN | EPOLLET, .data.fd = c };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) < 0 || epoll_pwait(ep, &out, 1, 5000, NULL) != 1)
		return 3;
	if (recv(c, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT) != 5)
		return 4;
	char *p = malloc(1 << 20);	/* large malloc: mmap */
	free(p);
	struct iovec iov = { .iov_base = buf, .iov_len = 5 };
	union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr a; } ctl;
	struct mmsghdr mm = { .msg_hdr = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
					   .msg_controllen = sizeof(ctl.b) } };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mm.msg_hdr);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &c, sizeof(int));
	if (sendmmsg(chan[0], &mm, 1, MSG_DONTWAIT) != 1)
		return 5;
	if (send(c, "HTTP/1.1 400 x\r\n\r\n", 18, MSG_NOSIGNAL) != 18 || shutdown(c, SHUT_WR) < 0)
		return 6;
	if (write(STDERR_FILENO, "", 0) < 0)
		return 7;
	close(c);
	return 0;
}

START_TEST(listener_loop_works)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t al = sizeof(a);
	lst_fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_eq(bind(lst_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(lst_fd, 8), 0);
	ck_assert_int_eq(getsockname(lst_fd, (struct sockaddr *)&a, &al), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, chan), 0);
	ep = epoll_create1(0);
	cli_fd = socket(AF_INET6, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(cli_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(write(cli_fd, "hello", 5), 5);
	expect_ok(POLICY_LISTENER, false, listener_loop, "listener loop");
	/* the fd really travelled */
	char b[8];
	ck_assert_int_eq(recv(chan[1], b, sizeof(b), 0), 5);
}
END_TEST

/* --- the forwarder's loop, for real, under its policy --- */
static struct sockaddr_in6 backend;

static int forwarder_loop(void)
{
	struct handoff_like { char b[5]; } m;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr a; } ctl;
	struct mmsghdr mm = { .msg_hdr = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
					   .msg_controllen = sizeof(ctl.b) } };
	if (recvmmsg(chan[1], &mm, 1, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL) != 1)
		return 1;
	int cfd;
	memcpy(&cfd, CMSG_DATA(CMSG_FIRSTHDR(&mm.msg_hdr)), sizeof(int));
	/* make the received fd non-blocking, as the forwarder does */
	if (fcntl(cfd, F_SETFL, O_RDWR | O_NONBLOCK) < 0)
		return 10;
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	if (getsockopt(cfd, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0)
		return 2;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getpeername(cfd, (struct sockaddr *)&ss, &sl) < 0 || getsockname(cfd, (struct sockaddr *)&ss, &sl) < 0)
		return 3;
	int s = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 4;
	if (connect(s, (struct sockaddr *)&backend, sizeof(backend)) < 0 && errno != EINPROGRESS)
		return 5;
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLET }, out;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) < 0 || epoll_pwait(ep, &out, 1, 5000, NULL) != 1)
		return 6;
	int err;
	socklen_t el = sizeof(err);
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err)
		return 7;
	int p[2];
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		return 8;
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);	/* may fail on quota; must not kill */
	ssize_t n = splice(cfd, NULL, p[1], NULL, 65536, SPLICE_F_MOVE);
	if (n != 5 || splice(p[0], NULL, s, NULL, (size_t)n, SPLICE_F_MOVE) != 5)
		return 9;
	shutdown(s, SHUT_WR);
	close(s);
	close(cfd);
	return 0;
}

START_TEST(forwarder_loop_works)
{
	socklen_t al = sizeof(backend);
	int b = socket(AF_INET6, SOCK_STREAM, 0), l = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	ck_assert_int_eq(bind(b, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(b, 8), 0);
	ck_assert_int_eq(getsockname(b, (struct sockaddr *)&backend, &al), 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(l, 8), 0);
	al = sizeof(a);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
	int client = socket(AF_INET6, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(client, (struct sockaddr *)&a, sizeof(a)), 0);
	int accepted = accept(l, NULL, NULL);
	ck_assert_int_eq(write(client, "bytes", 5), 5);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, chan), 0);
	union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr a; } ctl;
	struct iovec iov = { .iov_base = (void *)"12345", .iov_len = 5 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &accepted, sizeof(int));
	ck_assert_int_eq(sendmsg(chan[0], &mh, 0), 5);
	close(accepted);
	ep = epoll_create1(0);
	expect_ok(POLICY_FORWARDER, false, forwarder_loop, "forwarder loop");
	/* the client's bytes reached the backend */
	int srv = accept(b, NULL, NULL);
	char got[8] = "";
	ck_assert_int_eq(read(srv, got, sizeof(got)), 5);
	ck_assert_mem_eq(got, "bytes", 5);
}
END_TEST

/* --- the forwarder's journal records: sendmmsg on that socket only --- */
static int journal_record(void)
{
	log_msg(LOG_INFO, "a record");	/* not batching: sent at once */
	return 0;
}

static int sendmmsg_elsewhere(void)
{
	struct mmsghdr mm = { .msg_hdr = one_msg };
	(void)sendmmsg(fds2[0], &mm, 1, MSG_DONTWAIT);
	return 0;
}

START_TEST(forwarder_sendmmsg_journal_only)
{
	char dir[] = "/tmp/gh-sandbox-XXXXXX", jpath[64];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(jpath, sizeof(jpath), "%s/journal", dir);
	int j = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", jpath);
	ck_assert_int_eq(bind(j, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct stat st;
	char stream[64];
	ck_assert_int_eq(fstat(STDERR_FILENO, &st), 0);
	snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", stream, 1);
	setenv("GATEHOUSE_JOURNAL_SOCKET", jpath, 1);
	log_setup("sandbox-test");
	ck_assert_int_ge(log_journal_fd(), 0);
	expect_ok(POLICY_FORWARDER, false, journal_record, "forwarder: a journal record");
	char rec[512];
	ssize_t n = recv(j, rec, sizeof(rec) - 1, MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	rec[n] = '\0';
	ck_assert_ptr_nonnull(strstr(rec, "MESSAGE=a record"));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, fds2), 0);
	expect_sigsys(POLICY_FORWARDER, false, sendmmsg_elsewhere, "forwarder: sendmmsg on another socket");
	close(j);
	unlink(jpath);
	rmdir(dir);
}
END_TEST


/* --- QUIC: the shared UDP sockets. The listener reads them (recvmmsg on
 * those fds only); the forwarder sends on them and may not read them, and
 * gets UDP sockets of its own only when it holds one. --- */
static int quic_fd = -1, other_udp = -1;

static int under_quic(enum policy_proc proc, action_fn fn)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (policy_seccomp_load_quic(proc, false, &quic_fd, 1) < 0)
			_exit(99);
		_exit(fn() == 0 ? 0 : 1);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

static void quic_expect(enum policy_proc proc, action_fn fn, bool killed, const char *what)
{
	int st = under_quic(proc, fn);
	if (killed)
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "%s: not killed by SIGSYS (status %#x)",
			      what, st);
	else
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: failed under the policy (status %#x)",
			      what, st);
}

static int quic_recvfrom(void)
{
	syscall(SYS_recvfrom, quic_fd, P(scratch_buf), sizeof(scratch_buf), MSG_DONTWAIT, 0L, 0L);
	return 0;
}

static int quic_recvmmsg(void)
{
	struct mmsghdr mm = { .msg_hdr = one_msg };
	syscall(SYS_recvmmsg, quic_fd, P(&mm), 1L, (long)MSG_DONTWAIT, 0L);
	return 0;
}

static int other_recvmmsg(void)
{
	struct mmsghdr mm = { .msg_hdr = one_msg };
	syscall(SYS_recvmmsg, other_udp, P(&mm), 1L, (long)MSG_DONTWAIT, 0L);
	return 0;
}

static int other_recvfrom(void)
{
	syscall(SYS_recvfrom, other_udp, P(scratch_buf), sizeof(scratch_buf), MSG_DONTWAIT, 0L, 0L);
	return 0;
}

static int quic_splice(void)
{
	syscall(SYS_splice, quic_fd, 0L, fds2[1], 0L, 1L, 0L);
	return 0;
}

static int udp_socket(void)
{
	long fd = syscall(SYS_socket, AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	return fd >= 0 ? 0 : 1;
}

static int quic_sendmmsg(void)
{
	/* a reply to a client: to an address, from one (the kernel may
	 * refuse the source; the filter must not) */
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(9), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct msghdr mh = one_msg;
	mh.msg_name = &to;
	mh.msg_namelen = sizeof(to);
	struct mmsghdr mm = { .msg_hdr = mh };
	syscall(SYS_sendmmsg, quic_fd, P(&mm), 1L, (long)MSG_DONTWAIT);
	return 0;
}

START_TEST(quic_socket_rows)
{
	struct sockaddr_in6 any = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	quic_fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	other_udp = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	ck_assert_int_eq(bind(quic_fd, (struct sockaddr *)&any, sizeof(any)), 0);
	ck_assert_int_eq(bind(other_udp, (struct sockaddr *)&any, sizeof(any)), 0);
	ck_assert_int_eq(pipe(fds2), 0);

	/* the forwarder never reads the shared socket, by any call */
	quic_expect(POLICY_FORWARDER, quic_recvfrom, true, "forwarder: recvfrom on the QUIC socket");
	quic_expect(POLICY_FORWARDER, quic_recvmmsg, true, "forwarder: recvmmsg on the QUIC socket");
	quic_expect(POLICY_FORWARDER, quic_splice, true, "forwarder: splice from the QUIC socket");
	/* ... but reads its own sockets, makes UDP ones and replies */
	quic_expect(POLICY_FORWARDER, other_recvmmsg, false, "forwarder: recvmmsg on a flow's socket");
	quic_expect(POLICY_FORWARDER, other_recvfrom, false, "forwarder: recvfrom on a flow's socket");
	quic_expect(POLICY_FORWARDER, udp_socket, false, "forwarder with QUIC: socket(AF_INET6, SOCK_DGRAM)");
	quic_expect(POLICY_FORWARDER, quic_sendmmsg, false, "forwarder: sendmmsg on the QUIC socket");
	/* without a QUIC socket, no UDP socket at all */
	expect_sigsys(POLICY_FORWARDER, false, udp_socket, "forwarder without QUIC: socket(AF_INET6, SOCK_DGRAM)");

	/* the listener reads the QUIC socket and nothing else with recvmmsg */
	quic_expect(POLICY_LISTENER, quic_recvmmsg, false, "listener: recvmmsg on the QUIC socket");
	quic_expect(POLICY_LISTENER, other_recvmmsg, true, "listener: recvmmsg on another socket");
	quic_expect(POLICY_LISTENER, udp_socket, true, "listener with QUIC: socket(AF_INET6, SOCK_DGRAM)");
	close(quic_fd);
	close(other_udp);
	close(fds2[0]);
	close(fds2[1]);
}
END_TEST

/* --- the forwarder's load page, as the listener maps it --- */
START_TEST(load_page_read_only_for_the_listener)
{
	int ch[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ch), 0);
	struct gh_load *mine = load_publish(ch[0], 7);
	ck_assert_ptr_nonnull(mine);
	const struct gh_load *ld = load_receive(ch[1], 1000);
	ck_assert_ptr_nonnull(ld);
	atomic_store(&mine->relays, 5);
	ck_assert_uint_eq(atomic_load(&ld->relays), 5);
	/* a compromised listener: no write access back, so no MADV_REMOVE
	 * (which needs a writable shared mapping) to zero the forwarder's page */
	void *page = (void *)(uintptr_t)ld;
	ck_assert_msg(mprotect(page, 4096, PROT_READ | PROT_WRITE) < 0, "the listener's mapping can be made writable");
	ck_assert_int_lt(madvise(page, 4096, MADV_REMOVE), 0);
	ck_assert_uint_eq(atomic_load(&mine->relays), 5);
	ck_assert_uint_eq(ld->magic, LOAD_MAGIC);
	close(ch[0]);
	close(ch[1]);
}
END_TEST

/* --- a replacement forwarder's channel, from `gatehouse run` to its
 * sandboxed listener over the control socket (common/handoff_chan.h):
 * the listener may recvmmsg on that one fd (and its QUIC sockets), map
 * the page it brings read-only and nothing more. A fake launcher here:
 * the test process vets a real forwarder page and passes it. --- */
static int ctl_pair[2] = { -1, -1 }, ctl_other = -1;
static bool ctl_row;	/* load the filter with the control fd */

static int under_ctl(action_fn fn)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (policy_seccomp_load_listener(NULL, 0, ctl_row ? ctl_pair[1] : -1) < 0)
			_exit(99);
		_exit(fn() == 0 ? 0 : 1);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

static void ctl_expect(action_fn fn, bool killed, const char *what)
{
	int st = under_ctl(fn);
	if (killed)
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "%s: not killed by SIGSYS (status %#x)",
			      what, st);
	else
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: failed under the policy (status %#x)",
			      what, st);
}

/* a launcher's message: a channel and a sealed page, as run_replace.c sends */
static void ctl_send_one(void)
{
	int ch[2], cfd[2];
	size_t size = 0;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ch), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, cfd), 0);
	struct gh_load *mine = load_publish(ch[0], 7);
	ck_assert_ptr_nonnull(mine);
	int page = load_receive_fd(ch[1], 1000, &size);
	ck_assert_int_ge(page, 0);
	ck_assert_int_eq(handoff_chan_send(ctl_pair[0], 3, cfd[0], page, size), 0);
	munmap(mine, size);
	close(page);
	close(ch[0]);
	close(ch[1]);
	close(cfd[0]);
	close(cfd[1]);
}

static int ctl_take(void)
{
	unsigned slot;
	int cfd, page;
	size_t size;
	if (handoff_chan_recv(ctl_pair[1], &slot, &cfd, &page, &size) != 1 || slot != 3 || cfd < 0 || page < 0)
		return 1;
	const struct gh_load_src *src;
	const struct gh_load *ld = load_map(page, size, &src);
	if (!ld || ld->magic != LOAD_MAGIC || ld->max_relays != 7)
		return 1;
	/* the page's seals refuse a writable shared mapping (EPERM, not a
	 * filter row): the listener cannot write what the forwarder reads */
	void *w = (void *)syscall(SYS_mmap, 0L, (long)size, (long)(PROT_READ | PROT_WRITE), (long)MAP_SHARED,
				  (long)page, 0L);
	if (w != MAP_FAILED || errno != EPERM)
		return 1;
	load_unmap(ld, src);
	return 0;
}

static int ctl_take_then_exec_map(void)
{
	unsigned slot;
	int cfd, page;
	size_t size;
	if (handoff_chan_recv(ctl_pair[1], &slot, &cfd, &page, &size) != 1)
		return 1;
	syscall(SYS_mmap, 0L, (long)size, (long)(PROT_READ | PROT_EXEC), (long)MAP_SHARED, (long)page, 0L);
	return 0;
}

static int ctl_recvmsg(void)
{
	char b[64];
	struct iovec iov = { .iov_base = b, .iov_len = sizeof(b) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	syscall(SYS_recvmsg, ctl_pair[1], P(&mh), (long)MSG_DONTWAIT);
	return 0;
}

static int ctl_recvmmsg(void)
{
	struct mmsghdr mm = { .msg_hdr = one_msg };
	return syscall(SYS_recvmmsg, ctl_pair[1], P(&mm), 1L, (long)MSG_DONTWAIT, 0L) < 0 && errno != EAGAIN;
}

static int other_fd_recvmmsg(void)
{
	struct mmsghdr mm = { .msg_hdr = one_msg };
	syscall(SYS_recvmmsg, ctl_other, P(&mm), 1L, (long)MSG_DONTWAIT, 0L);
	return 0;
}

START_TEST(listener_control_socket)
{
	int other[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ctl_pair), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, other), 0);
	ctl_other = other[1];

	ctl_row = true;
	/* a channel and its page come through, and map read-only only */
	ctl_send_one();
	ctl_expect(ctl_take, false, "listener: take a replacement channel and map its page");
	ctl_send_one();
	ctl_expect(ctl_take_then_exec_map, true, "listener: an executable mapping of the page");
	/* that fd and that call only: no recvmsg on it, no recvmmsg on
	 * another socket (a channel) */
	ctl_expect(ctl_recvmsg, true, "listener: recvmsg on the control socket");
	ctl_expect(ctl_recvmmsg, false, "listener: recvmmsg on the control socket");
	ctl_expect(other_fd_recvmmsg, true, "listener: recvmmsg on a socket that is not the control one");
	/* without a control socket (systemd) no recvmmsg at all but QUIC's */
	ctl_row = false;
	ctl_expect(ctl_recvmmsg, true, "listener without a control socket: recvmmsg on it");
	close(ctl_pair[0]);
	close(ctl_pair[1]);
	close(other[0]);
	close(other[1]);
}
END_TEST

/* --- the exporter (POLICY_METRICS): it answers scrapers on the socket it
 * was given and maps pages read-only; it cannot open a file, make or dial
 * a socket, or get write access to a page --- */
static const struct forbidden metrics_forbidden[] = {
	{ "open", SYS_open, { ADDR_PATH, O_RDONLY }, true, true },
	{ "openat", SYS_openat, { AT_FDCWD, ADDR_PATH, O_RDONLY }, true, true },
	{ "openat2", SYS_openat2, { AT_FDCWD, ADDR_PATH, ADDR_BUF, 24 }, true, true },
	{ "creat", SYS_creat, { ADDR_PATH, 0600 }, true, true },
	{ "newfstatat", SYS_newfstatat, { AT_FDCWD, ADDR_PATH, ADDR_BUF, 0 }, true, true },
	{ "read", SYS_read, { 0, ADDR_BUF, 1 }, true, true },
	{ "socket(AF_INET6)", SYS_socket, { AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0 }, true, true },
	{ "socket(AF_INET)", SYS_socket, { AF_INET, SOCK_STREAM, 0 }, true, true },
	{ "socket(AF_UNIX)", SYS_socket, { AF_UNIX, SOCK_DGRAM, 0 }, true, true },
	{ "socketpair", SYS_socketpair, { AF_UNIX, SOCK_STREAM, 0, ADDR_FDS }, true, true },
	{ "connect", SYS_connect, { 0, ADDR_SOMEWHERE, sizeof(somewhere) }, true, true },
	{ "bind", SYS_bind, { 0, ADDR_SOMEWHERE, sizeof(somewhere) }, true, true },
	{ "listen", SYS_listen, { 0, 1 }, true, true },
	{ "sendto with an address", SYS_sendto, { 0, ADDR_BYTE, 1, 0, ADDR_SOMEWHERE, sizeof(somewhere) }, true, true },
	{ "sendmsg", SYS_sendmsg, { 0, ADDR_MSG, 0 }, true, true },
	{ "sendmmsg", SYS_sendmmsg, { 0, ADDR_BUF, 1, 0 }, true, true },
	{ "accept4(0)", SYS_accept4, { 0, 0, 0, 0 }, true, true },
	{ "write(1)", SYS_write, { 1, ADDR_BYTE, 0 }, true, true },
	{ "write(3)", SYS_write, { 3, ADDR_BYTE, 0 }, true, true },
	{ "pwrite64", SYS_pwrite64, { 3, ADDR_BYTE, 1, 0 }, true, true },
	{ "memfd_create", SYS_memfd_create, { ADDR_PATH, 0 }, true, true },
	{ "ftruncate", SYS_ftruncate, { 3, 0 }, true, true },
	{ "fallocate", SYS_fallocate, { 3, 0, 0, 4096 }, true, true },
	{ "mprotect(PROT_READ|PROT_WRITE)", SYS_mprotect, { 0x10000, 4096, PROT_READ | PROT_WRITE }, true, true },
	{ "madvise(MADV_REMOVE)", SYS_madvise, { 0x10000, 4096, MADV_REMOVE }, true, true },
	{ "fcntl(F_ADD_SEALS)", SYS_fcntl, { 3, F_ADD_SEALS, F_SEAL_WRITE }, true, true },
	{ "fcntl(F_SETFL)", SYS_fcntl, { 0, F_SETFL, O_NONBLOCK }, true, true },
	{ "lseek(SEEK_SET)", SYS_lseek, { 0, 0, SEEK_SET }, true, true },
	{ "splice", SYS_splice, { 0, 0, 1, 0, 1, 0 }, true, true },
	{ "recvmmsg", SYS_recvmmsg, { 0, ADDR_BUF, 1, 0, 0 }, true, true },
	{ "execve", SYS_execve, { ADDR_PATH, ADDR_ARGV, 0 }, true, true },
	{ "clone (fork)", SYS_clone, { SIGCHLD, 0, 0, 0, 0 }, true, true },
	{ "ptrace", SYS_ptrace, { PTRACE_TRACEME, 0, 0, 0 }, true, true },
	{ "kill", SYS_kill, { 1, 0 }, true, true },
};
#define N_METRICS_FORBIDDEN (int)(sizeof(metrics_forbidden) / sizeof(metrics_forbidden[0]))

START_TEST(metrics_forbidden_calls)
{
	cur = &metrics_forbidden[_i];
	expect_sigsys(POLICY_METRICS, false, do_raw, metrics_forbidden[_i].what);
}
END_TEST

/* What the exporter does all day, under its filter: take a page and a
 * config snapshot with their fds from the control channel, check the
 * seals and size, map the page read-only and read it, read the snapshot,
 * accept a scraper and answer it. A writable mapping of the page is
 * refused by its seal (EPERM), not by the filter. */
static int page_fd, ctl[2], m_lst, m_cli, snap_fd;
static struct gh_counters *page_mine;

static int exporter_loop(void)
{
	char b[64];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { b, sizeof(b) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	if (recvmsg(ctl[1], &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 3)
		return 1;
	int fd;
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	off_t size = lseek(fd, 0, SEEK_END);
	int seals = fcntl(fd, F_GET_SEALS);
	if (size != (off_t)counters_size(2, 0) || !(seals & F_SEAL_FUTURE_WRITE))
		return 2;
	const struct gh_counters *c = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	if (c == MAP_FAILED || atomic_load(&c->sites[1].bytes_in) != 1234)
		return 3;
	void *w = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w != MAP_FAILED || errno != EPERM)
		return 4;
	if (pread(snap_fd, b, 4, 0) != 4 || memcmp(b, "site", 4))
		return 5;
	int s = accept4(m_lst, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (s < 0 || recv(s, b, sizeof(b), 0) != 4 || send(s, "ok", 2, MSG_NOSIGNAL) != 2)
		return 6;
	close(s);
	return 0;
}

START_TEST(exporter_loop_works)
{
	page_fd = counters_page(CTR_FORWARDER, 2, 0, &page_mine);
	ck_assert_int_ge(page_fd, 0);
	atomic_store(&page_mine->sites[1].bytes_in, 1234);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ctl), 0);
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	memset(&cm, 0, sizeof(cm));
	struct iovec iov = { "pg", 3 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &page_fd, sizeof(int));
	ck_assert_int_eq(sendmsg(ctl[0], &mh, 0), 3);
	snap_fd = memfd_create("snap", MFD_CLOEXEC);
	ck_assert_int_eq(write(snap_fd, "site a\n", 7), 7);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t al = sizeof(a);
	m_lst = socket(AF_INET6, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(m_lst, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(m_lst, 4), 0);
	ck_assert_int_eq(getsockname(m_lst, (struct sockaddr *)&a, &al), 0);
	m_cli = socket(AF_INET6, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(m_cli, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(send(m_cli, "GET ", 4, 0), 4);
	int st = under_policy(POLICY_METRICS, false, exporter_loop);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exporter loop under its filter: status %#x", st);
	char b[4];
	ck_assert_int_eq(recv(m_cli, b, sizeof(b), 0), 2);
	/* and the page still holds what its writer wrote */
	ck_assert_uint_eq(atomic_load(&page_mine->sites[1].bytes_in), 1234);
	close(m_cli);
	close(m_lst);
	close(snap_fd);
	close(ctl[0]);
	close(ctl[1]);
	close(page_fd);
}
END_TEST

/* --- the health checker (POLICY_HEALTH): it dials the config's servers
 * and reads the start of their answers; it cannot open a file, bind,
 * listen, accept, take an fd from anyone, or write a page --- */
static const struct forbidden health_forbidden[] = {
	{ "open", SYS_open, { ADDR_PATH, O_RDONLY }, true, true },
	{ "openat", SYS_openat, { AT_FDCWD, ADDR_PATH, O_RDONLY }, true, true },
	{ "openat2", SYS_openat2, { AT_FDCWD, ADDR_PATH, ADDR_BUF, 24 }, true, true },
	{ "creat", SYS_creat, { ADDR_PATH, 0600 }, true, true },
	{ "newfstatat", SYS_newfstatat, { AT_FDCWD, ADDR_PATH, ADDR_BUF, 0 }, true, true },
	{ "read", SYS_read, { 0, ADDR_BUF, 1 }, true, true },
	{ "bind", SYS_bind, { 0, ADDR_SOMEWHERE, sizeof(somewhere) }, true, true },
	{ "listen", SYS_listen, { 0, 1 }, true, true },
	{ "accept", SYS_accept, { 0, 0, 0 }, true, true },
	{ "accept4(SOCK_NONBLOCK|SOCK_CLOEXEC)", SYS_accept4, { 0, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC }, true, true },
	{ "socket(AF_UNIX)", SYS_socket, { AF_UNIX, SOCK_STREAM, 0 }, true, true },
	{ "socket(AF_INET) without an IPv4 server", SYS_socket, { AF_INET, SOCK_STREAM, 0 }, true, true },
	{ "socket(AF_INET6, SOCK_DGRAM)", SYS_socket, { AF_INET6, SOCK_DGRAM, 0 }, true, true },
	{ "socket(AF_PACKET)", SYS_socket, { 17, SOCK_RAW, 0 }, true, true },
	{ "socketpair", SYS_socketpair, { AF_UNIX, SOCK_STREAM, 0, ADDR_FDS }, true, true },
	{ "sendto with an address", SYS_sendto, { 0, ADDR_BYTE, 1, 0, ADDR_SOMEWHERE, sizeof(somewhere) }, true, true },
	{ "sendmsg", SYS_sendmsg, { 0, ADDR_MSG, 0 }, true, true },
	{ "recvmsg", SYS_recvmsg, { 0, ADDR_MSG, 0 }, true, true },
	{ "recvmmsg", SYS_recvmmsg, { 0, ADDR_BUF, 1, 0, 0 }, true, true },
	{ "write(3)", SYS_write, { 3, ADDR_BYTE, 0 }, true, true },
	{ "pwrite64", SYS_pwrite64, { 3, ADDR_BYTE, 1, 0 }, true, true },
	{ "memfd_create", SYS_memfd_create, { ADDR_PATH, 0 }, true, true },
	{ "ftruncate", SYS_ftruncate, { 3, 0 }, true, true },
	{ "mprotect(PROT_READ|PROT_WRITE)", SYS_mprotect, { 0x10000, 4096, PROT_READ | PROT_WRITE }, true, true },
	{ "fcntl(F_ADD_SEALS)", SYS_fcntl, { 3, F_ADD_SEALS, F_SEAL_WRITE }, true, true },
	{ "pipe2", SYS_pipe2, { ADDR_FDS, O_CLOEXEC }, true, true },
	{ "splice", SYS_splice, { 0, 0, 1, 0, 1, 0 }, true, true },
	{ "execve", SYS_execve, { ADDR_PATH, ADDR_ARGV, 0 }, true, true },
	{ "clone (fork)", SYS_clone, { SIGCHLD, 0, 0, 0, 0 }, true, true },
	{ "ptrace", SYS_ptrace, { PTRACE_TRACEME, 0, 0, 0 }, true, true },
	{ "kill", SYS_kill, { 1, 0 }, true, true },
};
#define N_HEALTH_FORBIDDEN (int)(sizeof(health_forbidden) / sizeof(health_forbidden[0]))

START_TEST(health_forbidden_calls)
{
	cur = &health_forbidden[_i];
	expect_sigsys(POLICY_HEALTH, false, do_raw, health_forbidden[_i].what);
}
END_TEST

/* A check as gatehouse-health runs it, under its filter: a non-blocking
 * IPv6 socket, connect, SO_ERROR once writable, a request, the start of
 * the answer, close. */
static struct sockaddr_in6 checked;
static int health_check(void)
{
	int s = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 1;
	if (connect(s, (struct sockaddr *)&checked, sizeof(checked)) < 0 && errno != EINPROGRESS)
		return 2;
	struct epoll_event ev = { .events = EPOLLOUT }, out;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) < 0 || epoll_pwait(ep, &out, 1, 5000, NULL) != 1)
		return 3;
	int err;
	socklen_t el = sizeof(err);
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err)
		return 4;
	if (send(s, "GET / HTTP/1.1\r\n\r\n", 18, MSG_DONTWAIT | MSG_NOSIGNAL) != 18)
		return 5;
	ev.events = EPOLLIN;
	char buf[16];
	if (epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev) < 0 || epoll_pwait(ep, &out, 1, 5000, NULL) != 1 ||
	    recv(s, buf, sizeof(buf), MSG_DONTWAIT) != 4)
		return 6;
	close(s);
	return 0;
}

START_TEST(health_check_works)
{
	socklen_t al = sizeof(checked);
	int l = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(l, 8), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&checked, &al), 0);
	ep = epoll_create1(0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {	/* the server: answers the checker's request */
		int c = accept(l, NULL, NULL);
		char req[64];
		_exit(c >= 0 && read(c, req, sizeof(req)) > 0 && write(c, "HTTP", 4) == 4 ? 0 : 1);
	}
	expect_ok(POLICY_HEALTH, false, health_check, "health check");
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(l);
	close(ep);
}
END_TEST

/* Under systemd the checker hands its page out on its one listening
 * socket: accept4 there only (non-blocking, close-on-exec), sendmsg with
 * exactly MSG_DONTWAIT|MSG_NOSIGNAL; without that socket, neither. */
static int serve_l, serve_page;
static int serve_one(void)
{
	int c = accept4(serve_l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0)
		return 1;
	union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr a; } cmb;
	memset(&cmb, 0, sizeof(cmb));
	struct iovec iov = { .iov_base = (void *)"GHHLTH1", .iov_len = 8 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cmb.b, .msg_controllen = sizeof(cmb.b) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &serve_page, sizeof(int));
	return sendmsg(c, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == 8 ? 0 : 2;
}

static int serve_status(bool serving, int (*fn)(void))
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (policy_seccomp_load_health(false, serving ? serve_l : -1) < 0)
			_exit(99);
		_exit(fn() == 0 ? 0 : 1);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

static int accept_elsewhere(void) { accept4(serve_l + 100, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); return 0; }
static int sendmsg_other_flags(void) { sendmsg(serve_l, &one_msg, 0); return 0; }

START_TEST(health_serves_its_page_only)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/gh-sandbox-health-%d.sock", (int)getpid());
	unlink(sa.sun_path);
	serve_l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	ck_assert_int_eq(bind(serve_l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(serve_l, 4), 0);
	serve_page = memfd_create("page", 0);
	int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	int st = serve_status(true, serve_one);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "serving the page failed (status %#x)", st);
	char got[16];
	union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr a; } cmb;
	struct iovec iov = { .iov_base = got, .iov_len = sizeof(got) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cmb.b, .msg_controllen = sizeof(cmb.b) };
	ck_assert_int_eq(recvmsg(c, &mh, 0), 8);
	ck_assert_ptr_nonnull(CMSG_FIRSTHDR(&mh));
	st = serve_status(false, serve_one);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "accept4 without a socket to serve (status %#x)", st);
	st = serve_status(true, accept_elsewhere);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "accept4 on another fd (status %#x)", st);
	st = serve_status(true, sendmsg_other_flags);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "sendmsg with other flags (status %#x)", st);
	close(c);
	close(serve_l);
	close(serve_page);
	unlink(sa.sun_path);
}
END_TEST

/* --- gatehouse-config (POLICY_CONFIG): it reads the config file, compiles
 * and seals an image, hands it out on its one socket; it cannot write or
 * create a file, make a socket, connect, or take an fd from anyone --- */
static const struct forbidden config_forbidden[] = {
	{ "open", SYS_open, { ADDR_PATH, O_RDONLY }, true, true },
	{ "openat(O_RDONLY) without O_CLOEXEC", SYS_openat, { AT_FDCWD, ADDR_PATH, O_RDONLY }, true, true },
	{ "openat(O_WRONLY)", SYS_openat, { AT_FDCWD, ADDR_PATH, O_WRONLY | O_CLOEXEC }, true, true },
	{ "openat(O_RDWR)", SYS_openat, { AT_FDCWD, ADDR_PATH, O_RDWR | O_CLOEXEC }, true, true },
	{ "openat(O_CREAT)", SYS_openat, { AT_FDCWD, ADDR_PATH, O_RDONLY | O_CLOEXEC | O_CREAT, 0600 }, true, true },
	{ "openat(O_PATH)", SYS_openat, { AT_FDCWD, ADDR_PATH, O_PATH | O_CLOEXEC }, true, true },
	{ "openat2", SYS_openat2, { AT_FDCWD, ADDR_PATH, ADDR_BUF, 24 }, true, true },
	{ "creat", SYS_creat, { ADDR_PATH, 0600 }, true, true },
	{ "unlink", SYS_unlink, { ADDR_PATH }, true, true },
	{ "rename", SYS_rename, { ADDR_PATH, ADDR_PATH }, true, true },
	{ "write(3)", SYS_write, { 3, ADDR_BYTE, 0 }, true, true },
	{ "pwrite64", SYS_pwrite64, { 3, ADDR_BYTE, 1, 0 }, true, true },
	{ "socket(AF_UNIX)", SYS_socket, { AF_UNIX, SOCK_SEQPACKET, 0 }, true, true },
	{ "socket(AF_INET6)", SYS_socket, { AF_INET6, SOCK_STREAM, 0 }, true, true },
	{ "socketpair", SYS_socketpair, { AF_UNIX, SOCK_STREAM, 0, ADDR_FDS }, true, true },
	{ "connect", SYS_connect, { 0, ADDR_SOMEWHERE, sizeof(somewhere) }, true, true },
	{ "bind", SYS_bind, { 0, ADDR_SOMEWHERE, sizeof(somewhere) }, true, true },
	{ "listen", SYS_listen, { 0, 1 }, true, true },
	{ "accept", SYS_accept, { 0, 0, 0 }, true, true },
	{ "sendto with an address", SYS_sendto, { 0, ADDR_BYTE, 1, 0, ADDR_SOMEWHERE, sizeof(somewhere) }, true, true },
	{ "sendmsg(0)", SYS_sendmsg, { 0, ADDR_MSG, 0 }, true, true },
	{ "recvmsg", SYS_recvmsg, { 0, ADDR_MSG, 0 }, true, true },
	{ "memfd_create(0)", SYS_memfd_create, { ADDR_PATH, 0 }, true, true },
	{ "fcntl(F_SETFL)", SYS_fcntl, { 0, F_SETFL, O_NONBLOCK }, true, true },
	{ "fcntl(F_DUPFD)", SYS_fcntl, { 0, F_DUPFD, 40 }, true, true },
	{ "mprotect(PROT_READ|PROT_WRITE)", SYS_mprotect, { 0x10000, 4096, PROT_READ | PROT_WRITE }, true, true },
	{ "execve", SYS_execve, { ADDR_PATH, ADDR_ARGV, 0 }, true, true },
	{ "clone (fork)", SYS_clone, { SIGCHLD, 0, 0, 0, 0 }, true, true },
	{ "ptrace", SYS_ptrace, { PTRACE_TRACEME, 0, 0, 0 }, true, true },
	{ "kill", SYS_kill, { 1, 0 }, true, true },
};
#define N_CONFIG_FORBIDDEN (int)(sizeof(config_forbidden) / sizeof(config_forbidden[0]))

static int config_l = -1;
static int config_status(int (*fn)(void))
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (policy_seccomp_load_config(config_l) < 0)
			_exit(99);
		_exit(fn() == 0 ? 0 : 1);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

START_TEST(config_forbidden_calls)
{
	cur = &config_forbidden[_i];
	int st = config_status(do_raw);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "%s: not killed by SIGSYS (status %#x)",
		      config_forbidden[_i].what, st);
}
END_TEST

/* What gatehouse-config does per request, under its filter: the file
 * read again, parsed, compiled into a sealed memfd, handed to a daemon. */
static char config_file[64];
static int config_serve(void)
{
	char text[4096];
	int fd = open(config_file, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof(text));
	struct gh_config *cfg = NULL;
	int image = -1;

	if (n <= 0)
		return 1;
	close(fd);
	if (config_parse(config_file, text, (size_t)n, NULL, NULL, &cfg) < 0 || config_load_image(cfg, &image) < 0)
		return 2;
	config_free(cfg);
	int c = accept4(config_l, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return 3;
	return fdpass_send(c, "GHCONF1", 8, image, MSG_DONTWAIT | MSG_NOSIGNAL) == 8 ? 0 : 4;
}
static int config_accept_elsewhere(void) { accept4(config_l + 100, NULL, NULL, SOCK_CLOEXEC); return 0; }
static int config_accept_nonblock(void) { accept4(config_l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); return 0; }

START_TEST(config_serves_an_image_only)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/gh-sandbox-config-%d.sock", (int)getpid());
	snprintf(config_file, sizeof(config_file), "/tmp/gh-sandbox-config-%d.conf", (int)getpid());
	FILE *f = fopen(config_file, "w");
	ck_assert_ptr_nonnull(f);
	fputs("site a.example\n    http [2001:db8::1]:80\n", f);
	fclose(f);
	unlink(sa.sun_path);
	config_l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	ck_assert_int_eq(bind(config_l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(config_l, 4), 0);
	int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	int st = config_status(config_serve);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "serving an image failed under the filter (status %#x)", st);
	char got[16];
	int fd;
	bool cut;
	ck_assert_int_eq(fdpass_recv(c, got, sizeof(got), &fd, &cut, 0), 8);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS) & F_SEAL_WRITE, F_SEAL_WRITE);
	close(fd);
	st = config_status(config_accept_elsewhere);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "accept4 on another fd (status %#x)", st);
	st = config_status(config_accept_nonblock);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "accept4 with other flags (status %#x)", st);
	close(c);
	close(config_l);
	unlink(sa.sun_path);
	unlink(config_file);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("seccomp");
	tcase_add_loop_test(tc, listener_forbidden, 0, N_FORBIDDEN);
	tcase_add_loop_test(tc, forwarder_forbidden, 0, N_FORBIDDEN);
	tcase_add_test(tc, forwarder_ipv4_only_when_configured);
	tcase_add_loop_test(tc, forwarder_forbidden_with_source_bind, 0, N_FORBIDDEN);
	tcase_add_loop_test(tc, source_bind_still_forbidden, 0, N_SOURCE_BIND_FORBIDDEN);
	tcase_add_test(tc, source_bind_only_when_configured);
	tcase_add_test(tc, common_calls_live);
	tcase_add_test(tc, load_page_read_only_for_the_listener);
	tcase_add_test(tc, forwarder_sendmmsg_journal_only);
	tcase_add_test(tc, quic_socket_rows);
	tcase_add_test(tc, listener_control_socket);
	tcase_add_test(tc, listener_loop_works);
	tcase_add_test(tc, forwarder_loop_works);
	tcase_add_loop_test(tc, metrics_forbidden_calls, 0, N_METRICS_FORBIDDEN);
	tcase_add_test(tc, exporter_loop_works);
	tcase_add_loop_test(tc, health_forbidden_calls, 0, N_HEALTH_FORBIDDEN);
	tcase_add_loop_test(tc, config_forbidden_calls, 0, N_CONFIG_FORBIDDEN);
	tcase_add_test(tc, config_serves_an_image_only);
	tcase_add_test(tc, health_check_works);
	tcase_add_test(tc, health_serves_its_page_only);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
