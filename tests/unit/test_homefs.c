/* test_homefs.c - PARADE_HOME on a network file system: which file
 * systems are network ones, the setting, mount table lines, the pointer
 * file, and a session's runtime folder made, found, resolved for another
 * host, taken over and removed (lib/homefs.h, lib/session.h). */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "homefs.h"
#include "lock.h"
#include "session.h"

static char home[256], runtime[256];

static void test_classify(void)
{
	CU_ASSERT_STRING_EQUAL(pd_fs_network_name(0x6969, NULL), "nfs");
	CU_ASSERT_STRING_EQUAL(pd_fs_network_name(0x0BD00BD0, NULL), "lustre");
	CU_ASSERT_STRING_EQUAL(pd_fs_network_name(0x47504653, NULL), "gpfs");
	CU_ASSERT_STRING_EQUAL(pd_fs_network_name(0xFF534D42, NULL), "cifs");
	CU_ASSERT_STRING_EQUAL(pd_fs_network_name(0xFE534D42, NULL), "smb2");
	CU_ASSERT_STRING_EQUAL(pd_fs_network_name(0x00C36400, NULL), "ceph");
	CU_ASSERT_STRING_EQUAL(pd_fs_network_name(0x19830326, NULL), "beegfs");
	/* f_type sign-extended on an ABI where it is a signed long */
	CU_ASSERT_STRING_EQUAL(pd_fs_network_name((unsigned long)(long)(int)0xFF534D42, NULL),
			       "cifs");
	/* local ones: ext4, xfs, tmpfs, btrfs */
	CU_ASSERT_PTR_NULL(pd_fs_network_name(0xEF53, NULL));
	CU_ASSERT_PTR_NULL(pd_fs_network_name(0x58465342, NULL));
	CU_ASSERT_PTR_NULL(pd_fs_network_name(0x01021994, NULL));
	CU_ASSERT_PTR_NULL(pd_fs_network_name(0x9123683E, NULL));
	/* FUSE: by its subtype only */
	CU_ASSERT_STRING_EQUAL(pd_fs_network_name(0x65735546, "fuse.sshfs"), "fuse.sshfs");
	CU_ASSERT_STRING_EQUAL(pd_fs_network_name(0x65735546, "fuse.s3fs"), "fuse.s3fs");
	CU_ASSERT_STRING_EQUAL(pd_fs_network_name(0x65735546, "fuse.glusterfs"),
			       "fuse.glusterfs");
	CU_ASSERT_PTR_NULL(pd_fs_network_name(0x65735546, "fuse.lxcfs"));
	CU_ASSERT_PTR_NULL(pd_fs_network_name(0x65735546, "fuseblk"));
	CU_ASSERT_PTR_NULL(pd_fs_network_name(0x65735546, "fuse"));
	CU_ASSERT_PTR_NULL(pd_fs_network_name(0x65735546, NULL));
	CU_ASSERT_PTR_NULL(pd_fs_network_name(0x65735546, "fuse.sshfsx"));
	/* a subtype means nothing on another file system */
	CU_ASSERT_PTR_NULL(pd_fs_network_name(0xEF53, "fuse.sshfs"));
}

static void test_setting(void)
{
	int m = -1;

	CU_ASSERT_EQUAL(pd_homefs_setting_parse(NULL, &m), 0);
	CU_ASSERT_EQUAL(m, PD_HOMEFS_AUTO);
	CU_ASSERT_EQUAL(pd_homefs_setting_parse("", &m), 0);
	CU_ASSERT_EQUAL(m, PD_HOMEFS_AUTO);
	CU_ASSERT_EQUAL(pd_homefs_setting_parse("auto", &m), 0);
	CU_ASSERT_EQUAL(m, PD_HOMEFS_AUTO);
	CU_ASSERT_EQUAL(pd_homefs_setting_parse("local", &m), 0);
	CU_ASSERT_EQUAL(m, PD_HOMEFS_LOCAL);
	CU_ASSERT_EQUAL(pd_homefs_setting_parse("network", &m), 0);
	CU_ASSERT_EQUAL(m, PD_HOMEFS_NETWORK);
	CU_ASSERT_EQUAL(pd_homefs_setting_parse("nfs", &m), -EINVAL);
	CU_ASSERT_EQUAL(pd_homefs_setting_parse("Network", &m), -EINVAL);
	CU_ASSERT_EQUAL(pd_homefs_setting_parse("network ", &m), -EINVAL);
}

