/* test_spank.c - the SPANK plugin: its pure parsers (spank/opts.c), its
 * entry points in srun/sbatch context through a fake SPANK API
 * (fake_spank.c), and in slurmstepd context with stand-in agents (shell
 * scripts) that the plugin really forks, drops to the user, and ends. */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agents.h"
#include "common.h"
#include "local.h"
#include "opts.h"
#include "plugin.h"
#include "remote.h"

/* the fake SPANK API (fake_spank.c) */
void fake_reset(spank_context_t ctx);
spank_t fake_handle(void);
void fake_set_context(spank_context_t ctx);
void fake_set_item(spank_item_t item, long value);
const char *fake_env(const char *name);
void fake_set_env(const char *name, const char *value);
int fake_nerrors(void);
const char *fake_error(int i);
int fake_ninfos(void);
const char *fake_info(int i);
struct spank_option *fake_option(const char *name);

static char tmp[128];
static char cmdline_file[200];

/* ---------------------------------------------------------------- opts */

static void test_workers_values(void)
{
	static const char *bad[] = {
	    "abc", "0",  "-1",   "1e3", "99999999999",         "1025", "", "+3",
	    " 3",  "3 ", "0x10", "3.0", "18446744073709551617"};
	char err[256];
	unsigned n = 7;

	CU_ASSERT_EQUAL(pd_spank_parse_workers("1", 1024, &n, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(pd_spank_parse_workers("16", 1024, &n, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 16);
	CU_ASSERT_EQUAL(pd_spank_parse_workers("1024", 1024, &n, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 1024);
	CU_ASSERT_EQUAL(pd_spank_parse_workers("007", 1024, &n, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 7);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 5;
		CU_ASSERT_EQUAL(pd_spank_parse_workers(bad[i], 1024, &n, err, sizeof(err)),
		                -EINVAL);
		CU_ASSERT_EQUAL(n, 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "expected a whole number from 1 to 1024"));
	}
	pd_spank_parse_workers("abc", 1024, &n, err, sizeof(err));
	CU_ASSERT_STRING_EQUAL(err, "--parade-workers=abc: expected a whole number from 1 to 1024");
	pd_spank_parse_workers("2000", 1024, &n, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "max_workers=1024"));
	CU_ASSERT_EQUAL(pd_spank_parse_workers("5", 4, &n, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(pd_spank_parse_workers(NULL, 4, &n, err, sizeof(err)), -EINVAL);
}

static int parse(pd_spank_cfg *c, const char *a, const char *b, char *err, size_t errlen)
{
	char *av[2] = {(char *)a, (char *)b};

	return pd_spank_parse_args(c, b ? 2 : 1, av, err, errlen);
}

static void test_plugstack_args(void)
{
	pd_spank_cfg c;
	char err[512];

	CU_ASSERT_EQUAL(pd_spank_parse_args(&c, 0, NULL, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c.agent, PD_AGENT_PATH);
	CU_ASSERT_EQUAL(c.max_workers, 1024);
	CU_ASSERT_EQUAL(c.port_lo, 0);
	CU_ASSERT_EQUAL(c.debug, 0);
	CU_ASSERT_EQUAL(c.agent_log, PD_LOG_SESSION);

	CU_ASSERT_EQUAL(parse(&c, "agent=/opt/p/bin/parade-agent", NULL, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c.agent, "/opt/p/bin/parade-agent");
	CU_ASSERT_EQUAL(parse(&c, "max_workers=64", "debug=1", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.max_workers, 64);
	CU_ASSERT_EQUAL(c.debug, 1);
	CU_ASSERT_EQUAL(parse(&c, "port_range=5000-5100", "agent_log=none", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.port_lo, 5000);
	CU_ASSERT_EQUAL(c.port_hi, 5100);
	CU_ASSERT_EQUAL(c.agent_log, PD_LOG_NONE);
	CU_ASSERT_EQUAL(parse(&c, "port_range=7-7", "agent_log=session", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.port_lo, 7);
	CU_ASSERT_EQUAL(c.agent_log, PD_LOG_SESSION);
	CU_ASSERT_EQUAL(parse(&c, "debug=0", NULL, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.debug, 0);

	static const char *bad[][2] = {
	    {"agent=parade-agent", "absolute path"},
	    {"agent=", "absolute path"},
	    {"max_workers=0", "from 1 to"},
	    {"max_workers=abc", "from 1 to"},
	    {"max_workers=99999999999", "from 1 to"},
	    {"port_range=5-2", "LO-HI"},
	    {"port_range=70000", "LO-HI"},
	    {"port_range=1-70000", "LO-HI"},
	    {"port_range=0-10", "LO-HI"},
	    {"port_range=-5", "LO-HI"},
	    {"port_range=5-", "LO-HI"},
	    {"port_range=a-b", "LO-HI"},
	    {"debug=yes", "debug=0 or debug=1"},
	    {"debug=", "debug=0 or debug=1"},
	    {"agent_log=file", "agent_log=session or agent_log=none"},
	    {"workers=3", "unknown key 'workers'"},
	    {"Agent=/x", "unknown key 'Agent'"},
	    {"debug", "expected debug=VALUE"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		const char *first =
		    strncmp(bad[i][0], "max_workers", 11) ? "max_workers=8" : "debug=1";
		CU_ASSERT_EQUAL(parse(&c, first, bad[i][0], err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i][1]) || !strstr(err, bad[i][0]))
			fprintf(stderr, "\n%s: got '%s'\n", bad[i][0], err);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i][1]));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i][0]));
		CU_ASSERT_EQUAL(c.max_workers, 1024); /* defaults after an error */
		CU_ASSERT_EQUAL(c.debug, 0);
	}
	CU_ASSERT_EQUAL(parse(&c, "debug=1", "debug=0", err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "debug is given twice"));
	CU_ASSERT_EQUAL(parse(&c, "agent=/a", "agent=/a", err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "twice"));
}

static void test_ports(void)
{
	unsigned lo = 1, hi = 1;

	CU_ASSERT_EQUAL(pd_spank_parse_ports("1-65535", &lo, &hi), 0);
	CU_ASSERT_EQUAL(lo, 1);
	CU_ASSERT_EQUAL(hi, 65535);
	CU_ASSERT_EQUAL(pd_spank_parse_ports("5-2", &lo, &hi), -EINVAL);
	CU_ASSERT_EQUAL(pd_spank_parse_ports("70000", &lo, &hi), -EINVAL);
	CU_ASSERT_EQUAL(pd_spank_parse_ports("65536-65537", &lo, &hi), -EINVAL);
	CU_ASSERT_EQUAL(pd_spank_parse_ports("10-20-30", &lo, &hi), -EINVAL);
	CU_ASSERT_EQUAL(pd_spank_parse_ports(NULL, &lo, &hi), -EINVAL);
}

static void test_node_share(void)
{
	CU_ASSERT_EQUAL(pd_spank_node_share(10, 3, 0), 4);
	CU_ASSERT_EQUAL(pd_spank_node_share(10, 3, 1), 3);
	CU_ASSERT_EQUAL(pd_spank_node_share(10, 3, 2), 3);
	CU_ASSERT_EQUAL(pd_spank_node_share(2, 4, 0), 1);
	CU_ASSERT_EQUAL(pd_spank_node_share(2, 4, 1), 1);
	CU_ASSERT_EQUAL(pd_spank_node_share(2, 4, 2), 0);
	CU_ASSERT_EQUAL(pd_spank_node_share(2, 4, 3), 0);
	CU_ASSERT_EQUAL(pd_spank_node_share(8, 1, 0), 8);
	CU_ASSERT_EQUAL(pd_spank_node_share(8, 1, 1), 0);
	CU_ASSERT_EQUAL(pd_spank_node_share(8, 0, 0), 0);
	/* every split adds up, and no two nodes differ by more than one */
	for (unsigned n = 1; n <= 40; n++)
		for (unsigned nodes = 1; nodes <= 9; nodes++) {
			unsigned sum = 0, lo = ~0u, hi = 0;
			for (unsigned i = 0; i < nodes; i++) {
				unsigned s = pd_spank_node_share(n, nodes, i);
				sum += s;
				lo = s < lo ? s : lo;
				hi = s > hi ? s : hi;
			}
			CU_ASSERT_EQUAL(sum, n);
			CU_ASSERT(hi - lo <= 1);
		}
}

#define CMD(s) (s), sizeof(s) /* sizeof counts the final NUL like /proc does */

static void test_cmdline(void)
{
	CU_ASSERT_EQUAL(pd_spank_cmdline_explicit(CMD("srun\0--parade-workers=2\0true")), 1);
	CU_ASSERT_EQUAL(pd_spank_cmdline_explicit(CMD("srun\0-n\0"
	                                              "2\0--parade-workers\0"
	                                              "4\0sh")),
	                1);
	CU_ASSERT_EQUAL(pd_spank_cmdline_explicit(CMD("srun\0--parade-work=2\0true")), 1);
	CU_ASSERT_EQUAL(pd_spank_cmdline_explicit(CMD("srun\0--parade-w=2\0true")), 1);
	CU_ASSERT_EQUAL(pd_spank_cmdline_explicit(CMD("srun\0-n1\0true")), 0);
	CU_ASSERT_EQUAL(pd_spank_cmdline_explicit(CMD("srun\0--parade-controller=f\0true")), 0);
	CU_ASSERT_EQUAL(pd_spank_cmdline_explicit(CMD("srun\0--parade=2\0true")), 0);
	CU_ASSERT_EQUAL(pd_spank_cmdline_explicit(CMD("srun\0--parade-workersx=2\0true")), 0);
	CU_ASSERT_EQUAL(pd_spank_cmdline_explicit(CMD("srun\0-n1\0--\0--parade-workers=2")), 0);
	CU_ASSERT_EQUAL(pd_spank_cmdline_explicit(CMD("--parade-workers=2")), 0); /* argv[0] */
	/* no final NUL (a truncated read) */
	CU_ASSERT_EQUAL(pd_spank_cmdline_explicit("srun\0--parade-workers=2", 23), 1);
	CU_ASSERT_EQUAL(pd_spank_cmdline_explicit("srun\0--parade-w", 15), 1);
	CU_ASSERT_EQUAL(pd_spank_cmdline_explicit("srun\0--parade-", 14), 0);
	CU_ASSERT_EQUAL(pd_spank_cmdline_explicit(NULL, 0), 0);
}

static void test_names_and_acting(void)
{
	char b[64];

	CU_ASSERT_EQUAL(pd_spank_session_name(42, 7, b, sizeof(b)), 0);
	CU_ASSERT_STRING_EQUAL(b, "slurm-42.7");
	CU_ASSERT_EQUAL(pd_spank_session_name(42, PD_STEP_BATCH, b, sizeof(b)), 0);
	CU_ASSERT_STRING_EQUAL(b, "slurm-42.batch");
	CU_ASSERT_EQUAL(pd_spank_session_name(4294967294u, 0, b, sizeof(b)), 0);
	CU_ASSERT_STRING_EQUAL(b, "slurm-4294967294.0");
	CU_ASSERT_EQUAL(pd_spank_session_name(42, 7, b, 8), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(pd_spank_step_name(PD_STEP_EXTERN, b, sizeof(b)), 0);
	CU_ASSERT_STRING_EQUAL(b, "extern");
	CU_ASSERT_EQUAL(pd_spank_step_name(PD_STEP_INTERACTIVE, b, sizeof(b)), 0);
	CU_ASSERT_STRING_EQUAL(b, "interactive");

	CU_ASSERT_EQUAL(pd_spank_should_act(PD_STEP_BATCH, NULL), 1);
	CU_ASSERT_EQUAL(pd_spank_should_act(PD_STEP_BATCH, "0"), 1);
	CU_ASSERT_EQUAL(pd_spank_should_act(0, "1"), 1);
	CU_ASSERT_EQUAL(pd_spank_should_act(0, "0"), 0);
	CU_ASSERT_EQUAL(pd_spank_should_act(3, NULL), 0);
	CU_ASSERT_EQUAL(pd_spank_should_act(3, "yes"), 0);
	CU_ASSERT_EQUAL(pd_spank_should_act(PD_STEP_EXTERN, "1"), 0);
}

/* --------------------------------------------------- srun, sbatch, salloc */

static int put_file(const char *path, const char *text, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode), rv = -1;

	if (fd < 0)
		return -1;
	if (write(fd, text, len) == (ssize_t)len && fchmod(fd, mode) == 0)
		rv = 0;
	close(fd);
	return rv;
}

static void write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	CU_ASSERT_FATAL(put_file(path, text, len, mode) == 0);
}

/* A fresh plugin in context ctx, loaded with plugstack arguments args
 * (NULL-terminated); returns slurm_spank_init's result. */
static int load(spank_context_t ctx, const char *const *args)
{
	int ac = 0;

	while (args && args[ac])
		ac++;
	pd_spank_reset();
	fake_reset(ctx);
	unsetenv(PD_INHERITED_WORKERS);
	unsetenv(PD_EXPLICIT_ENV);
	unsetenv("PARADE_CONNECT");
	pd_local_cmdline_path = cmdline_file;
	write_file(cmdline_file, CMD("srun\0-n1\0hostname"), 0600);
	return slurm_spank_init(fake_handle(), ac, (char **)args);
}

static int workers(const char *v, int remote)
{
	struct spank_option *o = fake_option("parade-workers");

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	return o->cb(o->val, v, remote);
}

static int controller(const char *v, int remote)
{
	struct spank_option *o = fake_option("parade-controller");

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	return o->cb(o->val, v, remote);
}

static int post_opt(void)
{
	return slurm_spank_init_post_opt(fake_handle(), 0, NULL);
}

static void test_registration(void)
{
	static const spank_context_t ctxs[] = {S_CTX_LOCAL, S_CTX_ALLOCATOR, S_CTX_REMOTE};

	for (size_t i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(load(ctxs[i], NULL), 0);
		CU_ASSERT_PTR_NOT_NULL(fake_option("parade-workers"));
		CU_ASSERT_PTR_NOT_NULL(fake_option("parade-controller"));
		CU_ASSERT_EQUAL(fake_option("parade-workers")->has_arg, 1);
		CU_ASSERT_STRING_EQUAL(fake_option("parade-workers")->arginfo, "N");
		CU_ASSERT_STRING_EQUAL(fake_option("parade-controller")->arginfo, "FILE");
		CU_ASSERT_EQUAL(fake_nerrors(), 0);
	}
}

static void test_bad_plugstack(void)
{
	static const char *const bad[] = {"max_workers=8", "colour=blue", NULL};

	CU_ASSERT_NOT_EQUAL(load(S_CTX_LOCAL, bad), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(fake_error(0), "parade: plugstack argument 'colour=blue': "
	                                             "unknown key 'colour'"));
	CU_ASSERT_NOT_EQUAL(load(S_CTX_ALLOCATOR, bad), 0);
	/* slurmstepd goes on (no drained node) and tells the tasks */
	CU_ASSERT_EQUAL(load(S_CTX_REMOTE, bad), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 1);
	CU_ASSERT_EQUAL(load(S_CTX_SLURMD, bad), 0);
}

static void test_bad_workers_local(void)
{
	static const char *bad[] = {"abc", "0", "-1", "1e3", "99999999999", "1025"};
	static const spank_context_t ctxs[] = {S_CTX_LOCAL, S_CTX_ALLOCATOR};
	char want[128];

	for (size_t c = 0; c < 2; c++)
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			CU_ASSERT_EQUAL(load(ctxs[c], NULL), 0);
			CU_ASSERT_NOT_EQUAL(workers(bad[i], 0), 0);
			CU_ASSERT_EQUAL(fake_nerrors(), 1);
			snprintf(
			    want, sizeof(want),
			    "parade: --parade-workers=%s: expected a whole number from 1 to 1024",
			    bad[i]);
			CU_ASSERT_EQUAL(strncmp(fake_error(0), want, strlen(want)), 0);
		}
	/* the limit comes from plugstack.conf */
	static const char *const small[] = {"max_workers=4", NULL};
	CU_ASSERT_EQUAL(load(S_CTX_LOCAL, small), 0);
	CU_ASSERT_NOT_EQUAL(workers("5", 0), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(fake_error(0), "from 1 to 4"));
	CU_ASSERT_EQUAL(load(S_CTX_LOCAL, small), 0);
	CU_ASSERT_EQUAL(workers("4", 0), 0);
	CU_ASSERT_EQUAL(post_opt(), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 0);
}

static void test_twice(void)
{
	CU_ASSERT_EQUAL(load(S_CTX_LOCAL, NULL), 0);
	CU_ASSERT_EQUAL(workers("4", 0), 0);
	CU_ASSERT_EQUAL(workers("4", 0), 0);
	CU_ASSERT_EQUAL(post_opt(), 0);
	CU_ASSERT_EQUAL(post_opt(), 0);
	CU_ASSERT_EQUAL(pd_sp.workers, 4);
	CU_ASSERT_EQUAL(fake_nerrors(), 0);
	/* the last delivery wins */
	CU_ASSERT_EQUAL(workers("9", 0), 0);
	CU_ASSERT_EQUAL(pd_sp.workers, 9);
	/* a bad value delivered twice is one error line */
	CU_ASSERT_EQUAL(load(S_CTX_ALLOCATOR, NULL), 0);
	CU_ASSERT_NOT_EQUAL(workers("abc", 0), 0);
	CU_ASSERT_NOT_EQUAL(workers("abc", 0), 0);
	CU_ASSERT_NOT_EQUAL(post_opt(), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 1);
	/* remote deliveries (twice before Slurm 24.05) never fail */
	CU_ASSERT_EQUAL(load(S_CTX_REMOTE, NULL), 0);
	CU_ASSERT_EQUAL(workers("abc", 1), 0);
	CU_ASSERT_EQUAL(workers("abc", 1), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 0);
	CU_ASSERT_EQUAL(workers("3", 1), 0);
	CU_ASSERT_EQUAL(workers("3", 1), 0);
	CU_ASSERT_EQUAL(pd_sp.workers, 3);
	CU_ASSERT_EQUAL(pd_sp.workers_bad, 0);
}

static void test_controller_file(void)
{
	char good[512], dir[512];

	snprintf(good, sizeof(good), "%s/connection", tmp);
	write_file(good, "version=1\n", 10, 0600);
	snprintf(dir, sizeof(dir), "%s", tmp);

	CU_ASSERT_EQUAL(load(S_CTX_LOCAL, NULL), 0);
	CU_ASSERT_EQUAL(workers("2", 0), 0);
	CU_ASSERT_EQUAL(controller("/nonexistent/conn", 0), 0);
	CU_ASSERT_NOT_EQUAL(post_opt(), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 1);
	CU_ASSERT_STRING_EQUAL(fake_error(0), "parade: --parade-controller=/nonexistent/conn: "
	                                      "cannot read it: No such file or directory");

	CU_ASSERT_EQUAL(load(S_CTX_ALLOCATOR, NULL), 0);
	CU_ASSERT_EQUAL(workers("2", 0), 0);
	CU_ASSERT_EQUAL(controller(dir, 0), 0);
	CU_ASSERT_NOT_EQUAL(post_opt(), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(fake_error(0), "not a regular file"));

	CU_ASSERT_EQUAL(load(S_CTX_LOCAL, NULL), 0);
	CU_ASSERT_EQUAL(workers("2", 0), 0);
	CU_ASSERT_EQUAL(controller(good, 0), 0);
	CU_ASSERT_EQUAL(controller(good, 0), 0);
	CU_ASSERT_EQUAL(post_opt(), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 0);

	if (geteuid() != 0) { /* root reads anything */
		chmod(good, 0);
		CU_ASSERT_EQUAL(load(S_CTX_LOCAL, NULL), 0);
		CU_ASSERT_EQUAL(workers("2", 0), 0);
		CU_ASSERT_EQUAL(controller(good, 0), 0);
		CU_ASSERT_NOT_EQUAL(post_opt(), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(fake_error(0), "Permission denied"));
		chmod(good, 0600);
	}

	/* a controller needs workers */
	CU_ASSERT_EQUAL(load(S_CTX_LOCAL, NULL), 0);
	CU_ASSERT_EQUAL(controller(good, 0), 0);
	CU_ASSERT_NOT_EQUAL(post_opt(), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(fake_error(0), "give --parade-workers=N too"));

	/* PARADE_CONNECT stands in for --parade-controller */
	CU_ASSERT_EQUAL(load(S_CTX_LOCAL, NULL), 0);
	setenv("PARADE_CONNECT", "/nonexistent/pc", 1);
	CU_ASSERT_EQUAL(workers("2", 0), 0);
	CU_ASSERT_NOT_EQUAL(post_opt(), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 1);
	CU_ASSERT_STRING_EQUAL(fake_error(0),
	                       "parade: PARADE_CONNECT=/nonexistent/pc (the controller "
	                       "for --parade-workers): cannot read it: No such file or "
	                       "directory");
	CU_ASSERT_EQUAL(load(S_CTX_ALLOCATOR, NULL), 0);
	setenv("PARADE_CONNECT", good, 1);
	CU_ASSERT_EQUAL(workers("2", 0), 0);
	CU_ASSERT_EQUAL(post_opt(), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 0);
	/* an explicit --parade-controller wins over PARADE_CONNECT */
	CU_ASSERT_EQUAL(load(S_CTX_LOCAL, NULL), 0);
	setenv("PARADE_CONNECT", "/nonexistent/pc", 1);
	CU_ASSERT_EQUAL(workers("2", 0), 0);
	CU_ASSERT_EQUAL(controller(good, 0), 0);
	CU_ASSERT_EQUAL(post_opt(), 0);
	unsetenv("PARADE_CONNECT");
}

static int local_user_init(void)
{
	return slurm_spank_local_user_init(fake_handle(), 0, NULL);
}

static void test_inherited_or_explicit(void)
{
	/* srun in a batch job of sbatch --parade-workers=4, not naming it */
	CU_ASSERT_EQUAL(load(S_CTX_LOCAL, NULL), 0);
	setenv(PD_INHERITED_WORKERS, "4", 1);
	CU_ASSERT_EQUAL(workers("4", 0), 0);
	CU_ASSERT_EQUAL(post_opt(), 0);
	CU_ASSERT_EQUAL(local_user_init(), 0);
	CU_ASSERT_STRING_EQUAL(getenv(PD_EXPLICIT_ENV), "0");

	/* the same srun naming it: srun delivers the inherited value, then its own */
	CU_ASSERT_EQUAL(load(S_CTX_LOCAL, NULL), 0);
	write_file(cmdline_file, CMD("srun\0-n1\0--parade-workers=2\0true"), 0600);
	setenv(PD_INHERITED_WORKERS, "4", 1);
	CU_ASSERT_EQUAL(workers("4", 0), 0);
	CU_ASSERT_EQUAL(workers("2", 0), 0);
	CU_ASSERT_EQUAL(post_opt(), 0);
	CU_ASSERT_EQUAL(local_user_init(), 0);
	CU_ASSERT_EQUAL(local_user_init(), 0);
	CU_ASSERT_STRING_EQUAL(getenv(PD_EXPLICIT_ENV), "1");
	CU_ASSERT_EQUAL(pd_sp.workers, 2);

	/* a bad inherited value bothers nobody who does not ask for workers */
	CU_ASSERT_EQUAL(load(S_CTX_LOCAL, NULL), 0);
	setenv(PD_INHERITED_WORKERS, "abc", 1);
	setenv("PARADE_CONNECT", "/nonexistent/pc", 1);
	CU_ASSERT_EQUAL(workers("abc", 0), 0);
	CU_ASSERT_EQUAL(post_opt(), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 0);
	CU_ASSERT_EQUAL(local_user_init(), 0);
	CU_ASSERT_STRING_EQUAL(getenv(PD_EXPLICIT_ENV), "0");
	unsetenv("PARADE_CONNECT");

	/* ...nor one who gives a good value of his own */
	CU_ASSERT_EQUAL(load(S_CTX_LOCAL, NULL), 0);
	write_file(cmdline_file,
	           CMD("srun\0--parade-workers\0"
	               "3\0true"),
	           0600);
	setenv(PD_INHERITED_WORKERS, "abc", 1);
	CU_ASSERT_EQUAL(workers("abc", 0), 0);
	CU_ASSERT_EQUAL(workers("3", 0), 0);
	CU_ASSERT_EQUAL(post_opt(), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 0);

	/* but a bad explicit one is an error even when something was inherited */
	CU_ASSERT_EQUAL(load(S_CTX_LOCAL, NULL), 0);
	write_file(cmdline_file, CMD("srun\0--parade-workers=x\0true"), 0600);
	setenv(PD_INHERITED_WORKERS, "4", 1);
	CU_ASSERT_EQUAL(workers("4", 0), 0);
	CU_ASSERT_NOT_EQUAL(workers("x", 0), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(fake_error(0), "--parade-workers=x:"));

	/* no inherited value: whatever srun delivers is its own */
	CU_ASSERT_EQUAL(load(S_CTX_LOCAL, NULL), 0);
	CU_ASSERT_EQUAL(workers("5", 0), 0);
	CU_ASSERT_EQUAL(local_user_init(), 0);
	CU_ASSERT_STRING_EQUAL(getenv(PD_EXPLICIT_ENV), "1");

	/* no option here: an outer step's mark is cleared, none is added */
	CU_ASSERT_EQUAL(load(S_CTX_LOCAL, NULL), 0);
	CU_ASSERT_EQUAL(local_user_init(), 0);
	CU_ASSERT_PTR_NULL(getenv(PD_EXPLICIT_ENV));
	setenv(PD_EXPLICIT_ENV, "1", 1);
	CU_ASSERT_EQUAL(local_user_init(), 0);
	CU_ASSERT_STRING_EQUAL(getenv(PD_EXPLICIT_ENV), "0");

	/* sbatch (#SBATCH lines are not on its command line): always its own */
	CU_ASSERT_EQUAL(load(S_CTX_ALLOCATOR, NULL), 0);
	setenv(PD_INHERITED_WORKERS, "4", 1);
	CU_ASSERT_NOT_EQUAL(workers("0", 0), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 1);
	unsetenv(PD_INHERITED_WORKERS);
	unsetenv(PD_EXPLICIT_ENV);
}

/* ------------------------------------------------------------ slurmstepd */

static char home[200], agent_ok[200], agent_stubborn[200];

#define STEP_KEY "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int user_init(void)
{
	return slurm_spank_user_init(fake_handle(), 0, NULL);
}

/* A remote plugin with the stand-in agent, --parade-workers=n delivered
 * (twice, as Slurm 22.05 does), PARADE_HOME set and the step marked
 * explicit. */
static void remote(const char *agent, const char *n, const char *extra)
{
	char arg[600];
	const char *args[] = {arg, extra, NULL};

	snprintf(arg, sizeof(arg), "agent=%s", agent);
	CU_ASSERT_EQUAL(load(S_CTX_REMOTE, args), 0);
	fake_set_env("PARADE_HOME", home);
	fake_set_env(PD_EXPLICIT_ENV, "1");
	fake_set_env("PATH", "/usr/bin:/bin");
	fake_set_env("PARADE_SECRET", "do-not-leak");
	fake_set_env("FOO", "job-only");
	/* what srun passes: the step's secret and port, and its nodes */
	fake_set_env(PD_STEP_KEY_ENV, STEP_KEY);
	fake_set_env(PD_STEP_PORT_ENV, "6005");
	fake_set_env("SLURM_STEP_NODELIST", "n[7-9]");
	CU_ASSERT_EQUAL(workers(n, 1), 0);
	CU_ASSERT_EQUAL(workers(n, 1), 0);
	CU_ASSERT_EQUAL(post_opt(), 0);
}

static void read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Waits until the agent's log holds "ready"; returns the log. */
static int wait_log(const char *path, char *buf, size_t len)
{
	for (int i = 0; i < 500; i++) {
		read_text(path, buf, len);
		if (strstr(buf, "ready\n"))
			return 1;
		sleep_ms(10);
	}
	return 0;
}

/* Waits until pid has exec'd sleep (the stand-in's last act). */
static int wait_comm(pid_t pid)
{
	char path[64], comm[64];

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	for (int i = 0; i < 500; i++) {
		read_text(path, comm, sizeof(comm));
		if (!strcmp(comm, "sleep\n"))
			return 1;
		sleep_ms(10);
	}
	return 0;
}

/* "0 1 2 " for a process holding exactly stdin, stdout and stderr. */
static void fd_list(pid_t pid, char *out, size_t len)
{
	char path[64];
	int fds[64], n = 0;
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	out[0] = 0;
	if (!(dir = opendir(path)))
		return;
	while ((d = readdir(dir)) && n < 64)
		if (d->d_name[0] != '.')
			fds[n++] = atoi(d->d_name);
	closedir(dir);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (fds[j] < fds[i]) {
				int t = fds[i];
				fds[i] = fds[j];
				fds[j] = t;
			}
	for (int i = 0; i < n; i++)
		snprintf(out + strlen(out), len - strlen(out), "%d ", fds[i]);
}

static unsigned long long status_mask(pid_t pid, const char *key)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	read_text(path, buf, sizeof(buf));
	p = strstr(buf, key);
	return p ? strtoull(p + strlen(key), NULL, 16) : ~0ull;
}

static void test_remote_starts_and_ends(void)
{
	char log[512], text[8192], want[600], fds[128], link[512], path[300];
	sigset_t block, old;
	struct stat st;
	int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: must not reach agents */
	pid_t pid;

	remote(agent_ok, "5", "port_range=6000-6010");
	fake_set_item(S_JOB_NNODES, 2);
	fake_set_item(S_JOB_NODEID, 0);
	fake_set_item(S_JOB_NCPUS, 6); /* 2 slots for each of 3 agents */
	fake_set_item(S_JOB_LOCAL_TASK_COUNT, 2);
	fake_set_env("PARADE_STEP_SESSION", "stale-from-outer-step");
	snprintf(path, sizeof(path), "%s/sessions/slurm-42.7", home);
	mkdir(home, 0700);
	snprintf(link, sizeof(link), "%s/sessions", home);
	mkdir(link, 0700);
	mkdir(path, 0700);
	snprintf(link, sizeof(link), "%s/connection", path);
	write_file(link, "stale\n", 6, 0600);
	/* slurmstepd's children inherit a blocked SIGTERM */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	signal(SIGHUP, SIG_IGN);
	CU_ASSERT_EQUAL(user_init(), 0);
	CU_ASSERT_EQUAL(user_init(), 0); /* idempotent: still 3 agents */
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGHUP, SIG_DFL);
	close(leak);

	CU_ASSERT_STRING_EQUAL(pd_remote_error(), "");
	CU_ASSERT_EQUAL(pd_agents_alive(), 3); /* node 0 of 2 for 5 workers */
	/* the step's secret is out of the job's environment */
	CU_ASSERT_PTR_NULL(fake_env(PD_STEP_KEY_ENV));
	CU_ASSERT_PTR_NULL(fake_env(PD_STEP_PORT_ENV));
	CU_ASSERT_EQUAL(pd_agents_pid(3), -1);
	CU_ASSERT_STRING_EQUAL(fake_env("PARADE_STEP_SESSION") ?: "", "slurm-42.7");
	CU_ASSERT_STRING_EQUAL(fake_env("PARADE_STEP_WORKERS") ?: "", "5");
	CU_ASSERT_STRING_EQUAL(fake_env("PARADE_PORT_RANGE") ?: "", "6000-6010");
	CU_ASSERT_EQUAL(access(link, F_OK), -1); /* node 0 removed the stale connection */

	snprintf(log, sizeof(log), "%s/agent-0-2.log", path);
	CU_ASSERT_FATAL(wait_log(log, text, sizeof(text)));
	/* the connection text on stdin: node 0 of n[7-9] at srun's port */
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(text, "args: --connect - --stay --mode slurm --slots 2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "in: endpoint=tls+tcp://n7:6005\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "in: secret=" STEP_KEY "\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "in: session=slurm-42.7\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nSLURM_JOB_ID=42\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nSLURM_STEP_ID=7\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nSLURM_NODEID=0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nPATH=/usr/bin:/bin\n"));
	snprintf(want, sizeof(want), "\nPARADE_HOME=%s\n", home);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
	CU_ASSERT_PTR_NULL(strstr(text, "do-not-leak"));
	/* the job's environment, as an ordinary task gets it; not what the
	 * plugin tells the step's tasks */
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nFOO=job-only\n"));
	CU_ASSERT_PTR_NULL(strstr(text, "\nPARADE_STEP_"));
	CU_ASSERT_PTR_NULL(strstr(text, "\nPARADE_SPANK_"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nHOME="));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nUSER="));
	CU_ASSERT(stat(log, &st) == 0 && (st.st_mode & 0777) == 0600);
	CU_ASSERT(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700);

	pid = pd_agents_pid(2);
	CU_ASSERT_FATAL(wait_comm(pid));
	CU_ASSERT_EQUAL(getpgid(pid), pid); /* its own process group... */
	CU_ASSERT_EQUAL(getsid(pid), pid);  /* ...and session */
	/* (the dynamic loader of sleep briefly holds fd 3: look again) */
	for (int i = 0; i < 100; i++) {
		fd_list(pid, fds, sizeof(fds));
		if (!strcmp(fds, "0 1 2 "))
			break;
		sleep_ms(10);
	}
	CU_ASSERT_STRING_EQUAL(fds, "0 1 2 ");
	snprintf(want, sizeof(want), "/proc/%d/fd/1", (int)pid);
	memset(link, 0, sizeof(link));
	CU_ASSERT(readlink(want, link, sizeof(link) - 1) > 0);
	CU_ASSERT_STRING_EQUAL(link, log);
	snprintf(want, sizeof(want), "/proc/%d/fd/0", (int)pid);
	memset(link, 0, sizeof(link));
	CU_ASSERT(readlink(want, link, sizeof(link) - 1) > 0);
	CU_ASSERT_EQUAL(strncmp(link, "pipe:", 5), 0); /* the text, kept open */
	CU_ASSERT_EQUAL(status_mask(pid, "SigBlk:"), 0);
	/* signals 32 and 33 are glibc's own: a process cannot reset them, and
	 * some parents (make's, here) pass them on ignored */
	CU_ASSERT_EQUAL(status_mask(pid, "SigIgn:") & ~0x180000000ull, 0);

	/* task_init: nothing to report; the task gets the text in a sealed
	 * memory file */
	CU_ASSERT_EQUAL(slurm_spank_task_init(fake_handle(), 0, NULL), 0);
	CU_ASSERT_PTR_NULL(fake_env("PARADE_SPANK_ERROR"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(fake_env(PD_STEP_FD_ENV));
	{
		int tfd = atoi(fake_env(PD_STEP_FD_ENV));
		ssize_t got;
		CU_ASSERT(tfd > 9);
		CU_ASSERT_EQUAL(write(tfd, "x", 1), -1); /* sealed */
		got = read(tfd, text, sizeof(text) - 1);
		text[got > 0 ? got : 0] = 0;
		CU_ASSERT_PTR_NOT_NULL(strstr(text, "endpoint=tls+tcp://n7:6005\n"));
		CU_ASSERT_PTR_NOT_NULL(strstr(text, "secret=" STEP_KEY "\nend\n"));
		close(tfd);
	}
	/* the first of 2 local tasks ends: agents stay; the second: they go */
	CU_ASSERT_EQUAL(slurm_spank_task_exit(fake_handle(), 0, NULL), 0);
	CU_ASSERT_EQUAL(pd_agents_alive(), 3);
	CU_ASSERT_EQUAL(slurm_spank_task_exit(fake_handle(), 0, NULL), 0);
	CU_ASSERT_EQUAL(pd_agents_alive(), 0);
	CU_ASSERT_EQUAL(kill(pid, 0), -1); /* reaped, not a zombie */
	CU_ASSERT_EQUAL(slurm_spank_exit(fake_handle(), 0, NULL), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 0);
}

static void test_remote_other_node_and_batch(void)
{
	char log[512], text[8192], conn[512];

	/* node 2 of 3 for 4 workers: one agent, named for its node; it leaves
	 * a connection file alone (node 0's task 0 may have written it) */
	remote(agent_ok, "4", "agent_log=session");
	fake_set_item(S_JOB_NNODES, 3);
	fake_set_item(S_JOB_NODEID, 2);
	snprintf(conn, sizeof(conn), "%s/sessions/slurm-42.7/connection", home);
	write_file(conn, "fresh\n", 6, 0600);
	CU_ASSERT_EQUAL(user_init(), 0);
	CU_ASSERT_EQUAL(pd_agents_alive(), 1);
	snprintf(log, sizeof(log), "%s/sessions/slurm-42.7/agent-2-0.log", home);
	CU_ASSERT(wait_log(log, text, sizeof(text)));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nSLURM_NODEID=2\n"));
	CU_ASSERT_EQUAL(access(conn, F_OK), 0);
	CU_ASSERT_EQUAL(slurm_spank_exit(fake_handle(), 0, NULL), 0);
	CU_ASSERT_EQUAL(pd_agents_alive(), 0);

	/* the batch step acts without PARADE_SPANK_EXPLICIT; Slurm says it
	 * has 0 nodes */
	remote(agent_ok, "2", "debug=1");
	fake_set_env(PD_EXPLICIT_ENV, NULL);
	fake_set_env(PD_STEP_KEY_ENV, NULL); /* no srun: it makes its own */
	fake_set_env(PD_STEP_PORT_ENV, NULL);
	fake_set_env("SLURMD_NODENAME", "b1");
	fake_set_item(S_JOB_STEPID, (long)PD_STEP_BATCH);
	fake_set_item(S_JOB_NNODES, 0);
	CU_ASSERT_EQUAL(user_init(), 0);
	CU_ASSERT_EQUAL(pd_agents_alive(), 2);
	CU_ASSERT_STRING_EQUAL(fake_env("PARADE_STEP_SESSION") ?: "", "slurm-42.batch");
	snprintf(log, sizeof(log), "%s/sessions/slurm-42.batch/agent-0-0.log", home);
	CU_ASSERT(wait_log(log, text, sizeof(text)));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nSLURM_STEP_ID=batch\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, " --slots 1 -v\n")); /* debug=1 */
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "in: endpoint=tls+tcp://b1:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "in: secret="));
	CU_ASSERT_PTR_NULL(strstr(text, "in: secret=" STEP_KEY));
	CU_ASSERT(fake_ninfos() > 0);
	CU_ASSERT_EQUAL(strncmp(fake_info(0), "parade: ", 8), 0);
	CU_ASSERT_EQUAL(slurm_spank_exit(fake_handle(), 0, NULL), 0);
	CU_ASSERT_EQUAL(pd_agents_alive(), 0);
}

static void test_remote_inherited(void)
{
	/* an inner srun of that batch job: the option is inherited */
	remote(agent_ok, "4", NULL);
	fake_set_env(PD_EXPLICIT_ENV, "0");
	fake_set_env("PARADE_STEP_SESSION", "slurm-42.batch");
	fake_set_env("PARADE_STEP_WORKERS", "4");
	CU_ASSERT_EQUAL(user_init(), 0);
	CU_ASSERT_EQUAL(pd_agents_alive(), 0);
	CU_ASSERT_PTR_NULL(fake_env("PARADE_STEP_SESSION"));
	CU_ASSERT_PTR_NULL(fake_env("PARADE_STEP_WORKERS"));
	CU_ASSERT_EQUAL(slurm_spank_task_init(fake_handle(), 0, NULL), 0);
	CU_ASSERT_PTR_NULL(fake_env("PARADE_SPANK_ERROR"));
	/* without the mark at all (srun without the plugin): the same */
	remote(agent_ok, "4", NULL);
	fake_set_env(PD_EXPLICIT_ENV, NULL);
	CU_ASSERT_EQUAL(user_init(), 0);
	CU_ASSERT_EQUAL(pd_agents_alive(), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 0);
}

static void test_remote_controller(void)
{
	char log[512], text[8192], want[600], cwd[512], link[512], conn[300];

	/* the file must be readable on the node, as the user */
	snprintf(conn, sizeof(conn), "%s/conn", tmp);
	write_file(conn, "x\n", 2, 0600);
	remote(agent_ok, "1", NULL);
	CU_ASSERT_EQUAL(controller(conn, 1), 0);
	fake_set_env("PARADE_STEP_SESSION", "stale");
	CU_ASSERT_EQUAL(user_init(), 0);
	CU_ASSERT_STRING_EQUAL(pd_remote_error(), "");
	CU_ASSERT_PTR_NULL(fake_env("PARADE_STEP_SESSION"));
	CU_ASSERT_STRING_EQUAL(fake_env("PARADE_STEP_WORKERS") ?: "", "1");
	snprintf(log, sizeof(log), "%s/sessions/slurm-42.7-agents/agent-0-0.log", home);
	CU_ASSERT(wait_log(log, text, sizeof(text)));
	snprintf(want, sizeof(want), "args: --connect %s --mode slurm --slots 1\n", conn);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
	/* no step text: the tasks get none */
	CU_ASSERT_EQUAL(slurm_spank_task_init(fake_handle(), 0, NULL), 0);
	CU_ASSERT_PTR_NULL(fake_env(PD_STEP_FD_ENV));
	CU_ASSERT_EQUAL(slurm_spank_exit(fake_handle(), 0, NULL), 0);

	/* PARADE_CONNECT in the job's environment, relative to the job's cwd */
	unlink(log); /* agents append */
	mkdir("rel", 0700);
	write_file("rel/conn", "x\n", 2, 0600);
	remote(agent_ok, "1", NULL);
	fake_set_env("PARADE_CONNECT", "rel/conn");
	CU_ASSERT_EQUAL(user_init(), 0);
	CU_ASSERT(wait_log(log, text, sizeof(text)));
	CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof(cwd)));
	snprintf(want, sizeof(want), "args: --connect %s/rel/conn --mode slurm --slots 1\n", cwd);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
	CU_ASSERT_EQUAL(slurm_spank_exit(fake_handle(), 0, NULL), 0);
	unlink("rel/conn");
	rmdir("rel");

	/* agent_log=none: stdout and stderr go to /dev/null */
	remote(agent_ok, "1", "agent_log=none");
	CU_ASSERT_EQUAL(controller(conn, 1), 0);
	CU_ASSERT_EQUAL(user_init(), 0);
	CU_ASSERT_EQUAL(pd_agents_alive(), 1);
	CU_ASSERT_FATAL(wait_comm(pd_agents_pid(0)));
	snprintf(want, sizeof(want), "/proc/%d/fd/1", (int)pd_agents_pid(0));
	memset(link, 0, sizeof(link));
	CU_ASSERT(readlink(want, link, sizeof(link) - 1) > 0);
	CU_ASSERT_STRING_EQUAL(link, "/dev/null");
	CU_ASSERT_EQUAL(slurm_spank_exit(fake_handle(), 0, NULL), 0);
	CU_ASSERT_EQUAL(pd_agents_alive(), 0);

	/* a file the node cannot read: no agent, and every task fails at
	 * once, the first of the node naming the file */
	remote(agent_ok, "2", NULL);
	CU_ASSERT_EQUAL(controller("/nonexistent/conn", 1), 0);
	CU_ASSERT_EQUAL(user_init(), 0);
	CU_ASSERT_EQUAL(pd_agents_alive(), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(pd_remote_error(), "cannot read /nonexistent/conn"));
	fake_set_item(S_TASK_ID, 0);
	CU_ASSERT_EQUAL(slurm_spank_task_init(fake_handle(), 0, NULL), -1);
	CU_ASSERT(fake_nerrors() > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(fake_error(0), "/nonexistent/conn"));
	CU_ASSERT_EQUAL(slurm_spank_exit(fake_handle(), 0, NULL), 0);
	unlink(conn);
}

