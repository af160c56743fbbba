/*
 * theater.c - the core of the C guest SDK: the allocator and cabi_realloc,
 * call-scoped memory, the export glue (lifting parameters, lowering results
 * into the Canonical ABI return area) and string helpers. Compile it, with
 * theater_text.c and theater_imports.c, into every actor (see theater.h).
 *
 * Heap. A first-fit allocator with boundary tags over the linear memory
 * between __heap_base and the end of memory; it grows memory with
 * memory.grow. Every block starts with an 8-byte header
 *     u32 size_flags   total block size (multiple of 8) | USED | SCOPED
 *     u32 prev_size    size of the block just below (0 for the first block)
 * and its payload is 8-aligned. Free blocks sit in a doubly linked list whose
 * links (offsets, u32) live in the payload, so a block is at least 16 bytes.
 * Adjacent free blocks are merged; a free block at the top of the heap is
 * given back to the top, so the list never holds the last block.
 *
 * Call scope. Blocks the host allocates through cabi_realloc (export
 * parameters, strings and lists in import results) and blocks the SDK
 * allocates for a handler's results are "scoped": their offsets are kept in
 * `scope.items`. When an export returns, the entries so far belong to the
 * finished call (`scope.done`); the export's post-return frees them, or, if
 * the host never calls post-return, the next export does on entry (by then
 * the host has read the results; the entries after `done` are the new
 * call's parameters and stay).
 *
 * Built for wasm32 this is the real thing; with wasi-libc (__wasi__) the
 * blocks come from libc's malloc instead, since libc owns memory growth.
 * Built for the host (unit tests), a static array stands in for linear
 * memory and the imports are left out.
 */
#include "theater_int.h"
#include "theater_wit.h"

#if defined(__wasi__)
#include <stdlib.h>
#endif

#if defined(__wasm__)
#define TA__EXPORTED(name) __attribute__((export_name(name), visibility("default")))
#else
#define TA__EXPORTED(name)
#endif

#define PAGE_SIZE 65536u
#define HDR_SIZE 8u
#define MIN_BLOCK 16u
#define F_USED 1u
#define F_SCOPED 2u
#define F_MASK 7u
#define MAX_ALLOC 0x7ff00000u

/* ------------------------------------------------------------------------ */
/* Linear memory access                                                     */
/* ------------------------------------------------------------------------ */

#if defined(__wasm__)
extern unsigned char __heap_base;

#define MEM_PTR(off) ((uint8_t *)(uintptr_t)(off))
#define MEM_OFF(p) ((uint32_t)(uintptr_t)(p))

static uint32_t mem_size(void)
{
    return (uint32_t)__builtin_wasm_memory_size(0) * PAGE_SIZE;
}
#if !defined(__wasi__)
static uint32_t mem_heap_start(void)
{
    return ((uint32_t)(uintptr_t)&__heap_base + 7u) & ~7u;
}
/* Grows memory by `pages`; returns false when the host refuses. */
static bool mem_grow(uint32_t pages)
{
    return __builtin_wasm_memory_grow(0, pages) != (size_t)-1;
}
#endif
#else
/* Host build: a 16 MiB array plays linear memory; offset 0 stays unused so
 * that offset 0 can mean "none". */
#define HOST_PAGES 256u
static uint8_t host_mem[HOST_PAGES * PAGE_SIZE] __attribute__((aligned(16)));
static uint32_t host_pages = 1;

#define MEM_PTR(off) (host_mem + (off))
#define MEM_OFF(p) ((uint32_t)((const uint8_t *)(p)-host_mem))

static uint32_t mem_heap_start(void)
{
    return 64;
}
static uint32_t mem_size(void)
{
    return host_pages * PAGE_SIZE;
}
static bool mem_grow(uint32_t pages)
{
    if (pages > HOST_PAGES - host_pages)
        return false;
    host_pages += pages;
    return true;
}
#endif

void ta_trap(void)
{
    __builtin_trap();
}

/* ------------------------------------------------------------------------ */
/* Allocator                                                                */
/* ------------------------------------------------------------------------ */

static uint32_t *word(uint32_t off)
{
    return (uint32_t *)(void *)MEM_PTR(off);
}
static uint32_t blk_size(uint32_t b)
{
    return *word(b) & ~F_MASK;
}
static uint32_t blk_flags(uint32_t b)
{
    return *word(b) & F_MASK;
}
static void blk_set(uint32_t b, uint32_t size, uint32_t flags)
{
    *word(b) = size | flags;
}
static uint32_t blk_prev_size(uint32_t b)
{
    return *word(b + 4);
}
static void blk_set_prev_size(uint32_t b, uint32_t s)
{
    *word(b + 4) = s;
}
#if !defined(__wasi__)
static struct {
    bool ready;
    uint32_t start; /* first block */
    uint32_t top;   /* end of the last block */
    uint32_t last;  /* offset of the last block, 0 when the heap is empty */
    uint32_t end;   /* end of linear memory */
    uint32_t free_head;
} heap;

