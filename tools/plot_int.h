/*
 * plot_int.h - memfab plot internals shared by the data side (plot.c: one
 * function per figure kind reads the database and writes the data blocks)
 * and the layout side (plot_fig.c: line styles, the key, axis tics, and
 * the plot commands of one plot or of a grid of panels).
 *
 * A kind writes its global settings (units, tics) and its inline data
 * blocks to the script, and describes what to draw as a plot_fig: items
 * (one data block drawn one way, in one panel, under one key entry), the
 * axis labels and the data ranges. plot_fig_emit() then writes the key
 * and the plot command, or with --facet one panel per run or instance on
 * shared axes and one key for all panels. Line styles follow key entries:
 * the same entry has the same colour, dash and point type in every panel.
 */
#ifndef MEMFAB_TOOLS_PLOT_INT_H
#define MEMFAB_TOOLS_PLOT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { KEY_AUTO, KEY_BELOW, KEY_RIGHT, KEY_INSIDE, KEY_OFF };
enum { FACET_NONE, FACET_RUN, FACET_INSTANCE };
enum { AGG_AUTO, AGG_SUM, AGG_MEAN, AGG_NONE };

typedef struct plot_opts {
    const char *db;            /* results database */
    const char *kind;          /* cdf, param, ... */
    const char *out;           /* figure file */
    const char *title;         /* --title, or NULL */
    const char *metric;        /* --metric */
    const char *xkey;          /* --x (param) */
    const char *group;         /* --group (param) */
    int64_t *ids;              /* --run */
    size_t nids;
    char **where;              /* --where */
    size_t nwhere;
    int logx, logy;            /* log scales */
    int script;                /* print the script, do not run gnuplot */
    double w, h, pt;           /* size in inches, font size in points */
    int sized;                 /* --size given (facets otherwise grow the figure) */
    double fscale;             /* points to the terminal's font units */
    int key;                   /* --key: KEY_AUTO, KEY_BELOW, ... */
    const char *xlabel, *ylabel; /* --xlabel, --ylabel, or NULL */
    char **names;              /* --labels, split at commas */
    size_t nnames;
    int facet;                 /* --facet: FACET_NONE, FACET_RUN, FACET_INSTANCE */
    int agg;                   /* --agg: AGG_AUTO, AGG_SUM, AGG_MEAN, AGG_NONE */
    int *run_lt;               /* line type of each run drawn as a series */
} plot_opts;

/* One thing drawn: a data block, how (`using ... with ...`), in which panel,
 * under which key entry. */
typedef struct plot_item {
    char block[48];            /* the inline data block, e.g. "$s3" */
    char *with;                /* "using 1:2 with steps", style options allowed */
    char *key;                 /* key entry (the series); NULL: no style, no entry */
    int keyed;                 /* 0: in the entry's style but not in the key (bands) */
    size_t panel;              /* panel index (0 without facets) */
    int lt, dt;                /* explicit line type and dash; 0: by key entry */
} plot_item;

typedef struct plot_fig {
    plot_item *items;          /* in drawing order */
    size_t n, cap;
    char **panels;             /* facet panel titles; npanels 0: one plot */
    size_t npanels;
    char xlabel[256], ylabel[256]; /* the defaults (--xlabel/--ylabel win) */
    double x0, x1, y0, y1;     /* data ranges, in the axes' units */
    double xpos, ypos;         /* smallest positive x and y (log axes) */
    int cats;                  /* categorical x (bars): catv names positions 0, 1, ... */
    char **catv;
    size_t ncat;
    const char *corner;        /* key inside this corner for few entries; NULL: never */
    int single_off;            /* a key of one entry is left out */
    size_t nkeys;              /* distinct keyed entries, set by plot_fig_emit */
    double fw, fh;             /* the figure's size in inches, set by plot_fig_emit */
} plot_fig;

/* Start an empty figure (ranges empty). */
void plot_fig_init(plot_fig *g);
void plot_fig_free(plot_fig *g);
/* Add an item; `with` and `key` are copied. 0 or SIM_ENOMEM. */
int plot_fig_add(plot_fig *g, const char *block, size_t panel, const char *with,
                 const char *key, int keyed, int lt, int dt);
/* The index of the panel titled t, appended when new; -1 without memory. */
long plot_fig_panel(plot_fig *g, const char *t);
/* The position of category `name` on a categorical x axis, appended when
 * new; -1 without memory. */
long plot_fig_cat(plot_fig *g, const char *name);
/* Widen the data ranges by the point (x, y) (NAN skips a coordinate). */
void plot_fig_point(plot_fig *g, double x, double y);
/* Default axis labels. */
void plot_fig_labels(plot_fig *g, const char *x, const char *y);
/* Write the key, axis labels, log tics, and the plot (or multiplot)
 * command; sets g->nkeys and the figure size g->fw x g->fh, which facets
 * grow without --size (7 in wide from three columns on, 1.25 in of height
 * per row of panels), so the caller writes plot_header() afterwards. */
void plot_fig_emit(FILE *f, const plot_opts *o, plot_fig *g);

/* The script's head: terminal, output, palette of 32 line types (8
 * Okabe-Ito colours x 4 dash patterns, a point type each), borders. */
void plot_header(FILE *f, const plot_opts *o, const char *term, double fscale);

/* A linear tic increment of 1, 2, 2.5 or 5 times a power of ten giving at
 * most `most` intervals over [lo, hi]; 0 for an empty range. */
double plot_nice_step(double lo, double hi, int most);
/* `set Xtics STEP` for plot_nice_step (nothing for an empty range). */
void plot_tics_for(FILE *f, char axis, double lo, double hi, int most);
/* `set Xtics (...)` for a logarithmic axis over [lo, hi] (lo > 0), the
 * finest of these with 2 to `most` tics inside the range: 1-2-3-5 x 10^k
 * within a decade, 1-2-5 within two, 1-3 within three, then decades,
 * every 2nd, 3rd, 5th or 10th decade; a range under a factor of 2 gets
 * linear 1-2-2.5-5 steps. Labels are '%g'. Returns the tics in range. */
int plot_log_tics(FILE *f, char axis, double lo, double hi, int most);

/* The panel grid for n panels: columns and rows (4 x 4 for 13-16). */
void plot_grid(size_t n, size_t *cols, size_t *rows);

/* Natural order of names (inst2 before inst10), for qsort of char *. */
int plot_natcmp(const void *a, const void *b);

#endif