static void test_remote_failures(void)
{
	char missing[512];

	/* no agent binary: user_init still succeeds; the tasks are told */
	snprintf(missing, sizeof(missing), "%s/no-such-agent", tmp);
	remote(missing, "2", NULL);
	CU_ASSERT_EQUAL(user_init(), 0);
	CU_ASSERT_EQUAL(pd_agents_alive(), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(pd_remote_error(), "2 of 2 agents did not start"));
	CU_ASSERT_PTR_NOT_NULL(strstr(pd_remote_error(), "cannot execute"));
	CU_ASSERT_PTR_NOT_NULL(strstr(pd_remote_error(), "No such file or directory"));
	CU_ASSERT_EQUAL(fake_nerrors(), 0); /* slurmd's log at info level... */
	CU_ASSERT(fake_ninfos() > 0);
	fake_set_item(S_TASK_ID, 1);
	CU_ASSERT_EQUAL(slurm_spank_task_init(fake_handle(), 0, NULL), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 0); /* ...one error line per node, from task 0 */
	CU_ASSERT_STRING_EQUAL(fake_env("PARADE_SPANK_ERROR") ?: "", pd_remote_error());
	fake_set_item(S_TASK_ID, 0);
	CU_ASSERT_EQUAL(slurm_spank_task_init(fake_handle(), 0, NULL), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 1);
	CU_ASSERT_EQUAL(strncmp(fake_error(0), "parade: ", 8), 0);
	CU_ASSERT_EQUAL(slurm_spank_task_exit(fake_handle(), 0, NULL), 0);
	CU_ASSERT_EQUAL(slurm_spank_exit(fake_handle(), 0, NULL), 0);

	/* a bad value that reached slurmstepd anyway */
	remote(agent_ok, "many", NULL);
	CU_ASSERT_EQUAL(user_init(), 0);
	CU_ASSERT_EQUAL(pd_agents_alive(), 0);
	CU_ASSERT_EQUAL(slurm_spank_task_init(fake_handle(), 0, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(fake_env("PARADE_SPANK_ERROR") ?: "", "--parade-workers=many"));

	/* a bad plugstack.conf on the node */
	{
		static const char *const bad[] = {"max_workers=x", NULL};
		CU_ASSERT_EQUAL(load(S_CTX_REMOTE, bad), 0);
		fake_set_env(PD_EXPLICIT_ENV, "1");
		CU_ASSERT_EQUAL(workers("2", 1), 0);
		CU_ASSERT_EQUAL(user_init(), 0);
		CU_ASSERT_EQUAL(slurm_spank_task_init(fake_handle(), 0, NULL), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(fake_env("PARADE_SPANK_ERROR") ?: "", "plugstack"));
	}

	/* PARADE_HOME that cannot be created: the agents say which folder */
	remote(agent_ok, "1", NULL);
	fake_set_env("PARADE_HOME", "/proc/parade-cannot-be-here");
	CU_ASSERT_EQUAL(user_init(), 0);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(pd_remote_error(), "cannot create /proc/parade-cannot-be-here"));
	CU_ASSERT_EQUAL(slurm_spank_exit(fake_handle(), 0, NULL), 0);
}

