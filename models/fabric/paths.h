/*
 * paths.h - the data paths (fabric.h: DMA, pageable, GDS, bounce, CXL
 * load/store) as itineraries for the engine: which ends' memories a
 * transfer crosses, which links it takes in which operation, whose copy
 * engine it holds and which host pays how much CPU time. Internal to the
 * fabric (fabric.c builds flows with it).
 */
#ifndef MEMFAB_MODELS_FABRIC_PATHS_H
#define MEMFAB_MODELS_FABRIC_PATHS_H

#include "models/fabric/engine.h"
#include "models/fabric/fabric.h"

/* The fabric settings a path depends on. */
typedef struct fab_path_opts {
    int gds;                 /* AUTO uses GDS (1) or bounce (0) for NVMe <-> GPU */
    uint64_t bounce_io;      /* bytes of one host bounce buffer (one I/O each) */
    uint64_t bounce_buffers; /* bounce buffers a transfer may fill at once */
    int bounce_mode;         /* FAB_BOUNCE_*: the CPU copies between SSD and device */
} fab_path_opts;

/* How the bounce path reaches the SSD: O_DIRECT into the pinned buffer (no
 * CPU copy), through the page cache (one copy), or a plain read() into
 * pageable memory and cudaMemcpy from it (two copies). */
enum { FAB_BOUNCE_O_DIRECT, FAB_BOUNCE_PAGE_CACHE, FAB_BOUNCE_PAGEABLE };

/* Build fl's itinerary for r (fl->path receives the resolved path; CPU
 * time and host memory are charged to fl; a path that fixes its own chunk
 * size and window in chunks sets fl->chunk and fl->window, 0 otherwise). *gate receives the copy-engine
 * gate the flow must hold while it runs, or NULL. 0, SIM_EINVAL (a path
 * that does not fit the ends) or SIM_ENOTFOUND (no route). */
int fab_path_plan(sim *s, fab_topo *t, const fab_path_opts *o, fab_flow *fl,
                  const fabric_req *r, fab_gate **gate);

/* The RDMA NIC serving component id (a GPU's `nic:`, else the nearest
 * rnic) and the host nearest to it; UINT32_MAX when none. */
uint32_t fab_path_nic_of(sim *s, fab_topo *t, uint32_t id);
uint32_t fab_path_host_of(sim *s, fab_topo *t, uint32_t id);

/* Path names, indexed by FABRIC_PATH_*, NULL-terminated. */
extern const char *const fab_path_names[];

#endif
