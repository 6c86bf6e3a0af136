/*
 * evq.c - the pending-event set: a monotone radix heap with FIFO buckets
 * of whole events (small queues) or compact records (large ones) and a
 * sorted front.
 *
 * STRUCTURE. This is the radix heap of Ahuja, Mehlhorn, Orlin and Tarjan
 * ("Faster algorithms for the shortest path problem", JACM 37(2), 1990),
 * generalised to digits of EVQ_DIGIT bits. It exploits the one promise the
 * run loop makes: time never goes backwards. Let `last` be the time of the
 * last popped event (the clock) and `piv` the pivot, a time <= last and
 * <= every pending time (it is last, or the minimum of the bucket last
 * taken apart). Outside the front (below), a pending event with time t is
 * kept in
 *
 *   - the now lane, when t == piv;
 *   - in the next window's table (WINDOW, below) when t is in the 2^24 ps
 *     window after piv's;
 *   - otherwise bucket (L, d), where L is the highest digit in which t and
 *     piv differ and d is t's value in that digit (d > piv's digit, so
 *     digit 0 is never used).
 *
 * Buckets are numbered T * RADIX + d by table T: levels 0 to SEC_L (2) are
 * tables 0 to 2, the window's is table 3, level L > 2 is table L + 1. A
 * lower number means a smaller time: every event in a lower bucket is
 * earlier than every event in a higher one. A bitmap of non-empty buckets,
 * with a summary word of its non-zero words, finds the lowest one with two
 * count-trailing-zeros. Each table of buckets (tail block, minimum, count
 * and bytes in the tail; RADIX of them, 6 KB with 8-bit digits) is
 * allocated the first time an event goes to it. (With the count and
 * minimum in the tail block instead, 2 KB
 * per level, a push had to load that block before writing it, and at 1e5
 * events, where the blocks no longer fit in L2, the hold ran 10-25%
 * slower for the same instructions.) When the front and the now lane are
 * empty, a pop looks at the lowest bucket:
 *   - one event (its count says so: a radix bucket is only ever emptied
 *     whole): it is popped where it is; piv and last become its time;
 *   - level 0: all its events share one time (they agree with piv in every
 *     other digit), so the bucket becomes the now lane; no event moves;
 *   - the window's table: it becomes level 2's first (WINDOW);
 *   - level L >= 1 and at most FRONT_MAX events: it is sorted into the front;
 *   - otherwise piv becomes the bucket's minimum and the bucket is
 *     redistributed into lower buckets. Every level below L is empty at
 *     that moment, and an event moves only to a strictly lower level, so it
 *     moves at most ceil(64 / EVQ_DIGIT) times in its life.
 * Moving piv from p to a time p' with p <= p' <= every pending time, where
 * p' agrees with p above the lowest non-empty level L and is in the range
 * of the lowest bucket, keeps every bucket where it was: an event of level
 * L' > L still differs from p' first in digit L', one of level L still has
 * a larger digit L than p'.
 *
 * FRONT. Most pops then come from a sorted array: the window
 * [sh, sh + sn) of sm[], in (time, insertion) order, which holds every
 * pending event with time <= flim while `front` is set (the buckets below
 * flim's level are then empty, and the now lane too). Taking a bucket
 * (L, d) of c <= FRONT_MAX events into it costs a sort instead of a
 * redistribution and the pops from one-event buckets that followed it:
 * each event gets the key (its time's bits below digit L, its position in
 * the bucket) in IDX_BITS, so that equal times keep bucket order, which is
 * insertion order (FIFO TIES); above PRESORT_ABOVE events a stable counting
 * pass on about log2(c) top bits of the time leaves an insertion sort
 * little to do. flim becomes the end of the bucket's range, piv its
 * minimum. A push with t <= flim is inserted after every event of time
 * <= t (found from the back, with a binary search past 8 events; when
 * neither narrowing nor sliding can follow, the events passed move up a
 * slot in the same pass, and evq_push is then a leaf). Two
 * things bound that work:
 *   - when the array is full, or pushes have shifted NARROW_BUDGET events
 *     since it was filled, the push narrows it: with the clock c as piv,
 *     the events later than the end of c's range at the level where t
 *     first differs from c move into the empty buckets below flim's level
 *     (in array order, so FIFO holds), flim becomes that end, and t lands
 *     beyond it in a bucket (t == c: the array keeps only time c and t goes
 *     after it);
 *   - when every event is at the clock and the array is full, it spills
 *     into the now lane, and the front ends.
 * Measured with tools/bench-instr.sh (callgrind, 2e5 holds of `memfab
 * bench events`): at 1e3 events in the hold model (1 us mean), 283
 * instructions per hold before the front and the level tables, 206 after;
 * ties (1 ns mean) 273 and 232; at 1e5 321 and 276, ties 203 and 195.
 * With records (RECORDS) and the payloads the bench now pushes (a hash
 * per event: 15-25 more in the driving loop), 455 at 1e5 and 320 at 1e3
 * with records at every size; with the modes (MODES) 451 and 239.
 *
 * MODES. The buckets and the now lane hold events in one of two forms, the
 * same for all of them at any moment (cm):
 *   - whole mode: 32-byte sim_events, BLK_N (16) to a 520-byte block, the
 *     tables numbered by level, no window (the w_ functions): no encoding,
 *     the cheapest operations;
 *   - compact mode: records of 19 + L bytes in blocks of 128 and 512 bytes,
 *     and the next window's table (RECORDS, WINDOW, MEMORY).
 * The front (sorted array of whole events), the bitmap, the pivot and the
 * level logic are shared. A queue starts whole. A push into the buckets
 * that leaves UP_AT (16384) events pending converts it to compact; a pop
 * that leaves DOWN_AT (2048) or fewer, with some outside the array,
 * converts it back. A conversion goes bucket by bucket: every bucket keeps
 * its number (the tables beyond level SEC_L move up one to make room for
 * the window's, or back), its minimum and its events in order (FIFO TIES
 * hold), and the pivot, clock and array stay as they are. Whole to compact,
 * the window is then in use if win_probe finds no bucket beyond its table
 * holding its times; compact to whole, the window's buckets, in digit
 * order (time order, each time's events in insertion order), go to the one
 * level-(SEC_L + 1) bucket of their times, which is empty while the window
 * is in use. The new form's memory (blocks of each kind, escape entries, a
 * table) is computed exactly and taken before anything moves, so a
 * conversion that cannot get it changes nothing: the push or pop it
 * follows stands, and it is tried again once half that count of pushes
 * (up) or pops (down) have found the queue still beyond the threshold (a
 * queue that stays there is not left in the wrong form; a failed try costs
 * O(n) as well). After it the old form's blocks, all free then, go back to the
 * allocator, and so does the escape table when going whole (evq_clear,
 * which returns to whole mode, keeps them for reuse). A conversion costs
 * O(n) at n = UP_AT or DOWN_AT, and at least UP_AT - DOWN_AT operations
 * separate two of them, so it is amortised O(1) per operation; nothing
 * allocates per event in steady state. evq_set_modes changes the
 * thresholds (tests: 64 and 16, or compact at any size).
 * Measured (tools/bench-instr.sh, callgrind, 1e5 holds of the hold model
 * with the bench's payloads; B/event from `memfab bench events`), whole
 * against compact at one size: 240 / 317 instructions per hold and 95.5 /
 * 44.7 B per event at 2048 pending, 334 / 488 and 54.7 / 33.0 at 8192,
 * 324 / 482 and 47.5 / 27.8 at 16384, 314 / 476 and 41.9 / 26.3 at 32768:
 * records cost about 50% more instructions and save about 20 B an event.
 * Below 2^14 that saves at most 330 KB, so the queue stays whole there; at
 * 2^14 the switch holds both forms for a moment (about 1.2 MB), less than a
 * queue of 1e5 holds in records (2.3 MB), while at 2^16 that moment (about
 * 4 MB) would be the peak of a 1e5 queue. DOWN_AT = 2^11 leaves a factor
 * 8 of hysteresis. With both: 239 instructions per hold at 1e3 (main's
 * whole-only queue 236, records only 320) and 451 at 1e5 (records only 455,
 * whole 307); 143 / 23.2 / 21.8 / 21.4 B per event at 1e3 / 1e5 / 1e6 /
 * 1e7. The up-switch at 16384 took 1.9 M instructions (116 an event
 * moved); a queue going up and down as fast as the hysteresis lets it (a
 * round trip is at least 28,672 operations) would pay about 75 more per
 * operation.
 *
 * FIFO TIES. Buckets are FIFO queues and redistribution scans its source
 * in order and appends, so it is stable. Its destinations are empty when it
 * starts, and every later push carries a larger sequence number than any
 * event already present. By induction each bucket holds its events in
 * insertion order, so events of equal time leave in insertion order without
 * storing or comparing a sequence number. The front sorts by (time,
 * position in the bucket) and inserts after equal times; narrowing and
 * spilling move a suffix of the array, in order, into empty buckets.
 *
 * RECORDS. In compact mode the buckets and the now lane hold records: a0
 * and a1 as given (8 bytes each: payloads are not compressed), the target
 * and kind packed in PK_BYTES (3: target << 8 | kind, for targets below
 * 2^16 - 1 and kinds below 256; 4: targets below 2^24 - 1), and the
 * time's bytes below the bucket's digit: a bucket of level L implies the
 * rest (piv's bits above digit L, and d), so a record is 19 + L bytes, 19
 * in the now lane (time == piv), 21 at level 2. An event that does not
 * pack is escaped: its packed word is all ones and its a1 the index of an
 * entry (target, kind, a1) in a per-queue table, taken when it enters a
 * bucket, kept while it moves between buckets (the packed word and a1 are
 * copied as they are), freed when it leaves for the array or the caller.
 * The array (FRONT) keeps whole sim_events. Records follow one another in
 * a bucket's blocks, and the last of a block may continue in the next, so
 * no block ends in a gap; a store or load touches REC_WIN bytes when they
 * fit in the block (the bytes past the record are overwritten by the
 * next), else goes through a small buffer.
 *
 * WINDOW. At 1e5 events in the hold model (1 us mean increment) the
 * pending times span about 2^23 ps, so that most sit at level 2, 21-byte
 * records; but when the clock nears a multiple of 2^24 ps, the events past
 * it differ from piv in digit 3, and all of them end in one level-3 bucket
 * of 22-byte records, which is then redistributed: with 24-bit targets
 * and without this, 24.3 B per event at 1e5 in a run that crosses no such
 * multiple and 25.0 in one that does; with it 24.3 in both. So the events of the next 2^24 ps window (t >> 24 == sw, sw = (piv >>
 * 24) + 1) go to table 3, split by digit 2 like a level-2 table, with
 * level-2 records (their base is sw's). It sorts between level 2 and level
 * 3, as those times do. When it becomes the lowest (levels 0 to 2, the
 * array and the now lane are empty), it becomes level 2's table and piv
 * becomes the window's start, around which every one of its buckets but
 * digit 0's stands where it would; digit 0's (times below start + 2^16,
 * which levels 0 and 1 cover) must be taken apart. The lowest bucket
 * (digit 0's, or another when that is empty) is taken apart at once, as
 * refill does, and if that needs memory that cannot be had, the tables go
 * back: piv must not stay at the window's start after a failed pop, as
 * the clock may be earlier and a push may fall between them. The table
 * is in use for a window only when no bucket of level 3 or above holds
 * one of its times (the lowest such bucket's minimum tells, checked when
 * piv enters a new window), and not for a window that starts a new range of
 * digit 4 (a carry out of digit 3: a level-4 bucket valid for piv would not
 * be for the window's start); those times then go to level 3 or above as
 * before.
 *
 * MEMORY. Buckets are rings of blocks (the tail's link is the head). In
 * whole mode a block holds BLK_N events (520 bytes), the now lane is a
 * chain of them, slabs add 1/8 of the blocks held, and the rules below
 * hold with one kind of block: a push takes at most one, narrowing or
 * spilling m events m + 1, a redistribution D in net (every radix bucket
 * starts at slot 0 of its head block). In compact mode the
 * first block of a ring has SBLK_BYTES (128), the others BLK_BYTES (512),
 * links included; two free lists, slabs that add 1/GROW_DIV (1/128) of
 * the blocks held. A redistribution returns its source blocks as it
 * consumes them, so the peak is about one copy of the pending events plus
 * the partly filled tails of its destinations. Memory grows lazily, only
 * when a free list cannot cover an operation, and is checked before the
 * operation changes anything, so a failed allocation leaves the queue as
 * it was:
 *   - a push takes at most one block (a first block when its bucket is
 *     empty, else one when its record does not fit in the tail), maybe a
 *     table and maybe an escape entry; narrowing or spilling m events into
 *     empty buckets takes at most m + 1 first blocks and m REC_WIN / PAY +
 *     m / (SPAY / REC_WIN) + 2 others (a bucket takes one past its first
 *     block's bytes), the tables they reach and their escape entries;
 *   - a redistribution of a bucket of table T holding c events has at
 *     most D <= min(c, (RADIX - 1) T + 1) destinations (the now lane and
 *     the buckets of lower tables), all empty when it starts: it takes at
 *     most D first blocks and D + 2 others in net (the destinations' bytes
 *     are at most the source's, whose blocks go back as the move leaves
 *     them; each destination's tail is partly empty, and a record can
 *     straddle). When fewer are free and the queue holds fewer than
 *     EXACT_BELOW blocks, or a table below T is missing, a first pass over
 *     the source's times computes the exact need of each kind (and the
 *     tables reached) by replaying the block takes and returns of the move,
 *     so a queue holds no reserve it will not use.
 * Only push and pop grow memory (a pop can fail with SIM_ENOMEM); memory
 * shrinks only when the mode switches (MODES) and at evq_free. Measured with `memfab bench events` (hold model,
 * 5e6 holds at 1e5; payloads with full 64-bit a0 and a1, 4096 targets, 32
 * kinds), bytes held per pending event: 32-byte events in 520-byte blocks
 * 143 / 34.7 / 33.3 at 1e3 / 1e5 / 1e6; records with 24-bit targets 24.3
 * at 1e5 (25.4 without the first blocks and the window); with 16-bit
 * targets 84.0 / 23.2 / 21.8. At 1e5 the peak is during the
 * redistribution of a level-2 bucket of about 6,200 events into 255 level-1
 * buckets, whose tails are then mostly empty (about 1 B per event); links
 * cost 1.6%, the struct and four tables 0.33 B per event. Blocks of 256 to
 * 448 bytes gave 23.8-24.2 B at 1e5 with 24-bit targets, and ran up to 40%
 * slower at 1e6.
 *
 * SMALL QUEUES. While few events are pending (the common case of a
 * simulation with tens of components in flight) the buckets cost more than
 * they save, so every event is kept in the array, with flim = SIM_TIME_MAX,
 * up to SMALL_CAP events; a push that finds it full narrows it as above.
 * When a pop leaves SMALL_LOW events or fewer the others return to the
 * array: the now lane first, then the buckets by number, stably sorted by
 * time (equal times share a bucket, where they are in insertion order)
 * after the array's own events (which are all earlier), with no
 * allocation. The gap between SMALL_LOW and SMALL_CAP keeps a queue near a
 * threshold from moving every event.
 *
 * DIGIT WIDTH. An event moves about once per level between its push and its
 * pop: in a bucket (L, d) redistributed around its minimum, the other events
 * mostly differ from it first in digit L - 1. Wider digits mean fewer levels
 * and fewer moves, but RADIX - 1 buckets per level, each non-empty one with
 * a partly filled block. Measured with `memfab bench events` (hold model,
 * 1 us mean increment; instructions per hold by callgrind, 2e5 holds;
 * before the one-event shortcuts, which brought 8 bits to 316 and 279, and
 * before the front):
 *   4 bits: 469 instructions per hold at 1e5, 62 B per event at 1e3;
 *   6 bits: 390, 98 B; 8 bits: 341, 173 B (then with a fixed 66 KB of
 *   bucket headers, now allocated per level);
 * speedup over the 16-byte binary heap at 1e3 / 1e5 / 1e6 in paired runs:
 * 4 bits 1.0x / 2.4-2.6x / 5.1-5.3x, 8 bits 1.6-1.9x / 3.5-3.8x / 5.5-6.0x.
 * 8 bits are the default.
 *
 * Alternatives considered: a binary heap (libuv style; one cache miss per
 * level once the heap leaves the cache), Brown's calendar queue (CACM 31(10),
 * 1988; needs resizing heuristics and is not FIFO-stable without a sequence
 * compare) and the ladder queue of Tang, Goh and Thng (ACM TOMACS 15(3),
 * 2005; O(1) amortised, and the model of the front: its bottom rung is a
 * sorted list fed by sorting one small bucket, which here stays FIFO-stable
 * because the sort key carries the position in the bucket).
 */
