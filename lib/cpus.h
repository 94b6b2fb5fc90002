/* cpus.h - how many CPUs this process may use: the fewest that its CPU
 * affinity, its cgroup limits and, inside a Slurm job, the allocation
 * allow, never less than 1. It is the default number of local agents
 * (parade run without --workers) and a Slurm agent's default slots
 * (parade-agent --mode slurm without --slots).
 *
 * The sources, each one count (0: it sets no limit or cannot be read):
 *   online     sysconf(_SC_NPROCESSORS_ONLN)
 *   affinity   sched_getaffinity (a mask of any size), counted only when
 *              fewer than online
 *   cpuset     cgroup v2 cpuset.cpus.effective of the process's cgroup (or
 *              the nearest ancestor that has one), counted only when fewer
 *              than the affinity mask says
 *   cpu.max    cgroup v2 "QUOTA PERIOD" of the cgroup and every ancestor up
 *              to the mount's root, the smallest, rounded up ("max": none)
 *   cfs quota  cgroup v1 cpu.cfs_quota_us / cpu.cfs_period_us the same way
 *              (-1: none), when a v1 hierarchy has the cpu controller
 *   Slurm      inside a job (SLURM_JOB_ID set): in a step's task (the
 *              batch script is not one) SLURM_CPUS_PER_TASK when set, for
 *              this one task (a process counts only its own task's CPUs,
 *              however many tasks of the step share the node); else, in a
 *              step's task, SLURM_CPUS_ON_NODE shared among the step's
 *              tasks on this node (SLURM_STEP_TASKS_PER_NODE at
 *              SLURM_NODEID, rounded down, at least 1); outside a step
 *              (the batch script) SLURM_CPUS_ON_NODE
 *
 * The parsers and the combination are pure functions
 * (tests/unit/test_cpus.c); pd_cpus_probe is the only part that reads the
 * system. */
#ifndef PD_CPUS_H
#define PD_CPUS_H

#include <stddef.h>

/* CPU numbers in a cpuset list are below this (the kernel's limit is 8192) */
#define PD_CPUS_MAX_ID 65536u
/* a count above this is no limit (a quota of 10^6 CPUs, say) */
#define PD_CPUS_MAX 1048576u

enum pd_cpus_src {
	PD_CPUS_ONLINE = 0,
	PD_CPUS_AFFINITY,
	PD_CPUS_CPUSET,
	PD_CPUS_CPU_MAX,
	PD_CPUS_CFS_QUOTA,
	PD_CPUS_SLURM_TASK,
	PD_CPUS_SLURM_NODE,
	PD_CPUS_SLURM_SHARE,
	PD_CPUS_NSRC
};

typedef struct pd_cpus {
	unsigned count[PD_CPUS_NSRC]; /* each source's count; 0: no limit or unknown */
	unsigned n;                   /* set by pd_cpus_settle: the fewest, >= 1 */
	unsigned limited;             /* set by pd_cpus_settle: bit 1u << src for
	                               * each source whose count is n */
} pd_cpus;

/* A source's name as logs and docs say it ("cgroup cpu.max"). */
const char *pd_cpus_source_name(int src);

/* Sets c->n to the fewest nonzero count (1 when there is none) and
 * c->limited to the sources that gave it. */
void pd_cpus_settle(pd_cpus *c);

/* Writes "N CPU(s) (source, source)" for a settled c into buf (always
 * terminated, cut if too short). */
void pd_cpus_why(const pd_cpus *c, char *buf, size_t len);

/* cgroup v2 cpu.max: "QUOTA PERIOD" or "max PERIOD" (a trailing newline
 * allowed; "max" alone too). 0 with *n = ceil(QUOTA / PERIOD) (capped at
 * PD_CPUS_MAX), or 0 for max; -EINVAL for anything else (a zero or
 * negative number, a missing period, other words). */
int pd_cpus_parse_max(const char *s, unsigned *n);

/* cgroup v1: the texts of cpu.cfs_quota_us and cpu.cfs_period_us. 0 with
 * *n = ceil(quota / period), or 0 when quota is -1; -EINVAL otherwise. */
int pd_cpus_parse_cfs(const char *quota, const char *period, unsigned *n);

