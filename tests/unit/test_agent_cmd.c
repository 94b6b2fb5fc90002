/* test_agent_cmd.c - agent_cmd.h: the agent's command line as each
 * launcher builds it (local, ssh, sbatch, the SPANK plugin), its shell
 * form run by real shells and compared with the argv form, and the
 * environment builder. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_cmd.h"
#include "spawn.h"

static char tmp[128];

static void expect_argv(const pd_agent_argv *a, const char *const *want)
{
	size_t i;

	for (i = 0; want[i]; i++) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(a->argv[i]);
		if (strcmp(a->argv[i], want[i]))
			fprintf(stderr, "\n  argv[%zu] '%s', want '%s'\n", i, a->argv[i], want[i]);
		CU_ASSERT_STRING_EQUAL(a->argv[i], want[i]);
	}
	CU_ASSERT_PTR_NULL(a->argv[i]);
}

/* The shell form, NUL-ended, compared with want. */
static void expect_shell(const pd_agent_cmd *c, unsigned flags, const char *want)
{
	pd_buf b = {0};

	CU_ASSERT_EQUAL_FATAL(pd_agent_cmd_shell(c, flags, &b), 0);
	pd_buf_append(&b, "", 1);
	if (strcmp((const char *)pd_buf_head(&b), want))
		fprintf(stderr, "\n  got  '%s'\n  want '%s'\n", (const char *)pd_buf_head(&b),
		        want);
	CU_ASSERT_STRING_EQUAL((const char *)pd_buf_head(&b), want);
	pd_buf_free(&b);
}

/* controller/launch_local.c: --url for a session with an ipc:// endpoint,
 * else --connect FILE --local; then the options run.c adds */
static void test_local(void)
{
	pd_agent_cmd c = {0};
	pd_agent_argv a;
	const char *url[] = {"/b/parade-agent",
	                     "--url",
	                     "ipc:///h/s/ctl.ipc",
	                     "--mode",
	                     "local",
	                     "--slots",
	                     "1",
	                     NULL};
	const char *file[] = {"/b/parade-agent", "--connect", "/h/s/connection",
	                      "--local",         "--mode",    "local",
	                      "--slots",         "12",        "-v",
	                      "--coproc",        "cat -u",    NULL};

	c.program = "/b/parade-agent";
	c.url = "ipc:///h/s/ctl.ipc";
	c.connect = "/h/s/connection"; /* ignored next to url */
	c.mode = "local";
	c.slots = 1;
	CU_ASSERT_EQUAL(pd_agent_cmd_argv(&c, &a), 0);
	expect_argv(&a, url);

	c.url = NULL;
	c.local = 1;
	c.slots = 12;
	c.verbose = 1;
	c.coproc = "cat -u";
	CU_ASSERT_EQUAL(pd_agent_cmd_argv(&c, &a), 0);
	expect_argv(&a, file);
}

/* agent/ssh.c: `exec AGENT --connect - --mode ssh --slots K [-v]
 * [--coproc 'COMMAND']`, and the script form's `AGENT --connect "$f"
 * --exit-on-eof ...` (the strings test_ssh.c asserts) */
