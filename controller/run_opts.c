/* run_opts.c - command-line parsing for `parade run`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "csv.h"
#include "journal.h"
#include "log.h"
#include "output.h"
#include "run.h"

const char pd_run_usage[] =
	"usage: parade run [options] -- COMMAND [ARG...]\n"
	"       parade run [options] --shell 'SCRIPT'\n"
	"       parade submit [options] -- COMMAND [ARG...]\n"
	"       parade serve [options] [-- COMMAND [ARG...]]\n"
	"\n"
	"Runs COMMAND once per row of a grid (or per line of stdin) on persistent\n"
	"agents and prints one result row per task. `submit` does the same in a\n"
	"detached controller: it prints the session name and returns at once (see\n"
	"parade status / collect / wait / scale / stop / resume). `serve` keeps a\n"
	"controller running for tasks submitted over its control socket\n"
	"(docs/control.md): without a COMMAND each task is a command line run by\n"
	"sh -c; with one, give --grid FILE for its columns. Every session keeps a\n"
	"journal (SQLite) in its folder; a run's session folder is removed when it\n"
	"ends unless --keep-session, or it was interrupted (then resumable).\n"
	"\n"
	"Input and command:\n"
	"  --grid FILE          CSV grid with a header (TSV for .tsv/.tab names)\n"
	"  --grid-format F      csv or tsv, whatever the file name says\n"
	"  --limit N            run only the first N rows\n"
	"  -- COMMAND ARG...    argv of each task, word for word; {col} is a grid\n"
	"                       value, {#} the row number, {} the stdin line\n"
	"  --shell 'SCRIPT'     run SCRIPT with /bin/sh -c; values are passed as\n"
	"                       parameters, never pasted into the script\n"
	"  --handler H          process (default), the built-ins echo / sleep, or\n"
	"                       coproc:'COMMAND': each agent keeps COMMAND (sh -c)\n"
	"                       running per slot and sends it one line per task, the\n"
	"                       answer is the line it writes back (docs/coproc.md);\n"
	"                       the agents --launch starts get COMMAND, others need\n"
	"                       --coproc COMMAND (parade launch, parade-agent)\n"
	"  --coproc-format F    line (default): the template's words joined by\n"
	"                       spaces; json: the row as a one-line JSON object\n"
	"Results:\n"
	"  --schema SPEC        parse name=value lines of stdout: name:type,...\n"
	"                       with types dbl, int, chr, lgl\n"
	"  --format F           csv (default), tsv or jsonl\n"
	"  -o, --output FILE    write the table to FILE instead of stdout\n"
	"  --unordered          write rows as they finish, not in grid order\n"
	"Execution:\n"
	"  --workers N          local agents (default: one per online core)\n"
	"  --launch local[:N]   start N local agents (default); none: only wait\n"
	"  --launch slurm:N     submit an sbatch job running N agents as one step;\n"
	"                       with --partition P --time T --mem M --cpus C\n"
	"                       --account A --sbatch-arg ARG (repeatable), --dry-run\n"
	"                       prints the script\n"
	"  --launch ssh:HOST[,HOST...]  one agent per host, started over ssh\n"
	"                       ([user@]host[:port]); --hostfile FILE lists hosts\n"
	"                       ('[user@]host[:port] [slots]' a line), --ssh-opt OPT\n"
	"                       passes -o OPT to ssh (repeatable), --tunnel makes\n"
	"                       agents dial back through ssh -R (--tunnel-port P),\n"
	"                       --remote-agent PATH, --remote-connect-file\n"
	"  --slots K            tasks each agent runs at once (default 1)\n"
	"  --timeout SEC        end a task's process group after SEC seconds\n"
	"  --retries R          re-run a failed task up to R times (default 0)\n"
	"  --crash-limit N      a task whose agent is lost N times is 'lost' (3)\n"
	"  --chunk K            send up to K tasks per frame (default 1)\n"
	"  --no-dispatcher      assign tasks round-robin up front\n"
	"  --output-limit BYTES keep at most BYTES of stdout and stderr (1 MiB;\n"
	"                       at most 64 MiB, what the journal keeps of one result)\n"
	"Session and network:\n"
	"  --name NAME          session name (default: generated)\n"
	"  --keep-session       keep the session folder after the run\n"
	"  --no-journal         run without the journal (run only; not resumable)\n"
	"  --listen URL         also accept agents on tls+tcp://HOST:PORT\n"
	"                       (port 0: any), or tcp:// with --insecure\n"
	"  --insecure           allow an unauthenticated tcp:// or ipc:// listener\n"
	"  --max-frame BYTES    largest frame accepted (default 64 MiB)\n"
	"  --progress / --no-progress  progress line on stderr (default: if a tty)\n"
	"  -v, --verbose        debug log lines (or PARADE_DEBUG=1)\n"
	"  -h, --help           this help\n"
	"\n"
	"Exit status: 0 every task ok, 1 some task not ok, 2 usage, input or set-up\n"
	"error (including: no agent could be started), 130 interrupted (SIGINT),\n"
	"128+N ended by signal N (SIGTERM, SIGHUP).\n";

enum {
	O_WORKERS = 256, O_GRID, O_GRID_FORMAT, O_LIMIT, O_CHUNK, O_NODISP, O_RETRIES, O_CRASH,
	O_TIMEOUT, O_SCHEMA, O_FORMAT, O_LISTEN, O_LAUNCH, O_INSECURE, O_SHELL, O_UNORDERED,
	O_NAME, O_KEEP, O_HANDLER, O_MAXFRAME, O_OUTLIMIT, O_SLOTS, O_PROGRESS, O_NOPROGRESS,
	O_SLURM_OPT, O_DRYRUN, O_SSH_OPT, O_SSH_FLAG, O_NOJOURNAL, O_COPROC_FMT
};

static const struct option longopts[] = {
	{"workers", required_argument, 0, O_WORKERS},
	{"grid", required_argument, 0, O_GRID},
	{"grid-format", required_argument, 0, O_GRID_FORMAT},
	{"limit", required_argument, 0, O_LIMIT},
	{"chunk", required_argument, 0, O_CHUNK},
	{"no-dispatcher", no_argument, 0, O_NODISP},
	{"retries", required_argument, 0, O_RETRIES},
	{"crash-limit", required_argument, 0, O_CRASH},
	{"timeout", required_argument, 0, O_TIMEOUT},
	{"schema", required_argument, 0, O_SCHEMA},
	{"format", required_argument, 0, O_FORMAT},
	{"output", required_argument, 0, 'o'},
	{"listen", required_argument, 0, O_LISTEN},
	{"launch", required_argument, 0, O_LAUNCH},
	{"insecure", no_argument, 0, O_INSECURE},
	{"shell", required_argument, 0, O_SHELL},
	{"unordered", no_argument, 0, O_UNORDERED},
	{"name", required_argument, 0, O_NAME},
	{"keep-session", no_argument, 0, O_KEEP},
	{"no-journal", no_argument, 0, O_NOJOURNAL},
	{"handler", required_argument, 0, O_HANDLER},
	{"coproc-format", required_argument, 0, O_COPROC_FMT},
	{"max-frame", required_argument, 0, O_MAXFRAME},
	{"output-limit", required_argument, 0, O_OUTLIMIT},
	{"slots", required_argument, 0, O_SLOTS},
	{"progress", no_argument, 0, O_PROGRESS},
	{"no-progress", no_argument, 0, O_NOPROGRESS},
	{"partition", required_argument, 0, O_SLURM_OPT},
	{"time", required_argument, 0, O_SLURM_OPT},
	{"mem", required_argument, 0, O_SLURM_OPT},
	{"cpus", required_argument, 0, O_SLURM_OPT},
	{"account", required_argument, 0, O_SLURM_OPT},
	{"sbatch-arg", required_argument, 0, O_SLURM_OPT},
	{"dry-run", no_argument, 0, O_DRYRUN},
	{"hostfile", required_argument, 0, O_SSH_OPT},
	{"ssh-opt", required_argument, 0, O_SSH_OPT},
	{"tunnel-port", required_argument, 0, O_SSH_OPT},
	{"remote-agent", required_argument, 0, O_SSH_OPT},
	{"tunnel", no_argument, 0, O_SSH_FLAG},
	{"remote-connect-file", no_argument, 0, O_SSH_FLAG},
	{"verbose", no_argument, 0, 'v'},
	{"help", no_argument, 0, 'h'},
	{0, 0, 0, 0}};

/* the largest --output-limit taken before it was bound to the journal's
 * PD_JOURNAL_MAX_BLOB: sessions recorded then still parse */
