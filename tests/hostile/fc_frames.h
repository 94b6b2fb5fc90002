/* fc_frames.h - frames for the fake controller (tests/hostile): raw
 * headers, floods of tasks that finish at once, and random frames. Each
 * appends to b (fc_random_frame resets it first). */
#ifndef FC_FRAMES_H
#define FC_FRAMES_H

#include <stdint.h>

#include "buf.h"

/* An 8-byte frame header as given: length, type, first reserved byte. */
void fc_frame_hdr(pd_buf *b, uint32_t len, uint8_t type, uint8_t r0);
/* A TASKS frame of count tasks that all finish at once: echo, or (mixed)
 * echo, sleep with a bad argument and a process with no argv in turn. */
void fc_flood(pd_buf *b, uint32_t count, int mixed);
/* Seeds the generator (0: the default sequence; others mix into it). */
void fc_seed(uint64_t seed);
/* One random frame: a small valid TASKS frame with a few bits flipped
 * (never its length), or a random type with random bytes. Never REJECT,
 * and DRAIN and BYE always carry a payload, so a correct agent never has
 * a reason to leave. */
void fc_random_frame(pd_buf *b);

#endif