static void test_ssh(void)
{
	pd_agent_cmd c = {0};
	const unsigned words = PD_AGENT_SH_WORDS;

	c.program = "parade-agent";
	c.connect = "-";
	c.mode = "ssh";
	c.slots = 1;
	expect_shell(&c, words, "parade-agent --connect - --mode ssh --slots 1");
	c.program = "/opt/my tools/parade-agent";
	expect_shell(&c, words, "'/opt/my tools/parade-agent' --connect - --mode ssh --slots 1");
	c.program = "~/bin/parade-agent";
	expect_shell(&c, words, "~/bin/parade-agent --connect - --mode ssh --slots 1");
	c.program = "/opt/parade/bin/parade-agent";
	c.slots = 4;
	c.verbose = 1;
	expect_shell(&c, words, "/opt/parade/bin/parade-agent --connect - --mode ssh --slots 4 -v");
	c.program = "parade-agent";
	c.slots = 1;
	c.coproc = "while read l; do echo \"$l\"; done";
	expect_shell(&c, words,
	             "parade-agent --connect - --mode ssh --slots 1 -v --coproc "
	             "'while read l; do echo \"$l\"; done'");
	c.verbose = 0;
	c.coproc = "a'b $c\nd";
	expect_shell(&c, words,
	             "parade-agent --connect - --mode ssh --slots 1 --coproc 'a'\\''b $c\nd'");
	/* the script form: the file is the script's "$f" */
	c.connect = "\"$f\"";
	c.exit_on_eof = 1;
	expect_shell(&c, words | PD_AGENT_SH_CONNECT_RAW,
	             "parade-agent --connect \"$f\" --exit-on-eof --mode ssh --slots 1 --coproc "
	             "'a'\\''b $c\nd'");
	/* --stay: a flag after --exit-on-eof */
	c.stay = 1;
	expect_shell(&c, words | PD_AGENT_SH_CONNECT_RAW,
	             "parade-agent --connect \"$f\" --exit-on-eof --stay --mode ssh --slots 1 "
	             "--coproc 'a'\\''b $c\nd'");
	c.stay = 0;
	/* --follow: a flag after --stay's place */
	c.follow = 1;
	c.coproc = NULL;
	expect_shell(&c, words | PD_AGENT_SH_CONNECT_RAW,
	             "parade-agent --connect \"$f\" --exit-on-eof --follow --mode ssh --slots 1");
	c.follow = 0;
	c.coproc = "a'b $c\nd";
	/* an empty program word is quoted, never dropped */
	c.program = "x";
	c.connect = "";
	c.exit_on_eof = 0;
	c.coproc = NULL;
	expect_shell(&c, words, "x --connect '' --mode ssh --slots 1");
}

/* controller/launch_slurm.c: `srun ... 'AGENT' --connect 'FILE' --mode
 * slurm --grace 30 [--coproc 'COMMAND']`: every value quoted */
static void test_sbatch(void)
{
	pd_agent_cmd c = {0};

	c.program = "/usr/bin/parade-agent";
	c.connect = "/home/a b/.parade/sessions/s/connection";
	c.mode = "slurm";
	c.grace_s = 30;
	expect_shell(&c, 0,
	             "'/usr/bin/parade-agent' --connect '/home/a b/.parade/sessions/s/connection' "
	             "--mode slurm --grace 30");
	c.coproc = "it's";
	expect_shell(&c, 0,
	             "'/usr/bin/parade-agent' --connect '/home/a b/.parade/sessions/s/connection' "
	             "--mode slurm --grace 30 --coproc 'it'\\''s'");
}

/* spank/remote.c: the step's own session (waits for its connection file)
 * or another controller's file; -v with debug=1 */
static void test_spank(void)
{
	pd_agent_cmd c = {0};
	pd_agent_argv a;
	const char *own[] = {"/usr/bin/parade-agent",
	                     "--connect",
	                     "/h/.parade/sessions/slurm-4.7/connection",
	                     "--wait-connect",
	                     "--mode",
	                     "slurm",
	                     "--grace",
	                     "30",
	                     "-v",
	                     NULL};
	const char *other[] = {
	    "/usr/bin/parade-agent", "--connect", "/shared/conn", "--mode", "slurm", NULL};

	c.program = "/usr/bin/parade-agent";
	c.connect = "/h/.parade/sessions/slurm-4.7/connection";
	c.wait_connect = 1;
	c.mode = "slurm";
	c.grace_s = 30;
	c.verbose = 1;
	CU_ASSERT_EQUAL(pd_agent_cmd_argv(&c, &a), 0);
	expect_argv(&a, own);
	memset(&c, 0, sizeof(c));
	c.program = "/usr/bin/parade-agent";
	c.connect = "/shared/conn";
	c.mode = "slurm";
	CU_ASSERT_EQUAL(pd_agent_cmd_argv(&c, &a), 0);
	expect_argv(&a, other);
}

