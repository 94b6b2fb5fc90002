/* run_opts.c - the options of `parade run`, `submit` and `serve`: one
 * table (opts[] below) that the command-line parser, the session record's
 * writer and its reader (session_record.c) all go through. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "csv.h"
#include "journal.h"
#include "launcher.h"
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
	"                       the controller hands COMMAND to every agent that\n"
	"                       joins; with --launch none each needs its own\n"
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
	"  --workers N          local agents (default: one per CPU this process may\n"
	"                       use: affinity, cgroup quota, Slurm allocation)\n"
	"  --launch local[:N]   start N local agents (default); none: only wait\n"
	"  --launch slurm:N     submit a Slurm job of N nodes and start one agent on\n"
	"                       each (srun from here: no shared PARADE_HOME needed),\n"
	"                       with the node's CPUs as slots, or --cpus C CPUs (and\n"
	"                       slots) per agent, or --slots K; also --partition P\n"
	"                       --time T --mem M --account A --sbatch-arg ARG\n"
	"                       (repeatable); a job that ends early is replaced, up\n"
	"                       to --slurm-retries R jobs in all (default 3);\n"
	"                       --dry-run prints the job's script\n"
	"  --launch ssh:HOST[,HOST...]  one agent per host, started over ssh\n"
	"                       ([user@]host[:port]); --hostfile FILE lists hosts\n"
	"                       ('[user@]host[:port] [slots]' a line), --ssh-opt OPT\n"
	"                       passes -o OPT to ssh (repeatable), --tunnel makes\n"
	"                       agents dial back through ssh -R (--tunnel-port P),\n"
	"                       --remote-agent PATH, --remote-connect-file\n"
	"  --slots K            tasks each agent runs at once (default 1; Slurm\n"
	"                       agents: the CPUs Slurm gave them)\n"
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
	"  --secret-file FILE   the session secret: 64 hex digits in FILE (yours,\n"
	"                       mode 0600 or 0400) instead of a new one, so agents\n"
	"                       started with --url and the same file (--stay) serve\n"
	"                       one run after another\n"
	"  --max-frame BYTES    largest frame accepted (default 64 MiB)\n"
	"  --progress / --no-progress  progress line on stderr (default: if a tty)\n"
	"  -v, --verbose        debug log lines (or PARADE_DEBUG=1)\n"
	"  -h, --help           this help\n"
	"\n"
	"Exit status: 0 every task ok, 1 some task not ok, 2 usage, input or set-up\n"
	"error (including: no agent could be started), 130 interrupted (SIGINT),\n"
	"128+N ended by signal N (SIGTERM, SIGHUP).\n";

/* the largest --output-limit taken before it was bound to the journal's
 * PD_JOURNAL_MAX_BLOB: sessions recorded then still parse */
#define OUT_LIMIT_ONCE (1u << 30)

/* What one parse is doing: the options being filled, where messages go
 * (prog for the command line; err for a record), and what the checks after
 * the last option need to know. */
typedef struct pctx {
	pd_run_opts *o;
	const char *prog;	/* "parade run"...: messages on stderr; NULL: into err */
	char *err;
	size_t errlen;
	int recorded;		/* a command line or record kept in a journal */
	int slurm_opts, ssh_opts, fmt_set;
} pctx;

/* An option's message: "--opt 'val': what". -EINVAL. */
static int bad(pctx *p, const char *opt, const char *val, const char *what)
{
	if (p->prog)
		fprintf(stderr, "%s: %s '%s': %s\n", p->prog, opt, val, what);
	else
		snprintf(p->err, p->errlen, "%s '%s': %s", opt, val, what);
	return -EINVAL;
}

/* A message about the options as a whole. -EINVAL. */
static int badf(pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int badf(pctx *p, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (p->prog)
		fprintf(stderr, "%s: %s\n", p->prog, text);
	else
		snprintf(p->err, p->errlen, "%s", text);
	return -EINVAL;
}

static int count_arg(pctx *p, const char *opt, const char *s, uint64_t min, uint64_t max,
		     uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-' || v < min || v > max) {
		char what[96];
		snprintf(what, sizeof(what), "expected a whole number from %llu to %llu",
			 (unsigned long long)min, (unsigned long long)max);
		return bad(p, opt, s, what);
	}
	*out = v;
	return 0;
}