#include "evq.h"

#include <assert.h>
#include <string.h>

#include "err.h"
#include "mem.h"

#ifndef EVQ_DIGIT
#define EVQ_DIGIT 8 /* bits per radix digit, 1 to 8 (see DIGIT WIDTH) */
#endif
#ifndef BLK_BYTES
#define BLK_BYTES 512 /* bytes per block, its link included (see MEMORY) */
#endif
#ifndef SM_CAP
#define SM_CAP 256 /* events the sorted array holds, at most 256 (see FRONT) */
#endif
#ifndef FRONT_MAX
#define FRONT_MAX SM_CAP /* a bucket of at most this many events is sorted into the array */
#endif
#ifndef PRESORT_ABOVE
#define PRESORT_ABOVE 16 /* sort larger buckets in two passes (see FRONT) */
#endif
#ifndef NARROW_BUDGET
#define NARROW_BUDGET 4096 /* events pushes may shift in the array before it narrows */
#endif
#ifndef SMALL_CAP
#define SMALL_CAP 32 /* events the array holds while it holds them all (SMALL QUEUES) */
#endif
#ifndef SMALL_LOW
#define SMALL_LOW (SMALL_CAP / 4) /* every event returns to the array at or below this many */
#endif
#ifndef SBLK_BYTES
#define SBLK_BYTES 128 /* bytes of a ring's first block (see MEMORY) */
#endif
#ifndef GROW_DIV
#define GROW_DIV 128 /* a slab adds 1/GROW_DIV of the blocks held (see MEMORY) */
#endif
#ifndef BLK_N
#define BLK_N 16 /* events per block of whole events (see MODES) */
#endif
#ifndef UP_AT
#define UP_AT 16384 /* whole events become records at this many pending (MODES) */
#endif
#ifndef DOWN_AT
#define DOWN_AT 2048 /* records become whole events at this many pending (MODES) */
#endif

#define RADIX (1u << EVQ_DIGIT)
#define LEVELS ((64 + EVQ_DIGIT - 1) / EVQ_DIGIT)
#define SEC_L 2 /* the next window's buckets split it by this level's digit */
#define SEC_T (SEC_L + 1) /* their table, between level SEC_L's and the next's */
#define NT (LEVELS + 1)   /* bucket tables: levels 0 .. SEC_L, the window, the rest */
#define WIN_SH ((SEC_L + 1) * EVQ_DIGIT) /* a window spans 2^WIN_SH ps */
#define NB (NT * RADIX) /* bucket numbers table * RADIX + digit (see WINDOW) */
#define NWORDS ((NB + 63) / 64)
#define IDX_BITS 8          /* bits of an event's position in a sort key (FRONT) */
/* the highest level whose offsets from the bucket minimum leave IDX_BITS free */
#define FRONT_LEVEL ((64 - IDX_BITS) / EVQ_DIGIT)
/* Below this many blocks a short redistribution reserve is computed exactly
 * (see MEMORY); above, the bound (RADIX - 1) L + 2 costs under 6% of the
 * memory (1,787 blocks at L = 7 with 8-bit digits). At 4096, the value for
 * 4-bit digits, a 1e5-event hold run grew from 36.3 to 40.8 B per event
 * over 5e6 holds; at 32768 it stays at 36.3, with the same instructions. */
#ifndef EXACT_BELOW
#define EXACT_BELOW 32768
#endif

/* RECORDS. A record is a0, a1 (8 bytes each, as given), the packed target
 * and kind (4 bytes), and the time's bytes below the bucket's digit */
#define PAY ((uint32_t)(BLK_BYTES - sizeof(void *)))   /* bytes of records per block */
#define SPAY ((uint32_t)(SBLK_BYTES - sizeof(void *))) /* per first block */
#ifndef PK_BYTES
#define PK_BYTES 3 /* bytes of the packed target and kind, 3 or 4 (see RECORDS) */
#endif
#define REC_FIX (16 + PK_BYTES)          /* a0, a1, packed target and kind */
#define REC_WIN 28                       /* bytes a fast load or store touches */
#define PK_MASK (0xffffffffu >> (32 - 8 * PK_BYTES))
#define ESC PK_MASK                      /* packed word of an escaped event */
#define TARGET_LIM (PK_MASK >> 8)        /* targets below this pack */
#define KIND_LIM 256u                    /* kinds below this pack (8 bits) */

#define COLD __attribute__((noinline, cold)) /* rare: off the paths of push and pop */
#define NOINLINE __attribute__((noinline)) /* once per bucket: out of push and pop */
#define ALWAYS_INLINE __attribute__((always_inline)) /* GCC would call it */

_Static_assert(NWORDS <= 64, "the summary word covers at most 64 bitmap words");
_Static_assert(LEVELS > SEC_L + 1 && WIN_SH < 64, "the window is below the top level");
_Static_assert(SPAY >= REC_WIN && PAY >= 2 * REC_WIN, "a record straddles at most two blocks");
_Static_assert(PK_BYTES == 3 || PK_BYTES == 4, "a target of 16 or 24 bits, a kind of 8");
_Static_assert(SBLK_BYTES % 8 == 0 && SBLK_BYTES < BLK_BYTES, "first blocks are smaller and aligned");
_Static_assert(FRONT_MAX <= SM_CAP && SM_CAP <= (1 << IDX_BITS), "sort keys hold a position");
_Static_assert(SMALL_LOW < SMALL_CAP && SMALL_CAP <= SM_CAP, "the array takes back what it holds");
_Static_assert((BLK_N & (BLK_N - 1)) == 0, "BLK_N is a power of two");
_Static_assert(SMALL_LOW < DOWN_AT && DOWN_AT < UP_AT, "the modes switch with hysteresis");

/* A block. Records (compact mode): a ring's first block has SPAY bytes of
 * records (it is allocated SBLK_BYTES long: only b[0 .. SPAY) exists), the
 * others PAY (allocated BLK_BYTES long). Whole events (whole mode): BLK_N
 * of them, the whole struct. */
typedef struct blk {
    struct blk *next;       /* a ring (radix bucket; the now lane in compact
                             * mode): the tail's next is the head; the now
                             * lane in whole mode: the next block; free list:
                             * next free */
    union {
        unsigned char b[PAY];   /* records, oldest first, one after another
                                 * (the last may continue in the next block) */
        sim_event ev[BLK_N];    /* whole events, oldest first */
    };
} blk;

/* block kinds, one free list each: records' blocks (BIG, and SMALL first
 * blocks) in compact mode, WHOLE ones in whole mode */
enum { BIG = 0, SMALL = 1, WHOLE = 2, NKIND = 3 };

typedef struct bkt {
    blk *tail;              /* newest block, or NULL when the bucket is empty */
    sim_time bmin;          /* the earliest of its events */
    uint32_t cnt;           /* events appended (compact mode: saturating at
                             * UINT32_MAX) */
    uint32_t off;           /* compact mode: bytes used in the tail block, 1 to PAY */
} bkt;

typedef struct lane {
    blk *head;              /* whole mode: the oldest block */
    blk *tail;              /* newest block (compact mode: its next is the
                             * oldest); NULL when the lane is empty */
    uint32_t rd;            /* next slot (whole) or byte (compact) to read in the oldest block */
    uint32_t wr;            /* slots or bytes used in the tail block */
    uint32_t small;         /* compact: 1 when the oldest block is the ring's first (SPAY bytes) */
} lane;

typedef struct slab {
    struct slab *next;      /* older slab */
    size_t nblk;            /* blocks carved from this slab */
    int kind;               /* their kind */
} slab;

