/* SPDX-License-Identifier: MIT */
/* STUB: replaced by the real suite. */
#include "suites.h"

Suite *make_config_suite(void)
{
	return suite_create("config");
}
