/* secret_search - run as a task, looks for secrets wherever a task can.
 *
 *   secret_search PID NEEDLE...
 *
 * PID is the process to look into (the task's agent: $PPID). A NEEDLE of
 * 64 hex digits (a session secret) is looked for as that text and as its
 * 32 raw bytes; other needles as text. Looked into: this process's own
 * environment; /proc/PID/environ; /proc/PID/cmdline and every readable
 * file its words name; every fd in /proc/PID/fd that can be opened;
 * /proc/PID/mem through /proc/PID/maps; and ptrace(PTRACE_SEIZE) of PID.
 *
 * Prints one line per place: "FOUND <needle#> in <place>" when a needle
 * is there, "OPEN <place>" when a place that should be closed to a task
 * could be read (environ, fd, maps, mem, ptrace), "closed <place>: why"
 * or "clean <place>" otherwise. Always exits 0 (the caller judges).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "session.h"

#define MAX_NEEDLES 8
#define REGION_MAX (256u << 20) /* larger mappings (sanitizer shadow) are skipped */

static struct {
	const char *text;
	unsigned char raw[32];
	int has_raw;
} needles[MAX_NEEDLES];
static int nneedles;

/* Reports every needle in p[0, n); returns how many were found. */
static int search(const char *place, const unsigned char *p, size_t n)
{
	int found = 0;

	for (int i = 0; i < nneedles; i++) {
		size_t tl = strlen(needles[i].text);
		if ((tl && memmem(p, n, needles[i].text, tl)) ||
		    (needles[i].has_raw && memmem(p, n, needles[i].raw, 32))) {
			printf("FOUND needle %d in %s\n", i + 1, place);
			found++;
		}
	}
	return found;
}

/* Reads up to max bytes of path (non-blocking). NULL with errno. */
static unsigned char *slurp(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	unsigned char *buf;
	size_t have = 0;

	if (fd < 0)
		return NULL;
	buf = malloc(max ? max : 1);
	while (buf && have < max) {
		ssize_t r = read(fd, buf + have, max - have);
		if (r <= 0) {
			if (r < 0 && have == 0 && errno != EAGAIN) {
				int e = errno;
				free(buf);
				close(fd);
				errno = e;
				return NULL;
			}
			break;
		}
		have += (size_t)r;
	}
	close(fd);
	*len = have;
	return buf;
}

static void look_file(const char *place, const char *path, int should_be_closed)
{
	size_t n = 0;
	unsigned char *b = slurp(path, 1u << 20, &n);

	if (!b) {
		printf("closed %s: %s\n", place, strerror(errno));
		return;
	}
	if (!search(place, b, n)) {
		if (should_be_closed)
			printf("OPEN %s (%zu bytes, no needle)\n", place, n);
		else
			printf("clean %s\n", place);
	}
	free(b);
}

static void look_cmdline(int pid)
{
	char path[64], place[600];
	size_t n = 0;
	unsigned char *b;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	b = slurp(path, 65536, &n);
	if (!b) {
		printf("closed %s: %s\n", path, strerror(errno));
		return;
	}
	if (!search(path, b, n))
		printf("clean %s\n", path);
	for (size_t i = 0; i < n; i += strlen((char *)b + i) + 1) {
		struct stat st;
		const char *w = (const char *)b + i;
		if (i + strlen(w) >= n)
			break;
		/* a word naming a file, or an ipc:// URL naming a socket */
		if (!strncmp(w, "ipc://", 6))
			w += 6;
		if (stat(w, &st) == 0 && S_ISREG(st.st_mode)) {
			snprintf(place, sizeof(place), "the file %s named on its command line", w);
			look_file(place, w, 0);
		}
	}
	free(b);
}

static void look_fds(int pid)
{
	char path[64], fdp[320], place[900], target[512];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d) {
		printf("closed %s: %s\n", path, strerror(errno));
		return;
	}
	printf("OPEN %s (the list of its fds)\n", path);
	while ((e = readdir(d))) {
		ssize_t k;
		if (e->d_name[0] == '.')
			continue;
		snprintf(fdp, sizeof(fdp), "%s/%s", path, e->d_name);
		k = readlink(fdp, target, sizeof(target) - 1);
		target[k > 0 ? k : 0] = 0;
		snprintf(place, sizeof(place), "%s -> %s", fdp, target);
		look_file(place, fdp, 0);
	}
	closedir(d);
}

static void look_mem(int pid)
{
	char path[64], line[512], place[640];
	FILE *maps;
	int fd, opened = 0, found = 0;
	unsigned char *buf = NULL;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	if (!maps) {
		printf("closed %s: %s\n", path, strerror(errno));
	}
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("closed %s: %s\n", path, strerror(errno));
		if (maps)
			fclose(maps);
		return;
	}
	while (maps && fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perm[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perm) != 3 || perm[0] != 'r' ||
		    hi - lo > REGION_MAX || strstr(line, "[vvar]") || strstr(line, "[vsyscall]"))
			continue;
		buf = realloc(buf, hi - lo);
		if (!buf)
			break;
		if (pread(fd, buf, hi - lo, (off_t)lo) == (ssize_t)(hi - lo)) {
			opened = 1;
			snprintf(place, sizeof(place), "%s at %lx-%lx", path, lo, hi);
			found += search(place, buf, hi - lo);
		}
	}
	free(buf);
	if (opened)
		printf("OPEN %s (read; %d needle(s) found)\n", path, found);
	else
		printf("closed %s: nothing could be read\n", path);
	if (maps)
		fclose(maps);
	close(fd);
}

static void look_ptrace(int pid)
{
	if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) == 0) {
		printf("OPEN ptrace(PTRACE_SEIZE) of %d\n", pid);
		ptrace(PTRACE_DETACH, pid, NULL, NULL);
	} else {
		printf("closed ptrace of %d: %s\n", pid, strerror(errno));
	}
}

int main(int argc, char **argv)
{
	extern char **environ;
	char path[64];
	int pid, dirty = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: secret_search PID NEEDLE...\n");
		return 2;
	}
	pid = atoi(argv[1]);
	for (int i = 2; i < argc && nneedles < MAX_NEEDLES; i++) {
		const char *t = argv[i];
		needles[nneedles].text = t;
		/* a secret's hex text: look for its raw bytes too */
		needles[nneedles].has_raw =
		    strlen(t) == 64 && pd_unhex(t, 64, needles[nneedles].raw, 32) == 0;
		nneedles++;
	}
	for (char **e = environ; *e; e++) {
		if (search("the task's own environment", (const unsigned char *)*e, strlen(*e)))
			dirty = 1;
		if (!strncmp(*e, "PARADE_SECRET", 13)) {
			printf("FOUND a PARADE_SECRET variable in the task's own environment\n");
			dirty = 1;
		}
	}
	if (!dirty)
		printf("clean the task's own environment\n");
	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	look_file(path, path, 1);
	look_cmdline(pid);
	look_fds(pid);
	look_mem(pid);
	look_ptrace(pid);
	return 0;
}