/* An escaped event's target, kind and a1; the record holds its index in a1.
 * Free entries are chained through `a1`. */
typedef struct esc {
    uint32_t target;
    uint32_t kind;
    uint64_t a1;
} esc;

/* An event as a record holds it, unpacked: the packed word is kept as is,
 * so that moves copy escaped events without touching their entries. */
typedef struct rec {
    sim_time t;
    uint64_t a0, a1;
    uint32_t pk;
} rec;

struct evq {
    /* state */
    int cm;                 /* 0: whole mode, 1: compact mode (MODES) */
    size_t up_at, down_at;  /* the thresholds (MODES; evq_set_modes) */
    size_t up;              /* a push that finds this many pending goes by
                             * push_any's rare branch: up_at - 1 in whole
                             * mode, 0 in compact mode */
    size_t low;             /* a pop that leaves this many or fewer (and some
                             * outside the array) calls low_water (MODES) */
    size_t retry;           /* a switch failed: the pushes (up) or pops (down)
                             * beyond the threshold before it is tried again */
    uint64_t switches;      /* mode switches made */
    sim_time last;          /* time of the last popped event (the clock) */
    sim_time piv;           /* the radix pivot: buckets hold times > piv, by the
                             * highest digit in which they differ from it */
    size_t n;               /* pending events */
    int front;              /* 1: sm[] holds every pending event with time <= flim */
    uint32_t cap;           /* with front: SMALL_CAP when flim is SIM_TIME_MAX, else SM_CAP */
    uint32_t shifted;       /* events pushes shifted in the array since it was filled */
    uint32_t sh, sn;        /* sm[sh .. sh + sn) holds them, in (time, insertion) order */
    sim_time flim;          /* see front */
    lane now;               /* events at time == piv == last, FIFO (never with front) */
    uint64_t words;         /* bit w set iff nonempty[w] != 0 */
    uint64_t nonempty[NWORDS]; /* bit b set iff bucket b is non-empty */
    bkt *lv[NT];            /* per table, allocated on first use: the buckets by
                             * digit; whole mode: per level (lv[NT - 1] unused) */
    uint64_t sw;            /* the next window: times t with t >> WIN_SH == sw */
    int sok;                /* 1: its events are in table SEC_T (WINDOW) */
    sim_event sm[SM_CAP];   /* the sorted array (FRONT) */
    /* memory */
    blk *free[NKIND];       /* free blocks, by kind */
    size_t nfree[NKIND];    /* blocks on each free list */
    size_t nblocks[NKIND];  /* blocks of each kind allocated in all slabs */
    slab *slabs;            /* every slab, newest first */
    esc *esc;               /* escaped events' fields (RECORDS) */
    uint64_t esc_free;      /* first free entry, or UINT64_MAX */
    size_t esc_cap;         /* entries allocated */
    size_t esc_nfree;       /* entries free */
    size_t bytes;           /* bytes held: this struct, level tables, slabs, esc */
};

/* Record width at level L: the fixed part and the time's bytes below digit L
 * (level 0 and the now lane: none). */
static inline unsigned rec_w(unsigned L)
{
    return REC_FIX + (L * EVQ_DIGIT + 7) / 8;
}

/* The level whose record format table T uses. */
static inline unsigned lvl_of(unsigned T)
{
    return T - (T > SEC_L);
}

/* Record width of bucket i. */
static inline unsigned wid(unsigned i)
{
#if NT == 9 /* 8-bit digits: a table */
    static const uint8_t w[NT] = {
#define W_(T) (uint8_t)(REC_FIX + (((T) - ((T) > SEC_L)) * EVQ_DIGIT + 7) / 8)
        W_(0), W_(1), W_(2), W_(3), W_(4), W_(5), W_(6), W_(7), W_(8),
#undef W_
    };
    return w[i / RADIX];
#else
    return rec_w(lvl_of(i / RADIX));
#endif
}

/* The bucket number of time t > piv, with the next window sw (in use when
 * ok is set). */
static inline unsigned bucket_at(sim_time t, sim_time piv, uint64_t sw, int ok)
{
    unsigned hb = 63u - (unsigned)__builtin_clzll(t ^ piv);
    unsigned lv = hb / EVQ_DIGIT;
    if (__builtin_expect(lv > SEC_L, 0)) {
        if (ok && t >> WIN_SH == sw)
            return SEC_T * RADIX + (unsigned)((t >> (SEC_L * EVQ_DIGIT)) & (RADIX - 1));
        return (lv + 1) * RADIX + (unsigned)((t >> (lv * EVQ_DIGIT)) & (RADIX - 1));
    }
    return lv * RADIX + (unsigned)((t >> (lv * EVQ_DIGIT)) & (RADIX - 1));
}

/* The time bits every event of bucket i shares (piv's above its digit, and
 * the digit; for the window, the window's), with the pivot piv and the
 * window sw. */
static inline sim_time bucket_base(sim_time piv, uint64_t sw, unsigned i)
{
    unsigned T = i / RADIX, L = lvl_of(T), sh = (L + 1) * EVQ_DIGIT;
    sim_time d = (sim_time)(i % RADIX) << (L * EVQ_DIGIT);
    if (T == SEC_T)
        return (sim_time)sw << WIN_SH | d;
    sim_time hi = sh >= 64 ? 0 : piv >> sh << sh;
    return hi | d;
}

static inline sim_time low_mask(unsigned L)
{
    return L * EVQ_DIGIT >= 64 ? ~(sim_time)0 : ((sim_time)1 << (L * EVQ_DIGIT)) - 1;
}

static inline bkt *slot_of(evq *q, unsigned i)
{
    return &q->lv[i / RADIX][i % RADIX];
}

static inline blk *blk_get(evq *q, int k)
{
    blk *x = q->free[k];
    assert(x); /* guaranteed by the checks before every change */
    q->free[k] = x->next;
    q->nfree[k]--;
    return x;
}

static inline void blk_put(evq *q, blk *x, int k)
{
    x->next = q->free[k];
    q->free[k] = x;
    q->nfree[k]++;
}

/* The kind of a block of capacity cap. */
static inline int kind_of(uint32_t cap)
{
    return cap == SPAY ? SMALL : BIG;
}

static inline void mark(evq *q, unsigned i)
{
    q->nonempty[i >> 6] |= (uint64_t)1 << (i & 63);
    q->words |= (uint64_t)1 << (i >> 6);
}

static inline void unmark(evq *q, unsigned i)
{
    if (!(q->nonempty[i >> 6] &= ~((uint64_t)1 << (i & 63))))
        q->words &= ~((uint64_t)1 << (i >> 6));
}

/* The lowest non-empty bucket; the radix buckets must not all be empty. */
static inline unsigned lowest(const evq *q)
{
    unsigned w = (unsigned)__builtin_ctzll(q->words);
    return w * 64 + (unsigned)__builtin_ctzll(q->nonempty[w]);
}

/* ----------------------------------------------------------- records */

static inline int packs(const sim_event *e)
{
    return e->target < TARGET_LIM && e->kind < KIND_LIM;
}

/* An escape entry for e (one is free): its index. */
static inline uint64_t esc_take(evq *q, const sim_event *e)
{
    uint64_t j = q->esc_free;
    assert(j != UINT64_MAX && q->esc_nfree > 0);
    esc *x = &q->esc[j];
    q->esc_free = x->a1;
    q->esc_nfree--;
    x->target = e->target;
    x->kind = e->kind;
    x->a1 = e->a1;
    return j;
}

static inline void esc_put(evq *q, uint64_t j)
{
    q->esc[j].a1 = q->esc_free;
    q->esc_free = j;
    q->esc_nfree++;
}

/* Make sure k escape entries are free: 0, or SIM_ENOMEM with nothing changed. */
static COLD int esc_need(evq *q, size_t k)
{
    if (q->esc_nfree >= k)
        return 0;
    size_t nc = q->esc_cap ? 2 * q->esc_cap : 16;
    while (nc - q->esc_cap + q->esc_nfree < k)
        nc *= 2;
    esc *na = sim_realloc(q->esc, nc * sizeof *na);
    if (!na)
        return SIM_ENOMEM;
    q->esc = na;
    q->bytes += (nc - q->esc_cap) * sizeof *na;
    for (size_t j = nc; j-- > q->esc_cap;)
        esc_put(q, j);
    q->esc_cap = nc;
    return 0;
}

/* Every escape entry free again (the buckets and the lane are empty). */
static void esc_reset(evq *q)
{
    q->esc_free = UINT64_MAX;
    q->esc_nfree = 0;
    for (size_t j = q->esc_cap; j-- > 0;)
        esc_put(q, j);
}

/* Escape entries the m events at a need. */
static size_t esc_count(const sim_event *a, uint32_t m)
{
    size_t k = 0;
    for (uint32_t j = 0; j < m; j++)
        k += !packs(&a[j]);
    return k;
}

/* The record of event e: packed, or escaped (an entry is free). */
static inline rec rec_of(evq *q, const sim_event *e)
{
    rec r = {e->time, e->a0, e->a1, e->target << 8 | e->kind};
    if (__builtin_expect(!packs(e), 0)) {
        r.pk = ESC;
        r.a1 = esc_take(q, e);
    }
    return r;
}

/* The event of record r, its escape entry freed. */
static inline void event_of(evq *q, const rec *r, sim_event *e)
{
    e->time = r->t;
    e->a0 = r->a0;
    if (__builtin_expect(r->pk != ESC, 1)) {
        e->target = r->pk >> 8;
        e->kind = r->pk & (KIND_LIM - 1);
        e->a1 = r->a1;
    } else {
        const esc *x = &q->esc[r->a1];
        e->target = x->target;
        e->kind = x->kind;
        e->a1 = x->a1;
        esc_put(q, r->a1);
    }
}

/* Store REC_WIN bytes: the record, then time bytes past its width, which
 * the next record overwrites. */
static inline void rec_store(unsigned char *p, const rec *r)
{
    memcpy(p, &r->a0, 8);
    memcpy(p + 8, &r->a1, 8);
    memcpy(p + 16, &r->pk, 4); /* (with 3-byte packing the time overwrites its top) */
    memcpy(p + REC_FIX, &r->t, 8);
}

static inline void rec_load(const unsigned char *p, rec *r, sim_time base, sim_time mask)
{
    uint64_t t;
    memcpy(&r->a0, p, 8);
    memcpy(&r->a1, p + 8, 8);
    memcpy(&r->pk, p + 16, 4);
    r->pk &= PK_MASK;
    memcpy(&t, p + REC_FIX, 8);
    r->t = base | (t & mask);
}

/* Append record r of width w to the ring with tail *tl, of capacity cap,
 * and *off bytes used in it: one free BIG block is needed when *off + w >
 * cap. */
static inline void ring_put(evq *q, blk **tl, uint32_t *off, uint32_t cap, unsigned w,
                            const rec *r)
{
    blk *x = *tl;
    uint32_t o = *off;
    if (__builtin_expect(o + REC_WIN <= cap, 1)) {
        rec_store(x->b + o, r);
        *off = o + w;
        return;
    }
    unsigned char buf[REC_WIN];
    rec_store(buf, r);
    uint32_t a = cap - o;
    if (a >= w) {
        memcpy(x->b + o, buf, w);
        *off = o + w;
        return;
    }
    memcpy(x->b + o, buf, a); /* the rest goes to a new tail */
    blk *y = blk_get(q, BIG);
    y->next = x->next;
    x->next = y;
    memcpy(y->b, buf + a, w - a);
    *tl = y;
    *off = w - a;
}

/* Whether appending a record of width w to a ring with `off` bytes used in
 * its tail, of capacity cap, takes a BIG block. */
static inline int ring_takes(uint32_t off, uint32_t cap, unsigned w)
{
    return off + w > cap;
}

/* The capacity of a bucket's tail: its first block while it has one. */
static inline uint32_t tail_cap(const blk *tl)
{
    return tl->next == tl ? SPAY : PAY;
}

/* Read the record of width w at (*x, *o), in a block of capacity *cap,
 * moving past it; a block left behind goes to the free list when `give` is
 * set (its link is read first). */
