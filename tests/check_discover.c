/*
 * check_discover.c - what a user reads is what exists:
 *
 *   - every `memfab ...` command shown in README.md (fenced code blocks and
 *     inline code spans) and in the comments of scenarios/ and
 *     scenarios/study/ (every .yaml) names a subcommand of the binary and only
 *     options it accepts. Commands are found in continuation lines joined
 *     at a trailing backslash, spelled `memfab`, `build/release/memfab`
 *     (any path), after environment assignments (`MEMFAB_TRACE_PATH=..
 *     memfab ...`), launchers (`mpirun -n 8 memfab ...`), prompts (`$ `)
 *     or comment labels (`# One policy: memfab run ...`), but not in
 *     messages (`memfab plot: --kind is ...`); a command ends at
 *     a shell comment, pipe, redirection, `;`, `&`, a closing backtick or
 *     parenthesis, and `...` elides the rest of it. Each is then checked
 *     without running anything that takes time:
 *       run/check SCENARIO (a file of the repository)  memfab check, with
 *                          the same options: the scenario, its --set
 *                          overrides and the options are all validated
 *                          (without the trace it names the check falls
 *                          back to the options, and says it skipped);
 *       sweep SWEEP        memfab sweep ... --list: every point's overrides
 *                          against the base scenario, runs nothing;
 *       models, presets    run as written (they only print);
 *       anything else      the command with --help appended: the parsers
 *                          read options left to right and refuse an unknown
 *                          one (or an unknown plot kind, trace subcommand)
 *                          before they reach --help.
 *   - the validation itself fails on stale commands (a removed plot kind,
 *     a misspelt --set key, an unknown subcommand or option);
 *   - `memfab models` lists the workload:, kv:, router: and fabric: keys and
 *     every component and policy parameter with a unit column;
 *   - `memfab presets` prints every model, GPU and step-time preset, each
 *     with a source, and the numbers the models compute from them.
 */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "models/kv/kvstore.h"
#include "models/registry.h"
#include "models/serving/llm_model.h"
#include "sim/schema.h"
#include "tools/presets.h"

static const char *bin, *src;
static char out[1 << 18];

static void setup(void)
{
    bin = getenv("MEMFAB_BIN");
    src = getenv("MEMFAB_SRC");
    ck_assert_msg(bin && src, "MEMFAB_BIN and MEMFAB_SRC must be set (run through make test)");
}

/* Run a shell command in the source tree (stderr joined); exit status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[8192], full[8400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "cd '%s' && { %s ; } 2>&1", src, cmd);
    FILE *p = popen(full, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    char sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0)
        ;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = '\0';
    fclose(f);
    return b;
}

/* ---- finding the commands --------------------------------------------------- */

typedef struct doc_cmd {
    char where[160];   /* FILE:LINE */
    char text[2048];   /* after `memfab `: "run scenarios/x.yaml -o x.db" */
    char expect[512];  /* a transcript's error line the command must print, or "" */
} doc_cmd;

typedef struct doc_cmds {
    doc_cmd v[512];
    int n;
} doc_cmds;

/* A shell word may end here: the character after `memfab`'s command. */
static int stops(const char *t, size_t i)
{
    char c = t[i];
    if (c == '|' || c == ';' || c == '&' || c == '>' || c == '<' || c == '`' || c == ')')
        return 1;
    /* a shell comment or a parenthesised aside starts after a blank */
    return (c == '#' || c == '(') && i > 0 && isspace((unsigned char)t[i - 1]);
}

