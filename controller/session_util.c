/* session_util.c - session_int.h: what the commands on a session by name
 * share: asking its controller, reading its journal, waiting for its end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "json.h"
#include "lock.h"
#include "log.h"
#include "session.h"
#include "session_int.h"

#define REQUEST_MS 10000
/* a waiter's look at the journal: a controller on its way out may never
 * answer, and must not hold the waiter up */
#define PEEK_MS 500

static int ask_ms(const char *dir, const char *req, int ms, pd_json **out, char **raw, char *err,
		  size_t errlen);

int ses_ask_raw(const char *dir, const char *req, pd_json **out, char **raw, char *err,
		size_t errlen)
{
	return ask_ms(dir, req, REQUEST_MS, out, raw, err, errlen);
}

static int ask_ms(const char *dir, const char *req, int ms, pd_json **out, char **raw, char *err,
		  size_t errlen)
{
	char url[4200], *reply = NULL;
	size_t rlen = 0;
	int rv;

	*out = NULL;
	if (pd_lock_held(dir, NULL, 0) != 1) {
		snprintf(err, errlen, "no controller is running for this session");
		return -ESRCH;
	}
	if ((rv = pd_session_url(url, sizeof(url), dir, PD_SF_CONTROL_SOCK)) < 0) {
		snprintf(err, errlen, "session path too long: %s", dir);
		return rv;
	}
	rv = pd_control_request(url, req, strlen(req), ms, &reply, &rlen, err, errlen);
	/* a controller that ended while it was asked (it closes its control
	 * socket, then its lock) never answers: that is a session no
	 * controller runs, not a failure of the request */
	if (rv < 0 && pd_lock_held(dir, NULL, 0) == 0) {
		snprintf(err, errlen, "no controller is running for this session (it ended)");
		return -ESRCH;
	}
	if (rv < 0)
		return rv;
	rv = pd_json_parse(reply, rlen, out, err, errlen);
	if (raw)
		*raw = reply;
	else
		free(reply);
	if (rv < 0)
		return rv;
	if (pd_json_type(*out) != PD_JSON_OBJECT) {
		snprintf(err, errlen, "the controller's reply is not a JSON object");
		pd_json_free(*out);
		*out = NULL;
		return -EPROTO;
	}
	return 0;
}

int ses_ask(const char *dir, const char *req, pd_json **out, char *err, size_t errlen)
{
	return ses_ask_raw(dir, req, out, NULL, err, errlen);
}

/* "ok": false replies carry the controller's reason. */
int ses_reply_ok(const pd_json *r, const char *name)
{
	int ok = 0;
	const char *e;

	if (pd_json_bool(pd_json_get(r, "ok"), &ok) == 0 && ok)
		return 1;
	e = pd_json_str(pd_json_get(r, "error"), NULL);
	pd_err("session %s: %s", name, e ? e : "the controller refused the request");
	return 0;
}

uint64_t ses_num(const pd_json *obj, const char *key)
{
	uint64_t v = 0;
	double d;

	if (pd_json_u64(pd_json_get(obj, key), &v) < 0 && pd_json_num(pd_json_get(obj, key), &d) == 0 &&
	    d > 0)
		v = (uint64_t)d;
	return v;
}

const char *ses_str(const pd_json *obj, const char *key)
{
	const char *s = pd_json_str(pd_json_get(obj, key), NULL);
	return s ? s : "";
}

/* ---- the journal of a session no controller holds ---- */


/* Reads the state and counts of the journal in dir. A journal that exists
 * but does not open or read (damaged, foreign, another version) is
 * damaged, with err naming the file and SQLite's complaint. */