static void test_mountinfo(void)
{
	char t[64];
	const char *sshfs = "120 28 0:52 / /mnt/h rw,nosuid,nodev,relatime shared:66 - "
			    "fuse.sshfs root@10.1.1.2:/export rw,user_id=0,group_id=0\n";
	const char *nfs = "36 35 0:40 /home /home rw,relatime - nfs4 srv:/home rw,vers=4.2\n";
	const char *noopt = "22 1 254:1 / / rw,relatime - ext4 /dev/vda rw\n";

	CU_ASSERT_EQUAL(pd_mountinfo_type(sshfs, 0, 52, t, sizeof(t)), 1);
	CU_ASSERT_STRING_EQUAL(t, "fuse.sshfs");
	CU_ASSERT_EQUAL(pd_mountinfo_type(sshfs, 0, 53, t, sizeof(t)), 0);
	CU_ASSERT_EQUAL(pd_mountinfo_type(sshfs, 52, 0, t, sizeof(t)), 0);
	CU_ASSERT_EQUAL(pd_mountinfo_type(nfs, 0, 40, t, sizeof(t)), 1);
	CU_ASSERT_STRING_EQUAL(t, "nfs4");
	CU_ASSERT_EQUAL(pd_mountinfo_type(noopt, 254, 1, t, sizeof(t)), 1);
	CU_ASSERT_STRING_EQUAL(t, "ext4");
	/* a type longer than the buffer is cut, never overrun */
	CU_ASSERT_EQUAL(pd_mountinfo_type(sshfs, 0, 52, t, 6), 1);
	CU_ASSERT_STRING_EQUAL(t, "fuse.");
	CU_ASSERT_EQUAL(pd_mountinfo_type("", 0, 1, t, sizeof(t)), -EINVAL);
	CU_ASSERT_EQUAL(pd_mountinfo_type("1 2 x:y / / rw - ext4 a b", 0, 1, t, sizeof(t)),
			-EINVAL);
	CU_ASSERT_EQUAL(pd_mountinfo_type("1 2 0:1 / / rw ext4 a b", 0, 1, t, sizeof(t)),
			-EINVAL);
	CU_ASSERT_EQUAL(pd_mountinfo_type("1 2 0:1 / / rw - ", 0, 1, t, sizeof(t)), -EINVAL);
}

