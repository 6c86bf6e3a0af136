/*
 * cpulimit.h - run a piece of a test in a forked child under a CPU-time
 * limit (RLIMIT_CPU), to catch a quadratic regression without timing
 * anything: the input is sized so that the linear code needs a small
 * fraction of the limit (even under sanitizers) and a quadratic one many
 * times it, and the kernel stops the child with SIGXCPU at the limit.
 * Header-only: each test program includes it once.
 */
#ifndef MEMFAB_TESTS_CPULIMIT_H
#define MEMFAB_TESTS_CPULIMIT_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Under valgrind (make valgrind) a forked child runs on the emulated CPU,
 * tens of times slower: there the limit would measure valgrind, so the
 * caller skips (valgrind preloads its vgpreload objects into the client). */
static int cpulimit_under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload") != NULL;
}

/* Run fn(arg) in a child limited to `seconds` of CPU time. Returns 0 when
 * fn returned 0, else writes why into msg ("over the CPU limit", fn's
 * status, a signal) and returns -1. */
static int cpulimit_run(int (*fn)(void *), void *arg, unsigned seconds, char *msg, size_t n)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(msg, n, "fork failed");
        return -1;
    }
    if (pid == 0) {
        struct rlimit rl = {seconds, seconds + 1};
        if (setrlimit(RLIMIT_CPU, &rl) != 0)
            _exit(125);
        _exit(fn(arg) == 0 ? 0 : 1);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid) {
        snprintf(msg, n, "waitpid failed");
        return -1;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (WIFSIGNALED(st) && (WTERMSIG(st) == SIGXCPU || WTERMSIG(st) == SIGKILL))
        snprintf(msg, n, "over the CPU limit of %u s: quadratic again?", seconds);
    else if (WIFSIGNALED(st))
        snprintf(msg, n, "killed by signal %d", WTERMSIG(st));
    else
        snprintf(msg, n, "failed (status %d)", WEXITSTATUS(st));
    return -1;
}

#endif