void ses_read_offline(const char *dir, ses_offline *off)
{
	char path[4200], *state = NULL;
	pd_journal *j = NULL;
	int rv;

	memset(off, 0, sizeof(*off));
	snprintf(off->state, sizeof(off->state), "no journal");
	if (pd_session_path(path, sizeof(path), dir, PD_SF_JOURNAL) < 0 || access(path, F_OK) != 0)
		return;
	off->has_journal = 1;
	if (pd_journal_open(path, PD_J_READONLY, &j, off->err, sizeof(off->err)) < 0)
		goto damaged;
	rv = pd_journal_counts(j, &off->n);
	if (rv == 0) {
		rv = pd_journal_meta_get(j, "state", &state);
		if (rv == -ENOENT)
			rv = 0; /* a journal from before its first state: running */
	}
	if (rv < 0) {
		snprintf(off->err, sizeof(off->err), "%s", pd_journal_error(j));
		pd_journal_close(j);
		goto damaged;
	}
	/* "running" with nobody holding the lock: the controller died */
	snprintf(off->state, sizeof(off->state), "%s",
		 !state || !strcmp(state, "running") ? "dead" : state);
	free(state);
	pd_journal_close(j);
	return;
damaged:
	off->damaged = 1;
	memset(&off->n, 0, sizeof(off->n));
	snprintf(off->state, sizeof(off->state), "damaged");
}

/* ---- what a session was started with ---- */

/* Opens the journal of session name in dir: 0 or -errno (reported). */
int ses_journal_open(const char *name, const char *dir, int flags, pd_journal **j)
{
	char path[4200], err[1024];
	int rv;

	*j = NULL;
	pd_session_path(path, sizeof(path), dir, PD_SF_JOURNAL);
	if (!path[0] || access(path, F_OK) != 0) {
		pd_err("session %s has no journal (%s): it was run with --no-journal, or inside a "
		       "Slurm step",
		       name, path);
		return -ENOENT;
	}
	if ((rv = pd_journal_open(path, flags, j, err, sizeof(err))) < 0)
		pd_err("session %s: %s", name, err);
	return rv;
}

/* ---- waiting ---- */

/* The controller's word on its journal while it runs: 1 and err set when
 * it reports that it cannot write it, 0 otherwise (also when it cannot be
 * asked). */
int ses_journal_failing(const char *dir, char *err, size_t errlen)
{
	pd_json *r = NULL;
	const pd_json *jn;
	int ok = 1, failing = 0;
	char e[512];

	if (ask_ms(dir, "{\"op\":\"status\"}", PEEK_MS, &r, NULL, e, sizeof(e)) == 0 &&
	    (jn = pd_json_get(r, "journal")) && pd_json_bool(pd_json_get(jn, "ok"), &ok) == 0 &&
	    !ok) {
		snprintf(err, errlen, "%s", ses_str(jn, "error"));
		failing = 1;
	}
	pd_json_free(r);
	return failing;
}

/* Blocks until the session's controller has ended: 0. While it waits, a
 * controller that cannot write the journal ends the wait: 2, reported
 * (the controller keeps the results and retries; tasks stay queued). */
void ses_refind(const char *name, char *dir, size_t dirlen)
{
	char again[4096], err[1024];

	if (pd_session_find(name, again, sizeof(again), err, sizeof(err)) == 0)
		snprintf(dir, dirlen, "%s", again);
}

int ses_wait(const char *name, char *dir, size_t dirlen)
{
	char err[1024];
	int rv;

	for (unsigned tick = 0;; tick++) {
		rv = pd_lock_held(dir, NULL, 0);
		/* on a network home an ended session leaves its runtime folder
		 * for the home's (lib/homefs.h): it is found again */
		if (rv == 0) {
			ses_refind(name, dir, dirlen);
			return 0;
		}
		if (rv < 0) {
			pd_err("cannot wait for session %s: %s", name, strerror(-rv));
			return 2;
		}
		/* the controller is asked once a second, from 0.5 s on; the lock is
		 * cheap */
		if (tick % 10 == 5 && ses_journal_failing(dir, err, sizeof(err))) {
			pd_err("session %s: its journal cannot be written: %s (the controller keeps "
			       "the results it has, hands out no new tasks and retries; free space "
			       "and it goes on by itself)",
			       name, err);
			return 2;
		}
		usleep(100000);
	}
}

