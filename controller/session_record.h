/* session_record.h - the session record: what a session was started with,
 * kept as data in its journal and read back by one reader.
 *
 * Written once, when the session's journal is created, as the journal meta
 * "record", one JSON object:
 *   {"version":1, "mode":"submit", "stdin":false,
 *    "options":[["chunk","8"],["no_dispatcher"],["launch","ssh:a,b"],...],
 *    "words":["echo","{x}"]}
 * options: every option given, in order, by its record key (run_opts.c's
 * table: a key stays when the command-line name changes) with its value
 * (none for a flag); words: the template after --. Schema, format, mode,
 * launcher settings and everything resume needs come from these through
 * the same table the command line goes through, never through getopt.
 * The grid's column names are the meta "columns" (a JSON array), read by
 * pd_record_grid, the one place the grid is rebuilt from a journal.
 * (The meta keys "argv", "schema", "format" and "stdin" are still written,
 * for older parade versions; nothing here reads them when a record is
 * there.)
 *
 * Journals written before the record (only "argv", and since #11 "schema"
 * and "format") are read by the legacy reader, record_read_legacy in
 * session_record.c, and only when there is no "record". Private to the
 * controller program.
 */
#ifndef PD_SESSION_RECORD_H
#define PD_SESSION_RECORD_H

#include <stddef.h>

#include "csv.h"
#include "journal.h"
#include "json.h"
#include "run.h"

#define PD_RECORD_VERSION 1

typedef struct pd_record {
	pd_run_opts o;		/* the session's options: strings borrowed from this
				 * record (valid until pd_record_free) */
	int mode;		/* enum pd_mode the session was started in */
	int stdin_input;	/* its tasks were lines of stdin */
	int legacy;		/* read by the legacy reader (no record in the journal) */
	/* private */
	pd_json *json;
	char **words;
	char *schema;		/* legacy, shape only: the meta "schema" */
} pd_record;

/* pd_record_read flags */
#define PD_REC_FOR_RUN 1 /* resume: a recorded -v sets the log level */
#define PD_REC_SHAPE 2	 /* collect: only schema and format are wanted (an old
			  * journal with meta "schema" and "format" needs no
			  * command line parsed) */

/* Writes what a new session is into journal j's meta (uncommitted, as
 * pd_journal_meta_set): its record (options o, their mode and words, and
 * stdin_input), the column names of grid ("columns"), and the keys older
 * parade versions read. The one writer of these keys. 0 or -errno. */
int pd_record_write(pd_journal *j, const pd_run_opts *o, int stdin_input, const pd_table *grid);
/* Reads the record of session name from journal j (borrowed) into r (the
 * caller frees it with pd_record_free, also on failure). Errors are
 * reported (pd_err) naming the session and, for a damaged record, the
 * field: "session s: the journal's session record is damaged: options[2]:
 * --chunk '0': expected a whole number from 1 to 4096"; a record that is
 * fine but holds an option its launcher cannot apply here (a --hostfile
 * gone since) is not damaged: "session s: its option --hostfile F cannot
 * be applied: cannot read host file F: No such file or directory". The
 * caller's getopt state and (unless PD_REC_FOR_RUN) log level are kept.
 * 0, -EPROTO (either) or -ENOMEM. */
int pd_record_read(const char *name, pd_journal *j, int flags, pd_record *r);
void pd_record_free(pd_record *r);

/* Rebuilds the grid of journal j: a table with the recorded column names
 * and every task, in task order; *grid is the caller's (NULL on error).
 * 0, -EPROTO (err: the columns are missing or damaged, or the tasks do not
 * fit them) or -ENOMEM / -errno with err. */
int pd_record_grid(pd_journal *j, pd_table **grid, char *err, size_t errlen);

#endif