#define OUT_LIMIT_ONCE (1u << 30)

/* the command being parsed, for messages: "parade run", "parade submit" */
static const char *prog = "parade run";

static int bad(const char *opt, const char *val, const char *what)
{
	fprintf(stderr, "%s: %s '%s': %s\n", prog, opt, val, what);
	return -EINVAL;
}

static int count_arg(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-' || v < min || v > max) {
		char what[96];
		snprintf(what, sizeof(what), "expected a whole number from %llu to %llu",
			 (unsigned long long)min, (unsigned long long)max);
		return bad(opt, s, what);
	}
	*out = v;
	return 0;
}

/* recorded: a command line from a session's journal (pd_run_parse_recorded) */
static int parse(int argc, char **argv, int mode, int recorded, pd_run_opts *o)
{
	uint64_t v;
	int c, li = 0, slurm_opts = 0, ssh_opts = 0, fmt_set = 0;
	double secs;
	char *end;

	memset(o, 0, sizeof(*o));
	o->grid_format = -1;
	o->chunk = 1;
	o->crash_limit = 3;
	o->out_limit = 1u << 20;
	o->format = PD_FMT_CSV;
	o->kind = PD_TASK_PROCESS;
	o->max_frame = PD_MAX_FRAME_DEFAULT;
	o->agent_slots = 1;
	o->progress = -1;
	o->mode = mode;
	o->argc = argc;
	o->argv = argv;
	prog = argv[0];
	optind = 1;
	/* '+': stop at the first word that is not an option, like `--` */
	while ((c = getopt_long(argc, argv, "+o:vh", longopts, &li)) != -1) {
		switch (c) {
		case O_SLURM_OPT:
			if (pd_slurm_opt(&o->slurm, longopts[li].name, optarg) < 0)
				return -EINVAL;
			slurm_opts = 1;
			break;
		case O_DRYRUN: o->slurm.dry_run = 1; slurm_opts = 1; break;
		case O_SSH_OPT:
		case O_SSH_FLAG:
			if (pd_ssh_opt(&o->ssh, longopts[li].name, c == O_SSH_OPT ? optarg : NULL) < 0)
				return -EINVAL;
			ssh_opts = 1;
			break;
		case O_WORKERS:
			if (count_arg("--workers", optarg, 1, 100000, &v) < 0)
				return -EINVAL;
			o->workers = (unsigned)v;
			break;
		case O_GRID: o->grid = optarg; break;
		case O_GRID_FORMAT:
			if (!strcmp(optarg, "csv"))
				o->grid_format = PD_CSV;
			else if (!strcmp(optarg, "tsv"))
				o->grid_format = PD_TSV;
			else
				return bad("--grid-format", optarg, "use csv or tsv");
			break;
		case O_LIMIT:
			if (count_arg("--limit", optarg, 1, UINT64_MAX / 2, &o->limit) < 0)
				return -EINVAL;
			break;
		case O_CHUNK:
			if (count_arg("--chunk", optarg, 1, 4096, &v) < 0)
				return -EINVAL;
			o->chunk = (uint32_t)v;
			break;
		case O_NODISP: o->no_dispatcher = 1; break;
		case O_RETRIES:
			if (!strcmp(optarg, "0"))
				o->retries = 0;
			else if (count_arg("--retries", optarg, 0, 1000, &v) < 0)
				return -EINVAL;
			else
				o->retries = (uint32_t)v;
			break;
		case O_CRASH:
			if (count_arg("--crash-limit", optarg, 1, 1000, &v) < 0)
				return -EINVAL;
			o->crash_limit = (uint32_t)v;
			break;
		case O_TIMEOUT:
			secs = strtod(optarg, &end);
			if (!*optarg || *end || !(secs > 0 && secs <= 4000000))
				return bad("--timeout", optarg,
					   "expected a positive number of seconds");
			o->timeout_ms = (uint32_t)(secs * 1000.0 + 0.5);
			if (!o->timeout_ms)
				o->timeout_ms = 1;
			break;
		case O_SCHEMA: o->schema = optarg; break;
		case O_FORMAT:
			o->format = pd_format_parse(optarg);
			if (o->format < 0)
				return bad("--format", optarg, "use csv, tsv or jsonl");
			break;
		case 'o': o->output = optarg; break;
		case O_LISTEN: o->listen = optarg; break;
		case O_LAUNCH:
			o->launch_set = 1;
			if (!strcmp(optarg, "none")) {
				o->launch = PD_LAUNCH_NONE;
			} else if (!strcmp(optarg, "local")) {
				o->launch = PD_LAUNCH_LOCAL;
			} else if (!strncmp(optarg, "local:", 6)) {
				if (count_arg("--launch local:N", optarg + 6, 1, 100000, &v) < 0)
					return -EINVAL;
				o->launch = PD_LAUNCH_LOCAL;
				o->workers = (unsigned)v;
			} else if (!strncmp(optarg, "slurm:", 6)) {
				if (count_arg("--launch slurm:N", optarg + 6, 1, 100000, &v) < 0)
					return -EINVAL;
				o->launch = PD_LAUNCH_SLURM;
				o->slurm.n = (unsigned)v;
			} else if (!strcmp(optarg, "ssh")) {
				o->launch = PD_LAUNCH_SSH; /* hosts from --hostfile */
			} else if (!strncmp(optarg, "ssh:", 4)) {
				o->launch = PD_LAUNCH_SSH;
				if (pd_ssh_opt(&o->ssh, "hosts", optarg + 4) < 0)
					return -EINVAL;
			} else {
				return bad("--launch", optarg,
					   "use local, local:N, slurm:N, ssh:HOST[,HOST...] or none");
			}
			break;
		case O_INSECURE: o->insecure = 1; break;
		case O_SHELL: o->shell = optarg; break;
		case O_UNORDERED: o->unordered = 1; break;
		case O_NAME: o->name = optarg; break;
		case O_KEEP: o->keep_session = 1; break;
		case O_NOJOURNAL: o->no_journal = 1; break;
		case O_HANDLER:
			if (!strcmp(optarg, "process"))
				o->kind = PD_TASK_PROCESS;
			else if (!strcmp(optarg, "echo"))
				o->kind = PD_TASK_ECHO;
			else if (!strcmp(optarg, "sleep"))
				o->kind = PD_TASK_SLEEP;
			else if (!strncmp(optarg, "coproc:", 7) && optarg[7])
				o->kind = PD_TASK_COPROC;
			else
				return bad("--handler", optarg,
					   "use process, echo, sleep or coproc:'COMMAND'");
			o->coproc = o->kind == PD_TASK_COPROC ? optarg + 7 : NULL;
			break;
		case O_COPROC_FMT:
			if (!strcmp(optarg, "line") || !strcmp(optarg, "json"))
				o->coproc_json = optarg[0] == 'j';
			else
				return bad("--coproc-format", optarg, "use line or json");
			fmt_set = 1;
			break;
		case O_MAXFRAME:
			if (count_arg("--max-frame", optarg, 4096, 0xFFFFFFFFu, &o->max_frame) < 0)
				return -EINVAL;
			break;
		case O_OUTLIMIT:
			/* a result's stdout must fit the journal: one limit for both;
			 * a session recorded when 1 GiB was taken still resumes (the
			 * journal never kept more of one result anyway) */
			if (count_arg("--output-limit", optarg, 1,
				      recorded ? OUT_LIMIT_ONCE : PD_JOURNAL_MAX_BLOB, &v) < 0)
				return -EINVAL;
			o->out_limit_recorded = v > PD_JOURNAL_MAX_BLOB ? v : 0;
			o->out_limit = (uint32_t)(v > PD_JOURNAL_MAX_BLOB ? PD_JOURNAL_MAX_BLOB : v);
			break;
		case O_SLOTS:
			if (count_arg("--slots", optarg, 1, 4096, &v) < 0)
				return -EINVAL;
			o->agent_slots = (uint32_t)v;
			break;
		case O_PROGRESS: o->progress = 1; break;
		case O_NOPROGRESS: o->progress = 0; break;
		case 'v': pd_log_set_level(PD_LOG_DEBUG); break;
		case 'h': fputs(pd_run_usage, stdout); return 1;
		default:
			fprintf(stderr, "%s: see '%s --help'\n", prog, prog);
			return -EINVAL;
		}
	}
	if (slurm_opts && o->launch != PD_LAUNCH_SLURM) {
		fprintf(stderr, "%s: --partition, --time, --mem, --cpus, --account, "
				"--sbatch-arg and --dry-run go with --launch slurm:N\n", prog);
		return -EINVAL;
	}
	/* a host file alone means ssh */
	if (ssh_opts && o->ssh.nhosts && !o->launch_set) {
		o->launch = PD_LAUNCH_SSH;
		o->launch_set = 1;
	}
	if (ssh_opts && o->launch != PD_LAUNCH_SSH) {
		fprintf(stderr, "%s: --hostfile, --ssh-opt, --tunnel, --tunnel-port, "
				"--remote-agent and --remote-connect-file go with --launch "
				"ssh:HOST[,HOST...]\n", prog);
		return -EINVAL;
	}
	if (o->launch == PD_LAUNCH_SSH && !o->ssh.nhosts) {
		fprintf(stderr, "%s: --launch ssh needs hosts: ssh:HOST[,HOST...] or "
				"--hostfile FILE\n", prog);
		return -EINVAL;
	}
	if ((uint64_t)o->out_limit * 2 + 65536 > o->max_frame) {
		fprintf(stderr,
			"%s: --output-limit %u needs --max-frame of at least %llu (two "
			"streams and headers fit one frame)\n",
			prog, o->out_limit, (unsigned long long)o->out_limit * 2 + 65536);
		return -EINVAL;
	}
	o->words = argv + optind;
	o->nwords = argc - optind;
	if (o->shell && o->nwords > 0) {
		fprintf(stderr, "%s: give either --shell 'SCRIPT' or -- COMMAND, not both\n", prog);
		return -EINVAL;
	}
	if (fmt_set && o->kind != PD_TASK_COPROC) {
		fprintf(stderr, "%s: --coproc-format goes with --handler coproc:'COMMAND'\n", prog);
		return -EINVAL;
	}
	/* every launcher passes COMMAND on to the agents it starts */
	o->slurm.coproc = o->coproc;
	o->ssh.coproc = o->coproc;
	/* serve without a command runs the command lines clients submit; a
	 * json coprocess gets the row, not a command */
	if (!o->shell && o->nwords == 0 && mode != PD_MODE_SERVE && !o->coproc_json) {
		fprintf(stderr, "%s: no command: put it after -- (see '%s --help')\n", prog, prog);
		return -EINVAL;
	}
	if (o->slurm.dry_run && mode != PD_MODE_RUN) {
		fprintf(stderr, "%s: --dry-run goes with 'parade run' (it prints the script and "
				"submits nothing)\n", prog);
		return -EINVAL;
	}
	if (o->no_journal && mode != PD_MODE_RUN) {
		fprintf(stderr, "%s: --no-journal is for 'parade run' only: a %s session lives in "
				"its journal\n", prog, mode == PD_MODE_SERVE ? "served" : "submitted");
		return -EINVAL;
	}
	if (o->shell && o->kind != PD_TASK_PROCESS) {
		fprintf(stderr, "%s: --shell needs the process handler\n", prog);
		return -EINVAL;
	}
	return 0;
}

int pd_run_parse(int argc, char **argv, int mode, pd_run_opts *o)
{
	return parse(argc, argv, mode, 0, o);
}

int pd_run_parse_recorded(int argc, char **argv, int mode, pd_run_opts *o)
{
	return parse(argc, argv, mode, 1, o);
}
