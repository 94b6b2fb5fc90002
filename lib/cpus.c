/* cpus.c - how many CPUs this process may use (see cpus.h): the pure
 * parsers and the combination first, then the probe that reads the
 * system. */
#include "cpus.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char *const src_names[PD_CPUS_NSRC] = {
    [PD_CPUS_ONLINE] = "online",
    [PD_CPUS_AFFINITY] = "CPU affinity",
    [PD_CPUS_CPUSET] = "cgroup cpuset.cpus.effective",
    [PD_CPUS_CPU_MAX] = "cgroup cpu.max",
    [PD_CPUS_CFS_QUOTA] = "cgroup cpu.cfs_quota_us",
    [PD_CPUS_SLURM_TASK] = "SLURM_CPUS_PER_TASK",
    [PD_CPUS_SLURM_NODE] = "SLURM_CPUS_ON_NODE",
    [PD_CPUS_SLURM_SHARE] = "SLURM_CPUS_ON_NODE / SLURM_STEP_TASKS_PER_NODE",
};

const char *pd_cpus_source_name(int src)
{
	return src >= 0 && src < PD_CPUS_NSRC ? src_names[src] : "?";
}

/* the smaller nonzero of *slot and v into *slot */
static void fold(unsigned *slot, unsigned v)
{
	if (v && (!*slot || v < *slot))
		*slot = v;
}

void pd_cpus_settle(pd_cpus *c)
{
	unsigned n = 0;
	int i;

	for (i = 0; i < PD_CPUS_NSRC; i++)
		fold(&n, c->count[i]);
	c->limited = 0;
	for (i = 0; n && i < PD_CPUS_NSRC; i++)
		if (c->count[i] == n)
			c->limited |= 1u << i;
	c->n = n ? n : 1;
}

void pd_cpus_why(const pd_cpus *c, char *buf, size_t len)
{
	size_t off;
	int i, first = 1, k;

	if (!len)
		return;
	k = snprintf(buf, len, "%u CPU%s (", c->n, c->n == 1 ? "" : "s");
	off = k < 0 ? 0 : (size_t)k;
	for (i = 0; i < PD_CPUS_NSRC && off < len; i++) {
		if (!(c->limited & (1u << i)))
			continue;
		k = snprintf(buf + off, len - off, "%s%s", first ? "" : ", ", src_names[i]);
		off += k < 0 ? 0 : (size_t)k;
		first = 0;
	}
	if (off < len)
		snprintf(buf + off, len - off, "%s)", first ? "nothing known" : "");
}

/* ---- parsers ---- */

/* One or more decimal digits at *p (no sign), at most ULLONG_MAX / 10:
 * 0 with *v and *p past them; -EINVAL. */
static int digits(const char **p, unsigned long long *v)
{
	const char *s = *p;
	unsigned long long x = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (x > ULLONG_MAX / 10 - 10)
			return -EINVAL;
		x = x * 10 + (unsigned)(*s - '0');
	}
	*v = x;
	*p = s;
	return 0;
}

/* the end of a file's text: nothing, or one newline */
static int at_end(const char *s)
{
	return !*s || (*s == '\n' && !s[1]);
}

static unsigned ceil_div(unsigned long long q, unsigned long long p)
{
	unsigned long long n = q / p + (q % p != 0);

	return n > PD_CPUS_MAX ? PD_CPUS_MAX : (unsigned)n;
}

int pd_cpus_parse_max(const char *s, unsigned *n)
{
	unsigned long long q = 0, p = 0;
	int none = 0;

	*n = 0;
	if (!strncmp(s, "max", 3)) {
		none = 1;
		s += 3;
		if (at_end(s))
			return 0;
	} else if (digits(&s, &q) < 0 || !q) {
		return -EINVAL;
	}
	if (*s++ != ' ' || digits(&s, &p) < 0 || !p || !at_end(s))
		return -EINVAL;
	if (!none)
		*n = ceil_div(q, p);
	return 0;
}

int pd_cpus_parse_cfs(const char *quota, const char *period, unsigned *n)
{
	unsigned long long q, p;

	*n = 0;
	if (!strncmp(quota, "-1", 2) && at_end(quota + 2))
		return 0;
	if (digits(&quota, &q) < 0 || !q || !at_end(quota) || digits(&period, &p) < 0 || !p ||
	    !at_end(period))
		return -EINVAL;
	*n = ceil_div(q, p);
	return 0;
}