/* Every memfab command in one logical line (continuations joined). */
static void cmds_in(doc_cmds *o, const char *where, const char *t, const char *expect)
{
    for (size_t i = 0; t[i]; i++) {
        if (strncmp(t + i, "memfab", 6) != 0 || t[i + 6] != ' ')
            continue;
        /* the word starts here, or is a path ending in /memfab */
        if (i > 0 && !strchr(" \t(`=\"'$/", t[i - 1]))
            continue;
        size_t j = i + 6;
        while (t[j] == ' ')
            j++;
        if (!(islower((unsigned char)t[j]) || t[j] == '-'))
            continue; /* prose: "part of memfab (Apache-2.0)" */
        size_t wl = strcspn(t + j, " \t");
        if (wl && t[j + wl - 1] == ':')
            continue; /* a message: "memfab plot: --kind is one of ..." */
        size_t k = j;
        char q = 0;
        for (; t[k]; k++) {
            if (q) {
                if (t[k] == q)
                    q = 0;
                continue;
            }
            if (t[k] == '\'' || t[k] == '"')
                q = t[k];
            else if (stops(t, k))
                break;
        }
        size_t e = k;
        while (e > j && isspace((unsigned char)t[e - 1]))
            e--;
        if (o->n < (int)(sizeof o->v / sizeof o->v[0])) {
            doc_cmd *c = &o->v[o->n++];
            snprintf(c->where, sizeof c->where, "%s", where);
            snprintf(c->expect, sizeof c->expect, "%s", expect ? expect : "");
            /* blanks outside quotes collapse (joined continuation lines) */
            size_t m = 0;
            char qq = 0;
            for (size_t x = j; x < e && m + 1 < sizeof c->text; x++) {
                if (qq) {
                    if (t[x] == qq)
                        qq = 0;
                } else if (t[x] == '\'' || t[x] == '"') {
                    qq = t[x];
                } else if (isspace((unsigned char)t[x])) {
                    if (m && c->text[m - 1] == ' ')
                        continue;
                    c->text[m++] = ' ';
                    continue;
                }
                c->text[m++] = t[x];
            }
            c->text[m] = '\0';
        }
        i = k > i ? k - 1 : i;
    }
}

/* The lines of a text, as offsets. */
typedef struct lines {
    char **v;
    int n;
} lines;

static lines split(char *text)
{
    lines l = {NULL, 0};
    int cap = 0;
    for (char *p = text; p && *p;) {
        if (l.n == cap) {
            cap = cap ? 2 * cap : 256;
            l.v = realloc(l.v, (size_t)cap * sizeof *l.v);
            ck_assert_ptr_nonnull(l.v);
        }
        l.v[l.n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    return l;
}

/* Does s end with a backslash (a continuation)? Removes it. */
static int continues(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n && s[n - 1] == '\\') {
        s[n - 1] = '\0';
        return 1;
    }
    return 0;
}

/* README.md (any markdown): fenced blocks line by line, continuations
 * joined inside a block; inline code spans elsewhere. */
static void scan_markdown(doc_cmds *o, const char *name, char *text)
{
    lines l = split(text);
    int fence = 0;
    for (int i = 0; i < l.n; i++) {
        char *s = l.v[i];
        while (*s == ' ')
            s++;
        if (strncmp(s, "```", 3) == 0) {
            fence = !fence;
            continue;
        }
        char where[160], logical[4096];
        snprintf(where, sizeof where, "%s:%d", name, i + 1);
        if (fence) {
            snprintf(logical, sizeof logical, "%s", l.v[i]);
            while (continues(logical) && i + 1 < l.n && strncmp(l.v[i + 1], "```", 3) != 0) {
                size_t n = strlen(logical);
                snprintf(logical + n, sizeof logical - n, " %s", l.v[++i]);
            }
            /* a transcript ("$ memfab ..." then what it printed): an error it
             * shows is what the command must print */
            const char *expect = NULL;
            if (*s == '$' && i + 1 < l.n && strncmp(l.v[i + 1], "$ ", 2) != 0 &&
                strncmp(l.v[i + 1], "```", 3) != 0 && strstr(l.v[i + 1], "error:"))
                expect = l.v[i + 1];
            cmds_in(o, where, logical, expect);
            continue;
        }
        for (char *p = strchr(l.v[i], '`'); p; p = strchr(p, '`')) {
            char *e = strchr(p + 1, '`');
            if (!e)
                break;
            snprintf(logical, sizeof logical, "%.*s", (int)(e - p - 1), p + 1);
            cmds_in(o, where, logical, NULL);
            p = e + 1;
        }
    }
    free(l.v);
}

/* The comment of a YAML line (after a '#' outside quotes that starts the
 * line or follows a blank), or NULL. */
static char *yaml_comment(char *line)
{
    char q = 0;
    for (char *p = line; *p; p++) {
        if (q) {
            if (*p == q)
                q = 0;
        } else if (*p == '\'' || *p == '"') {
            q = *p;
        } else if (*p == '#' && (p == line || isspace((unsigned char)p[-1]))) {
            return p + 1;
        }
    }
    return NULL;
}

static void scan_yaml(doc_cmds *o, const char *name, char *text)
{
    lines l = split(text);
    for (int i = 0; i < l.n; i++) {
        char *c = yaml_comment(l.v[i]);
        if (!c)
            continue;
        char where[160], logical[4096];
        snprintf(where, sizeof where, "%s:%d", name, i + 1);
        snprintf(logical, sizeof logical, "%s", c);
        while (continues(logical) && i + 1 < l.n) {
            char *next = yaml_comment(l.v[i + 1]);
            if (!next)
                break;
            i++;
            size_t n = strlen(logical);
            snprintf(logical + n, sizeof logical - n, " %s", next);
        }
        cmds_in(o, where, logical, NULL);
    }
    free(l.v);
}

/* Shell words of a command; quotes removed. Truncated at a word holding
 * "..." (the rest is elided). Returns the number of words. */
static int words(const char *t, char w[][512], int max)
{
    int n = 0;
    const char *p = t;
    while (*p && n < max) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        size_t k = 0;
        int dots = 0;
        while (*p && !isspace((unsigned char)*p)) {
            if (*p == '\'' || *p == '"') {
                char q = *p++;
                while (*p && *p != q) {
                    if (k < 511)
                        w[n][k++] = *p;
                    p++;
                }
                if (*p)
                    p++;
            } else {
                if (*p == '\\' && p[1])
                    p++;
                if (strncmp(p, "...", 3) == 0)
                    dots = 1;
                if (k < 511)
                    w[n][k++] = *p;
                p++;
            }
        }
        w[n][k] = '\0';
        if (dots)
            break;
        n++;
    }
    return n;
}

