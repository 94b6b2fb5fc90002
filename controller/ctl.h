/* ctl.h - the state of one session's controller, shared by the files that
 * make it up: run.c (set-up, the loop, the end), run_listen.c (its
 * listeners), record.c (results, the journal, counters) and control_ops.c
 * (the control socket's requests). Its agents come from one launcher
 * (launcher.h), which the controller knows only through its ops.
 * Private to the controller program.
 */
#ifndef PD_CTL_H
#define PD_CTL_H

#include <stdint.h>

#include "control.h"
#include "csv.h"
#include "journal.h"
#include "launcher.h"
#include "loop.h"
#include "output.h"
#include "progress.h"
#include "run.h"
#include "schema.h"
#include "server.h"
#include "session.h"
#include "template.h"

#define CTL_RATE_SAMPLES 11 /* one a second: the rate over the last 10 s */

enum ctl_state { CTL_RUNNING = 0, CTL_STOPPING, CTL_ENDED };

/* The session on disk: set up by run.c (setup_session), read by all. */
struct ctl_session {
	char name[128];
	char dir[4096];
	char connpath[4200];
	int dir_fd;	/* the session folder, held from creation to removal (-1: none) */
	int lock_fd;
	uint64_t started_s;
	int given_secret; /* ctl_listen's cf comes with its secret (a Slurm
			   * step's): no new one, no connection file */
	/* a network PARADE_HOME (session_home.c): dir is a runtime folder on
	 * this host; home_dir the home's folder of the session, which gets the
	 * journal's durable copy; home_fd -1 otherwise */
	char home_dir[4096];
	int home_fd, home_lock_fd;
	pd_timer *home_timer;
	long long home_stamp;	/* pd_journal_copy's */
	int home_copied;	/* the last copy is of the journal as it ends */
};

/* The tasks: row i of grid through tpl (argv sessions: sh -c {command});
 * made by run.c, grown by ctl_add_task (serve), read by the server's
 * task callback. */
struct ctl_tasks {
	pd_table *grid;
	pd_template *tpl;
	pd_schema *schema;
	int stdin_input;	/* the one column was read from stdin (shown as "input") */
};

/* The results: record.c's (the journal, the table, the counters). */
struct ctl_results {
	pd_output *out;		/* the table of a foreground run; NULL otherwise */
	pd_progress *prog;
	pd_journal *jn;		/* NULL with --no-journal */
	pd_timer *commit_timer;
	int commit_armed;
	uint64_t pend[4];	/* results awaiting their commit, by status class */
	struct ctl_unrec *unrec; /* results the journal refused (not for their size),
				  * held and written again at each commit (counted
				  * in pend[]) */
	uint64_t ok, failed, timeout, lost; /* durable (committed) results */
	uint64_t taken;		/* results taken, committed or not */
	int64_t *agent_rows;	/* journal row of each connected agent, by slot */
	size_t nagent_rows;
	uint64_t rate_at[CTL_RATE_SAMPLES]; /* done counts, one per second */
	unsigned rate_n;
	/* while journal_failed (a commit failed, e.g. a full disk): its error,
	 * since when (ms since the epoch); the results are kept (pend[]), no
	 * task is handed out, and the commit is tried again every second */
	int journal_failed;
	char journal_err[512];
	uint64_t journal_fail_ms;
};

/* One session's controller: the options, the loop and server, the parts
 * above, the launcher and the state of the run (run.c; control_ops.c
 * answers the control socket from it). */
typedef struct ctl {
	const pd_run_opts *o;
	pd_loop *loop;
	pd_server *srv;
	struct ctl_session ses;
	struct ctl_tasks tasks;
	struct ctl_results res;
	/* where agents come from (launcher.h); NULL until it started */
	pd_launcher *launcher;
	pd_timer *watch;	/* once a second: rate, lonely, the launcher's health */
	unsigned lonely_s;
	/* the run */
	pd_control *ctrl;
	int state;		/* enum ctl_state */
	int cancel;		/* stop --cancel */
	int serve;		/* no fixed task list: runs until stopped */
	int interrupted, write_failed, no_agents;
} ctl;

