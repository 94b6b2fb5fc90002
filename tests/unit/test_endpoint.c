#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "endpoint.h"
#include "net.h"

static void parse_ok(const char *url, int kind, const char *host, unsigned port,
		     const char *path)
{
	pd_endpoint ep;
	char err[256] = "";
	int rv = pd_endpoint_parse(url, &ep, err, sizeof(err));

	if (rv != 0)
		fprintf(stderr, "\n  %s: unexpected error: %s\n", url, err);
	CU_ASSERT_EQUAL_FATAL(rv, 0);
	CU_ASSERT_EQUAL(ep.kind, kind);
	CU_ASSERT_STRING_EQUAL(ep.host, host);
	CU_ASSERT_EQUAL(ep.port, port);
	CU_ASSERT_STRING_EQUAL(ep.path, path);
}

static void parse_err(const char *url, const char *msg)
{
	pd_endpoint ep;
	char err[512] = "";
	int rv = pd_endpoint_parse(url, &ep, err, sizeof(err));

	CU_ASSERT_EQUAL(rv, -EINVAL);
	if (strcmp(err, msg) != 0)
		fprintf(stderr, "\n  got:  '%s'\n  want: '%s'\n", err, msg);
	CU_ASSERT_STRING_EQUAL(err, msg);
}

static void test_tls_tcp(void)
{
	parse_ok("tls+tcp://example.org:7000", PD_EP_TLS_TCP, "example.org", 7000, "");
	parse_ok("tls+tcp://node-01.cluster_a.local:1", PD_EP_TLS_TCP,
		 "node-01.cluster_a.local", 1, "");
	parse_ok("tls+tcp://0.0.0.0:0", PD_EP_TLS_TCP, "0.0.0.0", 0, "");
	parse_ok("tls+tcp://localhost:65535", PD_EP_TLS_TCP, "localhost", 65535, "");
	parse_ok("tls+tcp://10.1.2.3:00080", PD_EP_TLS_TCP, "10.1.2.3", 80, "");
}

static void test_tcp(void)
{
	parse_ok("tcp://127.0.0.1:5555", PD_EP_TCP, "127.0.0.1", 5555, "");
	parse_ok("tcp://h:0", PD_EP_TCP, "h", 0, "");
}

static void test_ipv6(void)
{
	parse_ok("tls+tcp://[::1]:7000", PD_EP_TLS_TCP, "::1", 7000, "");
	parse_ok("tcp://[::]:0", PD_EP_TCP, "::", 0, "");
	parse_ok("tcp://[2001:db8::42]:443", PD_EP_TCP, "2001:db8::42", 443, "");
	parse_ok("tcp://[::ffff:192.0.2.1]:9", PD_EP_TCP, "::ffff:192.0.2.1", 9, "");
	parse_ok("tcp://[fe80::1%eth0]:9", PD_EP_TCP, "fe80::1%eth0", 9, "");
}

static void test_ipc(void)
{
	char url[200], path[108];

	parse_ok("ipc:///tmp/parade.sock", PD_EP_IPC, "", 0, "/tmp/parade.sock");
	parse_ok("ipc:///", PD_EP_IPC, "", 0, "/");

	/* 107 bytes is the longest sun_path that still has room for the NUL */
	memset(path, 'p', 107);
	path[0] = '/';
	path[107] = '\0';
	snprintf(url, sizeof(url), "ipc://%s", path);
	parse_ok(url, PD_EP_IPC, "", 0, path);
}

static void test_scheme_errors(void)
{
	parse_err("x://a", "endpoint 'x://a': unknown scheme 'x' "
			   "(use tls+tcp://, tcp:// or ipc://)");
	parse_err("udp://h:1", "endpoint 'udp://h:1': unknown scheme 'udp' "
			       "(use tls+tcp://, tcp:// or ipc://)");
	parse_err("://h:1", "endpoint '://h:1': unknown scheme '' "
			    "(use tls+tcp://, tcp:// or ipc://)");
	parse_err("localhost:7000", "endpoint 'localhost:7000': missing scheme "
				    "(use tls+tcp://, tcp:// or ipc://)");
	parse_err("", "endpoint '': missing scheme (use tls+tcp://, tcp:// or ipc://)");
}

