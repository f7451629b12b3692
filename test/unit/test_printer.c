// SPDX-License-Identifier: Apache-2.0
/* Trace printer: exact text lines, Go-style durations, JSON validity and escaping. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "printer.h"

/* 2025-12-09 12:28:05.128844 UTC, plus some nanoseconds that must not show. */
#define T0 1765283285128844123ULL

static const uint8_t trace_id[16] = { 0x69, 0x97, 0x7b, 0xee, 0x0c, 0x29, 0x64, 0xb8,
				      0xfe, 0x53, 0xcd, 0xd1, 0x6f, 0x8a, 0x9d, 0x19 };
static const uint8_t server_id[8] = { 0x85, 0x6c, 0x9f, 0x70, 0x0e, 0x73, 0xbf, 0x0d };
static const uint8_t client_id[8] = { 0xca, 0xa7, 0xf1, 0xad, 0x1c, 0x68, 0xfa, 0x77 };

static void set_addr(struct span_addr *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, ip, a->addr) == 1) {
		a->family = AF_INET;
	} else {
		CHECK(inet_pton(AF_INET6, ip, a->addr) == 1);
		a->family = AF_INET6;
	}
	a->port = port;
}

static void common_span(struct span *s)
{
	memset(s, 0, sizeof(*s));
	s->start_ns = T0;
	strcpy(s->method, "GET");
	strcpy(s->path, "/");
	strcpy(s->route, "/");
	s->status = 200;
	s->req_body_size = 78;
	s->resp_body_size = 223;
	s->pid = 297514;
	s->tid = 297520;
	strcpy(s->service_name, "envoy");
	strcpy(s->language, "generic");
	memcpy(s->trace_id, trace_id, sizeof(trace_id));
	s->trace_flags = 1;
}

/* The first span of USERS.md's example: envoy serving on :9000. */
static void server_span(struct span *s)
{
	common_span(s);
	s->kind = SPAN_SERVER;
	s->end_ns = T0 + 2202041;
	s->handler_ns = s->end_ns - 1524713;
	strcpy(s->host_header, "envoy:9000");
	strcpy(s->user_agent, "curl/8.5.0");
	set_addr(&s->local, "172.19.0.5", 9000);
	set_addr(&s->remote, "172.19.0.1", 59030);
	memcpy(s->span_id, server_id, sizeof(server_id));
}

/* The second: envoy calling localhost:8000, child of the first. */
static void client_span(struct span *s)
{
	common_span(s);
	s->kind = SPAN_CLIENT;
	s->end_ns = T0 + 1389336;
	s->handler_ns = T0;
	strcpy(s->host_header, "localhost:8000");
	set_addr(&s->local, "172.19.0.5", 59806);
	set_addr(&s->remote, "172.19.0.4", 8000);
	memcpy(s->span_id, client_id, sizeof(client_id));
	memcpy(s->parent_id, server_id, sizeof(server_id));
}

static const char *text(const struct span *s)
{
	static char buf[8192];
	int n = printer_format_text(s, buf, sizeof(buf));

	CHECK_INT(n, strlen(buf));
	return buf;
}

static const char *json(const struct span *s)
{
	static char buf[8192];
	int n = printer_format_json(s, buf, sizeof(buf));

	CHECK_INT(n, strlen(buf));
	return buf;
}

