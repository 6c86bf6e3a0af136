/*
 * fluid.c - fluid transfers (fluid.h): the alone time of a flow by the
 * chunk recurrence (with its periodic middle skipped), max-min fair rates
 * by progressive filling, and the one timer that drains flows.
 *
 * NOTES ON THE DESIGN
 * A fluid flow's state is its work W (ps left at its bottleneck at speed
 * 1) and its speed v (0 < v <= 1). Between two changes of the set of
 * draining flows every v is constant, so W falls linearly; `advance`
 * brings every W to the current time, `fab_fluid_rates` sets every rate and
 * speed anew, `arm` schedules the timer at the earliest drain. A flow is
 * drained when less than half a picosecond of its work is left at its
 * speed. Invariants: a flow is in F->head iff fl_state == 1, and then each
 * of its steps with a cost is in its resource's fluid list; r->nfluid is
 * that list's length.
 */
#include "models/fabric/fluid.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "sim/mem.h"

#define SPEED_ONE 1e-9    /* a speed within this of 1 is 1 (alone: exact times) */
#define SATURATED 1e-9    /* a resource loaded within this of 1 is saturated */
#define RING_MAX (1u << 20) /* most chunks of a window the recurrence keeps */

/* ---- the memo of times alone (fluid.h, "Memo") ---------------------------- */

#define MEMO_STEPS 8      /* longer paths are not memoized */
#define MEMO_SLOTS 4096   /* 2048 pairs of slots (two ways) */

/* What alone() reads of a step (zeroed before it is filled: compared by
 * memcmp, padding included). */
typedef struct memo_step {
    const fab_proto *proto;
    const void *cfg;      /* constant during a run (set up by the link) */
    double rate;
    sim_time lat, per_unit, per_msg;
    uint64_t unit, ctl_bytes, unit_payload;
    int32_t op, dir, ctl, pad;
} memo_step;

typedef struct memo_key {
    uint64_t bytes, chunk;
    uint32_t window, nsteps;
    memo_step st[MEMO_STEPS];
} memo_key;

typedef struct memo_ent {
    memo_key key;         /* key.nsteps 0: empty slot */
    uint64_t used;        /* memo clock of its last use */
    sim_time t;           /* T_alone - t0 */
    sim_time svc[MEMO_STEPS];
    uint64_t units[MEMO_STEPS];
    double wire[MEMO_STEPS];
} memo_ent;

struct fab_fluid_memo {
    memo_ent *slot[MEMO_SLOTS]; /* pairs of ways, allocated on first use */
    uint64_t clock;       /* lookups and stores so far */
};

/* Bytes of k that count: the header and its steps. */
static size_t memo_len(const memo_key *k)
{
    return offsetof(memo_key, st) + k->nsteps * sizeof k->st[0];
}

/* fl's key (its first memo_len bytes are set), or 1 when its path is too
 * long to memoize. */
static int memo_key_of(const fab_flow *fl, memo_key *k)
{
    if (fl->nsteps > MEMO_STEPS)
        return 1;
    memset(k, 0, offsetof(memo_key, st) + fl->nsteps * sizeof k->st[0]);
    k->bytes = fl->bytes;
    k->chunk = fl->chunk;
    k->window = fl->window;
    k->nsteps = fl->nsteps;
    for (uint32_t i = 0; i < fl->nsteps; i++) {
        const fab_fstep *st = &fl->st[i];
        memo_step *m = &k->st[i];
        m->proto = st->proto;
        m->cfg = st->cfg;
        m->rate = st->rate;
        m->lat = st->lat;
        m->per_unit = st->per_unit;
        m->per_msg = st->per_msg;
        m->unit = st->unit;
        m->ctl_bytes = st->ctl_bytes;
        m->unit_payload = st->unit_payload;
        m->op = st->op;
        m->dir = st->dir;
        m->ctl = st->ctl;
    }
    return 0;
}

static size_t memo_slot(const memo_key *k)
{
    const unsigned char *p = (const unsigned char *)k;
    size_t n = memo_len(k);
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    return (size_t)(h % MEMO_SLOTS);
}

