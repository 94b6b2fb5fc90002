/* test_cpus.c - lib/cpus: the parsers (with odd and hostile input), the
 * combination and its wording, the cgroup paths, and the probe of this very
 * process (its affinity narrowed in a child, the Slurm variables set). */
#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpus.h"

static void test_max(void)
{
	static const struct {
		const char *s;
		int rv;
		unsigned n;
	} cases[] = {
	    {"max 100000\n", 0, 0},
	    {"max 100000", 0, 0},
	    {"max", 0, 0},
	    {"max\n", 0, 0},
	    {"100000 100000\n", 0, 1},
	    {"200000 100000\n", 0, 2},
	    {"150000 100000\n", 0, 2}, /* 1.5 CPUs: rounded up */
	    {"1000 100000\n", 0, 1},
	    {"1 1000000\n", 0, 1},
	    {"400000 100000", 0, 4},
	    {"18446744073709551 1\n", 0, PD_CPUS_MAX}, /* capped */
	    {"", -EINVAL, 0},
	    {"\n", -EINVAL, 0},
	    {"100000\n", -EINVAL, 0},    /* no period */
	    {"0 100000\n", -EINVAL, 0},  /* zero quota */
	    {"100000 0\n", -EINVAL, 0},  /* zero period */
	    {"-1 100000\n", -EINVAL, 0}, /* v1's "none" is not v2's */
	    {"100000 -100000\n", -EINVAL, 0},
	    {"100000  100000\n", -EINVAL, 0}, /* two spaces */
	    {" 100000 100000\n", -EINVAL, 0},
	    {"100000 100000\n\n", -EINVAL, 0}, /* a second line */
	    {"100000 100000 7\n", -EINVAL, 0},
	    {"maxi 100000\n", -EINVAL, 0},
	    {"max max\n", -EINVAL, 0},
	    {"1e5 100000\n", -EINVAL, 0},
	    {"0x10 1\n", -EINVAL, 0},
	    {"99999999999999999999999 1\n", -EINVAL, 0}, /* overflows */
	    {"100000 100000\x1b[31m", -EINVAL, 0},
	};
	size_t i;
	unsigned n;
	int rv;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = 77;
		rv = pd_cpus_parse_max(cases[i].s, &n);
		if (rv != cases[i].rv || n != cases[i].n)
			fprintf(stderr, "\ncpu.max '%s': rv %d n %u\n", cases[i].s, rv, n);
		CU_ASSERT_EQUAL(rv, cases[i].rv);
		CU_ASSERT_EQUAL(n, cases[i].n);
	}
}

