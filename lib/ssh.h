/* ssh.h - the ssh launch mode's pure parts, shared by parade (run and
 * `parade launch ssh`), parade-agent (`--connect -`, `parade-agent ssh`)
 * and the unit tests: hosts and host files, the ssh command line and the
 * remote command, the connection text sent down ssh's stdin (both
 * writing and reading it), and judging how an ssh session ended.
 *
 * The connection text is the connection file's key=value lines (see
 * session.h) followed by a line `end`; after it the controller sends
 * nothing and keeps the pipe open, so the end of the agent's stdin means
 * the ssh session is over.
 */
#ifndef PD_SSH_H
#define PD_SSH_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "session.h"

#define PD_SSH_MAX_OPTS 64
#define PD_SSH_MAX_SLOTS 4096
#define PD_CONNTEXT_MAX 16384 /* bytes of connection text read at most */

typedef struct pd_ssh_host {
	char user[64];  /* empty: ssh's default */
	char host[256]; /* name or address, without brackets */
	unsigned port;  /* 0: ssh's default */
	unsigned slots; /* 0: pd_ssh_opts.slots */
} pd_ssh_host;

typedef struct pd_ssh_opts {
	pd_ssh_host *hosts; /* owned: pd_ssh_opts_free */
	size_t nhosts, cap;
	const char *ssh_opts[PD_SSH_MAX_OPTS]; /* borrowed: each becomes `-o VALUE` */
	size_t nopts;
	int tunnel;                /* reverse-forward a remote loopback port */
	unsigned tunnel_port;      /* that port; 0: one the host's sshd picks */
	const char *remote_agent;  /* borrowed; NULL: "parade-agent" (remote PATH) */
	int remote_connect_file;   /* copy the text to ~/.parade/ there instead */
	unsigned slots;            /* tasks per agent when a host names none; 0: 1 */
	int verbose;               /* pass -v to the remote agents */
	const char *ssh_program;   /* borrowed; NULL: $PARADE_SSH, else "ssh" */
	const char *coproc;        /* borrowed; the agents' --coproc COMMAND; NULL: none */
} pd_ssh_opts;

/* ---- options ---- */

/* Parses one launcher option (name without "--") into o: "hosts"
 * (HOST[,HOST...], as in --launch ssh:LIST), "hostfile", "ssh-opt",
 * "tunnel" (value NULL), "tunnel-port", "remote-agent",
 * "remote-connect-file" (value NULL). value is borrowed. 1 if it was one of
 * them, 0 if not, -EINVAL after logging the problem. Host names may not
 * start with '-' (nothing that ssh would take for an option). */
int pd_ssh_opt(pd_ssh_opts *o, const char *name, const char *value);
/* The same, logging nothing: the problem goes into err ("--hostfile:
 * cannot read host file F: No such file or directory", the line
 * pd_ssh_opt logs). */
int pd_ssh_opt_err(pd_ssh_opts *o, const char *name, const char *value, char *err, size_t errlen);
/* Frees the host list. */
void pd_ssh_opts_free(pd_ssh_opts *o);

/* Parses "[user@]host[:port]" ("[v6addr]:port" for IPv6 with a port).
 * 0, or -EINVAL with err naming the problem (no file or line). */
int pd_ssh_host_parse(const char *s, size_t len, pd_ssh_host *h, char *err, size_t errlen);
/* "[user@]host[:port]" for log lines. */
void pd_ssh_host_name(const pd_ssh_host *h, char *out, size_t outlen);

/* Appends the hosts of a host file: one `[user@]host[:port] [slots]` per
 * line (slots as N or slots=N), `#` comments, blank lines. 0, or -EINVAL /
 * -errno with err naming the file, the line and the problem. */
int pd_hostfile_load(const char *path, pd_ssh_opts *o, char *err, size_t errlen);
/* The same on text in memory; `name` stands for the file in messages. */
int pd_hostfile_parse(const char *name, const char *text, size_t len, pd_ssh_opts *o, char *err,
		      size_t errlen);

/* ---- what runs ---- */

/* The -R value: "127.0.0.1:RPORT:TARGET:CPORT" (TARGET bracketed when it
 * holds ':'). RPORT 0 lets the host's sshd choose a free port, which ssh
 * then reports (pd_ssh_allocated_port). 0 or -ENAMETOOLONG. */
