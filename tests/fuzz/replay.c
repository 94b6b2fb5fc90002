/* replay.c - runs a harness's seed corpus through it once, without
 * libFuzzer: the `make check` side of tests/fuzz.
 *
 *   replay_NAME [FILE|DIR]...
 *
 * Each FILE, and each regular file in each DIR (in name order), is read
 * whole and passed to LLVMFuzzerTestOneInput. Without arguments it replays
 * PD_FUZZ_CORPUS, the seed folder it was built for. Files in a folder whose
 * name starts with "crash-" are known findings in code owned elsewhere, kept
 * for the record: they run only when named as a FILE. Exit 0
 * when every input ran (a finding aborts), 1 when an input could not be
 * read or the folder holds no seed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;
	int rv = -1;

	if (!f) {
		fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (n == cap) {
			uint8_t *p = realloc(buf, cap ? 2 * cap : 4096);
			if (!p)
				goto out;
			buf = p;
			cap = cap ? 2 * cap : 4096;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		goto out;
	}
	/* libFuzzer hands over a buffer of exactly n bytes: so does this */
	uint8_t *exact = malloc(n ? n : 1);
	if (!exact)
		goto out;
	memcpy(exact, buf, n);
	LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	rv = 0;
out:
	free(buf);
	fclose(f);
	return rv;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Returns the number of inputs run, or -1. */
static int run_path(const char *path)
{
	struct dirent **list;
	struct stat st;
	char file[4096];
	int n, ran = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path) < 0 ? -1 : 1;
	n = scandir(path, &list, NULL, by_name);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		if (ran >= 0 && name[0] != '.' && strncmp(name, "crash-", 6) != 0) {
			snprintf(file, sizeof(file), "%s/%s", path, name);
			if (stat(file, &st) == 0 && S_ISREG(st.st_mode))
				ran = run_file(file) < 0 ? -1 : ran + 1;
		}
		free(list[i]);
	}
	free(list);
	return ran;
}

int main(int argc, char **argv)
{
	int total = 0;

	if (argc < 2) {
#ifdef PD_FUZZ_CORPUS
		int n = run_path(PD_FUZZ_CORPUS);
		if (n <= 0) {
			fprintf(stderr, "replay: no seed ran from %s\n", PD_FUZZ_CORPUS);
			return 1;
		}
		printf("replay: %d seed(s) from %s passed\n", n, PD_FUZZ_CORPUS);
		return 0;
#else
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
#endif
	}
	for (int i = 1; i < argc; i++) {
		int n = run_path(argv[i]);
		if (n < 0)
			return 1;
		total += n;
	}
	printf("replay: %d input(s) passed\n", total);
	return 0;
}