static inline void ring_get(evq *q, blk **x, uint32_t *o, uint32_t *cap, unsigned w, rec *r,
                            sim_time base, sim_time mask, int give)
{
    blk *b = *x;
    uint32_t p = *o, c = *cap;
    if (__builtin_expect(p + REC_WIN <= c, 1)) {
        rec_load(b->b + p, r, base, mask);
        *o = p + w;
        return;
    }
    unsigned char buf[REC_WIN] = {0};
    uint32_t a = c - p;
    if (a >= w) {
        memcpy(buf, b->b + p, w);
        *o = p + w;
    } else {
        blk *nx = b->next;
        memcpy(buf, b->b + p, a);
        memcpy(buf + a, nx->b, w - a);
        if (give)
            blk_put(q, b, kind_of(c));
        *x = nx;
        *o = w - a;
        *cap = PAY;
    }
    rec_load(buf, r, base, mask);
}

/* The time of the record of width w at (*x, *o), of capacity *cap, moving
 * past it (ring_get without the payload and without returning blocks). */
static inline sim_time ring_time(blk **x, uint32_t *o, uint32_t *cap, unsigned w, sim_time base,
                                 sim_time mask)
{
    const blk *b = *x;
    uint32_t p = *o;
    if (__builtin_expect(p + REC_WIN <= *cap, 1)) {
        uint64_t t;
        memcpy(&t, b->b + p + REC_FIX, 8);
        *o = p + w;
        return base | (t & mask);
    }
    rec r;
    ring_get(NULL, x, o, cap, w, &r, base, mask, 0);
    return r.t;
}

/* Append a record to bucket i (its level table exists, a block is free if
 * the bucket needs one). */
static inline ALWAYS_INLINE void radix_put(evq *q, unsigned i, const rec *r)
{
    bkt *b = slot_of(q, i);
    if (!b->tail) {
        blk *x = blk_get(q, SMALL);
        x->next = x;
        b->tail = x;
        b->cnt = 0;
        b->off = 0;
        b->bmin = r->t;
        mark(q, i);
    } else if (r->t < b->bmin) {
        b->bmin = r->t;
    }
    ring_put(q, &b->tail, &b->off, tail_cap(b->tail), wid(i), r);
    b->cnt += b->cnt != UINT32_MAX;
}

/* The capacity of the now lane's tail. */
static inline uint32_t lane_tail_cap(const lane *l)
{
    return l->tail->next == l->tail && l->small ? SPAY : PAY;
}

/* Append a record to the now lane (a block is free if it needs one). */
static inline void lane_put(evq *q, const rec *r)
{
    lane *l = &q->now;
    if (!l->tail) {
        blk *x = blk_get(q, SMALL);
        x->next = x;
        l->tail = x;
        l->rd = l->wr = 0;
        l->small = 1;
    }
    ring_put(q, &l->tail, &l->wr, lane_tail_cap(l), REC_FIX, r);
}

/* ------------------------------------------------------- whole events */

/* The bucket number of time t > piv in whole mode, where table L is level L. */
static inline unsigned w_bucket_of(sim_time t, sim_time piv)
{
    unsigned hb = 63u - (unsigned)__builtin_clzll(t ^ piv);
    unsigned lv = hb / EVQ_DIGIT;
    return lv * RADIX + (unsigned)((t >> (lv * EVQ_DIGIT)) & (RADIX - 1));
}

/* Events in the tail block of a whole-mode bucket of cnt >= 1 events. */
static inline uint32_t tail_fill(uint64_t cnt)
{
    return (uint32_t)((cnt - 1) % BLK_N) + 1;
}

/* Append an event to bucket i in whole mode (its level table exists, a
 * WHOLE block is free if the bucket needs one). */
static inline void w_radix_put(evq *q, unsigned i, const sim_event *e)
{
    bkt *b = slot_of(q, i);
    blk *tl = b->tail;
    if (!tl) {
        tl = blk_get(q, WHOLE);
        tl->next = tl;
        b->tail = tl;
        b->cnt = 0;
        b->bmin = e->time;
        mark(q, i);
    } else {
        if (b->cnt % BLK_N == 0) { /* the tail is full */
            blk *x = blk_get(q, WHOLE);
            x->next = tl->next;
            tl->next = x;
            b->tail = tl = x;
        }
        if (e->time < b->bmin)
            b->bmin = e->time;
    }
    tl->ev[b->cnt % BLK_N] = *e;
    b->cnt++;
}

/* Append an event to the now lane in whole mode (a WHOLE block is free if
 * it needs one). */
static inline void w_lane_put(evq *q, const sim_event *e)
{
    lane *l = &q->now;
    if (!l->tail) {
        l->head = l->tail = blk_get(q, WHOLE);
        l->rd = l->wr = 0;
    } else if (l->wr == BLK_N) {
        blk *x = blk_get(q, WHOLE);
        l->tail->next = x;
        l->tail = x;
        l->wr = 0;
    }
    l->tail->ev[l->wr++] = *e;
}

/* ------------------------------------------------------------ memory */

/* Bytes of a block of kind k. */
static inline size_t blk_bytes(int k)
{
    return k == SMALL ? SBLK_BYTES : k == BIG ? BLK_BYTES : sizeof(blk);
}

/* Add a slab so that at least `want` blocks of kind k are free. */
static COLD int grow(evq *q, int k, size_t want)
{
    size_t add;
    if (k == WHOLE) {
        add = q->nblocks[k] / 8; /* 12.5% steps keep the slack small */
    } else {
        add = q->nblocks[k] / GROW_DIV; /* smaller steps for records */
        if (add < 8)
            add = 8;
    }
    if (add > 2048)
        add = 2048; /* at most 1 MB: the slack of a large queue stays small */
    if (q->nfree[k] + add < want)
        add = want - q->nfree[k];
    size_t sz = blk_bytes(k);
    size_t bytes = sizeof(slab) + add * sz;
    slab *s = sim_alloc(bytes);
    if (!s)
        return SIM_ENOMEM;
    s->next = q->slabs;
    s->nblk = add;
    s->kind = k;
    q->slabs = s;
    char *first = (char *)s + sizeof(slab);
    for (size_t i = add; i-- > 0;)
        blk_put(q, (blk *)(void *)(first + i * sz), k);
    q->nblocks[k] += add;
    q->bytes += bytes;
    return 0;
}

/* Make sure `small` SMALL and `big` BIG blocks are free: 0, or SIM_ENOMEM. */
static int need_blocks(evq *q, size_t small, size_t big)
{
    if (q->nfree[SMALL] < small && grow(q, SMALL, small))
        return SIM_ENOMEM;
    if (q->nfree[BIG] < big && grow(q, BIG, big))
        return SIM_ENOMEM;
    return 0;
}

/* Make sure the level tables in `mask` exist: 0, or SIM_ENOMEM with none
 * added. */
static COLD int need_levels(evq *q, unsigned mask)
{
    unsigned added = 0;
    for (unsigned L = 0; L < NT; L++) {
        if (!(mask >> L & 1) || q->lv[L])
            continue;
        q->lv[L] = sim_calloc(RADIX, sizeof(bkt));
        if (!q->lv[L]) {
            for (unsigned k = 0; k < L; k++)
                if (added >> k & 1) {
                    sim_free(q->lv[k]);
                    q->lv[k] = NULL;
                    q->bytes -= RADIX * sizeof(bkt);
                }
            return SIM_ENOMEM;
        }
        q->bytes += RADIX * sizeof(bkt);
        added |= 1u << L;
    }
    return 0;
}

evq *evq_new(void)
{
    evq *q = sim_calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->bytes = sizeof *q;
    q->front = 1;
    q->flim = SIM_TIME_MAX;
    q->cap = SMALL_CAP;
    q->esc_free = UINT64_MAX;
    q->up_at = UP_AT;
    q->up = UP_AT - 1;
    q->down_at = DOWN_AT;
    q->low = SMALL_LOW;
    return q;
}

void evq_free(evq *q)
{
    if (!q)
        return;
    slab *s = q->slabs;
    while (s) {
        slab *nx = s->next;
        sim_free(s);
        s = nx;
    }
    for (unsigned L = 0; L < NT; L++)
        sim_free(q->lv[L]);
    sim_free(q->esc);
    sim_free(q);
}

/* WINDOW: the next window and whether its table is in use, for the pivot
 * p (>= the current one): unchanged while p is before the window; else the
 * one after p's, in use unless a bucket beyond the table holds one of its
 * times (their lowest one's minimum says), not counting bucket `skip` (the
 * one a redistribution empties; NB for none). */
static void win_probe(const evq *q, sim_time p, unsigned skip, uint64_t *sw, int *ok)
{
    uint64_t w = p >> WIN_SH;
    if (w < q->sw) {
        *sw = q->sw;
        *ok = q->sok;
        return;
    }
    *sw = w + 1;
    /* a window that starts a new range of level SEC_L + 2 or above (a carry
     * out of digit SEC_L + 1) is not in use: a bucket of that level, valid
     * for p, would not be for the window's start */
    *ok = ((w + 1) & (RADIX - 1)) != 0;
    if (!*ok)
        return;
    const unsigned from = (SEC_T + 1) * RADIX; /* the first bucket beyond the table */
    /* the non-empty words from that bucket's on, by the summary word */
    for (uint64_t ws = q->words >> (from / 64) << (from / 64); ws; ws &= ws - 1) {
        unsigned k = (unsigned)__builtin_ctzll(ws);
        uint64_t m = q->nonempty[k];
        if (k == from / 64)
            m &= ~(uint64_t)0 << (from % 64);
        if (k == skip / 64)
            m &= ~((uint64_t)1 << (skip % 64));
        if (m) {
            unsigned i = k * 64 + (unsigned)__builtin_ctzll(m);
            *ok = q->lv[i / RADIX][i % RADIX].bmin >> WIN_SH > w + 1;
            break;
        }
    }
}

/* Set the pivot p, moving the window when p reaches it (its table is
 * empty then). */
static inline void set_piv(evq *q, sim_time p)
{
    q->piv = p;
    if (__builtin_expect(p >> WIN_SH >= q->sw, 0)) {
#ifndef NDEBUG
        for (unsigned i = SEC_T * RADIX; i < (SEC_T + 1) * RADIX; i++)
            assert(!(q->nonempty[i >> 6] >> (i & 63) & 1)); /* its table is empty */
#endif
        uint64_t sw;
        int ok;
        win_probe(q, p, NB, &sw, &ok);
        q->sw = sw;
        q->sok = ok;
    }
}

/* The bucket number of time t > piv in the current state. */
static inline unsigned bucket_of(const evq *q, sim_time t)
{
    return bucket_at(t, q->piv, q->sw, q->sok);
}

/* Free blocks a redistribution of bucket i (level L) around pivot `piv`
 * (and the window sw, ok) needs, SMALL in *small and BIG returned: a dry run of the move that
 * tracks the bytes each destination's tail holds (entry 0 is the now lane,
 * entry j + 1 bucket j; the source is at level L, so j < L * RADIX; the top
 * bit says the destination has more than its first block) and replays its
 * block takes and returns. Also sets *levels to the levels the move writes. */
static size_t redistribution_need(evq *q, unsigned i, sim_time piv, uint64_t sw, int ok,
                                  unsigned *levels, size_t *small)
{
    const uint32_t MORE = UINT32_C(1) << 31;
    unsigned T = i / RADIX, L = lvl_of(T), w = rec_w(L);
    const bkt *b = slot_of(q, i);
    uint32_t off[NB + 1];
    memset(off, 0, (T * RADIX + 1) * sizeof off[0]);
    long held[2] = {0, 0}, worst[2] = {0, 0}; /* net blocks taken: the returns can lead */
    unsigned lvs = 0;
    sim_time base = bucket_base(piv, sw, i), mask = low_mask(L);
    blk *tl = b->tail, *x = tl->next;
    uint32_t o = 0, cap = SPAY;
    while (x != tl || o != b->off) {
        uint32_t was = cap;
        blk *from = x;
        sim_time t = ring_time(&x, &o, &cap, w, base, mask);
        if (x != from)
            held[kind_of(was)]--; /* the move returns the block it left */
        unsigned j = 0, dw = REC_FIX;
        if (t != piv) {
            unsigned d = bucket_at(t, piv, sw, ok);
            j = d + 1;
            dw = wid(d);
            lvs |= 1u << (d / RADIX);
        }
        uint32_t u = off[j] & ~MORE, dcap = off[j] & MORE ? PAY : SPAY;
        if (!off[j]) {
            if (++held[SMALL] > worst[SMALL])
                worst[SMALL] = held[SMALL];
            off[j] = dw;
        } else if (ring_takes(u, dcap, dw)) {
            if (++held[BIG] > worst[BIG])
                worst[BIG] = held[BIG];
            off[j] = (u + dw - dcap) | MORE;
        } else {
            off[j] += dw;
        }
    }
    *levels = lvs;
    *small = (size_t)worst[SMALL];
    return (size_t)worst[BIG];
}

