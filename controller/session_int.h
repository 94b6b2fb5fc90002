/* session_int.h - what the commands that act on a session by name
 * (session_cmds.c, session_collect.c) share; session_util.c has the
 * bodies. Private to the controller program. Every function that returns
 * -errno has reported why (pd_err) unless it says it fills err. */
#ifndef PD_SESSION_INT_H
#define PD_SESSION_INT_H

#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include "json.h"
#include "run.h"

/* Asks the session's controller (dir: the session folder) with request req;
 * *out is the parsed reply (an object; ok or not), and *raw (if raw is not
 * NULL) its text, both owned by the caller. -ESRCH when no controller holds
 * the session, -errno otherwise; err says why (not reported). */
int ses_ask_raw(const char *dir, const char *req, pd_json **out, char **raw, char *err,
		size_t errlen);
int ses_ask(const char *dir, const char *req, pd_json **out, char *err, size_t errlen);
/* 1 if reply r says "ok": true; else reports its "error" for session name, 0. */
int ses_reply_ok(const pd_json *r, const char *name);
/* Member key of obj as a whole number (0 if absent), as a string ("" if
 * absent; borrowed from obj). */
uint64_t ses_num(const pd_json *obj, const char *key);
const char *ses_str(const pd_json *obj, const char *key);

/* What the journal of a session no controller holds says. */
typedef struct ses_offline {
	char state[64];
	pd_jcounts n;
	int has_journal;
	int damaged;		/* the journal is there but cannot be read: err says why */
	char err[1024];
} ses_offline;

/* Fills off from the journal in dir (never fails: see has_journal and
 * damaged). A journal that exists but does not open or read (damaged,
 * foreign, another version) is damaged, with err naming the file and
 * SQLite's complaint. */
void ses_read_offline(const char *dir, ses_offline *off);

/* Opens the journal of session name (folder dir) with pd_journal_open's
 * flags; *j is owned by the caller. 0 or -errno. */
int ses_journal_open(const char *name, const char *dir, int flags, pd_journal **j);

/* Finds session name again into dir (unchanged when it cannot): a session
 * on a network home leaves its runtime folder when its controller ends
 * (lib/homefs.h), so a command that found it running and reads it after
 * the end looks again. */
void ses_refind(const char *name, char *dir, size_t dirlen);

/* 1 with err set when the running controller of dir reports that it
 * cannot write its journal; 0 otherwise (also when nobody answers). */
int ses_journal_failing(const char *dir, char *err, size_t errlen);
/* Blocks until the controller of session name (folder dir) has ended: 0,
 * and dir is where the session is now (a session on a network home leaves
 * its runtime folder as it ends). A controller that cannot write its
 * journal ends the wait: 2. -errno never. */
int ses_wait(const char *name, char *dir, size_t dirlen);

#endif
