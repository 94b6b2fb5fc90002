/* journal_copy.c - pd_journal_copy (journal.h): the durable copy of a
 * journal kept in a network PARADE_HOME (lib/homefs.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal_int.h"

int pd_journal_copy(pd_journal *j, const char *path, long long *stamp, char *err, size_t errlen)
{
	long long changes;
	char tmp[4200];
	sqlite3_stmt *s = NULL;
	int rc, fd, rv = 0;

	/* VACUUM runs outside a transaction: what is pending commits first */
	if (!j->readonly && (pd_journal_pending(j) || j->broken || !sqlite3_get_autocommit(j->db)) &&
	    (rv = pd_journal_commit(j)) < 0) {
		snprintf(err, errlen, "%s", j->err);
		return rv;
	}
	changes = (long long)sqlite3_total_changes(j->db);
	if (stamp && *stamp == changes)
		return 1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.copy-%ld", path, (long)getpid()) >=
	    sizeof(tmp)) {
		snprintf(err, errlen, "journal copy %s: path too long", path);
		return -ENAMETOOLONG;
	}
	unlink(tmp);
	/* VACUUM INTO: one consistent snapshot, in rollback mode, compacted */
	rc = sqlite3_prepare_v2(j->db, "VACUUM INTO ?1", -1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(s, 1, tmp, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "journal copy %s: %s", tmp, sqlite3_errmsg(j->db));
		rv = rc == SQLITE_FULL ? -ENOSPC : -EIO;
	}
	sqlite3_finalize(s);
	if (rv == 0 && (fd = open(tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		rv = -errno;
	if (rv == 0) {
		if (fchmod(fd, 0600) < 0 || fsync(fd) < 0)
			rv = -errno;
		if (close(fd) < 0 && rv == 0)
			rv = -errno;
	}
	if (rv == 0 && rename(tmp, path) < 0)
		rv = -errno;
	if (rv == 0 && stamp)
		*stamp = changes;
	if (rv < 0) {
		if (rv != -EIO && rv != -ENOSPC)
			snprintf(err, errlen, "journal copy %s: %s", path, strerror(-rv));
		unlink(tmp);
		snprintf(tmp + strlen(tmp), sizeof(tmp) - strlen(tmp), "-journal");
		unlink(tmp);
	}
	return rv;
}
