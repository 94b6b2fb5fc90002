/* test_session.c - session folders, connection files, secrets, hex. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
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

/* The session folder's files are named in lib/session only. */
static void test_session_paths(void)
{
	char out[64], small[12];

	CU_ASSERT_EQUAL(pd_session_path(out, sizeof(out), "/h/s", PD_SF_JOURNAL), 0);
	CU_ASSERT_STRING_EQUAL(out, "/h/s/journal.db");
	CU_ASSERT_EQUAL(pd_session_url(out, sizeof(out), "/h/s", PD_SF_CONTROL_SOCK), 0);
	CU_ASSERT_STRING_EQUAL(out, "ipc:///h/s/control.sock");
	CU_ASSERT_EQUAL(pd_session_sbatch_path(out, sizeof(out), "/h/s", 0), 0);
	CU_ASSERT_STRING_EQUAL(out, "/h/s/agents.sbatch");
	CU_ASSERT_EQUAL(pd_session_sbatch_path(out, sizeof(out), "/h/s", 3), 0);
	CU_ASSERT_STRING_EQUAL(out, "/h/s/agents-3.sbatch");
	CU_ASSERT_EQUAL(pd_session_path(small, sizeof(small), "/h/s", PD_SF_LOG), -ENAMETOOLONG);
	CU_ASSERT_STRING_EQUAL(small, "");
	CU_ASSERT_EQUAL(pd_session_url(small, sizeof(small), "/h/s", PD_SF_AGENTS_SOCK),
			-ENAMETOOLONG);
}

