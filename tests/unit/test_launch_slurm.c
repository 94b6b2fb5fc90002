/* test_launch_slurm.c - the Slurm launcher's pure parts
 * (controller/launch_slurm.h): the allocation script (read by a real
 * sh -n), srun's command line, reading scontrol's answer, and which states
 * and pending reasons end a job. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launch_slurm.h"
#include "spawn.h"

static char tmp[64];

static int has_line(const pd_buf *b, const char *line)
{
	const char *s = (const char *)pd_buf_head(b), *end = s + pd_buf_size(b);
	size_t n = strlen(line);

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		if (len == n && !memcmp(s, line, n))
			return 1;
		s += len + 1;
	}
	return 0;
}

/* whether the script (not NUL-ended) holds s */
static int contains(const pd_buf *b, const char *s)
{
	return memmem(pd_buf_head(b), pd_buf_size(b), s, strlen(s)) != NULL;
}

/* sh -n: the script parses */
static int sh_parses(const pd_buf *b)
{
	char path[128], out[64], err[512];
	char *argv[] = {"sh", "-n", path, NULL};
	FILE *f;

	snprintf(path, sizeof(path), "%s/holder.sh", tmp);
	f = fopen(path, "w");
	if (!f)
		return 0;
	fwrite(pd_buf_head(b), 1, pd_buf_size(b), f);
	fclose(f);
	return pd_spawn_output(argv, out, sizeof(out), err, sizeof(err)) == 0;
}