static uint32_t *blk_next_free(uint32_t b)
{
    return word(b + 8);
}
static uint32_t *blk_prev_free(uint32_t b)
{
    return word(b + 12);
}

static void heap_init(void)
{
    heap.start = heap.top = mem_heap_start();
    heap.last = 0;
    heap.end = mem_size();
    heap.free_head = 0;
    heap.ready = true;
}

static void free_unlink(uint32_t b)
{
    uint32_t next = *blk_next_free(b), prev = *blk_prev_free(b);
    if (prev)
        *blk_next_free(prev) = next;
    else
        heap.free_head = next;
    if (next)
        *blk_prev_free(next) = prev;
}

static void free_push(uint32_t b)
{
    *blk_next_free(b) = heap.free_head;
    *blk_prev_free(b) = 0;
    if (heap.free_head)
        *blk_prev_free(heap.free_head) = b;
    heap.free_head = b;
}

/* Makes sure [heap.top, heap.top + need) is inside memory. */
static bool heap_reserve(uint32_t need)
{
    if (need > heap.end - heap.top) {
        uint32_t missing = need - (heap.end - heap.top);
        uint32_t pages = (missing + PAGE_SIZE - 1) / PAGE_SIZE;
        if (!mem_grow(pages))
            return false;
        heap.end = mem_size();
    }
    return true;
}

/* Releases block b (any flags): merges it with free neighbours and gives it
 * to the top of the heap or to the free list. */
static void blk_release(uint32_t b)
{
    uint32_t size = blk_size(b);
    uint32_t next = b + size;
    if (next < heap.top && !(blk_flags(next) & F_USED)) {
        free_unlink(next);
        size += blk_size(next);
    }
    uint32_t psize = blk_prev_size(b);
    if (psize && !(blk_flags(b - psize) & F_USED)) {
        b -= psize;
        free_unlink(b);
        size += psize;
    }
    blk_set(b, size, 0);
    if (b + size == heap.top) {
        heap.top = b;
        heap.last = blk_prev_size(b) ? b - blk_prev_size(b) : 0;
        return;
    }
    blk_set_prev_size(b + size, size);
    free_push(b);
}

/* Cuts block b (size `size`, flags kept) down to `need` bytes and releases
 * the rest when that is big enough to be a block. */
static void blk_trim(uint32_t b, uint32_t need)
{
    uint32_t size = blk_size(b);
    if (size - need < MIN_BLOCK)
        return;
    uint32_t rest = b + need;
    blk_set(b, need, blk_flags(b));
    blk_set(rest, size - need, F_USED);
    blk_set_prev_size(rest, need);
    if (b == heap.last)
        heap.last = rest;
    else
        blk_set_prev_size(rest + size - need, size - need);
    blk_release(rest);
}

static uint32_t block_need(size_t n)
{
    uint32_t need = ((uint32_t)n + HDR_SIZE + 7u) & ~7u;
    return need < MIN_BLOCK ? MIN_BLOCK : need;
}

/* Returns the offset of a used block with room for n bytes, or 0. */
static uint32_t blk_alloc(size_t n)
{
    if (!heap.ready)
        heap_init();
    if (n > MAX_ALLOC)
        return 0;
    uint32_t need = block_need(n);
    for (uint32_t b = heap.free_head; b; b = *blk_next_free(b)) {
        if (blk_size(b) >= need) {
            free_unlink(b);
            blk_set(b, blk_size(b), F_USED);
            blk_trim(b, need);
            return b;
        }
    }
    if (!heap_reserve(need))
        return 0;
    uint32_t b = heap.top;
    blk_set(b, need, F_USED);
    blk_set_prev_size(b, heap.last ? blk_size(heap.last) : 0);
    heap.last = b;
    heap.top += need;
    return b;
}

/* Returns the block of payload pointer p, or 0 when p is not in the heap. */
static uint32_t blk_of(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (!p || !heap.ready || a < (uintptr_t)MEM_PTR(heap.start + HDR_SIZE) ||
        a >= (uintptr_t)MEM_PTR(heap.top) || (a & 7u))
        return 0;
    uint32_t b = MEM_OFF(p) - HDR_SIZE;
    if (!(blk_flags(b) & F_USED))
        ta_trap(); /* double free or a pointer into a free block */
    return b;
}

