/* SPDX-License-Identifier: MIT */
/* STUB: replaced by the real suite. */
#include "suites.h"

Suite *make_routes_suite(void)
{
	return suite_create("routes");
}
