/* schema.h - typed result fields parsed from a task's stdout (pure).
 *
 * A schema is "name:type,name:type,..." with types dbl, int, chr, lgl.
 * A task reports its fields as "name=value" lines on stdout (LF or CRLF);
 * other lines are ignored, the last line for a name wins. Values:
 *   dbl  strtod syntax in full, plus NA, NaN, Inf, -Inf
 *   int  optional sign and decimal digits fitting int64, or NA
 *   lgl  TRUE/FALSE/true/false/T/F/1/0, or NA
 *   chr  anything (the rest of the line)
 * A declared field that is missing is an error for that row.
 */
#ifndef PD_SCHEMA_H
#define PD_SCHEMA_H

#include <stddef.h>

enum pd_type { PD_T_DBL, PD_T_INT, PD_T_CHR, PD_T_LGL };

typedef struct pd_schema_field {
	char *name;
	int type;
} pd_schema_field;

typedef struct pd_schema {
	size_t n;
	pd_schema_field *fields;
} pd_schema;

/* Parses spec. Errors (-EINVAL) name the position and problem, e.g.
 * "schema field 2 'var:dbx': unknown type 'dbx' (use dbl, int, chr, lgl)",
 * "schema field 3: empty name", "schema: duplicate field 'mean'". */
int pd_schema_parse(const char *spec, pd_schema **out, char *err, size_t errlen);
void pd_schema_free(pd_schema *s);
/* "dbl", ... */
const char *pd_type_name(int type);

/* Extracts values from out[0, len). On success values[i] (malloc'd,
 * caller frees each) hold the canonical text of field i (as written,
 * trimmed of surrounding spaces; lgl normalised to TRUE/FALSE/NA).
 * On a bad or missing value returns -EINVAL, values are all NULL and err
 * says e.g. "field 'mean': 'abc' is not a dbl" or "field 'var' missing". */
int pd_schema_extract(const pd_schema *s, const char *out, size_t len, char **values, char *err,
		      size_t errlen);

#endif
