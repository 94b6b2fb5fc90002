/* codec.h - the controller <-> agent wire format (pure, no I/O).
 *
 * A frame is an 8-byte header followed by a payload:
 *   u32 payload length (big endian) | u8 type | u8[3] reserved, zero
 * Payload integers are little endian. A string is u32 length, the bytes,
 * then one NUL byte that the decoder checks (so decoded strings are C
 * strings that may still hold inner NULs; use the lengths for bytes).
 * Every decoder is bounds-checked: any truncation, overrun, bad NUL,
 * count too large for the bytes present, or trailing garbage is -EPROTO.
 *
 * Message payloads:
 *   HELLO    u32 magic 'PRDE', u32 version, str agent_id, str host, u32 pid,
 *            u32 slots, str mode ("local","ssh","slurm","manual"),
 *            str slurm_job, str slurm_step, u32 features (PD_HELLO_*)
 *   WELCOME  u32 version, u32 heartbeat_ms, u32 max_frame, str name,
 *            u32 nsettings, nsettings x setting: u8 kind, str bytes
 *            (handler settings per task kind, opaque to the codec and the
 *            controller: at most PD_MAX_SETTINGS entries, kinds strictly
 *            increasing, each at most PD_MAX_SETTING_LEN bytes; version 3)
 *   REJECT   str reason
 *   TASKS    u32 count, count x task:
 *            u64 id, u32 attempt, u8 kind, u32 timeout_ms, u32 out_limit,
 *            u32 argc, argc x str
 *   RESULTS  u32 count, count x result:
 *            u64 id, u32 attempt, u8 status, u8 flags, i32 exit_code,
 *            i32 signal, u64 wall_us, u64 cpu_us, u64 maxrss_kb,
 *            str out, str err, str error
 *   PING, PONG  u64 stamp
 *   CANCEL   u32 count, count x u64 id
 *   DRAIN    empty
 *   BYE      controller -> agent: u8 status, the run's exit status (what
 *            a follower exits with; version 4); agent -> controller: empty
 *
 * A HELLO with 0 slots is a follower's (version 4): it takes no tasks and
 * waits for the BYE that carries the run's exit status.
 */
#ifndef PD_CODEC_H
#define PD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PD_PROTO_VERSION 4u
#define PD_HELLO_MAGIC 0x45445250u /* "PRDE" read little endian */
#define PD_FRAME_HDR 8u
#define PD_MAX_FRAME_DEFAULT (64u << 20)
#define PD_MAX_ARGC 65536u
#define PD_MAX_SETTINGS 16u          /* settings entries in one WELCOME */
#define PD_MAX_SETTING_LEN 262144u    /* bytes of one kind's settings (a coprocess
                                       * command: above Linux's 128 KiB for one
                                       * argument, what it could be before) */

enum pd_msg_type {
	PD_MSG_HELLO = 1,
	PD_MSG_WELCOME,
	PD_MSG_REJECT,
	PD_MSG_TASKS,
	PD_MSG_RESULTS,
	PD_MSG_PING,
	PD_MSG_PONG,
	PD_MSG_CANCEL,
	PD_MSG_DRAIN,
	PD_MSG_BYE,
	PD_MSG_MAX_ /* one past the last valid type */
};

/* task kinds */
/* task kinds; COPROC: argv[0] is one line for the agent's coprocess */
enum pd_task_kind {
	PD_TASK_PROCESS = 0,
	PD_TASK_ECHO = 1,
	PD_TASK_SLEEP = 2,
	PD_TASK_COPROC = 3
};

/* result status */
enum pd_status { PD_ST_OK = 0, PD_ST_FAILED, PD_ST_TIMEOUT, PD_ST_LOST };

/* HELLO features: what the agent can run besides processes and built-ins
 * (bits it does not know a controller ignores) */
#define PD_HELLO_COPROC 0x1u /* it keeps coprocesses (parade-agent --coproc) */

/* result flags */
#define PD_RF_OUT_TRUNC 0x1u
#define PD_RF_ERR_TRUNC 0x2u

/* Returns the name of a message type ("HELLO"...) or "?" */
const char *pd_msg_name(unsigned type);
/* Returns "ok", "failed", "timeout", "lost" or "?" */
const char *pd_status_name(unsigned st);

/* Looks for one complete frame at the start of p[0, n).
 * 0: a frame is there; *type, *payload (points into p), *plen and
 *    *consumed (header + payload) are set.
 * -EAGAIN: more bytes are needed (nothing is set).
 * -EMSGSIZE: the declared length exceeds max_frame.
 * -EPROTO: unknown type or non-zero reserved bytes. */