/* Grows or shrinks block b in place to hold n bytes; returns false if it
 * cannot (the block is then unchanged). */
static bool blk_resize(uint32_t b, size_t n)
{
    uint32_t need = block_need(n), size = blk_size(b);
    if (size >= need) {
        blk_trim(b, need);
        return true;
    }
    if (b == heap.last) {
        if (!heap_reserve(need - size))
            return false;
        blk_set(b, need, blk_flags(b));
        heap.top = b + need;
        return true;
    }
    uint32_t next = b + size;
    if (!(blk_flags(next) & F_USED) && size + blk_size(next) >= need) {
        uint32_t merged = size + blk_size(next);
        free_unlink(next);
        blk_set(b, merged, blk_flags(b));
        blk_set_prev_size(b + merged, merged); /* a free block is never last */
        blk_trim(b, need);
        return true;
    }
    return false;
}

#else                          /* __wasi__ */

/*
 * With wasi-libc, libc's malloc owns the memory above __heap_base and its
 * growth, so each SDK block is a malloc'd chunk with the same 8-byte header:
 * size and flags, then a magic word that tells SDK blocks from other memory
 * (ta_free and ta_keep ignore pointers without it).
 */
#define WASI_MAGIC 0x6b736874u /* "thsk" */

static uint32_t block_need(size_t n)
{
    return ((uint32_t)n + HDR_SIZE + 7u) & ~7u;
}

static uint32_t blk_alloc(size_t n)
{
    if (n > MAX_ALLOC)
        return 0;
    uint32_t need = block_need(n);
    void *p = malloc(need); /* wasi-libc's malloc aligns to 16 */
    if (!p)
        return 0;
    uint32_t b = MEM_OFF(p);
    blk_set(b, need, F_USED);
    blk_set_prev_size(b, WASI_MAGIC);
    return b;
}

static void blk_release(uint32_t b)
{
    blk_set_prev_size(b, 0);
    free(MEM_PTR(b));
}

static uint32_t blk_of(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (!p || (a & 7u) || a < (uintptr_t)&__heap_base + HDR_SIZE || a >= mem_size())
        return 0;
    uint32_t b = MEM_OFF(p) - HDR_SIZE;
    if (blk_prev_size(b) != WASI_MAGIC)
        return 0;
    if (!(blk_flags(b) & F_USED))
        ta_trap();
    return b;
}

/* In place only when the block is already big enough. */
static bool blk_resize(uint32_t b, size_t n)
{
    return block_need(n) <= blk_size(b);
}

#endif /* __wasi__ */

/* ------------------------------------------------------------------------ */
/* Call scope                                                               */
/* ------------------------------------------------------------------------ */

static struct {
    uint32_t *items; /* block offsets */
    size_t len, cap;
    size_t done; /* items[0..done) belong to a call that has returned */
} scope;

static void scope_add(uint32_t b)
{
    if (scope.len == scope.cap) {
        size_t cap = scope.cap ? scope.cap * 2 : 32;
        uint32_t nb = blk_alloc(cap * sizeof(uint32_t));
        if (!nb)
            ta_trap();
        uint32_t *items = (uint32_t *)(void *)MEM_PTR(nb + HDR_SIZE);
        if (scope.len)
            __builtin_memcpy(items, scope.items, scope.len * sizeof(uint32_t));
        if (scope.items)
            blk_release(MEM_OFF(scope.items) - HDR_SIZE);
        scope.items = items;
        scope.cap = cap;
    }
    blk_set(b, blk_size(b), blk_flags(b) | F_SCOPED);
    scope.items[scope.len++] = b;
}

/* Removes block b from the scope list (it must be there). */
static void scope_remove(uint32_t b)
{
    for (size_t i = scope.len; i-- > 0;) {
        if (scope.items[i] == b) {
            __builtin_memmove(&scope.items[i], &scope.items[i + 1],
                              (scope.len - i - 1) * sizeof(uint32_t));
            scope.len--;
            if (i < scope.done)
                scope.done--;
            blk_set(b, blk_size(b), blk_flags(b) & ~F_SCOPED);
            return;
        }
    }
    ta_trap(); /* the SCOPED flag and the list disagree: heap corruption */
}

/* Frees the blocks of the finished call. */
static void scope_flush_done(void)
{
    size_t n = scope.done;
    if (!n)
        return;
    for (size_t i = 0; i < n; i++)
        blk_release(scope.items[i]);
    __builtin_memmove(scope.items, scope.items + n, (scope.len - n) * sizeof(uint32_t));
    scope.len -= n;
    scope.done = 0;
}

