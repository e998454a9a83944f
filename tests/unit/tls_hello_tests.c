/* SPDX-License-Identifier: MIT */
/* STUB: replaced by the real suite. */
#include "suites.h"

Suite *make_tls_hello_suite(void)
{
	return suite_create("tls_hello");
}