/* session_home.c: a session whose folder is a runtime folder (a network
 * PARADE_HOME, lib/homefs.h). attach: once the session's lock is taken and
 * its loop made,
 * finds the home's folder, takes its lock too (other hosts see it held)
 * and starts the heartbeat: every PD_RUNTIME_BEAT_S the pointer is
 * touched and the journal, when it changed, copied into the home. On a
 * local home it does nothing. 0 or -1 (reported). final: lets the home's
 * lock go, and the last copy, after the journal's last commit (before it
 * closes). end: after the
 * session folder was kept or removed: a kept one whose last copy is in the
 * home leaves this host (its runtime folder and the pointer go); closes
 * what attach opened. */
int ctl_home_attach(ctl *c);
void ctl_home_final(ctl *c);
void ctl_home_end(ctl *c);

/* record.c */
/* Results from the server: schema check, journal, table, counters. */
void ctl_on_result(void *arg, const pd_result_msg *m, const char *agent);
void ctl_on_sent(void *arg, uint64_t id, uint32_t attempt, const char *agent);
void ctl_on_agent(void *arg, int joined, const pd_agent_info *a);
/* Commits what the journal holds; counts those results as done. Results
 * the journal refused are written again first; while one is still refused
 * the journal is failing (journal_failed, journal_err). */
void ctl_commit(ctl *c);
/* Frees the results still held in c->unrec (at the end of the run). */
void ctl_unrec_free(ctl *c);
/* Tasks finished for good (committed), and in all. */
uint64_t ctl_done(const ctl *c);
uint64_t ctl_total(const ctl *c);
/* One rate sample (call once a second); tasks/s over the last 10 s. */
void ctl_rate_sample(ctl *c);
double ctl_rate(const ctl *c);
/* Ends the loop when every task is finished and committed (not in serve
 * mode), or when a graceful stop has nothing left running. */
void ctl_check_end(ctl *c);
/* Appends a task (row of cells, grid->ncols of them) to the grid, the
 * journal and the queue. 0 or -errno. */
int ctl_add_task(ctl *c, const char *const *cells);
/* Journal set-up: a new session writes its session record (c->o, the
 * columns: pd_record_write, session_record.h) and tasks; a restarted one
 * reads its columns and tasks back into c->grid (pd_record_grid), its
 * stdin flag from c->o->stdin_recorded (the one column of a stdin session
 * is named "" until the template is compiled, as for a new one). */
int ctl_journal_create(ctl *c, char *err, size_t errlen);
int ctl_journal_reopen(ctl *c, char *err, size_t errlen);
int ctl_journal_event(ctl *c, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Resume: queues every task without a result, at the next attempt. */
int ctl_journal_restore(ctl *c, char *err, size_t errlen);

/* run_listen.c */
/* The session's connection file (c->connpath; a new secret, or on resume
 * the session's own, so that agents still alive can join again; cf gets
 * it all; with c->ses.given_secret cf's secret is used and no file is
 * written), the local agents' socket, and a TCP listener for listen_url
 * (NULL: none; port 0 takes a free one, or on resume the old one when it
 * is free; *tls made on first use). 0, or -errno with err. */
int ctl_listen(ctl *c, pd_connfile *cf, const char *listen_url, pd_tls **tls, char *err,
	       size_t errlen);

/* detach.c */
/* Detaching: the parent waits until the child says the session is up
 * (its line "ok") or dies, so that `submit` can fail with the reason and
 * `wait`/`status` right after it find a controller. The child logs to the
 * session's controller.log from the start (nothing it starts may hold the
 * caller's stdout or stderr open); when it fails, the parent copies what
 * it wrote there to stderr. Returns in the child with *ready_fd set; the
 * parent never returns. */
void ctl_detach(const ctl *c, int *ready_fd);
/* The child is up: tells the parent (which then exits 0). */
void ctl_detached_ready(int *ready_fd);

/* control_ops.c */
void ctl_control(void *arg, const char *req, size_t len, pd_buf *reply);
/* Grows or shrinks the agent pool to n. 0, or -errno with err. */
int ctl_scale(ctl *c, unsigned n, char *err, size_t errlen);
/* Graceful stop (running tasks finish) or cancel (they are killed). */
void ctl_stop(ctl *c, int cancel);

#endif