/* A placeholder the reader replaces: DB, FILE, NAME, KEY=VALUE, FIG.pdf,
 * or usage syntax ([models|gpus]). (A --plugin file the reader builds
 * first counts as one too: check_cmd_expect.) */
static int placeholder(const char *w)
{
    if (w[0] == '[')
        return 1;
    size_t n = 0;
    while (isupper((unsigned char)w[n]) || w[n] == '_')
        n++;
    return n >= 2 && (!w[n] || strchr(".=/|{", w[n]));
}

static void quote(char *dst, size_t len, const char *w)
{
    size_t n = (size_t)snprintf(dst, len, "'");
    for (; *w && n + 5 < len; w++)
        n += (size_t)(*w == '\'' ? snprintf(dst + n, len - n, "'\\''")
                                 : snprintf(dst + n, len - n, "%c", *w));
    snprintf(dst + n, len - n, "'");
}

/* ---- checking a command --------------------------------------------------- */

static int skipped_trace;

/* Run memfab with words w[0..n) (w[0] replaced by sub when given) plus
 * extra; exit status, output in out. */
static int run_words(char w[][512], int n, const char *sub, const char *extra)
{
    char cmd[8192];
    size_t k = (size_t)snprintf(cmd, sizeof cmd, "'%s'", bin);
    for (int i = 0; i < n; i++) {
        char q[1100];
        quote(q, sizeof q, i == 0 && sub ? sub : w[i]);
        k += (size_t)snprintf(cmd + k, sizeof cmd - k, " %s", q);
    }
    if (extra)
        snprintf(cmd + k, sizeof cmd - k, " %s", extra);
    return sh("%s </dev/null", cmd);
}

static int is_subcommand(const char *name)
{
    static char help[8192];
    if (!help[0]) {
        ck_assert_int_eq(sh("'%s' --help", bin), 0);
        snprintf(help, sizeof help, "%.8000s", out);
    }
    const char *c = strstr(help, "commands:");
    ck_assert_ptr_nonnull(c);
    size_t n = strlen(name);
    for (const char *p = c; (p = strstr(p, "\n  ")); p++)
        if (strncmp(p + 3, name, n) == 0 && p[3 + n] == ' ')
            return 1;
    return 0;
}

static int exists_in_src(const char *path)
{
    char full[1024];
    struct stat st;
    snprintf(full, sizeof full, "%s/%s", src, path);
    return stat(full, &st) == 0;
}

/* Check one command (that must fail printing `expect` when not NULL); 0
 * or a reason in why. */
