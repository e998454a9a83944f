/* SPDX-License-Identifier: MIT */
/*
 * gatehouse run|check|version — the command users and their tooling depend
 * on. Extend it; never change what these three mean.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/import_haproxy.h"
#include "cli/run.h"
#include "cli/status.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gatehouse run -c FILE [--forwarders N]   start the proxy without systemd\n"
		"       gatehouse check -c FILE                  check a configuration\n"
		"       gatehouse status [-c FILE] [--json]       figures of a running gatehouse (its metrics)\n"
		"       gatehouse version                        print the version\n"
		"       gatehouse import-haproxy FILE            print FILE (haproxy.cfg) as a gatehouse.conf\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "forwarders", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = NULL;
	unsigned forwarders = 0;
	int o;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("gatehouse %s\n", GATEHOUSE_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	/* one positional FILE and no options: kept apart from the getopt
	 * loop below so run, check and version stay exactly as they were */
	if (!strcmp(cmd, "import-haproxy")) {
		if (argc == 3 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help"))) {
			usage(stdout);
			return 0;
		}
		if (argc != 3) {
			usage(stderr);
			return 2;
		}
		return cmd_import_haproxy(argv[2]);
	}
	if (!strcmp(cmd, "status"))
		return cmd_status(argc - 1, argv + 1);
	optind = 2;
	while ((o = getopt_long(argc, argv, "c:f:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			config = optarg;
			break;
		case 'f': {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);
			if (*end || n < 1 || n > 64) {
				fprintf(stderr, "gatehouse: --forwarders takes 1..64\n");
				return 2;
			}
			forwarders = (unsigned)n;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gatehouse: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!strcmp(cmd, "check"))
		return cmd_check(config);
	if (!strcmp(cmd, "run"))
		return cmd_run(config ? config : CLI_DEFAULT_CONFIG, forwarders);
	fprintf(stderr, "gatehouse: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
