/*
 * csvline.c - measurement CSV lines: skip blanks and comments, split at
 * commas (see csvline.h).
 */
#include "sim/csvline.h"

#include <string.h>

int sim_csv_next_line(FILE *f, char *buf, size_t size, long *line)
{
    for (;;) {
        if (!fgets(buf, (int)size, f))
            return 0;
        (*line)++;
        size_t n = strlen(buf);
        if (n == size - 1 && buf[n - 1] != '\n')
            return -1;
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            buf[--n] = '\0';
        const char *s = buf + strspn(buf, " \t");
        if (*s && *s != '#')
            return 1;
    }
}

int sim_csv_split(char *buf, char **col, int max)
{
    int n = 0;
    for (char *p = buf; n < max;) {
        col[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma || n == max) /* the last field keeps any further commas */
            break;
        *comma = '\0';
        p = comma + 1;
    }
    for (int i = 0; i < n; i++) {
        char *s = col[i];
        while (*s == ' ' || *s == '\t')
            s++;
        char *e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        col[i] = s;
    }
    return n;
}
