/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The import's last pass: the resolved model (import_resolve.h) as
 * gatehouse.conf text on o; the differences worth knowing are reported as
 * notes while writing.
 */
#include <stdio.h>
#include "cli/import_model.h"

void hx_write(struct hx *x, FILE *o);
