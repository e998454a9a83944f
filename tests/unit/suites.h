/* SPDX-License-Identifier: MIT */
#pragma once
#include <check.h>

/* One constructor per area, one file each (tests/unit/<area>_tests.c). */
Suite *make_hostname_suite(void);
Suite *make_tls_hello_suite(void);
Suite *make_http_head_suite(void);
Suite *make_routes_suite(void);
Suite *make_config_suite(void);
Suite *make_config_image_suite(void);
Suite *make_handoff_suite(void);
Suite *make_proxy_header_suite(void);
Suite *make_listener_suite(void);
Suite *make_import_lex_suite(void);
Suite *make_import_resolve_suite(void);
Suite *make_handoff_batch_suite(void);
Suite *make_forwarder_suite(void);
Suite *make_ratelimit_suite(void);
Suite *make_proxy_parse_suite(void);
Suite *make_prefixset_suite(void);
Suite *make_srclimit_suite(void);
Suite *make_srcconn_suite(void);
Suite *make_decide_suite(void);
Suite *make_quic_suite(void);
Suite *make_metrics_suite(void);
Suite *make_health_suite(void);
Suite *make_quic_flow_suite(void);