void fab_fluid_free(fab_fluid *F)
{
    if (F->memo)
        for (size_t i = 0; i < MEMO_SLOTS; i++)
            sim_free(F->memo->slot[i]);
    sim_free(F->memo);
    sim_free(F->res);
    sim_free(F->ends);
    F->memo = NULL;
    F->res = NULL;
    F->ends = NULL;
    F->capres = F->capends = F->nres = 0;
}

/* ---- the time alone ------------------------------------------------------ */

/* Is fl's path plain (fluid.h)? */
static int plain(const fab_flow *fl)
{
    for (uint32_t k = 0; k < fl->nsteps; k++) {
        const fab_res *r = fl->st[k].res;
        if (r->servers > 1 || r->fc || r->buf || r->pause || r->lone ||
            fl->st[k].spread > 0)
            return 0;
        for (uint32_t j = 0; j < k; j++)
            if (fl->st[j].res == r)
                return 0;
    }
    return 1;
}

/* The END of fl's last chunk if it ran alone from now, by the recurrence
 * serve() evaluates (engine.c; as lone_start), and each step's totals
 * (fl_svc, fl_units, fl_wire). Middle chunks that repeat one period are
 * skipped (fluid.h). 0, or SIM_ENOMEM. */
static int alone(fab_fluid *F, fab_flow *fl, sim_time now, sim_time *end_out)
{
    uint32_t K = fl->nsteps;
    uint64_t C = (fl->bytes + fl->chunk - 1) / fl->chunk;
    uint64_t w = fl->window < C ? fl->window : C;
    if (w > RING_MAX)
        return SIM_ENOMEM;
    if (F->capends < 2 * w) {
        sim_time *e = sim_realloc(F->ends, 2 * w * sizeof *e);
        if (!e)
            return SIM_ENOMEM;
        F->ends = e;
        F->capends = 2 * w;
    }
    sim_time free_at[FAB_MAX_STEPS], cur_s[FAB_MAX_STEPS], prev_s[FAB_MAX_STEPS];
    sim_time cur_svc[FAB_MAX_STEPS], prev_svc[FAB_MAX_STEPS];
    uint64_t cur_units[FAB_MAX_STEPS];
    double cur_wire[FAB_MAX_STEPS];
    uint32_t crossed[FAB_MAX_STEPS], ncross = 0, pcross = 0;
    for (uint32_t k = 0; k < K; k++) {
        free_at[k] = cur_s[k] = prev_s[k] = cur_svc[k] = prev_svc[k] = 0;
        fl->st[k].fl_svc = 0;
        fl->st[k].fl_units = 0;
        fl->st[k].fl_wire = 0;
    }
    int skippable = fl->chunk % 4096 == 0;
    sim_time prev_end = now, period = 0, end = now;
    uint64_t streak = 0;
    for (uint64_t c = 0; c < C; c++) {
        uint64_t off = c * fl->chunk, b = fl->bytes - off < fl->chunk ? fl->bytes - off : fl->chunk;
        sim_time launch = c < w ? now : F->ends[c % w]; /* the END of chunk c - window */
        uint32_t k = fab_flow_next_step(fl, off, b, 0);
        sim_time a = launch, svc = 0;
        uint64_t units = 0;
        double wire = 0;
        int priced = 0;
        end = launch;
        pcross = ncross;
        ncross = 0;
        while (k < K) {
            fab_fstep *st = &fl->st[k];
            if (!priced)
                svc = fab_step_service_at(st, off, b, &units, &wire);
            sim_time s0 = a > free_at[k] ? a : free_at[k];
            free_at[k] = s0 + svc;
            st->fl_svc += svc;
            st->fl_units += units;
            st->fl_wire += wire;
            prev_s[k] = cur_s[k];
            prev_svc[k] = cur_svc[k];
            cur_s[k] = s0;
            cur_svc[k] = svc;
            cur_units[k] = units;
            cur_wire[k] = wire;
            crossed[ncross++] = k;
            uint32_t k2 = fab_flow_next_step(fl, off, b, k + 1);
            if (k2 >= K) {
                end = s0 + svc + st->lat;
                break;
            }
            /* as serve() */
            sim_time snext = fab_step_service_at(&fl->st[k2], off, b, &units, &wire);
            sim_time wait = fab_step_forward_wait(st, svc, snext, b);
            a = s0 + st->lat + wait;
            svc = snext;
            priced = 1;
            k = k2;
        }
        F->ends[c % w] = end;
        /* a middle chunk after a middle chunk, moved by one period everywhere? */
        int same = skippable && c >= 2 && c + 1 < C && b == fl->chunk && ncross == pcross;
        sim_time d = end - prev_end;
        for (uint32_t i = 0; same && i < ncross; i++) {
            uint32_t j = crossed[i];
            same = cur_s[j] - prev_s[j] == d && cur_svc[j] == prev_svc[j];
        }
        streak = same ? (streak && d == period ? streak + 1 : 1) : 0;
        period = d;
        prev_end = end;
        /* w such chunks: every later middle chunk is this one shifted by
         * whole periods (its inputs - the END w chunks back, the previous
         * chunk's service ends - are), so jump to the last middle chunk */
        if (streak >= w && c + 2 < C) {
            uint64_t n = C - 2 - c;
            sim_time sh = (sim_time)n * period;
            for (uint32_t i = 0; i < ncross; i++) {
                uint32_t j = crossed[i];
                fab_fstep *st = &fl->st[j];
                free_at[j] += sh;
                cur_s[j] += sh;
                st->fl_svc += (sim_time)n * cur_svc[j];
                st->fl_units += n * cur_units[j];
                st->fl_wire += (double)n * cur_wire[j];
            }
            sim_time *tmp = F->ends + w;
            memcpy(tmp, F->ends, w * sizeof *tmp);
            for (uint64_t i = 0; i < w; i++) { /* chunk j = c - i moves to j + n */
                uint64_t j = c - i;
                F->ends[(j + n) % w] = tmp[j % w] + sh;
            }
            end += sh;
            prev_end = end;
            streak = 0;
            c += n;
        }
    }
    *end_out = end;
    return 0;
}

