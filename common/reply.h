/* SPDX-License-Identifier: MIT */
#pragma once
/* The answers gatehouse gives itself: HTTP errors and redirects, the TLS
 * unrecognized_name alert; formatted here, and the last words to a client
 * sent by reply_final. */
#include <stddef.h>
#include <stdint.h>

#define REPLY_MAX 1024

/* "HTTP/1.1 <status> <reason>" with a short text/plain body and
 * Connection: close. Returns the length written into out. */
size_t reply_http_error(int status, const char *detail, char *out, size_t size);

/* Redirect to https://host + path (path starts with '/' or is "*"). 301 for
 * GET and HEAD, 308 for other methods so they keep their method and body.
 * Returns the length, or 0 if it does not fit. */
size_t reply_http_redirect(const uint8_t *method, size_t method_len, const char *host,
			   const uint8_t *path, size_t path_len, char *out, size_t size, int *status);

const char *reply_http_reason(int status);

/* 429 Too Many Requests with Retry-After: retry_after_s (0 is sent as 1,
 * RFC 9110 §10.2.3 delay-seconds) and detail in the body; per-source
 * limits. Returns the length, or 0 if it does not fit. */
size_t reply_http_429(uint32_t retry_after_s, const char *detail, char *out, size_t size);

/* Fatal alert record: unrecognized_name (112), RFC 6066 §3. */
extern const uint8_t reply_tls_unrecognized_name[7];
/* Fatal alert record: access_denied (49), RFC 8446 §6.2: the client's
 * address is refused by an allow/deny list. */
extern const uint8_t reply_tls_access_denied[7];

/* Give a client its last answer (len may be 0): read what it sent and we
 * will not (closing with unread bytes sends a RST that can destroy the
 * answer before the client reads it; at most 4 reads into sink, which the
 * caller lends and gets back holding nothing it needs), send the answer
 * without blocking, then shutdown(SHUT_WR). The caller closes fd. */
void reply_final(int fd, const void *answer, size_t len, void *sink, size_t sink_size);
