/*
 * imports.c - th_wasm_imports: a set of (module, name) -> extern bindings
 * that instantiation resolves a module's imports against.
 *
 * Bindings live in an open-addressing hash table keyed by the two names
 * (byte strings with lengths: names may hold NUL).  The set owns the keys
 * and the host function objects th_wasm_imports_add_func creates (each
 * with its own function type); it does not own externs bound with
 * add_extern or add_instance.  Lookups do not modify the set, so one set
 * may serve concurrent instantiations once it is fully built.
 */
#include <stdlib.h>
#include <string.h>

#include "wasm_int.h"

typedef struct imp_entry {
    char *key; /* module bytes then name bytes (owned), or NULL */
    uint32_t mlen, nlen;
    uint32_t hash;
    uint8_t kind; /* th_wasm_extern_kind */
    void *ext;
} imp_entry;

/* A host function with its type, allocated together. */
typedef struct host_func {
    struct host_func *next;
    th_wasm_func fn;
    wasm_functype type;
    uint8_t types[]; /* nparams + nresults */
} host_func;

struct th_wasm_imports {
    imp_entry *tab;
    uint32_t cap, count; /* cap: power of two */
    host_func *hosts;    /* owned host functions */
};

static uint32_t key_hash(const char *m, uint32_t ml, const char *n, uint32_t nl)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < ml; i++)
        h = (h ^ (uint8_t)m[i]) * 16777619u;
    h = (h ^ 0xffu) * 16777619u; /* separator: ("ab","c") != ("a","bc") */
    for (uint32_t i = 0; i < nl; i++)
        h = (h ^ (uint8_t)n[i]) * 16777619u;
    return h;
}

/* Slot of (m, n): the matching entry or the empty slot where it belongs. */
static imp_entry *find_slot(const th_wasm_imports *imp, const char *m, uint32_t ml, const char *n,
                            uint32_t nl, uint32_t h)
{
    uint32_t mask = imp->cap - 1;

    for (uint32_t k = h & mask;; k = (k + 1) & mask) {
        imp_entry *e = &imp->tab[k];
        if (e->key == NULL)
            return e;
        if (e->hash == h && e->mlen == ml && e->nlen == nl && memcmp(e->key, m, ml) == 0 &&
            memcmp(e->key + ml, n, nl) == 0)
            return e;
    }
}

static int grow(th_wasm_imports *imp)
{
    uint32_t ncap = imp->cap ? imp->cap * 2 : 16;
    imp_entry *nt = calloc(ncap, sizeof *nt), *old = imp->tab;
    uint32_t ocap = imp->cap;

    if (nt == NULL)
        return TH_ENOMEM;
    imp->tab = nt;
    imp->cap = ncap;
    for (uint32_t i = 0; i < ocap; i++) {
        if (old[i].key == NULL)
            continue;
        *find_slot(imp, old[i].key, old[i].mlen, old[i].key + old[i].mlen, old[i].nlen,
                   old[i].hash) = old[i];
    }
    free(old);
    return 0;
}

/* Bind (m, n) to (kind, ext).  With replace, an existing binding is
 * overwritten; otherwise it is TH_EEXIST. */
static int bind(th_wasm_imports *imp, const char *m, uint32_t ml, const char *n, uint32_t nl,
                uint8_t kind, void *ext, bool replace)
{
    uint32_t h = key_hash(m, ml, n, nl);
    imp_entry *e;

    if ((imp->count + 1) * 2 > imp->cap && grow(imp) < 0)
        return TH_ENOMEM;
    e = find_slot(imp, m, ml, n, nl, h);
    if (e->key == NULL) {
        char *key = malloc((size_t)ml + nl + 1);
        if (key == NULL)
            return TH_ENOMEM;
        memcpy(key, m, ml);
        memcpy(key + ml, n, nl);
        key[ml + nl] = '\0';
        e->key = key;
        e->mlen = ml;
        e->nlen = nl;
        e->hash = h;
        imp->count++;
    } else if (!replace)
        return TH_EEXIST;
    e->kind = kind;
    e->ext = ext;
    return 0;
}

th_wasm_imports *th_wasm_imports_new(void)
{
    return calloc(1, sizeof(th_wasm_imports));
}

void th_wasm_imports_free(th_wasm_imports *imp)
{
    if (imp == NULL)
        return;
    for (uint32_t i = 0; i < imp->cap; i++)
        free(imp->tab[i].key);
    free(imp->tab);
    while (imp->hosts != NULL) {
        host_func *next = imp->hosts->next;
        wasm_functype_release(imp->hosts->type.canon);
        free(imp->hosts);
        imp->hosts = next;
    }
    free(imp);
}