static void test_port_errors(void)
{
	parse_err("tcp://h:70000", "endpoint 'tcp://h:70000': port '70000' out of range (0-65535)");
	parse_err("tcp://h:65536", "endpoint 'tcp://h:65536': port '65536' out of range (0-65535)");
	parse_err("tcp://h:99999999999999999999999",
		  "endpoint 'tcp://h:99999999999999999999999': port '99999999999999999999999' "
		  "out of range (0-65535)");
	parse_err("tcp://h:-1", "endpoint 'tcp://h:-1': port '-1' is not a number");
	parse_err("tcp://h:+1", "endpoint 'tcp://h:+1': port '+1' is not a number");
	parse_err("tcp://h:0x10", "endpoint 'tcp://h:0x10': port '0x10' is not a number");
	parse_err("tcp://h:80/x", "endpoint 'tcp://h:80/x': port '80/x' is not a number");
	parse_err("tcp://h: 80", "endpoint 'tcp://h: 80': port ' 80' is not a number");
	parse_err("tcp://h:", "endpoint 'tcp://h:': missing port (HOST:PORT)");
	parse_err("tls+tcp://h", "endpoint 'tls+tcp://h': missing port (HOST:PORT)");
	parse_err("tcp://[::1]", "endpoint 'tcp://[::1]': missing port (HOST:PORT)");
	parse_err("tcp://[::1]80", "endpoint 'tcp://[::1]80': missing port (HOST:PORT)");
}

static void test_host_errors(void)
{
	char url[400], msg[700], host[300];

	parse_err("tcp://:80", "endpoint 'tcp://:80': missing host");
	parse_err("tcp://", "endpoint 'tcp://': missing host");
	parse_err("tcp://[]:80", "endpoint 'tcp://[]:80': missing host");
	parse_err("tcp://[::1:80", "endpoint 'tcp://[::1:80': missing ']' after IPv6 address");
	parse_err("tcp://::1:80", "endpoint 'tcp://::1:80': IPv6 address must be in brackets, "
				  "e.g. tcp://[::1]:PORT");
	parse_err("tcp://[nothex]:80", "endpoint 'tcp://[nothex]:80': invalid IPv6 address "
				       "'nothex'");
	parse_err("tcp://[fe80::1%]:80", "endpoint 'tcp://[fe80::1%]:80': invalid IPv6 "
					 "address 'fe80::1%'");
	parse_err("tcp://300.1.1.1:80", "endpoint 'tcp://300.1.1.1:80': invalid IPv4 address "
					"'300.1.1.1'");
	parse_err("tcp://1.2.3:80", "endpoint 'tcp://1.2.3:80': invalid IPv4 address '1.2.3'");
	parse_err("tcp://a b:80", "endpoint 'tcp://a b:80': invalid character ' ' in host 'a b'");
	parse_err("tcp://user@h:80", "endpoint 'tcp://user@h:80': invalid character '@' in host "
				     "'user@h'");

	memset(host, 'h', 256);
	host[256] = '\0';
	snprintf(url, sizeof(url), "tcp://%s:1", host);
	snprintf(msg, sizeof(msg), "endpoint '%s': host too long (255 max)", url);
	parse_err(url, msg);
	host[255] = '\0';
	snprintf(url, sizeof(url), "tcp://%s:1", host);
	parse_ok(url, PD_EP_TCP, host, 1, "");
}

static void test_ipc_errors(void)
{
	char url[200], msg[400], path[109];

	parse_err("ipc://tmp/x.sock", "endpoint 'ipc://tmp/x.sock': ipc path must be absolute");
	parse_err("ipc://", "endpoint 'ipc://': ipc path must be absolute");
	memset(path, 'p', 108);
	path[0] = '/';
	path[108] = '\0';
	snprintf(url, sizeof(url), "ipc://%s", path);
	snprintf(msg, sizeof(msg), "endpoint '%s': path too long (107 max)", url);
	parse_err(url, msg);
}

