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
#include <sys/epoll.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "policy/policy.h"

typedef int (*action_fn)(void);

/* Run fn in a child under the policy; return its wait status. */
static int under_policy(enum policy_proc proc, bool v4, action_fn fn)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (policy_seccomp_load(proc, v4) < 0)
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

/* --- forbidden calls --- */
static int do_open(void) { return open("/etc/hostname", O_RDONLY) >= 0 ? 0 : 0; }
static int do_openat(void) { return (int)syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY) >= 0 ? 0 : 0; }
static int do_socket_inet(void) { return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : 0; }
static int do_socket_inet6_dgram(void) { return socket(AF_INET6, SOCK_DGRAM, 0) >= 0 ? 0 : 0; }
static int do_socket_inet6(void) { return socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) >= 0 ? 0 : 1; }
static int do_socket_unix(void) { return socket(AF_UNIX, SOCK_STREAM, 0) >= 0 ? 0 : 0; }
static int do_socket_netlink(void) { return socket(AF_NETLINK, SOCK_RAW, 0) >= 0 ? 0 : 0; }
static int do_socket_raw6(void) { return socket(AF_INET6, SOCK_RAW, IPPROTO_TCP) >= 0 ? 0 : 0; }
static int do_connect(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(9), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	return connect(0, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : 0;
}
static int do_execve(void)
{
	char *argv[] = { (char *)"/bin/true", NULL };
	execve("/bin/true", argv, NULL);
	return 0;
}
static int do_fork(void) { return (int)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) >= 0 ? 0 : 0; }
static int do_vfork(void) { return (int)syscall(SYS_fork) >= 0 ? 0 : 0; }
static int do_ptrace(void) { return ptrace(PTRACE_TRACEME, 0, 0, 0) == 0 ? 0 : 0; }
static int do_kill(void) { return kill(1, 0) == 0 ? 0 : 0; }
static int do_fcntl_setfl(void) { return fcntl(0, F_SETFL, O_NONBLOCK) == 0 ? 0 : 0; }
static int do_mprotect_exec(void)
{
	return (int)syscall(SYS_mprotect, (void *)0x10000, 4096, 7);
}

static const struct forbidden {
	const char *what;
	action_fn fn;
	bool listener, forwarder;	/* forbidden for which */
} forbidden[] = {
	{ "open", do_open, true, true },
	{ "openat", do_openat, true, true },
	{ "socket(AF_INET) without IPv4 backends", do_socket_inet, true, true },
	{ "socket(AF_INET6, SOCK_DGRAM)", do_socket_inet6_dgram, true, true },
	{ "socket(AF_INET6, SOCK_STREAM)", do_socket_inet6, true, false },
	{ "socket(AF_UNIX)", do_socket_unix, true, true },
	{ "socket(AF_NETLINK)", do_socket_netlink, true, true },
	{ "socket(AF_INET6, SOCK_RAW)", do_socket_raw6, true, true },
	{ "connect", do_connect, true, false },
	{ "execve", do_execve, true, true },
	{ "clone (fork)", do_fork, true, true },
	{ "fork", do_vfork, true, true },
	{ "ptrace", do_ptrace, true, true },
	{ "kill", do_kill, true, true },
	{ "fcntl(F_SETFL)", do_fcntl_setfl, true, true },
	{ "mprotect", do_mprotect_exec, true, true },
};
#define N_FORBIDDEN (int)(sizeof(forbidden) / sizeof(forbidden[0]))

START_TEST(listener_forbidden)
{
	if (!forbidden[_i].listener)
		return;
	expect_sigsys(POLICY_LISTENER, false, forbidden[_i].fn, forbidden[_i].what);
}
END_TEST

START_TEST(forwarder_forbidden)
{
	if (!forbidden[_i].forwarder)
		return;
	expect_sigsys(POLICY_FORWARDER, false, forbidden[_i].fn, forbidden[_i].what);
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

int main(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("seccomp");
	tcase_add_loop_test(tc, listener_forbidden, 0, N_FORBIDDEN);
	tcase_add_loop_test(tc, forwarder_forbidden, 0, N_FORBIDDEN);
	tcase_add_test(tc, forwarder_ipv4_only_when_configured);
	tcase_add_test(tc, listener_loop_works);
	tcase_add_test(tc, forwarder_loop_works);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