/* ---- the table ---- */

typedef struct opt_def opt_def;
/* Kinds of option: the simple ones are a field and a range, the others a
 * setter. */
enum { K_STR, K_FLAG, K_U32, K_U64, K_FN };
struct opt_def {
	const char *name;	/* --NAME on the command line */
	char shortc;		/* -C, or 0 */
	const char *key;	/* its name in the session record: never renamed */
	int has_arg;		/* required_argument or no_argument */
	int kind;
	size_t off;		/* K_STR, K_FLAG, K_U32, K_U64: the field in pd_run_opts */
	uint64_t min, max;	/* K_U32, K_U64: the range; K_FLAG: min is the value set */
	int (*set)(pctx *p, const opt_def *d, const char *val); /* K_FN */
	unsigned modes;		/* the commands that take it: M_* bits (0: every one) */
	const char *only;	/* then why not: a format with one %s, "submitted" or
				 * "served" */
	int reads_file;		/* its value names a file read when it is applied */
};

/* bits of opt_def.modes, by enum pd_mode; ANY: every command takes it */
#define M_RUN (1u << PD_MODE_RUN)
#define ANY 0, NULL, 0

#define F(field) offsetof(pd_run_opts, field)

/* A launcher's setter refused val, a value of the right form (the record
 * is not damaged: a file it names may be gone, a limit lower): for a
 * record, err says so and why (the setter's message, less a leading
 * "--NAME: "). -ENOEXEC (pd_run_build_apply's contract); -EINVAL for the
 * command line, where the setter has printed why. */
static int not_applied(pctx *p, const opt_def *d, const char *val, const char *why)
{
	size_t n = strlen(d->name);

	if (p->prog)
		return -EINVAL;
	if (!strncmp(why, "--", 2) && !strncmp(why + 2, d->name, n) &&
	    !strncmp(why + 2 + n, ": ", 2))
		why += n + 4;
	snprintf(p->err, p->errlen, "its option --%s%s%s cannot be applied: %s", d->name,
		 val ? " " : "", val ? val : "", why);
	return -ENOEXEC;
}

static int set_slurm(pctx *p, const opt_def *d, const char *val)
{
	char why[512];

	if (d->has_arg == no_argument)
		p->o->slurm.dry_run = 1;
	else if (p->prog && pd_slurm_opt(&p->o->slurm, d->name, val) < 0)
		return -EINVAL;
	else if (!p->prog && pd_slurm_opt_err(&p->o->slurm, d->name, val, why, sizeof(why)) < 0)
		return not_applied(p, d, val, why);
	p->slurm_opts = 1;
	return 0;
}

static int set_ssh(pctx *p, const opt_def *d, const char *val)
{
	char why[1200];

	val = d->has_arg == no_argument ? NULL : val;
	if (p->prog && pd_ssh_opt(&p->o->ssh, d->name, val) < 0)
		return -EINVAL;
	if (!p->prog && pd_ssh_opt_err(&p->o->ssh, d->name, val, why, sizeof(why)) < 0)
		return not_applied(p, d, val, why);
	p->ssh_opts = 1;
	return 0;
}

static int set_grid_format(pctx *p, const opt_def *d, const char *val)
{
	(void)d;
	if (!strcmp(val, "csv"))
		p->o->grid_format = PD_CSV;
	else if (!strcmp(val, "tsv"))
		p->o->grid_format = PD_TSV;
	else
		return bad(p, "--grid-format", val, "use csv or tsv");
	return 0;
}

static int set_retries(pctx *p, const opt_def *d, const char *val)
{
	uint64_t v;

	(void)d;
	if (!strcmp(val, "0"))
		v = 0;
	else if (count_arg(p, "--retries", val, 0, 1000, &v) < 0)
		return -EINVAL;
	p->o->retries = (uint32_t)v;
	return 0;
}

static int set_timeout(pctx *p, const opt_def *d, const char *val)
{
	char *end;
	double secs = strtod(val, &end);

	(void)d;
	if (!*val || *end || !(secs > 0 && secs <= 4000000))
		return bad(p, "--timeout", val, "expected a positive number of seconds");
	p->o->timeout_ms = (uint32_t)(secs * 1000.0 + 0.5);
	if (!p->o->timeout_ms)
		p->o->timeout_ms = 1;
	return 0;
}

