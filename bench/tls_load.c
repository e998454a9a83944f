/* SPDX-License-Identifier: MIT */
/*
 * tls_load: real TLS 1.3 handshakes, one per request.
 *
 *   tls_load -a ADDR -n REQUESTS -c THREADS -s SNI [-t TOTAL_TIMEOUT_S]
 *
 * Each request: connect, full TLS 1.3 handshake with SNI (libssl; no
 * session cache, no tickets, so never a resumption), GET / with
 * Connection: close, read the response to EOF, close. THREADS threads run
 * requests back to back. A request succeeds when the response starts with
 * "HTTP/1.1 200". Prints: ok=N fail=N secs=S rate=R.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "common.h"

static struct sockaddr_storage dst;
static socklen_t dst_len;
static const char *sni = "tls.test";
static SSL_CTX *ctx;
static atomic_long next_req, n_ok, n_fail;
static long n_req;
static double deadline;

static bool one_request(void)
{
	int fd = connect_to(&dst, dst_len, 10);
	if (fd < 0)
		return false;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	SSL *ssl = SSL_new(ctx);
	bool good = false;
	SSL_set_tlsext_host_name(ssl, sni);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) == 1) {
		char req[256], resp[4096];
		int rl = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", sni);
		if (SSL_write(ssl, req, rl) == rl) {
			int got = 0, r;
			while ((r = SSL_read(ssl, resp + got, (int)sizeof(resp) - 1 - got)) > 0) {
				got += r;
				if (got >= (int)sizeof(resp) - 1)
					got = 16;	/* keep the status line, drop the rest */
			}
			good = got >= 12 && !memcmp(resp, "HTTP/1.1 200", 12);
		}
	}
	SSL_free(ssl);
	close(fd);
	return good;
}

static void *worker(void *arg)
{
	(void)arg;
	while (atomic_fetch_add(&next_req, 1) < n_req) {
		if (now_s() > deadline) {
			atomic_fetch_add(&n_fail, 1);
			continue;
		}
		if (one_request())
			atomic_fetch_add(&n_ok, 1);
		else
			atomic_fetch_add(&n_fail, 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *addr = NULL;
	long threads = 4;
	double total_timeout = 120;
	int o;
	while ((o = getopt(argc, argv, "a:n:c:s:t:")) != -1) {
		switch (o) {
		case 'a': addr = optarg; break;
		case 'n': n_req = strtol(optarg, NULL, 10); break;
		case 'c': threads = strtol(optarg, NULL, 10); break;
		case 's': sni = optarg; break;
		case 't': total_timeout = strtod(optarg, NULL); break;
		default: die("usage: tls_load -a ADDR -n REQUESTS -c THREADS -s SNI [-t TIMEOUT_S]");
		}
	}
	if (!addr || n_req <= 0 || n_req > 10000000 || threads <= 0 || threads > 256)
		die("usage: tls_load -a ADDR -n REQUESTS(1..1e7) -c THREADS(1..256) -s SNI");
	signal(SIGPIPE, SIG_IGN);
	dst_len = parse_addr(addr, &dst);
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	double t0 = now_s();
	deadline = t0 + total_timeout;
	pthread_t th[256];
	for (long i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (long i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	double secs = now_s() - t0;
	long ok = atomic_load(&n_ok), fail = atomic_load(&n_fail);
	printf("ok=%ld fail=%ld secs=%.4f rate=%.1f\n", ok, fail, secs, secs > 0 ? (double)ok / secs : 0.0);
	return fail ? 1 : 0;
}
