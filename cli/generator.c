/* SPDX-License-Identifier: MIT */
/*
 * gatehouse-generator: a systemd generator (systemd.generator(7)). At boot
 * and on `systemctl daemon-reload` it reads the config and writes
 *   NORMAL_DIR/gatehouse-forwarder@.service.d/50-servers.conf
 * with IPAddressAllow= listing every configured server, so the forwarders'
 * cgroup may reach those addresses and nothing else (IPAddressDeny=any is
 * in the unit), and the same for gatehouse-health.service with the
 * servers that `check` lines cover. A config that does not load writes nothing: the
 * forwarders then reach no address at all, which fails closed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include "common/config_load.h"

#ifndef GATEHOUSE_SYSCONFDIR
#define GATEHOUSE_SYSCONFDIR "/etc"
#endif

static void allow(FILE *f, const struct gh_addr *a)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, ip, sizeof(ip));
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->ss)->sin_addr, ip, sizeof(ip));
	fprintf(f, "IPAddressAllow=%s\n", ip);
}

/* NORMAL_DIR/UNIT.d/50-servers.conf: IPAddressAllow= for every server the
 * forwarders dial, or (checks) every server gatehouse-health checks. */
static int write_dropin(const char *dir, const char *unit, const char *conf, const struct gh_config *cfg,
			bool checks)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.d", dir, unit);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "gatehouse-generator: mkdir %s: %s\n", path, strerror(errno));
		return 1;
	}
	strncat(path, "/50-servers.conf", sizeof(path) - strlen(path) - 1);
	FILE *f = fopen(path, "we");
	if (!f) {
		fprintf(stderr, "gatehouse-generator: %s: %s\n", path, strerror(errno));
		return 1;
	}
	fprintf(f, "# written by gatehouse-generator from %s\n[Service]\n", conf);
	for (size_t i = 0; checks && i < cfg->n_checks; i++)
		allow(f, &cfg->checks[i].addr);
	for (size_t s = 0; !checks && s < cfg->n_sites; s++) {
		for (int k = 0; k < GH_KIND_COUNT; k++)
			for (size_t i = 0; i < cfg->sites[s].n_servers[k]; i++)
				allow(f, &cfg->sites[s].servers[k][i]);
		/* tls-alpn servers, the global lines' copies included */
		for (size_t r = 0; r < cfg->sites[s].n_alpn; r++)
			for (size_t i = 0; i < cfg->sites[s].alpn[r].n_servers; i++)
				allow(f, &cfg->sites[s].alpn[r].servers[i]);
	}
	return fclose(f) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *conf = getenv("GATEHOUSE_CONFIG");
	if (!conf)
		conf = GATEHOUSE_SYSCONFDIR "/gatehouse/gatehouse.conf";
	if (argc < 2) {
		fprintf(stderr, "usage: gatehouse-generator NORMAL_DIR [EARLY_DIR LATE_DIR]\n");
		return 1;
	}
	struct gh_config *cfg = NULL;
	if (config_load_file(conf, stderr, &cfg) < 0)
		return 0;	/* a generator must not fail the boot */
	int r = write_dropin(argv[1], "gatehouse-forwarder@.service", conf, cfg, false);
	if (r == 0)
		r = write_dropin(argv[1], "gatehouse-health.service", conf, cfg, true);
	config_free(cfg);
	return r;
}