/* Move bucket i (level L >= 1, more than FRONT_MAX events or above
 * FRONT_LEVEL) into the empty now lane and lower levels around its minimum:
 * 0, or SIM_ENOMEM with nothing changed. */
static NOINLINE int redistribute(evq *q, unsigned i)
{
    unsigned T = i / RADIX, L = lvl_of(T), w = rec_w(L);
    bkt *s = slot_of(q, i);
    sim_time piv = s->bmin;
    uint64_t sw;
    int ok;
    win_probe(q, piv, i, &sw, &ok); /* s is emptied: its events go by (sw, ok) */
    /* make sure the blocks and tables the move takes exist (MEMORY): at
     * most one first block per destination, one destination per event */
    size_t small = (size_t)T * (RADIX - 1) + 1;
    if (s->cnt < small)
        small = s->cnt;
    size_t big = small + 2;
    unsigned lowmask = (1u << T) - 1, levels = lowmask;
    int have_levels = 1;
    for (unsigned k = 0; k < T; k++)
        have_levels &= q->lv[k] != NULL;
    if (((q->nfree[SMALL] < small || q->nfree[BIG] < big) &&
         q->nblocks[BIG] + q->nblocks[SMALL] < EXACT_BELOW) ||
        !have_levels)
        big = redistribution_need(q, i, piv, sw, ok, &levels, &small);
    int rc = 0; /* (calls of cold functions only on a branch: GCC treats the
                 * code after an unconditional one as cold too) */
    if (!have_levels && (rc = need_levels(q, levels)) != 0)
        return rc;
    if ((q->nfree[SMALL] < small || q->nfree[BIG] < big) && (rc = need_blocks(q, small, big)) != 0)
        return rc;
    blk *tl = s->tail, *x = tl->next;
    uint32_t end = s->off, o = 0, cap = SPAY;
    sim_time base = bucket_base(piv, q->sw, i), mask = low_mask(L);
    s->tail = NULL;
    unmark(q, i);
    q->piv = piv;
    q->sw = sw;
    q->sok = ok;
    /* stable: scan in order, append to empty destinations (FIFO TIES) */
    blk *pf = NULL;
    while (x != tl || o != end) {
        if (x != pf && x != tl) { /* blocks are scattered: fetch the next one early */
            pf = x;
            for (size_t k = 0; k < BLK_BYTES; k += 64)
                __builtin_prefetch((const char *)x->next + k);
        }
        rec r;
        ring_get(q, &x, &o, &cap, w, &r, base, mask, 1);
        if (r.t == piv)
            lane_put(q, &r);
        else
            radix_put(q, bucket_of(q, r.t), &r);
    }
    blk_put(q, tl, kind_of(cap));
    return 0;
}

/* FRONT: the c keys of a bucket of level L, each (its time's bits below
 * digit L, its position), in key order: a stable counting pass on the top
 * bits of the keys' times, about log2(c) of them (one event per bin), for
 * more than PRESORT_ABOVE events, leaves an insertion sort little to do.
 * Returns key or tmp, whichever holds them; *moved is set when the order
 * is not the positions' (always after the counting pass). */
static inline ALWAYS_INLINE uint64_t *sort_keys(uint64_t *key, uint64_t *tmp, uint32_t c, unsigned L, int *moved)
{
    uint64_t *k = key;
    int mv = 0;
    if (L > 0 && c > PRESORT_ABOVE) {
        unsigned bits = 32u - (unsigned)__builtin_clz(c - 1); /* ceil(log2(c)) >= 5 */
        if (bits > EVQ_DIGIT)
            bits = EVQ_DIGIT;
        unsigned top = IDX_BITS + L * EVQ_DIGIT - bits;
        uint16_t at[257];
        memset(at, 0, ((1u << bits) + 1) * sizeof at[0]);
        for (uint32_t j = 0; j < c; j++)
            at[(key[j] >> top) + 1]++;
        for (unsigned b = 1; b <= 1u << bits; b++)
            at[b] = (uint16_t)(at[b] + at[b - 1]);
        for (uint32_t j = 0; j < c; j++)
            tmp[at[key[j] >> top]++] = key[j];
        k = tmp;
        mv = 1;
    }
    if (L > 0) /* a level-0 bucket holds one time, in insertion order */
        for (uint32_t j = 1; j < c; j++) {
            uint64_t v = k[j];
            uint32_t m = j;
            for (; m > 0 && k[m - 1] > v; m--)
                k[m] = k[m - 1];
            k[m] = v;
            mv |= m != j;
        }
    *moved = mv;
    return k;
}

/* FRONT: the array holds the c events of bucket i, taken whole, whose
 * range ends at flim. */
static inline void front_filled(evq *q, unsigned i, uint32_t c, sim_time flim)
{
    slot_of(q, i)->tail = NULL;
    unmark(q, i);
    q->sh = 0;
    q->sn = c;
    q->front = 1;
    q->cap = SM_CAP;
    q->shifted = 0;
    q->flim = flim;
}

/* FRONT: sort bucket i (at most FRONT_MAX events, level <= FRONT_LEVEL)
 * into the empty array, which then covers its whole time range. */
static void extract(evq *q, unsigned i)
{
    unsigned L = lvl_of(i / RADIX), w = rec_w(L);
    bkt *s = slot_of(q, i);
    blk *tl = s->tail, *x = tl->next;
    uint32_t end = s->off, o = 0, cap = SPAY;
    sim_time p = s->bmin, low = low_mask(L), base = bucket_base(p, q->sw, i);
    uint64_t key[FRONT_MAX], tmp[FRONT_MAX];
    sim_event ev[FRONT_MAX];
    uint32_t c = 0;
    /* in bucket order: into the (empty) array when few (often in order
     * already), else into ev[] for the permutation */
    int presort = L > 0 && s->cnt > PRESORT_ABOVE;
    sim_event *dst = presort ? ev : q->sm;
    while (x != tl || o != end) {
        rec r;
        ring_get(q, &x, &o, &cap, w, &r, base, low, 1);
        /* the bits below the bucket's digit, then the position: the key
         * orders by (time, insertion) */
        key[c] = (r.t & low) << IDX_BITS | c;
        event_of(q, &r, &dst[c]);
        c++;
    }
    blk_put(q, tl, kind_of(cap));
    int moved;
    const uint64_t *k = sort_keys(key, tmp, c, L, &moved);
    if (moved) { /* the array in key order */
        if (!presort)
            memcpy(ev, q->sm, c * sizeof ev[0]);
        for (uint32_t j = 0; j < c; j++)
            q->sm[j] = ev[k[j] & ((1u << IDX_BITS) - 1)];
    }
    front_filled(q, i, c, p | low);
    set_piv(q, p);
}

/* Whole mode: free WHOLE blocks a redistribution of the bucket with tail tl
 * (cnt events) around pivot `piv` needs: a dry run of the move that counts
 * the events each destination receives (counter 0 is the now lane, counter
 * j + 1 bucket j; the source is at level L, so j < L * RADIX) and replays
 * its block takes and returns. Also sets *levels to the levels the move
 * writes. */
static size_t w_redistribution_need(const bkt *b, sim_time piv, unsigned L, unsigned *levels)
{
    uint32_t cnt[NB + 1];
    memset(cnt, 0, (L * RADIX + 1) * sizeof cnt[0]);
    size_t held = 0, worst = 0;
    unsigned lvs = 0;
    const blk *tl = b->tail, *x = tl->next;
    for (;;) {
        uint32_t end = (x == tl) ? tail_fill(b->cnt) : BLK_N;
        for (uint32_t r = 0; r < end; r++) {
            sim_time t = x->ev[r].time;
            unsigned j = 0;
            if (t != piv) {
                j = w_bucket_of(t, piv) + 1;
                lvs |= 1u << ((j - 1) / RADIX);
            }
            if (cnt[j]++ % BLK_N == 0 && ++held > worst)
                worst = held;
        }
        if (x == tl)
            break;
        held--; /* the move returns the consumed block */
        x = x->next;
    }
    *levels = lvs;
    return worst;
}

/* Whole mode: move bucket i (level L >= 1, more than FRONT_MAX events or
 * above FRONT_LEVEL) into the empty now lane and lower levels around its
 * minimum: 0, or SIM_ENOMEM with nothing changed. */
static NOINLINE int w_redistribute(evq *q, unsigned i)
{
    unsigned L = i / RADIX;
    bkt *s = slot_of(q, i);
    blk *tl = s->tail;
    uint64_t cnt = s->cnt;
    sim_time piv = s->bmin;
    /* make sure the blocks and level tables the move takes exist (MEMORY) */
    size_t need = (size_t)L * (RADIX - 1) + 1;
    if (cnt < need)
        need = cnt; /* at most one destination per event */
    unsigned lowmask = (1u << L) - 1, levels = lowmask;
    int have_levels = 1;
    for (unsigned k = 0; k < L; k++)
        have_levels &= q->lv[k] != NULL;
    if ((q->nfree[WHOLE] < need && q->nblocks[WHOLE] < EXACT_BELOW) || !have_levels)
        need = w_redistribution_need(s, piv, L, &levels);
    int rc = 0; /* (calls of cold functions only on a branch: GCC treats the
                 * code after an unconditional one as cold too) */
    if (!have_levels && (rc = need_levels(q, levels)) != 0)
        return rc;
    if (q->nfree[WHOLE] < need && (rc = grow(q, WHOLE, need)) != 0)
        return rc;
    s->tail = NULL;
    unmark(q, i);
    q->piv = piv;
    /* stable: scan in order, append to empty destinations (FIFO TIES) */
    blk *x = tl->next;
    for (;;) {
        uint32_t end = BLK_N;
        if (x == tl)
            end = tail_fill(cnt);
        else /* blocks are scattered: fetch the next one early */
            for (size_t off = 0; off < sizeof(blk); off += 64)
                __builtin_prefetch((const char *)x->next + off);
        for (uint32_t r = 0; r < end; r++) {
            const sim_event *e = &x->ev[r];
            if (e->time == piv)
                w_lane_put(q, e);
            else
                w_radix_put(q, w_bucket_of(e->time, piv), e);
        }
        blk *nx = x->next;
        int done = (x == tl);
        blk_put(q, x, WHOLE);
        if (done)
            break;
        x = nx;
    }
    return 0;
}

/* Whole mode: sort bucket i (at most FRONT_MAX events, level <=
 * FRONT_LEVEL) into the empty array, which then covers its whole time
 * range. */
static void w_extract(evq *q, unsigned i)
{
    unsigned L = i / RADIX, sh = L * EVQ_DIGIT;
    bkt *s = slot_of(q, i);
    blk *tl = s->tail;
    uint64_t cnt = s->cnt;
    sim_time p = s->bmin, low = ((sim_time)1 << sh) - 1;
    uint64_t key[FRONT_MAX], tmp[FRONT_MAX];
    const sim_event *src[FRONT_MAX];
    uint32_t c = 0;
    blk *x = tl->next;
    for (;;) {
        uint32_t end = (x == tl) ? tail_fill(cnt) : BLK_N;
        for (uint32_t r = 0; r < end; r++, c++) {
            /* the bits below the bucket's digit, then the position: the key
             * orders by (time, insertion) */
            key[c] = (x->ev[r].time & low) << IDX_BITS | c;
            src[c] = &x->ev[r];
        }
        blk *nx = x->next;
        int done = (x == tl);
        blk_put(q, x, WHOLE); /* only its link changes: the events stay readable */
        if (done)
            break;
        x = nx;
    }
    int moved;
    const uint64_t *k = sort_keys(key, tmp, c, L, &moved);
    for (uint32_t j = 0; j < c; j++)
        q->sm[j] = *src[k[j] & ((1u << IDX_BITS) - 1)];
    front_filled(q, i, c, p | low);
    q->piv = p;
}