int pd_ssh_forward(unsigned rport, const char *target, unsigned cport, char *out, size_t len);
/* 1 and *port when line (one line of ssh's stderr, no line end) is ssh's
 * report of a -R 0 forward, "Allocated port N for remote forward to
 * HOST:PORT"; else 0. */
int pd_ssh_allocated_port(const char *line, unsigned *port);
/* The shell command run on the host (ssh hands it to the login shell):
 * `exec AGENT --connect - --mode ssh --slots K [-v] [--coproc 'COMMAND']`,
 * or with remote_connect_file a script that checks ~/.parade (made 0700
 * if missing; one of another user or writable by group or others: a line
 * on stderr naming it and exit 2), saves the text to
 * ~/.parade/remote-SESSION.INDEX.conn (mode 0600, after removing whatever
 * had that name, so a planted link is never written through), runs the agent on it
 * with --exit-on-eof and the same options, and removes it when the agent
 * exits. COMMAND (o->coproc) is single-quoted ('\'' for a quote,
 * pd_shell_quote), so a POSIX login shell (sh, dash, bash, ksh, zsh)
 * passes it to the agent byte for byte, quotes, '$', ';', spaces and
 * newlines included (csh rejects a newline in quotes; fish reads
 * backslashes there). Nothing is cut short: it all goes into out.
 * 0, or -ENOMEM (out may then hold part of the command). */
int pd_ssh_remote_cmd(const pd_ssh_opts *o, const pd_ssh_host *h, const char *session,
		      size_t index, pd_buf *out);
/* argv of one ssh: ssh [-o OPT...] -o BatchMode=yes -o ConnectTimeout=10
 * -o ServerAliveInterval=5 -o ServerAliveCountMax=3 [-p PORT]
 * [-o ExitOnForwardFailure=yes -o LogLevel=INFO -R FORWARD] [user@]host --
 * REMOTE_CMD.
 * The user's options come first because ssh keeps the first value it gets
 * for each option. forward NULL: no tunnel. A malloc'd NULL-terminated
 * array of malloc'd strings (pd_ssh_argv_free), or NULL when out of
 * memory. */
char **pd_ssh_argv(const char *ssh, const pd_ssh_opts *o, const pd_ssh_host *h,
		   const char *forward, const char *remote_cmd);
void pd_ssh_argv_free(char **argv);
/* The connection text sent down ssh's stdin: version, session, endpoint
 * (given, e.g. rewritten for the tunnel), psk_identity, secret, then
 * `end`. Appends to out (the caller wipes it). 0 or -ENOMEM. */
int pd_ssh_conn_text(const pd_connfile *cf, const char *endpoint, pd_buf *out);

enum pd_ssh_verdict {
	PD_SSH_LEFT = 0, /* exit 0: the agent was told to leave */
	PD_SSH_RETRY,    /* start it again after a backoff */
	PD_SSH_GIVE_UP,  /* permanent (for a host that never worked) */
};
/* Judges how a session ended from its wait status and ssh's stderr
 * (text). rport is the tunnel's chosen remote port, for the message (0:
 * none, or one the host's sshd allocates).
 * why gets a short phrase ("authentication refused"). */
int pd_ssh_classify(int wstatus, const char *text, unsigned rport, char *why, size_t whylen);

/* ---- the connection text, read by the agent ---- */

/* Parses connection text: key=value lines (version, session, endpoint,
 * local, psk_identity, secret; '#' comments and blank lines allowed) up
 * to a line `end`. 0 with *used = the bytes through the `end` line;
 * -EAGAIN when text holds no `end` line yet (err says so, for an input
 * that ended there); -EINVAL with err naming the line and the problem
 * (line too long, no '=', unknown key, bad version, bad secret, or at
 * `end` a missing version, endpoint or secret). On every error
 * cf->secret is zero. Lines are judged as they complete, so a bad line is
 * reported before `end` arrives. */
int pd_conntext_parse(const char *text, size_t len, pd_connfile *cf, size_t *used, char *err,
		      size_t errlen);
/* Reads connection text from fd (the agent's stdin) through its `end`
 * line, one byte at a time so that nothing after it is taken, waiting at
 * most timeout_ms in all; the bytes read are wiped. 0, or -EINVAL,
 * -ETIMEDOUT or -EIO with err. */
int pd_conntext_read(int fd, uint64_t timeout_ms, pd_connfile *cf, char *err, size_t errlen);

#endif