static void test_pointer_text(void)
{
	char err[256];
	pd_rtptr p;

	CU_ASSERT_EQUAL(pd_rtptr_parse("# c\nhost=n1\ndir=/tmp/parade-0/s-1\n", "runtime", &p, err,
				       sizeof(err)),
			0);
	CU_ASSERT_STRING_EQUAL(p.host, "n1");
	CU_ASSERT_STRING_EQUAL(p.dir, "/tmp/parade-0/s-1");
	CU_ASSERT_EQUAL(pd_rtptr_parse("dir=/x\nhost=h", "runtime", &p, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(p.host, "h");
	CU_ASSERT_EQUAL(pd_rtptr_parse("host=n1\n", "F", &p, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "F: missing dir");
	CU_ASSERT_EQUAL(pd_rtptr_parse("dir=/x\n", "F", &p, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "F: missing host");
	CU_ASSERT_EQUAL(pd_rtptr_parse("host=n1\ndir=relative\n", "F", &p, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 2"));
	CU_ASSERT_EQUAL(pd_rtptr_parse("host=n1\nsecret=00\ndir=/x\n", "F", &p, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unexpected 'secret=00'"));
	CU_ASSERT_EQUAL(pd_rtptr_parse("host n1\n", "F", &p, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "expected key=value"));
	CU_ASSERT_EQUAL(pd_rtptr_parse("", "F", &p, err, sizeof(err)), -EINVAL);
}

/* The setting decides over the file system; a bad one is named. */
static void test_network_setting(void)
{
	char what[128], err[256];
	int fd = open(home, O_RDONLY | O_DIRECTORY);

	CU_ASSERT_FATAL(fd >= 0);
	setenv(PD_HOMEFS_ENV, "network", 1);
	CU_ASSERT_EQUAL(pd_homefs_network(fd, what, sizeof(what), err, sizeof(err)), 1);
	CU_ASSERT_STRING_EQUAL(what, "PARADE_HOME_FS=network");
	setenv(PD_HOMEFS_ENV, "local", 1);
	CU_ASSERT_EQUAL(pd_homefs_network(fd, what, sizeof(what), err, sizeof(err)), 0);
	setenv(PD_HOMEFS_ENV, "auto", 1); /* /tmp here is local */
	CU_ASSERT_EQUAL(pd_homefs_network(fd, what, sizeof(what), err, sizeof(err)), 0);
	setenv(PD_HOMEFS_ENV, "yes", 1);
	CU_ASSERT_EQUAL(pd_homefs_network(fd, what, sizeof(what), err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "PARADE_HOME_FS='yes': use auto, local or network");
	unsetenv(PD_HOMEFS_ENV);
	close(fd);
}

/* A session made on a network home lives in the runtime folder; the
 * home keeps the pointer; find hands out the runtime folder, home_at the
 * home's; removing it removes both. On a local home, nothing of this. */
static void test_runtime_session(void)
{
	char dir[4400], hdir[4400], name[64], err[1024], path[4600], base[300];
	int dfd = -1, hfd = -1;
	struct stat st;
	pd_rtptr p;

	setenv(PD_HOMEFS_ENV, "network", 1);
	CU_ASSERT_EQUAL_FATAL(pd_session_create("net1", dir, sizeof(dir), name, sizeof(name), &dfd,
						err, sizeof(err)),
			      0);
	snprintf(base, sizeof(base), "%s/parade/net1-", runtime);
	CU_ASSERT_EQUAL(strncmp(dir, base, strlen(base)), 0);
	CU_ASSERT_EQUAL(stat(dir, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0700);
	CU_ASSERT_EQUAL(pd_session_home_at("net1", hdir, sizeof(hdir), &hfd, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/sessions/net1", home);
	CU_ASSERT_STRING_EQUAL(hdir, path);
	CU_ASSERT_EQUAL(pd_rtptr_read(hfd, &p, NULL, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(p.dir, dir);
	close(hfd);
	/* the setting is read when a session is made, not when it is found */
	unsetenv(PD_HOMEFS_ENV);
	CU_ASSERT_EQUAL(pd_session_find("net1", path, sizeof(path), err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(path, dir);
	CU_ASSERT_EQUAL(pd_session_remove(dfd, "net1", err, sizeof(err)), 0);
	close(dfd);
	CU_ASSERT_EQUAL(stat(dir, &st), -1);
	CU_ASSERT_EQUAL(stat(hdir, &st), -1);
	/* local: the home's folder, no pointer */
	setenv(PD_HOMEFS_ENV, "local", 1);
	CU_ASSERT_EQUAL_FATAL(pd_session_create("loc1", dir, sizeof(dir), name, sizeof(name), &dfd,
						err, sizeof(err)),
			      0);
	snprintf(path, sizeof(path), "%s/sessions/loc1", home);
	CU_ASSERT_STRING_EQUAL(dir, path);
	CU_ASSERT_EQUAL(fstatat(dfd, PD_SF_RUNTIME, &st, 0), -1);
	CU_ASSERT_EQUAL(pd_session_remove(dfd, "loc1", err, sizeof(err)), 0);
	close(dfd);
	unsetenv(PD_HOMEFS_ENV);
}

/* Writes sessions/NAME's pointer by hand (another host's, say) and ages it. */
static void put_pointer(const char *name, const char *host, const char *rdir, time_t age)
{
	char hdir[4400], err[512];
	struct timespec ts[2];
	pd_rtptr p;
	int hfd;

	CU_ASSERT_EQUAL_FATAL(pd_session_home_at(name, hdir, sizeof(hdir), &hfd, err, sizeof(err)),
			      0);
	memset(&p, 0, sizeof(p));
	snprintf(p.host, sizeof(p.host), "%s", host);
	snprintf(p.dir, sizeof(p.dir), "%s", rdir);
	CU_ASSERT_EQUAL(pd_rtptr_write(hfd, &p, err, sizeof(err)), 0);
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	CU_ASSERT_EQUAL(utimensat(hfd, PD_SF_RUNTIME, ts, 0), 0);
	close(hfd);
}

/* Another host's session: "runs on host H" while its pointer is fresh or
 * the home's lock is held; the home's folder (the durable copy) once it
 * is neither. This host's whose runtime folder is gone: the home's. */
static void test_resolve_elsewhere(void)
{
	char dir[4400], hdir[4400], host[256], err[1024], name[64];
	int dfd = -1, lfd = -1, hfd = -1;

	setenv(PD_HOMEFS_ENV, "local", 1);
	CU_ASSERT_EQUAL_FATAL(pd_session_create("far", hdir, sizeof(hdir), name, sizeof(name), &hfd,
						err, sizeof(err)),
			      0);
	unsetenv(PD_HOMEFS_ENV);
	put_pointer("far", "elsewhere.example", "/tmp/parade-0/far-abcdef", 0);
	CU_ASSERT_EQUAL(pd_session_locate("far", dir, sizeof(dir), host, sizeof(host), err,
					  sizeof(err)),
			-EREMOTE);
	CU_ASSERT_STRING_EQUAL(host, "elsewhere.example");
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "session far runs on host elsewhere.example"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "run this command on elsewhere.example"));
	CU_ASSERT_EQUAL(pd_session_find_at("far", dir, sizeof(dir), &dfd, err, sizeof(err)),
			-EREMOTE);
	CU_ASSERT_EQUAL(dfd, -1);
	CU_ASSERT_EQUAL(pd_session_resume_at("far", dir, sizeof(dir), &dfd, err, sizeof(err)),
			-EREMOTE);
	/* stale, but its lock is held: still elsewhere */
	put_pointer("far", "elsewhere.example", "/tmp/parade-0/far-abcdef", 3600);
	CU_ASSERT_EQUAL_FATAL(pd_lock_take(hfd, hdir, "far", &lfd, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(pd_session_find("far", dir, sizeof(dir), err, sizeof(err)), -EREMOTE);
	/* a resume asks the lock first, and names its holder */
	CU_ASSERT_EQUAL(pd_session_resume_at("far", dir, sizeof(dir), &dfd, err, sizeof(err)),
			-EBUSY);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "session far is already served by pid"));
	CU_ASSERT_EQUAL(dfd, -1);
	close(lfd);
	/* stale and free: its controller is gone; the home's folder */
	CU_ASSERT_EQUAL(pd_session_locate("far", dir, sizeof(dir), host, sizeof(host), err,
					  sizeof(err)),
			0);
	CU_ASSERT_STRING_EQUAL(dir, hdir);
	CU_ASSERT_STRING_EQUAL(host, "elsewhere.example");
	/* this host's, its runtime folder gone (a reboot): the home's */
	pd_host_name(host, sizeof(host));
	put_pointer("far", host, "/nonexistent/parade/far-abcdef", 0);
	CU_ASSERT_EQUAL(pd_session_find("far", dir, sizeof(dir), err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(dir, hdir);
	/* a pointer that does not parse is an error, named */
	{
		int fd = openat(hfd, PD_SF_RUNTIME, O_WRONLY | O_TRUNC);
		CU_ASSERT_FATAL(fd >= 0);
		CU_ASSERT_EQUAL(write(fd, "garbage\n", 8), 8);
		close(fd);
	}
	CU_ASSERT_EQUAL(pd_session_find("far", dir, sizeof(dir), err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "runtime: line 1: expected key=value"));
	unlinkat(hfd, PD_SF_RUNTIME, 0);
	CU_ASSERT_EQUAL(pd_session_remove(hfd, "far", err, sizeof(err)), 0);
	close(hfd);
}

/* resume on a network home whose runtime folder is gone: a new one here,
 * with the home's copy of the journal, and the pointer moved here. The
 * end of a runtime folder: it and the pointer go, the home's folder
 * stays. */
static void test_takeover(void)
{
	char dir[4400], hdir[4400], name[64], err[1024], path[4600], gone[4400];
	int dfd = -1, hfd = -1, fd;
	struct stat st;
	pd_rtptr p;

	setenv(PD_HOMEFS_ENV, "network", 1);
	CU_ASSERT_EQUAL_FATAL(pd_session_create("tk", gone, sizeof(gone), name, sizeof(name), &dfd,
						err, sizeof(err)),
			      0);
	close(dfd);
	CU_ASSERT_EQUAL(pd_session_home_at("tk", hdir, sizeof(hdir), &hfd, err, sizeof(err)), 0);
	fd = openat(hfd, PD_SF_JOURNAL, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, "copy", 4), 4);
	close(fd);
	/* the host lost its runtime folder */
	CU_ASSERT_EQUAL(rmdir(gone), 0);
	unsetenv(PD_HOMEFS_ENV); /* the pointer, not the setting, says it is a network home */
	CU_ASSERT_EQUAL_FATAL(pd_session_resume_at("tk", dir, sizeof(dir), &dfd, err, sizeof(err)),
			      0);
	CU_ASSERT_STRING_NOT_EQUAL(dir, gone);
	CU_ASSERT_STRING_NOT_EQUAL(dir, hdir);
	snprintf(path, sizeof(path), "%s/" PD_SF_JOURNAL, dir);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_size, 4);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(pd_rtptr_read(hfd, &p, NULL, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(p.dir, dir);
	CU_ASSERT_EQUAL(pd_session_find("tk", path, sizeof(path), err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(path, dir);
	/* the controller ended: the session stays, in the home */
	CU_ASSERT_EQUAL(pd_session_runtime_end(dfd, dir, hfd, err, sizeof(err)), 0);
	close(dfd);
	CU_ASSERT_EQUAL(stat(dir, &st), -1);
	CU_ASSERT_EQUAL(fstatat(hfd, PD_SF_RUNTIME, &st, 0), -1);
	CU_ASSERT_EQUAL(pd_session_find("tk", path, sizeof(path), err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(path, hdir);
	/* a resume of a session on a local home stays in the home */
	setenv(PD_HOMEFS_ENV, "local", 1);
	CU_ASSERT_EQUAL(pd_session_resume_at("tk", dir, sizeof(dir), &dfd, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(dir, hdir);
	close(dfd);
	unsetenv(PD_HOMEFS_ENV);
	CU_ASSERT_EQUAL(pd_session_remove(hfd, "tk", err, sizeof(err)), 0);
	close(hfd);
}

/* The runtime base: made 0700; one that another user could write is
 * refused with the way out; a link is never followed. */
static void test_runtime_base(void)
{
	char path[300], err[512], bad[300];
	int fd = -1;
	struct stat st;

	CU_ASSERT_EQUAL(pd_runtime_base(path, sizeof(path), &fd, err, sizeof(err)), 0);
	CU_ASSERT(fd >= 0);
	close(fd);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0700);
	CU_ASSERT_EQUAL(chmod(path, 0777), 0);
	CU_ASSERT_EQUAL(pd_runtime_base(path, sizeof(path), &fd, err, sizeof(err)), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "chmod 700"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "XDG_RUNTIME_DIR=DIR puts them in DIR/parade"));
	CU_ASSERT_EQUAL(chmod(path, 0700), 0);
	snprintf(bad, sizeof(bad), "%s/xdg-link", home);
	CU_ASSERT_EQUAL(mkdir(bad, 0700), 0);
	snprintf(path, sizeof(path), "%s/xdg-link/parade", home);
	CU_ASSERT_EQUAL(symlink("/tmp", path), 0);
	setenv("XDG_RUNTIME_DIR", bad, 1);
	CU_ASSERT_EQUAL(pd_runtime_base(path, sizeof(path), &fd, err, sizeof(err)), -ELOOP);
	CU_ASSERT_EQUAL(fd, -1);
	setenv("XDG_RUNTIME_DIR", runtime, 1);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;
	char cmd[700];

	snprintf(home, sizeof(home), "/tmp/pd-test-homefs-XXXXXX");
	snprintf(runtime, sizeof(runtime), "/tmp/pd-test-homefs-rt-XXXXXX");
	if (!mkdtemp(home) || !mkdtemp(runtime))
		return 2;
	setenv("PARADE_HOME", home, 1);
	setenv("XDG_RUNTIME_DIR", runtime, 1);
	unsetenv(PD_HOMEFS_ENV);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("homefs", NULL, NULL);
	CU_add_test(s, "network file systems", test_classify);
	CU_add_test(s, "the setting", test_setting);
	CU_add_test(s, "mount table lines", test_mountinfo);
	CU_add_test(s, "the pointer's text", test_pointer_text);
	CU_add_test(s, "the setting over the file system", test_network_setting);
	CU_add_test(s, "a session in a runtime folder", test_runtime_session);
	CU_add_test(s, "a session on another host", test_resolve_elsewhere);
	CU_add_test(s, "resume takes a session over", test_takeover);
	CU_add_test(s, "the runtime base", test_runtime_base);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", home, runtime);
	if (system(cmd) != 0)
		fails++;
	return fails ? 1 : 0;
}
