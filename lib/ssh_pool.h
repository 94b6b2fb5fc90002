/* ssh_pool.h - agents on other machines, started and kept alive over ssh:
 * the supervisor that both `parade run --launch ssh` (through the ssh
 * launcher, controller/launch_ssh.c) and `parade launch ssh` /
 * `parade-agent ssh` (pd_ssh_main) use.
 *
 * One `ssh` per host runs `exec parade-agent --connect - --mode ssh
 * --slots K [--coproc 'COMMAND']` there. The session's connection text (the secret included)
 * goes down ssh's stdin, never on a command line, followed by a line
 * `end`; that stdin then stays open, and when it closes (the run ends, the
 * controller dies, the ssh connection breaks) the remote agent ends its
 * tasks and exits. With `tunnel`, ssh also forwards a port on the remote
 * loopback (-R) to the controller, which then only needs to listen on
 * 127.0.0.1; the agents are told to dial tls+tcp://127.0.0.1:RPORT.
 *
 * Each ssh runs in its own process group with PR_SET_PDEATHSIG(SIGTERM),
 * stdout to /dev/null and stderr collected, so that when a session ends
 * its host's line in the log says what ssh (or the remote agent) said;
 * the remote agent's own log lines are passed on at once, ssh's only with
 * debug logging.
 * A session that ends with status 0 (the agent was told to leave) is not
 * restarted. Otherwise it is restarted after a backoff (1 s doubling to
 * 30 s; back to 1 s after a session that stayed up PD_SSH_UP_MS). A host
 * none of whose sessions ever stayed up that long is given up (failed) at
 * once on a permanent error (authentication refused, host key mismatch,
 * unknown host, remote port taken, remote agent missing (126/127),
 * refused by the controller (3), usage error (2)), or after
 * PD_SSH_EARLY_LIMIT sessions in a row ended early for other reasons.
 */
#ifndef PD_SSH_POOL_H
#define PD_SSH_POOL_H

#include <stddef.h>

#include "endpoint.h"
#include "loop.h"
#include "session.h"
#include "ssh.h"

#define PD_SSH_UP_MS 40000u     /* longer than the agent's 30 s grace */
#define PD_SSH_EARLY_LIMIT 5u
#define PD_SSH_BACKOFF_MIN_MS 1000u
#define PD_SSH_BACKOFF_MAX_MS 30000u

typedef struct pd_ssh pd_ssh;

/* ---- the launcher ---- */

/* Starts one ssh per host of o for the session cf (its secret is copied
 * and kept, wiped at pd_ssh_free, to start sessions again). listen_bound
 * is the controller's tls+tcp:// endpoint: in direct mode agents dial
 * cf->endpoint, in tunnel mode the forward goes to listen_bound (a
 * wildcard address means this host's loopback). o and cf are only read
 * during the call. Ignores SIGPIPE for the process. NULL with err on
 * failure (no tls+tcp:// endpoint, no host, out of memory, fork failed). */
pd_ssh *pd_ssh_start(pd_loop *l, const pd_ssh_opts *o, const pd_connfile *cf,
		     const pd_endpoint *listen_bound, char *err, size_t errlen);
unsigned pd_ssh_hosts(const pd_ssh *p);
/* ssh processes currently running. */
unsigned pd_ssh_alive(const pd_ssh *p);
/* Hosts given up (see above). */
unsigned pd_ssh_failed(const pd_ssh *p);
/* Hosts running or waiting to be restarted (neither failed nor left). */
unsigned pd_ssh_active(const pd_ssh *p);
/* Logs one line per host that failed or never stayed up: its address,
 * why, and the last line ssh printed. */
void pd_ssh_report(const pd_ssh *p);
/* Ends every session: closes each ssh's stdin (the agents leave, a
 * --remote-connect-file copy is removed), waits up to 5 s, then SIGTERM,
 * then SIGKILL to each process group, and reaps them. Blocks. NULL is a
 * no-op; idempotent. */
void pd_ssh_stop(pd_ssh *p);
void pd_ssh_free(pd_ssh *p);

/* ---- the command ---- */

/* `parade launch ssh` and `parade-agent ssh`: argv[0] is "ssh"; prog is
 * the name for messages. Starts agents on the given hosts for a running
 * controller's connection file and supervises them until they leave, the
 * connection file disappears (the run is over) or a signal comes.
 * Returns the exit status: 0 all left, 1 some host failed, 2 usage. */
int pd_ssh_main(const char *prog, int argc, char **argv);

#endif