/* The now lane and the array are empty and the buckets are not: refill one
 * of them from the lowest bucket, i. 0, or SIM_ENOMEM with nothing changed. */
static NOINLINE int refill(evq *q, unsigned i)
{
    unsigned L = q->cm ? lvl_of(i / RADIX) : i / RADIX;
    bkt *b = slot_of(q, i);
    if (L > 0 && b->cnt <= FRONT_MAX && L <= FRONT_LEVEL) {
        if (q->cm)
            extract(q, i);
        else
            w_extract(q, i);
        return 0;
    }
    if (L == 0) { /* one time: the bucket becomes the now lane, nothing moves
                   * (compact: its records have the lane's width) */
        lane *l = &q->now;
        l->tail = b->tail;
        l->rd = 0;
        if (q->cm) {
            l->wr = b->off;
            l->small = 1;
        } else {
            l->head = b->tail->next;
            l->wr = tail_fill(b->cnt);
        }
        b->tail = NULL;
        unmark(q, i);
        if (q->cm)
            set_piv(q, b->bmin);
        else
            q->piv = b->bmin;
        q->front = 0;
        return 0;
    }
    int rc = q->cm ? redistribute(q, i) : w_redistribute(q, i);
    if (!rc)
        q->front = 0;
    return rc;
}

/* Blocks, escape entries and level tables for putting the m events at a
 * into the buckets around the clock c, and then event e: 0, or SIM_ENOMEM
 * with nothing changed. */
static int need_for_move(evq *q, const sim_event *a, uint32_t m, const sim_event *e, sim_time c)
{
    sim_time t = e->time;
    uint64_t sw;
    int ok;
    win_probe(q, c, NB, &sw, &ok); /* what set_piv(q, c) will make it */
    unsigned levels = t != c ? 1u << (bucket_at(t, c, sw, ok) / RADIX) : 0;
    for (uint32_t k = 0; k < m; k++)
        if (a[k].time != c)
            levels |= 1u << (bucket_at(a[k].time, c, sw, ok) / RADIX);
    int rc = need_levels(q, levels);
    if (rc)
        return rc;
    /* the events go to empty destinations, each taking a first block and,
     * past SPAY bytes (at least SPAY / REC_WIN events), BIG blocks for
     * their bytes and one more; e may open a bucket or fill a tail */
    size_t small = (size_t)m + 1, big = ((size_t)m * REC_WIN) / PAY + m / (SPAY / REC_WIN) + 2;
    if ((q->nfree[SMALL] < small || q->nfree[BIG] < big) && (rc = need_blocks(q, small, big)) != 0)
        return rc;
    return esc_need(q, esc_count(a, m) + !packs(e));
}

/* FRONT: move the m events at a (in array order, all >= the clock c) into
 * the now lane (time c) and the empty buckets of the levels below the
 * array's, around c, making sure the memory for them and for pushing e
 * exists first: 0, or SIM_ENOMEM with nothing changed. */
static COLD int move_out(evq *q, const sim_event *a, uint32_t m, const sim_event *e, sim_time c)
{
    int rc;
    if (q->cm) {
        if ((rc = need_for_move(q, a, m, e, c)) != 0)
            return rc;
        set_piv(q, c);
        for (uint32_t k = 0; k < m; k++) {
            rec r = rec_of(q, &a[k]);
            if (a[k].time == c)
                lane_put(q, &r);
            else
                radix_put(q, bucket_of(q, a[k].time), &r);
        }
        return 0;
    }
    unsigned levels = e->time != c ? 1u << (w_bucket_of(e->time, c) / RADIX) : 0;
    for (uint32_t k = 0; k < m; k++)
        if (a[k].time != c)
            levels |= 1u << (w_bucket_of(a[k].time, c) / RADIX);
    if ((rc = need_levels(q, levels)) != 0)
        return rc;
    size_t need = (size_t)m + 1; /* each event may open a bucket, and so may e */
    if (q->nfree[WHOLE] < need && (rc = grow(q, WHOLE, need)) != 0)
        return rc;
    q->piv = c;
    for (uint32_t k = 0; k < m; k++) {
        if (a[k].time == c)
            w_lane_put(q, &a[k]);
        else
            w_radix_put(q, w_bucket_of(a[k].time, c), &a[k]);
    }
    return 0;
}

/* FRONT: the array is full and e->time <= flim: move the array into the now
 * lane and the lower levels around the clock, making sure the memory for
 * this and for pushing t exists first. 0, or SIM_ENOMEM with nothing changed. */
static COLD int spill(evq *q, const sim_event *e)
{
    int rc = move_out(q, q->sm + q->sh, q->sn, e, q->last);
    if (rc)
        return rc;
    q->sh = q->sn = 0;
    q->front = 0;
    return 0;
}

/* Append the events of the ring with tail tl (records of width w, `end`
 * bytes used in the tail, reading from byte `o` of the head, of capacity
 * cap) to the array, and return its blocks. */
static void ring_to_small(evq *q, blk *tl, uint32_t o, uint32_t cap, uint32_t end, unsigned w,
                          sim_time base, sim_time mask)
{
    blk *x = tl->next;
    while (x != tl || o != end) {
        rec r;
        ring_get(q, &x, &o, &cap, w, &r, base, mask, 1);
        event_of(q, &r, &q->sm[q->sn++]);
    }
    blk_put(q, tl, kind_of(cap));
}

/* Whole mode: append the `cnt` events of the chain of blocks from x
 * (reading from slot r; the last block is tl) to the array, and return its
 * blocks. */
static void w_chain_to_small(evq *q, blk *x, blk *tl, uint32_t r, uint64_t cnt)
{
    for (;;) {
        for (; r < BLK_N && cnt > 0; r++, cnt--)
            q->sm[q->sn++] = x->ev[r];
        blk *nx = x->next;
        int done = (x == tl);
        blk_put(q, x, WHOLE);
        if (done)
            break;
        x = nx;
        r = 0;
    }
}

/* SMALL QUEUES: move every pending event (at most SMALL_LOW) into the array. */
static COLD void to_small(evq *q)
{
    if (q->sh) {
        memmove(q->sm, q->sm + q->sh, q->sn * sizeof q->sm[0]);
        q->sh = 0;
    }
    uint32_t from = q->sn; /* the array's events precede all others */
    lane *l = &q->now;
    if (l->tail && q->cm) {
        ring_to_small(q, l->tail, l->rd, l->small ? SPAY : PAY, l->wr, REC_FIX, q->piv, 0);
    } else if (l->tail) {
        uint64_t cnt = 0; /* the lane's events: whole blocks between its ends */
        for (blk *x = l->head; x != l->tail; x = x->next)
            cnt += BLK_N;
        w_chain_to_small(q, l->head, l->tail, l->rd, cnt + l->wr - l->rd);
    }
    memset(l, 0, sizeof *l);
    while (q->words) {
        unsigned i = lowest(q);
        bkt *s = slot_of(q, i);
        if (q->cm)
            ring_to_small(q, s->tail, 0, SPAY, s->off, wid(i), bucket_base(q->piv, q->sw, i),
                          low_mask(lvl_of(i / RADIX)));
        else
            w_chain_to_small(q, s->tail->next, s->tail, 0, s->cnt);
        s->tail = NULL;
        unmark(q, i);
    }
    /* stable insertion sort by time: equal times came from one bucket, in order */
    for (uint32_t i = from + 1; i < q->sn; i++) {
        sim_event e = q->sm[i];
        uint32_t j = i;
        while (j > from && q->sm[j - 1].time > e.time) {
            q->sm[j] = q->sm[j - 1];
            j--;
        }
        q->sm[j] = e;
    }
    q->front = 1;
    q->flim = SIM_TIME_MAX;
    q->cap = SMALL_CAP;
    if (q->cm)
        set_piv(q, q->last);
    else
        q->piv = q->last;
}

/* The first of a[0, n) later than t (n when none is): a binary search of
 * the sorted array, for narrowing and for a push's insertion point. */