int pd_frame_parse(const uint8_t *p, size_t n, size_t max_frame, uint8_t *type,
		   const uint8_t **payload, size_t *plen, size_t *consumed);

/* Starts a frame of `type` at the end of out; *mark remembers where (an
 * opaque offset from out's first unread byte, so it survives the buffer
 * growing; do not consume from out until the frame is ended). Append the
 * payload with the pd_put_* helpers, then pd_frame_end(). 0 or -ENOMEM. */
int pd_frame_begin(pd_buf *out, uint8_t type, size_t *mark);
/* Patches the length of the frame started at mark. 0, or -EMSGSIZE if
 * the payload is over 4 GiB - 1 (the frame is then removed). */
int pd_frame_end(pd_buf *out, size_t mark);
/* Appends a whole frame with an empty payload (DRAIN, an agent's BYE). */
int pd_frame_empty(pd_buf *out, uint8_t type);

/* Low-level payload writers (little endian; strings as described above).
 * Each returns 0 or -ENOMEM. */
int pd_put_u8(pd_buf *b, uint8_t v);
int pd_put_u32(pd_buf *b, uint32_t v);
int pd_put_u64(pd_buf *b, uint64_t v);
int pd_put_str(pd_buf *b, const char *s, size_t len);

/* Bounds-checked payload reader. All getters return 0 or -EPROTO and
 * leave the output untouched on error. pd_get_str gives a pointer into the
 * payload (valid while the payload is) and its length. */
typedef struct pd_reader {
	const uint8_t *p;
	size_t n;
	size_t off;
} pd_reader;
void pd_reader_init(pd_reader *r, const uint8_t *p, size_t n);
int pd_get_u8(pd_reader *r, uint8_t *v);
int pd_get_u32(pd_reader *r, uint32_t *v);
int pd_get_u64(pd_reader *r, uint64_t *v);
int pd_get_str(pd_reader *r, const char **s, uint32_t *len);
/* 0 if every byte was read, else -EPROTO */
int pd_reader_end(const pd_reader *r);

/* ---- messages ---- */

/* In decoded messages, string pointers point into the payload. */
typedef struct pd_hello {
	uint32_t version;
	const char *agent_id;
	const char *host;
	uint32_t pid;
	uint32_t slots;
	const char *mode;
	const char *slurm_job;
	const char *slurm_step;
	uint32_t features; /* PD_HELLO_* */
} pd_hello;

/* Appends a HELLO frame (version is always PD_PROTO_VERSION; h->version is
 * ignored). NULL strings are sent as "". */
int pd_hello_encode(pd_buf *out, const pd_hello *h);
/* -EPROTO on malformed input or wrong magic. A different version decodes as
 * far as the version field and returns -EPROTONOSUPPORT with h->version set
 * so the caller can name both versions. A decoded HELLO is clean: every
 * string is printable ASCII (0x20-0x7e; no space in host, mode and the
 * slurm fields), at most 127 bytes (agent id, host), 15 (mode, not empty)
 * or 31 (slurm job, step); anything else is -EPROTO, so log lines and
 * listings can print them as they are. */
int pd_hello_decode(const uint8_t *p, size_t n, pd_hello *h);
/* The same, and on -EPROTO why (if not NULL) names the field and the
 * problem ("host holds the byte 0x1b (printable ASCII only)"). */
int pd_hello_decode_why(const uint8_t *p, size_t n, pd_hello *h, char *why, size_t whylen);
/* The same rule for one string before it is sent: whether s (NUL-ended)
 * may be the HELLO field `field` (PD_HELLO_F_*). 0, or -EINVAL with why
 * (if not NULL) naming the field and the byte or the length ("mode holds
 * the byte 0x20 (printable ASCII only)"). An agent checks what it will
 * claim with it, so a bad --id or --mode is a usage error, not a REJECT. */
enum { PD_HELLO_F_ID, PD_HELLO_F_HOST, PD_HELLO_F_MODE, PD_HELLO_F_SLURM };
int pd_hello_field_ok(int field, const char *s, char *why, size_t whylen);

/* One task kind's handler settings, as the controller hands them to every
 * agent in WELCOME: bytes only the agent's handler of that kind reads
 * (agent/handler.h, its configure op). */
typedef struct pd_setting {
	uint8_t kind;        /* enum pd_task_kind */
	uint32_t len;        /* <= PD_MAX_SETTING_LEN */
	const uint8_t *data; /* len bytes (may hold NULs); decoded: NUL-ended */
} pd_setting;

