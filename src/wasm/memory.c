/*
 * memory.c - linear memories, tables and globals: the ones an instance
 * owns (initialized in place with wasm_*_init) and standalone ones
 * (th_wasm_*_new, owned by the embedder).
 *
 * Linear memory is anonymous private memory (MAP_NORESERVE: pages cost
 * nothing until touched).  A memory of at most SLAB_MAX_BYTES starts in a
 * slot: a piece of a large mapping shared with other memories (a chunk),
 * of the smallest size class (64 KiB << k) that holds it, so creating one
 * costs no system call (an mmap was about half of a small actor's spawn).
 * It grows in its slot for free; beyond it, its pages are moved into a
 * mapping of its own (mremap with MREMAP_DONTUNMAP, which leaves the slot
 * mapped and empty) and the slot is freed.  A freed slot's pages are given
 * back (MADV_DONTNEED: it reads as zeros again), in batches of slots
 * (slot_give), and the slot is reused.
 * Chunks are never unmapped: address space only.
 *
 * The first write to a fresh page costs a page fault (about 1.5 us here:
 * the trap, a zeroed page, its memory-cgroup charge), which for a small
 * actor is its data segment's copy into its first page.  So a stock of
 * 64 KiB slots whose first page is already resident (zero) is kept by a
 * thread of its own, started at the first use and asleep while the stock
 * is more than half full.  The stock starts at READY_FIRST slots and
 * doubles, up to READY_SLOTS (2 MiB resident), each time it is found
 * empty, so that spawning in a loop finds it stocked.  A memory whose
 * instantiation writes its first page at once (a data segment there:
 * wasm_memory_init's `first_page`) takes one of them.  The fault is taken
 * off the instantiation's path, not saved: the refilling thread pays it.
 *
 * Larger memories are a mapping of exactly their size, grown with mremap.
 * No guard region is reserved, so a million small memories fit in one
 * address space; the interpreter bounds-checks every access against
 * `size`.  A zero-size memory points at a static dummy so `data` is never
 * NULL.  Growth failures (type maximum, 4 GiB, the embedder's byte limit,
 * or the kernel refusing) return -1 and leave the memory unchanged.
 *
 * Tables are arrays of pointers (th_wasm_func * for funcref, opaque for
 * externref; NULL is the null reference), capped at TH_WASM_MAX_TABLE_ELEMS
 * entries.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wasm_int.h"

/* Base of every zero-size memory (never written: every access traps). */
static uint8_t empty_memory[16];

/* ------------------------------------------------------------------ */
/* Slots                                                              */

#define SLAB_CLASSES 7                       /* slots of 64 KiB << k, k < 7 */
#define SLAB_MAX_BYTES (WASM_PAGE_SIZE << 6) /* 4 MiB: the largest slot */
#define SLAB_CHUNK_BYTES ((size_t)32u << 20) /* a chunk: 512 slots of 64 KiB */

typedef struct slab_class {
    uint8_t **free;      /* freed slots: all zero, none of their pages resident */
    size_t nfree, cap;   /* in free[] */
    uint8_t *next, *end; /* the current chunk's slots not yet handed out */
} slab_class;

static pthread_mutex_t slab_lock = PTHREAD_MUTEX_INITIALIZER;
static slab_class slabs[SLAB_CLASSES];

static size_t slot_bytes(int k)
{
    return (size_t)WASM_PAGE_SIZE << k;
}

/* The stock of class-0 slots whose first page is resident, and the
 * thread that refills it (slab_lock). */
#define READY_SLOTS 512u
#define READY_FIRST 64u
static uint8_t *ready[READY_SLOTS];
static unsigned nready, ready_want = READY_FIRST; /* in it; its size now */
static bool refill_started, refill_asleep;
static pthread_cond_t refill_cv = PTHREAD_COND_INITIALIZER;

/* The class of the smallest slot of at least `bytes`, or -1. */
static int slot_class(uint64_t bytes)
{
    int k;

    for (k = 0; k < SLAB_CLASSES; k++)
        if (bytes <= slot_bytes(k))
            return k;
    return -1;
}