static inline uint32_t first_later(const sim_event *a, uint32_t n, sim_time t)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (a[mid].time > t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* FRONT: a push of t <= flim would shift many events of the array, or finds
 * it full: narrow the array to the events of the clock's sub-range at the
 * level where t first differs from the clock (so that t falls beyond it,
 * unless t is the clock), moving the later events into the (empty) buckets
 * of the levels below flim's, around the clock; make sure the memory for
 * the move and for pushing t exists first. 1 when events moved, 0 when
 * none did (every event is in the new range), or SIM_ENOMEM with nothing
 * changed. */
static COLD int narrow(evq *q, const sim_event *e)
{
    sim_time t = e->time;
    sim_time c = q->last;
    unsigned l = t == c ? 0 : (63u - (unsigned)__builtin_clzll(t ^ c)) / EVQ_DIGIT;
    sim_time nf = c | (((sim_time)1 << (l * EVQ_DIGIT)) - 1);
    const sim_event *a = q->sm + q->sh;
    uint32_t lo = first_later(a, q->sn, nf);
    if (lo == q->sn && t == c)
        return 0;
    int rc = move_out(q, a + lo, q->sn - lo, e, c);
    if (rc)
        return rc;
    q->sn = lo;
    if (!lo)
        q->sh = 0;
    q->flim = nf;
    q->cap = SM_CAP;
    q->shifted = 0;
    return 1;
}

/* The insertion point of time t in the array: after every event of time
 * <= t (FIFO). Pushes mostly land near the end. */
static inline uint32_t insertion_point(const evq *q, sim_time t)
{
    const sim_event *a = q->sm + q->sh;
    uint32_t hi = q->sn, stop = hi > 8 ? hi - 8 : 0;
    while (hi > stop && a[hi - 1].time > t)
        hi--;
    if (hi == stop && hi > 0 && a[hi - 1].time > t)
        hi = first_later(a, hi, t);
    return hi;
}

/* Move the n events at a one slot up, one event at a time: a push mostly
 * moves a few (about 6 in the fabric replay), which costs less so than a
 * call to memmove. The empty asm keeps the compiler from turning the loop
 * back into that call. */
static inline void shift_up(sim_event *a, uint32_t n)
{
    sim_event *d = a + n;
    while (d > a) {
        d[0] = d[-1];
        d--;
        __asm__("" : "+r"(d));
    }
}

/* Whole mode: a push into the radix heap (or the now lane): t >= the
 * clock, and t is beyond the array's range (or the array is off). */
static inline ALWAYS_INLINE int w_push(evq *q, const sim_event *e)
{
    sim_time t = e->time;
    if (t == q->piv) {
        if (!q->free[WHOLE] && (!q->now.tail || q->now.wr == BLK_N) && grow(q, WHOLE, 1))
            return SIM_ENOMEM;
        w_lane_put(q, e);
    } else {
        unsigned i = w_bucket_of(t, q->piv);
        if (!q->lv[i / RADIX] && need_levels(q, 1u << (i / RADIX)))
            return SIM_ENOMEM;
        if (!q->free[WHOLE]) {
            const bkt *b = slot_of(q, i);
            if ((!b->tail || b->cnt % BLK_N == 0) && grow(q, WHOLE, 1))
                return SIM_ENOMEM;
        }
        w_radix_put(q, i, e);
    }
    q->n++;
    return 0;
}

/* Compact mode: a push into the radix heap (or the now lane): t >= the
 * clock, and t is beyond the array's range (or the array is off). */
static __attribute__((noinline)) int push_radix(evq *q, const sim_event *e)
{
    sim_time t = e->time;
    int lane_bound = t == q->piv;
    unsigned i = 0;
    if (!lane_bound) {
        i = bucket_of(q, t);
        if (!q->lv[i / RADIX] && need_levels(q, 1u << (i / RADIX)))
            return SIM_ENOMEM;
    }
    if (!q->esc_nfree && !packs(e) && esc_need(q, 1))
        return SIM_ENOMEM;
    if (!q->free[SMALL] || !q->free[BIG]) {
        int k = -1; /* the kind of block the push takes, if any */
        if (lane_bound) {
            const lane *l = &q->now;
            k = !l->tail ? SMALL : ring_takes(l->wr, lane_tail_cap(l), REC_FIX) ? BIG : -1;
        } else {
            const bkt *b = slot_of(q, i);
            k = !b->tail ? SMALL : ring_takes(b->off, tail_cap(b->tail), wid(i)) ? BIG : -1;
        }
        if (k >= 0 && !q->free[k] && grow(q, k, 1))
            return SIM_ENOMEM;
    }
    rec r = rec_of(q, e);
    if (lane_bound)
        lane_put(q, &r);
    else
        radix_put(q, i, &r);
    q->n++;
    return 0;
}

static COLD void go_compact(evq *q);

/* A whole-mode push into the radix heap or the now lane that leaves up_at
 * events pending: the events become records after it (MODES). */
static COLD int push_switch(evq *q, const sim_event *e)
{
    int rc = w_push(q, e);
    if (!rc)
        go_compact(q); /* the push is done whatever this does */
    return rc;
}

static __attribute__((noinline)) int w_push_radix(evq *q, const sim_event *e)
{
    return w_push(q, e);
}

/* A push into the radix heap or the now lane, in either mode: one compare
 * sends compact mode (q->up is 0 then) and the switch off the path of
 * whole mode, before any function is entered. (push_radix is not called
 * from cold code: GCC would compile it for size.) */
static inline int push_any(evq *q, const sim_event *e)
{
    if (__builtin_expect(q->n >= q->up, 0))
        return q->cm ? push_radix(q, e) : push_switch(q, e);
    return w_push_radix(q, e);
}

/* A push into the array that must narrow, spill or slide it first (or
 * that falls beyond the array once narrowed). */
static COLD int push_front(evq *q, const sim_event *e)
{
    sim_time t = e->time;
    uint32_t pos = insertion_point(q, t);
    if (q->sn == q->cap || q->shifted + (q->sn - pos) > NARROW_BUDGET) {
        int rc = narrow(q, e);
        if (rc < 0 && q->sn == q->cap)
            return rc;
        if (rc == 0 && q->sn == q->cap) {
            rc = spill(q, e); /* every event is at the clock, and so is t */
            if (rc)
                return rc;
        }
        if (rc == 1 && t > q->flim) /* memory for it is secured */
            return push_any(q, e);
        /* t is the clock (appended), or memory failed (insert anyway) */
        pos = insertion_point(q, t);
    }
    if (!q->front)
        return push_any(q, e);
    sim_event *base = q->sm + q->sh;
    if (q->sh + q->sn == SM_CAP) { /* no room at the end: slide to the start */
        memmove(q->sm, base, q->sn * sizeof q->sm[0]);
        q->sh = 0;
        base = q->sm;
    }
    q->shifted += q->sn - pos;
    if (q->sn - pos <= 16)
        shift_up(base + pos, q->sn - pos);
    else
        memmove(base + pos + 1, base + pos, (q->sn - pos) * sizeof *base);
    base[pos] = *e;
    q->sn++;
    q->n++;
    return 0;
}

/* The rest of a push more than 8 events deep in the array, whose last
 * 8 events moved up a slot already (a[i] is free): a binary search in
 * [0, i) for the insertion point, and the events from it moved up. */
static COLD int push_deep(evq *q, const sim_event *e, uint32_t i)
{
    sim_event *a = q->sm + q->sh;
    uint32_t hi = first_later(a, i, e->time);
    memmove(a + hi + 1, a + hi, (i - hi) * sizeof *a);
    a[hi] = *e;
    q->shifted += q->sn - hi;
    q->sn++;
    q->n++;
    return 0;
}

int evq_push(evq *q, const sim_event *e)
{
    sim_time t = e->time;
    if (t < q->last)
        return SIM_EINVAL;
    if (!q->front || t > q->flim)
        return push_any(q, e);
    if (q->sn == q->cap || q->sh + q->sn == SM_CAP || q->shifted + q->sn > NARROW_BUDGET)
        return push_front(q, e);
    /* Into the sorted array, where neither narrowing nor sliding can
     * follow, whatever the insertion point: find it as insertion_point()
     * does (back 8 events, then a binary search), moving each event passed
     * up a slot on the way. */
    sim_event *a = q->sm + q->sh, *p = a + q->sn;
    sim_event *lim = q->sn > 8 ? p - 8 : a;
    while (p > lim && p[-1].time > t) {
        p[0] = p[-1];
        p--;
    }
    uint32_t i = (uint32_t)(p - a);
    if (p == lim && i > 0 && a[i - 1].time > t)
        return push_deep(q, e, i);
    a[i] = *e;
    q->shifted += q->sn - i;
    q->sn++;
    q->n++;
    return 0;
}

/* Move the bits of table `from` to the empty table `to`. */
static void move_bits(evq *q, unsigned from, unsigned to)
{
#if EVQ_DIGIT >= 6 /* whole words (with fewer bits, k < RADIX / 64 would
                    * compare with 0, which -Wextra rejects) */
    for (unsigned k = 0; k < RADIX / 64; k++) {
        unsigned a = from * RADIX / 64 + k, b = to * RADIX / 64 + k;
        q->nonempty[b] = q->nonempty[a];
        q->nonempty[a] = 0;
        q->words &= ~((uint64_t)1 << a);
        if (q->nonempty[b])
            q->words |= (uint64_t)1 << b;
    }
#else
    for (unsigned d = 0; d < RADIX; d++) {
        unsigned i = from * RADIX + d;
        if (q->nonempty[i >> 6] >> (i & 63) & 1) {
            unmark(q, i);
            mark(q, to * RADIX + d);
        }
    }
#endif
}

/* WINDOW: the now lane, the array and the levels up to SEC_L are empty,
 * the window's table is not: it becomes level SEC_L's, around the window's
 * start, where every bucket but digit 0's stands as it would. Digit 0's
 * holds times that levels below cover, and the pivot (the window's start)
 * may be later than the clock, which a push may still precede: so the
 * lowest bucket, whatever its digit, is taken apart at once (as refill
 * does), leaving an event the pop takes without memory (a bucket of one
 * is popped where it is, and the pivot becomes its time). 0, or SIM_ENOMEM
 * with nothing changed. */
static COLD int window_in(evq *q)
{
    sim_time piv = q->piv;
    uint64_t sw = q->sw;
    int ok = q->sok;
    bkt *t = q->lv[SEC_L];
    q->lv[SEC_L] = q->lv[SEC_T];
    q->lv[SEC_T] = t;
    move_bits(q, SEC_T, SEC_L);
    set_piv(q, (sim_time)sw << WIN_SH);
    unsigned i0 = lowest(q); /* in level SEC_L's table: the lower ones are empty */
    if (slot_of(q, i0)->cnt > 1) {
        int rc = refill(q, i0);
        if (rc) { /* undo: the table goes back */
            move_bits(q, SEC_L, SEC_T);
            q->lv[SEC_T] = q->lv[SEC_L];
            q->lv[SEC_L] = t;
            q->piv = piv;
            q->sw = sw;
            q->sok = ok;
            return rc;
        }
    }
    return 0;
}

static COLD void low_water(evq *q);

/* The end of every pop: one event fewer; back to the array when few are
 * left (SMALL QUEUES), to whole mode when fewer than DOWN_AT (MODES). */
static inline int popped(evq *q)
{
    q->n--;
    if (q->n <= q->low && q->n > q->sn)
        low_water(q);
    return 1;
}

/* A pop from the sorted array (q->sn > 0). */
static inline int pop_sorted(evq *q, sim_event *out)
{
    *out = q->sm[q->sh++];
    q->last = out->time;
    if (--q->sn == 0)
        q->sh = 0;
    return popped(q);
}

/* A pop that finds the lowest bucket i holding more than one event (and
 * the array and the now lane empty): refill, then pop. */
static int refill_pop(evq *q, unsigned i, sim_event *out)
{
    int rc = refill(q, i);
    if (rc)
        return rc;
    return evq_pop(q, out) == 1 ? 1 : SIM_ENOMEM; /* cannot fail now */
}

/* Compact mode: a pop with the array empty. */
static NOINLINE int pop_compact(evq *q, sim_event *out)
{
    if (q->now.tail) {
        lane *l = &q->now;
        blk *h = l->tail->next, *x = h;
        uint32_t cap = l->small ? SPAY : PAY;
        rec r;
        ring_get(q, &x, &l->rd, &cap, REC_FIX, &r, q->piv, 0, 1);
        if (x != h) { /* h is free: x is the head */
            l->tail->next = x;
            l->small = 0;
        }
        if (x == l->tail) {
            if (l->rd == l->wr) {
                blk_put(q, x, kind_of(cap));
                l->tail = NULL;
                l->rd = l->wr = 0;
                l->small = 0;
            }
        } else if (x != h) {
            __builtin_prefetch(x->next);
        }
        event_of(q, &r, out);
        q->last = q->piv;
    } else if (q->n == 0) {
        return 0;
    } else {
        unsigned i = lowest(q);
        bkt *s = slot_of(q, i);
        if (i / RADIX == SEC_T) { /* WINDOW: its table first becomes level SEC_L's */
            int rc = window_in(q);
            if (rc)
                return rc;
            return evq_pop(q, out) == 1 ? 1 : SIM_ENOMEM; /* cannot fail now (window_in) */
        } else if (s->cnt == 1) { /* a bucket of one event: popped where it is */
            rec r;
            rec_load(s->tail->b, &r, s->bmin, 0);
            blk_put(q, s->tail, SMALL); /* one record: the first block only */
            s->tail = NULL;
            unmark(q, i);
            event_of(q, &r, out);
            q->last = out->time;
            set_piv(q, out->time);
            q->front = 0;
        } else {
            return refill_pop(q, i, out);
        }
    }
    return popped(q);
}

int evq_pop(evq *q, sim_event *out)
{
    if (q->sn) {
        return pop_sorted(q, out);
    } else if (q->cm) {
        return pop_compact(q, out);
    } else if (q->now.tail) {
        lane *l = &q->now;
        *out = l->head->ev[l->rd++];
        q->last = q->piv;
        if (l->head == l->tail) {
            if (l->rd == l->wr) {
                blk_put(q, l->head, WHOLE);
                l->head = l->tail = NULL;
                l->rd = l->wr = 0;
            }
        } else if (l->rd == BLK_N) {
            blk *x = l->head;
            l->head = x->next;
            l->rd = 0;
            blk_put(q, x, WHOLE);
            if (l->head != l->tail)
                __builtin_prefetch(l->head->next);
        }
    } else if (q->n == 0) {
        return 0;
    } else {
        unsigned i = lowest(q);
        bkt *s = slot_of(q, i);
        if (s->cnt == 1) { /* a bucket of one event: popped where it is */
            *out = s->tail->ev[0];
            blk_put(q, s->tail, WHOLE);
            s->tail = NULL;
            unmark(q, i);
            q->piv = q->last = out->time;
            q->front = 0;
        } else {
            return refill_pop(q, i, out);
        }
    }
    return popped(q);
}

int evq_pop_until(evq *q, sim_time until, sim_event *out)
{
    if (q->sn) { /* the front: evq_pop's first case */
        sim_time t = q->sm[q->sh].time;
        if (t > until || t == SIM_TIME_MAX)
            return 0;
        return pop_sorted(q, out);
    }
    sim_time t = evq_peek_time(q);
    if (t == SIM_TIME_MAX || t > until)
        return 0;
    return evq_pop(q, out);
}

sim_time evq_peek_time(evq *q)
{
    if (q->n == 0)
        return SIM_TIME_MAX;
    if (q->sn)
        return q->sm[q->sh].time;
    if (q->now.tail)
        return q->piv;
    return slot_of(q, lowest(q))->bmin;
}

size_t evq_size(const evq *q) { return q->n; }

size_t evq_bytes(const evq *q) { return q->bytes; }

uint64_t evq_mode_switches(const evq *q) { return q->switches; }

int evq_compact(const evq *q) { return q->cm; }