int pd_cpus_parse_list(const char *s, unsigned *n)
{
	unsigned char *seen = NULL;
	unsigned long long a, b, i;
	unsigned count = 0;
	int rv = -EINVAL;

	*n = 0;
	if (at_end(s))
		return 0;
	seen = calloc(PD_CPUS_MAX_ID / 8, 1);
	if (!seen)
		return -ENOMEM;
	for (;;) {
		if (digits(&s, &a) < 0)
			goto out;
		b = a;
		if (*s == '-' && (s++, digits(&s, &b) < 0))
			goto out;
		if (b < a)
			goto out;
		if (b >= PD_CPUS_MAX_ID) {
			rv = -ERANGE;
			goto out;
		}
		for (i = a; i <= b; i++) {
			if (!(seen[i / 8] & (1u << (i % 8))))
				count++;
			seen[i / 8] |= (unsigned char)(1u << (i % 8));
		}
		if (at_end(s))
			break;
		if (*s++ != ',')
			goto out;
	}
	*n = count;
	rv = 0;
out:
	free(seen);
	return rv;
}

int pd_cpus_parse_pernode(const char *s, unsigned node, unsigned *n)
{
	unsigned long long cpus, reps, first = 0;
	unsigned found = 0;

	*n = 0;
	for (;;) {
		if (digits(&s, &cpus) < 0 || !cpus || cpus > PD_CPUS_MAX)
			return -EINVAL;
		reps = 1;
		if (*s == '(') {
			s++;
			if (*s++ != 'x' || digits(&s, &reps) < 0 || !reps || *s++ != ')')
				return -EINVAL;
		}
		if (!found && node >= first && node - first < reps)
			found = (unsigned)cpus; /* the rest must still be well formed */
		first = reps > ULLONG_MAX / 2 - first ? ULLONG_MAX / 2 : first + reps;
		if (at_end(s))
			break;
		if (*s++ != ',')
			return -EINVAL;
	}
	*n = found;
	return found ? 0 : -ENOENT;
}

/* A whole number up to max, nothing else */
static int whole(const char *v, unsigned long long max, unsigned *n)
{
	unsigned long long x;

	if (digits(&v, &x) < 0 || *v || x > max)
		return -EINVAL;
	*n = (unsigned)x;
	return 0;
}

/* A whole number from 1 to PD_CPUS_MAX, nothing else */
static int count_value(const char *v, unsigned *n)
{
	return whole(v, PD_CPUS_MAX, n) < 0 || !*n ? -EINVAL : 0;
}

/* Up to 40 bytes of an outside value for a message, each byte that is
 * not printable ASCII as '?' (a trailing newline dropped). */
static const char *shown(const char *v, char out[44])
{
	size_t i, n = strlen(v);

	if (n && v[n - 1] == '\n')
		n--;
	for (i = 0; i < n && i < 40; i++)
		out[i] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
	out[i] = 0;
	return out;
}

/* Slurm's step id of the batch script (SLURM_BATCH_SCRIPT, 0xfffffffb) */
#define BATCH_STEP "4294967291"

/* A step's tasks on this node: 0 with *t (1 when the list is not given) */
static int step_tasks(const pd_cpus_slurm_env *e, unsigned *t, char *err, size_t errlen)
{
	unsigned node = 0;
	char tmp[44];

	*t = 1;
	if (!e->step_tasks || !*e->step_tasks)
		return 0;
	if (e->node_id && *e->node_id && whole(e->node_id, UINT_MAX, &node) < 0) {
		pd_seterr(err, errlen, "SLURM_NODEID '%s' is not a node number: ignored",
		          shown(e->node_id, tmp));
		return -EINVAL;
	}
	if (pd_cpus_parse_pernode(e->step_tasks, node, t) < 0) {
		pd_seterr(err, errlen,
		          "SLURM_STEP_TASKS_PER_NODE '%s' has no count for node %u: ignored",
		          shown(e->step_tasks, tmp), node);
		return -EINVAL;
	}
	return 0;
}

