/*
 * abi.c - the Canonical ABI glue of ABI.md: reading and writing an actor's
 * linear memory, allocating in it through its `cabi_realloc`, lowering
 * strings and lists into it and lifting results out of it.
 *
 * Everything the guest hands back is untrusted: every pointer and length is
 * checked against the current memory size before it is touched (a result or
 * an option as a whole, before any of its fields, as the Canonical ABI does,
 * so no field offset can wrap past 2^32), every string is checked to be
 * UTF-8, every discriminant to be in range, and a `cabi_realloc` that traps,
 * loops, suspends or returns a misaligned or out-of-bounds pointer is a
 * failure of the actor (TH_ETRAP with a message), never of the host.
 *
 * Memory pointers are fetched again after every call into wasm, since a
 * call may grow (move) the memory.
 */
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "runtime/rt_int.h"

/* Fuel for one cabi_realloc call, whether made from the host between calls
 * or from inside a host function. */
#define RT_REALLOC_FUEL TH_RT_REALLOC_FUEL

/* The cabi_realloc calls this thread is inside: a host function called
 * from one is refused (capability.c), as the Canonical ABI forbids a guest
 * to leave while the host lowers into it; its record would also come
 * before the call that is lowering, in an order no replay can repeat. */
static __thread unsigned realloc_depth;

bool rt_abi_in_realloc(void)
{
    return realloc_depth > 0;
}

uint8_t *rt_guest_mem(rt_guest *g, uint64_t *size)
{
    th_wasm_memory *mem;

    if (g->call != NULL)
        return th_wasm_call_memory(g->call, size);
    mem = th_wasm_instance_memory0(g->inst);
    if (mem == NULL) {
        *size = 0;
        return NULL;
    }
    return th_wasm_memory_data(mem, size);
}

int rt_abi_span(rt_guest *g, uint32_t ptr, uint64_t len, uint8_t **out)
{
    uint64_t size;
    uint8_t *base = rt_guest_mem(g, &size);

    if (base == NULL)
        return th_error_set(g->err, TH_ETRAP, "actor has no memory");
    if (len > size || ptr > size - len)
        return th_error_set(g->err, TH_ETRAP,
                            "out-of-bounds guest range [%u, +%llu) (memory is %llu bytes)", ptr,
                            (unsigned long long)len, (unsigned long long)size);
    *out = base + ptr;
    return 0;
}

int rt_abi_fits(rt_guest *g, uint32_t addr, uint32_t size)
{
    uint8_t *p = NULL;

    return rt_abi_span(g, addr, size, &p);
}

/* The code for a trapped cabi_realloc: TH_ENOMEM when the engine, not the
 * guest, ran out of memory. */
static int trap_code(const th_wasm_exec *ex)
{
    return th_wasm_exec_trap_kind(ex) == TH_WASM_TRAP_OOM ? TH_ENOMEM : TH_ETRAP;
}

/* cabi_realloc from inside a host function, as a nested call on the
 * caller's exec.  A nested call cannot be suspended for more fuel, so it
 * gets its own RT_REALLOC_FUEL rather than what is left of the caller's
 * (which may be nothing at the end of a fuel slice); what it spends is then
 * taken from the caller's slice, and what the slice cannot pay is added to
 * the slice's charge, so the call's fuel limit still holds. */
static int alloc_nested(rt_guest *g, const th_wasm_val *args, th_wasm_val *res)
{
    th_wasm_exec *ex = th_wasm_call_exec(g->call);
    uint64_t fuel = th_wasm_exec_fuel(ex), used;
    rt_actor *a;
    int rc;

    th_wasm_exec_set_fuel(ex, RT_REALLOC_FUEL);
    realloc_depth++;
    rc = th_wasm_call_invoke(g->call, g->realloc, args, res);
    realloc_depth--;
    used = RT_REALLOC_FUEL - th_wasm_exec_fuel(ex);
    if (fuel != UINT64_MAX) {
        /* what the slice could not pay still counts against the call's
         * fuel limit (op_run charges fuel_set minus what is left) */
        if (used > fuel && (a = rt_actor_of_call(g->call)) != NULL && a->op != NULL)
            a->op->fuel_set += used - fuel;
        fuel = fuel > used ? fuel - used : 0;
    }
    th_wasm_exec_set_fuel(ex, fuel);
    if (rc == TH_OK)
        return 0;
    if (rc == TH_WASM_OUT_OF_FUEL)
        return th_error_set(g->err, TH_ETRAP, "cabi_realloc ran out of fuel");
    if (rc == TH_WASM_TRAPPED)
        return th_error_set(g->err, trap_code(ex), "cabi_realloc trapped: %s",
                            th_wasm_exec_trap_message(ex));
    return th_error_set(g->err, TH_ETRAP, "cabi_realloc could not be called");
}

