/* output_row.c - output.h's row builder: a result made into the row the
 * table shows (run, collect and the control socket's collect op). */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "output.h"

void pd_row_build(pd_row *row, const pd_schema *schema, const pd_jresult *jr, int flags)
{
	memset(row, 0, sizeof(*row));
	row->r.status = jr->status;
	row->r.exit_code = jr->exit_code;
	row->r.seconds = jr->seconds;
	row->r.agent = jr->agent ? jr->agent : "";
	row->r.out = jr->out ? jr->out : "";
	row->r.out_len = jr->out ? jr->out_len : 0;
	row->r.error = jr->error ? jr->error : "";
	if (!(flags & PD_ROW_RAW)) {
		/* the table shows stdout without its final line end, as $(...) does */
		if (row->r.out_len && row->r.out[row->r.out_len - 1] == '\n')
			row->r.out_len--;
		if (row->r.out_len && row->r.out[row->r.out_len - 1] == '\r')
			row->r.out_len--;
	}
	if (!schema || jr->status != PD_ST_OK)
		return;
	if (!(row->values = calloc(schema->n ? schema->n : 1, sizeof(char *))))
		return;
	row->nvalues = schema->n;
	row->r.values = row->values;
	if (pd_schema_extract(schema, row->r.out, jr->out ? jr->out_len : 0, row->values,
			      row->schema_err, sizeof(row->schema_err)) < 0) {
		row->r.status = PD_ST_FAILED;
		if (!row->schema_err[0])
			strcpy(row->schema_err, "output does not fit the schema");
	}
}

void pd_row_free(pd_row *row)
{
	for (size_t i = 0; row->values && i < row->nvalues; i++)
		free(row->values[i]);
	free(row->values);
	row->values = NULL;
	row->r.values = NULL;
}
