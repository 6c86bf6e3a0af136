/*
 * kv_plugin.c - the policy registries: the built-in eviction and routing
 * policies (kv_evict.c, kv_router.c) followed by those registered from
 * plug-ins, found by name; and the plug-in loader (dlopen).
 *
 * A plug-in is a shared object exporting memfab_plugin_init
 * (MEMFAB_PLUGIN_INIT_SYMBOL) that returns a memfab_plugin whose abi must
 * equal MEMFAB_PLUGIN_ABI (sim/plugin.h). Registered tables and the
 * shared objects stay for the life of the process (the tables live in the
 * object), so handles are never closed.
 *
 * Invariants: names are unique across built-ins and plug-ins (a clash is
 * refused, naming both); registering the same table twice (loading the
 * same file twice) is a no-op. The registry is process-wide and not
 * thread-safe, like the rest of memfab (one simulation per process).
 */
#include <dlfcn.h>
#include <string.h>

#include "models/kv/kvstore.h"
#include "sim/mem.h"

#define MAX_REGISTERED 64

static const memfab_evict_ops *reg_evict[MAX_REGISTERED]; /* from plug-ins */
static uint32_t n_evict;
static const memfab_router_ops *reg_router[MAX_REGISTERED];
static uint32_t n_router;
static const memfab_pair_router_ops *reg_pair[MAX_REGISTERED];
static uint32_t n_pair;
static const memfab_router_scope *reg_scope[MAX_REGISTERED]; /* version 3 */
static uint32_t n_scope;

const memfab_router_scope *kv_router_scope(const memfab_router_ops *ops)
{
    for (uint32_t i = 0; ops && i < n_scope; i++)
        if (reg_scope[i]->router == ops)
            return reg_scope[i];
    return NULL;
}

const memfab_evict_ops *kv_evict_find(const char *name)
{
    if (!name)
        return NULL;
    for (uint32_t i = 0; kv_evict_policies[i]; i++)
        if (strcmp(kv_evict_policies[i]->name, name) == 0)
            return kv_evict_policies[i];
    for (uint32_t i = 0; i < n_evict; i++)
        if (strcmp(reg_evict[i]->name, name) == 0)
            return reg_evict[i];
    return NULL;
}

const memfab_pair_router_ops *kv_pair_router_find(const char *name)
{
    if (!name)
        return NULL;
    for (uint32_t i = 0; kv_pair_router_policies[i]; i++)
        if (strcmp(kv_pair_router_policies[i]->name, name) == 0)
            return kv_pair_router_policies[i];
    for (uint32_t i = 0; i < n_pair; i++)
        if (strcmp(reg_pair[i]->name, name) == 0)
            return reg_pair[i];
    return NULL;
}

const memfab_router_ops *kv_router_find(const char *name)
{
    if (!name)
        return NULL;
    for (uint32_t i = 0; kv_router_policies[i]; i++)
        if (strcmp(kv_router_policies[i]->name, name) == 0)
            return kv_router_policies[i];
    for (uint32_t i = 0; i < n_router; i++)
        if (strcmp(reg_router[i]->name, name) == 0)
            return reg_router[i];
    return NULL;
}

static int evict_ok(const memfab_evict_ops *o)
{
    return o->name && *o->name && o->create && o->destroy && o->insert && o->touch && o->remove &&
           o->victim;
}

static int router_ok(const memfab_router_ops *o)
{
    return o->name && *o->name && o->create && o->destroy && o->route;
}

