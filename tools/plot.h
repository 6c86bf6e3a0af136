/*
 * plot.h - memfab plot: figures from a results database, drawn by gnuplot.
 *
 * The script is built in memory and piped to gnuplot (no shell, no
 * temporary files); data goes inline as `$name << EOD` blocks that hold
 * only numbers. Every string from a scenario or database (run names,
 * params, link and tier names, the title, the output path) reaches gnuplot
 * through plot_quote(): a single-quoted literal, in which gnuplot performs
 * no substitution (no backquotes, no macros, no backslash escapes), with
 * ' doubled and control characters replaced by spaces. Text is drawn
 * `noenhanced`, so '_' and '^' print as themselves.
 */
#ifndef MEMFAB_TOOLS_PLOT_H
#define MEMFAB_TOOLS_PLOT_H

#include <stdio.h>

/* Write s as a gnuplot single-quoted string literal. */
void plot_quote(FILE *f, const char *s);

/* The `set terminal` arguments for an output file, chosen by its
 * extension (.pdf pdfcairo, .png pngcairo, .svg svg) for a figure of
 * w x h inches with font_pt text; NULL for an unknown extension.
 * *fscale (when not NULL) gets the factor from points to the terminal's
 * font units. The string is static. */
const char *plot_terminal(const char *path, double w_in, double h_in, double font_pt,
                          double *fscale);

/* The longest legend entry, in characters, that gnuplot keeps for a figure
 * w_in inches wide with key_pt text: gnuplot drops the whole key when one
 * column is wider than the canvas (40 at 3.5 in and 7 pt). Run labels are
 * shortened to it. */
size_t plot_title_max(double w_in, double key_pt);

/* Shorten s in place to at most max characters (UTF-8 aware), keeping its
 * head and tail with "..." between; shorter strings are left alone. */
void plot_shorten(char *s, size_t max);

/* Run gnuplot (found as memfab plot finds it) on a whole script: 0, -2
 * when gnuplot is not installed, else its failure status. For figures
 * that other tools draw (memfab study's summary) with plot_terminal and
 * plot_quote. */
int plot_script(const char *script, size_t len);

#endif
