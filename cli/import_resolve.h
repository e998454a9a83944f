/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The import's third pass: the model the reader made into gatehouse's
 * terms (x->kinds: the frontends kept for each kind; x->sites: the sites
 * and the backend of each kind behind them). What cannot be resolved is
 * reported.
 */
#include "cli/import_model.h"

void hx_resolve(struct hx *x);
