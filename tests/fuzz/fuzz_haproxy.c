/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: `gatehouse import-haproxy` on the input. Its lexer is the
 * one parser that reads any file it is given (cli/import_lex.h), so first
 * each line goes through the lexer alone, with properties checked:
 *   - the words, each re-quoted and joined, split back into the same words;
 *   - a duration that reads prints (hx_fmt_ms) as text reading the same;
 *   - an address that reads prints (hx_addr_text) as text reading the same.
 * Then the whole import (reader, resolver, writer) runs on the input; what
 * it prints and says holds no control byte but '\n'.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "cli/import_haproxy.h"
#include "cli/import_lex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* "..." around each word, '"' and '\' escaped, blanks between */
static char *requote(const struct hx_line *l)
{
	size_t len = 1;
	char *s, *o;

	for (size_t i = 0; i < l->argc; i++)
		len += 2 * strlen(l->argv[i]) + 3;
	s = malloc(len);
	assert(s);
	o = s;
	for (size_t i = 0; i < l->argc; i++) {
		*o++ = '"';
		for (const char *c = l->argv[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				*o++ = '\\';
			*o++ = *c;
		}
		*o++ = '"';
		*o++ = ' ';
	}
	*o = '\0';
	return s;
}

static void check_duration(const char *w)
{
	uint64_t ms, again;
	char buf[32];

	if (!hx_duration(w, &ms))
		return;
	/* the writer prints at most 24h; larger values are capped first */
	if (ms > 24ull * 3600 * 1000)
		return;
	assert(hx_duration(hx_fmt_ms(ms, buf, sizeof(buf)), &again));
	assert(again == ms);
}

static void check_addr(const char *w, bool bind)
{
	struct hx_addr a, b;
	char text[80];
	bool odd;

	if (hx_parse_addr(w, bind, &a, &odd))
		return;
	assert(a.family == AF_INET || a.family == AF_INET6);
	assert(a.port <= 65535);
	hx_addr_text(&a, a.port ? a.port : 1, text, sizeof(text));
	assert(hx_parse_addr(text, bind, &b, &odd) == NULL);
	assert(!odd && b.family == a.family && b.any == a.any);
	assert(!strcmp(a.host, b.host) && b.port == (a.port ? a.port : 1));
}

static void check_line(struct hx_line *l, struct hx_line *l2, const char *s)
{
	char *q;

	hx_tokenize(l, s);
	assert(strlen(l->text) <= HX_TEXT_MAX + 3);
	for (const char *c = l->text; *c; c++)
		assert(*c >= 0x20 && *c < 0x7f);
	q = requote(l);
	hx_tokenize(l2, q);
	free(q);
	assert(l2->argc == l->argc);
	for (size_t i = 0; i < l->argc; i++) {
		assert(!strcmp(l->argv[i], l2->argv[i]));
		check_duration(l->argv[i]);
		check_addr(l->argv[i], true);
		check_addr(l->argv[i], false);
	}
}

static void check_printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert(s[i] == '\n' || ((unsigned char)s[i] >= 0x20 && s[i] != 0x7f));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hx_line l = { 0 }, l2 = { 0 };
	char *copy = malloc(size + 1), *out = NULL, *err = NULL;
	size_t out_len = 0, err_len = 0;
	FILE *in, *o, *e;
	int r;

	assert(copy);
	memcpy(copy, data, size);
	copy[size] = '\0';
	/* the lexer alone, line by line (the reader strips "\n" and "\r") */
	for (char *s = copy, *nl; s; s = nl) {
		size_t n;

		nl = strchr(s, '\n');
		if (nl)
			*nl++ = '\0';
		n = strlen(s);
		while (n > 0 && s[n - 1] == '\r')
			s[--n] = '\0';
		check_line(&l, &l2, s);
	}
	hx_line_free(&l);
	hx_line_free(&l2);
	free(copy);

	/* the whole import */
	in = fmemopen((void *)(uintptr_t)data, size, "r");
	if (!in)
		return 0;	/* size 0 */
	o = open_memstream(&out, &out_len);
	e = open_memstream(&err, &err_len);
	assert(o && e);
	r = import_haproxy("fuzz.cfg", in, o, e);
	assert(r == 0 || r == 1);
	fclose(in);
	assert(fclose(o) == 0 && fclose(e) == 0);
	check_printable(out, out_len);
	check_printable(err, err_len);
	free(out);
	free(err);
	return 0;
}
