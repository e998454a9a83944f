/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "common/reply.h"

/* content type alert, record version TLS 1.2, length 2, level fatal, 112 */
const uint8_t reply_tls_unrecognized_name[7] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70 };
/* the same record, alert 49 */
const uint8_t reply_tls_access_denied[7] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x31 };

const char *reply_http_reason(int status)
{
	switch (status) {
	case 301: return "Moved Permanently";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 421: return "Misdirected Request";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

size_t reply_http_error(int status, const char *detail, char *out, size_t size)
{
	char body[256];
	int bl = snprintf(body, sizeof(body), "%d %s%s%s\n", status, reply_http_reason(status),
			  detail ? ": " : "", detail ? detail : "");
	if (bl < 0)
		return 0;
	if ((size_t)bl >= sizeof(body))
		bl = sizeof(body) - 1;
	int n = snprintf(out, size,
			 "HTTP/1.1 %d %s\r\n"
			 "Content-Type: text/plain\r\n"
			 "Content-Length: %d\r\n"
			 "Connection: close\r\n"
			 "\r\n%s",
			 status, reply_http_reason(status), bl, body);
	if (n < 0 || (size_t)n >= size)
		return 0;
	return (size_t)n;
}

size_t reply_http_redirect(const uint8_t *method, size_t method_len, const char *host,
			   const uint8_t *path, size_t path_len, char *out, size_t size, int *status)
{
	int keep = (method_len == 3 && !memcmp(method, "GET", 3)) ||
		   (method_len == 4 && !memcmp(method, "HEAD", 4));
	*status = keep ? 301 : 308;
	/* asterisk-form has no path to keep */
	if (path_len == 1 && path[0] == '*')
		path = (const uint8_t *)"/";
	int n = snprintf(out, size,
			 "HTTP/1.1 %d %s\r\n"
			 "Location: https://%s%.*s\r\n"
			 "Content-Length: 0\r\n"
			 "Connection: close\r\n"
			 "\r\n",
			 *status, reply_http_reason(*status), host, (int)path_len, (const char *)path);
	if (n < 0 || (size_t)n >= size)
		return 0;
	return (size_t)n;
}

size_t reply_http_429(uint32_t retry_after_s, const char *detail, char *out, size_t size)
{
	char body[160];
	int bl = snprintf(body, sizeof(body), "429 Too Many Requests: %s\n", detail);

	if (bl < 0)
		return 0;
	if ((size_t)bl >= sizeof(body))
		bl = sizeof(body) - 1;
	int n = snprintf(out, size,
			 "HTTP/1.1 429 Too Many Requests\r\n"
			 "Retry-After: %u\r\n"
			 "Content-Type: text/plain\r\n"
			 "Content-Length: %d\r\n"
			 "Connection: close\r\n"
			 "\r\n%.*s",
			 retry_after_s ? retry_after_s : 1, bl, bl, body);
	if (n < 0 || (size_t)n >= size)
		return 0;
	return (size_t)n;
}

void reply_final(int fd, const void *answer, size_t len, void *sink, size_t sink_size)
{
	for (int i = 0; i < 4 && recv(fd, sink, sink_size, MSG_DONTWAIT) > 0; i++)
		;
	if (len)
		(void)send(fd, answer, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	shutdown(fd, SHUT_WR);
}