static void call_begin(void)
{
    scope_flush_done();
}
static void call_end(void)
{
    scope.done = scope.len;
}

void ta_export_begin(void)
{
    call_begin();
}

void ta_export_end(void)
{
    call_end();
}

void ta__post_return(void *ret_area)
{
    (void)ret_area;
    scope_flush_done();
}

/* ------------------------------------------------------------------------ */
/* Public allocation API and cabi_realloc                                   */
/* ------------------------------------------------------------------------ */

void *ta_alloc(size_t n)
{
    uint32_t b = blk_alloc(n);
    return b ? MEM_PTR(b + HDR_SIZE) : NULL;
}

void *ta_calloc(size_t n)
{
    void *p = ta_alloc(n);
    if (p)
        __builtin_memset(p, 0, n);
    return p;
}

void *ta_realloc(void *p, size_t n)
{
    uint32_t b = blk_of(p);
    if (!b)
        return p ? NULL : ta_alloc(n);
    if (n > MAX_ALLOC)
        return NULL;
    if (blk_resize(b, n))
        return p;
    uint32_t nb = blk_alloc(n);
    if (!nb)
        return NULL;
    uint32_t old_payload = blk_size(b) - HDR_SIZE;
    __builtin_memcpy(MEM_PTR(nb + HDR_SIZE), p, old_payload < n ? old_payload : n);
    if (blk_flags(b) & F_SCOPED) {
        scope_remove(b);
        scope_add(nb);
    }
    blk_release(b);
    return MEM_PTR(nb + HDR_SIZE);
}

void ta_free(void *p)
{
    uint32_t b = blk_of(p);
    if (!b)
        return;
    if (blk_flags(b) & F_SCOPED)
        scope_remove(b);
    blk_release(b);
}

void *ta_keep(const void *p)
{
    uint32_t b = blk_of(p);
    if (b && (blk_flags(b) & F_SCOPED))
        scope_remove(b);
    return (void *)(uintptr_t)p;
}

void *ta_scoped_alloc(size_t n)
{
    uint32_t b = blk_alloc(n);
    if (!b)
        ta_trap();
    scope_add(b);
    return MEM_PTR(b + HDR_SIZE);
}

/*
 * The Canonical ABI allocator the host calls to place strings and lists in
 * guest memory: (old_ptr, old_size, align, new_size) -> ptr. Everything it
 * hands out is call-scoped. A zero-size request gets the (non-null, aligned)
 * address `align` without allocating. Traps on a bad alignment (the ABI
 * never asks for more than 8) or when memory cannot grow, because the host
 * could not use a null pointer.
 */
void *cabi_realloc(void *old_ptr, size_t old_size, size_t align, size_t new_size);
TA__EXPORTED("cabi_realloc")
void *cabi_realloc(void *old_ptr, size_t old_size, size_t align, size_t new_size)
{
    (void)old_size;
    if (align == 0 || align > 8 || (align & (align - 1)))
        ta_trap();
    uint32_t b = blk_of(old_ptr);
    if (new_size == 0) {
        if (b)
            ta_free(old_ptr);
        return (void *)(uintptr_t)align;
    }
    if (!b)
        return ta_scoped_alloc(new_size);
    bool scoped = blk_flags(b) & F_SCOPED;
    void *p = ta_realloc(old_ptr, new_size);
    if (!p)
        ta_trap();
    if (!scoped)
        scope_add(blk_of(p));
    return p;
}

/* ------------------------------------------------------------------------ */
/* Freestanding C library pieces the compiler may call                      */
/* ------------------------------------------------------------------------ */
#if defined(__wasm__) && !defined(__wasi__)
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

__attribute__((no_builtin)) void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

__attribute__((no_builtin)) void *memmove(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

__attribute__((no_builtin)) void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    while (n--)
        *d++ = (uint8_t)c;
    return dst;
}

__attribute__((no_builtin)) int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x < *y ? -1 : 1;
    return 0;
}

__attribute__((no_builtin)) size_t strlen(const char *s)
{
    const char *e = s;
    while (*e)
        e++;
    return (size_t)(e - s);
}
#endif

/* ------------------------------------------------------------------------ */
/* Strings and bytes                                                        */
/* ------------------------------------------------------------------------ */

size_t ta__c_len(const char *s)
{
    return s ? __builtin_strlen(s) : 0;
}