static void test_text_layout(void)
{
	struct span s;

	server_span(&s);
	CHECK_STR(text(&s), "2025-12-09 12:28:05.128844 (2.202041ms[1.524713ms]) HTTP 200 GET /(/) "
			    "[172.19.0.1 as 172.19.0.1:59030]->[172.19.0.5 as envoy:9000] "
			    "contentLen:78B responseLen:223B svc=[envoy generic] "
			    "traceparent=[00-69977bee0c2964b8fe53cdd16f8a9d19-856c9f700e73bf0d"
			    "[0000000000000000]-01]\n");
	client_span(&s);
	CHECK_STR(text(&s), "2025-12-09 12:28:05.128844 (1.389336ms[1.389336ms]) HTTPClient 200 "
			    "GET /(/) [172.19.0.5 as envoy:59806]->[172.19.0.4 as localhost:8000] "
			    "contentLen:78B responseLen:223B svc=[envoy generic] "
			    "traceparent=[00-69977bee0c2964b8fe53cdd16f8a9d19-caa7f1ad1c68fa77"
			    "[856c9f700e73bf0d]-01]\n");

	/* no Host header: the peer's IP names the server; unknown route; no response */
	s.host_header[0] = '\0';
	s.route[0] = '\0';
	s.method[0] = '\0';
	s.status = 0;
	s.resp_body_size = 0;
	s.end_ns = T0;
	s.trace_flags = 0;
	CHECK_STR(text(&s), "2025-12-09 12:28:05.128844 (0s[0s]) HTTPClient 0  /() "
			    "[172.19.0.5 as envoy:59806]->[172.19.0.4 as 172.19.0.4:8000] "
			    "contentLen:78B responseLen:0B svc=[envoy generic] "
			    "traceparent=[00-69977bee0c2964b8fe53cdd16f8a9d19-caa7f1ad1c68fa77"
			    "[856c9f700e73bf0d]-00]\n");
}

static void test_text_addresses(void)
{
	struct span s;

	server_span(&s);
	set_addr(&s.local, "2001:db8::5", 8080);
	set_addr(&s.remote, "::1", 40000);
	CHECK(strstr(text(&s), " [::1 as ::1:40000]->[2001:db8::5 as envoy:8080] "));
	set_addr(&s.local, "::ffff:10.0.0.5", 8080);
	set_addr(&s.remote, "::ffff:10.0.0.1", 40000);
	CHECK(strstr(text(&s), " [10.0.0.1 as 10.0.0.1:40000]->[10.0.0.5 as envoy:8080] "));

	client_span(&s);
	strcpy(s.host_header, "[::1]:8000");
	CHECK(strstr(text(&s), "->[172.19.0.4 as ::1:8000] "));
	strcpy(s.host_header, "api.example.com");
	CHECK(strstr(text(&s), "->[172.19.0.4 as api.example.com:8000] "));
	strcpy(s.host_header, "fe80::1");
	CHECK(strstr(text(&s), "->[172.19.0.4 as fe80::1:8000] "));
}

static void test_text_escaping(void)
{
	struct span s;

	server_span(&s);
	strcpy(s.path, "/a\nb\x01\x7f\xff/\xc3\xa9");
	CHECK(strstr(text(&s), " GET /a\\x0ab\\x01\\x7f\\xff/\xc3\xa9(/) "));
	CHECK(strchr(text(&s), '\n') == text(&s) + strlen(text(&s)) - 1);
}

static void check_duration(uint64_t ns, const char *want)
{
	char buf[64];

	CHECK_INT(printer_format_duration(ns, buf, sizeof(buf)), strlen(want));
	CHECK_STR(buf, want);
}

static void test_durations(void)
{
	char small[4];

	check_duration(0, "0s");
	check_duration(1, "1ns");
	check_duration(850, "850ns");
	check_duration(999, "999ns");
	check_duration(1000, "1\u00b5s");
	check_duration(267900, "267.9\u00b5s");
	check_duration(305572, "305.572\u00b5s");
	check_duration(999999, "999.999\u00b5s");
	check_duration(1000000, "1ms");
	check_duration(1260901, "1.260901ms");
	check_duration(1543100, "1.5431ms");
	check_duration(2500000000ULL, "2.5s");
	check_duration(1000000005ULL, "1.000000005s");
	check_duration(60000000000ULL, "1m0s");
	check_duration(65500000000ULL, "1m5.5s");
	check_duration(3600000000000ULL, "1h0m0s");
	check_duration(3661000000000ULL, "1h1m1s");
	check_duration(UINT64_MAX, "5124095h34m33.709551615s");
	CHECK_INT(printer_format_duration(305572, small, sizeof(small)), -ENOSPC);
	CHECK_INT(printer_format_duration(850, small, sizeof(small)), -ENOSPC);
	CHECK_INT(printer_format_duration(8, small, sizeof(small)), 3);
}

/*
 * A small structural JSON check for the flat objects the printer writes: string, number and
 * boolean members only, strings with valid escapes and no raw control characters.
 */
