/* SPDX-License-Identifier: MIT */
/*
 * `gatehouse status`: a client of the exporter, so that it shows the same
 * figures Prometheus gets and needs no privilege and no path to the
 * daemons: under `gatehouse run` (its `metrics` line) as under systemd
 * (gatehouse-metrics.socket, [::1]:9469 unless --address says otherwise).
 * Two scrapes --interval seconds apart give the rates.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli/cli.h"
#include "cli/status.h"
#include "cli/status_scrape.h"
#include "common/config_load.h"
#include "common/counters.h"

#define STATUS_DEFAULT_ADDRESS "[::1]:9469"

struct site_row {
	const char *name;
	double conns, failed, in, out, conns_rate, in_rate, out_rate;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: gatehouse status [-c FILE] [--address ADDR:PORT] [--interval SECONDS] [--json]\n");
}

/* sites in the order the exporter lists them (gatehouse_bytes_total) */
static size_t site_rows(const struct scrape *a, const struct scrape *b, double secs, struct site_row *rows, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < b->n && n < max; i++) {
		const struct sample *s = &b->s[i];
		if (strcmp(s->name, "gatehouse_bytes_total") || strcmp(s->direction, "in"))
			continue;
		struct site_row *r = &rows[n++];
		memset(r, 0, sizeof(*r));
		r->name = s->site;
		r->conns = scrape_sum(b, "gatehouse_connections_total", s->site, NULL, NULL, NULL, NULL);
		r->failed = r->conns - scrape_sum(b, "gatehouse_connections_total", s->site, NULL, "ok", NULL, NULL);
		r->in = scrape_sum(b, "gatehouse_bytes_total", s->site, NULL, NULL, "in", NULL);
		r->out = scrape_sum(b, "gatehouse_bytes_total", s->site, NULL, NULL, "out", NULL);
		if (a && secs > 0) {
			r->conns_rate = (r->conns - scrape_sum(a, "gatehouse_connections_total", s->site, NULL, NULL, NULL, NULL)) / secs;
			r->in_rate = (r->in - scrape_sum(a, "gatehouse_bytes_total", s->site, NULL, NULL, "in", NULL)) / secs;
			r->out_rate = (r->out - scrape_sum(a, "gatehouse_bytes_total", s->site, NULL, NULL, "out", NULL)) / secs;
		}
	}
	return n;
}

/* gatehouse_server_up: each checked server, as the health checker found it */
static void print_servers_text(const struct scrape *b)
{
	bool any = false;
	for (size_t i = 0; i < b->n; i++) {
		const struct sample *s = &b->s[i];
		if (strcmp(s->name, "gatehouse_server_up"))
			continue;
		if (!any)
			printf("%-32s %-5s %-46s %s\n", "SITE", "KIND", "SERVER", "HEALTH");
		any = true;
		printf("%-32s %-5s %-46s %s\n", s->site, s->kind, s->server, s->value > 0 ? "up" : "down");
	}
}