static int sig_type(char c)
{
    switch (c) {
    case 'i': return TH_WASM_I32;
    case 'I': return TH_WASM_I64;
    case 'f': return TH_WASM_F32;
    case 'F': return TH_WASM_F64;
    case 'r': return TH_WASM_FUNCREF;
    case 'e': return TH_WASM_EXTERNREF;
    default: return -1;
    }
}

/* Parse "params>results" (no '>' at all: only parameters) into a new
 * host_func.  Returns NULL for a bad string (*rc = TH_EINVAL) or on
 * allocation failure (*rc = TH_ENOMEM). */
static host_func *parse_sig(const char *sig, int *rc)
{
    size_t len = strlen(sig), np = 0, nr = 0;
    const char *gt = strchr(sig, '>');
    host_func *h;

    *rc = TH_EINVAL;
    if (gt != NULL && strchr(gt + 1, '>') != NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (sig + i == gt)
            continue;
        if (sig_type(sig[i]) < 0)
            return NULL;
        if (gt == NULL || sig + i < gt)
            np++;
        else
            nr++;
    }
    if (np > TH_WASM_MAX_PARAMS || nr > TH_WASM_MAX_RESULTS)
        return NULL;
    *rc = TH_ENOMEM;
    h = calloc(1, sizeof *h + np + nr + 1);
    if (h == NULL)
        return NULL;
    for (size_t i = 0, k = 0; i < len; i++)
        if (sig + i != gt)
            h->types[k++] = (uint8_t)sig_type(sig[i]);
    h->type.nparams = (uint32_t)np;
    h->type.nresults = (uint32_t)nr;
    h->type.types = h->types;
    h->type.canon = wasm_functype_canon(h->types, (uint32_t)np, (uint32_t)nr);
    if (h->type.canon == 0) {
        free(h);
        return NULL;
    }
    return h;
}

int th_wasm_imports_add_func(th_wasm_imports *imp, const char *module, const char *name,
                             const char *sig, th_wasm_host_fn fn, void *ctx)
{
    host_func *h;
    int rc;

    if (imp == NULL || module == NULL || name == NULL || sig == NULL || fn == NULL)
        return TH_EINVAL;
    if ((h = parse_sig(sig, &rc)) == NULL)
        return rc;
    h->fn.type = &h->type;
    h->fn.host = fn;
    h->fn.host_ctx = ctx;
    rc = bind(imp, module, (uint32_t)strlen(module), name, (uint32_t)strlen(name),
              TH_WASM_EXTERN_FUNC, &h->fn, false);
    if (rc < 0) {
        wasm_functype_release(h->type.canon);
        free(h);
        return rc;
    }
    h->next = imp->hosts;
    imp->hosts = h;
    return 0;
}

int th_wasm_imports_add_extern(th_wasm_imports *imp, const char *module, const char *name,
                               th_wasm_extern_kind kind, void *ext)
{
    if (imp == NULL || module == NULL || name == NULL || ext == NULL ||
        (unsigned)kind > TH_WASM_EXTERN_GLOBAL)
        return TH_EINVAL;
    return bind(imp, module, (uint32_t)strlen(module), name, (uint32_t)strlen(name), (uint8_t)kind,
                ext, false);
}

int th_wasm_imports_add_instance(th_wasm_imports *imp, const char *module, th_wasm_instance *inst)
{
    const th_wasm_module *m;
    uint32_t ml;

    if (imp == NULL || module == NULL || inst == NULL)
        return TH_EINVAL;
    m = inst->mod;
    ml = (uint32_t)strlen(module);
    for (uint32_t i = 0; i < m->nexports; i++) {
        const wasm_export *ex = &m->exports[i];
        void *ext;
        int rc;

        switch (ex->kind) {
        case TH_WASM_EXTERN_FUNC: ext = inst->funcs[ex->idx]; break;
        case TH_WASM_EXTERN_TABLE: ext = inst->tables[ex->idx]; break;
        case TH_WASM_EXTERN_MEMORY: ext = inst->mems[ex->idx]; break;
        default: ext = inst->globals[ex->idx]; break;
        }
        /* Registering a name again (the spec script's `register`)
         * rebinds it. */
        rc = bind(imp, module, ml, ex->name, ex->name_len, ex->kind, ext, true);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int wasm_imports_find(const th_wasm_imports *imp, const char *module, uint32_t module_len,
                      const char *name, uint32_t name_len, uint8_t *kind, void **ext)
{
    const imp_entry *e;

    if (imp == NULL || imp->cap == 0)
        return TH_ENOENT;
    e = find_slot(imp, module, module_len, name, name_len,
                  key_hash(module, module_len, name, name_len));
    if (e->key == NULL)
        return TH_ENOENT;
    *kind = e->kind;
    *ext = e->ext;
    return 0;
}
