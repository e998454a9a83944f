/* SPDX-License-Identifier: MIT */
/* One runner for every unit suite; suites run forked (CK_FORK default). */
#include <stdlib.h>
#include "suites.h"

int main(void)
{
	SRunner *sr = srunner_create(make_hostname_suite());
	srunner_add_suite(sr, make_tls_hello_suite());
	srunner_add_suite(sr, make_http_head_suite());
	srunner_add_suite(sr, make_routes_suite());
	srunner_add_suite(sr, make_config_suite());
	srunner_add_suite(sr, make_config_image_suite());
	srunner_add_suite(sr, make_handoff_suite());
	srunner_add_suite(sr, make_proxy_header_suite());
	srunner_add_suite(sr, make_listener_suite());
	srunner_add_suite(sr, make_import_lex_suite());
	srunner_add_suite(sr, make_import_resolve_suite());
	srunner_add_suite(sr, make_handoff_batch_suite());
	srunner_add_suite(sr, make_forwarder_suite());
	srunner_add_suite(sr, make_ratelimit_suite());
	srunner_add_suite(sr, make_proxy_parse_suite());
	srunner_add_suite(sr, make_prefixset_suite());
	srunner_add_suite(sr, make_srclimit_suite());
	srunner_add_suite(sr, make_srcconn_suite());
	srunner_add_suite(sr, make_decide_suite());
	srunner_add_suite(sr, make_quic_suite());
	srunner_add_suite(sr, make_metrics_suite());
	srunner_add_suite(sr, make_health_suite());
	srunner_add_suite(sr, make_quic_flow_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
