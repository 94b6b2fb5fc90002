/* template.h - command templates and shell quoting (pure).
 *
 * A template is a list of words. Inside a word, "{name}" is replaced by the
 * value of column `name` (letters, digits, '_', '.', '-'), "{#}" by the
 * 1-based row number and "{}" by the whole input line (stdin mode, which is
 * a table with one column named ""). "{{" and "}}" stand for literal braces.
 * A '{' not starting one of those forms is kept literally.
 * Argv mode: each word becomes one argv entry with values inserted as they
 * are, byte for byte. Shell mode: one word (the script), run as
 * /bin/sh -c SCRIPT. A value is never pasted into a script: it is passed
 * as a positional parameter and the placeholder becomes a reference to it
 * in the form that is exact where it stands (template_sh.h); placements
 * where none is are refused at compile time. The same holds for the
 * script of an argv template whose program is a shell given -c
 * (sh -c 'echo {x}'): its values follow the words after the script. An
 * argv script that is one placeholder alone (sh -c {command}) is left as
 * it is: there the value is meant to be the script.
 */
#ifndef PD_TEMPLATE_H
#define PD_TEMPLATE_H

#include <stddef.h>

#include "buf.h"
#include "csv.h"

typedef struct pd_template pd_template;

/* Compiles words against a table's header. A script's placeholders are
 * placed now: one where no reference is exact fails with -EINVAL and err
 * showing the safe form. Column names are resolved now:
 * an unknown one fails with -EINVAL and err naming it and the header, e.g.
 * "template names column 'gama', grid has: alpha, beta, n_sim".
 * "{}" with a table whose columns are not exactly one unnamed column fails
 * the same way. shell != 0 selects shell mode (then nwords must be 1). */
int pd_template_compile(const char *const *words, size_t nwords, const pd_table *t, int shell,
			pd_template **out, char *err, size_t errlen);
void pd_template_free(pd_template *tp);

/* Expands for table row `row` (0-based). *argv is one malloc block
 * (pointer array + strings, NULL-terminated; free(*argv) releases all),
 * *argc its count. Shell mode gives {"/bin/sh", "-c", script}, followed,
 * when the script names columns, by "/bin/sh" ($0) and one value per
 * column ($1, ...). An argv `sh -c SCRIPT [NAME ARG...]` gets [sh] and the
 * values appended the same way ($0 = sh when no NAME follows).
 * 0 or -ENOMEM. */
int pd_template_expand(const pd_template *tp, const pd_table *t, size_t row, char ***argv,
		       size_t *argc);

/* The one line of a coproc task (pure). Line mode (json == 0): the
 * template expanded for `row` (argv mode, values as they are even in an
 * `sh -c` script, nothing appended) and its words joined by single
 * spaces, no quoting. JSON mode: the row as one JSON object of t's
 * columns, every value a string, on one line (tp is not used). *argv is
 * one malloc block holding one word: {line, NULL} (free(*argv)), *argc 1.
 * 0, -EINVAL (row out of range) or -ENOMEM; *argv is NULL on error. */
int pd_template_line(const pd_template *tp, const pd_table *t, size_t row, int json,
		     char ***argv, size_t *argc);

/* Appends s shell-quoted ('...' with ' written as '\'') to out. 0/-ENOMEM */
int pd_shell_quote(pd_buf *out, const char *s, size_t len);

#endif
