/* SPDX-License-Identifier: MIT */
/* The import's model and messages (import_model.h). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "cli/import_model.h"

void hx_say(struct hx *x, unsigned line, enum hx_class c, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	int n;

	if (c == HX_SILENT)
		return;
	if (c == HX_ESSENTIAL)
		x->n_essential++;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* names and words from the file are unbounded: cut the message */
	if (n >= (int)sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4);
	hx_no_controls(msg, strlen(msg));
	if (line)
		fprintf(x->err, "%s:%u: ", x->file, line);
	else
		fprintf(x->err, "%s: ", x->file);
	fprintf(x->err, "%s%s%s\n", c == HX_NOTE ? "note: " : "cannot translate: ", msg,
		c == HX_MINOR ? " (not essential: converted without it)" : "");
}

void hx_init(struct hx *x, const char *file, FILE *err)
{
	memset(x, 0, sizeof(*x));
	x->file = file;
	x->err = err;
	hx_defaults_reset(&x->defaults);
}

void hx_proxy_free(struct hx_proxy *p)
{
	free(p->name);
	free(p->default_backend);
	for (size_t i = 0; i < p->n_rules; i++) {
		free(p->rules[i].prefix);
		free(p->rules[i].suffix);
		free(p->rules[i].backend);
		for (size_t h = 0; h < p->rules[i].n_hosts; h++)
			free(p->rules[i].hosts[h]);
		free(p->rules[i].hosts);
	}
	free(p->rules);
	for (size_t i = 0; i < p->n_acls; i++) {
		free(p->acls[i].name);
		for (size_t h = 0; h < p->acls[i].n_hosts; h++)
			free(p->acls[i].hosts[h]);
		free(p->acls[i].hosts);
	}
	free(p->acls);
	free(p->binds);
	for (size_t i = 0; i < p->n_servers; i++)
		free(p->servers[i].name);
	free(p->servers);
}

void hx_defaults_reset(struct hx_proxy *d)
{
	hx_proxy_free(d);
	memset(d, 0, sizeof(*d));
	d->tcp = true;
}

struct hx_proxy *hx_find(const struct hx *x, const char *name, bool be)
{
	for (size_t i = 0; i < x->n_px; i++)
		if ((!be || x->px[i]->be) && strcmp(x->px[i]->name, name) == 0)
			return x->px[i];
	return NULL;
}

void hx_free(struct hx *x)
{
	for (size_t i = 0; i < x->n_px; i++) {
		hx_proxy_free(x->px[i]);
		free(x->px[i]);
	}
	free(x->px);
	hx_proxy_free(&x->defaults);
	free(x->sites);
	for (int k = 0; k < GH_KIND_TCP_COUNT; k++)
		free(x->kinds[k].fe);
}

const char *hx_fallback(const struct hx_proxy *p)
{
	if (p->default_backend)
		return p->default_backend;
	if (p->be && p->n_servers)
		return p->name;
	return NULL;
}

struct hx_site *hx_default_site(const struct hx *x, enum gh_kind k)
{
	size_t i = x->kinds[k].default_site;

	return i ? &x->sites[i - 1] : NULL;
}

const struct hx_opt *hx_opt_find(const struct hx_opt *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return &t[i];
	return NULL;
}

void hx_set_ms(struct hx *x, struct hx_ms *m, const struct hx_line *l, const char *value)
{
	uint64_t ms;

	if (!hx_duration(value, &ms)) {
		hx_say(x, l->no, HX_ESSENTIAL, "'%s': not a duration", l->text);
		return;
	}
	m->ms = ms;
	m->line = l->no;
	snprintf(m->text, sizeof(m->text), "%s", l->text);
}
