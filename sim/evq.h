/*
 * evq.h - the pending-event set.
 *
 * A priority queue of fixed-size events ordered by (time, insertion
 * sequence): among events with equal time, the one pushed first leaves
 * first, which keeps runs reproducible. Time never goes backwards: a push
 * must not be earlier than the time of the last event popped (the run loop
 * guarantees it; evq_push rejects a violation with SIM_EINVAL).
 *
 * The interface is deliberately narrow so that the structure behind it can
 * change without touching models. Memory grows lazily, in push and in pop,
 * and stops growing once it covers the working set; an operation that
 * cannot get memory fails with SIM_ENOMEM and changes nothing. Up to
 * about 16,000 pending events they are held whole (32 bytes and block
 * overhead); above, in about 21-23 bytes (a0 and a1 whole, the time
 * relative to its bucket) when the target is below 65535 and the kind
 * below 256, any other event exact too, with 16 bytes more (evq.c, MODES
 * and RECORDS). The form changes nothing a caller sees but evq_bytes.
 */
#ifndef MEMFAB_SIM_EVQ_H
#define MEMFAB_SIM_EVQ_H

#include <stddef.h>
#include <stdint.h>

#include "simtime.h"

/* An event: when, to whom, what, and two 64-bit arguments. 32 bytes. */
typedef struct sim_event {
    sim_time time;  /* when it fires, picoseconds */
    uint32_t target;/* component id */
    uint32_t kind;  /* component-defined event kind */
    uint64_t a0;    /* component-defined argument */
    uint64_t a1;    /* component-defined argument */
} sim_event;

typedef struct evq evq;

/* Create an empty queue; free it with evq_free(). NULL when out of memory. */
evq *evq_new(void);
void evq_free(evq *q);

/* Insert an event. 0, SIM_ENOMEM, or SIM_EINVAL if e->time is earlier than
 * the last popped time. */
int evq_push(evq *q, const sim_event *e);

/* Remove the earliest event into *out. 1 when an event was popped, 0 when
 * empty, SIM_ENOMEM (negative; nothing popped, the queue unchanged) when
 * reordering the pending events needed memory that could not be had. */
int evq_pop(evq *q, sim_event *out);

/* Time of the earliest pending event, or SIM_TIME_MAX when empty. */
sim_time evq_peek_time(evq *q);
/* evq_pop of the earliest event when its time is at most `until` (and not
 * SIM_TIME_MAX): 1 popped, 0 none (empty, or the earliest is later), or
 * SIM_ENOMEM with the queue unchanged. One call where a run loop would
 * peek and then pop. */
int evq_pop_until(evq *q, sim_time until, sim_event *out);

/* Number of pending events; bytes held by the queue (arrays and pools). */
size_t evq_size(const evq *q);
size_t evq_bytes(const evq *q);

/* Empty the queue and reset its clock to 0; it holds whole events again,
 * and its memory is kept for reuse (that of records too, for the next
 * switch; evq.c, MODES). The thresholds of evq_set_modes stay. */
void evq_clear(evq *q);

/* Statistics of the two storage modes (evq.c, MODES), for tests and
 * benchmarks: switches made since evq_new (evq_clear of a compact queue
 * makes one), and 1 while events beyond the front are held as compact
 * records, 0 while whole. */
uint64_t evq_mode_switches(const evq *q);
int evq_compact(const evq *q);
/* Switch to compact records when a push into the buckets leaves up_at
 * events pending and back to whole events when a pop leaves down_at or
 * fewer, some of them outside the sorted array (evq.c, MODES; the defaults,
 * 16384 and 2048, suit every size: this is for tests and measurements).
 * Thresholds: down_at < up_at; or up_at = down_at = 0, compact records from
 * now on whatever the size (after evq_clear, from its next push into the
 * buckets). With up_at at or below the count the switch is made now.
 * Returns 0; SIM_ENOMEM when that switch cannot get its memory (nothing
 * changed but the thresholds, and memory evq_clear kept for records is
 * given back; the next push into the buckets tries again); SIM_EINVAL,
 * nothing changed, for other thresholds (no hysteresis). */
int evq_set_modes(evq *q, size_t up_at, size_t down_at);

#endif
