/*
 * fluid.h - fluid (flow-level) transfers in the fabric engine: a bulk
 * transfer is one flow of bytes that drains at a max-min fair rate, not a
 * train of chunk events (`flow_model: fluid` on the fabric component).
 *
 * What is modelled. A transfer's itinerary (engine.h) is a list of steps,
 * each a resource (a link direction, a memory, a copy engine). Alone on its
 * path the transfer would take, chunk by chunk, exactly the time the lone
 * flow recurrence of the engine gives (engine.h, "Lone flows"): T_alone.
 * Its step k would be busy for S_k ps in all (the sum of its chunks'
 * service times there: wire bytes over the raw rate on a link, so the
 * protocol's per-TLP or per-flit overhead enters as the bandwidth
 * efficiency payload / wire bytes, priced by the protocol through the
 * engine's fab_proto interface). Its bottleneck is the step of the largest
 * S_k = S; the rest, D = T_alone - S >= 0, is what the pipeline adds to
 * the bottleneck's time: propagation, per-hop switch and memory latency,
 * the fill and drain of one chunk, the window's stalls.
 *
 * The fluid flow therefore carries S ps of work at its bottleneck and a
 * tail D. While it drains, it uses resource r at cost c_r = S_r / B ps
 * per payload byte (B: its bytes), so at payload rate x it takes the
 * fraction x c_r of r's time; the rates x of all draining flows are the
 * max-min fair allocation under sum_f x_f c_{f,r} <= 1 on every resource,
 * computed by progressive filling (Bertsekas & Gallager, Data Networks,
 * 2nd ed. 1992, section 6.5.2): raise every unfrozen flow's rate together
 * until a resource saturates, freeze the flows crossing it, repeat. This
 * is what the chunk engine's round-robin per chunk converges to for flows
 * of equal chunk size: equal payload per round at a contended resource,
 * the rest left to the flows it does not bottleneck. A flow at rate x
 * drains its work at speed x c_max = x S / B (1 when nothing slows it);
 * when its work is gone it leaves the resources and its END comes D later.
 * Rates are recomputed only when the set of draining flows changes (a
 * flow starts or drains); between changes every rate is constant.
 *
 * Exactness. A flow that stays alone drains at speed exactly 1 (the speed
 * is snapped to 1 when it is within 1e-9 of it), so its END is at
 * t0 + S + D = T_alone to the picosecond: the chunk engine's time. Link
 * payload bytes are exact (each resource is credited the flow's bytes,
 * progressively for samples and reports, the remainder when it drains);
 * units, wire bytes and busy time are the chunk sums S_k, credited when it
 * drains. T_alone is computed by the recurrence over the chunks; when the
 * chunk is a multiple of 4 KiB (fabric.c keeps every protocol boundary
 * aligned then) and w consecutive middle chunks (w: the window) have moved
 * by one constant period at every step, the remaining middle chunks are
 * the same schedule shifted by that period and are skipped arithmetically.
 *
 * Assumptions and limits. A fluid flow's resources must be plain (one
 * server, no credits, no finite buffer, no PFC, no random service spread
 * (latency_spread), each resource once);
 * otherwise the transfer runs as chunks. A transfer that fits in one chunk
 * runs as that chunk: it is served whole, as in the chunk model, not
 * shared. Chunks and raw packets (transfers whose path is not plain,
 * single-chunk transfers, link messages) have priority over fluid flows
 * at a resource they share: a chunk in service holds the resource whole
 * and the fluid flows crossing it stop draining (their rate there is 0,
 * the others' max-min shares are recomputed) until it is done, so the
 * resource's time is conserved and a short message waits for no bulk
 * transfer, as a TLP or flit would wait at most for the one on the wire.
 * Chunks do not wait for fluid flows; a chunk queued behind other chunks
 * waits as in the chunk model.
 * The tail D is paid after the drain instead of partly before it, so a
 * contended flow's fill overlaps other flows' service less than chunks
 * would. Flows of unlike chunk sizes share by bytes, where chunk
 * round-robin shares by chunks.
 *
 * Events: one FAB_EV_FLUID timer per fabric, at the next drain (stale
 * timers are recognised by their generation: the event set has no
 * cancel), and one FAB_EV_END per flow (its ticket). Nothing is allocated
 * per event: flows link through their own fields, resources keep their
 * fluid steps in a list through the steps, scratch arrays only grow.
 *
 * Memo. T_alone and the S_k depend only on the transfer's bytes, chunk and
 * window and on its steps' configuration (protocol and its link
 * configuration, operation, direction, rate, latency, forwarding unit,
 * control message, per-packet and per-message costs), not on the time nor
 * on any resource's state: the recurrence starts from idle resources, so
 * T_alone - t0 is the same at any t0. fab_fluid_start keeps them per such
 * key (paths of up to 8 steps; 2048 pairs of slots of 936 B, allocated
 * when first used, 3.8 MB at most; a new key replaces the least recently
 * used of its pair) and copies them on a hit. The Mooncake replay's 41,382
 * transfers have 1,676 distinct keys; 39,399-39,476 transfers hit (the
 * pairs depend on pointers, so on the address layout; results do not),
 * and the recurrence, 7,000 instructions a transfer, was 10% of the
 * replay's instructions.
 */
