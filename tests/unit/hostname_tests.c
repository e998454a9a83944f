/* SPDX-License-Identifier: MIT */
/* STUB: replaced by the real suite. */
#include "suites.h"

Suite *make_hostname_suite(void)
{
	return suite_create("hostname");
}
