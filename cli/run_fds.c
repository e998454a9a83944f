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
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>
#include <sys/un.h>
#include "common/log.h"
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

void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	char out[600];
	int m = snprintf(out, sizeof(out), "gatehouse[%d]: %.*s", (int)getpid(), n, line);
	if (m > 0)
		(void)!write(STDERR_FILENO, out, (size_t)(m < (int)sizeof(out) ? m : (int)sizeof(out) - 1));
}

int setup_notify(int *out, char *path, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* abstract name: nothing on disk to clean up */
	snprintf(path, size, "@gatehouse-run-%d-%ld", (int)getpid(), (long)time(NULL));
	memcpy(sa.sun_path, path, strlen(path));
	sa.sun_path[0] = '\0';
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	int one = 1;
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	*out = fd;
	return 0;
}

/* Say once what the daemons' sandbox will and will not do here; they are
 * told (GATEHOUSE_SANDBOX_NOTED) not to repeat it. */
void explain_sandbox(const struct gh_config *cfg)
{
	const char *user = cfg->user ? cfg->user : "gatehouse";
	const char *dir = cfg->chroot_dir ? cfg->chroot_dir : "/var/lib/gatehouse";
	if (geteuid() != 0) {
		say("running as uid %d: no chroot and no user switch (needs root); "
		    "each daemon still loads its seccomp filter and no_new_privs", (int)geteuid());
	} else if (!getpwnam(user) && !cfg->user) {
		say("no 'gatehouse' system user (useradd --system gatehouse): the daemons "
		    "will run as 'nobody', chrooted to %s", dir);
	} else {
		say("daemons will run as user '%s', chrooted to %s", user, dir);
	}
	setenv("GATEHOUSE_SANDBOX_NOTED", "1", 1);
}


/*
 * A listener can stop a listening socket for every holder (shutdown with
 * SHUT_RD, which its filter now refuses; a kernel or a future bug may find
 * another way). Before each generation, look at our copies: one that no
 * longer listens is made to listen again (it stays bound: listen() on it
 * needs no privilege), else replaced by a fresh socket on the same address
 * (root, or an unprivileged port). If neither works, say which socket and
 * why, and the launcher stops with a failure: never a silent loop of
 * listeners that die on a dead socket.
 */
int revive_listens(const struct gh_listen *listens, int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const struct gh_listen *ls = &listens[i];
		int fd = fds[i], r;

		/* a UDP socket has no listening state to lose */
		if (ls->kind == GH_KIND_QUIC || listening(fd))
			continue;
		if (listen(fd, 4096) == 0 && listening(fd)) {
			say("listen %s %s had stopped listening; listening on it again",
			    gh_kind_str(ls->kind), ls->addr.text);
			continue;
		}
		close(fd);
		fds[i] = -1;
		if ((r = bind_listen(ls, &fds[i])) < 0) {
			log_errno(r, "listen %s %s stopped listening and cannot be bound again; stopping",
				  gh_kind_str(ls->kind), ls->addr.text);
			return r;
		}
		say("listen %s %s had stopped listening; bound a fresh socket", gh_kind_str(ls->kind), ls->addr.text);
	}
	return 0;
}

