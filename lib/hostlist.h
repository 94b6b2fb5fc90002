/* hostlist.h - Slurm's compact host lists ("pn[1-3,5],login01",
 * "n[001-120]"), as Slurm puts them in SLURM_STEP_NODELIST and
 * SLURM_JOB_NODELIST: the first host (the node that runs task 0 of a
 * step, where a step's controller listens) and each host in order.
 *
 * Pure and libc only: the SPANK plugin compiles it into parade.so, and
 * the controller uses it to name a step's nodes. Input is outside bytes
 * (the job's environment): every form is bounds-checked; anything that is
 * not a host list is -EINVAL, never a guess.
 *
 * The grammar: a comma-separated list of items; an item is a PREFIX (no
 * '[', ']' or ',') optionally followed by one bracket group "[R,R,...]"
 * and a SUFFIX; R is N or N-M with decimal N <= M (at most 9 digits); a
 * number written with leading zeros keeps its width ("n[08-10]" is n08,
 * n09, n10). Nested or several bracket groups (Slurm's multi-dimensional
 * names) are -EINVAL. At most PD_HOSTLIST_MAX hosts, each shorter than
 * PD_HOST_MAX.
 */
#ifndef PD_HOSTLIST_H
#define PD_HOSTLIST_H

#include <stddef.h>

#define PD_HOST_MAX 256
#define PD_HOSTLIST_MAX 100000u

/* Calls cb(arg, host) for each host of list in order (host is a
 * NUL-ended string valid during the call); stops early when cb returns
 * non-zero and returns that value. 0 when every host was visited,
 * -EINVAL (with why in err, if not NULL) when list is not a host list
 * (cb may have been called for the hosts before the fault), -E2BIG past
 * PD_HOSTLIST_MAX hosts. */
int pd_hostlist_each(const char *list, int (*cb)(void *arg, const char *host), void *arg,
                     char *err, size_t errlen);

/* The first host of list into out[len]. 0, -EINVAL (not a host list,
 * or empty) or -ENAMETOOLONG. */
int pd_hostlist_first(const char *list, char *out, size_t len);

/* The number of hosts in list, or -EINVAL / -E2BIG. */
long pd_hostlist_count(const char *list);

/* How n workers spread over nnodes nodes, as the SPANK plugin starts a
 * step's agents: node i gets n / nnodes, plus one if i < n mod nnodes.
 * 0 if nnodes is 0 or i >= nnodes. */
unsigned pd_hostlist_share(unsigned n, unsigned long nnodes, unsigned long i);

#endif