static void test_create_and_roundtrip(void)
{
	char dir[4096], name[128], err[512], path[4200];
	pd_connfile cf, back;
	struct stat st;

	CU_ASSERT_EQUAL_FATAL(pd_session_create(NULL, dir, sizeof(dir), name, sizeof(name), NULL,
						err, sizeof(err)),
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
	CU_ASSERT_EQUAL(pd_session_create(name, dir, sizeof(dir), name, sizeof(name), NULL, err,
					  sizeof(err)),
			-EEXIST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "already exists"));
	CU_ASSERT_EQUAL(pd_session_create("../x", dir, sizeof(dir), name, sizeof(name), NULL, err,
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


static int count_cb(void *arg, const char *name, const char *dir)
{
	(void)dir;
	if (!strcmp(name, "lnk"))
		*(int *)arg += 100;
	else
		*(int *)arg += 1;
	return 0;
}

/* Files a victim keeps outside PARADE_HOME, that links point at. */
static void victim_files(char *vdir, size_t len)
{
	char path[700];

	snprintf(vdir, len, "%s.victim", home);
	mkdir(vdir, 0700);
	snprintf(path, sizeof(path), "%s/keep", vdir);
	write_file(path, "keep\n", 0600);
}

static int victim_intact(const char *vdir)
{
	char path[700], buf[16] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/keep", vdir);
	if (!(f = fopen(path, "r")))
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return !strcmp(buf, "keep\n");
}

static void test_home_modes(void)
{
	char dir[4096], name[128], err[1024], sessions[600], want[800];

	/* a home writable by group: nothing is made in it */
	CU_ASSERT_EQUAL_FATAL(chmod(home, 0770), 0);
	CU_ASSERT_EQUAL(pd_session_create(NULL, dir, sizeof(dir), name, sizeof(name), NULL, err,
					  sizeof(err)),
			-EPERM);
	snprintf(want, sizeof(want),
		 "%s is writable by group or others (mode 0770), so they could replace what "
		 "parade keeps there: run chmod 700 %s, or choose another PARADE_HOME",
		 home, home);
	CU_ASSERT_STRING_EQUAL(err, want);
	CU_ASSERT_EQUAL(pd_home_dir(dir, sizeof(dir), err, sizeof(err)), -EPERM);
	CU_ASSERT_EQUAL(chmod(home, 0700), 0);
	/* a sessions folder writable by others (sticky or not) */
	snprintf(sessions, sizeof(sessions), "%s/sessions", home);
	CU_ASSERT_EQUAL(pd_home_dir(dir, sizeof(dir), err, sizeof(err)), 0);
	mkdir(sessions, 0700);
	CU_ASSERT_EQUAL_FATAL(chmod(sessions, 01777), 0);
	CU_ASSERT_EQUAL(pd_session_find("x", dir, sizeof(dir), err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "%s is writable by group or others (mode 1777)", sessions);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	CU_ASSERT_EQUAL(pd_home_dir(dir, sizeof(dir), err, sizeof(err)), -EPERM);
	CU_ASSERT_EQUAL(chmod(sessions, 0700), 0);
	CU_ASSERT_EQUAL(pd_home_dir(dir, sizeof(dir), err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(dir, home);
}

/* Another user's sessions folder (root only: it needs chown). */
static void test_home_foreign(void)
{
	char dir[4096], name[128], err[1024], sessions[600], want[800];

	if (geteuid() != 0) {
		fprintf(stderr, "\n  SKIP: a folder of another user needs root to make\n");
		return;
	}
	snprintf(sessions, sizeof(sessions), "%s/sessions", home);
	mkdir(sessions, 0700);
	CU_ASSERT_EQUAL_FATAL(chown(sessions, 65534, 65534), 0);
	CU_ASSERT_EQUAL(pd_session_create(NULL, dir, sizeof(dir), name, sizeof(name), NULL, err,
					  sizeof(err)),
			-EPERM);
	snprintf(want, sizeof(want), "%s belongs to uid 65534", sessions);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "choose another PARADE_HOME"));
	CU_ASSERT_EQUAL(chown(sessions, 0, 0), 0);
	/* and another user's home */
	CU_ASSERT_EQUAL_FATAL(chown(home, 65534, 65534), 0);
	CU_ASSERT_EQUAL(pd_home_dir(dir, sizeof(dir), err, sizeof(err)), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "belongs to uid 65534"));
	CU_ASSERT_EQUAL(chown(home, 0, 0), 0);
}

/* A session folder that is a link is refused, not listed, not followed. */
static void test_session_links(void)
{
	char dir[4096], name[128], err[1024], vdir[600], lnk[600];
	int dfd = 7, n = 0;

	victim_files(vdir, sizeof(vdir));
	CU_ASSERT_EQUAL(pd_home_dir(dir, sizeof(dir), err, sizeof(err)), 0);
	snprintf(lnk, sizeof(lnk), "%s/sessions", home);
	mkdir(lnk, 0700);
	snprintf(lnk, sizeof(lnk), "%s/sessions/lnk", home);
	CU_ASSERT_EQUAL_FATAL(symlink(vdir, lnk), 0);
	CU_ASSERT_EQUAL(pd_session_find_at("lnk", dir, sizeof(dir), &dfd, err, sizeof(err)),
			-ELOOP);
	CU_ASSERT_EQUAL(dfd, -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "is a symbolic link"));
	CU_ASSERT_EQUAL(pd_session_open("lnk", dir, sizeof(dir), &dfd, err, sizeof(err)), -ELOOP);
	CU_ASSERT_EQUAL(pd_session_create("lnk", dir, sizeof(dir), name, sizeof(name), &dfd, err,
					  sizeof(err)),
			-EEXIST);
	CU_ASSERT_EQUAL(pd_session_list(count_cb, &n, err, sizeof(err)), 0);
	CU_ASSERT(n < 100);
	CU_ASSERT(victim_intact(vdir));
	unlink(lnk);
}

/* The folder held since creation is emptied even when a link took its
 * name; the link and what it points to stay. */
static void test_remove_swapped(void)
{
	char dir[4096], name[128], err[1024], vdir[600], moved[4200], path[4300];
	struct stat st;
	int dfd = -1;

	victim_files(vdir, sizeof(vdir));
	CU_ASSERT_EQUAL_FATAL(pd_session_create("swap", dir, sizeof(dir), name, sizeof(name), &dfd,
						err, sizeof(err)),
			      0);
	CU_ASSERT_FATAL(dfd >= 0);
	pd_session_path(path, sizeof(path), dir, PD_SF_JOURNAL);
	write_file(path, "j", 0600);
	snprintf(moved, sizeof(moved), "%s.moved", dir);
	CU_ASSERT_EQUAL_FATAL(rename(dir, moved), 0);
	CU_ASSERT_EQUAL_FATAL(symlink(vdir, dir), 0);
	CU_ASSERT_EQUAL(pd_session_remove(dfd, "swap", err, sizeof(err)), -ESTALE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "is no longer the folder of session swap"));
	CU_ASSERT(victim_intact(vdir));
	CU_ASSERT(lstat(dir, &st) == 0 && S_ISLNK(st.st_mode));
	pd_session_path(path, sizeof(path), moved, PD_SF_JOURNAL);
	CU_ASSERT(lstat(path, &st) < 0);
	close(dfd);
	unlink(dir);
	rmdir(moved);

	/* the ordinary case: files and a planted link go, the name goes */
	CU_ASSERT_EQUAL_FATAL(pd_session_create("plain", dir, sizeof(dir), name, sizeof(name), &dfd,
						err, sizeof(err)),
			      0);
	snprintf(path, sizeof(path), "%s/keep-link", dir);
	CU_ASSERT_EQUAL(symlink(vdir, path), 0);
	snprintf(path, sizeof(path), "%s/lock", dir);
	write_file(path, "", 0600);
	CU_ASSERT_EQUAL(pd_session_remove(dfd, "plain", err, sizeof(err)), 0);
	CU_ASSERT(lstat(dir, &st) < 0 && errno == ENOENT);
	CU_ASSERT(victim_intact(vdir));
	close(dfd);
}

/* A link planted at the connection file's temporary is not written
 * through: the secret never lands in its target. */
static void test_connfile_link(void)
{
	char dir[4096], name[128], err[1024], vdir[600], path[4200], tmp[4300];
	pd_connfile cf;
	struct stat st;
	int dfd = -1;

	victim_files(vdir, sizeof(vdir));
	CU_ASSERT_EQUAL_FATAL(pd_session_create("cf", dir, sizeof(dir), name, sizeof(name), &dfd,
						err, sizeof(err)),
			      0);
	memset(&cf, 0, sizeof(cf));
	cf.version = 1;
	strcpy(cf.endpoint, "tls+tcp://127.0.0.1:4000");
	snprintf(path, sizeof(path), "%s/connection", dir);
	snprintf(tmp, sizeof(tmp), "%s/connection.tmp", dir);
	snprintf(err, sizeof(err), "%s/keep", vdir);
	CU_ASSERT_EQUAL_FATAL(symlink(err, tmp), 0);
	CU_ASSERT_EQUAL(pd_connfile_write(path, &cf, err, sizeof(err)), 0);
	CU_ASSERT(victim_intact(vdir));
	CU_ASSERT(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600);
	CU_ASSERT(lstat(tmp, &st) < 0);
	CU_ASSERT_EQUAL(pd_session_remove(dfd, "cf", err, sizeof(err)), 0);
	close(dfd);
}

static int secret_zero(const pd_connfile *cf)
{
	for (size_t i = 0; i < sizeof(cf->secret); i++)
		if (cf->secret[i])
			return 0;
	return 1;
}

/* A connection file that group or others can write is refused (they
 * could point the agent at their own controller); one they can only read
 * is read with a warning. */
static void test_connfile_writable(void)
{
	static const mode_t modes[] = {0666, 0620, 0602};
	char path[600], text[512], err[1024], want[1400];
	pd_connfile cf;

	snprintf(path, sizeof(path), "%s/open-conn", home);
	snprintf(text, sizeof(text), "version=1\nendpoint=ipc:///x\nsecret=%s\n",
		 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		write_file(path, text, modes[i]);
		snprintf(want, sizeof(want),
			 "connection file %s is writable by group or others (mode %04o), so they "
			 "could send its users to a controller of theirs: run chmod 600 %s",
			 path, (unsigned)modes[i], path);
		CU_ASSERT_EQUAL(pd_connfile_read(path, &cf, err, sizeof(err)), -EACCES);
		CU_ASSERT_STRING_EQUAL(err, want);
		CU_ASSERT(secret_zero(&cf));
		CU_ASSERT_EQUAL(pd_connfile_load(path, NULL, NULL, 0, &cf, err, sizeof(err)),
				-EACCES);
		CU_ASSERT_STRING_EQUAL(err, want);
		CU_ASSERT(secret_zero(&cf));
	}
	write_file(path, text, 0644);
	CU_ASSERT_EQUAL(pd_connfile_load(path, NULL, NULL, 0, &cf, err, sizeof(err)), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "readable by others"));
	CU_ASSERT_EQUAL(cf.secret[1], 0x11);
	unlink(path);
}

