/*
 * yamlout.h - writing strings into YAML so that memfab's reader (libyaml,
 * sim/scn.h) gives them back unchanged: one double-quoted scalar emitter
 * for every file memfab writes as YAML (baselines, tools/compare.c).
 *
 * A string is written as a double-quoted scalar ("..."). Every character
 * that YAML would not carry as itself is escaped with an escape that YAML
 * 1.1 (section 5.7, "Escape Sequences"; libyaml implements 1.1) and YAML
 * 1.2.2 (section 5.7, "Escaped Characters") both define:
 *   "  \"     \  \\     BEL BS TAB LF VT FF CR ESC  \a \b \t \n \v \f \r \e
 *   other C0 controls and DEL (U+007F)              \xNN
 *   U+0085 NEL  \N   U+00A0 NBSP \_   U+2028 LS \L   U+2029 PS \P
 *   other C1 controls U+0080..U+009F                \xNN (the code point)
 *   U+FEFF BOM, U+FFFE, U+FFFF                      \uNNNN
 * Why these: a double-quoted scalar may hold only printable characters
 * (YAML 1.2.2 section 5.1 c-printable: TAB, LF, CR, 0x20-0x7E, NEL,
 * 0xA0-0xD7FF, 0xE000-0xFFFD, 0x10000-0x10FFFF; libyaml refuses the rest
 * as "control characters are not allowed"); a raw line break inside it is
 * folded into a space (section 7.3.1), and YAML 1.1 (section 5.4) and
 * libyaml count NEL, LS and PS as line breaks, so they must be escaped even
 * though 1.2 treats them as ordinary characters; a BOM is skipped by
 * libyaml at the start of a line. Escaping TAB and NBSP keeps them visible
 * to a reviewer. Every other character (all of 0x20-0x7E but " and \, and
 * every code point from U+00A1 on that is not listed) is written as its
 * UTF-8 bytes, so spaces at either end, #, :, "- ", "? ", *, &, !, %, @ and
 * ` need nothing: inside quotes they are text.
 *
 * Bytes that are not UTF-8 cannot be written: YAML text is a sequence of
 * Unicode characters (section 5.2), and the only byte-like escape, \xNN,
 * means the code point U+00NN, which a reader returns as the two UTF-8
 * bytes of that code point, never the byte NN. A string that is not
 * well-formed UTF-8 (Unicode 15, table 3-7: no overlong forms, no
 * surrogates D800-DFFF, nothing above U+10FFFF, no stray or missing
 * continuation bytes) is refused with the offset of its first bad byte, so
 * that the writer can name the field; nothing of it is written. Writing
 * U+FFFD instead, or a private convention, would hand back a different
 * string without a word, which is what a round trip must not do. NUL
 * cannot occur: the strings are C strings.
 */
#ifndef MEMFAB_SIM_YAMLOUT_H
#define MEMFAB_SIM_YAMLOUT_H

#include <stddef.h>
#include <stdio.h>

/* Is s well-formed UTF-8? 0, or SIM_EINVAL with the offset of the first
 * byte that is not part of a well-formed sequence in *bad (may be NULL). */
int yaml_utf8_check(const char *s, size_t *bad);

/* s as a double-quoted YAML scalar, quotes included, in a new string
 * (sim_free it). NULL when s is not UTF-8 (*bad = the offset, as above) or
 * out of memory (*bad = (size_t)-1). */
char *yaml_quote(const char *s, size_t *bad);

/* Write s to f as a double-quoted YAML scalar. 0; SIM_EINVAL (nothing
 * written, *bad = the offset) when s is not UTF-8; SIM_ENOMEM. Write
 * errors are left to the stream's error flag (the caller checks it when
 * it closes the file). */
int yaml_write_quoted(FILE *f, const char *s, size_t *bad);

#endif