static int check_cmd_expect(const char *text, const char *expect, char *why, size_t len);
static int check_cmd(const char *text, char *why, size_t len)
{
    return check_cmd_expect(text, NULL, why, len);
}

static int check_cmd_expect(const char *text, const char *expect, char *why, size_t len)
{
    static char w[64][512];
    int n = words(text, w, 64);
    if (n == 0) {
        snprintf(why, len, "no subcommand");
        return 1;
    }
    int rc, holes = 0, m = 1;
    for (int i = 1; i < n; i++) {
        holes |= placeholder(w[i]);
        /* a plug-in the reader builds first (README, "Policy plug-ins") */
        holes |= !strcmp(w[i - 1], "--plugin") && !exists_in_src(w[i]);
        if (w[i][0] != '[') /* usage syntax is no argument: drop it */
            memmove(w[m++], w[i], sizeof w[0]);
    }
    n = m;
    const char *file = NULL;
    for (int i = 1; i < n; i++)
        if (strlen(w[i]) > 5 && strcmp(w[i] + strlen(w[i]) - 5, ".yaml") == 0 &&
            strcmp(w[i - 1], "-o") != 0 && strcmp(w[i - 1], "--output") != 0) {
            file = w[i];
            break;
        }
    if (w[0][0] == '-') {
        rc = run_words(w, n, NULL, NULL); /* memfab --help, --version */
    } else if (!is_subcommand(w[0])) {
        snprintf(why, len, "'%s' is not a memfab subcommand", w[0]);
        return 1;
    } else if ((!strcmp(w[0], "models") || !strcmp(w[0], "presets")) && !holes) {
        rc = run_words(w, n, NULL, NULL);
    } else if ((!strcmp(w[0], "run") || !strcmp(w[0], "check")) && file && !holes &&
               exists_in_src(file)) {
        rc = run_words(w, n, "check", NULL);
        if (rc != 0 && strstr(out, "trace file") && strstr(out, "not found")) {
            skipped_trace++;
            rc = run_words(w, n, NULL, "--help");
        }
    } else if (!strcmp(w[0], "sweep") && file && !holes && exists_in_src(file)) {
        rc = run_words(w, n, NULL, "--list");
    } else {
        rc = run_words(w, n, NULL, "--help");
        if (rc == 0 && !strstr(out, "usage:")) {
            snprintf(why, len, "--help printed no usage");
            return 1;
        }
    }
    if (expect && *expect) {
        if (rc == 0 || !strstr(out, expect)) {
            size_t l = strcspn(out, "\n");
            snprintf(why, len, "the README shows it failing with \"%.200s\"; it printed"
                     " (exit %d): %.*s", expect, rc, (int)(l > 200 ? 200 : l), out);
            return 1;
        }
        return 0;
    }
    if (rc != 0) {
        size_t l = strcspn(out, "\n");
        snprintf(why, len, "exit %d: %.*s", rc, (int)(l > 300 ? 300 : l), out);
        return 1;
    }
    return 0;
}

/* ---- the extraction, on known text ----------------------------------------- */

static doc_cmds found;

static void expect(const char *text, int yaml, const char *const *want)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", text);
    found.n = 0;
    if (yaml)
        scan_yaml(&found, "t.yaml", buf);
    else
        scan_markdown(&found, "t.md", buf);
    int n = 0;
    while (want[n])
        n++;
    ck_assert_msg(found.n == n, "%s: %d commands, expected %d (first: %s)", text, found.n, n,
                  found.n ? found.v[0].text : "-");
    for (int i = 0; i < n; i++)
        ck_assert_str_eq(found.v[i].text, want[i]);
}