/* A session folder of the user's that group or others can write is
 * refused like the home and sessions/ (they could plant control.sock or
 * connection in it). */
static void test_session_folder_mode(void)
{
	char dir[4096], name[128], err[1024], want[4400];
	pd_connfile cf;
	int dfd = -1;

	CU_ASSERT_EQUAL_FATAL(pd_session_create("wide", dir, sizeof(dir), name, sizeof(name), NULL,
						err, sizeof(err)),
			      0);
	CU_ASSERT_EQUAL_FATAL(chmod(dir, 0777), 0);
	snprintf(want, sizeof(want), "%s is writable by group or others (mode 0777)", dir);
	CU_ASSERT_EQUAL(pd_session_find_at("wide", dir, sizeof(dir), &dfd, err, sizeof(err)),
			-EPERM);
	CU_ASSERT_EQUAL(dfd, -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	CU_ASSERT_EQUAL(pd_session_open("wide", dir, sizeof(dir), &dfd, err, sizeof(err)), -EPERM);
	CU_ASSERT_EQUAL(dfd, -1);
	CU_ASSERT_EQUAL(pd_connfile_load(NULL, "wide", NULL, 0, &cf, err, sizeof(err)), -EACCES);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	CU_ASSERT_EQUAL_FATAL(chmod(dir, 0750), 0);
	CU_ASSERT_EQUAL(pd_session_find("wide", dir, sizeof(dir), err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(chmod(dir, 0700), 0);
	CU_ASSERT_EQUAL(pd_session_find_at("wide", dir, sizeof(dir), &dfd, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(pd_session_remove(dfd, "wide", err, sizeof(err)), 0);
	close(dfd);
}

/* pd_connfile_load by session name: the name is checked, the file is
 * opened through the session folder without following a link. */
static void test_connfile_load(void)
{
	char dir[4096], name[128], err[1024], path[4200], used[4200], vdir[600], vfile[700];
	pd_connfile cf, back;
	int dfd = -1;

	CU_ASSERT_EQUAL(pd_connfile_load(NULL, "../x", used, sizeof(used), &back, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid session name '../x'"));
	CU_ASSERT_EQUAL(pd_connfile_load(NULL, "none-such", used, sizeof(used), &back, err,
					 sizeof(err)),
			-ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no session named 'none-such'"));
	CU_ASSERT_EQUAL_FATAL(pd_session_create("ld", dir, sizeof(dir), name, sizeof(name), &dfd,
						err, sizeof(err)),
			      0);
	memset(&cf, 0, sizeof(cf));
	cf.version = 1;
	strcpy(cf.endpoint, "tls+tcp://127.0.0.1:4000");
	CU_ASSERT_EQUAL(pd_random(cf.secret, sizeof(cf.secret)), 0);
	snprintf(path, sizeof(path), "%s/connection", dir);
	CU_ASSERT_EQUAL_FATAL(pd_connfile_write(path, &cf, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(pd_connfile_load(NULL, "ld", used, sizeof(used), &back, err, sizeof(err)),
			0);
	CU_ASSERT_STRING_EQUAL(used, path);
	CU_ASSERT_EQUAL(memcmp(back.secret, cf.secret, sizeof(cf.secret)), 0);
	CU_ASSERT_STRING_EQUAL(back.endpoint, cf.endpoint);
	/* by path: the same file */
	CU_ASSERT_EQUAL(pd_connfile_load(path, NULL, used, sizeof(used), &back, err, sizeof(err)),
			0);
	CU_ASSERT_STRING_EQUAL(used, path);
	/* writable by others */
	CU_ASSERT_EQUAL_FATAL(chmod(path, 0666), 0);
	CU_ASSERT_EQUAL(pd_connfile_load(NULL, "ld", used, sizeof(used), &back, err, sizeof(err)),
			-EACCES);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "(mode 0666)"));
	CU_ASSERT(secret_zero(&back));
	/* a link in its place (to a file of the user's) is not followed */
	victim_files(vdir, sizeof(vdir));
	snprintf(vfile, sizeof(vfile), "%s/conn", vdir);
	CU_ASSERT_EQUAL_FATAL(pd_connfile_write(vfile, &cf, err, sizeof(err)), 0);
	unlink(path);
	CU_ASSERT_EQUAL_FATAL(symlink(vfile, path), 0);
	CU_ASSERT_EQUAL(pd_connfile_load(NULL, "ld", used, sizeof(used), &back, err, sizeof(err)),
			-ELOOP);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "is a symbolic link"));
	CU_ASSERT(secret_zero(&back));
	/* not a regular file */
	unlink(path);
	CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
	CU_ASSERT_EQUAL(pd_connfile_load(NULL, "ld", used, sizeof(used), &back, err, sizeof(err)),
			-EACCES);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "is not a regular file"));
	unlink(vfile);
	CU_ASSERT_EQUAL(pd_session_remove(dfd, "ld", err, sizeof(err)), 0);
	close(dfd);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;
	char cmd[700];

	snprintf(home, sizeof(home), "/tmp/pd-test-session-XXXXXX");
	if (!mkdtemp(home))
		return 2;
	setenv("PARADE_HOME", home, 1);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("session", NULL, NULL);
	CU_add_test(s, "hex", test_hex);
	CU_add_test(s, "session file paths", test_session_paths);
	CU_add_test(s, "create and round trip", test_create_and_roundtrip);
	CU_add_test(s, "connection file errors", test_read_errors);
	CU_add_test(s, "secret file", test_secret_file);
	CU_add_test(s, "home and sessions modes", test_home_modes);
	CU_add_test(s, "home of another user", test_home_foreign);
	CU_add_test(s, "a session folder that is a link", test_session_links);
	CU_add_test(s, "remove after the name was swapped", test_remove_swapped);
	CU_add_test(s, "connection file through a link", test_connfile_link);
	CU_add_test(s, "connection file writable by others", test_connfile_writable);
	CU_add_test(s, "session folder writable by others", test_session_folder_mode);
	CU_add_test(s, "connection file by name or path", test_connfile_load);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s.victim'", home, home);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", home);
	return fails ? 1 : 0;
}