/* cabi_realloc from the host between calls, on an idle exec. */
static int alloc_idle(rt_guest *g, const th_wasm_val *args, th_wasm_val *res)
{
    int rc;

    /* an exec holding a suspended call is not ours to use (nor its fuel) */
    if (th_wasm_exec_is_suspended(g->exec))
        return th_error_set(g->err, TH_ETRAP, "cabi_realloc could not be called (exec busy)");
    th_wasm_exec_set_fuel(g->exec, RT_REALLOC_FUEL);
    realloc_depth++;
    rc = th_wasm_exec_call(g->exec, g->realloc, args, 4, res, 1);
    realloc_depth--;
    if (rc == TH_OK)
        return 0;
    if (rc == TH_WASM_TRAPPED)
        return th_error_set(g->err, trap_code(g->exec), "cabi_realloc trapped: %s",
                            th_wasm_exec_trap_message(g->exec));
    if (rc == TH_WASM_SUSPENDED || rc == TH_WASM_OUT_OF_FUEL) {
        th_wasm_exec_abort(g->exec);
        return th_error_set(g->err, TH_ETRAP, "cabi_realloc %s",
                            rc == TH_WASM_OUT_OF_FUEL ? "ran out of fuel" : "tried to suspend");
    }
    return th_error_set(g->err, TH_ETRAP, "cabi_realloc could not be called");
}

/* rt_abi_alloc, and where the allocation is in memory now (*p). */
static int alloc_at(rt_guest *g, uint32_t align, uint32_t size, uint32_t *ptr, uint8_t **p)
{
    th_wasm_val args[4], res[1];
    int rc;

    if (g->realloc == NULL)
        return th_error_set(g->err, TH_ETRAP, "actor does not export cabi_realloc");
    args[0].i32 = 0;
    args[1].i32 = 0;
    args[2].i32 = (int32_t)align;
    args[3].i32 = (int32_t)size;
    res[0].i32 = 0;
    rc = g->call != NULL ? alloc_nested(g, args, res) : alloc_idle(g, args, res);
    if (rc != 0)
        return rc;
    *ptr = (uint32_t)res[0].i32;
    if (align > 1 && (*ptr & (align - 1)) != 0)
        return th_error_set(g->err, TH_ETRAP, "cabi_realloc returned misaligned pointer 0x%x",
                            *ptr);
    rc = rt_abi_span(g, *ptr, size, p);
    if (rc != 0)
        return th_error_prefix(g->err, "cabi_realloc(%u bytes)", size);
    return 0;
}

int rt_abi_alloc(rt_guest *g, uint32_t align, uint32_t size, uint32_t *ptr)
{
    uint8_t *p = NULL;

    return alloc_at(g, align, size, ptr, &p);
}

int rt_abi_put(rt_guest *g, const void *data, size_t len, uint32_t align, uint32_t *ptr)
{
    uint8_t *p = NULL;
    int rc;

    if (len > UINT32_MAX)
        return th_error_set(g->err, TH_ETOOBIG, "value of %zu bytes does not fit a wasm32 memory",
                            len);
    /* (no guest code runs between the allocation's check and the copy) */
    rc = alloc_at(g, align, (uint32_t)len, ptr, &p);
    if (rc == 0 && len > 0)
        memcpy(p, data, len);
    return rc;
}

int rt_abi_store_u8(rt_guest *g, uint32_t addr, uint8_t v)
{
    uint8_t *p = NULL;
    int rc = rt_abi_span(g, addr, 1, &p);

    if (rc == 0)
        *p = v;
    return rc;
}

int rt_abi_store_u32(rt_guest *g, uint32_t addr, uint32_t v)
{
    uint8_t *p = NULL, b[4];
    int rc = rt_abi_span(g, addr, 4, &p);

    if (rc == 0) {
        b[0] = (uint8_t)v, b[1] = (uint8_t)(v >> 8), b[2] = (uint8_t)(v >> 16),
        b[3] = (uint8_t)(v >> 24);
        memcpy(p, b, 4);
    }
    return rc;
}

