/* agent_cmd.h - the one place where parade-agent's command line and
 * environment are built, for every launcher: the local launcher and the
 * SPANK plugin exec an argv, ssh and sbatch hand a shell command line to a
 * remote shell.
 *
 * A launcher fills a pd_agent_cmd with its settings and asks for either
 * form; both walk the same list, so the two forms always name the same
 * options in the same order:
 *
 *   PROGRAM (--url URL | --connect FILE) [--local] [--wait-connect]
 *           [--exit-on-eof] [--stay] [--follow] [--mode MODE] [--slots K]
 *           [--grace SEC]
 *           [--id ID] [-v] [--coproc COMMAND]
 *
 * Libc only (and lib/buf.h, itself libc only, for the shell form): the
 * SPANK plugin compiles this file into parade.so, which runs inside
 * slurmstepd. Nothing here allocates except pd_buf appends.
 *
 * Adding an agent option a launcher must pass: one field here and one
 * line in agent_cmd.c's items(); both forms follow.
 */
#ifndef PD_AGENT_CMD_H
#define PD_AGENT_CMD_H

#include <stddef.h>

#include "buf.h"

/* The agent's settings. Every string is borrowed: it must outlive the
 * argv built from it. Zero-initialise, then set what applies; a zero or
 * NULL field is left off the command line. */
typedef struct pd_agent_cmd {
	const char *program; /* argv[0]: the agent's path (or a name for PATH) */
	const char *url;     /* --url URL; when set, connect is ignored */
	const char *connect; /* --connect FILE; "-" reads the connection text
	                      * from stdin (ssh) */
	int local;           /* --local: dial the file's ipc:// endpoint */
	int wait_connect;    /* --wait-connect: wait for the file to appear */
	int exit_on_eof;     /* --exit-on-eof: leave when stdin closes */
	int stay;            /* --stay: after BYE or a lost controller, dial the
	                      * same endpoint again, for the next controller */
	int follow;          /* --follow: no tasks; wait for the controller's run
	                      * and exit with its exit status (not with stay) */
	const char *mode;    /* --mode MODE: local, ssh, slurm; NULL: none */
	unsigned slots;      /* --slots K; 0: not given (the agent's 1) */
	unsigned grace_s;    /* --grace SEC; 0: not given (the agent's 30) */
	const char *id;      /* --id ID (what HELLO claims); NULL: the agent's HOST:PID */
	int verbose;         /* -v */
	const char *coproc;  /* --coproc COMMAND; NULL: none */
} pd_agent_cmd;

#define PD_AGENT_ARGV_MAX 24

/* An argv built by pd_agent_cmd_argv: argv[] points into the
 * pd_agent_cmd's strings and into num[] here, so it lives as long as
 * both. Callers allocate it (on the stack, or inside their own state). */
typedef struct pd_agent_argv {
	char *argv[PD_AGENT_ARGV_MAX]; /* NULL-terminated */
	char num[2][16];               /* the --slots and --grace values */
} pd_agent_argv;

/* Fills out->argv: program, then the options above. 0, or -EINVAL when
 * program is NULL or empty, or neither url nor connect is set (out->argv
 * is then { NULL }). Allocates nothing and takes no lock. */
int pd_agent_cmd_argv(const pd_agent_cmd *c, pd_agent_argv *out);

/* How pd_agent_cmd_shell writes the program and the --url/--connect
 * value. Default (0): each single-quoted (sbatch). */
enum {
	/* as a bare word when it holds only [A-Za-z0-9_./+,:=@%-] (a leading
	 * "~/" kept unquoted so that the remote shell expands it), else
	 * single-quoted (ssh) */
	PD_AGENT_SH_WORDS = 1,
	/* the --connect value is shell text written as it is, e.g. "$f" */
	PD_AGENT_SH_CONNECT_RAW = 2,
};

/* Appends the command line for a POSIX shell to out (no "exec", no line
 * end): the same words as pd_agent_cmd_argv, separated by one space, the
 * program and connection value written as flags say, option names, the
 * mode and numbers as they are, COMMAND always single-quoted. Quoting is
 * POSIX single quotes with '\'' for a quote (pd_agent_cmd_quote), so
 * sh, dash, bash, ksh and zsh pass every byte on as it was. 0, -EINVAL
 * (as pd_agent_cmd_argv; out untouched) or -ENOMEM (out may hold part of
 * the line). */
int pd_agent_cmd_shell(const pd_agent_cmd *c, unsigned flags, pd_buf *out);

/* Appends s[0..len) single-quoted: '...' with each ' written '\''.
 * 0 or -ENOMEM (out untouched). */
int pd_agent_cmd_quote(pd_buf *out, const char *s, size_t len);

/* ---- the environment ---- */

#define PD_AGENT_ENV_MAX 16
#define PD_AGENT_ENV_BYTES 32768

/* An environment for execve, in caller storage: envp[] points into
 * store[]. Zero-initialise (an empty environment). For launchers that
 * give the agent a fixed, minimal environment (the SPANK plugin: none of
 * the job's variables); the others let the agent inherit theirs. */
typedef struct pd_agent_env {
	char *envp[PD_AGENT_ENV_MAX + 1]; /* NULL-terminated */
	char store[PD_AGENT_ENV_BYTES];
	size_t n, used;
} pd_agent_env;

/* Adds NAME=VALUE. 0, -EINVAL (name empty or holding '='), -E2BIG (more
 * than PD_AGENT_ENV_MAX variables) or -ENAMETOOLONG (store full); e is
 * unchanged on error. A name given twice is added twice: callers add
 * each once. */
int pd_agent_env_add(pd_agent_env *e, const char *name, const char *value);

#endif
