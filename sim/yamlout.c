/*
 * yamlout.c - double-quoted YAML scalars that read back unchanged (see
 * yamlout.h for the escapes and the reasons, with the YAML spec sections).
 */
#include "yamlout.h"

#include <stdint.h>
#include <string.h>

#include "err.h"
#include "mem.h"

/* Decode one well-formed UTF-8 sequence at p (Unicode 15 table 3-7).
 * Returns its length (1-4) with the code point in *cp, or 0 when the bytes
 * at p do not start a well-formed sequence. */
static size_t utf8_decode(const unsigned char *p, uint32_t *cp)
{
    unsigned char c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    /* lo/hi: the range the second byte must be in (table 3-7) */
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;
    uint32_t v;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, v = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, v = c & 0x0Fu;
        if (c == 0xE0)
            lo = 0xA0;   /* no overlong 3-byte forms */
        else if (c == 0xED)
            hi = 0x9F;   /* no surrogates D800-DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, v = c & 0x07u;
        if (c == 0xF0)
            lo = 0x90;   /* no overlong 4-byte forms */
        else if (c == 0xF4)
            hi = 0x8F;   /* nothing above U+10FFFF */
    } else {
        return 0;        /* 80-BF stray continuation, C0/C1 overlong, F5-FF */
    }
    if (p[1] < lo || p[1] > hi)
        return 0;
    v = (v << 6) | (p[1] & 0x3Fu);
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF)   /* NUL ends the string here too */
            return 0;
        v = (v << 6) | (p[i] & 0x3Fu);
    }
    *cp = v;
    return n;
}

int yaml_utf8_check(const char *s, size_t *bad)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t cp;
    for (size_t i = 0; p[i];) {
        size_t n = utf8_decode(p + i, &cp);
        if (!n) {
            if (bad)
                *bad = i;
            return SIM_EINVAL;
        }
        i += n;
    }
    return 0;
}

/* The escape for code point cp into out (at most 7 bytes + NUL), or 0 when
 * it is written as itself. */
static size_t escape(uint32_t cp, char out[8])
{
    static const char hex[] = "0123456789ABCDEF";
    char c = 0;
    switch (cp) {
    case '"': c = '"'; break;
    case '\\': c = '\\'; break;
    case 0x07: c = 'a'; break;
    case 0x08: c = 'b'; break;
    case 0x09: c = 't'; break;
    case 0x0A: c = 'n'; break;
    case 0x0B: c = 'v'; break;
    case 0x0C: c = 'f'; break;
    case 0x0D: c = 'r'; break;
    case 0x1B: c = 'e'; break;
    case 0x85: c = 'N'; break;
    case 0xA0: c = '_'; break;
    case 0x2028: c = 'L'; break;
    case 0x2029: c = 'P'; break;
    default: break;
    }
    if (c) {
        out[0] = '\\', out[1] = c, out[2] = '\0';
        return 2;
    }
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
        out[0] = '\\', out[1] = 'x', out[2] = hex[cp >> 4], out[3] = hex[cp & 15];
        out[4] = '\0';
        return 4;
    }
    if (cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF) {
        out[0] = '\\', out[1] = 'u';
        for (int i = 0; i < 4; i++)
            out[2 + i] = hex[(cp >> (12 - 4 * i)) & 15];
        out[6] = '\0';
        return 6;
    }
    return 0;
}

char *yaml_quote(const char *s, size_t *bad)
{
    size_t dummy;
    if (!bad)
        bad = &dummy;
    if (yaml_utf8_check(s, bad))
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    /* at most 4 output bytes per input byte (\xNN from one byte; \uFEFF
     * is 6 from 3, \N 2 from 2), plus the quotes and the NUL */
    size_t len = strlen(s);
    char *out = sim_alloc(len * 4 + 3), *o = out;
    if (!out) {
        *bad = (size_t)-1;
        return NULL;
    }
    *o++ = '"';
    for (size_t i = 0; p[i];) {
        uint32_t cp;
        size_t n = utf8_decode(p + i, &cp);
        char esc[8];
        size_t el = escape(cp, esc);
        if (el) {
            memcpy(o, esc, el);
            o += el;
        } else {
            memcpy(o, p + i, n);
            o += n;
        }
        i += n;
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

int yaml_write_quoted(FILE *f, const char *s, size_t *bad)
{
    size_t b = 0;
    char *q = yaml_quote(s, &b);
    if (bad)
        *bad = b;
    if (!q)
        return b == (size_t)-1 ? SIM_ENOMEM : SIM_EINVAL;
    fputs(q, f);
    sim_free(q);
    return 0;
}
