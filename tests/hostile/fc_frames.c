#include "fc_frames.h"

#include "codec.h"

void fc_frame_hdr(pd_buf *b, uint32_t len, uint8_t type, uint8_t r0)
{
	uint8_t h[8] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len,
			type, r0, 0, 0};
	pd_buf_append(b, h, sizeof(h));
}

static void add_task(pd_buf *b, size_t mark, uint64_t id, uint8_t kind, uint32_t argc,
		     char **argv)
{
	pd_task_msg t = {id, 1, kind, 0, 4096, argc, argv};
	pd_tasks_add(b, mark, &t);
}

/* count tasks, all finishing at once: echo, sleep with a bad argument, a
 * process with no argv (mixed) or only echo. */
void fc_flood(pd_buf *b, uint32_t count, int mixed)
{
	static char w1[] = "hi", w2[] = "not-a-number";
	char *echo[] = {w1, NULL}, *bad[] = {w2, NULL}, *none[] = {NULL};
	size_t mark;

	pd_tasks_begin(b, &mark);
	for (uint32_t i = 0; i < count; i++) {
		unsigned k = mixed ? i % 3 : 0;
		if (k == 0)
			add_task(b, mark, i, PD_TASK_ECHO, 1, echo);
		else if (k == 1)
			add_task(b, mark, i, PD_TASK_SLEEP, 1, bad);
		else
			add_task(b, mark, i, PD_TASK_PROCESS, 0, none);
	}
	pd_tasks_end(b, mark);
}

static uint64_t rng = 88172645463325252ull;

void fc_seed(uint64_t seed)
{
	rng = 88172645463325252ull ^ (seed * 2654435761u);
}

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

void fc_random_frame(pd_buf *b)
{
	static const uint8_t types[] = {0,	       PD_MSG_HELLO, PD_MSG_WELCOME, PD_MSG_TASKS,
					PD_MSG_RESULTS, PD_MSG_PING,  PD_MSG_PONG,    PD_MSG_CANCEL,
					PD_MSG_DRAIN,   PD_MSG_BYE,   11,	      255};
	uint32_t how = rnd() % 3;

	pd_buf_reset(b);
	if (how == 0) {
		/* a valid small TASKS frame with a few bytes flipped */
		static char w1[] = "0.001", w2[] = "x";
		char *a1[] = {w1, NULL}, *a2[] = {w2, w1, NULL};
		size_t mark, flips = 1 + rnd() % 4;
		uint32_t k = 1 + rnd() % 3;

		pd_tasks_begin(b, &mark);
		for (uint32_t i = 0; i < k; i++) {
			if (rnd() % 2)
				add_task(b, mark, rnd(), PD_TASK_SLEEP, 1, a1);
			else
				add_task(b, mark, rnd(), PD_TASK_ECHO, 2, a2);
		}
		pd_tasks_end(b, mark);
		for (size_t i = 0; i < flips; i++) {
			/* the payload and the type byte, never the length */
			size_t n = pd_buf_size(b), at = 4 + rnd() % (n - 4);
			if (at >= 5 && at < 8)
				at = 4;
			b->data[b->off + at] ^= (uint8_t)(1u << (rnd() % 8));
		}
	} else {
		/* a random type with random bytes (never REJECT, which ends
		 * the agent by design; DRAIN carries at least a byte, BYE at
		 * least two: its one byte of exit status ends the agent too) */
		uint8_t type = types[rnd() % sizeof(types)];
		uint32_t len = rnd() % (how == 1 ? 16 : 200);

		if (type == PD_MSG_DRAIN && len == 0)
			len = 1;
		if (type == PD_MSG_BYE && len < 2)
			len = 2;
		fc_frame_hdr(b, len, type, 0);
		for (uint32_t i = 0; i < len; i++) {
			uint8_t v = (uint8_t)rnd();
			pd_buf_append(b, &v, 1);
		}
	}
}
