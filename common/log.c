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
#include "common/log.h"

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

int log_journal_fd(void)
{
	return journal_fd;
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

/*
 * Records made during one event-loop round are sent together at its end
 * (log_flush): one sendmmsg() to the journal, or one write() per 4 KiB of
 * lines on stderr, instead of a system call per connection. Each stderr
 * chunk ends at a line end and stays under PIPE_BUF, so lines from several
 * processes sharing a pipe never interleave.
 */
#define BATCH_BYTES (64u * 1024u)
#define BATCH_RECORDS 64u
static char batch[BATCH_BYTES];
static size_t batch_len;
static size_t rec_off[BATCH_RECORDS], rec_len[BATCH_RECORDS];
static unsigned n_rec;
static int batching;

void log_batching(int on)
{
	log_flush();
	batching = on;
}

static void flush_stderr(void)
{
	size_t off = 0;
	while (off < batch_len) {
		size_t chunk = batch_len - off;
		if (chunk > 4096) {
			chunk = 4096;
			while (chunk > 0 && batch[off + chunk - 1] != '\n')
				chunk--;
			if (!chunk)
				chunk = 4096;
		}
		ssize_t w = write(STDERR_FILENO, batch + off, chunk);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

static void flush_journal(void)
{
	struct mmsghdr mm[BATCH_RECORDS];
	struct iovec iov[BATCH_RECORDS];
	unsigned done = 0;

	for (unsigned i = 0; i < n_rec; i++) {
		iov[i] = (struct iovec){ .iov_base = batch + rec_off[i], .iov_len = rec_len[i] };
		mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	while (done < n_rec) {
		int r = sendmmsg(journal_fd, mm + done, n_rec - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r <= 0)
			break;	/* journal full or gone: drop rather than stall */
		done += (unsigned)r;
	}
}

void log_flush(void)
{
	if (!batch_len)
		return;
	if (journal_fd >= 0)
		flush_journal();
	else
		flush_stderr();
	batch_len = 0;
	n_rec = 0;
}

/* Append printf-style text to the batch; 0, or -1 if it does not fit. */
static int append(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int append(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(batch + batch_len, BATCH_BYTES - batch_len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= BATCH_BYTES - batch_len)
		return -1;
	batch_len += (size_t)n;
	return 0;
}

static int serialize(int priority, const char *message, const struct log_field *fields, size_t n)
{
	size_t start = batch_len;
	int r;

	if (journal_fd >= 0) {
		r = append("PRIORITY=%d\nSYSLOG_IDENTIFIER=%s\nMESSAGE=%s\n", priority, log_ident, message);
		for (size_t i = 0; r == 0 && i < n; i++)
			r = append("%s=%s\n", fields[i].key, fields[i].value);
	} else if (stderr_is_journal) {
		r = append("<%d>%.1000s\n", priority, message);
	} else {
		r = append("%s[%d]: %.1000s\n", log_ident, log_pid, message);
	}
	if (r < 0) {
		batch_len = start;
		return -1;
	}
	rec_off[n_rec] = start;
	rec_len[n_rec] = batch_len - start;
	n_rec++;
	return 0;
}

void log_record(int priority, const char *message, const struct log_field *fields, size_t n)
{
	if (n_rec == BATCH_RECORDS || serialize(priority, message, fields, n) < 0) {
		log_flush();
		if (serialize(priority, message, fields, n) < 0)
			return;	/* a single record over 64 KiB: cannot happen */
	}
	if (!batching)
		log_flush();
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

int log_errno(int r, const char *fmt, ...)
{
	char msg[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(LOG_ERR, "%s: %s", msg, strerror(r < 0 ? -r : r));
	return r;
}
