/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The import's first pass: an HAProxy config line into words, and the
 * words HAProxy reads as values (durations, addresses). Knows nothing of
 * sections or keywords. Also the allocation helpers every pass shares:
 * on a few KiB of config, running out of memory ends the command.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define HX_TEXT_MAX 100				/* longest HAProxy line quoted back */
#define HX_ARRAY(a) (sizeof(a) / sizeof((a)[0]))

__attribute__((noreturn)) void hx_oom(void);
void *hx_grow(void *p, size_t n, size_t size);
char *hx_strdup(const char *s);

struct hx_line {
	char **argv;
	size_t argc, cap;
	unsigned no;
	char text[HX_TEXT_MAX + 4];	/* the line as written, for messages */
};

/* s (one line, no newline) into l's words, as HAProxy splits them; l->no
 * is the caller's. */
void hx_tokenize(struct hx_line *l, const char *s);
void hx_line_clear(struct hx_line *l);
/* the words and their array */
void hx_line_free(struct hx_line *l);
/* argv[from..] is exactly the blank-separated words of want. */
bool hx_words(const struct hx_line *l, size_t from, const char *want);

/* HAProxy durations into milliseconds; false when s is not one. */
bool hx_duration(const char *s, uint64_t *ms);
/* Control bytes but '\n' become '?': names from the file reach '#'
 * comments and messages, never a terminal's escape sequences. */
void hx_no_controls(char *s, size_t n);

/* The largest unit that says ms exactly: 5000 -> "5s", 1500 -> "1500ms". */
const char *hx_fmt_ms(uint64_t ms, char *buf, size_t size);

struct hx_addr {
	int family;			/* AF_INET6 or AF_INET */
	char host[INET6_ADDRSTRLEN];	/* canonical, from inet_ntop */
	unsigned port;			/* 0: none given */
	bool any;			/* the unspecified address */
};

/* An HAProxy bind (bind) or server address: NULL, or why it is not one
 * gatehouse can use. *odd: HAProxy read an IPv6 address's last group as
 * the port. */
const char *hx_parse_addr(const char *word, bool bind, struct hx_addr *out, bool *odd);
/* gatehouse's spelling: [v6]:port or v4:port */
void hx_addr_text(const struct hx_addr *a, unsigned port, char *buf, size_t size);
