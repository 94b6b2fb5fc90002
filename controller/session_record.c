/* session_record.c - session_record.h: the session record, written once
 * and read by one reader; the grid rebuilt from a journal. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "output.h"
#include "session_record.h"

/* enum pd_mode by name, as the journal keeps it */
static const char *const mode_names[] = {"run", "submit", "serve", "resume"};

static int mode_of(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (s && !strcmp(s, mode_names[i]))
			return i;
	return -1;
}

/* a list of strings as a JSON array, in meta key */
static int meta_strings(pd_journal *j, const char *key, char *const *v, size_t n)
{
	pd_buf b = {0};
	pd_jw w;
	int rv;

	pd_jw_init(&w, &b);
	pd_jw_arr_begin(&w);
	for (size_t i = 0; i < n; i++)
		pd_jw_str(&w, v[i]);
	pd_jw_arr_end(&w);
	rv = pd_jw_error(&w) ? -ENOMEM : pd_buf_append(&b, "", 1);
	if (rv == 0)
		rv = pd_journal_meta_set(j, key, (const char *)pd_buf_head(&b));
	pd_buf_free(&b);
	return rv;
}

/* the record itself: meta "record" */
static int record_put(pd_journal *j, const pd_run_opts *o, int stdin_input)
{
	pd_buf b = {0};
	pd_jw w;
	const char *key, *val;
	int rv;

	pd_jw_init(&w, &b);
	pd_jw_obj_begin(&w);
	pd_jw_key(&w, "version");
	pd_jw_u64(&w, PD_RECORD_VERSION);
	pd_jw_key(&w, "mode");
	pd_jw_str(&w, mode_names[o->mode]);
	pd_jw_key(&w, "stdin");
	pd_jw_bool(&w, stdin_input);
	pd_jw_key(&w, "options");
	pd_jw_arr_begin(&w);
	for (unsigned i = 0; (key = pd_run_given_key(o, i, &val)); i++) {
		pd_jw_arr_begin(&w);
		pd_jw_str(&w, key);
		if (val)
			pd_jw_str(&w, val);
		pd_jw_arr_end(&w);
	}
	pd_jw_arr_end(&w);
	pd_jw_key(&w, "words");
	pd_jw_arr_begin(&w);
	for (int i = 0; i < o->nwords; i++)
		pd_jw_str(&w, o->words[i]);
	pd_jw_arr_end(&w);
	pd_jw_obj_end(&w);
	rv = pd_jw_error(&w) ? -ENOMEM : pd_buf_append(&b, "", 1);
	if (rv == 0)
		rv = pd_journal_meta_set(j, "record", (const char *)pd_buf_head(&b));
	pd_buf_free(&b);
	return rv;
}

int pd_record_write(pd_journal *j, const pd_run_opts *o, int stdin_input, const pd_table *grid)
{
	int rv;

	if ((rv = record_put(j, o, stdin_input)) < 0 ||
	    (rv = meta_strings(j, "columns", grid->header, grid->ncols)) < 0 ||
	    /* for older parade versions only: read by nothing here */
	    (rv = pd_journal_meta_set(j, "mode", mode_names[o->mode])) < 0 ||
	    (rv = pd_journal_meta_set(j, "stdin", stdin_input ? "1" : "0")) < 0 ||
	    (rv = pd_journal_meta_set(j, "schema", o->schema ? o->schema : "")) < 0 ||
	    (rv = pd_journal_meta_set(j, "format", pd_format_name(o->format))) < 0)
		return rv;
	if (o->argc > 0)
		rv = meta_strings(j, "argv", o->argv, (size_t)o->argc);
	return rv;
}

void pd_record_free(pd_record *r)
{
	pd_run_opts_free(&r->o);
	free(r->words);
	free(r->schema);
	pd_json_free(r->json);
	memset(r, 0, sizeof(*r));
}

/* Reads the record object into r; shape: only what collect needs (options
 * naming files to read are skipped, the closing checks not made). 0, or
 * -EPROTO with err naming the field and what is wrong with it, -ENOEXEC
 * with err "its option --hostfile F cannot be applied: WHY" (a record that
 * is fine, an option that cannot be applied here), or -ENOMEM. */