int pd_cpus_slurm(const pd_cpus_slurm_env *e, unsigned *n, int *src, char *err, size_t errlen)
{
	const char *name, *v;
	char tmp[44];
	unsigned t = 1;
	int step;

	*n = 0;
	*src = PD_CPUS_SLURM_NODE;
	if (err && errlen)
		*err = 0;
	if (!e->job_id || !*e->job_id)
		return 0;
	step = e->step_id && *e->step_id && strcmp(e->step_id, BATCH_STEP);
	if (step && e->cpus_per_task && *e->cpus_per_task) {
		*src = PD_CPUS_SLURM_TASK;
		name = "SLURM_CPUS_PER_TASK";
		v = e->cpus_per_task;
	} else if (e->cpus_on_node && *e->cpus_on_node) {
		name = "SLURM_CPUS_ON_NODE";
		v = e->cpus_on_node;
		if (step && step_tasks(e, &t, err, errlen) < 0)
			return -EINVAL;
		if (step && e->step_tasks && *e->step_tasks)
			*src = PD_CPUS_SLURM_SHARE;
	} else {
		return 0;
	}
	if (count_value(v, n) < 0) {
		pd_seterr(err, errlen, "%s '%s' is not a number of CPUs (1 to %u): ignored", name,
		          shown(v, tmp), PD_CPUS_MAX);
		*n = 0;
		return -EINVAL;
	}
	*n = *n / t ? *n / t : 1;
	return 0;
}

/* ---- cgroup paths ---- */

/* The next space-separated field of a mountinfo line into out, octal
 * escapes decoded: 0, -EINVAL (none), -ENAMETOOLONG. */
static int field(const char **p, char *out, size_t len)
{
	const char *s = *p;
	size_t k = 0;

	while (*s == ' ')
		s++;
	if (!*s || *s == '\n')
		return -EINVAL;
	for (; *s && *s != ' ' && *s != '\n'; s++) {
		char c = *s;

		if (c == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			c = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		}
		if (k + 1 >= len)
			return -ENAMETOOLONG;
		out[k++] = c;
	}
	out[k] = 0;
	*p = s;
	return 0;
}

/* whether the comma-separated list has the item */
static int has_item(const char *list, const char *item)
{
	size_t n = strlen(item);

	for (const char *s = list; s; s = strchr(s, ',')) {
		if (*s == ',')
			s++;
		if (!strncmp(s, item, n) && (s[n] == ',' || !s[n]))
			return 1;
	}
	return 0;
}

int pd_cpus_mountinfo_line(const char *line, int *version, char *root, char *dir, size_t len)
{
	char tmp[256], fstype[64], opts[1024];
	int i, rv;

	*version = 0;
	/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
	for (i = 0; i < 3; i++)
		if ((rv = field(&line, tmp, sizeof(tmp))) < 0)
			return rv == -ENAMETOOLONG ? -EINVAL : rv;
	if ((rv = field(&line, root, len)) < 0 || (rv = field(&line, dir, len)) < 0)
		return rv;
	do {
		if (field(&line, tmp, sizeof(tmp)) < 0)
			return -EINVAL;
	} while (strcmp(tmp, "-"));
	if (field(&line, fstype, sizeof(fstype)) < 0 || field(&line, tmp, sizeof(tmp)) < 0 ||
	    field(&line, opts, sizeof(opts)) < 0)
		return -EINVAL;
	if (!strcmp(fstype, "cgroup2"))
		*version = 2;
	else if (!strcmp(fstype, "cgroup") && has_item(opts, "cpu"))
		*version = 1;
	else
		return -ENOENT;
	return 0;
}

/* whether a /proc/self/cgroup line "ID:CONTROLLERS:PATH" (c1, c2 its
 * colons) is the one of hierarchy `version` */
static int cgroup_line_is(const char *line, const char *c1, const char *c2, int version)
{
	char ctl[256];
	size_t k = (size_t)(c2 - c1 - 1);

	if (version == 2)
		return c1 - line == 1 && *line == '0' && !k;
	if (!k || k >= sizeof(ctl))
		return 0;
	memcpy(ctl, c1 + 1, k);
	ctl[k] = 0;
	return has_item(ctl, "cpu");
}

int pd_cpus_cgroup_path(const char *text, int version, char *path, size_t len)
{
	const char *line, *eol, *c1, *c2;
	size_t k;

	for (line = text; *line; line = *eol ? eol + 1 : eol) {
		eol = strchr(line, '\n');
		if (!eol)
			eol = line + strlen(line);
		c1 = memchr(line, ':', (size_t)(eol - line));
		c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
		if (!c2 || !cgroup_line_is(line, c1, c2, version))
			continue;
		k = (size_t)(eol - c2 - 1);
		if (!k || c2[1] != '/')
			return -ENOENT;
		if (k >= len)
			return -ENAMETOOLONG;
		memcpy(path, c2 + 1, k);
		path[k] = 0;
		return 0;
	}
	return -ENOENT;
}

