/* SPDX-License-Identifier: MIT */
/*
 * `gatehouse import-haproxy FILE` (import_haproxy.h, gatehouse(8)).
 *
 * Four passes, one module each:
 *  1. lex (import_lex.h): split each line into words as HAProxy does
 *     (quotes, backslashes, '#'); read durations and addresses.
 *  2. read (import_read.h): fold the sections into proxies (frontend,
 *     backend, listen) holding only what gatehouse can express. Everything
 *     else is reported where it is met, with its line.
 *  3. resolve (import_resolve.h): frontends into the two kinds, backends
 *     into sites.
 *  4. write (import_write.h): the config text, then parse it with
 *     gatehouse's own parser, so what is printed is what `gatehouse check`
 *     accepts.
 *
 * Messages (stderr): "FILE:LINE: cannot translate: ..." for what gatehouse
 * cannot do, marked "(not essential ...)" when the result still routes the
 * same names to the same servers; "FILE:LINE: note: ..." for differences
 * worth knowing. Only essential ones make the exit status 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "router/config.h"
#include "cli/import_haproxy.h"
#include "cli/import_read.h"
#include "cli/import_resolve.h"
#include "cli/import_write.h"

static void hx_check_error(void *userdata, const char *message)
{
	struct hx *x = userdata;

	x->n_essential++;
	fprintf(x->err, "%s: the converted configuration fails gatehouse's check: %s\n", x->file, message);
}

int import_haproxy(const char *shown, FILE *in, FILE *out, FILE *err)
{
	struct hx x;
	struct gh_config *c = NULL;
	char *text = NULL;
	size_t text_len = 0;
	unsigned n_essential;
	FILE *o;
	int r;

	hx_init(&x, shown, err);
	r = hx_read(&x, in);
	if (r < 0) {
		fprintf(err, "gatehouse: %s: read error\n", shown);
		hx_free(&x);
		return 1;
	}
	hx_resolve(&x);

	o = open_memstream(&text, &text_len);
	if (!o)
		hx_oom();
	hx_write(&x, o);
	if (fclose(o) != 0)
		hx_oom();
	/* proxy and server names go into comments as written */
	hx_no_controls(text, text_len);

	/* what we print must be what gatehouse accepts */
	r = config_parse("(converted)", text, text_len, hx_check_error, &x, &c);
	if (r == -ENOMEM)
		hx_oom();
	config_free(c);
	fwrite(text, 1, text_len, out);
	free(text);
	if (fflush(out) != 0) {
		fprintf(err, "gatehouse: stdout: %s\n", strerror(errno));
		x.n_essential++;
	}
	n_essential = x.n_essential;
	hx_free(&x);
	return n_essential ? 1 : 0;
}

int cmd_import_haproxy(const char *path)
{
	char *shown = hx_strdup(path);
	FILE *f;
	int r;

	/* the name goes into '#' comments and messages: printable only */
	for (char *ch = shown; *ch; ch++)
		if ((unsigned char)*ch < 0x20 || *ch == 0x7f)
			*ch = '?';
	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "gatehouse: %s: %s\n", shown, strerror(errno));
		free(shown);
		return 1;
	}
	r = import_haproxy(shown, f, stdout, stderr);
	fclose(f);
	free(shown);
	return r;
}
