/* disp_util.h - helpers shared by the dispatcher's unit tests. */
#ifndef PD_DISP_UTIL_H
#define PD_DISP_UTIL_H

#include <stdint.h>
#include <string.h>

#include "dispatch.h"

/* A dispatcher with these options (0 fields take the defaults) and slow
 * start `start` (0: the default PD_DISP_START). */
static inline pd_disp *mk_start(int rr, uint32_t chunk, uint32_t prefetch, uint32_t window,
				uint32_t crash, uint32_t retries, uint32_t start)
{
	pd_disp_opts o;

	memset(&o, 0, sizeof(o));
	o.round_robin = rr;
	o.chunk = chunk;
	o.prefetch = prefetch;
	o.rr_window = window;
	o.crash_limit = crash;
	o.retries = retries;
	o.start = start;
	return pd_disp_new(&o);
}

/* The same without slow start: an agent has its whole credit at once
 * (the tests of credit and order; slow start has tests of its own). */
static inline pd_disp *mk(int rr, uint32_t chunk, uint32_t prefetch, uint32_t window,
			  uint32_t crash, uint32_t retries)
{
	return mk_start(rr, chunk, prefetch, window, crash, retries, UINT32_MAX);
}

/* One task for whoever is picked; returns the agent, or -1 for none. */
static inline long next1(pd_disp *d, uint64_t *id)
{
	uint32_t a = 0xdeadbeef;
	uint64_t ids[1];

	if (pd_disp_next(d, &a, ids, 1) != 1)
		return -1;
	if (id)
		*id = ids[0];
	return a;
}

#endif