/* ------------------------------------------------------------- modes */

/* Blocks a ring of `bytes` bytes of records takes: a first block, and BIG
 * ones for what exceeds it (records straddle blocks, so none ends in a gap). */
static inline size_t ring_big(size_t bytes)
{
    return bytes > SPAY ? (bytes - SPAY + PAY - 1) / PAY : 0;
}

/* Free every slab of kind k; all its blocks are free. */
static void retire(evq *q, int k)
{
    assert(q->nfree[k] == q->nblocks[k]);
    for (slab **p = &q->slabs; *p;) {
        slab *s = *p;
        if (s->kind != k) {
            p = &s->next;
            continue;
        }
        *p = s->next;
        q->bytes -= sizeof(slab) + s->nblk * blk_bytes(k);
        sim_free(s);
    }
    q->free[k] = NULL;
    q->nfree[k] = q->nblocks[k] = 0;
}

/* Free what compact mode holds beside the tables: its blocks and the escape
 * table (every block and entry is free). */
static void retire_compact(evq *q)
{
    retire(q, SMALL);
    retire(q, BIG);
    assert(q->esc_nfree == q->esc_cap);
    sim_free(q->esc);
    q->bytes -= q->esc_cap * sizeof(esc);
    q->esc = NULL;
    q->esc_cap = q->esc_nfree = 0;
    q->esc_free = UINT64_MAX;
}

/* The non-empty buckets, in order, into b[]: their number. */
static unsigned nonempty_list(const evq *q, uint16_t *b)
{
    unsigned m = 0;
    for (unsigned w = 0; w < NWORDS; w++)
        for (uint64_t x = q->nonempty[w]; x; x &= x - 1)
            b[m++] = (uint16_t)(w * 64 + (unsigned)__builtin_ctzll(x));
    return m;
}

/* The tables and bitmap from whole mode's numbering (table L is level L) to
 * compact mode's (the window's table after level SEC_L's; up set), or back
 * (the window's table empty). */
static void renumber(evq *q, int up)
{
    if (up) {
        bkt *spare = q->lv[NT - 1];
        for (unsigned T = NT - 1; T > SEC_T; T--) {
            q->lv[T] = q->lv[T - 1];
            move_bits(q, T - 1, T);
        }
        q->lv[SEC_T] = spare;
    } else {
        bkt *win = q->lv[SEC_T];
        for (unsigned T = SEC_T; T < NT - 1; T++) {
            q->lv[T] = q->lv[T + 1];
            move_bits(q, T + 1, T);
        }
        q->lv[NT - 1] = win;
    }
}

/* MODES: whole events into records. Memory first (blocks for every bucket
 * and the lane, escape entries): 0, or SIM_ENOMEM with nothing changed
 * (and nothing more held). */
static int to_compact(evq *q)
{
    uint16_t list[NB];
    size_t small = 0, big = 0, nesc = 0;
    unsigned m = nonempty_list(q, list);
    for (unsigned j = 0; j < m; j++) {
        const bkt *b = slot_of(q, list[j]);
        unsigned L = list[j] / RADIX;
        small++;
        big += ring_big((size_t)b->cnt * rec_w(L));
        const blk *tl = b->tail, *x = tl;
        uint64_t left = b->cnt;
        do {
            x = x->next;
            for (uint32_t r = 0; r < BLK_N && left > 0; r++, left--)
                nesc += !packs(&x->ev[r]);
        } while (x != tl);
    }
    lane l = q->now;
    size_t nl = 0;
    for (blk *x = l.head; l.tail; x = x->next) {
        uint32_t r = x == l.head ? l.rd : 0, end = x == l.tail ? l.wr : BLK_N;
        for (; r < end; r++, nl++)
            nesc += !packs(&x->ev[r]);
        if (x == l.tail)
            break;
    }
    if (nl) {
        small++;
        big += ring_big(nl * REC_FIX);
    }
    if (need_blocks(q, small, big) || esc_need(q, nesc)) {
        retire_compact(q);
        return SIM_ENOMEM;
    }
    renumber(q, 1);
    q->cm = 1;
    q->sw = (q->piv >> WIN_SH) + 1; /* not in use while the buckets are */
    q->sok = 0;                     /* converted (then as win_probe says) */
    m = nonempty_list(q, list);
    for (unsigned j = 0; j < m; j++) {
        bkt *b = slot_of(q, list[j]);
        blk *tl = b->tail, *x = tl->next;
        uint64_t left = b->cnt;
        b->tail = NULL;
        unmark(q, list[j]);
        for (;;) {
            for (uint32_t r = 0; r < BLK_N && left > 0; r++, left--) {
                rec rc = rec_of(q, &x->ev[r]);
                radix_put(q, list[j], &rc);
            }
            blk *nx = x->next;
            int done = x == tl;
            blk_put(q, x, WHOLE);
            if (done)
                break;
            x = nx;
        }
    }
    memset(&q->now, 0, sizeof q->now);
    for (blk *x = l.head; l.tail;) {
        uint32_t r = x == l.head ? l.rd : 0, end = x == l.tail ? l.wr : BLK_N;
        for (; r < end; r++) {
            rec rc = rec_of(q, &x->ev[r]);
            lane_put(q, &rc);
        }
        blk *nx = x->next;
        int done = x == l.tail;
        blk_put(q, x, WHOLE);
        if (done)
            break;
        x = nx;
    }
    uint64_t sw;
    int ok;
    q->sw = 0; /* the next window after the pivot's, in use unless a bucket */
    win_probe(q, q->piv, NB, &sw, &ok); /* beyond its table holds its times */
    q->sw = sw;
    q->sok = ok;
    retire(q, WHOLE);
    q->up = 0; /* every push of the radix heap goes by push_radix */
    q->low = q->down_at > SMALL_LOW ? q->down_at : SMALL_LOW;
    q->retry = 0;
    q->switches++;
    return 0;
}

/* MODES: records into whole events; the window's buckets go to the one
 * bucket of level SEC_L + 1 that holds their times when the window is not
 * in use (empty when it is). Memory first (WHOLE blocks, that level's
 * table): 0, or SIM_ENOMEM with nothing changed. The blocks of records and
 * the escape table are freed, unless `keep` is set (evq_clear). */
static int to_whole(evq *q, int keep)
{
    uint16_t list[NB];
    unsigned m = nonempty_list(q, list);
    size_t need = 0, nwin = 0;
    for (unsigned j = 0; j < m; j++) {
        const bkt *b = slot_of(q, list[j]);
        if (list[j] / RADIX == SEC_T)
            nwin += b->cnt;
        else
            need += (b->cnt + BLK_N - 1) / BLK_N;
    }
    need += (nwin + BLK_N - 1) / BLK_N;
    lane l = q->now;
    size_t nl = 0;
    if (l.tail) {
        blk *x = l.tail->next;
        uint32_t o = l.rd, cap = l.small ? SPAY : PAY;
        while (x != l.tail || o != l.wr) {
            ring_time(&x, &o, &cap, REC_FIX, 0, 0);
            nl++;
        }
        need += (nl + BLK_N - 1) / BLK_N;
    }
    if (nwin && need_levels(q, 1u << (SEC_T + 1)))
        return SIM_ENOMEM;
    if (q->nfree[WHOLE] < need && grow(q, WHOLE, need))
        return SIM_ENOMEM;
    for (unsigned j = 0; j < m; j++) {
        unsigned i = list[j], L = lvl_of(i / RADIX);
        bkt *b = slot_of(q, i);
        blk *tl = b->tail, *x = tl->next;
        uint32_t o = 0, cap = SPAY, end = b->off;
        sim_time base = bucket_base(q->piv, q->sw, i), mask = low_mask(L);
        b->tail = NULL;
        unmark(q, i);
        while (x != tl || o != end) {
            rec r;
            sim_event e;
            ring_get(q, &x, &o, &cap, rec_w(L), &r, base, mask, 1);
            event_of(q, &r, &e);
            unsigned d = i; /* the window's events: all one bucket, empty before */
            if (i / RADIX == SEC_T)
                d = bucket_at(e.time, q->piv, q->sw, 0);
            assert(d / RADIX != SEC_T);
            w_radix_put(q, d, &e);
        }
        blk_put(q, tl, kind_of(cap));
    }
    memset(&q->now, 0, sizeof q->now);
    if (l.tail) {
        blk *x = l.tail->next;
        uint32_t o = l.rd, cap = l.small ? SPAY : PAY;
        while (x != l.tail || o != l.wr) {
            rec r;
            sim_event e;
            ring_get(q, &x, &o, &cap, REC_FIX, &r, q->piv, 0, 1);
            event_of(q, &r, &e);
            w_lane_put(q, &e);
        }
        blk_put(q, l.tail, kind_of(cap));
    }
    renumber(q, 0);
    if (!keep)
        retire_compact(q);
    q->cm = 0;
    q->up = q->up_at ? q->up_at - 1 : 0;
    q->low = SMALL_LOW;
    q->retry = 0;
    q->switches++;
    return 0;
}

/* MODES: a whole-mode push left q->up events pending or more: records
 * from now on, or, when that needs memory that cannot be had, whole events
 * for half as many such pushes (a failed try costs O(n) too). */
static COLD void go_compact(evq *q)
{
    if (q->retry)
        q->retry--;
    else if (to_compact(q))
        q->retry = q->n / 2;
}

/* A pop left q->low events or fewer, some outside the array: in compact
 * mode at down_at or fewer, whole events (when memory for them cannot be
 * had, again after half as many such pops); then, at SMALL_LOW or fewer,
 * every event into the array (in either mode). */
static COLD void low_water(evq *q)
{
    if (q->cm && q->n <= q->down_at) {
        if (q->retry)
            q->retry--;
        else if (to_whole(q, 0))
            q->retry = q->n / 2;
    }
    if (q->n <= SMALL_LOW && q->n > q->sn)
        to_small(q);
}

/* Return the blocks of the ring with tail tl to the free lists, its head of
 * kind `first`, the others of kind `rest`. */
static void ring_free(evq *q, blk *tl, int first, int rest)
{
    blk *x = tl->next;
    int k = first;
    for (;;) {
        blk *nx = x->next;
        int done = (x == tl);
        blk_put(q, x, k);
        if (done)
            break;
        x = nx;
        k = rest;
    }
}

/* Return every block of the now lane and of the buckets to the free list,
 * and every escape entry. */
static void drain(evq *q)
{
    lane *l = &q->now;
    if (l->tail && q->cm) {
        ring_free(q, l->tail, l->small ? SMALL : BIG, BIG);
    } else if (l->tail) {
        for (blk *x = l->head;;) {
            blk *nx = x->next;
            int done = x == l->tail;
            blk_put(q, x, WHOLE);
            if (done)
                break;
            x = nx;
        }
    }
    memset(l, 0, sizeof *l);
    while (q->words) {
        unsigned i = lowest(q);
        bkt *s = slot_of(q, i);
        ring_free(q, s->tail, q->cm ? SMALL : WHOLE, q->cm ? BIG : WHOLE);
        s->tail = NULL;
        unmark(q, i);
    }
    esc_reset(q);
}

void evq_clear(evq *q)
{
    drain(q);
    if (q->cm) /* nothing to convert: it takes no memory; the blocks of
                * records are kept for the next switch */
        (void)to_whole(q, 1);
    q->sh = q->sn = 0;
    q->n = 0;
    q->last = q->piv = 0;
    q->front = 1;
    q->flim = SIM_TIME_MAX;
    q->cap = SMALL_CAP;
    q->up = q->up_at ? q->up_at - 1 : 0;
    q->low = SMALL_LOW;
    q->retry = 0;
}

int evq_set_modes(evq *q, size_t up_at, size_t down_at)
{
    if (down_at >= up_at && (up_at || down_at))
        return SIM_EINVAL; /* no hysteresis: a switch at every push and pop */
    q->up_at = up_at;
    q->down_at = down_at;
    q->retry = 0;
    if (q->cm) {
        q->low = down_at > SMALL_LOW ? down_at : SMALL_LOW;
        return 0;
    }
    q->up = up_at ? up_at - 1 : 0;
    return up_at == 0 || q->n >= up_at ? to_compact(q) : 0;
}