#ifndef MEMFAB_MODELS_FABRIC_FLUID_H
#define MEMFAB_MODELS_FABRIC_FLUID_H

#include "models/fabric/engine.h"

#define FAB_FLUID_TICKET (UINT32_MAX - 1) /* fab_chunk.step of a fluid flow's END ticket */

struct fab_fluid {
    /* configuration */
    uint32_t fab_id;      /* component that receives FAB_EV_FLUID */
    /* state */
    fab_flow *head;       /* flows draining (most recent first) */
    uint32_t n;           /* how many */
    sim_time last;        /* their work is accounted up to this time */
    uint64_t gen;         /* generation of the last timer scheduled */
    int pending;          /* that timer is pending (not stale, not fired) */
    sim_time timer;       /* its time */
    uint32_t epoch;       /* rate computations so far (marks resources) */
    fab_res **res;        /* scratch: resources of the draining flows */
    size_t nres, capres;
    sim_time *ends;       /* scratch: chunk ends of the window (T_alone) */
    size_t capends;
    uint64_t flows;       /* transfers run as fluid flows */
    uint64_t chunked;     /* transfers that ran as chunks (their path was not plain) */
    uint64_t single;      /* transfers of one chunk, run as that chunk */
    uint64_t recomputes;  /* rate computations */
    struct fab_fluid_memo *memo; /* times alone already computed (fluid.c; NULL: none yet) */
    uint64_t memo_hits;   /* transfers whose time alone came from it */
};

/* Start fl (launched == 0, fl->fluid set) as a fluid flow: 1, or 0 when its
 * path is not plain (it then runs as chunks). */
int fab_fluid_start(sim *s, fab_flow *fl);
/* FAB_EV_FLUID with generation gen reached the fabric component. */
void fab_fluid_timer(sim *s, fab_fluid *F, uint64_t gen);
/* The END ticket of a fluid flow: the flow is complete (returns 1). */
int fab_fluid_ticket(sim *s, fab_chunk *ch);
/* Credit the payload the fluid flows through r have moved by now. */
void fab_fluid_settle(sim *s, fab_res *r);
/* r (which fluid flows cross) started or stopped serving a chunk or a
 * packet: bring the flows to now and recompute their rates. */
void fab_fluid_held(sim *s, fab_res *r);
/* The pieces fab_fluid_start uses, open to tests: link fl as draining in
 * F (its steps' fl_cost and its fl_total and bytes set; nothing is
 * scheduled), and compute the max-min fair rates (fl_rate, payload bytes
 * per ps) and speeds of every draining flow by progressive filling. 0, or
 * SIM_ENOMEM. */
void fab_fluid_link(fab_fluid *F, fab_flow *fl);
int fab_fluid_rates(fab_fluid *F);
/* fl's time alone from now (*end) and its steps' totals (fl_svc, fl_units,
 * fl_wire), from the memo or by the recurrence (then kept): 0, or
 * SIM_ENOMEM when the recurrence has no memory. */
int fab_fluid_alone(fab_fluid *F, fab_flow *fl, sim_time now, sim_time *end);
/* Free the scratch arrays and the memo. */
void fab_fluid_free(fab_fluid *F);

#endif