typedef struct pd_welcome {
	uint32_t version;
	uint32_t heartbeat_ms;
	uint32_t max_frame;
	const char *name;
	uint32_t nsettings; /* <= PD_MAX_SETTINGS, kinds strictly increasing */
	pd_setting settings[PD_MAX_SETTINGS];
} pd_welcome;
/* Appends a WELCOME frame. -EINVAL (nothing appended) when the settings
 * break the rules above (too many, too long, kinds out of order or twice). */
int pd_welcome_encode(pd_buf *out, const pd_welcome *w);
/* -EPROTO on malformed input or settings that break the rules above
 * (read with this version's layout, whatever the version field says: the
 * caller checks it). Settings data point into the payload. */
int pd_welcome_decode(const uint8_t *p, size_t n, pd_welcome *w);
/* The version field of a WELCOME payload that may be of another version
 * (and so not decode): 0, or -EPROTO when it is too short to hold one. */
int pd_welcome_version(const uint8_t *p, size_t n, uint32_t *version);
/* The settings of kind in w, or NULL. */
const pd_setting *pd_welcome_setting(const pd_welcome *w, uint8_t kind);

int pd_reject_encode(pd_buf *out, const char *reason);
int pd_reject_decode(const uint8_t *p, size_t n, const char **reason);

int pd_ping_encode(pd_buf *out, uint8_t type /* PING or PONG */, uint64_t stamp);
int pd_ping_decode(const uint8_t *p, size_t n, uint64_t *stamp);

/* The controller's BYE: the run's exit status (0-255). 0 or -ENOMEM. */
int pd_bye_encode(pd_buf *out, uint8_t status);
/* A controller's BYE payload: exactly one byte. 0, or -EPROTO (status
 * untouched). */
int pd_bye_decode(const uint8_t *p, size_t n, uint8_t *status);

/* A task as sent to an agent. Decoded tasks are one malloc block owning
 * argv and its strings: release with free(). */
typedef struct pd_task_msg {
	uint64_t id;
	uint32_t attempt;
	uint8_t kind;
	uint32_t timeout_ms; /* 0: none */
	uint32_t out_limit;  /* per stream, bytes */
	uint32_t argc;
	char **argv; /* argc entries + NULL */
} pd_task_msg;

/* Batch encoding: begin, add each task, end. On error the partial frame is
 * removed from out. */
int pd_tasks_begin(pd_buf *out, size_t *mark);
int pd_tasks_add(pd_buf *out, size_t mark, const pd_task_msg *t);
int pd_tasks_end(pd_buf *out, size_t mark);

/* Decodes a TASKS payload: *tasks is a malloc'd array of *count owned
 * task pointers (free each, then the array). -EPROTO leaves nothing. */
int pd_tasks_decode(const uint8_t *p, size_t n, pd_task_msg ***tasks, uint32_t *count);

/* A result. Decoded results are one malloc block owning out/err/error
 * (each NUL-terminated after its length): release with free(). */
typedef struct pd_result_msg {
	uint64_t id;
	uint32_t attempt;
	uint8_t status;
	uint8_t flags;
	int32_t exit_code; /* -1 when none */
	int32_t signal;    /* 0 when none */
	uint64_t wall_us;
	uint64_t cpu_us;
	uint64_t maxrss_kb;
	uint32_t out_len;
	uint32_t err_len;
	char *out;
	char *err;
	char *error; /* agent-side message ("cannot execute ...") or "" */
} pd_result_msg;

int pd_results_begin(pd_buf *out, size_t *mark);
int pd_results_add(pd_buf *out, size_t mark, const pd_result_msg *r);
int pd_results_end(pd_buf *out, size_t mark);
int pd_results_decode(const uint8_t *p, size_t n, pd_result_msg ***results, uint32_t *count);
/* Whether a decoded result can be true: status 0-3, only known flags, exit
 * code -1 to 255, signal 0 to 64, ok only with exit code 0 and no signal,
 * wall and cpu time at most 10^15 us, maxrss at most 2^40 KiB, stdout and
 * stderr each at most out_limit bytes (0: not checked), the error message
 * at most 4096 bytes. 0, or -EPROTO with why (if not NULL) naming the
 * field. */
int pd_result_check(const pd_result_msg *r, uint32_t out_limit, char *why, size_t whylen);

int pd_cancel_encode(pd_buf *out, const uint64_t *ids, uint32_t count);
/* *ids is malloc'd (free it). */
int pd_cancel_decode(const uint8_t *p, size_t n, uint64_t **ids, uint32_t *count);

#endif