int pd_cpus_cgroup_dir(const char *dir, const char *root, const char *cg, char *out, size_t len)
{
	size_t r = strlen(root);
	int k;

	if (!strcmp(root, "/"))
		r = 0;
	else if (strncmp(cg, root, r) || (cg[r] && cg[r] != '/'))
		return -ENOENT;
	k = snprintf(out, len, "%s%s", dir, cg + r);
	if (k < 0 || (size_t)k >= len)
		return -ENAMETOOLONG;
	/* "/sys/fs/cgroup" + "/" is the mount itself */
	if (k > 1 && out[k - 1] == '/')
		out[k - 1] = 0;
	return 0;
}

/* ---- the probe: reads the system ---- */

/* A small file's text into buf (terminated, cut at len - 1): 0 or -errno. */
static int read_text(const char *path, char *buf, size_t len)
{
	size_t off = 0;
	ssize_t k;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rv = 0;

	if (fd < 0)
		return -errno;
	while (off + 1 < len) {
		k = read(fd, buf + off, len - 1 - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rv = -errno;
			break;
		}
		if (!k)
			break;
		off += (size_t)k;
	}
	close(fd);
	buf[off] = 0;
	return rv;
}

/* appends a line to warn */
static void warn_add(char *warn, size_t len, const char *what, const char *path, const char *text)
{
	size_t off = strlen(warn);
	char tmp[44];

	if (off + 1 < len)
		snprintf(warn + off, len - off, "%s%s %s '%s' is not understood: ignored",
		         off ? "; " : "", what, path, shown(text, tmp));
}

/* The CPUs in this process's affinity mask, however many the kernel
 * supports (the mask grows until sched_getaffinity takes it); 0 unknown. */
static unsigned affinity_count(void)
{
	size_t ncpu, size;
	cpu_set_t *set;
	unsigned n;
	int e;

	for (ncpu = 1024; ncpu <= 16 * (size_t)PD_CPUS_MAX_ID; ncpu *= 2) {
		set = CPU_ALLOC(ncpu);
		if (!set)
			return 0;
		size = CPU_ALLOC_SIZE(ncpu);
		CPU_ZERO_S(size, set);
		if (sched_getaffinity(0, size, set) == 0) {
			n = (unsigned)CPU_COUNT_S(size, set);
			CPU_FREE(set);
			return n;
		}
		e = errno;
		CPU_FREE(set);
		if (e != EINVAL)
			return 0;
	}
	return 0;
}

/* What a cgroup folder says (version 2: cpu.max, and cpuset.cpus.effective
 * into *cpuset when not found yet; version 1: the CFS quota). */
static void cgroup_level(pd_cpus *c, int version, const char *d, unsigned *cpuset, char *warn,
                         size_t wlen)
{
	char path[PATH_MAX + 32], text[4096], period[64];
	unsigned n;

	if (version == 2) {
		snprintf(path, sizeof(path), "%s/cpu.max", d);
		if (read_text(path, text, sizeof(text)) == 0) {
			if (pd_cpus_parse_max(text, &n) < 0)
				warn_add(warn, wlen, "cgroup", path, text);
			fold(&c->count[PD_CPUS_CPU_MAX], n);
		}
		snprintf(path, sizeof(path), "%s/cpuset.cpus.effective", d);
		if (!*cpuset && read_text(path, text, sizeof(text)) == 0) {
			if (pd_cpus_parse_list(text, &n) < 0)
				warn_add(warn, wlen, "cgroup", path, text);
			*cpuset = n;
		}
		return;
	}
	snprintf(path, sizeof(path), "%s/cpu.cfs_period_us", d);
	if (read_text(path, period, sizeof(period)) < 0)
		return;
	snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", d);
	if (read_text(path, text, sizeof(text)) < 0)
		return;
	if (pd_cpus_parse_cfs(text, period, &n) < 0)
		warn_add(warn, wlen, "cgroup", path, text);
	fold(&c->count[PD_CPUS_CFS_QUOTA], n);
}

