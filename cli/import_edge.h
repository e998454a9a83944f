/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Per-source policy from HAProxy's tcp-request rules: access lists from
 * `src` conditions, source-connections and source-rate from a tracked
 * stick table (import_edge.c). The reader calls in as it meets the lines,
 * the writer once for the global lines.
 */
#include <stdio.h>
#include "cli/import_model.h"

/* `src [--] CIDR...`, words [from, to): the prefixes into *cidrs. NULL, or
 * why not ("" when already said). */
const char *hx_src_term(struct hx *x, const struct hx_line *l, size_t from, size_t to, char ***cidrs, size_t *n);

/* A tcp-request line this module translates (then true, said or kept in
 * p), or false: not one of its forms. */
bool hx_tcp_policy(struct hx *x, struct hx_proxy *p, const struct hx_line *l);

/* `stick-table ...` in a frontend: its line and conn_rate period. */
void hx_stick_table(struct hx_proxy *p, const struct hx_line *l);

/* The global allow/deny and source-* lines, with what they differ in said. */
void hx_write_edge(struct hx *x, FILE *o);
