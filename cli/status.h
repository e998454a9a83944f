/* SPDX-License-Identifier: MIT */
#pragma once
/* `gatehouse status [-c FILE] [--address ADDR:PORT] [--interval S] [--json]`:
 * the exporter's figures for a person (or, with --json, a script). argv[0]
 * is "status". Returns the exit code. */
int cmd_status(int argc, char **argv);