static void test_holder(void)
{
	pd_slurm_opts o = {0};
	pd_buf b = {0};
	char err[256] = "";

	o.n = 3;
	CU_ASSERT_EQUAL(pd_slurm_holder_script(&o, "parade-s1", &b, err, sizeof(err)), 0);
	CU_ASSERT(has_line(&b, "#!/bin/sh"));
	CU_ASSERT(has_line(&b, "#SBATCH --job-name=parade-s1"));
	CU_ASSERT(has_line(&b, "#SBATCH --nodes=3"));
	CU_ASSERT(has_line(&b, "#SBATCH --ntasks-per-node=1"));
	/* no --cpus: whole nodes */
	CU_ASSERT(has_line(&b, "#SBATCH --exclusive"));
	CU_ASSERT(has_line(&b, "#SBATCH --output=/dev/null"));
	CU_ASSERT(!contains(&b, "--cpus-per-task"));
	/* it runs no agent: the controller does, with srun --jobid */
	CU_ASSERT(!contains(&b, "exec srun"));
	CU_ASSERT(!contains(&b, "parade-agent"));
	CU_ASSERT(sh_parses(&b));
	pd_buf_free(&b);

	o.cpus = 4;
	o.partition = "p q";
	o.time = "1:00";
	o.mem = "1G";
	o.account = "acc";
	CU_ASSERT_EQUAL(pd_slurm_holder_script(&o, "parade-s1", &b, err, sizeof(err)), 0);
	CU_ASSERT(has_line(&b, "#SBATCH --cpus-per-task=4"));
	CU_ASSERT(!has_line(&b, "#SBATCH --exclusive"));
	CU_ASSERT(has_line(&b, "#SBATCH --partition=p q"));
	CU_ASSERT(has_line(&b, "#SBATCH --time=1:00"));
	CU_ASSERT(has_line(&b, "#SBATCH --mem=1G"));
	CU_ASSERT(has_line(&b, "#SBATCH --account=acc"));
	CU_ASSERT(sh_parses(&b));
	pd_buf_free(&b);

	/* a line break would start a line of its own in the script */
	o.partition = "p\n#SBATCH --uid=0";
	CU_ASSERT_EQUAL(pd_slurm_holder_script(&o, "parade-s1", &b, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "--partition value holds a line break");
	pd_buf_free(&b);
}

static void expect_argv(char *const *got, const char *const *want)
{
	size_t i;

	for (i = 0; want[i] && got[i]; i++)
		if (strcmp(got[i], want[i])) {
			fprintf(stderr, "\nargv[%zu]: got '%s', want '%s'\n", i, got[i], want[i]);
			CU_FAIL("argv differs");
			return;
		}
	CU_ASSERT_PTR_NULL(want[i]);
	CU_ASSERT_PTR_NULL(got[i]);
}

static void test_srun(void)
{
	pd_slurm_opts o = {0};
	pd_slurm_srun s;
	const char *plain[] = {"srun", "--jobid=123", "--nodes=3", "--ntasks=3",
			       "--ntasks-per-node=1", "--input=all", "--kill-on-bad-exit=0",
			       "--quiet", "/opt/bin/parade-agent", "--connect", "-", "--mode",
			       "slurm", NULL};
	const char *full[] = {"srun", "--jobid=77", "--nodes=2", "--ntasks=2",
			      "--ntasks-per-node=1", "--cpus-per-task=4", "--input=all",
			      "--kill-on-bad-exit=0", "--quiet", "/a b/parade-agent", "--connect",
			      "-", "--mode", "slurm", "--slots", "3", "-v", "--coproc",
			      "R -q -e 'x'", NULL};

	/* the agent's slots are not given: it takes the CPUs Slurm gave it */
	CU_ASSERT_EQUAL(pd_slurm_srun_argv(&o, "123", 3, "/opt/bin/parade-agent", &s), 0);
	expect_argv(s.argv, plain);
	o.cpus = 4;
	o.slots = 3;
	o.verbose = 1;
	o.coproc = "R -q -e 'x'";
	CU_ASSERT_EQUAL(pd_slurm_srun_argv(&o, "77", 2, "/a b/parade-agent", &s), 0);
	expect_argv(s.argv, full);
	/* the secret is never there: the agents read it from stdin */
	for (size_t i = 0; s.argv[i]; i++)
		CU_ASSERT_PTR_NULL(strstr(s.argv[i], "secret"));
	CU_ASSERT_EQUAL(pd_slurm_srun_argv(&o, "77", 2, "", &s), -EINVAL);
}

static void test_parse(void)
{
	pd_slurm_job_info ji;
	const char *pending =
		"JobId=10 JobName=holdr UserId=root(0) GroupId=root(0) Priority=0 Nice=0 "
		"Account=(null) QOS=(null) JobState=PENDING Reason=JobHeldUser "
		"Dependency=(null) Requeue=1 ReqNodeList=(null) ExcNodeList=(null) NodeList= "
		"NumNodes=1 StdOut=/dev/null Power= \n";
	const char *running = "JobId=6 JobName=parade-M1 JobState=RUNNING Reason=None "
			      "Dependency=(null) ReqNodeList=(null) NodeList=ls[1-3] BatchHost=ls1\n";

	CU_ASSERT_EQUAL(pd_slurm_job_parse(pending, &ji), 0);
	CU_ASSERT_STRING_EQUAL(ji.state, "PENDING");
	CU_ASSERT_STRING_EQUAL(ji.reason, "JobHeldUser");
	CU_ASSERT_STRING_EQUAL(ji.nodes, "");
	CU_ASSERT_EQUAL(pd_slurm_job_parse(running, &ji), 0);
	CU_ASSERT_STRING_EQUAL(ji.state, "RUNNING");
	CU_ASSERT_STRING_EQUAL(ji.reason, "");
	/* NodeList, not ReqNodeList */
	CU_ASSERT_STRING_EQUAL(ji.nodes, "ls[1-3]");
	/* a key inside another key's name is not that key */
	CU_ASSERT_EQUAL(pd_slurm_job_parse("XJobState=FOO JobState=TIMEOUT", &ji), 0);
	CU_ASSERT_STRING_EQUAL(ji.state, "TIMEOUT");
	CU_ASSERT_EQUAL(pd_slurm_job_parse("", &ji), -EINVAL);
	CU_ASSERT_STRING_EQUAL(ji.state, "?");
	CU_ASSERT_EQUAL(pd_slurm_job_parse("slurm_load_jobs error: Invalid job id", &ji), -EINVAL);
	/* too long: cut, still NUL-ended */
	{
		char big[600];
		memset(big, 'A', sizeof(big));
		memcpy(big, "JobState=", 9);
		big[sizeof(big) - 1] = 0;
		CU_ASSERT_EQUAL(pd_slurm_job_parse(big, &ji), 0);
		CU_ASSERT_EQUAL(strlen(ji.state), sizeof(ji.state) - 1);
	}
}

static void test_states(void)
{
	const char *fin[] = {"CANCELLED", "COMPLETED", "FAILED", "TIMEOUT", "PREEMPTED",
			     "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY", "GONE", NULL};
	const char *live[] = {"PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED",
			      "REQUEUED", "?", "", NULL};

	for (size_t i = 0; fin[i]; i++)
		CU_ASSERT_EQUAL(pd_slurm_state_final(fin[i]), 1);
	for (size_t i = 0; live[i]; i++)
		CU_ASSERT_EQUAL(pd_slurm_state_final(live[i]), 0);
	CU_ASSERT(pd_slurm_reason_hopeless("PartitionNodeLimit"));
	CU_ASSERT(pd_slurm_reason_hopeless("PartitionConfig"));
	CU_ASSERT(pd_slurm_reason_hopeless("BadConstraints"));
	CU_ASSERT(pd_slurm_reason_hopeless("DependencyNeverSatisfied"));
	/* waiting ends these */
	CU_ASSERT(!pd_slurm_reason_hopeless("Resources"));
	CU_ASSERT(!pd_slurm_reason_hopeless("Priority"));
	CU_ASSERT(!pd_slurm_reason_hopeless("JobHeldUser"));
	CU_ASSERT(!pd_slurm_reason_hopeless(""));
}

static void test_opts(void)
{
	pd_slurm_opts o = {0};
	char err[256];

	CU_ASSERT_EQUAL(pd_slurm_opt_err(&o, "slurm-retries", "0", err, sizeof(err)), 1);
	CU_ASSERT_EQUAL(o.retries, 0);
	CU_ASSERT_EQUAL(o.retries_set, 1);
	CU_ASSERT_EQUAL(pd_slurm_opt_err(&o, "slurm-retries", "1000", err, sizeof(err)), 1);
	CU_ASSERT_EQUAL(o.retries, 1000);
	CU_ASSERT_EQUAL(pd_slurm_opt_err(&o, "slurm-retries", "1001", err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "--slurm-retries '1001': expected a whole number from 0 to 1000");
	CU_ASSERT_EQUAL(pd_slurm_opt_err(&o, "slurm-retries", "-1", err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(pd_slurm_opt_err(&o, "slurm-retries", "", err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(pd_slurm_opt_err(&o, "slurm-retries", "2x", err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(o.retries, 1000);
}

int main(void)
{
	CU_pSuite s;
	int fails;

	snprintf(tmp, sizeof(tmp), "/tmp/pd-launch-slurm-XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("launch_slurm", NULL, NULL);
	CU_add_test(s, "the allocation script", test_holder);
	CU_add_test(s, "srun's command line", test_srun);
	CU_add_test(s, "scontrol's answer", test_parse);
	CU_add_test(s, "final states and hopeless reasons", test_states);
	CU_add_test(s, "--slurm-retries", test_opts);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	{
		char path[128];
		snprintf(path, sizeof(path), "%s/holder.sh", tmp);
		unlink(path);
	}
	rmdir(tmp);
	return fails ? 1 : 0;
}
