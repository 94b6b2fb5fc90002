/* launch_slurm_cmd.c - `parade launch slurm`: more agents for a running
 * controller, as an sbatch job (the slurm launcher's command). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "endpoint.h"
#include "launch_slurm.h"
#include "launcher.h"
#include "log.h"
#include "session.h"

enum { L_CONNECT = 256, L_SESSION, L_SLURM, L_DRY, L_COPROC };

static const struct option longopts[] = {
	{"agents", required_argument, 0, 'n'},
	{"connect", required_argument, 0, L_CONNECT},
	{"session", required_argument, 0, L_SESSION},
	{"partition", required_argument, 0, L_SLURM},
	{"time", required_argument, 0, L_SLURM},
	{"mem", required_argument, 0, L_SLURM},
	{"cpus", required_argument, 0, L_SLURM},
	{"account", required_argument, 0, L_SLURM},
	{"sbatch-arg", required_argument, 0, L_SLURM},
	{"dry-run", no_argument, 0, L_DRY},
	{"coproc", required_argument, 0, L_COPROC},
	{"help", no_argument, 0, 'h'},
	{0, 0, 0, 0}};

int pd_slurm_main(int argc, char **argv)
{
	pd_slurm_opts so;
	const char *connect = NULL, *session = NULL;
	char path[4600], dir[4600], agent[4096], err[2048], jobid[64], job[200];
	pd_connfile cf;
	pd_endpoint ep;
	pd_buf script = {0};
	int c, li = 0, rv;

	memset(&so, 0, sizeof(so));
	argv[0] = (char *)"parade launch"; /* getopt's messages name it */
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:h", longopts, &li)) != -1) {
		switch (c) {
		case 'n': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v == 0 || v > 100000 || optarg[0] == '-') {
				fprintf(stderr, "parade launch: -n '%s': expected a whole number from "
						"1 to 100000\n", optarg);
				return 2;
			}
			so.n = (unsigned)v;
			break;
		}
		case L_CONNECT: connect = optarg; break;
		case L_SESSION: session = optarg; break;
		case L_SLURM:
			if (pd_slurm_opt(&so, longopts[li].name, optarg) < 0)
				return 2;
			break;
		case L_DRY: so.dry_run = 1; break;
		case L_COPROC:
			if (!*optarg) {
				pd_err("--coproc needs a command");
				return 2;
			}
			so.coproc = optarg;
			break;
		case 'h': fputs(pd_launch_usage, stdout); return 0;
		default: fputs(pd_launch_usage, stderr); return 2;
		}
	}
	if (optind < argc || !so.n || (!connect == !session)) {
		fprintf(stderr, "parade launch: give -n N and one of --connect or --session\n%s",
			pd_launch_usage);
		return 2;
	}
	/* checked as parade-agent --connect checks it: the user's, no link
	 * of another user, --session NAME a valid name read through its
	 * folder (lib/session.h) */
	rv = pd_connfile_load(connect, session, path, sizeof(path), &cf, err, sizeof(err));
	memset(cf.secret, 0, sizeof(cf.secret));
	if (rv == -EPERM) {
		pd_warn("%s", err);
	} else if (rv < 0) {
		pd_err("%s", err);
		return 2;
	}
	connect = path;
	if (pd_endpoint_parse(cf.endpoint, &ep, err, sizeof(err)) < 0 || ep.kind == PD_EP_IPC) {
		pd_err("%s: the controller listens on %s only; agents on other nodes need "
		       "tls+tcp:// (parade run --listen tls+tcp://0.0.0.0:0)",
		       connect, cf.endpoint);
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s", connect);
	if (strrchr(dir, '/'))
		*strrchr(dir, '/') = 0;
	else
		snprintf(dir, sizeof(dir), ".");
	pd_agent_path(agent, sizeof(agent));
	snprintf(job, sizeof(job), "parade-%s", cf.session[0] ? cf.session : "agents");
	rv = pd_slurm_script(&so, job, agent, connect, dir, &script, err, sizeof(err));
	if (rv == 0 && so.dry_run) {
		fwrite(pd_buf_head(&script), 1, pd_buf_size(&script), stdout);
	} else if (rv == 0) {
		char spath[4700];
		pd_session_sbatch_path(spath, sizeof(spath), dir, (unsigned)getpid());
		rv = pd_slurm_submit(&so, spath, &script, jobid, sizeof(jobid), err, sizeof(err));
		if (rv == 0)
			printf("%s\n", jobid);
	}
	pd_buf_free(&script);
	if (rv < 0) {
		pd_err("%s", err);
		return 2;
	}
	return 0;
}