/* A cpuset list ("0-3,8,10-11", a trailing newline allowed): 0 with *n =
 * the distinct CPUs named (0 for an empty list); -EINVAL for a malformed
 * list (a range that runs backwards, an empty item, other characters),
 * -ERANGE for a CPU number >= PD_CPUS_MAX_ID. */
int pd_cpus_parse_list(const char *s, unsigned *n);

/* Slurm's SLURM_JOB_CPUS_PER_NODE ("4(x2),2": two nodes of 4, one of 2):
 * 0 with *n = the CPUs of node number `node` (SLURM_NODEID, from 0);
 * -ENOENT when the list has fewer nodes; -EINVAL when malformed. */
int pd_cpus_parse_pernode(const char *s, unsigned node, unsigned *n);

/* The Slurm variables that matter (NULL when unset). */
typedef struct pd_cpus_slurm_env {
	const char *job_id;        /* SLURM_JOB_ID */
	const char *step_id;       /* SLURM_STEP_ID (a step's tasks have it) */
	const char *cpus_per_task; /* SLURM_CPUS_PER_TASK */
	const char *cpus_on_node;  /* SLURM_CPUS_ON_NODE */
	const char *step_tasks;    /* SLURM_STEP_TASKS_PER_NODE ("2(x3),1") */
	const char *node_id;       /* SLURM_NODEID */
} pd_cpus_slurm_env;

/* The Slurm count for e, as the header's top says: 0 with *n (0: not in a
 * job, or no variable applies) and *src (PD_CPUS_SLURM_TASK, _NODE or
 * _SHARE); -EINVAL when a variable that applies is malformed (a count not
 * a whole number from 1 to PD_CPUS_MAX, a node id not a number, a list
 * without this node): err names it, *n is 0. */
int pd_cpus_slurm(const pd_cpus_slurm_env *e, unsigned *n, int *src, char *err, size_t errlen);

/* Reads every source of this process into c and settles it. Sources that
 * cannot be read count 0; a malformed one (a cgroup file or a Slurm
 * variable) is also described in warn (empty when none; always
 * terminated). Never fails. */
void pd_cpus_probe(pd_cpus *c, char *warn, size_t warnlen);

/* pd_cpus_probe, its warning logged with pd_warn and the answer with
 * pd_debug as "WHAT: N CPUs (sources)"; returns n (>= 1), no more than
 * max (0: no cap). */
unsigned pd_cpus_usable(const char *what, unsigned max);

/* The default slots of a parade-agent --mode slurm: pd_cpus_usable when
 * Slurm gave this process a CPU count (SLURM_JOB_ID and either
 * SLURM_CPUS_PER_TASK or SLURM_CPUS_ON_NODE set: a task of a step, as the
 * agents of --launch slurm are), else 1 (an agent whose environment has
 * neither, as the Slurm plugin's: several of them share a step's CPUs). At
 * most max (0: no cap). */
unsigned pd_cpus_slurm_slots(unsigned max);

/* ---- the cgroup paths, pure; exposed for the tests ---- */

/* One line of /proc/self/mountinfo, if it mounts a cgroup hierarchy:
 * version 2 (cgroup2), or 1 for a v1 hierarchy with the cpu controller.
 * 0 with *version, root (the mount's root within the hierarchy) and dir
 * (where it is mounted), octal escapes (\040) decoded; -ENOENT when the
 * line mounts something else (or a v1 hierarchy without cpu); -EINVAL
 * when malformed; -ENAMETOOLONG when a path does not fit. */
int pd_cpus_mountinfo_line(const char *line, int *version, char *root, char *dir, size_t len);

/* The process's cgroup in the hierarchy of `version` (2: the "0::PATH"
 * line; 1: the line whose controllers include cpu) from the text of
 * /proc/self/cgroup: 0 with path; -ENOENT when no line fits. */
int pd_cpus_cgroup_path(const char *text, int version, char *path, size_t len);

/* The folder of cgroup path `cg` under a mount of root `root` at `dir`:
 * 0 with out; -ENOENT when cg is not under root (the mount does not show
 * it); -ENAMETOOLONG. */
int pd_cpus_cgroup_dir(const char *dir, const char *root, const char *cg, char *out, size_t len);

#endif