static int set_format(pctx *p, const opt_def *d, const char *val)
{
	(void)d;
	p->o->format = pd_format_parse(val);
	if (p->o->format < 0)
		return bad(p, "--format", val, "use csv, tsv or jsonl");
	return 0;
}

static const char *const launch_names[] = {
	[PD_LAUNCH_LOCAL] = "local",
	[PD_LAUNCH_NONE] = "none",
	[PD_LAUNCH_SLURM] = "slurm",
	[PD_LAUNCH_SSH] = "ssh",
};

/* --launch NAME or NAME:N for a kind registered at run time (a test's
 * launcher, launcher.h): o->launch PD_LAUNCH_OTHER and o->launcher, or
 * nothing when no kind has that name. -EINVAL for a bad N. */
static int registered_kind(pctx *p, const char *val)
{
	const pd_launcher_ops *ops;
	char name[64];
	size_t n = strcspn(val, ":");
	uint64_t v;

	if (n >= sizeof(name))
		return 0;
	memcpy(name, val, n);
	name[n] = 0;
	for (size_t i = 0; i < sizeof(launch_names) / sizeof(launch_names[0]); i++)
		if (!strcmp(name, launch_names[i]))
			return 0;
	if (!(ops = pd_launcher_find(name)))
		return 0;
	if (val[n] == ':' && count_arg(p, "--launch KIND:N", val + n + 1, 1, 100000, &v) < 0)
		return -EINVAL;
	if (val[n] == ':')
		p->o->workers = (unsigned)v;
	p->o->launch = PD_LAUNCH_OTHER;
	p->o->launcher = ops->name;
	return 0;
}

static int set_launch(pctx *p, const opt_def *d, const char *val)
{
	pd_run_opts *o = p->o;
	char why[1200];
	uint64_t v;

	(void)d;
	o->launch_set = 1;
	if (!strcmp(val, "none")) {
		o->launch = PD_LAUNCH_NONE;
	} else if (!strcmp(val, "local")) {
		o->launch = PD_LAUNCH_LOCAL;
	} else if (!strncmp(val, "local:", 6)) {
		if (count_arg(p, "--launch local:N", val + 6, 1, 100000, &v) < 0)
			return -EINVAL;
		o->launch = PD_LAUNCH_LOCAL;
		o->workers = (unsigned)v;
	} else if (!strncmp(val, "slurm:", 6)) {
		if (count_arg(p, "--launch slurm:N", val + 6, 1, 100000, &v) < 0)
			return -EINVAL;
		o->launch = PD_LAUNCH_SLURM;
		o->slurm.n = (unsigned)v;
	} else if (!strcmp(val, "ssh")) {
		o->launch = PD_LAUNCH_SSH; /* hosts from --hostfile */
	} else if (!strncmp(val, "ssh:", 4)) {
		o->launch = PD_LAUNCH_SSH;
		if (p->prog && pd_ssh_opt(&o->ssh, "hosts", val + 4) < 0)
			return -EINVAL;
		if (!p->prog && pd_ssh_opt_err(&o->ssh, "hosts", val + 4, why, sizeof(why)) < 0)
			return bad(p, "--launch", val, why);
	} else if (registered_kind(p, val) < 0) {
		return -EINVAL;
	} else if (o->launch != PD_LAUNCH_OTHER) {
		return bad(p, "--launch", val,
			   "use local, local:N, slurm:N, ssh:HOST[,HOST...] or none");
	}
	return 0;
}