static void test_cfs(void)
{
	unsigned n = 77;

	CU_ASSERT_EQUAL(pd_cpus_parse_cfs("-1\n", "100000\n", &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(pd_cpus_parse_cfs("100000\n", "100000\n", &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(pd_cpus_parse_cfs("250000", "100000", &n), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(pd_cpus_parse_cfs("-1", "garbage", &n), 0); /* no limit, period unused */
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(pd_cpus_parse_cfs("-2\n", "100000\n", &n), -EINVAL);
	CU_ASSERT_EQUAL(pd_cpus_parse_cfs("0\n", "100000\n", &n), -EINVAL);
	CU_ASSERT_EQUAL(pd_cpus_parse_cfs("100000\n", "0\n", &n), -EINVAL);
	CU_ASSERT_EQUAL(pd_cpus_parse_cfs("100000\n", "\n", &n), -EINVAL);
	CU_ASSERT_EQUAL(pd_cpus_parse_cfs("", "100000", &n), -EINVAL);
	CU_ASSERT_EQUAL(pd_cpus_parse_cfs("-1x", "100000", &n), -EINVAL);
	CU_ASSERT_EQUAL(pd_cpus_parse_cfs("100000 ", "100000", &n), -EINVAL);
	CU_ASSERT_EQUAL(n, 0);
}

static void test_list(void)
{
	static const struct {
		const char *s;
		int rv;
		unsigned n;
	} cases[] = {
	    {"0-3,8,10-11\n", 0, 7},
	    {"0\n", 0, 1},
	    {"0-127", 0, 128},
	    {"5", 0, 1},
	    {"", 0, 0},
	    {"\n", 0, 0},
	    {"3,1,2", 0, 3},   /* any order */
	    {"0-3,2-5", 0, 6}, /* overlaps counted once */
	    {"1,1,1", 0, 1},
	    {"65535", 0, 1},
	    {"0-65535", 0, 65536},
	    {"65536", -ERANGE, 0},
	    {"0-65536", -ERANGE, 0},
	    {"3-1", -EINVAL, 0}, /* backwards */
	    {"1,,2", -EINVAL, 0},
	    {",1", -EINVAL, 0},
	    {"1,", -EINVAL, 0},
	    {"1-", -EINVAL, 0},
	    {"-1", -EINVAL, 0},
	    {"1--3", -EINVAL, 0},
	    {"1-2-3", -EINVAL, 0},
	    {"a", -EINVAL, 0},
	    {" 1", -EINVAL, 0},
	    {"1 ", -EINVAL, 0},
	    {"1\n2", -EINVAL, 0},
	    {"1;rm -rf /", -EINVAL, 0},
	    {"99999999999999999999999", -EINVAL, 0},
	};
	size_t i;
	unsigned n;
	int rv;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = 77;
		rv = pd_cpus_parse_list(cases[i].s, &n);
		if (rv != cases[i].rv || n != cases[i].n)
			fprintf(stderr, "\ncpuset '%s': rv %d n %u\n", cases[i].s, rv, n);
		CU_ASSERT_EQUAL(rv, cases[i].rv);
		CU_ASSERT_EQUAL(n, cases[i].n);
	}
}

static void test_pernode(void)
{
	static const char *const bad[] = {"",       "x",  "4(x0)",  "4(2)",   "4(x2",
	                                  "4(x)",   "0",  "4,,2",   "4,",     ",4",
	                                  "4(x2)2", "-4", "4 (x2)", "4(x2),", "1048577"};
	unsigned n;
	size_t i;

	CU_ASSERT_EQUAL(pd_cpus_parse_pernode("4(x2),2", 0, &n), 0);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT_EQUAL(pd_cpus_parse_pernode("4(x2),2", 1, &n), 0);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT_EQUAL(pd_cpus_parse_pernode("4(x2),2", 2, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(pd_cpus_parse_pernode("4(x2),2", 3, &n), -ENOENT);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(pd_cpus_parse_pernode("16", 0, &n), 0);
	CU_ASSERT_EQUAL(n, 16);
	CU_ASSERT_EQUAL(pd_cpus_parse_pernode("16\n", 1, &n), -ENOENT);
	CU_ASSERT_EQUAL(pd_cpus_parse_pernode("2,8(x3),1", 3, &n), 0);
	CU_ASSERT_EQUAL(n, 8);
	CU_ASSERT_EQUAL(pd_cpus_parse_pernode("2,8(x3),1", 4, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	/* a huge repeat count neither overflows nor wraps onto later nodes */
	CU_ASSERT_EQUAL(pd_cpus_parse_pernode("2(x18446744073709551),3", UINT_MAX, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 77;
		CU_ASSERT_EQUAL(pd_cpus_parse_pernode(bad[i], 0, &n), -EINVAL);
		CU_ASSERT_EQUAL(n, 0);
	}
	/* malformed after the node asked for is still malformed */
	CU_ASSERT_EQUAL(pd_cpus_parse_pernode("4,2(x", 0, &n), -EINVAL);
}

static void test_slurm(void)
{
	pd_cpus_slurm_env e;
	char err[200];
	unsigned n;
	int src;

	/* outside a job, nothing counts */
	e = (pd_cpus_slurm_env){NULL, "0", "2", "8"};
	CU_ASSERT_EQUAL(pd_cpus_slurm(&e, &n, &src, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 0);
	e.job_id = "";
	CU_ASSERT_EQUAL(pd_cpus_slurm(&e, &n, &src, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 0);
	/* a step's task: its own CPUs */
	e = (pd_cpus_slurm_env){"42", "0", "2", "8"};
	CU_ASSERT_EQUAL(pd_cpus_slurm(&e, &n, &src, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(src, PD_CPUS_SLURM_TASK);
	/* a step without -c: the node's */
	e = (pd_cpus_slurm_env){"42", "3", NULL, "8"};
	CU_ASSERT_EQUAL(pd_cpus_slurm(&e, &n, &src, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 8);
	CU_ASSERT_EQUAL(src, PD_CPUS_SLURM_NODE);
	/* the batch script stands for every task on its node */
	e = (pd_cpus_slurm_env){"42", "4294967291", "2", "8"};
	CU_ASSERT_EQUAL(pd_cpus_slurm(&e, &n, &src, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 8);
	CU_ASSERT_EQUAL(src, PD_CPUS_SLURM_NODE);
	e = (pd_cpus_slurm_env){"42", NULL, "2", "8"};
	CU_ASSERT_EQUAL(pd_cpus_slurm(&e, &n, &src, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 8);
	/* a step of several tasks on this node, without -c: the node's CPUs
	 * shared among them (srun -n3 on 3 CPUs: 1 each) */
	e = (pd_cpus_slurm_env){"42", "0", NULL, "3", "3", "0"};
	CU_ASSERT_EQUAL(pd_cpus_slurm(&e, &n, &src, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(src, PD_CPUS_SLURM_SHARE);
	e = (pd_cpus_slurm_env){"42", "0", NULL, "8", "4(x2),3", "2"};
	CU_ASSERT_EQUAL(pd_cpus_slurm(&e, &n, &src, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 2); /* 8 / 3, rounded down */
	e = (pd_cpus_slurm_env){"42", "0", NULL, "2", "5", NULL};
	CU_ASSERT_EQUAL(pd_cpus_slurm(&e, &n, &src, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 1); /* more tasks than CPUs: still 1 */
	/* -c wins over the share; the batch script does not share */
	e = (pd_cpus_slurm_env){"42", "0", "4", "8", "2", "0"};
	CU_ASSERT_EQUAL(pd_cpus_slurm(&e, &n, &src, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 4);
	e = (pd_cpus_slurm_env){"42", NULL, NULL, "8", "4", "0"};
	CU_ASSERT_EQUAL(pd_cpus_slurm(&e, &n, &src, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 8);
	CU_ASSERT_EQUAL(src, PD_CPUS_SLURM_NODE);
	/* a node the list does not have, a bad node id, a bad list */
	e = (pd_cpus_slurm_env){"42", "0", NULL, "8", "4(x2)", "2"};
	CU_ASSERT_EQUAL(pd_cpus_slurm(&e, &n, &src, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(err, "SLURM_STEP_TASKS_PER_NODE '4(x2)' has no count for node 2"));
	e = (pd_cpus_slurm_env){"42", "0", NULL, "8", "4", "-1"};
	CU_ASSERT_EQUAL(pd_cpus_slurm(&e, &n, &src, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "SLURM_NODEID '-1'"));
	e = (pd_cpus_slurm_env){"42", "0", NULL, "8", "4(x0)", "0"};
	CU_ASSERT_EQUAL(pd_cpus_slurm(&e, &n, &src, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(n, 0);
	/* a job without either variable (salloc's shell on the login node) */
	e = (pd_cpus_slurm_env){"42", NULL, NULL, NULL};
	CU_ASSERT_EQUAL(pd_cpus_slurm(&e, &n, &src, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 0);
	/* bad values are named and ignored */
	e = (pd_cpus_slurm_env){"42", "0", "two", "8"};
	CU_ASSERT_EQUAL(pd_cpus_slurm(&e, &n, &src, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "SLURM_CPUS_PER_TASK 'two'"));
	static const char *const bad[] = {
	    "0", "-1", "1.5", " 4", "4 ", "", "1048577", "99999999999999999999", "4\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e = (pd_cpus_slurm_env){"42", NULL, NULL, bad[i]};
		int rv = pd_cpus_slurm(&e, &n, &src, err, sizeof(err));
		/* "" is unset */
		CU_ASSERT_EQUAL(rv, *bad[i] ? -EINVAL : 0);
		CU_ASSERT_EQUAL(n, 0);
		if (*bad[i])
			CU_ASSERT_PTR_NOT_NULL(strstr(err, "SLURM_CPUS_ON_NODE"));
	}
	/* control bytes and a newline are not printed as they are */
	e = (pd_cpus_slurm_env){"42", NULL, NULL, "4\x1b[31m\nx\n"};
	CU_ASSERT_EQUAL(pd_cpus_slurm(&e, &n, &src, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "SLURM_CPUS_ON_NODE '4?[31m?x' is not"));
	CU_ASSERT_PTR_NULL(strchr(err, '\n'));
	CU_ASSERT_PTR_NULL(strchr(err, '\x1b'));
	/* a long hostile value is cut in the message */
	char big[600];
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	e = (pd_cpus_slurm_env){"42", NULL, NULL, big};
	CU_ASSERT_EQUAL(pd_cpus_slurm(&e, &n, &src, err, sizeof(err)), -EINVAL);
	CU_ASSERT(strlen(err) < 150);
}

static void test_settle_why(void)
{
	pd_cpus c;
	char why[256];

	memset(&c, 0, sizeof(c));
	c.count[PD_CPUS_ONLINE] = 16;
	pd_cpus_settle(&c);
	CU_ASSERT_EQUAL(c.n, 16);
	pd_cpus_why(&c, why, sizeof(why));
	CU_ASSERT_STRING_EQUAL(why, "16 CPUs (online)");

	c.count[PD_CPUS_AFFINITY] = 4;
	c.count[PD_CPUS_CPU_MAX] = 2;
	c.count[PD_CPUS_SLURM_TASK] = 2;
	pd_cpus_settle(&c);
	CU_ASSERT_EQUAL(c.n, 2);
	CU_ASSERT_EQUAL(c.limited, (1u << PD_CPUS_CPU_MAX) | (1u << PD_CPUS_SLURM_TASK));
	pd_cpus_why(&c, why, sizeof(why));
	CU_ASSERT_STRING_EQUAL(why, "2 CPUs (cgroup cpu.max, SLURM_CPUS_PER_TASK)");

	c.count[PD_CPUS_CFS_QUOTA] = 1;
	pd_cpus_settle(&c);
	pd_cpus_why(&c, why, sizeof(why));
	CU_ASSERT_STRING_EQUAL(why, "1 CPU (cgroup cpu.cfs_quota_us)");

	/* nothing known: 1 */
	memset(&c, 0, sizeof(c));
	pd_cpus_settle(&c);
	CU_ASSERT_EQUAL(c.n, 1);
	CU_ASSERT_EQUAL(c.limited, 0);
	pd_cpus_why(&c, why, sizeof(why));
	CU_ASSERT_STRING_EQUAL(why, "1 CPU (nothing known)");

	/* a short buffer is cut, terminated */
	c.count[PD_CPUS_CPUSET] = 3;
	pd_cpus_settle(&c);
	pd_cpus_why(&c, why, 8);
	CU_ASSERT_STRING_EQUAL(why, "3 CPUs ");
	pd_cpus_why(&c, why, 1);
	CU_ASSERT_STRING_EQUAL(why, "");
	CU_ASSERT_STRING_EQUAL(pd_cpus_source_name(99), "?");
	CU_ASSERT_STRING_EQUAL(pd_cpus_source_name(PD_CPUS_SLURM_NODE), "SLURM_CPUS_ON_NODE");
}

static void test_mountinfo(void)
{
	char root[64], dir[64];
	int v;

	CU_ASSERT_EQUAL(
	    pd_cpus_mountinfo_line("35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,"
	                           "relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n",
	                           &v, root, dir, sizeof(root)),
	    0);
	CU_ASSERT_EQUAL(v, 2);
	CU_ASSERT_STRING_EQUAL(root, "/");
	CU_ASSERT_STRING_EQUAL(dir, "/sys/fs/cgroup");
	/* v1 with cpu among other controllers; no optional fields */
	CU_ASSERT_EQUAL(
	    pd_cpus_mountinfo_line("32 31 0:29 /docker/ab /sys/fs/cgroup/cpu,cpuacct rw "
	                           "- cgroup cgroup rw,cpu,cpuacct",
	                           &v, root, dir, sizeof(root)),
	    0);
	CU_ASSERT_EQUAL(v, 1);
	CU_ASSERT_STRING_EQUAL(root, "/docker/ab");
	CU_ASSERT_STRING_EQUAL(dir, "/sys/fs/cgroup/cpu,cpuacct");
	/* cpuacct or cpuset alone is not cpu */
	CU_ASSERT_EQUAL(pd_cpus_mountinfo_line("33 31 0:30 / /sys/fs/cgroup/cpuacct rw - cgroup "
	                                       "cgroup rw,cpuacct",
	                                       &v, root, dir, sizeof(root)),
	                -ENOENT);
	CU_ASSERT_EQUAL(pd_cpus_mountinfo_line("34 31 0:31 / /sys/fs/cgroup/cpuset rw - cgroup "
	                                       "cgroup rw,cpuset",
	                                       &v, root, dir, sizeof(root)),
	                -ENOENT);
	CU_ASSERT_EQUAL(
	    pd_cpus_mountinfo_line("23 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw", &v,
	                           root, dir, sizeof(root)),
	    -ENOENT);
	/* escapes decoded */
	CU_ASSERT_EQUAL(
	    pd_cpus_mountinfo_line("40 1 0:40 /a\\040b /mnt/c\\134g rw - cgroup2 none rw", &v, root,
	                           dir, sizeof(root)),
	    0);
	CU_ASSERT_STRING_EQUAL(root, "/a b");
	CU_ASSERT_STRING_EQUAL(dir, "/mnt/c\\g");
	/* malformed and too long */
	CU_ASSERT_EQUAL(pd_cpus_mountinfo_line("", &v, root, dir, sizeof(root)), -EINVAL);
	CU_ASSERT_EQUAL(
	    pd_cpus_mountinfo_line("1 2 3 / /x rw cgroup2", &v, root, dir, sizeof(root)), -EINVAL);
	CU_ASSERT_EQUAL(pd_cpus_mountinfo_line("1 2 3 / /x rw -", &v, root, dir, sizeof(root)),
	                -EINVAL);
	CU_ASSERT_EQUAL(
	    pd_cpus_mountinfo_line("1 2 3 / /x rw - cgroup2 none", &v, root, dir, sizeof(root)),
	    -EINVAL);
	CU_ASSERT_EQUAL(
	    pd_cpus_mountinfo_line("1 2 3 / /xxxxxxxx rw - cgroup2 none rw", &v, root, dir, 8),
	    -ENAMETOOLONG);
}

static void test_cgroup_path(void)
{
	const char *hybrid = "9:name=systemd:/\n4:memory:/m\n3:cpuset:/\n2:cpuacct,cpu:/job/7\n"
	                     "0::/user.slice/s\n";
	char p[64];

	CU_ASSERT_EQUAL(pd_cpus_cgroup_path(hybrid, 2, p, sizeof(p)), 0);
	CU_ASSERT_STRING_EQUAL(p, "/user.slice/s");
	CU_ASSERT_EQUAL(pd_cpus_cgroup_path(hybrid, 1, p, sizeof(p)), 0);
	CU_ASSERT_STRING_EQUAL(p, "/job/7");
	CU_ASSERT_EQUAL(pd_cpus_cgroup_path("0::/", 2, p, sizeof(p)), 0);
	CU_ASSERT_STRING_EQUAL(p, "/");
	CU_ASSERT_EQUAL(pd_cpus_cgroup_path("0::/", 1, p, sizeof(p)), -ENOENT);
	CU_ASSERT_EQUAL(pd_cpus_cgroup_path("1:cpuacct:/x\n", 1, p, sizeof(p)), -ENOENT);
	CU_ASSERT_EQUAL(pd_cpus_cgroup_path("", 2, p, sizeof(p)), -ENOENT);
	CU_ASSERT_EQUAL(pd_cpus_cgroup_path("garbage\n::\n0:\n", 2, p, sizeof(p)), -ENOENT);
	CU_ASSERT_EQUAL(pd_cpus_cgroup_path("0::relative\n", 2, p, sizeof(p)), -ENOENT);
	CU_ASSERT_EQUAL(pd_cpus_cgroup_path("0::/a/b/c/d", 2, p, 4), -ENAMETOOLONG);
	/* a path with colons is kept whole */
	CU_ASSERT_EQUAL(pd_cpus_cgroup_path("0::/a:b\n", 2, p, sizeof(p)), 0);
	CU_ASSERT_STRING_EQUAL(p, "/a:b");
}

static void test_cgroup_dir(void)
{
	char d[64];

	CU_ASSERT_EQUAL(pd_cpus_cgroup_dir("/sys/fs/cgroup", "/", "/a/b", d, sizeof(d)), 0);
	CU_ASSERT_STRING_EQUAL(d, "/sys/fs/cgroup/a/b");
	CU_ASSERT_EQUAL(pd_cpus_cgroup_dir("/sys/fs/cgroup", "/", "/", d, sizeof(d)), 0);
	CU_ASSERT_STRING_EQUAL(d, "/sys/fs/cgroup");
	CU_ASSERT_EQUAL(
	    pd_cpus_cgroup_dir("/sys/fs/cgroup", "/docker/ab", "/docker/ab", d, sizeof(d)), 0);
	CU_ASSERT_STRING_EQUAL(d, "/sys/fs/cgroup");
	CU_ASSERT_EQUAL(pd_cpus_cgroup_dir("/c", "/docker/ab", "/docker/ab/x", d, sizeof(d)), 0);
	CU_ASSERT_STRING_EQUAL(d, "/c/x");
	CU_ASSERT_EQUAL(pd_cpus_cgroup_dir("/c", "/docker/ab", "/docker/abc", d, sizeof(d)),
	                -ENOENT);
	CU_ASSERT_EQUAL(pd_cpus_cgroup_dir("/c", "/docker/ab", "/", d, sizeof(d)), -ENOENT);
	CU_ASSERT_EQUAL(pd_cpus_cgroup_dir("/sys/fs/cgroup", "/", "/a/b", d, 10), -ENAMETOOLONG);
}

/* The probe of this process: within what is online, and the Slurm
 * variables and a narrowed affinity (in a child) take effect. */
static void test_probe(void)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	char warn[512], why[256];
	pd_cpus c;
	pid_t pid;
	int st;

	unsetenv("SLURM_JOB_ID");
	pd_cpus_probe(&c, warn, sizeof(warn));
	CU_ASSERT(c.n >= 1 && (long)c.n <= online);
	CU_ASSERT_EQUAL(c.count[PD_CPUS_ONLINE], (unsigned)online);
	CU_ASSERT_STRING_EQUAL(warn, "");

	setenv("SLURM_JOB_ID", "42", 1);
	unsetenv("SLURM_STEP_ID");
	setenv("SLURM_CPUS_ON_NODE", "1", 1);
	pd_cpus_probe(&c, warn, sizeof(warn));
	CU_ASSERT_EQUAL(c.n, 1);
	CU_ASSERT(c.limited & (1u << PD_CPUS_SLURM_NODE));
	pd_cpus_why(&c, why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "SLURM_CPUS_ON_NODE"));

	setenv("SLURM_CPUS_ON_NODE", "lots", 1);
	pd_cpus_probe(&c, warn, sizeof(warn));
	CU_ASSERT_PTR_NOT_NULL(strstr(warn, "SLURM_CPUS_ON_NODE 'lots'"));
	CU_ASSERT_EQUAL(c.count[PD_CPUS_SLURM_NODE], 0);
	CU_ASSERT(c.n >= 1);
	unsetenv("SLURM_CPUS_ON_NODE");

	/* a --mode slurm agent's default slots: 1 without a Slurm CPU count
	 * (the plugin's agents), else what it may use */
	unsetenv("SLURM_CPUS_PER_TASK");
	CU_ASSERT_EQUAL(pd_cpus_slurm_slots(0), 1);
	setenv("SLURM_STEP_ID", "0", 1);
	setenv("SLURM_CPUS_PER_TASK", "1", 1);
	CU_ASSERT_EQUAL(pd_cpus_slurm_slots(0), 1);
	setenv("SLURM_CPUS_PER_TASK", "4096", 1);
	pd_cpus_probe(&c, warn, sizeof(warn));
	CU_ASSERT_EQUAL(pd_cpus_slurm_slots(0), c.n);
	CU_ASSERT(c.n <= (unsigned)online);
	CU_ASSERT_EQUAL(pd_cpus_slurm_slots(1), 1);
	unsetenv("SLURM_CPUS_PER_TASK");
	unsetenv("SLURM_STEP_ID");
	unsetenv("SLURM_JOB_ID");

	/* one CPU of affinity, in a child (this process keeps its own) */
	if (online < 2) {
		fprintf(stderr, "\nonly one CPU online: the affinity case cannot narrow it\n");
		return;
	}
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(0, &one);
		if (sched_setaffinity(0, sizeof(one), &one) < 0)
			_exit(3);
		pd_cpus_probe(&c, warn, sizeof(warn));
		_exit(c.n == 1 && (c.limited & (1u << PD_CPUS_AFFINITY)) ? 0 : 1);
	}
	CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
	    {"cgroup v2 cpu.max", test_max},
	    {"cgroup v1 cfs quota and period", test_cfs},
	    {"cpuset lists", test_list},
	    {"SLURM_JOB_CPUS_PER_NODE", test_pernode},
	    {"the Slurm variables", test_slurm},
	    {"the fewest and why", test_settle_why},
	    {"mountinfo lines", test_mountinfo},
	    {"/proc/self/cgroup", test_cgroup_path},
	    {"a cgroup's folder", test_cgroup_dir},
	    {"the probe of this process", test_probe},
	};
	CU_pSuite s;
	unsigned fails;
	size_t i;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("cpus", NULL, NULL);
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
	return fails ? 1 : 0;
fail:
	CU_cleanup_registry();
	return 2;
}