static void test_err_buffer(void)
{
	pd_endpoint ep;
	char err[8];

	memset(err, 'X', sizeof(err));
	CU_ASSERT_EQUAL(pd_endpoint_parse("x://a", &ep, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "endpoin");
	CU_ASSERT_EQUAL(pd_endpoint_parse("x://a", &ep, NULL, 0), -EINVAL);
}

static void roundtrip(const char *url, const char *canon)
{
	pd_endpoint ep, ep2;
	char err[256] = "", out[400] = "";
	int n;

	CU_ASSERT_EQUAL_FATAL(pd_endpoint_parse(url, &ep, err, sizeof(err)), 0);
	n = pd_endpoint_format(&ep, out, sizeof(out));
	CU_ASSERT_EQUAL(n, (int)strlen(canon));
	if (strcmp(out, canon) != 0)
		fprintf(stderr, "\n  format(parse(%s)) = '%s', want '%s'\n", url, out, canon);
	CU_ASSERT_STRING_EQUAL(out, canon);
	/* the canonical form parses to the same endpoint */
	CU_ASSERT_EQUAL_FATAL(pd_endpoint_parse(out, &ep2, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ep2.kind, ep.kind);
	CU_ASSERT_STRING_EQUAL(ep2.host, ep.host);
	CU_ASSERT_EQUAL(ep2.port, ep.port);
	CU_ASSERT_STRING_EQUAL(ep2.path, ep.path);
}

static void test_roundtrip(void)
{
	char small[12];
	pd_endpoint ep;
	char err[128];

	roundtrip("tls+tcp://example.org:7000", "tls+tcp://example.org:7000");
	roundtrip("tls+tcp://0.0.0.0:0", "tls+tcp://0.0.0.0:0");
	roundtrip("tcp://127.0.0.1:5555", "tcp://127.0.0.1:5555");
	roundtrip("tls+tcp://[::1]:7000", "tls+tcp://[::1]:7000");
	roundtrip("tcp://[2001:db8::42]:0", "tcp://[2001:db8::42]:0");
	roundtrip("tcp://[fe80::1%eth0]:9", "tcp://[fe80::1%eth0]:9");
	roundtrip("ipc:///run/parade/ctl.sock", "ipc:///run/parade/ctl.sock");
	roundtrip("tcp://h:007", "tcp://h:7");
	roundtrip("TLS+TCP://h:1", "tls+tcp://h:1");

	/* snprintf semantics: truncated output, full length returned */
	CU_ASSERT_EQUAL_FATAL(pd_endpoint_parse("tls+tcp://[::1]:7000", &ep, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(pd_endpoint_format(&ep, small, sizeof(small)), 20);
	CU_ASSERT_STRING_EQUAL(small, "tls+tcp://[");
}


/* ---- pd_net_listen on ipc:// paths: only a stale socket of ours goes ---- */

static char ipcdir[64];

static int listen_ipc(const char *path, char *err, size_t errlen)
{
	pd_endpoint ep, bound;
	char url[300];

	snprintf(url, sizeof(url), "ipc://%s", path);
	CU_ASSERT_EQUAL_FATAL(pd_endpoint_parse(url, &ep, err, errlen), 0);
	return pd_net_listen(&ep, &bound, err, errlen);
}

/* A socket file nobody listens on any more (bound, then closed). */
static void make_stale(const char *path)
{
	struct sockaddr_un su;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	CU_ASSERT_FATAL(fd >= 0);
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	snprintf(su.sun_path, sizeof(su.sun_path), "%s", path);
	CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&su, sizeof(su)), 0);
	close(fd);
}

static void test_ipc_listen_refuses(void)
{
	char path[200], target[200], err[512], want[400];
	struct stat st;
	FILE *f;
	int fd, fd2;

	/* a regular file is neither removed nor used */
	snprintf(path, sizeof(path), "%s/file", ipcdir);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("precious\n", f);
	fclose(f);
	err[0] = 0;
	CU_ASSERT_EQUAL(listen_ipc(path, err, sizeof(err)), -EEXIST);
	snprintf(want, sizeof(want), "%s exists and is not a socket", path);
	if (!strstr(err, want))
		fprintf(stderr, "\n  got '%s'\n", err);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	CU_ASSERT(stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 9);

	/* a folder, and a symbolic link (to a stale socket even) are left alone */
	snprintf(path, sizeof(path), "%s/folder", ipcdir);
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
	CU_ASSERT_EQUAL(listen_ipc(path, err, sizeof(err)), -EEXIST);
	CU_ASSERT(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	snprintf(target, sizeof(target), "%s/stale-target", ipcdir);
	make_stale(target);
	snprintf(path, sizeof(path), "%s/link", ipcdir);
	CU_ASSERT_EQUAL_FATAL(symlink(target, path), 0);
	CU_ASSERT_EQUAL(listen_ipc(path, err, sizeof(err)), -EEXIST);
	CU_ASSERT(lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
	CU_ASSERT(lstat(target, &st) == 0 && S_ISSOCK(st.st_mode));

	/* a live listener keeps its socket */
	snprintf(path, sizeof(path), "%s/live", ipcdir);
	fd = listen_ipc(path, err, sizeof(err));
	CU_ASSERT_FATAL(fd >= 0);
	fd2 = listen_ipc(path, err, sizeof(err));
	CU_ASSERT_EQUAL(fd2, -EADDRINUSE);
	if (fd2 >= 0)
		close(fd2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "in use by another process"));
	CU_ASSERT(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	close(fd);

	/* a stale socket of ours is replaced */
	snprintf(path, sizeof(path), "%s/stale", ipcdir);
	make_stale(path);
	fd = listen_ipc(path, err, sizeof(err));
	if (fd < 0)
		fprintf(stderr, "\n  stale socket: %s\n", err);
	CU_ASSERT(fd >= 0);
	if (fd >= 0)
		close(fd);
}

/* A stale socket that belongs to another user is not removed (root only:
 * it needs chown). */
static void test_ipc_listen_foreign(void)
{
	char path[200], err[512];
	struct stat st;

	if (geteuid() != 0) {
		fprintf(stderr, "\n  SKIP: a socket of another user needs root to make\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/foreign", ipcdir);
	make_stale(path);
	CU_ASSERT_EQUAL_FATAL(lchown(path, 65534, 65534), 0);
	CU_ASSERT_EQUAL(listen_ipc(path, err, sizeof(err)), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "belongs to uid 65534"));
	CU_ASSERT(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid == 65534);
}

static void rm_ipcdir(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ipcdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", ipcdir);
}

int main(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
		{"tls+tcp forms", test_tls_tcp},
		{"tcp forms", test_tcp},
		{"IPv6 hosts", test_ipv6},
		{"ipc paths", test_ipc},
		{"scheme errors", test_scheme_errors},
		{"port errors", test_port_errors},
		{"host errors", test_host_errors},
		{"ipc errors", test_ipc_errors},
		{"error buffer", test_err_buffer},
		{"round trip", test_roundtrip},
		{"ipc listen refuses what is not a stale socket", test_ipc_listen_refuses},
		{"ipc listen leaves another user's socket", test_ipc_listen_foreign},
	};
	CU_pSuite s;
	unsigned fails;
	size_t i;

	snprintf(ipcdir, sizeof(ipcdir), "/tmp/pd-test-endpoint-XXXXXX");
	if (!mkdtemp(ipcdir))
		return 2;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("endpoint", NULL, NULL);
	if (!s)
		goto fail;
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			goto fail;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS)
		goto fail;
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	rm_ipcdir();
	return fails ? 1 : 0;
fail:
	CU_cleanup_registry();
	rm_ipcdir();
	return 2;
}