int rt_abi_store_u64(rt_guest *g, uint32_t addr, uint64_t v)
{
    uint8_t *p = NULL, b[8];
    int rc = rt_abi_span(g, addr, 8, &p), i;

    if (rc == 0) {
        for (i = 0; i < 8; i++)
            b[i] = (uint8_t)(v >> (8 * i));
        memcpy(p, b, 8);
    }
    return rc;
}

int rt_abi_load_u8(rt_guest *g, uint32_t addr, uint8_t *v)
{
    uint8_t *p = NULL;
    int rc = rt_abi_span(g, addr, 1, &p);

    if (rc == 0)
        *v = *p;
    return rc;
}

int rt_abi_load_u32(rt_guest *g, uint32_t addr, uint32_t *v)
{
    uint8_t *p = NULL;
    int rc = rt_abi_span(g, addr, 4, &p);

    if (rc == 0)
        *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return rc;
}

int rt_abi_bytes(rt_guest *g, uint32_t ptr, uint32_t len, uint8_t **out)
{
    uint8_t *p = NULL;
    int rc = rt_abi_span(g, ptr, len, &p);

    if (rc != 0)
        return rc;
    *out = malloc((size_t)len + 1);
    if (*out == NULL)
        return th_error_set(g->err, TH_ENOMEM, "out of memory lifting %u bytes", len);
    memcpy(*out, p, len);
    (*out)[len] = 0;
    return 0;
}

int rt_abi_string(rt_guest *g, uint32_t ptr, uint32_t len, char **out, size_t *n)
{
    uint8_t *p = NULL;
    int rc = rt_abi_span(g, ptr, len, &p);

    if (rc != 0)
        return rc;
    if (!rt_utf8_valid(p, len))
        return th_error_set(g->err, TH_ETRAP, "invalid UTF-8 in string at 0x%x (%u bytes)", ptr,
                            len);
    rc = rt_abi_bytes(g, ptr, len, (uint8_t **)out);
    if (rc == 0 && n != NULL)
        *n = len;
    return rc;
}

void rt_utf8_repair(char *s)
{
    size_t n = strlen(s), i = 0, k;

    while (i < n) {
        if ((k = base_utf8_seq((const uint8_t *)s + i, n - i)) == 0) {
            s[i] = '?';
            k = 1;
        }
        i += k;
    }
}

int rt_abi_opt_bytes(rt_guest *g, uint32_t addr, bool *has, uint8_t **out, size_t *n)
{
    uint8_t disc;
    uint32_t ptr, len;
    int rc;

    *out = NULL;
    *n = 0;
    *has = false;
    /* the whole option (12 bytes) first: then addr + 8 cannot wrap */
    if ((rc = rt_abi_fits(g, addr, 12)) != 0)
        return rc;
    if ((rc = rt_abi_load_u8(g, addr, &disc)) != 0)
        return rc;
    if (disc > 1)
        return th_error_set(g->err, TH_ETRAP, "invalid option discriminant %u", disc);
    if (disc == 0)
        return 0;
    if ((rc = rt_abi_load_u32(g, addr + 4, &ptr)) != 0 ||
        (rc = rt_abi_load_u32(g, addr + 8, &len)) != 0)
        return rc;
    if ((rc = rt_abi_bytes(g, ptr, len, out)) != 0)
        return rc;
    *has = true;
    *n = len;
    return 0;
}

int rt_abi_store_list(rt_guest *g, uint32_t addr, const void *data, size_t len)
{
    uint32_t ptr;
    uint8_t *p = NULL;
    int rc;

    /* check the destination first: no allocation for a bad retptr */
    if ((rc = rt_abi_fits(g, addr, 8)) != 0)
        return rc;
    if ((rc = rt_abi_put(g, data, len, 1, &ptr)) != 0)
        return rc;
    /* the pointer and the length, in the memory as it is after the
     * allocation (which may have grown it) */
    if ((rc = rt_abi_span(g, addr, 8, &p)) != 0)
        return rc;
    p[0] = (uint8_t)ptr, p[1] = (uint8_t)(ptr >> 8), p[2] = (uint8_t)(ptr >> 16),
    p[3] = (uint8_t)(ptr >> 24);
    p[4] = (uint8_t)len, p[5] = (uint8_t)(len >> 8), p[6] = (uint8_t)(len >> 16),
    p[7] = (uint8_t)(len >> 24);
    return 0;
}

