/* run.h - `parade run`: options, and the run itself. */
#ifndef PD_RUN_H
#define PD_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "launch_slurm.h"
#include "ssh_pool.h"

/* PD_LAUNCH_OTHER: a kind registered at run time (launcher.h), named by
 * pd_run_opts.launcher */
enum pd_launch { PD_LAUNCH_LOCAL = 0, PD_LAUNCH_NONE, PD_LAUNCH_SLURM, PD_LAUNCH_SSH, PD_LAUNCH_OTHER };

/* How the controller lives: a foreground run with a table (run), a
 * detached one (submit, resume), a long-lived one fed over the control
 * socket (serve). */
enum pd_mode { PD_MODE_RUN = 0, PD_MODE_SUBMIT, PD_MODE_SERVE, PD_MODE_RESUME };

typedef struct pd_run_opts {
	unsigned workers;        /* local agents (0: one per usable CPU, lib/cpus.h) */
	const char *grid;        /* NULL: one input per line from stdin */
	int grid_format;         /* -1: from the file name */
	uint64_t limit;          /* 0: all rows */
	uint32_t chunk;
	int no_dispatcher;
	uint32_t retries;
	uint32_t crash_limit;
	uint32_t timeout_ms;
	uint32_t out_limit;
	uint64_t out_limit_recorded; /* pd_run_parse_recorded: a recorded --output-limit
				      * above the maximum, taken as the maximum (else 0) */
	const char *schema;
	int format;
	const char *output;      /* NULL: stdout */
	const char *listen;      /* extra endpoint for remote agents */
	const char *secret_file; /* --secret-file: the session secret (64 hex
				  * digits in a file of this user's, 0600 or
				  * 0400) instead of a new random one */
	int launch;              /* enum pd_launch */
	int launch_set;          /* --launch was given */
	const char *launcher;    /* the launcher kind's name (launcher.h), from launch */
	pd_slurm_opts slurm;     /* --launch slurm:N and its options */
	pd_ssh_opts ssh;         /* --launch ssh:HOSTS, --hostfile and their options
				  * (hosts owned: pd_ssh_opts_free) */
	int insecure;
	const char *shell;       /* --shell STRING */
	int unordered;
	const char *name;        /* session name */
	int keep_session;
	int kind;                /* --handler: enum pd_task_kind */
	const char *coproc;      /* --handler coproc:COMMAND, else NULL */
	int coproc_json;         /* --coproc-format json */
	uint64_t max_frame;
	uint32_t agent_slots;    /* --slots for local agents */
	int progress;            /* -1 auto, 0 off, 1 on */
	char **words;            /* template words after -- */
	int nwords;
	int mode;                /* enum pd_mode */
	int no_journal;          /* --no-journal (run only) */
	int foreground;          /* resume: stay in the foreground */
	int serve_session;       /* resume: the session was started by serve */
	int stdin_recorded;      /* resume: its tasks were lines of stdin (its record) */
	int verbose;             /* -v */
	int argc;                /* the command line (pd_run_parse; 0 from a record) */
	char **argv;
	/* every option applied, in order (as many as were given): opt indexes
	 * run_opts.c's table, val is borrowed (from argv, or from the record
	 * read); the session record is written from these. The array is
	 * owned: pd_run_opts_free */
	struct pd_run_given {
		unsigned opt;
		const char *val; /* NULL for a flag */
	} *given;
	unsigned ngiven, given_cap;
} pd_run_opts;

/* Parses the arguments of `parade run`, `submit` or `serve` (argv[0] is
 * the command's name for messages, "parade run" etc.; mode says which).
 * Returns 0, 1 when help was printed (exit 0), or -EINVAL (-ENOMEM: out of
 * memory) after printing a message (exit 2). Whatever it returns, o owns
 * memory: pd_run_opts_free. */
int pd_run_parse(int argc, char **argv, int mode, pd_run_opts *o);
/* The legacy reader's parser (session_record.c, journals written before
 * the session record, which kept only their command line): the command
 * line as pd_run_parse reads it, legal when it was recorded: a
 * --output-limit above today's maximum (PD_JOURNAL_MAX_BLOB; up to 1 GiB
 * was taken once) is the maximum, and o->out_limit_recorded says what was
 * recorded (the caller warns, naming the session). */
int pd_run_parse_recorded(int argc, char **argv, int mode, pd_run_opts *o);
/* Frees what o owns (its ssh hosts, its list of options given), after
 * pd_run_parse, pd_run_parse_recorded or pd_run_build_init, whether they
 * succeeded or not; o's borrowed strings are left alone. */
void pd_run_opts_free(pd_run_opts *o);

/* The session record's side of the same table (session_record.c):
 * pd_run_given_key names the i-th option given by its record key (a name
 * that stays when the command-line name changes) and sets *val (NULL for a
 * flag); NULL past the last. A record is read back with pd_run_build_init
 * (the defaults of mode), pd_run_build_apply for each (key, val) in order
 * (val NULL for a flag; borrowed, must outlive o) and pd_run_build_finish
 * (the template words, borrowed, and the checks pd_run_parse makes after
 * the last option; the mode checks in the table's order, so of two options
 * a command does not take the same one is named whatever their order).
 * They return 0; -EINVAL when the record is malformed, with err naming the
 * option ("unknown option 'x'", "--chunk '0': expected a whole number from
 * 1 to 4096"); -ENOEXEC when a launcher's option setter (--hostfile,
 * --partition...) refuses a value it was given, e.g. a file gone since,
 * with err "its option --hostfile F cannot be applied: WHY"; -ENOMEM.
 * Nothing is printed. o is freed with pd_run_opts_free. */
/* The i-th option of the table: its command-line name (NULL past the last)
 * and *key its record key. */
const char *pd_run_opt_name(size_t i, const char **key);
const char *pd_run_given_key(const pd_run_opts *o, unsigned i, const char **val);
void pd_run_build_init(pd_run_opts *o, int mode);
/* PD_RUN_BUILD_SHAPE: only the table's shape is wanted (collect): an
 * option whose value names a file read when it is applied (--hostfile) is
 * skipped, so a file gone since does not matter */
#define PD_RUN_BUILD_SHAPE 1
int pd_run_build_apply(pd_run_opts *o, const char *key, const char *val, int flags, char *err,
		       size_t errlen);
int pd_run_build_finish(pd_run_opts *o, char **words, int nwords, char *err, size_t errlen);
/* Runs the controller; returns the process exit status (0, 1, 2, 130).
 * Submit and resume detach: the caller returns once the session is up. */
int pd_run(const pd_run_opts *o);

extern const char pd_run_usage[];

#endif
