/* SPDX-License-Identifier: MIT */
/*
 * bulk: the bulk sender and sink (one HTTP/1.1 GET, a big response body).
 *
 *   bulk serve ADDR BYTES [--tls CERT KEY]
 *       For each connection (a forked child each): read a request head
 *       (over TLS with --tls), answer 200 with a BYTES-long body, close.
 *   bulk get ADDR BYTES --host NAME [--tls SNI] [-t TIMEOUT_S]
 *       Connect (through a proxy or directly), send GET with Host: NAME
 *       (after a TLS handshake with SNI when --tls), read to EOF, check the
 *       body is BYTES long. Prints: ok=1 bytes=N secs=S GBps=R (10^9 bytes per second).
 *
 * Plain: send()/recv() through 1 MiB buffers. TLS: OpenSSL, TLS 1.3,
 * no certificate check (the bench measures the proxies, not PKI).
 */
#include <signal.h>
#include <sys/wait.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "common.h"

#define CHUNK (1u << 20)
static uint8_t buf[CHUNK];

struct io {
	int fd;
	SSL *ssl;
};

static ssize_t io_read(struct io *io, void *p, size_t n)
{
	if (!io->ssl)
		return recv(io->fd, p, n, 0);
	int r = SSL_read(io->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
	if (r > 0)
		return r;
	int e = SSL_get_error(io->ssl, r);
	return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

static int io_write_all(struct io *io, const void *p, size_t n)
{
	const uint8_t *q = p;
	while (n) {
		ssize_t w;
		if (io->ssl) {
			int r = SSL_write(io->ssl, q, n > (size_t)INT32_MAX ? INT32_MAX : (int)n);
			w = r > 0 ? r : -1;
		} else {
			w = send(io->fd, q, n, MSG_NOSIGNAL);
		}
		if (w <= 0)
			return -1;
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

static void serve_one(int fd, SSL_CTX *ctx, unsigned long long bytes)
{
	struct io io = { .fd = fd };
	struct timeval tv = { .tv_sec = 20 };
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (ctx) {
		io.ssl = SSL_new(ctx);
		SSL_set_fd(io.ssl, fd);
		if (SSL_accept(io.ssl) != 1)
			_exit(1);
		/* records go out through a 256 KiB buffer: a dozen records per
		 * send(), not one (16 KiB) per send() */
		BIO *wb = BIO_new(BIO_f_buffer());
		BIO_set_write_buffer_size(wb, 256 * 1024);
		BIO_push(wb, SSL_get_wbio(io.ssl));
		BIO_up_ref(SSL_get_rbio(io.ssl));
		SSL_set_bio(io.ssl, SSL_get_rbio(io.ssl), wb);
	}
	char head[8192];
	size_t hl = 0;
	while (hl < sizeof(head) - 1) {
		ssize_t n = io_read(&io, head + hl, sizeof(head) - 1 - hl);
		if (n <= 0)
			_exit(0);	/* a readiness probe: connected and left */
		hl += (size_t)n;
		head[hl] = '\0';
		if (strstr(head, "\r\n\r\n"))
			break;
	}
	char hdr[256];
	int h = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
			 "Content-Length: %llu\r\nConnection: close\r\n\r\n", bytes);
	if (io_write_all(&io, hdr, (size_t)h) < 0)
		_exit(1);
	memset(buf, 'b', sizeof(buf));
	for (unsigned long long left = bytes; left;) {
		size_t n = left < CHUNK ? (size_t)left : CHUNK;
		if (io_write_all(&io, buf, n) < 0)
			_exit(1);
		left -= n;
	}
	if (io.ssl) {
		SSL_shutdown(io.ssl);
		(void)BIO_flush(SSL_get_wbio(io.ssl));
	}
	shutdown(fd, SHUT_WR);
	/* wait for the client's close so our close sends no RST */
	while (io_read(&io, head, sizeof(head)) > 0)
		;
	_exit(0);
}

static __attribute__((noreturn)) void cmd_serve(int argc, char **argv)
{
	if (argc < 4)
		die("usage: bulk serve ADDR BYTES [--tls CERT KEY]");
	unsigned long long bytes = strtoull(argv[3], NULL, 10);
	SSL_CTX *ctx = NULL;
	if (argc >= 7 && !strcmp(argv[4], "--tls")) {
		ctx = SSL_CTX_new(TLS_server_method());
		SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
		if (SSL_CTX_use_certificate_chain_file(ctx, argv[5]) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, argv[6], SSL_FILETYPE_PEM) != 1)
			die("bulk: cannot load %s / %s", argv[5], argv[6]);
	}
	signal(SIGCHLD, SIG_IGN);	/* children reaped by the kernel */
	signal(SIGPIPE, SIG_IGN);
	int lfd = listen_on(argv[2], 128, false);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		pid_t pid = fork();
		if (pid == 0) {
			close(lfd);
			serve_one(fd, ctx, bytes);
		}
		close(fd);
	}
}

static int cmd_get(int argc, char **argv)
{
	if (argc < 4)
		die("usage: bulk get ADDR BYTES --host NAME [--tls SNI] [-t TIMEOUT_S]");
	unsigned long long want = strtoull(argv[3], NULL, 10);
	const char *host = "bulk.test", *sni = NULL;
	int timeout = 60;
	for (int i = 4; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--host"))
			host = argv[i + 1];
		else if (!strcmp(argv[i], "--tls"))
			sni = argv[i + 1];
		else if (!strcmp(argv[i], "-t"))
			timeout = atoi(argv[i + 1]);
		else
			die("bulk get: unknown option %s", argv[i]);
	}
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned)timeout);	/* the whole transfer is bounded in time */
	struct sockaddr_storage ss;
	socklen_t sl = parse_addr(argv[2], &ss);
	double t0 = now_s();
	int fd = connect_to(&ss, sl, 20);
	if (fd < 0)
		die("bulk get: connect %s: %s", argv[2], strerror(errno));
	struct io io = { .fd = fd };
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (sni) {
		SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
		SSL_CTX_set_read_ahead(ctx, 1);	/* big reads, not header then body */
		SSL_CTX_set_default_read_buffer_len(ctx, 256 * 1024);
		SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		io.ssl = SSL_new(ctx);
		SSL_set_tlsext_host_name(io.ssl, sni);
		SSL_set_fd(io.ssl, fd);
		if (SSL_connect(io.ssl) != 1)
			die("bulk get: TLS handshake failed");
	}
	char req[512];
	int rl = snprintf(req, sizeof(req), "GET /bulk HTTP/1.1\r\nHost: %s\r\nUser-Agent: gatehouse-bench\r\n\r\n", host);
	if (io_write_all(&io, req, (size_t)rl) < 0)
		die("bulk get: send: %s", strerror(errno));
	/* Read the head, then the body up to its Content-Length: an HTTP proxy
	 * may keep the client connection open after the response. */
	static char head[16384];
	size_t hl = 0;
	unsigned long long body = 0, clen = ~0ull;
	while (clen == ~0ull) {
		ssize_t n = io_read(&io, head + hl, sizeof(head) - 1 - hl);
		if (n <= 0)
			break;
		hl += (size_t)n;
		head[hl] = '\0';
		char *end = strstr(head, "\r\n\r\n");
		if (!end) {
			if (hl == sizeof(head) - 1)
				die("bulk get: response head too long");
			continue;
		}
		const char *cl = strcasestr(head, "\r\ncontent-length:");
		if (!cl || cl > end)
			die("bulk get: no Content-Length in the response");
		clen = strtoull(cl + 17, NULL, 10);
		body = hl - (size_t)(end + 4 - head);
	}
	while (clen != ~0ull && body < clen) {
		size_t want = clen - body < sizeof(buf) ? (size_t)(clen - body) : sizeof(buf);
		ssize_t n = io_read(&io, buf, want);
		if (n <= 0)
			break;
		body += (unsigned long long)n;
	}
	double secs = now_s() - t0;
	if (io.ssl) {
		SSL_shutdown(io.ssl);
		SSL_free(io.ssl);
	}
	close(fd);
	int good = body == want;
	printf("ok=%d bytes=%llu secs=%.4f GBps=%.4f\n", good, body, secs, secs > 0 ? (double)body / secs / 1e9 : 0.0);
	return good ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "serve"))
		cmd_serve(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "get"))
		return cmd_get(argc, argv);
	die("usage: bulk serve|get ...");
}