ta_str ta_str_c(const char *s)
{
    return (ta_str){s, ta__c_len(s)};
}
ta_bytes ta_str_bytes(ta_str s)
{
    return (ta_bytes){(const uint8_t *)s.ptr, s.len};
}
ta_str ta_bytes_str(ta_bytes b)
{
    return (ta_str){(const char *)b.ptr, b.len};
}

bool ta_str_eq(ta_str a, ta_str b)
{
    return a.len == b.len && (a.len == 0 || __builtin_memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool ta_str_eq_c(ta_str a, const char *c)
{
    return ta_str_eq(a, ta_str_c(c));
}
bool ta_bytes_eq_c(ta_bytes a, const char *c)
{
    return ta_str_eq(ta_bytes_str(a), ta_str_c(c));
}

bool ta_bytes_starts_with(ta_bytes b, const char *prefix)
{
    size_t n = ta__c_len(prefix);
    return b.len >= n && (n == 0 || __builtin_memcmp(b.ptr, prefix, n) == 0);
}

bool ta_parse_u64(ta_bytes b, uint64_t *out)
{
    uint64_t v = 0;
    if (b.len == 0)
        return false;
    for (size_t i = 0; i < b.len; i++) {
        unsigned d = (unsigned)b.ptr[i] - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

ta_bytes ta_bytes_dup(ta_bytes b)
{
    uint8_t *p = ta_alloc(b.len ? b.len : 1);
    if (!p)
        return (ta_bytes){NULL, 0};
    if (b.len)
        __builtin_memcpy(p, b.ptr, b.len);
    return (ta_bytes){p, b.len};
}

ta_str ta_str_dup(ta_str s)
{
    char *p = ta_alloc(s.len + 1);
    if (!p)
        return (ta_str){NULL, 0};
    if (s.len)
        __builtin_memcpy(p, s.ptr, s.len);
    p[s.len] = 0;
    return (ta_str){p, s.len};
}

ta_bytes ta_bytes_scoped(const void *ptr, size_t len)
{
    uint8_t *p = ta_scoped_alloc(len ? len : 1);
    if (len)
        __builtin_memcpy(p, ptr, len);
    return (ta_bytes){p, len};
}

ta_str ta_str_scoped(const char *ptr, size_t len)
{
    char *p = ta_scoped_alloc(len + 1);
    if (len)
        __builtin_memcpy(p, ptr, len);
    p[len] = 0;
    return (ta_str){p, len};
}

/* ------------------------------------------------------------------------ */
/* Handler results                                                          */
/* ------------------------------------------------------------------------ */

ta_status ta_fail_str(ta_str msg)
{
    ta_str fixed = ta_utf8_fix(msg);
    if (fixed.ptr != msg.ptr)
        return (ta_status){.ok = false, .err = fixed};
    return (ta_status){.ok = false, .err = ta_str_scoped(msg.ptr, msg.len)};
}

ta_status ta_fail(const char *msg)
{
    return ta_fail_str(ta_str_c(msg));
}

ta_status ta_failf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ta_str s = ta__vformat_scoped(fmt, ap);
    va_end(ap);
    return (ta_status){.ok = false, .err = ta_utf8_fix(s)};
}

void ta_opt_set(ta_opt_bytes *opt, const void *data, size_t len)
{
    opt->some = true;
    opt->val = ta_bytes_scoped(data, len);
}

void ta_state_set(ta_state *state, const void *data, size_t len)
{
    ta_opt_set(state, data, len);
}

void ta_state_clear(ta_state *state)
{
    *state = TA_NONE;
}

const char *ta_error_type_name(ta_error_type t)
{
    static const char *const names[] = {
        "operation-timeout",   "channel-closed",         "shutting-down",
        "function-not-found",  "type-mismatch",          "internal",
        "serialization-error", "update-component-error", "paused",
    };
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

ta_opt_bytes ta_some(ta_bytes b)
{
    return (ta_opt_bytes){.some = true, .val = b};
}

/* ------------------------------------------------------------------------ */
/* Export glue                                                              */
/* ------------------------------------------------------------------------ */

/* The export return area: the results' types generated from the WIT
 * (theater_wit.h, layouts checked by the compiler); static, since an actor
 * runs one call at a time. */
static union {
    thw_res_tup1_opt_bytes_str state;                                  /* most exports */
    thw_res_tup2_opt_bytes_tup1_opt_bytes_str request;                 /* handle-request */
    thw_res_tup2_opt_bytes_tup1_types_channel_accept_str channel_open; /* handle-channel-open */
    thw_res_tup2_opt_bytes_tup1_http_types_http_response_str http_request;
    thw_res_tup2_opt_bytes_tup1_http_types_middleware_result_str http_middleware;
    thw_res_tup2_opt_bytes_tup1_list_websocket_types_websocket_message_str ws_message;
    uint64_t align;
} ret_area;

/* An option for lowering: `none` carries a null pointer and length 0. */
static thw_opt_bytes opt_low(ta_opt_bytes o)
{
    thw_opt_bytes r = {0, {{NULL, 0}}};

    if (o.some) {
        r.some = 1;
        r.u.val = (thw_bytes){o.val.ptr, o.val.len};
    }
    return r;
}

static thw_str str_low(ta_str s)
{
    return (thw_str){s.ptr, s.len};
}

static ta_opt_bytes opt_in(uint32_t some, const uint8_t *ptr, size_t len)
{
    return some ? (ta_opt_bytes){true, {ptr, len}} : TA_NONE;
}

static void *finish_state(ta_status r, const ta_state *st)
{
    ret_area.state.is_err = r.ok ? 0 : 1;
    if (r.ok)
        ret_area.state.u.ok.f0 = opt_low(*st);
    else
        ret_area.state.u.err = str_low(r.err);
    call_end();
    return &ret_area.state;
}

void *ta__call_init(ta_init_fn fn, uint32_t s_some, const uint8_t *s_ptr, size_t s_len,
                    const char *id_ptr, size_t id_len)
{
    call_begin();
    ta_state st = opt_in(s_some, s_ptr, s_len);
    ta_status r = fn(&st, (ta_str){id_ptr, id_len});
    return finish_state(r, &st);
}

void *ta__call_send(ta_send_fn fn, uint32_t s_some, const uint8_t *s_ptr, size_t s_len,
                    const uint8_t *m_ptr, size_t m_len)
{
    call_begin();
    ta_state st = opt_in(s_some, s_ptr, s_len);
    ta_status r = fn(&st, (ta_bytes){m_ptr, m_len});
    return finish_state(r, &st);
}

void *ta__call_process_output(ta_process_output_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                              size_t s_len, uint64_t pid, const uint8_t *d_ptr, size_t d_len)
{
    call_begin();
    ta_state st = opt_in(s_some, s_ptr, s_len);
    ta_status r = fn(&st, pid, (ta_bytes){d_ptr, d_len});
    return finish_state(r, &st);
}

void *ta__call_process_exit(ta_process_exit_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                            size_t s_len, uint64_t pid, int32_t code)
{
    call_begin();
    ta_state st = opt_in(s_some, s_ptr, s_len);
    ta_status r = fn(&st, pid, code);
    return finish_state(r, &st);
}

void *ta__call_request(ta_request_fn fn, uint32_t s_some, const uint8_t *s_ptr, size_t s_len,
                       const char *r_ptr, size_t r_len, const uint8_t *m_ptr, size_t m_len)
{
    call_begin();
    ta_state st = opt_in(s_some, s_ptr, s_len);
    ta_opt_bytes response = TA_NONE;
    ta_status r = fn(&st, (ta_str){r_ptr, r_len}, (ta_bytes){m_ptr, m_len}, &response);
    ret_area.request.is_err = r.ok ? 0 : 1;
    if (r.ok) {
        ret_area.request.u.ok.f0 = opt_low(st);
        ret_area.request.u.ok.f1.f0 = opt_low(response);
    } else {
        ret_area.request.u.err = str_low(r.err);
    }
    call_end();
    return &ret_area.request;
}

void *ta__call_channel_open(ta_channel_open_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                            size_t s_len, const char *c_ptr, size_t c_len, const uint8_t *m_ptr,
                            size_t m_len)
{
    call_begin();
    ta_state st = opt_in(s_some, s_ptr, s_len);
    ta_channel_accept accept = {.accepted = false, .message = TA_NONE};
    ta_status r = fn(&st, (ta_str){c_ptr, c_len}, (ta_bytes){m_ptr, m_len}, &accept);
    ret_area.channel_open.is_err = r.ok ? 0 : 1;
    if (r.ok) {
        ret_area.channel_open.u.ok.f0 = opt_low(st);
        ret_area.channel_open.u.ok.f1.f0.accepted = accept.accepted;
        ret_area.channel_open.u.ok.f1.f0.message = opt_low(accept.message);
    } else {
        ret_area.channel_open.u.err = str_low(r.err);
    }
    call_end();
    return &ret_area.channel_open;
}

void *ta__call_channel_message(ta_channel_message_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                               size_t s_len, const char *c_ptr, size_t c_len, const uint8_t *m_ptr,
                               size_t m_len)
{
    call_begin();
    ta_state st = opt_in(s_some, s_ptr, s_len);
    ta_status r = fn(&st, (ta_str){c_ptr, c_len}, (ta_bytes){m_ptr, m_len});
    return finish_state(r, &st);
}

void *ta__call_channel_close(ta_channel_close_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                             size_t s_len, const char *c_ptr, size_t c_len)
{
    call_begin();
    ta_state st = opt_in(s_some, s_ptr, s_len);
    ta_status r = fn(&st, (ta_str){c_ptr, c_len});
    return finish_state(r, &st);
}

void *ta__call_child_error(ta_child_error_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                           size_t s_len, const char *c_ptr, size_t c_len, uint32_t etype,
                           uint32_t d_some, const uint8_t *d_ptr, size_t d_len)
{
    call_begin();
    ta_state st = opt_in(s_some, s_ptr, s_len);
    ta_actor_error err = {.error_type = (ta_error_type)etype, .data = opt_in(d_some, d_ptr, d_len)};
    ta_status r = fn(&st, (ta_str){c_ptr, c_len}, err);
    return finish_state(r, &st);
}

void *ta__call_child_exit(ta_child_exit_fn fn, uint32_t s_some, const uint8_t *s_ptr, size_t s_len,
                          const char *c_ptr, size_t c_len, uint32_t d_some, const uint8_t *d_ptr,
                          size_t d_len)
{
    call_begin();
    ta_state st = opt_in(s_some, s_ptr, s_len);
    ta_status r = fn(&st, (ta_str){c_ptr, c_len}, opt_in(d_some, d_ptr, d_len));
    return finish_state(r, &st);
}

void *ta__call_child_stop(ta_child_stop_fn fn, uint32_t s_some, const uint8_t *s_ptr, size_t s_len,
                          const char *c_ptr, size_t c_len)
{
    call_begin();
    ta_state st = opt_in(s_some, s_ptr, s_len);
    ta_status r = fn(&st, (ta_str){c_ptr, c_len});
    return finish_state(r, &st);
}

/* ---- http-handlers --------------------------------------------------- */

/* Lists the host wrote and lists the SDK lowers: a header has the
 * generated tuple's layout. */
_Static_assert(sizeof(ta_header) == sizeof(thw_tup2_str_str), "header");

static ta_http_request request_in(const char *m_ptr, size_t m_len, const char *u_ptr, size_t u_len,
                                  const ta_header *h_ptr, size_t h_len, uint32_t b_some,
                                  const uint8_t *b_ptr, size_t b_len)
{
    return (ta_http_request){
        {m_ptr, m_len}, {u_ptr, u_len}, {h_ptr, h_len}, opt_in(b_some, b_ptr, b_len)};
}

static thw_list_tup2_str_str headers_low(ta_header_list h)
{
    return (thw_list_tup2_str_str){(const thw_tup2_str_str *)(const void *)h.items, h.len};
}

static thw_opt_str opt_str_low(ta_opt_str o)
{
    thw_opt_str r = {0, {{NULL, 0}}};

    if (o.some) {
        r.some = 1;
        r.u.val = str_low(o.val);
    }
    return r;
}

void *ta__call_http_request(ta_http_request_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                            size_t s_len, uint64_t hid, const char *m_ptr, size_t m_len,
                            const char *u_ptr, size_t u_len, const ta_header *h_ptr, size_t h_len,
                            uint32_t b_some, const uint8_t *b_ptr, size_t b_len)
{
    call_begin();
    ta_state st = opt_in(s_some, s_ptr, s_len);
    ta_http_request req =
        request_in(m_ptr, m_len, u_ptr, u_len, h_ptr, h_len, b_some, b_ptr, b_len);
    ta_http_response resp = {.status = 200, .headers = {NULL, 0}, .body = TA_NONE};
    ta_status r = fn(&st, hid, req, &resp);
    ret_area.http_request.is_err = r.ok ? 0 : 1;
    if (r.ok) {
        ret_area.http_request.u.ok.f0 = opt_low(st);
        ret_area.http_request.u.ok.f1.f0.status = resp.status;
        ret_area.http_request.u.ok.f1.f0.headers = headers_low(resp.headers);
        ret_area.http_request.u.ok.f1.f0.body = opt_low(resp.body);
    } else {
        ret_area.http_request.u.err = str_low(r.err);
    }
    call_end();
    return &ret_area.http_request;
}

void *ta__call_http_middleware(ta_http_middleware_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                               size_t s_len, uint64_t hid, const char *m_ptr, size_t m_len,
                               const char *u_ptr, size_t u_len, const ta_header *h_ptr,
                               size_t h_len, uint32_t b_some, const uint8_t *b_ptr, size_t b_len)
{
    call_begin();
    ta_state st = opt_in(s_some, s_ptr, s_len);
    ta_http_request req =
        request_in(m_ptr, m_len, u_ptr, u_len, h_ptr, h_len, b_some, b_ptr, b_len);
    ta_http_middleware_result res = {.proceed = true, .request = req};
    ta_status r = fn(&st, hid, req, &res);
    ret_area.http_middleware.is_err = r.ok ? 0 : 1;
    if (r.ok) {
        thw_http_types_middleware_result *m = &ret_area.http_middleware.u.ok.f1.f0;
        ret_area.http_middleware.u.ok.f0 = opt_low(st);
        m->proceed = res.proceed;
        m->request.method = str_low(res.request.method);
        m->request.uri = str_low(res.request.uri);
        m->request.headers = headers_low(res.request.headers);
        m->request.body = opt_low(res.request.body);
    } else {
        ret_area.http_middleware.u.err = str_low(r.err);
    }
    call_end();
    return &ret_area.http_middleware;
}

void *ta__call_ws_connect(ta_ws_connect_fn fn, uint32_t s_some, const uint8_t *s_ptr, size_t s_len,
                          uint64_t hid, uint64_t conn, const char *p_ptr, size_t p_len,
                          uint32_t pr_some, const char *pr_ptr, size_t pr_len)
{
    call_begin();
    ta_state st = opt_in(s_some, s_ptr, s_len);
    ta_opt_str protocol = {pr_some != 0, pr_some ? (ta_str){pr_ptr, pr_len} : (ta_str){NULL, 0}};
    ta_status r = fn(&st, hid, conn, (ta_str){p_ptr, p_len}, protocol);
    return finish_state(r, &st);
}

/* A message for the host, in `out`. */
static void ws_low(const ta_ws_message *m, thw_websocket_types_websocket_message *out)
{
    out->ty.tag = (uint8_t)m->type;
    out->ty.u.other = m->type == TA_WS_OTHER ? str_low(m->other) : (thw_str){NULL, 0};
    out->data = opt_low(m->data);
    out->text = opt_str_low(m->text);
}

void *ta__call_ws_message(ta_ws_message_fn fn, uint32_t s_some, const uint8_t *s_ptr, size_t s_len,
                          uint64_t hid, uint64_t conn, uint32_t tag, const char *o_ptr,
                          size_t o_len, uint32_t d_some, const uint8_t *d_ptr, size_t d_len,
                          uint32_t t_some, const char *t_ptr, size_t t_len)
{
    call_begin();
    ta_state st = opt_in(s_some, s_ptr, s_len);
    ta_ws_message msg = {
        .type = (ta_ws_type)tag,
        .other = tag == TA_WS_OTHER ? (ta_str){o_ptr, o_len} : (ta_str){NULL, 0},
        .data = opt_in(d_some, d_ptr, d_len),
        .text = {t_some != 0, t_some ? (ta_str){t_ptr, t_len} : (ta_str){NULL, 0}},
    };
    ta_ws_message_list replies = {NULL, 0};
    ta_status r = fn(&st, hid, conn, msg, &replies);
    ret_area.ws_message.is_err = r.ok ? 0 : 1;
    if (r.ok) {
        thw_websocket_types_websocket_message *low = NULL;
        if (replies.len) {
            low = ta_scoped_alloc(replies.len * sizeof *low);
            for (size_t i = 0; i < replies.len; i++)
                ws_low(&replies.items[i], &low[i]);
        }
        ret_area.ws_message.u.ok.f0 = opt_low(st);
        ret_area.ws_message.u.ok.f1.f0 =
            (thw_list_websocket_types_websocket_message){low, replies.len};
    } else {
        ret_area.ws_message.u.err = str_low(r.err);
    }
    call_end();
    return &ret_area.ws_message;
}

void *ta__call_ws_disconnect(ta_ws_disconnect_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                             size_t s_len, uint64_t hid, uint64_t conn)
{
    call_begin();
    ta_state st = opt_in(s_some, s_ptr, s_len);
    ta_status r = fn(&st, hid, conn);
    return finish_state(r, &st);
}

void ta__ws_low(const ta_ws_message *m, struct thw_websocket_types_websocket_message *out)
{
    ws_low(m, out);
}

ta_ws_message ta_ws_text(ta_str text)
{
    return (ta_ws_message){.type = TA_WS_TEXT, .text = {true, text}};
}

ta_ws_message ta_ws_binary(ta_bytes data)
{
    return (ta_ws_message){.type = TA_WS_BINARY, .data = {true, data}};
}
