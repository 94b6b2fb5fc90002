/* test_session.c - session folders, connection files, secrets, hex. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "session.h"

static char home[256];

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void test_hex(void)
{
	uint8_t in[4] = {0x00, 0x9f, 0xab, 0xff}, out[4];
	char hex[9];

	pd_hex(in, 4, hex);
	CU_ASSERT_STRING_EQUAL(hex, "009fabff");
	CU_ASSERT_EQUAL(pd_unhex("009FABff", 8, out, 4), 0);
	CU_ASSERT_EQUAL(memcmp(in, out, 4), 0);
	CU_ASSERT_EQUAL(pd_unhex("009fab", 6, out, 4), -EINVAL);
	CU_ASSERT_EQUAL(pd_unhex("009fabfg", 8, out, 4), -EINVAL);
}

static void test_create_and_roundtrip(void)
{
	char dir[4096], name[128], err[512], path[4200];
	pd_connfile cf, back;
	struct stat st;

	CU_ASSERT_EQUAL_FATAL(pd_session_create(NULL, dir, sizeof(dir), name, sizeof(name), err,
						sizeof(err)),
			      0);
	CU_ASSERT_EQUAL(strncmp(name, "s-", 2), 0);
	CU_ASSERT_EQUAL(stat(dir, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0700);
	memset(&cf, 0, sizeof(cf));
	cf.version = 1;
	strcpy(cf.session, name);
	strcpy(cf.endpoint, "tls+tcp://127.0.0.1:4000");
	strcpy(cf.local, "ipc:///tmp/x.sock");
	strcpy(cf.identity, "parade");
	CU_ASSERT_EQUAL(pd_random(cf.secret, sizeof(cf.secret)), 0);
	snprintf(path, sizeof(path), "%s/connection", dir);
	CU_ASSERT_EQUAL_FATAL(pd_connfile_write(path, &cf, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(pd_connfile_read(path, &back, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(memcmp(cf.secret, back.secret, sizeof(cf.secret)), 0);
	CU_ASSERT_STRING_EQUAL(back.endpoint, cf.endpoint);
	CU_ASSERT_STRING_EQUAL(back.local, cf.local);
	CU_ASSERT_STRING_EQUAL(back.session, name);
	CU_ASSERT_EQUAL(back.version, 1);
	/* the same name again is refused, an odd name too */
	CU_ASSERT_EQUAL(pd_session_create(name, dir, sizeof(dir), name, sizeof(name), err,
					  sizeof(err)),
			-EEXIST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "already exists"));
	CU_ASSERT_EQUAL(pd_session_create("../x", dir, sizeof(dir), name, sizeof(name), err,
					  sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid session name"));
}

static void test_read_errors(void)
{
	char path[512], err[512];
	pd_connfile cf;
	const char *good_secret =
		"secret=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
	char text[1024];

	snprintf(path, sizeof(path), "%s/cf", home);
	write_file(path, "version=1\nendpoint=ipc:///x\nbogus=1\n", 0600);
	CU_ASSERT_EQUAL(pd_connfile_read(path, &cf, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 3: unknown key 'bogus'"));

	write_file(path, "version=1\nendpoint=ipc:///x\nsecret=abc\n", 0600);
	CU_ASSERT_EQUAL(pd_connfile_read(path, &cf, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 3: secret must be 64 hex digits"));

	write_file(path, "version=1\nendpoint=ipc:///x\n", 0600);
	CU_ASSERT_EQUAL(pd_connfile_read(path, &cf, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "missing secret"));

	write_file(path, "version=x\n", 0600);
	CU_ASSERT_EQUAL(pd_connfile_read(path, &cf, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 1: bad version"));

	write_file(path, "# c\n\nnot a pair\n", 0600);
	CU_ASSERT_EQUAL(pd_connfile_read(path, &cf, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 3: expected key=value"));

	snprintf(text, sizeof(text), "version=1\nendpoint=ipc:///x\n%s", good_secret);
	write_file(path, text, 0644);
	CU_ASSERT_EQUAL(pd_connfile_read(path, &cf, err, sizeof(err)), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "readable by others"));
	CU_ASSERT_EQUAL(cf.secret[1], 0x11); /* still usable, with a warning */

	snprintf(path, sizeof(path), "%s/missing", home);
	CU_ASSERT(pd_connfile_read(path, &cf, err, sizeof(err)) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot read connection file"));
}

static void test_secret_file(void)
{
	char path[512], err[512];
	uint8_t s[PD_SECRET_LEN];

	snprintf(path, sizeof(path), "%s/sec", home);
	write_file(path, "  00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
		   0600);
	CU_ASSERT_EQUAL(pd_secret_read(path, s, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(s[31], 0xff);
	write_file(path, "short\n", 0600);
	CU_ASSERT_EQUAL(pd_secret_read(path, s, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "expected 64 hex digits"));
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;
	char cmd[300];

	snprintf(home, sizeof(home), "/tmp/pd-test-session-XXXXXX");
	if (!mkdtemp(home))
		return 2;
	setenv("PARADE_HOME", home, 1);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("session", NULL, NULL);
	CU_add_test(s, "hex", test_hex);
	CU_add_test(s, "create and round trip", test_create_and_roundtrip);
	CU_add_test(s, "connection file errors", test_read_errors);
	CU_add_test(s, "secret file", test_secret_file);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", home);
	return fails ? 1 : 0;
}