START_TEST(extraction)
{
    expect("```sh\nMEMFAB_TRACE_PATH=../shared/traces build/release/memfab sweep \\\n"
           "    scenarios/x-sweep.yaml -o rp.db\n```\n",
           0, (const char *const[]){"sweep scenarios/x-sweep.yaml -o rp.db", NULL});
    expect("```\n$ memfab check a.yaml --set router.policy=sglang\n"
           "make study      # = memfab study s.yaml -j 2 (trace on MEMFAB_TRACE_PATH)\n"
           "mpirun -n 8 build/debug/memfab study s.yaml   # one point per rank\n"
           "./memfab export a.db --format csv -o - | column -s, -t\n```\n",
           0, (const char *const[]){"check a.yaml --set router.policy=sglang",
                                    "study s.yaml -j 2", "study s.yaml",
                                    "export a.db --format csv -o -", NULL});
    /* a transcript's error line is kept */
    expect("```\n$ memfab check a.yaml --set x.y=1\n<command line>:1:1: error: no\n```\n", 0,
           (const char *const[]){"check a.yaml --set x.y=1", NULL});
    ck_assert_str_eq(found.v[0].expect, "<command line>:1:1: error: no");
    /* prose is not a command; inline code spans are */
    expect("memfab is a simulator; not part of memfab (Apache); memfab's roofline;\n"
           "memfab_plugin_init and memfab-trace; `memfab sweep FILE --list` lists.\n"
           "It prints `memfab baseline: r.db: run 2: scenario name is not UTF-8`.\n",
           0, (const char *const[]){"sweep FILE --list", NULL});
    /* scenario comments: labels, asides, continuation lines */
    expect("# One policy:   memfab run s.yaml --set router.policy=sglang\n"
           "# Results (memfab run u.yaml):\n"
           "#   memfab plot r.db --kind param --metric d/x \\\n"
           "#       --x kv.rate -o f.png\n"
           "name: x   # memfab check x.yaml\n"
           "title: \"measured with memfab on one cluster # not a comment\"\n",
           1, (const char *const[]){"run s.yaml --set router.policy=sglang", "run u.yaml",
                                    "plot r.db --kind param --metric d/x --x kv.rate -o f.png",
                                    "check x.yaml", NULL});
    char w[8][512];
    ck_assert_int_eq(words("run d.yaml --set l.bandwidth='16 GB/s' ... -j 2", w, 8), 4);
    ck_assert_str_eq(w[3], "l.bandwidth=16 GB/s");
    ck_assert(placeholder("DB") && placeholder("KEY=VALUE") && placeholder("FIG.pdf") &&
              placeholder("[TYPE"));
    ck_assert(!placeholder("scenarios/a.yaml") && !placeholder("A") && !placeholder("-o"));
}
END_TEST

/* The validation fails on what is stale. */
START_TEST(stale_commands_fail)
{
    static const char *const stale[] = {
        "frobnicate scenarios/default.yaml",                      /* no such subcommand */
        "plot x.db --kind ttft-cdf -o a.png",                     /* a kind that never was */
        "plot x.db --kind cdf --bogus -o a.png",                  /* an unknown option */
        "run scenarios/default.yaml --set links.pcie_h2d.bandwith=1", /* a misspelt key */
        "run scenarios/default.yaml --seeds 3",                   /* an option of another */
        "sweep scenarios/kv-pool-sweep.yaml --jobs",              /* a value missing */
        "trace frob conv.trace",                                  /* an unknown trace action */
        "models routr",                                           /* no such section */
        "presets gpu",                                            /* no such table */
    };
    char why[512];
    for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++)
        ck_assert_msg(check_cmd(stale[i], why, sizeof why) != 0, "accepted: memfab %s",
                      stale[i]);
    /* a transcript showing an error that the command does not print */
    ck_assert(check_cmd_expect("check scenarios/default.yaml", "error: unknown key", why,
                               sizeof why) != 0);
    ck_assert(check_cmd_expect("check scenarios/default.yaml --set links.pcie_h2d.bandwith=1",
                               "error: unknown key 'bandwith'", why, sizeof why) == 0);
    ck_assert_int_eq(check_cmd("plot x.db --kind cdf --logx -o a.pdf", why, sizeof why), 0);
    ck_assert_msg(check_cmd("run scenarios/default.yaml -o d.db --seed 7 -q", why,
                            sizeof why) == 0, "%s", why);
}
END_TEST

/* ---- the real documents ---------------------------------------------------- */