/* A slot of class k (all zero), or NULL if no chunk can be mapped. */
static uint8_t *slot_take(int k)
{
    slab_class *c = &slabs[k];
    uint8_t *p = NULL;

    pthread_mutex_lock(&slab_lock);
    if (c->nfree > 0) {
        p = c->free[--c->nfree];
    } else {
        if (c->next == c->end) {
            void *chunk = mmap(NULL, SLAB_CHUNK_BYTES, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (chunk != MAP_FAILED) {
                c->next = chunk;
                c->end = c->next + SLAB_CHUNK_BYTES;
            }
        }
        if (c->next != c->end) {
            p = c->next;
            c->next += slot_bytes(k);
        }
    }
    pthread_mutex_unlock(&slab_lock);
    return p;
}

/* The refilling thread: tops the stock up (a slot, its first page
 * written with a zero), then sleeps until it is half empty. */
static void *refill_main(void *arg)
{
    uint8_t *p;

    (void)arg;
    pthread_mutex_lock(&slab_lock);
    for (;;) {
        while (nready > ready_want / 2) {
            refill_asleep = true;
            pthread_cond_wait(&refill_cv, &slab_lock);
            refill_asleep = false;
        }
        while (nready < ready_want) {
            pthread_mutex_unlock(&slab_lock);
            if ((p = slot_take(0)) != NULL)
                *(volatile uint8_t *)p = 0; /* the page fault, here */
            pthread_mutex_lock(&slab_lock);
            if (p == NULL)
                break;
            ready[nready++] = p;
        }
        if (nready <= ready_want / 2) { /* out of address space: no stock */
            refill_asleep = true;
            pthread_cond_wait(&refill_cv, &slab_lock);
            refill_asleep = false;
        }
    }
    return NULL;
}

/* A class-0 slot whose first page is resident, or NULL (none ready). */
static uint8_t *slot_take_ready(void)
{
    uint8_t *p = NULL;
    pthread_t th;
    pthread_attr_t at;
    bool fresh;

    pthread_mutex_lock(&slab_lock);
    if ((fresh = !refill_started)) {
        refill_started = true;
        /* should the thread not start, the stock stays empty: every
         * memory takes a plain slot, as without it */
        if (pthread_attr_init(&at) == 0) {
            pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
            pthread_attr_setstacksize(&at, 64 * 1024);
            (void)pthread_create(&th, &at, refill_main, NULL);
            pthread_attr_destroy(&at);
        }
    }
    if (nready > 0)
        p = ready[--nready];
    else if (!fresh && ready_want < READY_SLOTS)
        ready_want *= 2; /* spawns outrun the refilling */
    if (nready <= ready_want / 2 && refill_asleep)
        pthread_cond_signal(&refill_cv);
    pthread_mutex_unlock(&slab_lock);
    return p;
}

/* Pages to give back, and whose they are. */
typedef struct page_range {
    uint8_t *start, *end;
    size_t idx; /* in the caller's array */
} page_range;

static int range_cmp(const void *a, const void *b)
{
    const uint8_t *x = ((const page_range *)a)->start, *y = ((const page_range *)b)->start;
    return x < y ? -1 : x > y;
}

/* Give back the pages of r[0..n) (MADV_DONTNEED: they read as zeros
 * again), sorted by address, each run of ranges that touch one another in
 * one call: each call that drops pages makes the kernel interrupt every
 * other core running the process to flush its TLB (in a virtual machine,
 * an exit on each).  A range whose run could not be given back has its
 * `start` set to NULL. */
static void give_back(page_range *r, size_t n)
{
    size_t i, j, k;

    qsort(r, n, sizeof r[0], range_cmp);
    for (i = 0; i < n; i = j) {
        for (j = i + 1; j < n && r[j].start == r[j - 1].end; j++)
            ;
        if (madvise(r[i].start, (size_t)(r[j - 1].end - r[i].start), MADV_DONTNEED) != 0)
            for (k = i; k < j; k++)
                r[k].start = NULL;
    }
}

/* Put emptied slots on their free lists (slab_lock held); a slot that
 * finds no room there is not reused (its address space is lost). */
static void slot_free_locked(int k, uint8_t *p)
{
    slab_class *c = &slabs[k];

    if (c->nfree == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        uint8_t **v = realloc(c->free, cap * sizeof *v);
        if (v == NULL)
            return;
        c->free = v;
        c->cap = cap;
    }
    c->free[c->nfree++] = p;
}

/* Slots given back whose pages are still to be given back to the kernel:
 * emptied in batches (slot_empty, give_back), because each madvise that
 * drops pages interrupts the other cores.  Measured on stopping 300,000
 * small actors with two workers: that interrupt, one per stop, was 3/4 of
 * the workers' time.  Slots given back one after another (actors stopped
 * in the order they were spawned) touch one another and go in one call.
 * At most SLOT_PENDING slots or SLOT_PENDING_BYTES of touched pages
 * wait. */
#define SLOT_PENDING 64
#define SLOT_PENDING_BYTES ((size_t)2u << 20)

typedef struct pending_slot {
    uint8_t *p;
    int k;
} pending_slot;

static pending_slot pending[SLOT_PENDING]; /* slab_lock */
static unsigned npending;
static size_t pending_bytes; /* of them that may have been touched */

/* Empty the slots v[0..n) (taken off `pending`), then put them on the
 * free lists.  Each is given back whole: its untouched pages cost
 * nothing. */
static void slot_empty(const pending_slot *v, unsigned n)
{
    page_range r[SLOT_PENDING];
    unsigned i;

    for (i = 0; i < n; i++)
        r[i] = (page_range){v[i].p, v[i].p + slot_bytes(v[i].k), i};
    give_back(r, n);
    pthread_mutex_lock(&slab_lock);
    for (i = 0; i < n; i++)
        if (r[i].start != NULL)
            slot_free_locked(v[r[i].idx].k, v[r[i].idx].p);
    pthread_mutex_unlock(&slab_lock);
}

/* Give back the slot of class k at p, of which the first `used` bytes
 * may have been touched: it is reused once emptied (zero, its pages back
 * to the kernel), in a batch with others (`pending`). */
static void slot_give(int k, uint8_t *p, size_t used)
{
    pending_slot batch[SLOT_PENDING];
    unsigned n = 0;

    if (used > slot_bytes(k))
        used = slot_bytes(k);
    used = (used + 4095) & ~(size_t)4095;
    pthread_mutex_lock(&slab_lock);
    if (used == 0) {
        slot_free_locked(k, p);
    } else {
        pending[npending++] = (pending_slot){p, k};
        pending_bytes += used;
        if (npending == SLOT_PENDING || pending_bytes >= SLOT_PENDING_BYTES) {
            n = npending;
            memcpy(batch, pending, n * sizeof batch[0]);
            npending = 0;
            pending_bytes = 0;
        }
    }
    pthread_mutex_unlock(&slab_lock);
    if (n > 0)
        slot_empty(batch, n);
}

/* A mapping of `bytes` holding what the slot memory `mem` holds (its pages
 * moved there), its slot freed; MAP_FAILED if none can be had (the memory
 * then stays as it was). */
static void *slot_leave(th_wasm_memory *mem, size_t bytes)
{
    size_t len = mem->mapped, i, n, j;
    uint8_t *dst =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    void *p;

    if (dst == MAP_FAILED)
        return MAP_FAILED;
    /* the pages move (no copy) over the whole of dst, which is then one
     * mapping (mremap grows only within one); the slot stays mapped, empty */
    if (mremap(mem->data, len, len, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, dst) ==
        MAP_FAILED) {
        /* a kernel without MREMAP_DONTUNMAP (before 5.7): copied, the
         * pages of zeros left untouched */
        for (i = 0; i < mem->size; i += n) {
            n = mem->size - i < 4096 ? mem->size - i : 4096;
            for (j = 0; j < n && mem->data[i + j] == 0; j++)
                ;
            if (j < n)
                memcpy(dst + i, mem->data + i, n);
        }
    }
    if ((p = mremap(dst, len, bytes, MREMAP_MAYMOVE)) == MAP_FAILED) {
        /* the memory stays in its slot: its pages go back there */
        if (mremap(dst, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, mem->data) == MAP_FAILED) {
            memcpy(mem->data, dst, mem->size);
            munmap(dst, len);
        }
        return MAP_FAILED;
    }
    slot_give(mem->slab, mem->data, mem->size);
    mem->slab = -1;
    return p;
}

/* ------------------------------------------------------------------ */
/* Linear memories                                                    */

int wasm_memory_init(th_wasm_memory *mem, uint64_t min_pages, uint64_t max_pages,
                     uint64_t limit_bytes, bool first_page)
{
    uint64_t bytes = min_pages * WASM_PAGE_SIZE;
    void *p;
    int k;

    memset(mem, 0, sizeof *mem);
    mem->data = empty_memory;
    mem->slab = -1;
    mem->max_pages = max_pages > WASM_MAX_PAGES ? WASM_MAX_PAGES : max_pages;
    mem->has_max = max_pages < WASM_MAX_PAGES;
    mem->limit_bytes = limit_bytes;
    if (min_pages > mem->max_pages)
        return TH_EINVAL;
    if (limit_bytes != 0 && bytes > limit_bytes)
        return TH_ETOOBIG;
    if (bytes == 0)
        return 0;
    if (bytes > SIZE_MAX)
        return TH_ENOMEM;
    if ((k = slot_class(bytes)) >= 0 &&
        ((k == 0 && first_page && (p = slot_take_ready()) != NULL) || (p = slot_take(k)) != NULL)) {
        mem->data = p;
        mem->size = bytes;
        mem->mapped = slot_bytes(k);
        mem->slab = (int8_t)k;
        return 0;
    }
    p = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return TH_ENOMEM;
    mem->data = p;
    mem->size = bytes;
    mem->mapped = (size_t)bytes;
    return 0;
}

void wasm_memory_release(th_wasm_memory *mem)
{
    free(mem->packed);
    mem->packed = NULL;
    if (mem->slab >= 0)
        slot_give(mem->slab, mem->data, mem->size);
    else if (mem->mapped != 0)
        munmap(mem->data, mem->mapped);
    mem->data = empty_memory;
    mem->size = 0;
    mem->mapped = 0;
    mem->slab = -1;
}

int64_t wasm_memory_grow(th_wasm_memory *mem, uint64_t delta)
{
    uint64_t old = mem->size / WASM_PAGE_SIZE, pages = old + delta, bytes;
    void *p;

    if (delta == 0)
        return (int64_t)old;
    if (delta > WASM_MAX_PAGES || pages > mem->max_pages || pages > WASM_MAX_PAGES)
        return -1;
    bytes = pages * WASM_PAGE_SIZE;
    if (mem->limit_bytes != 0 && bytes > mem->limit_bytes)
        return -1;
    if (bytes > SIZE_MAX)
        return -1;
    if (mem->slab >= 0 && bytes <= mem->mapped) { /* room in its slot (all zero) */
        mem->size = bytes;
        return (int64_t)old;
    }
    if (mem->slab >= 0)
        p = slot_leave(mem, (size_t)bytes);
    else if (mem->mapped == 0)
        p = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    else
        p = mremap(mem->data, mem->mapped, (size_t)bytes, MREMAP_MAYMOVE);
    if (p == MAP_FAILED)
        return -1;
    mem->data = p;
    mem->size = bytes;
    mem->mapped = (size_t)bytes;
    return (int64_t)old;
}

/* ------------------------------------------------------------------ */
/* Packing                                                            */

/* A packed memory: runs of its bytes, each a header and its bytes,
 * 8-byte aligned, one after the other in `runs` (`len` bytes in all);
 * every byte of the memory outside them was zero when it was packed. */
typedef struct wasm_run {
    uint32_t off, len; /* offset in the memory, bytes that follow */
} wasm_run;

struct wasm_packed {
    size_t len, cap;
    uint8_t runs[];
};

/* Zero bytes between two runs that still make them one. */
#define PACK_GAP 32
/* Largest memory whose pages mincore() is asked about (16 MiB). */
#define PACK_MAX_MAPPED (16u << 20)

static size_t page_size(void)
{
    static size_t ps;

    if (ps == 0) {
        long v = sysconf(_SC_PAGESIZE);
        ps = v > 0 ? (size_t)v : 4096;
    }
    return ps;
}

/* Append run [off, off+len) of `base` to *pp, growing it: 0 or -1. */
static int pack_put(struct wasm_packed **pp, const uint8_t *base, uint32_t off, uint32_t len)
{
    struct wasm_packed *p = *pp;
    size_t need = sizeof(wasm_run) + (((size_t)len + 7) & ~(size_t)7);
    wasm_run r = {off, len};

    if (p == NULL || p->len + need > p->cap) {
        size_t cap = p != NULL ? p->cap * 2 : 256;
        while (cap < (p != NULL ? p->len : 0) + need)
            cap *= 2;
        struct wasm_packed *q = realloc(p, sizeof *q + cap);
        if (q == NULL)
            return -1;
        if (p == NULL)
            q->len = 0;
        q->cap = cap;
        *pp = p = q;
    }
    memcpy(p->runs + p->len, &r, sizeof r);
    memcpy(p->runs + p->len + sizeof r, base + off, len);
    p->len += need;
    return 0;
}

/* The runs of non-zero bytes of [from, to) of `base` onto *pp. */
static int pack_scan(struct wasm_packed **pp, const uint8_t *base, size_t from, size_t to)
{
    size_t i = from, start, last;

    while (i < to) {
        /* skip zero words, then zero bytes */
        while (i + 8 <= to) {
            uint64_t w;
            memcpy(&w, base + i, 8);
            if (w != 0)
                break;
            i += 8;
        }
        while (i < to && base[i] == 0)
            i++;
        if (i >= to)
            break;
        start = last = i;
        /* extend while the next non-zero byte is within PACK_GAP */
        while (i < to) {
            if (base[i] != 0)
                last = i;
            else if (i - last > PACK_GAP)
                break;
            i++;
        }
        if (pack_put(pp, base, (uint32_t)start, (uint32_t)(last + 1 - start)) < 0)
            return -1;
    }
    return 0;
}

/* Bit 0 of vec[i]: page i of the npages from `base` is resident.  Returns
 * 1 if no page is in swap (read from /proc/self/pagemap, open as
 * `pagemap`, when it is not -1), 0 if that is not known (mincore, which
 * calls a page in swap not resident, as it calls one never touched), -1
 * on failure. */
static int page_states(int pagemap, uint8_t *base, size_t npages, unsigned char *vec)
{
    uint64_t e[PACK_MAX_MAPPED / 4096];
    size_t ps = page_size(), i, want = npages * sizeof e[0];
    bool swapped = false;

    if (pagemap >= 0 && npages <= sizeof e / sizeof e[0] &&
        pread(pagemap, e, want, (off_t)((uintptr_t)base / ps * sizeof e[0])) == (ssize_t)want) {
        for (i = 0; i < npages; i++) {
            vec[i] = (unsigned char)(e[i] >> 63); /* present */
            swapped |= (e[i] >> 62) & 1;
        }
        return swapped ? 0 : 1;
    }
    return mincore(base, npages * ps, vec) == 0 ? 0 : -1;
}

/* Copy the non-zero bytes of `mem`'s resident pages into mem->packed.
 * When none of its pages is in swap, its pages are not given back yet
 * (*whole = 1: the caller gives back its whole mapping, every non-zero
 * byte of which is kept); else its resident pages are given back here, a
 * run per call, and only they (a page in swap keeps its bytes, which the
 * runs do not have).  Returns 1 if packed, 0 if not worth it (see
 * th_wasm_memory_pack), TH_ENOMEM. */
static int pack_prepare(int pagemap, th_wasm_memory *mem, size_t max_resident, int *whole)
{
    size_t ps = page_size(), npages, resident = 0, i, j;
    struct wasm_packed *p = NULL;
    unsigned char vec[PACK_MAX_MAPPED / 4096];

    *whole = 0;
    if (mem->packed != NULL || mem->mapped == 0 || mem->mapped > PACK_MAX_MAPPED ||
        mem->mapped % ps != 0)
        return 0;
    npages = mem->mapped / ps;
    if (npages > sizeof vec || (*whole = page_states(pagemap, mem->data, npages, vec)) < 0) {
        *whole = 0;
        return 0;
    }
    for (i = 0; i < npages; i++)
        resident += vec[i] & 1;
    if (resident == 0 || resident * ps > max_resident)
        return 0;
    for (i = 0; i < npages; i++)
        if ((vec[i] & 1) && pack_scan(&p, mem->data, i * ps, (i + 1) * ps) < 0) {
            free(p);
            return TH_ENOMEM;
        }
    if (p == NULL && (p = malloc(sizeof *p)) != NULL) {
        p->len = p->cap = 0; /* all zero: nothing to keep */
    }
    if (p == NULL)
        return TH_ENOMEM;
    if (p->len > resident * ps / 2) {
        free(p);
        return 0;
    }
    if (p->cap > p->len + 64) { /* keep only what it holds */
        struct wasm_packed *q = realloc(p, sizeof *q + p->len);
        if (q != NULL) {
            p = q;
            p->cap = p->len;
        }
    }
    mem->packed = p;
    if (*whole)
        return 1;
    for (i = 0; i < npages; i = j) {
        if (!(vec[i] & 1)) {
            j = i + 1;
            continue;
        }
        for (j = i; j < npages && (vec[j] & 1); j++)
            ;
        if (madvise(mem->data + i * ps, (j - i) * ps, MADV_DONTNEED) != 0) {
            th_wasm_memory_unpack(mem); /* not packed after all */
            return 0;
        }
    }
    return 1;
}

#define PACK_MANY_STEP 256 /* memories given back per sort */

size_t th_wasm_memory_pack_many(th_wasm_memory *const *mems, size_t n, size_t max_resident,
                                int *status)
{
    page_range r[PACK_MANY_STEP];
    size_t base, nr, i, packed = 0;
    /* open for this call only: a descriptor kept open would outlive
     * every runtime of the process */
    int whole, pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

    for (base = 0; base < n; base += PACK_MANY_STEP) {
        size_t m = n - base < PACK_MANY_STEP ? n - base : PACK_MANY_STEP;
        for (nr = 0, i = base; i < base + m; i++) {
            status[i] = pack_prepare(pagemap, mems[i], max_resident, &whole);
            if (status[i] == 1 && whole)
                r[nr++] = (page_range){mems[i]->data, mems[i]->data + mems[i]->mapped, i};
            else if (status[i] == 1)
                packed++;
        }
        /* Mappings with no page in swap are given back whole, neighbours
         * in one call (one call per memory made the TLB interrupts the
         * price of packing) */
        give_back(r, nr);
        for (i = 0; i < nr; i++) {
            if (r[i].start != NULL) {
                packed++;
                continue;
            }
            /* not packed after all: the runs put back what may have been
             * given back */
            th_wasm_memory_unpack(mems[r[i].idx]);
            status[r[i].idx] = 0;
        }
    }
    if (pagemap >= 0)
        close(pagemap);
    return packed;
}

int th_wasm_memory_pack(th_wasm_memory *mem, size_t max_resident)
{
    int status;

    th_wasm_memory_pack_many(&mem, 1, max_resident, &status);
    return status;
}

void th_wasm_memory_unpack(th_wasm_memory *mem)
{
    struct wasm_packed *p = mem->packed;
    size_t at = 0;
    wasm_run r;

    if (p == NULL)
        return;
    while (at < p->len) {
        memcpy(&r, p->runs + at, sizeof r);
        memcpy(mem->data + r.off, p->runs + at + sizeof r, r.len);
        at += sizeof r + (((size_t)r.len + 7) & ~(size_t)7);
    }
    mem->packed = NULL;
    free(p);
}

bool th_wasm_memory_packed(const th_wasm_memory *mem)
{
    return mem->packed != NULL;
}

th_wasm_memory *th_wasm_memory_new(uint32_t min_pages, uint32_t max_pages)
{
    th_wasm_memory *mem = malloc(sizeof *mem);
    uint64_t max = max_pages == UINT32_MAX ? WASM_MAX_PAGES : max_pages;

    if (mem == NULL)
        return NULL;
    if (min_pages > WASM_MAX_PAGES || max > WASM_MAX_PAGES ||
        wasm_memory_init(mem, min_pages, max, 0, false) < 0) {
        free(mem);
        return NULL;
    }
    mem->has_max = max_pages != UINT32_MAX;
    return mem;
}

void th_wasm_memory_free(th_wasm_memory *mem)
{
    if (mem == NULL)
        return;
    wasm_memory_release(mem);
    free(mem);
}

uint8_t *th_wasm_memory_data(const th_wasm_memory *mem, uint64_t *size)
{
    if (size != NULL)
        *size = mem->size;
    return mem->data;
}

int64_t th_wasm_memory_grow(th_wasm_memory *mem, uint32_t delta)
{
    return wasm_memory_grow(mem, delta);
}

/* ------------------------------------------------------------------ */
/* Tables                                                             */

int wasm_table_init(th_wasm_table *t, uint8_t reftype, uint32_t min, uint32_t max, void *init)
{
    memset(t, 0, sizeof *t);
    t->reftype = reftype;
    t->max = max;
    t->has_max = max != UINT32_MAX;
    if (min > max)
        return TH_EINVAL;
    if (min > TH_WASM_MAX_TABLE_ELEMS)
        return TH_ETOOBIG;
    /* At least one slot, so `elems` is never NULL. */
    t->cap = min ? min : 1;
    t->elems = calloc(t->cap, sizeof *t->elems);
    if (t->elems == NULL)
        return TH_ENOMEM;
    if (init != NULL)
        for (uint32_t i = 0; i < min; i++)
            t->elems[i] = init;
    t->size = min;
    return 0;
}

void wasm_table_release(th_wasm_table *t)
{
    free(t->elems);
    t->elems = NULL;
    t->size = t->cap = 0;
}

int64_t wasm_table_grow(th_wasm_table *t, uint32_t delta, void *init)
{
    uint64_t old = t->size, n = old + delta;

    if (n > t->max || n > TH_WASM_MAX_TABLE_ELEMS)
        return -1;
    if (n > t->cap) {
        uint64_t cap = (uint64_t)t->cap * 2;
        void **p;
        if (cap < n)
            cap = n;
        if (cap > TH_WASM_MAX_TABLE_ELEMS)
            cap = TH_WASM_MAX_TABLE_ELEMS;
        if (cap > t->max)
            cap = t->max;
        p = realloc(t->elems, (size_t)cap * sizeof *p);
        if (p == NULL)
            return -1;
        t->elems = p;
        t->cap = (uint32_t)cap;
    }
    for (uint64_t i = old; i < n; i++)
        t->elems[i] = init;
    t->size = (uint32_t)n;
    return (int64_t)old;
}

th_wasm_table *th_wasm_table_new(uint8_t reftype, uint32_t min, uint32_t max)
{
    th_wasm_table *t;

    if (reftype != TH_WASM_FUNCREF && reftype != TH_WASM_EXTERNREF)
        return NULL;
    if ((t = malloc(sizeof *t)) == NULL)
        return NULL;
    if (wasm_table_init(t, reftype, min, max, NULL) < 0) {
        free(t);
        return NULL;
    }
    return t;
}

void th_wasm_table_free(th_wasm_table *t)
{
    if (t == NULL)
        return;
    wasm_table_release(t);
    free(t);
}

uint32_t th_wasm_table_size(const th_wasm_table *t)
{
    return t->size;
}

int th_wasm_table_get(const th_wasm_table *t, uint32_t i, void **ref)
{
    if (i >= t->size)
        return TH_EINVAL;
    *ref = t->elems[i];
    return 0;
}

int th_wasm_table_set(th_wasm_table *t, uint32_t i, void *ref)
{
    if (i >= t->size)
        return TH_EINVAL;
    t->elems[i] = ref;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Globals                                                            */

/* i32 and f32 values keep their upper half zero. */
static th_wasm_val global_clean(uint8_t type, th_wasm_val v)
{
    if (type == TH_WASM_I32 || type == TH_WASM_F32)
        v.bits &= 0xffffffffu;
    return v;
}

th_wasm_global *th_wasm_global_new(uint8_t valtype, bool mutable_, th_wasm_val v)
{
    th_wasm_global *g;

    switch (valtype) {
    case TH_WASM_I32:
    case TH_WASM_I64:
    case TH_WASM_F32:
    case TH_WASM_F64:
    case TH_WASM_FUNCREF:
    case TH_WASM_EXTERNREF: break;
    default: return NULL;
    }
    if ((g = malloc(sizeof *g)) == NULL)
        return NULL;
    g->val = global_clean(valtype, v);
    g->hi = 0;
    g->type = valtype;
    g->mut = mutable_;
    return g;
}

void th_wasm_global_free(th_wasm_global *g)
{
    free(g);
}

th_wasm_val th_wasm_global_get(const th_wasm_global *g)
{
    return g->val;
}

uint8_t th_wasm_global_type(const th_wasm_global *g)
{
    return g->type;
}

int th_wasm_global_set(th_wasm_global *g, th_wasm_val v)
{
    if (!g->mut)
        return TH_EPERM;
    g->val = global_clean(g->type, v);
    return 0;
}