static void test_invalid(void)
{
	pd_agent_cmd c = {0};
	pd_agent_argv a;
	pd_buf b = {0};

	a.argv[0] = "junk";
	CU_ASSERT_EQUAL(pd_agent_cmd_argv(&c, &a), -EINVAL); /* no program */
	CU_ASSERT_PTR_NULL(a.argv[0]);
	c.program = "";
	c.connect = "f";
	CU_ASSERT_EQUAL(pd_agent_cmd_argv(&c, &a), -EINVAL);
	c.program = "agent";
	c.connect = NULL; /* nowhere to connect */
	CU_ASSERT_EQUAL(pd_agent_cmd_argv(&c, &a), -EINVAL);
	CU_ASSERT_EQUAL(pd_agent_cmd_shell(&c, 0, &b), -EINVAL);
	CU_ASSERT_EQUAL(b.len, 0);
	/* the largest numbers fit */
	c.connect = "f";
	c.slots = 4294967295u;
	c.grace_s = 4294967295u;
	CU_ASSERT_EQUAL(pd_agent_cmd_argv(&c, &a), 0);
	CU_ASSERT_STRING_EQUAL(a.argv[4], "4294967295");
	CU_ASSERT_STRING_EQUAL(a.argv[6], "4294967295");
	/* every option at once fits PD_AGENT_ARGV_MAX */
	c.url = "u";
	c.local = c.wait_connect = c.exit_on_eof = c.stay = c.follow = c.verbose = 1;
	c.mode = "m";
	c.coproc = "c";
	CU_ASSERT_EQUAL(pd_agent_cmd_argv(&c, &a), 0);
	CU_ASSERT_STRING_EQUAL(a.argv[6], "--stay");
	CU_ASSERT_STRING_EQUAL(a.argv[7], "--follow");
	CU_ASSERT_STRING_EQUAL(a.argv[16], "c");
	CU_ASSERT_PTR_NULL(a.argv[17]);
}

/* A command no shell may change: quotes of both kinds, '$', backquotes,
 * ';', '&', '|', redirections, globs, '~', '#', '!', backslashes, a tab,
 * a control byte, UTF-8, newlines, quotes at both ends. */
static const char HOSTILE[] =
    "'it's \"$HOME\" `id` $(id) ${x:-y}; a && b || c | d > /dev/null < e &"
    " \\ \\\\ \\' ~ ~/x * ? [a] {a,b} # ! !! \t\x01 caf\xc3\xa9\n"
    "second line '' \"\" $\n'";

static size_t read_all(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, len) : -1;

	if (fd >= 0)
		close(fd);
	return n > 0 ? (size_t)n : 0;
}

/* The shell form run by each POSIX shell here hands the program the very
 * words of the argv form: a stand-in agent (in a folder with a space and a
 * quote in its name) writes its argv NUL-separated to a file. */
