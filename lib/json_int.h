/* json_int.h - what json.c (the reader) and json_write.c (the writer)
 * share; private to those two files. */
#ifndef PD_JSON_INT_H
#define PD_JSON_INT_H

#include <stddef.h>

/* Pairs of escape letter and the byte it stands for; the writer uses the
 * first WRITER_ESCAPES of them ("\/" is only read). */
extern const char pd_json_short_esc[];

/* Length of the well-formed UTF-8 sequence at s[0, n), s[0] >= 0x80; or 0
 * with *bad set to the length of the maximal ill-formed subpart. */
size_t pd_json_utf8_seq(const unsigned char *s, size_t n, size_t *bad);

#endif