int fab_fluid_alone(fab_fluid *F, fab_flow *fl, sim_time now, sim_time *end)
{
    memo_key key;
    memo_ent *e = NULL;
    int memo = !memo_key_of(fl, &key);
    if (memo && !F->memo)
        F->memo = sim_calloc(1, sizeof *F->memo); /* NULL: no memo, no harm */
    if (memo && F->memo) {
        /* two ways: the key's pair of slots; a miss replaces the one used
         * least recently (the hash mixes pointers, so which keys share a
         * pair changes with the address layout; two ways keep the hits
         * near the distinct keys' bound whatever the layout) */
        memo_ent **sl = &F->memo->slot[memo_slot(&key) & ~(size_t)1];
        size_t n = memo_len(&key);
        for (int w = 0; w < 2 && !e; w++)
            if (sl[w] && memcmp(&sl[w]->key, &key, n) == 0)
                e = sl[w];
        if (e) {
            F->memo_hits++;
            e->used = ++F->memo->clock;
            *end = now + e->t;
            for (uint32_t k = 0; k < fl->nsteps; k++) {
                fl->st[k].fl_svc = e->svc[k];
                fl->st[k].fl_units = e->units[k];
                fl->st[k].fl_wire = e->wire[k];
            }
            return 0;
        }
        int w = !sl[0] ? 0 : !sl[1] ? 1 : sl[1]->used < sl[0]->used;
        if (!sl[w])
            sl[w] = sim_calloc(1, sizeof *sl[w]);
        e = sl[w];
    }
    int rc = alone(F, fl, now, end);
    if (rc || !e)
        return rc;
    memcpy(&e->key, &key, memo_len(&key));
    e->used = ++F->memo->clock;
    e->t = *end - now;
    for (uint32_t k = 0; k < fl->nsteps; k++) {
        e->svc[k] = fl->st[k].fl_svc;
        e->units[k] = fl->st[k].fl_units;
        e->wire[k] = fl->st[k].fl_wire;
    }
    return 0;
}