static int set_handler(pctx *p, const opt_def *d, const char *val)
{
	pd_run_opts *o = p->o;

	(void)d;
	if (!strcmp(val, "process"))
		o->kind = PD_TASK_PROCESS;
	else if (!strcmp(val, "echo"))
		o->kind = PD_TASK_ECHO;
	else if (!strcmp(val, "sleep"))
		o->kind = PD_TASK_SLEEP;
	else if (!strncmp(val, "coproc:", 7) && val[7] && strlen(val + 7) > PD_MAX_SETTING_LEN)
		/* it travels to every agent in WELCOME (codec.h) */
		return badf(p, "--handler coproc:COMMAND: the command is %zu bytes; at most %u",
			    strlen(val + 7), PD_MAX_SETTING_LEN);
	else if (!strncmp(val, "coproc:", 7) && val[7])
		o->kind = PD_TASK_COPROC;
	else
		return bad(p, "--handler", val, "use process, echo, sleep or coproc:'COMMAND'");
	o->coproc = o->kind == PD_TASK_COPROC ? val + 7 : NULL;
	return 0;
}

static int set_coproc_format(pctx *p, const opt_def *d, const char *val)
{
	(void)d;
	if (strcmp(val, "line") && strcmp(val, "json"))
		return bad(p, "--coproc-format", val, "use line or json");
	p->o->coproc_json = val[0] == 'j';
	p->fmt_set = 1;
	return 0;
}

static int set_out_limit(pctx *p, const opt_def *d, const char *val)
{
	uint64_t v;

	(void)d;
	/* a result's stdout must fit the journal: one limit for both; a
	 * session recorded when 1 GiB was taken still resumes (the journal
	 * never kept more of one result anyway) */
	if (count_arg(p, "--output-limit", val, 1,
		      p->recorded ? OUT_LIMIT_ONCE : PD_JOURNAL_MAX_BLOB, &v) < 0)
		return -EINVAL;
	p->o->out_limit_recorded = v > PD_JOURNAL_MAX_BLOB ? v : 0;
	p->o->out_limit = (uint32_t)(v > PD_JOURNAL_MAX_BLOB ? PD_JOURNAL_MAX_BLOB : v);
	return 0;
}

static int set_verbose(pctx *p, const opt_def *d, const char *val)
{
	(void)d;
	(void)val;
	p->o->verbose = 1;
	pd_log_set_level(PD_LOG_DEBUG);
	return 0;
}

/* Every option of run, submit and serve. A new option is one line here
 * (and its field in pd_run_opts, and a line of pd_run_usage); its record
 * key is its name in journals from then on. */