static const char *skip_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (; *p != '"'; p++) {
		if (!*p || (unsigned char)*p < 0x20)
			return NULL;
		if (*p != '\\')
			continue;
		p++;
		if (*p == 'u') {
			for (int i = 1; i <= 4; i++)
				if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
					return NULL;
			p += 4;
		} else if (!*p || !strchr("\"\\/bfnrt", *p)) {
			return NULL;
		}
	}
	return p + 1;
}

static const char *skip_value(const char *p)
{
	if (*p == '"')
		return skip_string(p);
	if (!strncmp(p, "true", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
		return NULL;
	while (*p >= '0' && *p <= '9')
		p++;
	return p;
}

static bool flat_json_object(const char *p)
{
	if (*p++ != '{')
		return false;
	for (;;) {
		p = skip_string(p);
		if (!p || *p++ != ':')
			return false;
		p = skip_value(p);
		if (!p)
			return false;
		if (*p == '}')
			return !strcmp(p, "}\n");
		if (*p++ != ',')
			return false;
	}
}

static bool have_python(void)
{
	return system("command -v python3 >/dev/null 2>&1") == 0;
}

/* Runs python3 on the line: prints ascii(<expr>) with d the parsed object, or "invalid". */
static const char *python_eval(const char *line, const char *expr)
{
	static char out[8192];
	char path[] = "/tmp/test_printer_XXXXXX", cmd[512];
	FILE *p;
	int fd = mkstemp(path);

	out[0] = '\0';
	if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
		CHECK(!"temporary file for python3");
		return out;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import json,sys\ntry: d=json.loads(open(sys.argv[1],\"rb\").read())\n"
		 "except ValueError: print(\"invalid\"); sys.exit()\nprint(ascii(%s))' %s",
		 expr, path);
	p = popen(cmd, "r");
	if (p) {
		if (!fgets(out, sizeof(out), p))
			out[0] = '\0';
		out[strcspn(out, "\n")] = '\0';
		pclose(p);
	}
	unlink(path);
	return out;
}

static void test_json_checkers(void)
{
	CHECK(flat_json_object("{\"a\":\"\\u00e9\",\"b\":0,\"c\":true}\n"));
	CHECK(!flat_json_object("{\"a\":\"\x01\"}\n"));
	CHECK(!flat_json_object("{\"a\":\"\\x41\"}\n"));
	CHECK(!flat_json_object("{\"a\":1,}\n"));
	CHECK(!flat_json_object("{\"a\":01}\n"));
	if (have_python()) {
		CHECK_STR(python_eval("{\"a\":1,}", "d"), "invalid");
		CHECK_STR(python_eval("{\"a\":\"\xff\"}", "d"), "invalid");
	} else {
		fprintf(stderr, "test_printer: no python3, JSON checked structurally only\n");
	}
}

static void check_valid_json(const char *line)
{
	CHECK(flat_json_object(line));
	if (have_python())
		CHECK_STR(python_eval(line, "type(d).__name__"), "'dict'");
}

static void test_json_server(void)
{
	struct span s;

	server_span(&s);
	s.route[0] = '\0';
	CHECK_STR(json(&s),
		  "{\"time\":\"2025-12-09T12:28:05.128844Z\","
		  "\"start_time_unix_nano\":1765283285128844123,"
		  "\"handler_start_unix_nano\":1765283285129521451,"
		  "\"end_time_unix_nano\":1765283285131046164,"
		  "\"duration_ns\":2202041,\"handler_duration_ns\":1524713,"
		  "\"kind\":\"SERVER\",\"type\":\"HTTP\","
		  "\"trace_id\":\"69977bee0c2964b8fe53cdd16f8a9d19\","
		  "\"span_id\":\"856c9f700e73bf0d\",\"parent_span_id\":\"0000000000000000\","
		  "\"trace_flags\":\"01\","
		  "\"traceparent\":\"00-69977bee0c2964b8fe53cdd16f8a9d19-856c9f700e73bf0d-01\","
		  "\"http.request.method\":\"GET\",\"url.path\":\"/\","
		  "\"http.response.status_code\":200,"
		  "\"http.request.body.size\":78,\"http.response.body.size\":223,"
		  "\"server.address\":\"envoy\",\"server.port\":9000,"
		  "\"client.address\":\"172.19.0.1\","
		  "\"network.local.address\":\"172.19.0.5\",\"network.local.port\":9000,"
		  "\"network.peer.address\":\"172.19.0.1\",\"network.peer.port\":59030,"
		  "\"user_agent.original\":\"curl/8.5.0\","
		  "\"process.pid\":297514,\"thread.id\":297520,"
		  "\"service.name\":\"envoy\",\"telemetry.sdk.language\":\"generic\","
		  "\"error\":false,\"otel.status_code\":\"UNSET\"}\n");
	check_valid_json(json(&s));

	/* no Host header: the local IP is the server address */
	s.host_header[0] = '\0';
	set_addr(&s.local, "::ffff:10.1.2.3", 8080);
	CHECK(strstr(json(&s), "\"server.address\":\"10.1.2.3\",\"server.port\":8080,"));
	s.status = 503;
	s.error = true;
	CHECK(strstr(json(&s), ",\"error\":true,\"otel.status_code\":\"ERROR\"}\n"));
	check_valid_json(json(&s));
}

static void test_json_client(void)
{
	struct span s;
	const char *line;

	client_span(&s);
	line = json(&s);
	check_valid_json(line);
	CHECK(strstr(line, "\"kind\":\"CLIENT\",\"type\":\"HTTPClient\","));
	CHECK(strstr(line, "\"parent_span_id\":\"856c9f700e73bf0d\","));
	CHECK(strstr(line, "\"url.path\":\"/\",\"http.route\":\"/\","
			   "\"http.response.status_code\""));
	CHECK(strstr(line, "\"server.address\":\"localhost\",\"server.port\":8000,"
			   "\"network.local.address\""));
	CHECK(!strstr(line, "client.address"));
	CHECK(!strstr(line, "user_agent.original"));

	s.host_header[0] = '\0';
	set_addr(&s.remote, "2001:db8::4", 443);
	line = json(&s);
	CHECK(strstr(line, "\"server.address\":\"2001:db8::4\",\"server.port\":443,"));
	CHECK(strstr(line, "\"network.peer.address\":\"2001:db8::4\",\"network.peer.port\":443,"));
	if (have_python()) {
		CHECK_STR(python_eval(line, "d[\"server.address\"]"), "'2001:db8::4'");
		CHECK_STR(python_eval(line, "d[\"http.response.body.size\"]"), "223");
		CHECK_STR(python_eval(line, "d[\"error\"]"), "False");
	}
}

/* "trace_state" after the ids, only when there is one. */
static void test_json_trace_state(void)
{
	struct span s;
	const char *line;

	server_span(&s);
	CHECK(!strstr(json(&s), "trace_state"));
	strcpy(s.trace_state, "foo=1,t@v=a \"b\\");
	line = json(&s);
	check_valid_json(line);
	CHECK(strstr(line, "\"traceparent\":\"00-"));
	CHECK(strstr(line, "\",\"trace_state\":\"foo=1,t@v=a \\\"b\\\\\","));
	if (have_python())
		CHECK_STR(python_eval(line, "d[\"trace_state\"]"), "'foo=1,t@v=a \"b\\\\'");
}

static void test_json_container_id(void)
{
	struct span s;
	const char *line;

	server_span(&s);
	CHECK(!strstr(json(&s), "container.id"));
	strcpy(s.container_id, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	line = json(&s);
	check_valid_json(line);
	CHECK(strstr(line, ",\"container.id\":\"0123456789abcdef0123456789abcdef0123456789abcdef"
			   "0123456789abcdef\""));
	CHECK(!strstr(text(&s), "0123456789abcdef")); /* the text line stays OBI's */
}

static void test_json_escaping(void)
{
	struct span s;
	const char *line;

	server_span(&s);
	/* quote, backslash, control chars, a lone 0xff, a valid é, a truncated € */
	strcpy(s.path, "/a\"b\\c\n\x01\x1f\x7f\xff\xc3\xa9\xe2\x82");
	/* overlong '/', a UTF-16 surrogate, a valid 4-byte emoji */
	strcpy(s.user_agent, "x\xc0\xaf\xed\xa0\x80\xf0\x9f\x98\x80");
	line = json(&s);
	/* cJSON's escapes; U+FFFD (EF BF BD) for each byte that starts no valid sequence */
	CHECK(strstr(line, "\"url.path\":\"/a\\\"b\\\\c\\n\\u0001\\u001f\x7f\xef\xbf\xbd\xc3\xa9"
			   "\xef\xbf\xbd\xef\xbf\xbd\","));
	CHECK(strstr(line, "\"user_agent.original\":\"x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			   "\xef\xbf\xbd\xef\xbf\xbd\xf0\x9f\x98\x80\","));
	check_valid_json(line);
	if (have_python()) {
		CHECK_STR(python_eval(line, "d[\"url.path\"]"),
			  "'/a\"b\\\\c\\n\\x01\\x1f\\x7f\\ufffd\\xe9\\ufffd\\ufffd'");
		CHECK_STR(python_eval(line, "d[\"user_agent.original\"]"),
			  "'x\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\U0001f600'");
	}
}

/* Every string field full of bytes that escape to 6 characters, every number at its maximum. */
static void test_largest_span(void)
{
	char buf[8192];
	struct span s;
	int n;

	server_span(&s);
	memset(s.method, 0x01, sizeof(s.method) - 1);
	memset(s.path, 0xff, sizeof(s.path) - 1);
	memset(s.route, 0x02, sizeof(s.route) - 1);
	memset(s.host_header, 0x03, sizeof(s.host_header) - 1);
	memset(s.user_agent, 0xfe, sizeof(s.user_agent) - 1);
	memset(s.service_name, 0x04, sizeof(s.service_name) - 1);
	memset(s.language, 0x05, sizeof(s.language) - 1);
	memset(s.trace_state, '"', sizeof(s.trace_state) - 1); /* a checked one: escapes to 2 */
	memset(s.container_id, 'f', sizeof(s.container_id) - 1);
	s.start_ns = s.handler_ns = s.end_ns = s.req_body_size = s.resp_body_size = UINT64_MAX;
	s.status = UINT16_MAX;
	s.pid = s.tid = UINT32_MAX;
	s.error = true;
	set_addr(&s.local, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", UINT16_MAX);
	set_addr(&s.remote, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", UINT16_MAX);
	n = printer_format_json(&s, buf, sizeof(buf));
	CHECK(n > 6000 && n < (int)sizeof(buf));
	check_valid_json(buf);
	n = printer_format_text(&s, buf, sizeof(buf));
	CHECK(n > 3000 && n < (int)sizeof(buf));
}

static void test_no_space(void)
{
	char buf[512], big[8192];
	struct span s;
	int n;

	server_span(&s);
	CHECK_INT(printer_format_text(&s, buf, 10), -ENOSPC);
	CHECK_STR(buf, "");
	CHECK_INT(printer_format_json(&s, buf, 10), -ENOSPC);
	CHECK_INT(printer_format_text(&s, buf, 0), -ENOSPC);
	n = printer_format_text(&s, big, sizeof(big));
	CHECK(n > 0);
	/* the line and its NUL must both fit */
	CHECK_INT(printer_format_text(&s, buf, n), -ENOSPC);
	CHECK_INT(printer_format_text(&s, buf, n + 1), n);
	CHECK_STR(buf, big);
	n = printer_format_json(&s, big, sizeof(big));
	CHECK_INT(printer_format_json(&s, big, n), -ENOSPC);
	CHECK_INT(printer_format_json(&s, big, n + 1), n);
}

static void test_print(void)
{
	char *out = NULL;
	size_t size = 0;
	struct span s;
	FILE *f = open_memstream(&out, &size);

	server_span(&s);
	printer_print(PRINTER_DISABLED, &s, f);
	CHECK_INT(size, 0);
	printer_print(PRINTER_TEXT, &s, f);
	CHECK_STR(out, text(&s));
	printer_print(PRINTER_JSON, &s, f);
	CHECK_INT(size, strlen(text(&s)) + strlen(json(&s)));
	CHECK_STR(out + strlen(text(&s)), json(&s));
	fclose(f);
	free(out);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	test_text_layout();
	test_text_addresses();
	test_text_escaping();
	test_durations();
	test_json_checkers();
	test_json_server();
	test_json_client();
	test_json_escaping();
	test_json_trace_state();
	test_json_container_id();
	test_largest_span();
	test_no_space();
	test_print();
	return check_done("test_printer");
}