/* A hostile PARADE_HOME: the step's agents would read
 * sessions/NAME/connection, which whoever can write there could plant to
 * send them to a controller of theirs. user_init starts no agent, the
 * tasks are told which folder is wrong and why (task 0 on stderr, with
 * "parade: "), and nothing in or through the folder is touched. */
static void hostile_case(const char *hhome, const char *why, const char *stale)
{
	char want[700];

	remote(agent_ok, "2", NULL);
	fake_set_env("PARADE_HOME", hhome);
	CU_ASSERT_EQUAL(user_init(), 0);
	CU_ASSERT_EQUAL(pd_agents_alive(), 0);
	CU_ASSERT_EQUAL(pd_agents_pid(0), -1);
	if (!strstr(pd_remote_error(), why))
		fprintf(stderr, "\nwanted '%s' in '%s'\n", why, pd_remote_error());
	CU_ASSERT_PTR_NOT_NULL(strstr(pd_remote_error(), why));
	CU_ASSERT_PTR_NOT_NULL(strstr(pd_remote_error(), "2 of 2 agents did not start"));
	fake_set_item(S_TASK_ID, 0);
	CU_ASSERT_EQUAL(slurm_spank_task_init(fake_handle(), 0, NULL), 0);
	CU_ASSERT_EQUAL(fake_nerrors(), 1);
	snprintf(want, sizeof(want), "parade: %s", pd_remote_error());
	CU_ASSERT_STRING_EQUAL(fake_nerrors() ? fake_error(0) : "", want);
	CU_ASSERT_STRING_EQUAL(fake_env("PARADE_SPANK_ERROR") ?: "", pd_remote_error());
	if (stale) /* the planted connection file is left as it was */
		CU_ASSERT_EQUAL(access(stale, F_OK), 0);
	CU_ASSERT_EQUAL(slurm_spank_exit(fake_handle(), 0, NULL), 0);
}

