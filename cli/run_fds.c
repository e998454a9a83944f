/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "cli/run_fds.h"

/* The daemons live beside this binary (build tree) or in the libexec dir. */
void find_bin(const char *name, char *out, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash && (size_t)(slash - self) + strlen(name) + 2 <= size) {
			memcpy(out, self, (size_t)(slash - self) + 1);
			strcpy(out + (slash - self) + 1, name);
			if (access(out, X_OK) == 0)
				return;
		}
	}
	snprintf(out, size, "%s/%s", GATEHOUSE_LIBEXECDIR, name);
}

int bind_listen(const struct gh_listen *ls, int *out)
{
	const struct sockaddr_storage *ss = &ls->addr.ss;
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1, zero = 0;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6) {
		/* "[::]:80" is dual stack (IPv4 clients arrive v4-mapped); a
		 * specific IPv6 address is that address only. */
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		int v6only = IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr) ? 0 : 1;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only ? &one : &zero, sizeof(int));
	}
	if (bind(fd, (const struct sockaddr *)ss, ls->addr.len) < 0 || listen(fd, 4096) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	/* Like DeferAcceptSec= in the socket units: wake the listener only
	 * once the client has sent something. */
	int defer = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer));
	*out = fd;
	return 0;
}

int bind_quic(const struct gh_listen *ls, int *out)
{
	const struct sockaddr_storage *ss = &ls->addr.ss;
	int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1, zero = 0, r;

	if (fd < 0)
		return -errno;
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		int v6only = IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr) ? 0 : 1;
		r = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only ? &one : &zero, sizeof(int));
		/* the address each client sent to: replies must come from it
		 * (IPv4 clients' arrives v4-mapped) */
		if (r == 0)
			r = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	} else {
		r = setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	}
	/* room for bursts of Initials while the listener is busy */
	int rcv = 4 << 20;
	if (r == 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (r < 0 || bind(fd, (const struct sockaddr *)ss, ls->addr.len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*out = fd;
	return 0;
}

bool listening(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);
	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

/* Close every fd >= first: close_range(2) where the kernel has it (5.9),
 * else one by one up to the fd limit. In the child: nothing to log. */
void close_from(int first)
{
	if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0)
		return;
	struct rlimit rl;
	long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur : 65536;
	for (long fd = first; fd < max; fd++)
		close((int)fd);
}
