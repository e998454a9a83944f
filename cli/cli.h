/* SPDX-License-Identifier: MIT */
#pragma once
/* The `gatehouse` subcommands; cli/main.c parses options and calls these. */

/* Default config path, for when no -c is given. */
#ifndef GATEHOUSE_SYSCONFDIR
#define GATEHOUSE_SYSCONFDIR "/etc"
#endif
#define CLI_DEFAULT_CONFIG GATEHOUSE_SYSCONFDIR "/gatehouse/gatehouse.conf"

/* `gatehouse check -c FILE`: load the config; on success print a one-line
 * summary on stdout and return 0, else every error on stderr and return 1.
 * path NULL means CLI_DEFAULT_CONFIG. */
int cmd_check(const char *path);