/* Makes system call nr whose argument arg equals v end in action, for
 * this process and what it forks (a real kernel filter: seccomp). */
static int seccomp_arg(long nr, int arg, uint64_t v, uint32_t action)
{
	const uint32_t lo = offsetof(struct seccomp_data, args[0]) + 8 * (uint32_t)arg;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 5),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, lo + (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0 : 4)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)v, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, lo + (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 4 : 0)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(v >> 32), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};

	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/* Every call of nr ends in action. */
static int seccomp_all(long nr, uint32_t action)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};

	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/* In a child of the test: the folder check's mkdir of dir is made to end
 * in action (and, with nowrite, every write to fail, so no report can be
 * sent); then 2 agents are started. Exit 0: none started and err said
 * want; 3: agents started (the check failed open); 4: another outcome;
 * 5: the filter could not be installed. */
static int check_dies(uint32_t action, int nowrite, const char *want)
{
	char dir[300], err[1024] = "";
	char *argv[] = {agent_ok, NULL};
	extern char **environ;
	pd_agent_spec s;
	unsigned failed, alive;
	int st = -1;
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s/prep-%u-%d", tmp, (unsigned)action, nowrite);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		memset(&s, 0, sizeof(s));
		s.path = agent_ok;
		s.argv = argv;
		s.envp = environ;
		s.uid = geteuid();
		s.gid = getegid();
		s.umask = 077;
		s.dirs[0] = dir;
		s.timeout_ms = 5000;
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(5);
#ifdef SYS_mkdir
		if (seccomp_arg(SYS_mkdir, 0, (uintptr_t)dir, action) < 0)
			_exit(5);
#endif
		if (seccomp_arg(SYS_mkdirat, 1, (uintptr_t)dir, action) < 0)
			_exit(5);
		if (nowrite && seccomp_all(SYS_write, SECCOMP_RET_ERRNO | EIO) < 0)
			_exit(5);
		failed = pd_agents_start(&s, 2, err, sizeof(err));
		alive = pd_agents_alive();
		pd_agents_stop(2000);
		if (failed == 2 && alive == 0 && strstr(err, want))
			_exit(0);
		if (!nowrite)
			fprintf(stderr, "\n  failed %u, alive %u, err '%s', want '%s'\n", failed,
				alive, err, want);
		_exit(failed == 0 ? 3 : 4);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

/* The folder check fails closed: when its child is killed, or exits
 * without sending its report, no agent starts. */
static void test_prepare_fails_closed(void)
{
#ifdef SECCOMP_RET_KILL_PROCESS
	const uint32_t kill_it = SECCOMP_RET_KILL_PROCESS;
#else
	const uint32_t kill_it = SECCOMP_RET_KILL;
#endif
	int rv;

	rv = check_dies(kill_it, 0, "the folder check did not complete: it was ended by signal");
	if (rv == 5) {
		fprintf(stderr, "\n  SKIP: seccomp filters are not allowed here\n");
		return;
	}
	CU_ASSERT_EQUAL(rv, 0);
	/* mkdir fails, and the report of it cannot be written */
	rv = check_dies(SECCOMP_RET_ERRNO | EACCES, 1,
			"the folder check did not complete: it exited with status 127 and no report");
	CU_ASSERT_EQUAL(rv, 0);
	/* the filter itself is sound: mkdir refused, the report sent */
	rv = check_dies(SECCOMP_RET_ERRNO | EACCES, 0, "cannot create");
	CU_ASSERT_EQUAL(rv, 0);
}

static void test_remote_hostile_home(void)
{
	char hhome[300], sess[400], step[500], conn[600], elsewhere[300], why[1400], log[600];
	char target[400], cmd[1200];

	snprintf(hhome, sizeof(hhome), "%s/hostile", tmp);
	snprintf(sess, sizeof(sess), "%s/sessions", hhome);
	snprintf(step, sizeof(step), "%s/slurm-42.7", sess);
	snprintf(conn, sizeof(conn), "%s/connection", step);
	CU_ASSERT_FATAL(mkdir(hhome, 0700) == 0 && mkdir(sess, 0700) == 0 && mkdir(step, 0700) == 0);
	write_file(conn, "planted\n", 8, 0600);

	/* sessions/ writable by others: anyone could have planted the file */
	CU_ASSERT_FATAL(chmod(sess, 0777) == 0);
	snprintf(why, sizeof(why),
		 "%s is writable by group or others (mode 0777), so they could replace what "
		 "parade keeps there: run chmod 700 %s, or choose another PARADE_HOME",
		 sess, sess);
	hostile_case(hhome, why, conn);
	/* group-writable, with the sticky bit: the same */
	CU_ASSERT_FATAL(chmod(sess, 01770) == 0);
	snprintf(why, sizeof(why), "%s is writable by group or others (mode 1770)", sess);
	hostile_case(hhome, why, conn);
	CU_ASSERT_FATAL(chmod(sess, 0700) == 0);
	/* the home itself writable by group */
	CU_ASSERT_FATAL(chmod(hhome, 0770) == 0);
	snprintf(why, sizeof(why), "%s is writable by group or others (mode 0770)", hhome);
	hostile_case(hhome, why, conn);
	CU_ASSERT_FATAL(chmod(hhome, 0700) == 0);

	/* the session folder a link (to a folder of the user's): not followed,
	 * nothing written or removed through it */
	snprintf(elsewhere, sizeof(elsewhere), "%s/elsewhere", tmp);
	CU_ASSERT_FATAL(mkdir(elsewhere, 0700) == 0);
	snprintf(target, sizeof(target), "%s/connection", elsewhere);
	write_file(target, "planted\n", 8, 0600);
	CU_ASSERT_FATAL(unlink(conn) == 0 && rmdir(step) == 0 && symlink(elsewhere, step) == 0);
	snprintf(why, sizeof(why),
		 "%s is a symbolic link: parade never follows links inside PARADE_HOME; remove it",
		 step);
	hostile_case(hhome, why, target);
	snprintf(log, sizeof(log), "%s/agent-0-0.log", elsewhere);
	CU_ASSERT_EQUAL(access(log, F_OK), -1);
	CU_ASSERT_FATAL(unlink(step) == 0);

	/* sessions/ a link: the same */
	CU_ASSERT_FATAL(rmdir(sess) == 0 && symlink(elsewhere, sess) == 0);
	snprintf(why, sizeof(why), "%s is a symbolic link", sess);
	hostile_case(hhome, why, target);
	CU_ASSERT_FATAL(unlink(sess) == 0);

	/* the home may be a link the user made (~/.parade -> /scratch/...):
	 * what it leads to is checked, and used */
	snprintf(target, sizeof(target), "%s/home-link", tmp);
	CU_ASSERT_FATAL(symlink(hhome, target) == 0);
	remote(agent_ok, "1", NULL);
	fake_set_env("PARADE_HOME", target);
	CU_ASSERT_EQUAL(user_init(), 0);
	CU_ASSERT_STRING_EQUAL(pd_remote_error(), "");
	CU_ASSERT_EQUAL(pd_agents_alive(), 1);
	CU_ASSERT_EQUAL(slurm_spank_exit(fake_handle(), 0, NULL), 0);

	/* another user's home (as root: a real second owner) */
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: (not root: a home of another user not tested) ");
	} else {
		CU_ASSERT_FATAL(chown(hhome, 65534, 65534) == 0);
		snprintf(why, sizeof(why),
			 "%s belongs to uid 65534 (nobody), not to this user: parade keeps its "
			 "sessions only in folders of its own; choose another PARADE_HOME",
			 hhome);
		hostile_case(hhome, why, NULL);
		CU_ASSERT_FATAL(chown(hhome, 0, 0) == 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s' '%s'", hhome, target, elsewhere);
	CU_ASSERT(system(cmd) == 0);
}

static void test_remote_stubborn_agent(void)
{
	struct timespec a, b;
	double secs;

	remote(agent_stubborn, "2", NULL);
	CU_ASSERT_EQUAL(user_init(), 0);
	CU_ASSERT_EQUAL(pd_agents_alive(), 2);
	/* both past their trap (a SIGTERM before it ends one) */
	CU_ASSERT_FATAL(wait_comm(pd_agents_pid(0)));
	CU_ASSERT_FATAL(wait_comm(pd_agents_pid(1)));
	/* SIGTERM is ignored: task_exit waits a little, then exit kills */
	CU_ASSERT_EQUAL(slurm_spank_task_exit(fake_handle(), 0, NULL), 0);
	CU_ASSERT_EQUAL(pd_agents_alive(), 2);
	clock_gettime(CLOCK_MONOTONIC, &a);
	CU_ASSERT_EQUAL(slurm_spank_exit(fake_handle(), 0, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	CU_ASSERT_EQUAL(pd_agents_alive(), 0);
	CU_ASSERT(secs >= 1.9 && secs < 4.0);
}

/* An agent failing in a step of its own (as the user, before exec) is
 * named with that step; one stuck before exec is not waited for past
 * timeout_ms, and is still ended with the others. */
static void test_agent_steps(void)
{
	char dir[300], logp[400], err[1024], want[600];
	char *argv[] = {agent_ok, NULL};
	extern char **environ;
	pd_agent_spec s;
	unsigned failed;

	snprintf(dir, sizeof(dir), "%s/steps", tmp);
	CU_ASSERT_FATAL(mkdir(dir, 0700) == 0);
	memset(&s, 0, sizeof(s));
	s.path = agent_ok;
	s.argv = argv;
	s.envp = environ;
	s.uid = geteuid();
	s.gid = getegid();
	s.umask = 077;
	s.logdir = dir;
	s.timeout_ms = 5000;

	/* agent 1's log is a link: O_NOFOLLOW refuses it, agent 0 runs */
	snprintf(logp, sizeof(logp), "%s/agent-0-1.log", dir);
	CU_ASSERT_FATAL(symlink("/dev/null", logp) == 0);
	err[0] = 0;
	failed = pd_agents_start(&s, 2, err, sizeof(err));
	CU_ASSERT_EQUAL(failed, 1);
	snprintf(want, sizeof(want), "agent 1: cannot open its log %s: %s", dir, strerror(ELOOP));
	CU_ASSERT_STRING_EQUAL(err, want);
	CU_ASSERT_EQUAL(pd_agents_alive(), 1);
	pd_agents_stop(2000);
	CU_ASSERT_EQUAL(pd_agents_alive(), 0);
	unlink(logp);

	/* agent 0's log is a FIFO nobody reads: its open blocks (as on a hung
	 * file system); the start returns after timeout_ms with both agents
	 * started, and stopping them ends the stuck one too */
	snprintf(logp, sizeof(logp), "%s/agent-0-0.log", dir);
	unlink(logp); /* agent 0's log of the first round */
	CU_ASSERT_FATAL(mkfifo(logp, 0600) == 0);
	s.timeout_ms = 300;
	err[0] = 0;
	failed = pd_agents_start(&s, 2, err, sizeof(err));
	CU_ASSERT_EQUAL(failed, 0);
	CU_ASSERT_STRING_EQUAL(err, "agents still starting after 300 ms");
	CU_ASSERT_EQUAL(pd_agents_alive(), 2);
	pd_agents_stop(2000);
	CU_ASSERT_EQUAL(pd_agents_alive(), 0);
	unlink(logp);
	pd_agents_forget();
}

static int set_oom_score(const char *v)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY), rv = -1;

	if (fd >= 0 && write(fd, v, strlen(v)) == (ssize_t)strlen(v))
		rv = 0;
	if (fd >= 0)
		close(fd);
	return rv;
}

/* As root: the agent really becomes another user, as from slurmstepd
 * (real uid 0, effective uid and groups the user's). */
static void test_remote_drops_privileges(void)
{
	char log[512], text[8192], nhome[200];
	gid_t saved[256], nobody = 65534;
	int nsaved;
	struct stat st;

	if (geteuid() != 0 || getuid() != 0) {
		fprintf(stderr, "(not root: privilege drop not tested) ");
		return;
	}
	snprintf(nhome, sizeof(nhome), "%s/nobody-home", tmp);
	mkdir(nhome, 0700);
	CU_ASSERT_FATAL(chown(nhome, 65534, 65534) == 0);
	remote(agent_ok, "1", NULL);
	fake_set_env("PARADE_HOME", nhome);
	fake_set_item(S_JOB_UID, 65534);
	fake_set_item(S_JOB_GID, 65534);
	nsaved = getgroups(256, saved);
	CU_ASSERT_FATAL(nsaved >= 0);
	/* slurmstepd keeps itself away from the OOM killer; agents must not */
	/* (-1000 needs CAP_SYS_RESOURCE, which containers may lack; any value
	 * the agents must undo will do) */
	CU_ASSERT_FATAL(set_oom_score("-1000") == 0 || set_oom_score("500") == 0);
	CU_ASSERT_FATAL(setgroups(1, &nobody) == 0 && setegid(65534) == 0 && seteuid(65534) == 0);
	CU_ASSERT_EQUAL(user_init(), 0);
	CU_ASSERT_FATAL(seteuid(0) == 0 && setegid(0) == 0 &&
	                setgroups((size_t)nsaved, saved) == 0);
	set_oom_score("0");
	CU_ASSERT_STRING_EQUAL(pd_remote_error(), "");
	snprintf(log, sizeof(log), "%s/sessions/slurm-42.7/agent-0-0.log", nhome);
	CU_ASSERT_FATAL(wait_log(log, text, sizeof(text)));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "ids: 65534 65534 65534\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "oom: 0\n"));
	CU_ASSERT(stat(log, &st) == 0 && st.st_uid == 65534 && (st.st_mode & 0777) == 0600);
	CU_ASSERT_EQUAL(slurm_spank_exit(fake_handle(), 0, NULL), 0);
	CU_ASSERT_EQUAL(pd_agents_alive(), 0);
}

/* ------------------------------------------------------------------ main */

static int write_agents(void)
{
	static const char ok[] = "#!/bin/sh\n"
	                         "echo \"args: $*\"\n"
	                         "echo \"ids: $(id -u) $(id -g) $(id -G)\"\n"
	                         "echo \"oom: $(cat /proc/$$/oom_score_adj)\"\n"
	                         "while IFS= read -r l; do echo \"in: $l\";\n"
	                         "  [ \"$l\" = end ] && break; done\n"
	                         "env | sort\n"
	                         "echo ready\n"
	                         "exec sleep 30\n";
	static const char stubborn[] = "#!/bin/sh\n"
	                               "trap '' TERM\n"
	                               "echo ready\n"
	                               "exec sleep 30\n";

	snprintf(agent_ok, sizeof(agent_ok), "%s/agent.sh", tmp);
	snprintf(agent_stubborn, sizeof(agent_stubborn), "%s/stubborn.sh", tmp);
	if (put_file(agent_ok, ok, sizeof(ok) - 1, 0755) < 0 ||
	    put_file(agent_stubborn, stubborn, sizeof(stubborn) - 1, 0755) < 0)
		return -1;
	return 0;
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;
	char cmd[300];

	snprintf(tmp, sizeof(tmp), "/tmp/pd-test-spank-XXXXXX");
	if (!mkdtemp(tmp))
		return 2;
	chmod(tmp, 0755); /* the privilege test's user reads the stand-in agent */
	snprintf(home, sizeof(home), "%s/home", tmp);
	snprintf(cmdline_file, sizeof(cmdline_file), "%s/cmdline", tmp);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("spank opts", NULL, NULL);
	CU_add_test(s, "--parade-workers values", test_workers_values);
	CU_add_test(s, "plugstack arguments", test_plugstack_args);
	CU_add_test(s, "port ranges", test_ports);
	CU_add_test(s, "workers per node", test_node_share);
	CU_add_test(s, "explicit on the command line", test_cmdline);
	CU_add_test(s, "session names, acting steps", test_names_and_acting);
	s = CU_add_suite("spank srun/sbatch", NULL, NULL);
	CU_add_test(s, "options registered", test_registration);
	CU_add_test(s, "bad plugstack.conf", test_bad_plugstack);
	CU_add_test(s, "bad --parade-workers", test_bad_workers_local);
	CU_add_test(s, "options delivered twice", test_twice);
	CU_add_test(s, "controller file", test_controller_file);
	CU_add_test(s, "inherited or explicit", test_inherited_or_explicit);
	s = CU_add_suite("spank slurmstepd", write_agents, NULL);
	CU_add_test(s, "agents start and end", test_remote_starts_and_ends);
	CU_add_test(s, "other node, batch step", test_remote_other_node_and_batch);
	CU_add_test(s, "inherited option ignored", test_remote_inherited);
	CU_add_test(s, "controller file", test_remote_controller);
	CU_add_test(s, "failures reach the tasks", test_remote_failures);
	CU_add_test(s, "agents ignoring SIGTERM", test_remote_stubborn_agent);
	CU_add_test(s, "hostile PARADE_HOME refused", test_remote_hostile_home);
	CU_add_test(s, "the folder check fails closed", test_prepare_fails_closed);
	CU_add_test(s, "privileges dropped", test_remote_drops_privileges);
	CU_add_test(s, "an agent's own steps", test_agent_steps);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	pd_agents_stop(100);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
	return fails ? 1 : 0;
}