int kv_register_plugin(const memfab_plugin *p, sim_err *err)
{
    if (!p)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "plug-in: no plug-in table");
    const char *pn = p->name ? p->name : "(unnamed)";
    if (p->abi < MEMFAB_PLUGIN_ABI_MIN || p->abi > MEMFAB_PLUGIN_ABI)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                           "plug-in '%s' was built for policy interface version %u, but this"
                           " memfab provides versions %u..%u; rebuild it against this memfab's"
                           " <memfab/plugin.h>",
                           pn, (unsigned)p->abi, (unsigned)MEMFAB_PLUGIN_ABI_MIN,
                           (unsigned)MEMFAB_PLUGIN_ABI);
    /* version 1 tables end before pair_routers: never read it */
    const memfab_pair_router_ops *const *pairs = p->abi >= 2 ? p->pair_routers : NULL;
    /* Validate everything first, so a refused plug-in registers nothing. */
    uint32_t ne = 0, nr = 0, new_e = 0, new_r = 0;
    for (; p->evictions && p->evictions[ne]; ne++) {
        const memfab_evict_ops *o = p->evictions[ne];
        if (!evict_ok(o))
            return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                               "plug-in '%s': eviction policy %u ('%s') lacks a name or a function",
                               pn, (unsigned)ne, o->name ? o->name : "");
        const memfab_evict_ops *have = kv_evict_find(o->name);
        if (have == o)
            continue;
        if (have)
            return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                               "plug-in '%s': an eviction policy named '%s' already exists", pn,
                               o->name);
        for (uint32_t j = 0; j < ne; j++)
            if (strcmp(p->evictions[j]->name, o->name) == 0)
                return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                                   "plug-in '%s': eviction policy '%s' listed twice", pn, o->name);
        new_e++;
    }
    for (; p->routers && p->routers[nr]; nr++) {
        const memfab_router_ops *o = p->routers[nr];
        if (!router_ok(o))
            return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                               "plug-in '%s': routing policy %u ('%s') lacks a name or a function",
                               pn, (unsigned)nr, o->name ? o->name : "");
        const memfab_router_ops *have = kv_router_find(o->name);
        if (have == o)
            continue;
        if (have)
            return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                               "plug-in '%s': a routing policy named '%s' already exists", pn,
                               o->name);
        for (uint32_t j = 0; j < nr; j++)
            if (strcmp(p->routers[j]->name, o->name) == 0)
                return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                                   "plug-in '%s': routing policy '%s' listed twice", pn, o->name);
        new_r++;
    }
    uint32_t np = 0, new_p = 0;
    for (; pairs && pairs[np]; np++) {
        const memfab_pair_router_ops *o = pairs[np];
        if (!o->name || !*o->name || !o->create || !o->destroy || !o->route_pair)
            return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                               "plug-in '%s': pair routing policy %u ('%s') lacks a name or a"
                               " function",
                               pn, (unsigned)np, o->name ? o->name : "");
        const memfab_pair_router_ops *have = kv_pair_router_find(o->name);
        if (have == o)
            continue;
        if (have || kv_router_find(o->name))
            return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                               "plug-in '%s': a routing policy named '%s' already exists", pn,
                               o->name);
        new_p++;
    }
    /* version 1 and 2 tables end before router_scopes: never read it */
    const memfab_router_scope *const *scopes = p->abi >= 3 ? p->router_scopes : NULL;
    uint32_t ns = 0, new_s = 0;
    for (; scopes && scopes[ns]; ns++) {
        const memfab_router_scope *o = scopes[ns];
        uint32_t j = 0;
        while (j < nr && p->routers[j] != o->router)
            j++;
        if (j == nr || !o->lightest)
            return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                               "plug-in '%s': router scope %u names no router of the plug-in"
                               " or asks for 0 lightest instances",
                               pn, (unsigned)ns);
        for (uint32_t i = 0; i < ns; i++) /* one scope a router, within the plug-in too */
            if (scopes[i]->router == o->router)
                return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                                   "plug-in '%s': routing policy '%s' has two scopes", pn,
                                   o->router->name);
        const memfab_router_scope *have = kv_router_scope(o->router);
        if (have == o)
            continue;
        if (have)
            return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                               "plug-in '%s': routing policy '%s' has two scopes", pn,
                               o->router->name);
        new_s++;
    }
    if (n_evict + new_e > MAX_REGISTERED || n_router + new_r > MAX_REGISTERED ||
        n_pair + new_p > MAX_REGISTERED || n_scope + new_s > MAX_REGISTERED)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0,
                           "plug-in '%s': more than %d plug-in policies of one kind", pn,
                           MAX_REGISTERED);
    for (uint32_t i = 0; i < ne; i++)
        if (kv_evict_find(p->evictions[i]->name) != p->evictions[i])
            reg_evict[n_evict++] = p->evictions[i];
    for (uint32_t i = 0; i < nr; i++)
        if (kv_router_find(p->routers[i]->name) != p->routers[i])
            reg_router[n_router++] = p->routers[i];
    for (uint32_t i = 0; i < np; i++)
        if (kv_pair_router_find(pairs[i]->name) != pairs[i])
            reg_pair[n_pair++] = pairs[i];
    for (uint32_t i = 0; i < ns; i++)
        if (kv_router_scope(scopes[i]->router) != scopes[i])
            reg_scope[n_scope++] = scopes[i];
    return 0;
}

int kv_load_plugin(const char *path, sim_err *err)
{
    if (!path || !*path)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "plug-in: no file name");
    /* dlopen searches the library path for a bare name; a plug-in is a file. */
    char buf[4096];
    const char *p = path;
    if (!strchr(path, '/')) {
        if (strlen(path) + 3 > sizeof buf)
            return sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "%s: file name too long", path);
        strcpy(buf, "./");
        strcat(buf, path);
        p = buf;
    }
    dlerror();
    void *h = dlopen(p, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: cannot load plug-in: %s", path,
                           why ? why : "unknown error");
    }
    void *sym = dlsym(h, MEMFAB_PLUGIN_INIT_SYMBOL);
    if (!sym) {
        dlclose(h);
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                           "%s: not a memfab plug-in (no symbol %s)", path,
                           MEMFAB_PLUGIN_INIT_SYMBOL);
    }
    memfab_plugin_init_fn init;
    memcpy(&init, &sym, sizeof init); /* ISO C forbids a direct object-to-function cast */
    const memfab_plugin *pl = init();
    if (!pl) {
        dlclose(h);
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "%s: %s returned no plug-in", path,
                           MEMFAB_PLUGIN_INIT_SYMBOL);
    }
    if (pl->abi < MEMFAB_PLUGIN_ABI_MIN || pl->abi > MEMFAB_PLUGIN_ABI) {
        unsigned got = (unsigned)pl->abi;
        dlclose(h);
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                           "%s: plug-in built for policy interface version %u, but this memfab"
                           " provides versions %u..%u; rebuild it against this memfab's"
                           " <memfab/plugin.h>",
                           path, got, (unsigned)MEMFAB_PLUGIN_ABI_MIN,
                           (unsigned)MEMFAB_PLUGIN_ABI);
    }
    int rc = kv_register_plugin(pl, err);
    if (rc) {
        dlclose(h);
        if (err) {
            char msg[sizeof err->msg];
            memcpy(msg, err->msg, sizeof msg);
            sim_err_set(err, rc, NULL, 0, 0, "%s: %s", path, msg);
        }
        return rc;
    }
    return 0; /* the handle stays open: the registered tables live in it */
}