int rt_abi_result_unit(rt_guest *g, uint32_t retptr, const char *errmsg)
{
    int rc = rt_abi_fits(g, retptr, 12);

    if (rc == 0)
        rc = rt_abi_store_u8(g, retptr, errmsg != NULL);
    if (rc == 0 && errmsg != NULL)
        rc = rt_abi_store_list(g, retptr + 4, errmsg, strlen(errmsg));
    return rc;
}

int rt_abi_result_err8(rt_guest *g, uint32_t retptr, const char *errmsg)
{
    int rc = rt_abi_fits(g, retptr, 16);

    if (rc == 0)
        rc = rt_abi_store_u8(g, retptr, 1);
    if (rc == 0)
        rc = rt_abi_store_list(g, retptr + 8, errmsg, strlen(errmsg));
    return rc;
}

int rt_abi_result_bytes(rt_guest *g, uint32_t retptr, const void *data, size_t len,
                        const char *errmsg)
{
    int rc = rt_abi_fits(g, retptr, 12);

    if (rc == 0)
        rc = rt_abi_store_u8(g, retptr, errmsg != NULL);
    if (rc != 0)
        return rc;
    if (errmsg != NULL)
        return rt_abi_store_list(g, retptr + 4, errmsg, strlen(errmsg));
    return rt_abi_store_list(g, retptr + 4, data, len);
}

int rt_abi_store_strings(rt_guest *g, uint32_t addr, char *const *v, size_t n)
{
    uint32_t arr, i;
    int rc;

    if ((rc = rt_abi_fits(g, addr, 8)) != 0)
        return rc;
    if (n > UINT32_MAX / 8)
        return th_error_set(g->err, TH_ETOOBIG, "list of %zu strings is too long", n);
    if ((rc = rt_abi_alloc(g, 4, (uint32_t)(n * 8), &arr)) != 0)
        return rc;
    for (i = 0; i < n; i++) {
        if ((rc = rt_abi_store_list(g, arr + i * 8, v[i], strlen(v[i]))) != 0)
            return rc;
    }
    if ((rc = rt_abi_store_u32(g, addr, arr)) != 0)
        return rc;
    return rt_abi_store_u32(g, addr + 4, (uint32_t)n);
}

/* ------------------------------------------------------------------ */
/* Helpers for host functions (src/handlers/)                         */

void rt_host_begin(rt_host *h, th_wasm_call *call)
{
    h->call = call;
    h->a = rt_actor_of_call(call);
    th_error_clear(&h->err);
    h->g.inst = th_wasm_call_instance(call);
    h->g.call = call;
    h->g.exec = NULL;
    h->g.realloc = h->a != NULL ? h->a->fn_realloc : NULL;
    h->g.err = &h->err;
    h->retptr = 0;
    h->input = NULL;
    h->output = NULL;
    h->replay_val = false;
    h->replay_out = false;
    h->replay_lent = false;
    h->replay_in = false;
}

int rt_host_trap(rt_host *h)
{
    if (h->err.code == TH_ENOMEM)
        return th_wasm_call_trap_oom(h->call, "%s", h->err.msg);
    return th_wasm_call_trap(h->call, "%s", h->err.msg[0] ? h->err.msg : "host call failed");
}

int rt_host_str(rt_host *h, uint32_t ptr, uint32_t len, char **out)
{
    return rt_abi_string(&h->g, ptr, len, out, NULL);
}

int rt_host_bytes(rt_host *h, uint32_t ptr, uint32_t len, const uint8_t **out)
{
    uint8_t *p = NULL;
    int rc = rt_abi_span(&h->g, ptr, len, &p);

    *out = p;
    return rc;
}

int rt_host_done(rt_host *h, const char *iface, const char *fn, char *input,
                 const char *output_json)
{
    rt_record_host(h->a, iface, fn, input, output_json);
    free(input);
    return TH_OK;
}

char *rt_json_obj1(const char *key, const char *val, size_t n, bool hex)
{
    rt_buf b = {0};

    rt_buf_puts(&b, "{\"");
    rt_buf_puts(&b, key);
    rt_buf_puts(&b, "\":");
    if (val == NULL)
        rt_buf_puts(&b, "null");
    else if (hex)
        rt_buf_json_hex(&b, (const uint8_t *)val, n);
    else
        rt_buf_json_str(&b, val, n);
    rt_buf_puts(&b, "}");
    if (b.oom) {
        rt_buf_release(&b);
        return NULL;
    }
    return (char *)b.data;
}