/* ---- rates ----------------------------------------------------------------- */

/* Bring every draining flow's work to now. */
static void advance(fab_fluid *F, sim_time now)
{
    if (now <= F->last)
        return;
    sim_time dt = now - F->last;
    for (fab_flow *f = F->head; f; f = f->fl_next)
        f->fl_work -= f->fl_speed == 1.0 ? (double)dt : (double)dt * f->fl_speed;
    F->last = now;
}

static int touch(fab_fluid *F, fab_res *r)
{
    if (r->pf_epoch == F->epoch)
        return 0;
    if (F->nres == F->capres) {
        size_t cap = F->capres ? 2 * F->capres : 16;
        fab_res **nr = sim_realloc(F->res, cap * sizeof *nr);
        if (!nr)
            return SIM_ENOMEM;
        F->res = nr;
        F->capres = cap;
    }
    F->res[F->nres++] = r;
    r->pf_epoch = F->epoch;
    r->pf_load = r->nbusy ? 1.0 : 0.0; /* a chunk in service holds it whole (fluid.h) */
    r->pf_act = 0;
    r->pf_nact = 0;
    return 0;
}

static void freeze(fab_flow *f)
{
    f->fl_frozen = 1;
    for (uint32_t k = 0; k < f->nsteps; k++) {
        fab_fstep *st = &f->st[k];
        if (st->fl_cost <= 0)
            continue;
        fab_res *r = st->res;
        r->pf_act -= st->fl_cost;
        if (--r->pf_nact == 0)
            r->pf_act = 0;
    }
}

int fab_fluid_rates(fab_fluid *F)
{
    F->recomputes++;
    F->epoch++;
    F->nres = 0;
    uint32_t left = 0;
    for (fab_flow *f = F->head; f; f = f->fl_next) {
        f->fl_frozen = 0;
        f->fl_rate = 0;
        left++;
        for (uint32_t k = 0; k < f->nsteps; k++) {
            fab_fstep *st = &f->st[k];
            if (st->fl_cost <= 0)
                continue;
            if (touch(F, st->res))
                return SIM_ENOMEM;
            st->res->pf_act += st->fl_cost;
            st->res->pf_nact++;
        }
    }
    while (left) {
        double d = INFINITY;
        for (size_t i = 0; i < F->nres; i++) {
            const fab_res *r = F->res[i];
            if (r->pf_nact) {
                double x = (1.0 - r->pf_load) / r->pf_act;
                if (x < d)
                    d = x;
            }
        }
        if (!(d < INFINITY))
            break; /* cannot happen: every draining flow has a cost somewhere */
        if (d < 0)
            d = 0;
        for (fab_flow *f = F->head; f; f = f->fl_next)
            if (!f->fl_frozen)
                f->fl_rate += d;
        for (size_t i = 0; i < F->nres; i++)
            if (F->res[i]->pf_nact)
                F->res[i]->pf_load += d * F->res[i]->pf_act;
        for (size_t i = 0; i < F->nres; i++) {
            fab_res *r = F->res[i];
            if (!r->pf_nact || r->pf_load < 1.0 - SATURATED)
                continue;
            for (fab_fstep *st = r->fluid; st; st = st->fl_rnext)
                if (!st->flow->fl_frozen) {
                    freeze(st->flow);
                    left--;
                }
        }
    }
    for (fab_flow *f = F->head; f; f = f->fl_next) {
        double v = f->fl_rate * (double)f->fl_total / (double)f->bytes;
        f->fl_speed = v > 1.0 - SPEED_ONE ? 1.0 : v;
    }
    return 0;
}

/* ps until f drains at its speed (0: drained; SIM_TIME_MAX: stopped, at
 * speed 0 behind a chunk, or farther than the clock reaches). */
