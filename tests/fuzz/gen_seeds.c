/* gen_seeds.c - writes the binary seed inputs of tests/fuzz/corpus (frames
 * for codec_agent and codec_ctl, blocks for journal_block) with the
 * project's own encoders, so every seed is a valid message. Run from the
 * top of the tree after a change to the wire or block format:
 *   cc -D_GNU_SOURCE -Ilib tests/fuzz/gen_seeds.c lib/codec.c lib/codec_batch.c lib/buf.c \
 *      lib/journal_block.c -o /tmp/gen_seeds && /tmp/gen_seeds tests/fuzz/corpus
 * The text seeds (CSV, JSON, templates, schemas, connection files) are
 * written by hand. */
#include "buf.h"
#include "codec.h"
#include "journal_block.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *top;

/* Writes prefix byte (if >= 0) and b's bytes to top/dir/name. */
static void save(const char *dir, const char *name, int prefix, const pd_buf *b)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", top, dir, name);
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		exit(1);
	}
	if (prefix >= 0)
		fputc(prefix, f);
	fwrite(pd_buf_head(b), 1, pd_buf_size(b), f);
	fclose(f);
}

/* The payload of the one frame in b, as a buffer of its own. */
static pd_buf payload(const pd_buf *b)
{
	pd_buf p = {0};

	pd_buf_append(&p, pd_buf_head(b) + PD_FRAME_HDR, pd_buf_size(b) - PD_FRAME_HDR);
	return p;
}

/* Saves frame b as a payload seed (mode byte idx) and returns it to the
 * stream s. */
static void frame(const char *dir, const char *name, int idx, pd_buf *b, pd_buf *s)
{
	pd_buf p = payload(b);

	save(dir, name, idx, &p);
	pd_buf_append(s, pd_buf_head(b), pd_buf_size(b));
	pd_buf_free(&p);
	pd_buf_reset(b);
}

static void agent_seeds(void)
{
	const char *d = "codec_agent";
	pd_buf b = {0}, s = {0};
	pd_welcome w = {PD_PROTO_VERSION, 5000, 1u << 20, "demo", 0, {{0}}};
	static const uint8_t inner[] = {'x', 0, 'y'};
	char *argv1[] = {"sim", "0.5", "2", NULL};
	char *argv2[] = {"echo", "", "a b", NULL};
	pd_task_msg t1 = {1, 1, PD_TASK_PROCESS, 0, 1u << 20, 3, argv1};
	pd_task_msg t2 = {2, 3, PD_TASK_ECHO, 1500, 64, 3, argv2};
	uint64_t ids[] = {1, 7, 1ull << 40};
	size_t mark;

	/* types in fuzz_codec_agent.c: WELCOME REJECT TASKS CANCEL PING BYE */
	pd_welcome_encode(&b, &w);
	frame(d, "welcome-none", 0, &b, &s);
	/* handler settings: the coprocess command, and bytes with a NUL */
	w.nsettings = 2;
	w.settings[0] = (pd_setting){PD_TASK_COPROC, 24, (const uint8_t *)"while read l; do :; done"};
	w.settings[1] = (pd_setting){200, 3, inner};
	pd_welcome_encode(&b, &w);
	frame(d, "welcome", 0, &b, &s);
	pd_reject_encode(&b, "wrong secret");
	frame(d, "reject", 1, &b, &s);
	pd_tasks_begin(&b, &mark);
	pd_tasks_add(&b, mark, &t1);
	pd_tasks_add(&b, mark, &t2);
	pd_tasks_end(&b, mark);
	frame(d, "tasks", 2, &b, &s);
	pd_cancel_encode(&b, ids, 3);
	frame(d, "cancel", 3, &b, &s);
	pd_ping_encode(&b, PD_MSG_PING, 123456789);
	frame(d, "ping", 4, &b, &s);
	pd_bye_encode(&b, 1);
	frame(d, "bye", 5, &b, &s);
	pd_frame_empty(&s, PD_MSG_DRAIN);
	save(d, "stream", 0x80, &s);
	save(d, "stream-small-limit", 0x81, &s);
	pd_buf_free(&b);
	pd_buf_free(&s);
}

static void ctl_seeds(void)
{
	const char *d = "codec_ctl";
	pd_buf b = {0}, s = {0};
	pd_hello h = {0, "vm:123", "vm", 123, 2, "local", "", "", PD_HELLO_COPROC};
	pd_result_msg r1 = {1, 1, PD_ST_OK, 0, 0, 0, 1200, 900, 2048, 5, 0, "1.25\n", "", ""};
	pd_result_msg r2 = {2, 2, PD_ST_FAILED, PD_RF_ERR_TRUNC, -1, 9, 10, 5, 0, 0, 4, "",
			    "oops", "killed by signal 9"};
	size_t mark;

	/* types in fuzz_codec_ctl.c: HELLO RESULTS PONG */
	pd_hello_encode(&b, &h);
	frame(d, "hello", 0, &b, &s);
	pd_results_begin(&b, &mark);
	pd_results_add(&b, mark, &r1);
	pd_results_add(&b, mark, &r2);
	pd_results_end(&b, mark);
	frame(d, "results", 1, &b, &s);
	pd_ping_encode(&b, PD_MSG_PONG, 42);
	frame(d, "pong", 2, &b, &s);
	pd_frame_empty(&s, PD_MSG_BYE);
	save(d, "stream", 0x80, &s);
	pd_buf_free(&b);
	pd_buf_free(&s);
}

/* journal_block seeds: data[0] mode, data[1..2] count, then the blob */
static void block_seed(const char *name, int attempts, const pd_buf *blk)
{
	pd_buf b = {0};
	uint32_t n = pd_jblock_count(blk);
	uint8_t hdr[2] = {(uint8_t)n, (uint8_t)(n >> 8)};

	pd_buf_append(&b, hdr, 2);
	pd_buf_append(&b, blk->data, blk->len);
	save("journal_block", name, attempts, &b);
	pd_buf_free(&b);
}

static void block_seeds(void)
{
	const char *r1[] = {"0.5", "2", "7"}, *r2[] = {"1.5", "", "x,y"};
	pd_buf b = {0};

	pd_jblock_task_add(&b, r1, 3);
	pd_jblock_task_add(&b, r2, 3);
	pd_jblock_task_add(&b, NULL, 0);
	block_seed("tasks", 0, &b);
	pd_buf_reset(&b);
	pd_jblock_attempt_add(&b, 1, 1, 1700000000000ull, "vm:123");
	pd_jblock_attempt_add(&b, 2, 1, 1700000000001ull, NULL);
	pd_jblock_attempt_add(&b, 1, 2, 1700000000002ull, "node7:99");
	block_seed("attempts", 1, &b);
	pd_buf_free(&b);
}

int main(int argc, char **argv)
{
	top = argc > 1 ? argv[1] : "tests/fuzz/corpus";
	agent_seeds();
	ctl_seeds();
	block_seeds();
	return 0;
}