static const opt_def opts[] = {
	{"workers", 0, "workers", required_argument, K_U32, F(workers), 1, 100000, NULL, ANY},
	{"grid", 0, "grid", required_argument, K_STR, F(grid), 0, 0, NULL, ANY},
	{"grid-format", 0, "grid_format", required_argument, K_FN, 0, 0, 0, set_grid_format, ANY},
	{"limit", 0, "limit", required_argument, K_U64, F(limit), 1, UINT64_MAX / 2, NULL, ANY},
	{"chunk", 0, "chunk", required_argument, K_U32, F(chunk), 1, 4096, NULL, ANY},
	{"no-dispatcher", 0, "no_dispatcher", no_argument, K_FLAG, F(no_dispatcher), 1, 0, NULL, ANY},
	{"retries", 0, "retries", required_argument, K_FN, 0, 0, 0, set_retries, ANY},
	{"crash-limit", 0, "crash_limit", required_argument, K_U32, F(crash_limit), 1, 1000, NULL, ANY},
	{"timeout", 0, "timeout", required_argument, K_FN, 0, 0, 0, set_timeout, ANY},
	{"schema", 0, "schema", required_argument, K_STR, F(schema), 0, 0, NULL, ANY},
	{"format", 0, "format", required_argument, K_FN, 0, 0, 0, set_format, ANY},
	{"output", 'o', "output", required_argument, K_STR, F(output), 0, 0, NULL, ANY},
	{"listen", 0, "listen", required_argument, K_STR, F(listen), 0, 0, NULL, ANY},
	{"launch", 0, "launch", required_argument, K_FN, 0, 0, 0, set_launch, ANY},
	{"insecure", 0, "insecure", no_argument, K_FLAG, F(insecure), 1, 0, NULL, ANY},
	{"secret-file", 0, "secret_file", required_argument, K_STR, F(secret_file), 0, 0, NULL, ANY},
	{"shell", 0, "shell", required_argument, K_STR, F(shell), 0, 0, NULL, ANY},
	{"unordered", 0, "unordered", no_argument, K_FLAG, F(unordered), 1, 0, NULL, ANY},
	{"name", 0, "name", required_argument, K_STR, F(name), 0, 0, NULL, ANY},
	{"keep-session", 0, "keep_session", no_argument, K_FLAG, F(keep_session), 1, 0, NULL, ANY},
	{"handler", 0, "handler", required_argument, K_FN, 0, 0, 0, set_handler, ANY},
	{"coproc-format", 0, "coproc_format", required_argument, K_FN, 0, 0, 0, set_coproc_format, ANY},
	{"max-frame", 0, "max_frame", required_argument, K_U64, F(max_frame), 4096, 0xFFFFFFFFu, NULL, ANY},
	{"output-limit", 0, "output_limit", required_argument, K_FN, 0, 0, 0, set_out_limit, ANY},
	{"slots", 0, "slots", required_argument, K_U32, F(agent_slots), 1, 4096, NULL, ANY},
	{"progress", 0, "progress", no_argument, K_FLAG, F(progress), 1, 0, NULL, ANY},
	{"no-progress", 0, "no_progress", no_argument, K_FLAG, F(progress), 0, 0, NULL, ANY},
	{"partition", 0, "slurm_partition", required_argument, K_FN, 0, 0, 0, set_slurm, ANY},
	{"time", 0, "slurm_time", required_argument, K_FN, 0, 0, 0, set_slurm, ANY},
	{"mem", 0, "slurm_mem", required_argument, K_FN, 0, 0, 0, set_slurm, ANY},
	{"cpus", 0, "slurm_cpus", required_argument, K_FN, 0, 0, 0, set_slurm, ANY},
	{"account", 0, "slurm_account", required_argument, K_FN, 0, 0, 0, set_slurm, ANY},
	{"sbatch-arg", 0, "slurm_sbatch_arg", required_argument, K_FN, 0, 0, 0, set_slurm, ANY},
	{"slurm-retries", 0, "slurm_retries", required_argument, K_FN, 0, 0, 0, set_slurm, ANY},
	{"dry-run", 0, "slurm_dry_run", no_argument, K_FN, 0, 0, 0, set_slurm, M_RUN,
	 "--dry-run goes with 'parade run' (it prints the script and submits nothing)", 0},
	/* after --dry-run: a command refuses the first of the table's options
	 * it does not take, and --dry-run's message came first before the
	 * table */
	{"no-journal", 0, "no_journal", no_argument, K_FLAG, F(no_journal), 1, 0, NULL, M_RUN,
	 "--no-journal is for 'parade run' only: a %s session lives in its journal", 0},
	{"hostfile", 0, "ssh_hostfile", required_argument, K_FN, 0, 0, 0, set_ssh, 0, NULL, 1},
	{"ssh-opt", 0, "ssh_opt", required_argument, K_FN, 0, 0, 0, set_ssh, ANY},
	{"tunnel-port", 0, "ssh_tunnel_port", required_argument, K_FN, 0, 0, 0, set_ssh, ANY},
	{"remote-agent", 0, "ssh_remote_agent", required_argument, K_FN, 0, 0, 0, set_ssh, ANY},
	{"tunnel", 0, "ssh_tunnel", no_argument, K_FN, 0, 0, 0, set_ssh, ANY},
	{"remote-connect-file", 0, "ssh_remote_connect_file", no_argument, K_FN, 0, 0, 0, set_ssh, ANY},
	{"verbose", 'v', "verbose", no_argument, K_FN, 0, 0, 0, set_verbose, ANY},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* Remembers option d with value val for the session record: 0 or -ENOMEM
 * (reported as p says). */
static int remember(pctx *p, const opt_def *d, const char *val)
{
	pd_run_opts *o = p->o;

	if (o->ngiven == o->given_cap) {
		unsigned cap = o->given_cap ? o->given_cap * 2 : 32;
		struct pd_run_given *g = NULL;
		if (cap > o->given_cap)
			g = realloc(o->given, cap * sizeof(*g));
		if (!g) {
			badf(p, "out of memory");
			return -ENOMEM;
		}
		o->given = g;
		o->given_cap = cap;
	}
	o->given[o->ngiven].opt = (unsigned)(d - opts);
	o->given[o->ngiven].val = val;
	o->ngiven++;
	return 0;
}

/* Applies option d with value val (NULL for a flag) and remembers it for
 * the session record. 0, -EINVAL, -ENOEXEC (not_applied) or -ENOMEM
 * (reported as p says). */
static int apply(pctx *p, const opt_def *d, const char *val)
{
	pd_run_opts *o = p->o;
	char *base = (char *)o, opt[64];
	uint64_t v;
	int rv = 0;

	snprintf(opt, sizeof(opt), "--%s", d->name);
	switch (d->kind) {
	case K_STR: *(const char **)(base + d->off) = val; break;
	case K_FLAG: *(int *)(base + d->off) = (int)d->min; break;
	case K_U32:
	case K_U64:
		if ((rv = count_arg(p, opt, val, d->min, d->max, &v)) < 0)
			break;
		if (d->kind == K_U32)
			*(uint32_t *)(base + d->off) = (uint32_t)v;
		else
			*(uint64_t *)(base + d->off) = v;
		break;
	default: rv = d->set(p, d, val); break;
	}
	if (rv < 0)
		return rv;
	return remember(p, d, val);
}

static void defaults(pd_run_opts *o, int mode)
{
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
}

/* The checks once every option is in, words being the template. 0 or
 * -EINVAL (reported as p says). */
static int finish(pctx *p, char **words, int nwords)
{
	pd_run_opts *o = p->o;

	if (p->slurm_opts && o->launch != PD_LAUNCH_SLURM)
		return badf(p, "--partition, --time, --mem, --cpus, --account, --sbatch-arg, "
			       "--slurm-retries and --dry-run go with --launch slurm:N");
	/* a host file alone means ssh */
	if (p->ssh_opts && o->ssh.nhosts && !o->launch_set) {
		o->launch = PD_LAUNCH_SSH;
		o->launch_set = 1;
	}
	if (p->ssh_opts && o->launch != PD_LAUNCH_SSH)
		return badf(p, "--hostfile, --ssh-opt, --tunnel, --tunnel-port, --remote-agent and "
			       "--remote-connect-file go with --launch ssh:HOST[,HOST...]");
	/* the launcher kind, by name (launcher.h) */
	if (o->launch != PD_LAUNCH_OTHER)
		o->launcher = launch_names[o->launch];
	if (o->launch == PD_LAUNCH_SSH && !o->ssh.nhosts)
		return badf(p, "--launch ssh needs hosts: ssh:HOST[,HOST...] or --hostfile FILE");
	if ((uint64_t)o->out_limit * 2 + 65536 > o->max_frame)
		return badf(p, "--output-limit %u needs --max-frame of at least %llu (two streams "
			       "and headers fit one frame)",
			    o->out_limit, (unsigned long long)o->out_limit * 2 + 65536);
	o->words = words;
	o->nwords = nwords;
	if (o->shell && o->nwords > 0)
		return badf(p, "give either --shell 'SCRIPT' or -- COMMAND, not both");
	if (p->fmt_set && o->kind != PD_TASK_COPROC)
		return badf(p, "--coproc-format goes with --handler coproc:'COMMAND'");
	/* serve without a command runs the command lines clients submit; a
	 * json coprocess gets the row, not a command */
	if (!o->shell && o->nwords == 0 && o->mode != PD_MODE_SERVE && !o->coproc_json)
		return badf(p, "no command: put it after -- (see '%s --help')",
			    p->prog ? p->prog : "parade run");
	/* options some commands do not take (the table's modes), in the
	 * table's order, whatever the order given */
	for (size_t t = 0; t < NOPTS; t++) {
		const opt_def *d = &opts[t];
		if (!d->modes || (d->modes & (1u << o->mode)))
			continue;
		for (unsigned i = 0; i < o->ngiven; i++)
			if (o->given[i].opt == t)
				return badf(p, d->only,
					    o->mode == PD_MODE_SERVE ? "served" : "submitted");
	}
	if (o->shell && o->kind != PD_TASK_PROCESS)
		return badf(p, "--shell needs the process handler");
	return 0;
}

/* recorded: a command line from a session's journal (pd_run_parse_recorded) */
static int parse(int argc, char **argv, int mode, int recorded, pd_run_opts *o)
{
	struct option lo[NOPTS + 2];
	char shorts[16] = "+h";	/* '+': stop at the first word that is not an option */
	pctx p = {.o = o, .prog = argv[0], .recorded = recorded};
	int c, li = 0, rv;

	defaults(o, mode);
	o->argc = argc;
	o->argv = argv;
	for (size_t i = 0; i < NOPTS; i++) {
		lo[i] = (struct option){opts[i].name, opts[i].has_arg, 0, 256 + (int)i};
		if (opts[i].shortc) {
			size_t n = strlen(shorts);
			shorts[n++] = opts[i].shortc;
			if (opts[i].has_arg == required_argument)
				shorts[n++] = ':';
			shorts[n] = 0;
		}
	}
	lo[NOPTS] = (struct option){"help", no_argument, 0, 'h'};
	lo[NOPTS + 1] = (struct option){0, 0, 0, 0};
	optind = 1;
	while ((c = getopt_long(argc, argv, shorts, lo, &li)) != -1) {
		const opt_def *d = NULL;
		if (c >= 256 && c < 256 + (int)NOPTS)
			d = &opts[c - 256];
		for (size_t i = 0; !d && c > 0 && i < NOPTS; i++)
			if (opts[i].shortc == c)
				d = &opts[i];
		if (c == 'h') {
			fputs(pd_run_usage, stdout);
			return 1;
		}
		if (!d) {
			fprintf(stderr, "%s: see '%s --help'\n", p.prog, p.prog);
			return -EINVAL;
		}
		if ((rv = apply(&p, d, d->has_arg == no_argument ? NULL : optarg)) < 0)
			return rv;
	}
	return finish(&p, argv + optind, argc - optind);
}

int pd_run_parse(int argc, char **argv, int mode, pd_run_opts *o)
{
	return parse(argc, argv, mode, 0, o);
}

int pd_run_parse_recorded(int argc, char **argv, int mode, pd_run_opts *o)
{
	return parse(argc, argv, mode, 1, o);
}

void pd_run_opts_free(pd_run_opts *o)
{
	pd_ssh_opts_free(&o->ssh);
	free(o->given);
	o->given = NULL;
	o->ngiven = o->given_cap = 0;
}

/* ---- the session record's side ---- */

const char *pd_run_opt_name(size_t i, const char **key)
{
	if (i >= NOPTS)
		return NULL;
	*key = opts[i].key;
	return opts[i].name;
}

const char *pd_run_given_key(const pd_run_opts *o, unsigned i, const char **val)
{
	if (i >= o->ngiven)
		return NULL;
	*val = o->given[i].val;
	return opts[o->given[i].opt].key;
}

void pd_run_build_init(pd_run_opts *o, int mode)
{
	defaults(o, mode);
}

int pd_run_build_apply(pd_run_opts *o, const char *key, const char *val, int flags, char *err,
		       size_t errlen)
{
	pctx p = {.o = o, .err = err, .errlen = errlen, .recorded = 1};

	for (size_t i = 0; i < NOPTS; i++) {
		if (strcmp(opts[i].key, key))
			continue;
		if ((opts[i].has_arg == no_argument) != (val == NULL)) {
			snprintf(err, errlen, "option '%s' %s", key,
				 val ? "takes no value" : "needs a value");
			return -EINVAL;
		}
		if ((flags & PD_RUN_BUILD_SHAPE) && opts[i].reads_file)
			return 0;
		return apply(&p, &opts[i], val);
	}
	snprintf(err, errlen, "unknown option '%s'", key);
	return -EINVAL;
}

int pd_run_build_finish(pd_run_opts *o, char **words, int nwords, char *err, size_t errlen)
{
	pctx p = {.o = o, .err = err, .errlen = errlen, .recorded = 1};

	/* the flags finish() checks are the table's: seen again from given[] */
	for (unsigned i = 0; i < o->ngiven; i++) {
		const opt_def *d = &opts[o->given[i].opt];
		if (d->set == set_slurm)
			p.slurm_opts = 1;
		else if (d->set == set_ssh)
			p.ssh_opts = 1;
		else if (d->set == set_coproc_format)
			p.fmt_set = 1;
	}
	return finish(&p, words, nwords);
}