static void print_text(const char *addr, const struct scrape *b, const struct site_row *rows, size_t n, double secs)
{
	double gen = scrape_sum(b, "gatehouse_generation", NULL, NULL, NULL, NULL, NULL);
	printf("gatehouse: metrics at %s, generation %.0f\n", addr, gen);
	printf("listener: accepted %.0f, handed off %.0f, rejected %.0f, redirected %.0f\n",
	       scrape_sum(b, "gatehouse_accepted_total", NULL, NULL, NULL, NULL, NULL),
	       scrape_sum(b, "gatehouse_handoffs_total", NULL, NULL, NULL, NULL, NULL),
	       scrape_sum(b, "gatehouse_rejections_total", NULL, NULL, NULL, NULL, NULL),
	       scrape_sum(b, "gatehouse_redirects_total", NULL, NULL, NULL, NULL, NULL));
	for (size_t i = 0; i < CTR_ANSWERS; i++) {
		double v = scrape_sum(b, "gatehouse_rejections_total", NULL, NULL, NULL, NULL, ctr_answer_names[i]);
		if (v > 0)
			printf("  rejected %s: %.0f\n", ctr_answer_names[i], v);
	}
	printf("forwarders:");
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->s[i].name, "gatehouse_relays"))
			printf(" [%s.%s] %.0f open", b->s[i].generation, b->s[i].forwarder, b->s[i].value);
	printf("\n");
	printf("%-32s %10s %8s %10s %14s %14s", "SITE", "CONNS", "FAILED", "CONN/S", "BYTES IN", "BYTES OUT");
	if (secs > 0)
		printf(" %12s %12s", "IN/S", "OUT/S");
	printf("\n");
	for (size_t i = 0; i < n; i++) {
		printf("%-32s %10.0f %8.0f %10.1f %14.0f %14.0f", rows[i].name, rows[i].conns, rows[i].failed,
		       rows[i].conns_rate, rows[i].in, rows[i].out);
		if (secs > 0)
			printf(" %12.0f %12.0f", rows[i].in_rate, rows[i].out_rate);
		printf("\n");
	}
	print_servers_text(b);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_json(const char *addr, const struct scrape *b, const struct site_row *rows, size_t n, double secs)
{
	printf("{\"address\":");
	json_str(addr);
	printf(",\"interval\":%g,\"generation\":%.0f", secs, scrape_sum(b, "gatehouse_generation", NULL, NULL, NULL, NULL, NULL));
	printf(",\"listener\":{\"accepted\":%.0f,\"handoffs\":%.0f,\"redirects\":%.0f,\"rejections\":{",
	       scrape_sum(b, "gatehouse_accepted_total", NULL, NULL, NULL, NULL, NULL),
	       scrape_sum(b, "gatehouse_handoffs_total", NULL, NULL, NULL, NULL, NULL),
	       scrape_sum(b, "gatehouse_redirects_total", NULL, NULL, NULL, NULL, NULL));
	bool first = true;
	for (size_t i = 0; i < CTR_ANSWERS; i++) {
		if (!strcmp(ctr_answer_names[i], "redirect"))
			continue;
		printf("%s\"%s\":%.0f", first ? "" : ",", ctr_answer_names[i],
		       scrape_sum(b, "gatehouse_rejections_total", NULL, NULL, NULL, NULL, ctr_answer_names[i]));
		first = false;
	}
	printf("}},\"forwarders\":[");
	first = true;
	for (size_t i = 0; i < b->n; i++) {
		if (strcmp(b->s[i].name, "gatehouse_relays"))
			continue;
		printf("%s{\"generation\":%s,\"index\":%s,\"open\":%.0f}", first ? "" : ",", b->s[i].generation,
		       b->s[i].forwarder, b->s[i].value);
		first = false;
	}
	printf("],\"sites\":[");
	for (size_t i = 0; i < n; i++) {
		const struct site_row *r = &rows[i];
		printf("%s{\"name\":", i ? "," : "");
		json_str(r->name);
		printf(",\"connections\":%.0f,\"failed\":%.0f,\"bytes_in\":%.0f,\"bytes_out\":%.0f", r->conns, r->failed,
		       r->in, r->out);
		printf(",\"connections_per_second\":%.3f,\"bytes_in_per_second\":%.1f,\"bytes_out_per_second\":%.1f}",
		       r->conns_rate, r->in_rate, r->out_rate);
	}
	printf("],\"servers\":[");
	first = true;
	for (size_t i = 0; i < b->n; i++) {
		const struct sample *s = &b->s[i];
		if (strcmp(s->name, "gatehouse_server_up"))
			continue;
		printf("%s{\"site\":", first ? "" : ",");
		json_str(s->site);
		printf(",\"kind\":");
		json_str(s->kind);
		printf(",\"server\":");
		json_str(s->server);
		printf(",\"up\":%s}", s->value > 0 ? "true" : "false");
		first = false;
	}
	printf("]}\n");
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "address", required_argument, NULL, 'a' },
		{ "interval", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = NULL, *address = NULL;
	double interval = 1;
	bool json = false;
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "c:a:i:jh", opts, NULL)) != -1) {
		char *end;
		switch (o) {
		case 'c': config = optarg; break;
		case 'a': address = optarg; break;
		case 'j': json = true; break;
		case 'i':
			interval = strtod(optarg, &end);
			if (*end || interval < 0 || interval > 60) {
				fprintf(stderr, "gatehouse: --interval takes 0 to 60 seconds\n");
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	struct gh_addr addr;
	if (!address) {
		/* the config's `metrics` line, if the config is there to read */
		struct gh_config *cfg = NULL;
		if (config && config_load_file(config, stderr, &cfg) < 0)
			return 1;
		if (!config)	/* none there (a systemd-only setup may differ): the default */
			(void)config_load_file(CLI_DEFAULT_CONFIG, NULL, &cfg);
		if (cfg && cfg->metrics.len)
			addr = cfg->metrics;
		else if (config_parse_addr(STATUS_DEFAULT_ADDRESS, strlen(STATUS_DEFAULT_ADDRESS), &addr) < 0)
			return 1;
		config_free(cfg);
	} else if (config_parse_addr(address, strlen(address), &addr) < 0) {
		fprintf(stderr, "gatehouse: bad --address '%s' (e.g. [::1]:9469)\n", address);
		return 2;
	}
	struct scrape a = { 0 }, b = { 0 };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (scrape_get(&addr, 5000, interval > 0 ? &a : &b) < 0)
		return 1;
	double secs = 0;
	if (interval > 0) {
		struct timespec d = { (time_t)interval, (long)((interval - (double)(time_t)interval) * 1e9) };
		nanosleep(&d, NULL);	/* the span the rates are over, not a synchronisation */
		if (scrape_get(&addr, 5000, &b) < 0) {
			scrape_free(&a);
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	}
	struct site_row *rows = calloc(b.n ? b.n : 1, sizeof(*rows));
	if (!rows)
		return 1;
	size_t n = site_rows(interval > 0 ? &a : NULL, &b, secs, rows, b.n);
	if (json)
		print_json(addr.text, &b, rows, n, secs);
	else
		print_text(addr.text, &b, rows, n, secs);
	free(rows);
	scrape_free(&a);
	scrape_free(&b);
	return 0;
}