static void test_shell_round_trip(void)
{
	static const char *const shells[] = {"/bin/sh",  "/bin/dash", "/bin/bash",
	                                     "/bin/ksh", "/bin/zsh",  NULL};
	static const char agent[] = "#!/bin/sh\nfor a; do printf '%s\\0' \"$a\"; done > \"$OUT\"\n";
	char dir[300], prog[400], out[400], env[420], got[4096], want[4096], msg[256];
	pd_agent_cmd c = {0};
	pd_agent_argv a;
	size_t wl = 0, gl;
	int fd, ran = 0;

	snprintf(dir, sizeof(dir), "%s/my 'dir'", tmp);
	CU_ASSERT_FATAL(mkdir(dir, 0700) == 0);
	snprintf(prog, sizeof(prog), "%s/agent $x.sh", dir);
	snprintf(out, sizeof(out), "%s/args", tmp);
	fd = open(prog, O_WRONLY | O_CREAT | O_TRUNC, 0700);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, agent, sizeof(agent) - 1) == (ssize_t)sizeof(agent) - 1);
	close(fd);
	snprintf(env, sizeof(env), "OUT=%s", out);
	putenv(env);

	c.program = prog;
	c.connect = "/tmp/a file 'q'";
	c.mode = "ssh";
	c.slots = 3;
	c.grace_s = 9;
	c.id = "rtt 'bench' $x";
	c.verbose = 1;
	c.coproc = HOSTILE;
	CU_ASSERT_EQUAL_FATAL(pd_agent_cmd_argv(&c, &a), 0);
	CU_ASSERT_STRING_EQUAL(a.argv[9], "--id");
	CU_ASSERT_STRING_EQUAL(a.argv[10], "rtt 'bench' $x");
	for (size_t i = 1; a.argv[i]; i++) {
		size_t l = strlen(a.argv[i]) + 1;
		memcpy(want + wl, a.argv[i], l);
		wl += l;
	}
	for (unsigned flags = 0; flags <= PD_AGENT_SH_WORDS; flags++) {
		pd_buf cmd = {0};

		CU_ASSERT_EQUAL_FATAL(pd_agent_cmd_shell(&c, flags, &cmd), 0);
		pd_buf_append(&cmd, "", 1);
		for (size_t s = 0; shells[s]; s++) {
			char *argv[] = {(char *)shells[s], "-c", (char *)pd_buf_head(&cmd), NULL};

			if (access(shells[s], X_OK) < 0)
				continue;
			unlink(out);
			CU_ASSERT_EQUAL(pd_spawn_output(argv, NULL, 0, msg, sizeof(msg)), 0);
			gl = read_all(out, got, sizeof(got));
			if (gl != wl || memcmp(got, want, wl))
				fprintf(stderr, "\n  %s: the words differ\n", shells[s]);
			CU_ASSERT_EQUAL(gl, wl);
			CU_ASSERT(gl == wl && !memcmp(got, want, wl));
			ran++;
		}
		pd_buf_free(&cmd);
	}
	CU_ASSERT(ran >= 2); /* /bin/sh at least, in both forms */
	unsetenv("OUT");
	unlink(out);
	unlink(prog);
	rmdir(dir);
}

static void test_env(void)
{
	pd_agent_env *e = calloc(1, sizeof(*e));
	static char big[PD_AGENT_ENV_BYTES];
	char name[16];

	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_PTR_NULL(e->envp[0]);
	CU_ASSERT_EQUAL(pd_agent_env_add(e, "HOME", "/home/a"), 0);
	CU_ASSERT_EQUAL(pd_agent_env_add(e, "EMPTY", ""), 0);
	CU_ASSERT_STRING_EQUAL(e->envp[0], "HOME=/home/a");
	CU_ASSERT_STRING_EQUAL(e->envp[1], "EMPTY=");
	CU_ASSERT_PTR_NULL(e->envp[2]);
	CU_ASSERT_EQUAL(pd_agent_env_add(e, "", "x"), -EINVAL);
	CU_ASSERT_EQUAL(pd_agent_env_add(e, "A=B", "x"), -EINVAL);
	/* too long: refused whole, nothing changes */
	memset(big, 'x', sizeof(big) - 1);
	CU_ASSERT_EQUAL(pd_agent_env_add(e, "BIG", big), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(e->n, 2);
	CU_ASSERT_PTR_NULL(e->envp[2]);
	for (int i = 2; i < PD_AGENT_ENV_MAX; i++) {
		snprintf(name, sizeof(name), "V%d", i);
		CU_ASSERT_EQUAL(pd_agent_env_add(e, name, "1"), 0);
	}
	CU_ASSERT_EQUAL(pd_agent_env_add(e, "ONE_MORE", "1"), -E2BIG);
	CU_ASSERT_STRING_EQUAL(e->envp[PD_AGENT_ENV_MAX - 1], "V15=1");
	CU_ASSERT_PTR_NULL(e->envp[PD_AGENT_ENV_MAX]);
	free(e);
}

int main(void)
{
	CU_pSuite s;
	int fails;

	snprintf(tmp, sizeof(tmp), "/tmp/pd-agent-cmd-XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("agent_cmd", NULL, NULL);
	CU_add_test(s, "the local launcher's argv", test_local);
	CU_add_test(s, "the ssh command", test_ssh);
	CU_add_test(s, "the sbatch script's srun line", test_sbatch);
	CU_add_test(s, "the SPANK plugin's argv", test_spank);
	CU_add_test(s, "invalid settings and limits", test_invalid);
	CU_add_test(s, "the shell form through real shells", test_shell_round_trip);
	CU_add_test(s, "the environment", test_env);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	rmdir(tmp);
	return fails ? 1 : 0;
}
