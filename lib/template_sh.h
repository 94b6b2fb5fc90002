/* template_sh.h - where each placeholder stands in a shell script (pure;
 * used by template.c only).
 *
 * A value never becomes shell text: the script refers to it as a
 * positional parameter, and the form of that reference depends on the
 * quoting around the placeholder:
 *   unquoted (also inside $(...) and ${...}):  "${N}"
 *   inside "..." or an unquoted here-document:  ${N}
 *   inside '...':                              '"${N}"' (closes, reopens)
 * Places where no reference is both safe and exact are refused:
 * $'...' (dash has none, bash would read the reference differently),
 * backquotes within double quotes, $((...)) (a value would be evaluated
 * as arithmetic), a here-document with a quoted delimiter (nothing
 * expands), a here-document's delimiter, a '$' or '\' right before the
 * placeholder.
 * The scanner follows POSIX sh quoting; where it misjudges an unusual
 * script, a value can only arrive changed (split, or not expanded), never
 * run: the value is not in the script at all. It fails closed: a script in
 * which any placeholder was stepped over unclassified is refused.
 */
#ifndef PD_TEMPLATE_SH_H
#define PD_TEMPLATE_SH_H

#include <stddef.h>

enum pd_sh_form {
	PD_SH_UNQ = 0, /* "${N}" */
	PD_SH_DQ,      /* ${N} */
	PD_SH_SQ,      /* '"${N}"' */
};

/* What the scanner sees at slot i of the script. */
enum pd_sh_slot {
	PD_SLOT_TEXT = 0, /* a byte of the script */
	PD_SLOT_VALUE,    /* a column placeholder (one byte stands for it) */
	PD_SLOT_ROW,      /* {#}: digits, inserted as they are */
};

/* s[0, len) is the script with each placeholder as one byte; slot[i]
 * (enum pd_sh_slot) says which bytes stand for one, name[k] is the text of
 * the k-th placeholder of either kind ("{alpha}", "{#}") for messages. forms[k] gets the form
 * of the k-th PD_SLOT_VALUE (in order). 0, or -EINVAL with err naming the
 * placeholder, the problem and the safe form. */
int pd_sh_forms(const char *s, size_t len, const unsigned char *slot, const char *const *name,
		int *forms, char *err, size_t errlen);

#endif
