/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * `gatehouse import-haproxy FILE`: read an HAProxy configuration (the
 * SNI/Host routing setups gatehouse replaces) and print an equivalent
 * gatehouse.conf on stdout. What it cannot translate is named on stderr as
 * "FILE:LINE: cannot translate: ..." with HAProxy's line number; nothing is
 * guessed. Returns the exit code: 0 when everything essential translated,
 * 1 otherwise (what could be translated is still printed).
 */
int cmd_import_haproxy(const char *path);

#include <stdio.h>
/* The same on open streams: messages name the file `shown`. The exit code. */
int import_haproxy(const char *shown, FILE *in, FILE *out, FILE *err);