static sim_time to_drain(const fab_flow *f)
{
    if (f->fl_work < 0.5)
        return 0;
    if (!(f->fl_speed > 0))
        return SIM_TIME_MAX;
    double r = f->fl_speed == 1.0 ? f->fl_work : f->fl_work / f->fl_speed;
    return r < 0.5 ? 0 : r >= 0x1p62 ? SIM_TIME_MAX : sim_round_ps(r);
}

/* Schedule the timer at the earliest drain (a pending one at another time
 * goes stale). */
static void arm(sim *s, fab_fluid *F)
{
    if (!F->head) {
        F->gen++; /* any pending timer is stale */
        F->pending = 0;
        return;
    }
    sim_time t = SIM_TIME_MAX;
    for (fab_flow *f = F->head; f; f = f->fl_next) {
        sim_time left = to_drain(f);
        if (left != SIM_TIME_MAX && F->last + left < t)
            t = F->last + left;
    }
    if (t == SIM_TIME_MAX) { /* every flow stopped behind a chunk: its DONE recomputes */
        F->gen++;
        F->pending = 0;
        return;
    }
    if (F->pending && F->timer == t)
        return;
    F->gen++;
    F->pending = 1;
    F->timer = t;
    sim_schedule_at(s, t, F->fab_id, FAB_EV_FLUID, 0, F->gen);
}

/* ---- flows ----------------------------------------------------------------- */

static void credit(fab_fstep *st, uint64_t total)
{
    if (!st->payload || total <= st->fl_credited)
        return;
    uint64_t b = total - st->fl_credited;
    fab_res *r = st->res;
    r->bytes += b;
    r->sample_bytes += b;
    if (st->op == FAB_OP_READ)
        r->read_bytes += b;
    st->fl_credited = total;
}

/* f's work is done: leave the resources (counters completed), END after
 * the tail. */
static void finish(sim *s, fab_flow *f);

static void drain(sim *s, fab_fluid *F, fab_flow *f)
{
    if (f->fl_prev)
        f->fl_prev->fl_next = f->fl_next;
    else
        F->head = f->fl_next;
    if (f->fl_next)
        f->fl_next->fl_prev = f->fl_prev;
    F->n--;
    for (uint32_t k = 0; k < f->nsteps; k++) {
        fab_fstep *st = &f->st[k];
        fab_res *r = st->res;
        if (st->fl_cost > 0) {
            if (st->fl_rprev)
                st->fl_rprev->fl_rnext = st->fl_rnext;
            else
                r->fluid = st->fl_rnext;
            if (st->fl_rnext)
                st->fl_rnext->fl_rprev = st->fl_rprev;
            st->fl_rnext = st->fl_rprev = NULL;
            r->nfluid--;
        }
    }
    finish(s, f);
}

/* Count f's totals at its resources and send its END after the tail. */
static void finish(sim *s, fab_flow *f)
{
    f->fl_state = 2;
    for (uint32_t k = 0; k < f->nsteps; k++) {
        fab_fstep *st = &f->st[k];
        fab_res *r = st->res;
        credit(st, f->bytes);
        r->units += st->fl_units;
        r->wire_bytes += st->fl_wire;
        r->busy_ps += st->fl_svc;
    }
    fab_chunk *tk = fab_pool_get(f->pool);
    if (!tk) {
        sim_fail(s, SIM_ENOMEM, "fabric: out of memory for a fluid flow's ticket");
        return;
    }
    tk->flow = f;
    tk->raw = NULL;
    tk->step = FAB_FLUID_TICKET;
    tk->bytes = f->bytes;
    tk->tag = 0;
    sim_schedule(s, f->fl_tail, f->fab_id, FAB_EV_END, 0, (uint64_t)(uintptr_t)tk);
}