static int record_parse(const char *text, int shape, pd_record *r, char *err, size_t errlen)
{
	const pd_json *opts, *words, *v;
	char why[1024];
	uint64_t version = 0;
	size_t n;
	int rv;

	if (pd_json_parse(text, strlen(text), &r->json, why, sizeof(why)) < 0 ||
	    pd_json_type(r->json) != PD_JSON_OBJECT) {
		snprintf(err, errlen, "not a JSON object%s%s", r->json ? "" : ": ",
			 r->json ? "" : why);
		return -EPROTO;
	}
	if (pd_json_u64(pd_json_get(r->json, "version"), &version) < 0 ||
	    version != PD_RECORD_VERSION) {
		snprintf(err, errlen, "version: expected %d", PD_RECORD_VERSION);
		return -EPROTO;
	}
	if ((r->mode = mode_of(pd_json_cstr(pd_json_get(r->json, "mode")))) < 0) {
		snprintf(err, errlen, "mode: expected run, submit, serve or resume");
		return -EPROTO;
	}
	if (pd_json_bool(pd_json_get(r->json, "stdin"), &r->stdin_input) < 0) {
		snprintf(err, errlen, "stdin: expected true or false");
		return -EPROTO;
	}
	words = pd_json_get(r->json, "words");
	if (pd_json_type(words) != PD_JSON_ARRAY) {
		snprintf(err, errlen, "words: expected an array of strings");
		return -EPROTO;
	}
	n = pd_json_len(words);
	if (!(r->words = calloc(n + 1, sizeof(char *))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!(r->words[i] = (char *)pd_json_cstr(pd_json_at(words, i)))) {
			snprintf(err, errlen, "words[%zu]: expected a string", i);
			return -EPROTO;
		}
	opts = pd_json_get(r->json, "options");
	if (pd_json_type(opts) != PD_JSON_ARRAY) {
		snprintf(err, errlen, "options: expected an array of [key] or [key, value]");
		return -EPROTO;
	}
	pd_run_build_init(&r->o, r->mode);
	for (size_t i = 0; i < pd_json_len(opts); i++) {
		const char *key, *val = NULL;
		size_t len;
		v = pd_json_at(opts, i);
		len = pd_json_type(v) == PD_JSON_ARRAY ? pd_json_len(v) : 0;
		key = len ? pd_json_cstr(pd_json_at(v, 0)) : NULL;
		if (len == 2)
			val = pd_json_cstr(pd_json_at(v, 1));
		if (!key || len > 2 || (len == 2 && !val)) {
			snprintf(err, errlen, "options[%zu]: expected [key] or [key, value] (strings)",
				 i);
			return -EPROTO;
		}
		rv = pd_run_build_apply(&r->o, key, val, shape ? PD_RUN_BUILD_SHAPE : 0, why,
					sizeof(why));
		if (rv == -ENOEXEC || rv == -ENOMEM) {
			snprintf(err, errlen, "%s", why); /* well-formed, not applied here */
			return rv;
		} else if (rv < 0) {
			snprintf(err, errlen, "options[%zu]: %s", i, why);
			return -EPROTO;
		}
	}
	if (shape) {
		/* checked when it was written; without its files some checks
		 * (ssh hosts) cannot pass */
		r->o.words = r->words;
		r->o.nwords = (int)n;
		return 0;
	}
	if (pd_run_build_finish(&r->o, r->words, (int)n, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "options: %s", why);
		return -EPROTO;
	}
	return 0;
}

/* THE LEGACY READER, for journals written before the session record (they
 * kept their command line in the meta "argv", and since #11 "schema" and
 * "format"): used only when a journal has no "record". It parses the
 * recorded command line again (pd_run_parse_recorded), or for PD_REC_SHAPE
 * takes "schema" and "format" when the journal has them. Nothing new may
 * depend on it; it goes when such journals need no longer be read. */
static int record_read_legacy(const char *name, pd_journal *j, int flags, pd_record *r)
{
	char err[1024], *argv = NULL, *mode = NULL, *fmt = NULL, *std = NULL, **args = NULL;
	int rv = -EPROTO, argc;

	r->legacy = 1;
	if (pd_journal_meta_get(j, "stdin", &std) == 0)
		r->stdin_input = !strcmp(std, "1");
	free(std);
	if ((flags & PD_REC_SHAPE) && pd_journal_meta_get(j, "format", &fmt) == 0) {
		pd_run_build_init(&r->o, PD_MODE_SUBMIT);
		if (pd_journal_meta_get(j, "schema", &r->schema) < 0 ||
		    (r->o.format = pd_format_parse(fmt)) < 0) {
			pd_err("session %s: the journal's format '%.20s' or schema is damaged", name,
			       fmt);
			goto out;
		}
		r->o.schema = *r->schema ? r->schema : NULL;
		rv = 0;
		goto out;
	}
	if (pd_journal_meta_get(j, "argv", &argv) < 0 ||
	    pd_journal_meta_get(j, "mode", &mode) < 0 ||
	    pd_json_parse(argv, strlen(argv), &r->json, err, sizeof(err)) < 0 ||
	    pd_json_type(r->json) != PD_JSON_ARRAY || pd_json_len(r->json) == 0) {
		pd_err("session %s: the journal's record of its command line is missing or damaged",
		       name);
		goto out;
	}
	argc = (int)pd_json_len(r->json);
	if (!(args = calloc((size_t)argc + 1, sizeof(char *)))) {
		rv = -ENOMEM;
		goto out;
	}
	r->words = args; /* owned by r from here on */
	for (int i = 0; i < argc; i++)
		if (!(args[i] = (char *)pd_json_str(pd_json_at(r->json, (size_t)i), NULL))) {
			pd_err("session %s: the journal's record of its command line is damaged",
			       name);
			goto out;
		}
	r->mode = !strcmp(mode, "serve") ? PD_MODE_SERVE
		  : !strcmp(mode, "run") ? PD_MODE_RUN
					 : PD_MODE_SUBMIT;
	if (pd_run_parse_recorded(argc, args, r->mode, &r->o) != 0) {
		pd_err("session %s: its recorded command line no longer parses", name);
		goto out;
	}
	if (r->o.out_limit_recorded)
		pd_warn("session %s: its recorded --output-limit %llu is more than the maximum, %u "
			"bytes (what the journal keeps of one result); %u is used",
			name, (unsigned long long)r->o.out_limit_recorded, r->o.out_limit,
			r->o.out_limit);
	rv = 0;
out:
	if (rv == -ENOMEM)
		pd_err("session %s: out of memory reading the journal", name);
	free(argv);
	free(mode);
	free(fmt);
	return rv;
}

int pd_record_read(const char *name, pd_journal *j, int flags, pd_record *r)
{
	char err[1200], *text = NULL;
	int rv, level = pd_log_get_level(), saved_optind = optind;

	memset(r, 0, sizeof(*r));
	rv = pd_journal_meta_get(j, "record", &text);
	if (rv == -ENOENT) {
		rv = record_read_legacy(name, j, flags, r);
	} else if (rv < 0) {
		pd_err("session %s: cannot read its record: %s", name, pd_journal_error(j));
	} else if ((rv = record_parse(text, flags & PD_REC_SHAPE, r, err, sizeof(err))) < 0) {
		if (rv == -ENOMEM)
			pd_err("session %s: out of memory reading the journal", name);
		else if (rv == -ENOEXEC)
			pd_err("session %s: %s", name, err);
		else
			pd_err("session %s: the journal's session record is damaged: %s", name, err);
	}
	if (!(flags & PD_REC_FOR_RUN) || rv < 0)
		pd_log_set_level(level);
	optind = saved_optind;
	free(text);
	return rv < 0 ? (rv == -ENOMEM ? rv : -EPROTO) : 0;
}

static int add_task(void *arg, uint64_t id, char **cells, size_t n)
{
	pd_table *t = arg;

	if (id != t->nrows || n != t->ncols)
		return -EPROTO; /* tasks are dense and all as wide as the header */
	return pd_table_append(t, (const char *const *)cells);
}

int pd_record_grid(pd_journal *j, pd_table **grid, char *err, size_t errlen)
{
	char *cols = NULL, **names = NULL;
	pd_json *v = NULL;
	size_t n = 0;
	int rv = -EPROTO;

	*grid = NULL;
	if (pd_journal_meta_get(j, "columns", &cols) < 0 ||
	    pd_json_parse(cols, strlen(cols), &v, err, errlen) < 0 ||
	    pd_json_type(v) != PD_JSON_ARRAY || (n = pd_json_len(v)) == 0) {
		snprintf(err, errlen, "the journal's column list is missing or damaged");
		goto out;
	}
	if (!(names = calloc(n, sizeof(*names)))) {
		rv = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (!(names[i] = (char *)pd_json_cstr(pd_json_at(v, i))))
			names[i] = "?";
	if (!(*grid = pd_table_new((const char *const *)names, n))) {
		rv = -ENOMEM;
		goto out;
	}
	if ((rv = pd_journal_tasks(j, add_task, *grid)) < 0)
		snprintf(err, errlen, "cannot read the tasks: %s",
			 rv == -EPROTO ? "they do not fit the columns" : pd_journal_error(j));
out:
	if (rv == -ENOMEM)
		snprintf(err, errlen, "out of memory reading the journal");
	if (rv < 0) {
		pd_table_free(*grid);
		*grid = NULL;
	}
	free(names);
	pd_json_free(v);
	free(cols);
	return rv;
}