/* From the process's cgroup folder d up to the mount's top, each level. */
static void cgroup_walk(pd_cpus *c, int version, const char *top, char *d, unsigned *cpuset,
                        char *warn, size_t wlen)
{
	size_t t = strlen(top);
	char *slash;

	for (;;) {
		cgroup_level(c, version, d, cpuset, warn, wlen);
		if (strlen(d) <= t)
			break;
		slash = strrchr(d, '/');
		if (!slash || (size_t)(slash - d) < t)
			break;
		*slash = 0;
	}
}

/* Every cgroup limit of this process: the first cgroup2 mount that shows
 * its cgroup, and the first v1 hierarchy with the cpu controller. The
 * cpuset count goes to *cpuset (the caller compares it with affinity). */
static void cgroup_probe(pd_cpus *c, unsigned *cpuset, char *warn, size_t wlen)
{
	char cgtext[8192], root[PATH_MAX], dir[PATH_MAX], cg[PATH_MAX], d[PATH_MAX];
	char *line = NULL;
	size_t cap = 0;
	int version, done[3] = {0, 0, 0};
	FILE *f;

	if (read_text("/proc/self/cgroup", cgtext, sizeof(cgtext)) < 0)
		return;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		if (pd_cpus_mountinfo_line(line, &version, root, dir, sizeof(root)) < 0 ||
		    done[version])
			continue;
		if (pd_cpus_cgroup_path(cgtext, version, cg, sizeof(cg)) < 0 ||
		    pd_cpus_cgroup_dir(dir, root, cg, d, sizeof(d)) < 0)
			continue;
		done[version] = 1;
		cgroup_walk(c, version, dir, d, cpuset, warn, wlen);
	}
	free(line);
	fclose(f);
}

void pd_cpus_probe(pd_cpus *c, char *warn, size_t warnlen)
{
	pd_cpus_slurm_env e = {
	    .job_id = getenv("SLURM_JOB_ID"),
	    .step_id = getenv("SLURM_STEP_ID"),
	    .cpus_per_task = getenv("SLURM_CPUS_PER_TASK"),
	    .cpus_on_node = getenv("SLURM_CPUS_ON_NODE"),
	    .step_tasks = getenv("SLURM_STEP_TASKS_PER_NODE"),
	    .node_id = getenv("SLURM_NODEID"),
	};
	char err[200];
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned aff, cpuset = 0, n, base;
	int src;

	memset(c, 0, sizeof(*c));
	if (warnlen)
		*warn = 0;
	c->count[PD_CPUS_ONLINE] = online > 0 ? (unsigned)online : 0;
	aff = affinity_count();
	if (aff && (!c->count[PD_CPUS_ONLINE] || aff < c->count[PD_CPUS_ONLINE]))
		c->count[PD_CPUS_AFFINITY] = aff;
	cgroup_probe(c, &cpuset, warn, warnlen);
	base = aff ? aff : c->count[PD_CPUS_ONLINE];
	if (cpuset && (!base || cpuset < base))
		c->count[PD_CPUS_CPUSET] = cpuset;
	if (pd_cpus_slurm(&e, &n, &src, err, sizeof(err)) < 0) {
		size_t off = strlen(warn);

		if (off + 1 < warnlen)
			snprintf(warn + off, warnlen - off, "%s%s", off ? "; " : "", err);
	}
	c->count[src] = n;
	pd_cpus_settle(c);
}

unsigned pd_cpus_usable(const char *what, unsigned max)
{
	char warn[1024], why[256];
	pd_cpus c;

	pd_cpus_probe(&c, warn, sizeof(warn));
	if (*warn)
		pd_warn("%s", warn);
	pd_cpus_why(&c, why, sizeof(why));
	if (max && c.n > max) {
		pd_debug("%s: %s, capped at %u", what, why, max);
		return max;
	}
	pd_debug("%s: %s", what, why);
	return c.n;
}

unsigned pd_cpus_slurm_slots(unsigned max)
{
	const char *job = getenv("SLURM_JOB_ID"), *cpt = getenv("SLURM_CPUS_PER_TASK"),
	           *con = getenv("SLURM_CPUS_ON_NODE");

	if (!job || !*job || ((!cpt || !*cpt) && (!con || !*con))) {
		pd_debug("slots (--mode slurm): 1, Slurm gave no CPU count to this process");
		return 1;
	}
	return pd_cpus_usable("slots (--mode slurm)", max);
}
