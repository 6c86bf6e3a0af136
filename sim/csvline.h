/*
 * csvline.h - the line reader shared by memfab's measurement CSVs (the
 * step tables of step_time: table, the steps and requests `memfab
 * calibrate` fits).
 *
 * Assumptions: plain comma-separated numbers and names (no quoted fields:
 * RFC 4180 quoting is not needed by any column these files carry); blank
 * lines and lines whose first non-blank character is '#' (the sources the
 * shipped tables cite) are skipped; a field's leading and trailing spaces
 * and tabs are not part of it; a line ends at "\n" or "\r\n".
 */
#ifndef MEMFAB_SIM_CSVLINE_H
#define MEMFAB_SIM_CSVLINE_H

#include <stdio.h>

/* Read the next line of f that is neither blank nor a comment into buf
 * (size bytes, its end of line removed), counting every line read in
 * *line: 1, 0 at the end of the file, -1 on a line that does not fit. */
int sim_csv_next_line(FILE *f, char *buf, size_t size, long *line);

/* Split buf at its commas in place into at most max fields (the last one
 * keeps any further commas), each trimmed of spaces and tabs; the count. */
int sim_csv_split(char *buf, char **col, int max);

#endif