START_TEST(documented_commands_exist)
{
    char path[1024];
    static doc_cmds all;
    all.n = 0;
    snprintf(path, sizeof path, "%s/README.md", src);
    char *t = slurp(path);
    ck_assert_msg(t, "%s not readable", path);
    scan_markdown(&all, "README.md", t);
    free(t);
    int readme = all.n;
    static const char *const dirs[] = {"scenarios", "scenarios/study"};
    int nyaml = 0;
    for (size_t d = 0; d < 2; d++) {
        snprintf(path, sizeof path, "%s/%s", src, dirs[d]);
        struct dirent **ents;
        int ne = scandir(path, &ents, NULL, alphasort);
        ck_assert_int_ge(ne, 0);
        for (int i = 0; i < ne; i++) {
            const char *nm = ents[i]->d_name;
            size_t l = strlen(nm);
            if (l > 5 && strcmp(nm + l - 5, ".yaml") == 0) {
                char rel[600], full[1200];
                snprintf(rel, sizeof rel, "%s/%s", dirs[d], nm);
                snprintf(full, sizeof full, "%s/%s", src, rel);
                if ((t = slurp(full))) {
                    scan_yaml(&all, rel, t);
                    free(t);
                    nyaml++;
                }
            }
            free(ents[i]);
        }
        free(ents);
    }
    /* the extraction found what it must: README commands, scenario ones */
    ck_assert_int_ge(readme, 40);
    ck_assert_int_ge(all.n - readme, 30);
    ck_assert_int_ge(nyaml, 30);
    static char failures[1 << 15];
    size_t fl = 0;
    int bad = 0;
    skipped_trace = 0;
    for (int i = 0; i < all.n; i++) {
        char why[512];
        if (check_cmd_expect(all.v[i].text, all.v[i].expect, why, sizeof why)) {
            bad++;
            fl += (size_t)snprintf(failures + fl, fl < sizeof failures ? sizeof failures - fl : 0,
                                   "\n  %s: memfab %s\n      %s", all.v[i].where,
                                   all.v[i].text, why);
        }
    }
    if (skipped_trace)
        printf("check_discover: %d documented run/check commands checked for their options"
               " only, not their scenario: skipped (trace not found; make test finds"
               " traces through MEMFAB_TRACE_PATH)\n", skipped_trace);
    ck_assert_msg(bad == 0, "%d of %d documented commands do not exist as written:%s", bad,
                  all.n, failures);
}
END_TEST

/* ---- memfab models ------------------------------------------------------------ */

/* Does out have a row starting (after blanks) with name and showing unit? */
static int row_has(const char *name, const char *unit)
{
    size_t n = strlen(name);
    for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        const char *s = p;
        while (*s == ' ')
            s++;
        if (strncmp(s, name, n) != 0 || s[n] != ' ')
            continue;
        if (!unit)
            return 1;
        char pat[80];
        snprintf(pat, sizeof pat, " %s ", unit);
        const char *e = strchr(s, '\n');
        const char *u = strstr(s, pat);
        if (u && (!e || u < e))
            return 1;
    }
    return 0;
}

static const char *expected_unit(const sim_param *p)
{
    const char *u = sim_param_unit(p);
    return u[0] ? u : "-";
}

/* Every key of a schema (nested) is listed, with its unit when it has one. */
static void walk_schema(const sim_schema *sc, const char *prefix, int depth)
{
    ck_assert_int_lt(depth, 8);
    for (; sc; sc = sc->base) {
        for (const sim_skey *k = sc->keys; k && k->name; k++) {
            char name[256];
            snprintf(name, sizeof name, "%s%s", prefix, k->name);
            ck_assert_msg(row_has(name, NULL), "memfab models does not list %s", name);
            if (k->unit && k->unit[0])
                ck_assert_msg(row_has(name, k->unit), "%s: unit %s not shown", name, k->unit);
            if ((!k->unit || !k->unit[0]) && k->type && (!strcmp(k->type, "time") || !strcmp(k->type, "size") ||
                            !strcmp(k->type, "rate")))
                ck_assert_msg(row_has(name, !strcmp(k->type, "time")   ? "s"
                                            : !strcmp(k->type, "size") ? "B"
                                                                       : "B/s"),
                              "%s: no unit for a %s", name, k->type);
            if (k->sub && k->kind != SIM_S_VALUE && k->kind != SIM_S_OPEN) {
                char sub[300];
                snprintf(sub, sizeof sub, "%s%s%s.", prefix, k->name,
                         k->kind == SIM_S_LIST ? "[]" : "");
                walk_schema(k->sub, sub, depth + 1);
            }
        }
        const sim_param *tabs[2] = {sc->params, sc->model ? sc->model->params : NULL};
        for (int t = 0; t < 2; t++)
            for (const sim_param *p = tabs[t]; p && p->name; p++) {
                char name[256];
                snprintf(name, sizeof name, "%s%s", prefix, p->name);
                ck_assert_msg(row_has(name, expected_unit(p)), "%s: not listed with unit %s",
                              name, expected_unit(p));
            }
    }
}

