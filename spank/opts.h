/* opts.h - the pure part of the SPANK plugin: plugstack arguments, option
 * values, how a step's workers are shared among its nodes, and whether a
 * step should act on an inherited option. Nothing here calls Slurm, logs,
 * or touches the environment, so the unit tests drive it directly.
 *
 * Error texts written to err carry no "parade: " prefix; the caller adds it.
 */
#ifndef PD_SPANK_OPTS_H
#define PD_SPANK_OPTS_H

#include <stddef.h>
#include <stdint.h>

#ifndef PD_AGENT_PATH
#ifdef PD_BINDIR
#define PD_AGENT_PATH PD_BINDIR "/parade-agent"
#else
#define PD_AGENT_PATH "/usr/local/bin/parade-agent"
#endif
#endif

#define PD_SPANK_MAX_WORKERS 1024u        /* default of max_workers= */
#define PD_SPANK_MAX_WORKERS_LIMIT 65536u /* largest max_workers= accepted */
#define PD_SPANK_PATH_MAX 4096

/* Step ids Slurm gives its special steps (slurm.h, same since 20.11). */
#define PD_STEP_INTERACTIVE 0xfffffffau
#define PD_STEP_BATCH 0xfffffffbu
#define PD_STEP_EXTERN 0xfffffffcu

enum pd_spank_log { PD_LOG_SESSION = 0, PD_LOG_NONE = 1 };

/* The plugstack.conf arguments. Callers allocate it. */
typedef struct pd_spank_cfg {
	char agent[PD_SPANK_PATH_MAX]; /* absolute path of parade-agent */
	unsigned max_workers;          /* largest --parade-workers */
	unsigned port_lo, port_hi;     /* PARADE_PORT_RANGE; both 0: none */
	int debug;                     /* 1: log every remote step */
	int agent_log;                 /* enum pd_spank_log */
} pd_spank_cfg;

/* Fills the defaults: agent=PD_AGENT_PATH, max_workers=1024, no port range,
 * debug=0, agent_log=session. */
void pd_spank_cfg_default(pd_spank_cfg *c);

/* Parses plugstack arguments ("key=value" words) over the defaults:
 * agent=PATH, max_workers=N, port_range=LO-HI, debug=0|1,
 * agent_log=session|none. Unknown keys, missing '=', bad values and a key
 * given twice are errors naming the argument. 0 or -EINVAL (c then holds
 * the defaults). */
int pd_spank_parse_args(pd_spank_cfg *c, int ac, char **av, char *err, size_t errlen);

/* Parses a --parade-workers value: decimal digits only, 1 to max.
 * 0 with *out set, or -EINVAL (*out 0) with the message in err. */
int pd_spank_parse_workers(const char *s, unsigned max, unsigned *out, char *err, size_t errlen);

/* Parses "LO-HI" with 1 <= LO <= HI <= 65535. 0 or -EINVAL. */
int pd_spank_parse_ports(const char *s, unsigned *lo, unsigned *hi);

/* Agents node nodeid of nnodes starts for n workers in all:
 * n / nnodes, plus one on the first n % nnodes nodes. 0 if nnodes is 0 or
 * nodeid >= nnodes. */
unsigned pd_spank_node_share(unsigned n, unsigned nnodes, unsigned nodeid);

/* The ports a step's controller listens on when the site set no
 * port_range= (below Linux's default ephemeral ports, 32768-60999, so
 * that outgoing connections rarely hold them). */
#define PD_STEP_PORT_LO 24000u
#define PD_STEP_PORT_HI 31999u

/* The port for a step: lo + rnd mod (hi - lo + 1), in the site's range
 * (lo, hi), or in PD_STEP_PORT_LO..HI when lo is 0. */
unsigned pd_spank_pick_port(unsigned lo, unsigned hi, uint32_t rnd);

/* Whether s is a step key as srun passes it: exactly 64 hex digits. */
int pd_spank_key_ok(const char *s);

/* Whether a NUL-separated command line (the bytes of /proc/self/cmdline)
 * names --parade-workers itself (or a unique abbreviation getopt accepts,
 * --parade-w at least), scanning argv[1..] up to a "--". 1 or 0. */
int pd_spank_cmdline_explicit(const char *buf, size_t len);

/* Whether a remote step acts on a --parade-workers value it received: the
 * batch step always does; any other step only when srun marked the option
 * as given on its own command line (PARADE_SPANK_EXPLICIT=1; explicit_env
 * is that variable's value or NULL). 1 or 0. */
int pd_spank_should_act(uint32_t stepid, const char *explicit_env);

/* The step's part of a session name: "batch", "extern", "interactive" or
 * the decimal id. 0 or -ENAMETOOLONG. */
int pd_spank_step_name(uint32_t stepid, char *buf, size_t len);

/* The session name a step's agents wait on: "slurm-<jobid>.<step>".
 * 0 or -ENAMETOOLONG. */
int pd_spank_session_name(uint32_t jobid, uint32_t stepid, char *buf, size_t len);

#endif