void fab_fluid_link(fab_fluid *F, fab_flow *fl)
{
    fl->fl_state = 1;
    fl->fl_prev = NULL;
    fl->fl_next = F->head;
    if (F->head)
        F->head->fl_prev = fl;
    F->head = fl;
    F->n++;
    for (uint32_t k = 0; k < fl->nsteps; k++) {
        fab_fstep *st = &fl->st[k];
        if (st->fl_cost <= 0)
            continue;
        fab_res *r = st->res;
        st->fl_rprev = NULL;
        st->fl_rnext = r->fluid;
        if (r->fluid)
            r->fluid->fl_rprev = st;
        r->fluid = st;
        r->nfluid++;
    }
}

int fab_fluid_start(sim *s, fab_flow *fl)
{
    fab_fluid *F = fl->fluid;
    if (!fl->nsteps || !fl->chunk || !fl->window || !fl->bytes || !plain(fl)) {
        F->chunked++;
        return 0;
    }
    if (fl->bytes <= fl->chunk) { /* one chunk: served whole, as the chunk model does */
        F->single++;
        return 0;
    }
    sim_time now = sim_now(s), end;
    if (fab_fluid_alone(F, fl, now, &end)) {
        F->chunked++;
        return 0; /* no memory for the recurrence: as chunks */
    }
    F->flows++;
    sim_time S = 0;
    for (uint32_t k = 0; k < fl->nsteps; k++) {
        fab_fstep *st = &fl->st[k];
        if (st->fl_svc > S)
            S = st->fl_svc;
        st->fl_cost = (double)st->fl_svc / (double)fl->bytes;
        st->fl_credited = 0;
        st->fl_rnext = st->fl_rprev = NULL;
    }
    fl->launched = fl->bytes;
    fl->inflight = 1;
    fl->fl_total = S;
    fl->fl_tail = end - now - S; /* >= 0: the bottleneck serves the chunks one by one */
    fl->fl_work = (double)S;
    fl->fl_speed = 1.0;
    advance(F, now);
    if (S == 0) { /* free steps only: END at its time alone */
        finish(s, fl);
        return 1;
    }
    fab_fluid_link(F, fl);
    if (fab_fluid_rates(F)) {
        sim_fail(s, SIM_ENOMEM, "fabric: out of memory for fluid rates");
        return 1;
    }
    arm(s, F);
    return 1;
}

void fab_fluid_timer(sim *s, fab_fluid *F, uint64_t gen)
{
    if (!F->pending || gen != F->gen)
        return; /* stale: the rates changed after it was scheduled */
    F->pending = 0;
    advance(F, sim_now(s));
    int changed = 0;
    fab_flow *f = F->head;
    while (f) {
        fab_flow *nx = f->fl_next;
        if (to_drain(f) == 0) {
            drain(s, F, f);
            changed = 1;
        }
        f = nx;
    }
    if (changed && F->head && fab_fluid_rates(F)) {
        sim_fail(s, SIM_ENOMEM, "fabric: out of memory for fluid rates");
        return;
    }
    arm(s, F);
}

int fab_fluid_ticket(sim *s, fab_chunk *ch)
{
    (void)s;
    fab_flow *fl = ch->flow;
    fab_pool_put(ch);
    fl->fl_state = 0;
    fl->done = fl->bytes;
    fl->inflight = 0;
    return 1;
}

void fab_fluid_held(sim *s, fab_res *r)
{
    fab_fluid *F = r->fluid->flow->fluid;
    advance(F, sim_now(s));
    if (fab_fluid_rates(F)) {
        sim_fail(s, SIM_ENOMEM, "fabric: out of memory for fluid rates");
        return;
    }
    arm(s, F);
}

void fab_fluid_settle(sim *s, fab_res *r)
{
    if (!r->fluid)
        return;
    fab_fluid *F = r->fluid->flow->fluid;
    advance(F, sim_now(s));
    for (fab_fstep *st = r->fluid; st; st = st->fl_rnext) {
        const fab_flow *f = st->flow;
        double left = f->fl_work > 0 ? f->fl_work / (double)f->fl_total : 0.0;
        double moved = (1.0 - left) * (double)f->bytes;
        uint64_t b = moved <= 0 ? 0 : moved >= (double)f->bytes ? f->bytes : (uint64_t)moved;
        credit(st, b);
    }
}