START_TEST(models_lists_sections_with_units)
{
    static const char *const sections[] = {"workload", "kv", "router", "fabric"};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(sh("'%s' models %s", bin, sections[i]), 0);
        const sim_skey *k = sim_schema_key(&memfab_scenario_schema, sections[i]);
        ck_assert_ptr_nonnull(k);
        walk_schema(k->sub, "", 0);
    }
    /* the fabric section lists the fabric engine's keys, not a pointer to them */
    ck_assert_int_eq(sh("'%s' models fabric", bin), 0);
    ck_assert(row_has("chunk", "B") && row_has("rto", "s"));
    /* policy parameters, with a unit column, under their section */
    ck_assert_int_eq(sh("'%s' models router", bin), 0);
    for (size_t i = 0; kv_router_policies[i]; i++)
        for (const sim_param *p = kv_router_params(kv_router_policies[i]->name); p && p->name;
             p++)
            ck_assert_msg(row_has(p->name, expected_unit(p)), "router %s", p->name);
    ck_assert_int_eq(sh("'%s' models kv", bin), 0);
    for (size_t i = 0; kv_evict_policies[i]; i++)
        for (const sim_param *p = kv_evict_params(kv_evict_policies[i]->name); p && p->name;
             p++)
            ck_assert_msg(row_has(p->name, expected_unit(p)), "kv %s", p->name);
}
END_TEST

START_TEST(models_lists_component_units)
{
    ck_assert_int_eq(sh("'%s' models", bin), 0);
    ck_assert_ptr_nonnull(strstr(out, "KEY"));
    ck_assert_ptr_nonnull(strstr(out, "UNIT"));
    for (size_t i = 0; memfab_models[i]; i++) {
        ck_assert_int_eq(sh("'%s' models %s", bin, memfab_models[i]->type), 0);
        for (const sim_param *p = memfab_models[i]->params; p && p->name; p++) {
            /* every dimensioned quantity shows the unit it is measured in */
            if (p->type == SIM_P_TIME || p->type == SIM_P_SIZE || p->type == SIM_P_RATE ||
                p->type == SIM_P_POWER || p->type == SIM_P_ENERGY_BIT)
                ck_assert_str_ne(sim_param_unit(p), "");
            ck_assert_msg(row_has(p->name, expected_unit(p)), "%s.%s: not listed with unit %s",
                          memfab_models[i]->type, p->name, expected_unit(p));
        }
    }
    ck_assert_str_eq(sim_param_unit(&(sim_param){"x", SIM_P_TIME, "1 ns", "ps", "", 0, NULL}),
                     "s");
}
END_TEST

/* ---- memfab presets ------------------------------------------------------------ */

