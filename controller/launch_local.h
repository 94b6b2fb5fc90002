/* launch_local.h - N parade-agent processes on this machine, supervised.
 *
 * Each agent runs in its own process group (a terminal's Ctrl-C reaches
 * only the controller, which then stops them in order) and dials the
 * session's local endpoint, given as --url ipc://... (the Unix socket in
 * the 0700 session folder needs no secret, so local agents never read the
 * connection file and their command line names no file that holds it). Agents of a foreground run get
 * PR_SET_PDEATHSIG(SIGTERM) so they never outlive the controller; those of
 * a durable session (`survive`) outlive a controller crash for their grace
 * period, so that a restarted controller gets them and their results back. An agent that dies while the run
 * goes on is restarted (at most `max_restarts` times in all); one that
 * exits with status 2 or 3 (usage error, refused) is not.
 */
#ifndef PD_LAUNCH_LOCAL_H
#define PD_LAUNCH_LOCAL_H

#include <stddef.h>

#include "loop.h"

typedef struct pd_local pd_local;

/* Finds the parade-agent program: $PARADE_AGENT, next to this program,
 * ../agent/ (build tree), the install bindir, else "parade-agent" on PATH.
 * Writes it to out. */
void pd_local_agent_path(char *out, size_t outlen);

/* Starts n agents for the connection file connfile (borrowed string, must
 * outlive the launcher; read once here for its local= endpoint, and its
 * secret wiped at once; a file without local= gives agents --connect
 * connfile --local). extra_args: NULL-terminated extra agent options
 * (borrowed) or NULL. survive: see above. NULL with err on failure. */
pd_local *pd_local_start(pd_loop *l, const char *connfile, unsigned n, const char *const *extra,
			 int survive, char *err, size_t errlen);
/* Starts n more agents. 0 or -errno. */
int pd_local_grow(pd_local *p, unsigned n);
/* Counts an agent this launcher did not start (one a crashed controller
 * left behind) as one of its own: it is signalled by pd_local_stop. It
 * is checked to be a parade-agent of this session (--url and the local
 * endpoint, or --connect and connfile, on its command line); 0, or -ESRCH
 * when it is not. */
int pd_local_adopt(pd_local *p, int pid);
/* Agents currently alive (adopted ones included). */
unsigned pd_local_alive(const pd_local *p);
/* Stops every agent: waits up to grace_ms for those told to leave (BYE)
 * to exit, then SIGTERM, then SIGKILL to each agent's process group, and
 * reaps them all. Blocks (does not need the loop). */
void pd_local_stop(pd_local *p, unsigned grace_ms);
void pd_local_free(pd_local *p);

#endif
