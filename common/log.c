/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#include "log.h"

static const char *log_ident = "gatehouse";
static int log_pid;
static int journal_fd = -1;
static int stderr_is_journal;

static int stderr_matches_journal_stream(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_setup(const char *ident)
{
	log_ident = ident;
	log_pid = (int)getpid();	/* once: getpid() is a real syscall */
	stderr_is_journal = stderr_matches_journal_stream();
	if (!stderr_is_journal || journal_fd >= 0)
		return;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = getenv("GATEHOUSE_JOURNAL_SOCKET");
	if (!path)
		path = "/run/systemd/journal/socket";
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return;
	}
	/* A full journal must not stall the event loop: drop instead. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	journal_fd = fd;
}

int log_to_journal(void)
{
	return journal_fd >= 0;
}

char *log_escape(const char *in, size_t len, char *out, size_t out_size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 <= out_size; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c > 0x20 && c < 0x7f && c != '\\') {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (out_size)
		out[o < out_size ? o : out_size - 1] = '\0';
	return out;
}

char *log_format_addr(const struct sockaddr *sa, char *out, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], a, sizeof(a));
			snprintf(out, size, "%s:%u", a, ntohs(s6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
			snprintf(out, size, "[%s]:%u", a, ntohs(s6->sin6_port));
		}
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(out, size, "%s:%u", a, ntohs(s4->sin_port));
	} else {
		snprintf(out, size, "-");
	}
	return out;
}

static void journal_send(int priority, const char *message, const struct log_field *fields, size_t n)
{
	/* MESSAGE, PRIORITY, SYSLOG_IDENTIFIER + fields, each "K=V\n" */
	struct iovec iov[4 * 24];
	char pri[16];
	size_t k = 0;

	snprintf(pri, sizeof(pri), "PRIORITY=%d\n", priority);
	iov[k++] = (struct iovec){ .iov_base = pri, .iov_len = strlen(pri) };
	iov[k++] = (struct iovec){ .iov_base = (void *)"SYSLOG_IDENTIFIER=", .iov_len = 18 };
	iov[k++] = (struct iovec){ .iov_base = (void *)(uintptr_t)log_ident, .iov_len = strlen(log_ident) };
	iov[k++] = (struct iovec){ .iov_base = (void *)"\nMESSAGE=", .iov_len = 9 };
	iov[k++] = (struct iovec){ .iov_base = (void *)(uintptr_t)message, .iov_len = strlen(message) };
	iov[k++] = (struct iovec){ .iov_base = (void *)"\n", .iov_len = 1 };
	for (size_t i = 0; i < n && k + 4 <= sizeof(iov) / sizeof(iov[0]); i++) {
		iov[k++] = (struct iovec){ .iov_base = (void *)(uintptr_t)fields[i].key, .iov_len = strlen(fields[i].key) };
		iov[k++] = (struct iovec){ .iov_base = (void *)"=", .iov_len = 1 };
		iov[k++] = (struct iovec){ .iov_base = (void *)(uintptr_t)fields[i].value, .iov_len = strlen(fields[i].value) };
		iov[k++] = (struct iovec){ .iov_base = (void *)"\n", .iov_len = 1 };
	}
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = k };
	(void)sendmsg(journal_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

void log_record(int priority, const char *message, const struct log_field *fields, size_t n)
{
	if (journal_fd >= 0) {
		journal_send(priority, message, fields, n);
		return;
	}
	/* One write() per line so lines from several processes never interleave. */
	char line[1024];
	int l;
	if (stderr_is_journal)
		l = snprintf(line, sizeof(line), "<%d>%s\n", priority, message);
	else
		l = snprintf(line, sizeof(line), "%s[%d]: %s\n", log_ident, log_pid, message);
	if (l < 0)
		return;
	if ((size_t)l >= sizeof(line))
		l = sizeof(line) - 1, line[l - 1] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)l);
}

void log_msg(int priority, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_record(priority, msg, NULL, 0);
}