START_TEST(presets_every_table)
{
    /* every model and GPU preset has a source */
    for (const llm_model *m = llm_models; m->name; m++)
        ck_assert_msg(presets_model_source(m->name), "model preset %s has no source", m->name);
    for (const llm_gpu *g = llm_gpus; g->name; g++)
        ck_assert_msg(presets_gpu_source(g->name), "GPU preset %s has no source", g->name);
    ck_assert_int_eq(sh("'%s' presets", bin), 0);
    ck_assert_ptr_null(strstr(out, "(no source given)"));
    for (const llm_model *m = llm_models; m->name; m++)
        ck_assert_msg(row_has(m->name, NULL), "presets: no row for %s", m->name);
    for (const llm_gpu *g = llm_gpus; g->name; g++)
        ck_assert_msg(row_has(g->name, NULL), "presets: no row for %s", g->name);
    /* llama3-8b: 2 x 32 layers x 8 KV heads x 128 x 2 B = 131072 B = 128 KiB per
     * token; 8.03e9 x 2 B = 16.1 GB of weights. DeepSeek-V3 (MLA): (512 + 64) x
     * 61 x 2 B = 70272 B = 68.6 KiB. */
    ck_assert_ptr_nonnull(strstr(out, "8.030     8.030       2      2      128.0      16.1"));
    ck_assert_ptr_nonnull(strstr(out, "512+64"));
    ck_assert_ptr_nonnull(strstr(out, "68.6"));
    /* H100: 80 GB, 3.35 TB/s, 989 TFLOP/s, 450 GB/s per direction, 105 W idle, 700 W */
    ck_assert_ptr_nonnull(strstr(out, "h100           80     3.350       989        450"));
    /* the step-time files, compiled in, equal the files of the tree */
    int nfiles = 0;
    for (size_t i = 0; memfab_step_presets[i]; i += 2, nfiles++) {
        char full[1024];
        snprintf(full, sizeof full, "%s/%s", src, memfab_step_presets[i]);
        char *t = slurp(full);
        ck_assert_msg(t, "%s is compiled in but not in the tree", memfab_step_presets[i]);
        ck_assert_msg(strcmp(t, memfab_step_presets[i + 1]) == 0, "%s changed: rebuild",
                      memfab_step_presets[i]);
        free(t);
        const char *base = strrchr(memfab_step_presets[i], '/') + 1;
        ck_assert_msg(row_has(base, NULL), "presets: no row for %s", base);
    }
    ck_assert_int_ge(nfiles, 5);
    /* the step tables: their leading comment lines, compiled in, are the
     * files' own, and each is listed with them */
    int ntables = 0;
    for (size_t i = 0; memfab_step_tables[i]; i += 2, ntables++) {
        char full[1024];
        snprintf(full, sizeof full, "%s/%s", src, memfab_step_tables[i]);
        char *t = slurp(full);
        ck_assert_msg(t, "%s is compiled in but not in the tree", memfab_step_tables[i]);
        size_t n = strlen(memfab_step_tables[i + 1]);
        ck_assert_msg(n > 0 && strncmp(t, memfab_step_tables[i + 1], n) == 0 && t[n] != '#',
                      "%s changed: rebuild", memfab_step_tables[i]);
        free(t);
        char name[256];
        snprintf(name, sizeof name, "    %s:\n", strrchr(memfab_step_tables[i], '/') + 1);
        ck_assert_msg(strstr(out, name), "presets: no entry for %s", name);
    }
    ck_assert_int_ge(ntables, 2);
    ck_assert_ptr_nonnull(strstr(out, "measured by SplitwiseSim"));
    ck_assert_ptr_nonnull(strstr(out, "llama3-8b-h100-tp1.yaml      5752.71 us    17.2509 us"));
    ck_assert_ptr_nonnull(strstr(out, "Source: BLIS (inference-sim/inference-sim)"));
    /* links: PCIe Gen4 16 GT/s x 128/130 x 16 / 8 = 31.51 GB/s per direction;
     * NVLink 4: 2 pairs x 100 Gb/s = 25 GB/s per link; CXL 68 B flit 64/68 */
    ck_assert_ptr_nonnull(strstr(out, "    4        16.0    0.9846       31.51"));
    ck_assert_ptr_nonnull(strstr(out, "    4          2        100         25.0"));
    ck_assert_ptr_nonnull(strstr(out, "68B             68        64      0.9412"));
    ck_assert_int_eq(sh("'%s' presets gpus step-time", bin), 0);
    ck_assert_ptr_null(strstr(out, "Model presets"));
    ck_assert_ptr_nonnull(strstr(out, "GPU presets"));
    ck_assert_int_eq(sh("'%s' presets gpu", bin), 2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("discover");
    TCase *c = tcase_create("Core");
    tcase_add_checked_fixture(c, setup, NULL);
    tcase_set_timeout(c, 300);
    tcase_add_test(c, extraction);
    tcase_add_test(c, documented_commands_exist);
    tcase_add_test(c, models_lists_sections_with_units);
    tcase_add_test(c, models_lists_component_units);
    tcase_add_test(c, presets_every_table);
    suite_add_tcase(s, c);
    TCase *e = tcase_create("Errors");
    tcase_add_checked_fixture(e, setup, NULL);
    tcase_set_timeout(e, 120);
    tcase_add_test(e, stale_commands_fail);
    suite_add_tcase(s, e);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
