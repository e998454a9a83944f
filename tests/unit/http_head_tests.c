/* SPDX-License-Identifier: MIT */
/* STUB: replaced by the real suite. */
#include "suites.h"

Suite *make_http_head_suite(void)
{
	return suite_create("http_head");
}
