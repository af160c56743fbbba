/*
 * exec.c - execution contexts (th_wasm_exec): the engine's own value and
 * frame stacks, calls, suspension and resumption, fuel, traps and
 * backtraces; the "inside a host function" API (th_wasm_call_*).
 *
 * Stacks start empty (an idle exec is a few hundred bytes), are allocated
 * when a call starts and grow on demand, by doubling, while the two
 * together (value slots and frame records) stay within the byte limit
 * (max_stack_bytes, default TH_WASM_DEFAULT_STACK_BYTES) and the optional
 * frame-count limit; growth rebases every frame's fp.  When the call
 * finishes (or traps, or is aborted) they are released again; a suspended
 * or out-of-fuel call keeps them.  A pooled exec (th_wasm_exec_keep_stacks)
 * keeps stacks of their initial size while idle, so that a call on it
 * allocates nothing: a runtime that runs a call per message on a few
 * cached execs would otherwise malloc and free them for every message.
 *
 * Frame stack of a running call (bottom to top):
 *   entry frame (code NULL, ip -> EXIT) | wasm frames ... | and, for each
 *   th_wasm_call_invoke in progress, another entry frame and its frames.
 * The interpreter returns when it reaches an entry frame; the caller of
 * wasm_interp_run (exec_call, exec_resume or call_invoke) then pops it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/interp.h"

#define INITIAL_SLOTS 512u /* 4 KiB of values */
#define INITIAL_FRAMES 16u
#define BACKTRACE_MAX_FRAMES 64u

/* ------------------------------------------------------------------ */
/* Stacks                                                             */

static size_t stack_bytes(const th_wasm_exec *ex)
{
    return (size_t)(ex->stack_end - ex->stack) * sizeof(th_wasm_val);
}

static size_t frames_bytes(const th_wasm_exec *ex)
{
    return (size_t)(ex->frames_end - ex->frames) * sizeof(struct wasm_frame);
}

/* Both stacks grow by doubling, each within what the byte limit leaves
 * after the other's capacity. */
int wasm_exec_reserve(th_wasm_exec *ex, size_t from, size_t slots)
{
    size_t cap = (size_t)(ex->stack_end - ex->stack), need = from + slots, ncap, budget;
    th_wasm_val *ns;

    if (need <= cap && ex->stack != NULL)
        return 0;
    budget = ex->max_bytes > frames_bytes(ex)
                 ? (ex->max_bytes - frames_bytes(ex)) / sizeof(th_wasm_val)
                 : 0;
    if (need > budget || need < from) {
        ex->exhausted = WASM_EXHAUSTED_BYTES;
        return 1;
    }
    ncap = cap ? cap * 2 : INITIAL_SLOTS;
    if (ncap < need)
        ncap = need;
    if (ncap > budget)
        ncap = budget;
    ns = realloc(ex->stack, ncap * sizeof *ns);
    if (ns == NULL)
        return TH_ENOMEM;
    if (ns != ex->stack && ex->top != NULL) {
        for (struct wasm_frame *f = ex->frames; f <= ex->top; f++)
            f->fp = ns + (f->fp - ex->stack);
    }
    ex->stack = ns;
    ex->stack_end = ns + ncap;
    return 0;
}

int wasm_exec_reserve_frame(th_wasm_exec *ex)
{
    size_t cap = (size_t)(ex->frames_end - ex->frames), used, ncap, budget;
    struct wasm_frame *nf;

    used = ex->top ? (size_t)(ex->top - ex->frames) + 1 : 0;
    if (used + 1 <= cap)
        return 0;
    if (used + 1 > ex->max_frames) {
        ex->exhausted = WASM_EXHAUSTED_DEPTH;
        return 1;
    }
    budget = ex->max_bytes > stack_bytes(ex)
                 ? (ex->max_bytes - stack_bytes(ex)) / sizeof(struct wasm_frame)
                 : 0;
    if (budget > ex->max_frames)
        budget = ex->max_frames;
    if (used + 1 > budget) {
        ex->exhausted = WASM_EXHAUSTED_BYTES;
        return 1;
    }
    ncap = cap ? cap * 2 : INITIAL_FRAMES;
    if (ncap > budget)
        ncap = budget;
    nf = realloc(ex->frames, ncap * sizeof *nf);
    if (nf == NULL)
        return TH_ENOMEM;
    if (ex->top != NULL)
        ex->top = nf + (ex->top - ex->frames);
    ex->frames = nf;
    ex->frames_end = nf + ncap;
    return 0;
}

/* Release the stacks of an idle exec: a process may keep a million idle
 * execs (one per actor), so an idle one holds only its own struct; the
 * next call allocates again (a few hundred nanoseconds).  A pooled exec
 * keeps stacks that never grew past their initial size and fit its limit
 * (unless `force`). */
static void exec_trim(th_wasm_exec *ex, bool force)
{
    if (!force && ex->keep_stacks && ex->stack != NULL &&
        ex->stack_end - ex->stack <= (ptrdiff_t)INITIAL_SLOTS &&
        ex->frames_end - ex->frames <= (ptrdiff_t)INITIAL_FRAMES &&
        stack_bytes(ex) + frames_bytes(ex) <= ex->max_bytes)
        return;
    free(ex->stack);
    ex->stack = ex->stack_end = NULL;
    free(ex->frames);
    ex->frames = ex->frames_end = NULL;
}

int wasm_exec_grow(th_wasm_exec *ex, size_t from, size_t slots)
{
    int rc = wasm_exec_reserve(ex, from, slots);
    return rc != 0 ? rc : wasm_exec_reserve_frame(ex);
}

void wasm_exec_stack_trap(th_wasm_exec *ex, int rc)
{
    if (rc < 0)
        wasm_exec_set_trap(ex, TH_WASM_TRAP_OOM, "out of memory growing the stack");
    else if (ex->exhausted == WASM_EXHAUSTED_DEPTH)
        wasm_exec_set_trap(ex, TH_WASM_TRAP_STACK_EXHAUSTED,
                           "call stack exhausted: the call depth limit of %u frames was "
                           "reached (raise the exec's max_call_depth)",
                           ex->max_frames - 1);
    else
        wasm_exec_set_trap(ex, TH_WASM_TRAP_STACK_EXHAUSTED,
                           "call stack exhausted: the wasm stack limit of %zu bytes was "
                           "reached (raise it with `theater wasm run --max-stack BYTES`, "
                           "or `stack_bytes` under [limits] in an actor's manifest)",
                           ex->max_bytes);
}

/* Push a frame running `code` at stack index `base` (arguments already
 * there) above ex->top.  Returns 0, or wasm_exec_grow's failure. */
static int push_wasm_frame(th_wasm_exec *ex, const struct wasm_code *code, th_wasm_instance *inst,
                           size_t base)
{
    struct wasm_frame *f;
    th_wasm_val *fp;
    int rc;

    if ((rc = wasm_exec_grow(ex, base, code->frame_slots)) != 0)
        return rc;
    fp = ex->stack + base;
    for (uint32_t i = 0; i < code->ninit; i++)
        fp[code->nparam_slots + i] = code->init[i];
    f = ++ex->top;
    f->ip = code->code;
    f->fp = fp;
    f->code = code;
    f->inst = inst;
    if (code->entry_acc)
        ex->acc = fp[0].bits; /* its first instruction reads it there */
    return 0;
}

/* Push an entry frame whose callee's arguments start at stack index
 * `base`.  Returns 0, or wasm_exec_grow's failure. */
static int push_entry_frame(th_wasm_exec *ex, th_wasm_instance *inst, size_t base, size_t slots)
{
    struct wasm_frame *f;
    int rc;

    if ((rc = wasm_exec_grow(ex, base, slots)) != 0)
        return rc;
    f = ex->top ? ex->top + 1 : ex->frames;
    f->ip = wasm_interp_exit_code();
    f->fp = ex->stack + base;
    f->code = NULL;
    f->inst = inst;
    ex->top = f;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Traps and backtraces                                               */

void wasm_exec_set_trap(th_wasm_exec *ex, th_wasm_trap_kind kind, const char *fmt, ...)
{
    va_list ap;

    ex->trap_kind = kind;
    va_start(ap, fmt);
    vsnprintf(ex->trap_msg, sizeof ex->trap_msg, fmt, ap);
    va_end(ap);
    if (ex->backtrace != NULL)
        ex->backtrace[0] = '\0';
}

static void clear_trap(th_wasm_exec *ex)
{
    ex->trap_kind = TH_WASM_TRAP_NONE;
    ex->trap_msg[0] = '\0';
    if (ex->backtrace != NULL)
        ex->backtrace[0] = '\0';
}

/* Name of a frame's function: the name section's, else "func[N]". */
static void frame_name(const struct wasm_code *code, char *buf, size_t cap)
{
    const th_wasm_module *m = code->mod;

    if (m != NULL && m->func_names != NULL && m->func_names[code->func_idx] != NULL)
        snprintf(buf, cap, "%s", m->func_names[code->func_idx]);
    else
        snprintf(buf, cap, "func[%u]", code->func_idx);
}

/* Describe the wasm frames from ex->top down, innermost first, unless a
 * nested call already did.  Failure to allocate leaves it empty. */
static void build_backtrace(th_wasm_exec *ex)
{
    size_t cap = 256, len = 0;
    unsigned n = 0, skipped = 0;
    char *buf, name[160];

    if (ex->backtrace != NULL && ex->backtrace[0] != '\0')
        return;
    if (ex->top == NULL)
        return;
    buf = malloc(cap);
    if (buf == NULL)
        return;
    buf[0] = '\0';
    for (struct wasm_frame *f = ex->top; f >= ex->frames; f--) {
        int w;
        if (f->code == NULL)
            continue;
        if (n >= BACKTRACE_MAX_FRAMES) {
            skipped++;
            continue;
        }
        frame_name(f->code, name, sizeof name);
        for (;;) {
            w = snprintf(buf + len, cap - len, "#%u %s\n", n, name);
            if (w >= 0 && (size_t)w < cap - len)
                break;
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL)
                goto done;
            buf = nb;
            cap *= 2;
        }
        len += (size_t)w;
        n++;
    }
    if (skipped > 0) {
        char tail[64];
        int w = snprintf(tail, sizeof tail, "... %u more frames\n", skipped);
        char *nb = realloc(buf, len + (size_t)w + 1);
        if (nb != NULL) {
            buf = nb;
            memcpy(buf + len, tail, (size_t)w + 1);
        }
    }
done:
    free(ex->backtrace);
    ex->backtrace = buf;
}

/* ------------------------------------------------------------------ */
/* Execs                                                              */

th_wasm_exec *th_wasm_exec_new(const th_wasm_exec_config *cfg)
{
    th_wasm_exec *ex = calloc(1, sizeof *ex);
    uint32_t depth = cfg && cfg->max_call_depth ? cfg->max_call_depth : 0;

    if (ex == NULL)
        return NULL;
    th_wasm_exec_set_max_stack(ex, cfg ? cfg->max_stack_bytes : 0);
    /* wasm frames plus the entry frame of the outermost call */
    ex->max_frames = depth == 0 || depth + 1 < depth ? UINT32_MAX : depth + 1;
    ex->fuel = UINT64_MAX;
    ex->fuel_limited = false;
    return ex;
}

void th_wasm_exec_free(th_wasm_exec *ex)
{
    if (ex == NULL)
        return;
    free(ex->stack);
    free(ex->frames);
    free(ex->backtrace);
    free(ex);
}

void th_wasm_exec_set_max_stack(th_wasm_exec *ex, size_t bytes)
{
    if (bytes == 0)
        bytes = TH_WASM_DEFAULT_STACK_BYTES;
    if (bytes < TH_WASM_MIN_STACK_BYTES)
        bytes = TH_WASM_MIN_STACK_BYTES;
    ex->max_bytes = bytes;
    /* kept stacks larger than the new limit go (the limit binds at once) */
    if (ex->state == WASM_EXEC_IDLE && ex->stack != NULL &&
        stack_bytes(ex) + frames_bytes(ex) > bytes)
        exec_trim(ex, true);
}

void th_wasm_exec_keep_stacks(th_wasm_exec *ex, bool keep)
{
    ex->keep_stacks = keep;
    if (!keep && ex->state == WASM_EXEC_IDLE)
        exec_trim(ex, true);
}

size_t th_wasm_exec_max_stack(const th_wasm_exec *ex)
{
    return ex->max_bytes;
}

void th_wasm_exec_set_user(th_wasm_exec *ex, void *user)
{
    ex->user = user;
}

void *th_wasm_exec_user(const th_wasm_exec *ex)
{
    return ex->user;
}

void th_wasm_exec_set_fuel(th_wasm_exec *ex, uint64_t fuel)
{
    ex->fuel = fuel;
    ex->fuel_limited = fuel != UINT64_MAX;
}

uint64_t th_wasm_exec_fuel(const th_wasm_exec *ex)
{
    return ex->fuel_limited ? ex->fuel : UINT64_MAX;
}

bool th_wasm_exec_is_suspended(const th_wasm_exec *ex)
{
    return ex->state == WASM_EXEC_SUSPENDED || ex->state == WASM_EXEC_OUT_OF_FUEL;
}

th_wasm_trap_kind th_wasm_exec_trap_kind(const th_wasm_exec *ex)
{
    return ex->trap_kind;
}

const char *th_wasm_exec_trap_message(const th_wasm_exec *ex)
{
    return ex->trap_msg;
}

const char *th_wasm_exec_backtrace(const th_wasm_exec *ex)
{
    return ex->backtrace ? ex->backtrace : "";
}

const th_wasm_functype *th_wasm_func_type(const th_wasm_func *f)
{
    return &f->type->pub;
}

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* Back to idle after the outermost call finished, trapped or was
 * abandoned. */
static void exec_idle(th_wasm_exec *ex)
{
    ex->state = WASM_EXEC_IDLE;
    ex->top = NULL;
    ex->entry_fn = NULL;
    ex->pending_entry = false;
    ex->host_entry = false;
    ex->nested = 0;
    exec_trim(ex, false);
}

static uint32_t param_slots(const wasm_functype *type)
{
    return wasm_slot_count(type->types, type->nparams);
}

static uint32_t result_slots(const wasm_functype *type)
{
    return wasm_slot_count(type->types + type->nparams, type->nresults);
}

/* Copy the results of `type` (their slots) from stack index `base`. */
static void copy_results(const th_wasm_exec *ex, const wasm_functype *type, size_t base,
                         th_wasm_val *results)
{
    uint32_t n = result_slots(type);

    if (n == 0)
        return;
    memcpy(results, ex->stack + base, n * sizeof *results);
    wasm_vals_normalize(results, type->types + type->nparams, type->nresults);
}

/* Run the interpreter for the outermost call and settle the state. */
static int exec_run(th_wasm_exec *ex, th_wasm_val *results)
{
    int rc;

    ex->state = WASM_EXEC_RUNNING;
    rc = wasm_interp_run(ex);
    switch (rc) {
    case TH_OK:
        copy_results(ex, ex->entry_fn->type, 0, results);
        exec_idle(ex);
        break;
    case TH_WASM_SUSPENDED: ex->state = WASM_EXEC_SUSPENDED; break;
    case TH_WASM_OUT_OF_FUEL: ex->state = WASM_EXEC_OUT_OF_FUEL; break;
    default:
        build_backtrace(ex);
        exec_idle(ex);
        rc = TH_WASM_TRAPPED;
        break;
    }
    return rc;
}

/* Spend the entry function's fuel unit.  Returns false when out. */
static bool spend_entry_fuel(th_wasm_exec *ex)
{
    if (!ex->fuel_limited)
        return true;
    if (ex->fuel == 0)
        return false;
    ex->fuel--;
    return true;
}

int th_wasm_exec_call(th_wasm_exec *ex, th_wasm_func *fn, const th_wasm_val *args, uint32_t nargs,
                      th_wasm_val *results, uint32_t nresults)
{
    const wasm_functype *type;
    size_t slots;
    int rc, grc;

    if (ex == NULL || fn == NULL)
        return TH_EINVAL;
    if (ex->state != WASM_EXEC_IDLE)
        return TH_EBUSY;
    type = fn->type;
    if (nargs != param_slots(type) || nresults != result_slots(type) ||
        (nargs > 0 && args == NULL) || (nresults > 0 && results == NULL))
        return TH_EINVAL;

    clear_trap(ex);
    ex->top = NULL;
    ex->nested = 0;
    ex->entry_fn = fn;
    ex->pending_entry = false;
    ex->host_entry = false;
    slots = max_size(nargs, nresults);
    if ((grc = push_entry_frame(ex, fn->inst, 0, slots)) != 0) {
        wasm_exec_stack_trap(ex, grc);
        exec_idle(ex);
        return TH_WASM_TRAPPED;
    }
    if (nargs > 0)
        memcpy(ex->stack, args, nargs * sizeof *args);

    if (fn->host != NULL) {
        ex->state = WASM_EXEC_RUNNING;
        rc = wasm_interp_call_host(ex, fn, NULL, 0, slots);
        if (rc == TH_OK) {
            copy_results(ex, type, 0, results);
            exec_idle(ex);
        } else if (rc == TH_WASM_SUSPENDED) {
            ex->state = WASM_EXEC_SUSPENDED;
            ex->host_entry = true;
        } else {
            exec_idle(ex);
        }
        return rc;
    }

    if ((grc = push_wasm_frame(ex, fn->code, fn->inst, 0)) != 0) {
        wasm_exec_stack_trap(ex, grc);
        exec_idle(ex);
        return TH_WASM_TRAPPED;
    }
    if (!spend_entry_fuel(ex)) {
        ex->pending_entry = true;
        ex->state = WASM_EXEC_OUT_OF_FUEL;
        return TH_WASM_OUT_OF_FUEL;
    }
    return exec_run(ex, results);
}

int th_wasm_exec_resume(th_wasm_exec *ex, const th_wasm_val *host_results, th_wasm_val *results,
                        uint32_t nresults)
{
    const wasm_functype *type;

    if (ex == NULL)
        return TH_EINVAL;
    if (ex->state != WASM_EXEC_SUSPENDED && ex->state != WASM_EXEC_OUT_OF_FUEL)
        return TH_ESTATE;
    type = ex->entry_fn->type;
    if (nresults != result_slots(type) || (nresults > 0 && results == NULL))
        return TH_EINVAL;
    clear_trap(ex);

    if (ex->state == WASM_EXEC_SUSPENDED) {
        if (ex->susp_nresults > 0 && host_results == NULL)
            return TH_EINVAL;
        if (ex->host_entry) {
            if (nresults > 0)
                memcpy(results, host_results, nresults * sizeof *results);
            wasm_vals_normalize(results, type->types + type->nparams, type->nresults);
            exec_idle(ex);
            return TH_OK;
        }
        if (ex->susp_nresults > 0)
            memcpy(ex->stack + ex->susp_slot, host_results,
                   ex->susp_nresults * sizeof *host_results);
    } else if (ex->pending_entry) {
        if (!spend_entry_fuel(ex))
            return TH_WASM_OUT_OF_FUEL;
        ex->pending_entry = false;
    }
    return exec_run(ex, results);
}

/* The call becomes a trap (fuel exhausted, or aborted while suspended)
 * whose backtrace is taken from its frames before they are dropped. */
void th_wasm_exec_abort(th_wasm_exec *ex)
{
    if (ex == NULL)
        return;
    if (ex->state == WASM_EXEC_OUT_OF_FUEL) {
        clear_trap(ex);
        wasm_exec_set_trap(ex, TH_WASM_TRAP_FUEL, "fuel exhausted");
        build_backtrace(ex);
        exec_idle(ex);
    } else if (ex->state == WASM_EXEC_SUSPENDED) {
        clear_trap(ex);
        wasm_exec_set_trap(ex, TH_WASM_TRAP_ABORTED, "call aborted");
        build_backtrace(ex);
        exec_idle(ex);
    }
}

/* ------------------------------------------------------------------ */
/* Inside a host function                                             */

th_wasm_exec *th_wasm_call_exec(th_wasm_call *call)
{
    return call->ex;
}

th_wasm_instance *th_wasm_call_instance(th_wasm_call *call)
{
    return call->inst;
}

uint8_t *th_wasm_call_memory(th_wasm_call *call, uint64_t *size)
{
    th_wasm_memory *mem = call->inst ? call->inst->mem0 : NULL;

    if (mem == NULL) {
        if (size != NULL)
            *size = 0;
        return NULL;
    }
    if (size != NULL)
        *size = mem->size;
    return mem->data;
}

static int call_trapv(th_wasm_call *call, th_wasm_trap_kind kind, const char *fmt, va_list ap)
{
    th_wasm_exec *ex = call->ex;

    ex->trap_kind = kind;
    vsnprintf(ex->trap_msg, sizeof ex->trap_msg, fmt, ap);
    if (ex->backtrace != NULL)
        ex->backtrace[0] = '\0';
    call->trap_set = true;
    return TH_WASM_TRAPPED;
}

int th_wasm_call_trap(th_wasm_call *call, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = call_trapv(call, TH_WASM_TRAP_HOST, fmt, ap);
    va_end(ap);
    return rc;
}

int th_wasm_call_trap_oom(th_wasm_call *call, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = call_trapv(call, TH_WASM_TRAP_OOM, fmt, ap);
    va_end(ap);
    return rc;
}

int th_wasm_call_invoke(th_wasm_call *call, th_wasm_func *fn, const th_wasm_val *args,
                        th_wasm_val *results)
{
    th_wasm_exec *ex = call->ex;
    const wasm_functype *type;
    size_t base = call->stack_top, slots, outer;
    int rc, grc;

    if (fn == NULL)
        return TH_EINVAL;
    if (ex->state != WASM_EXEC_RUNNING)
        return TH_ESTATE;
    type = fn->type;
    if ((type->nparams > 0 && args == NULL) || (type->nresults > 0 && results == NULL))
        return TH_EINVAL;

    if (ex->nested >= TH_WASM_MAX_NESTED_CALLS) {
        wasm_exec_set_trap(ex, TH_WASM_TRAP_STACK_EXHAUSTED,
                           "call stack exhausted (host calls nested too deeply)");
        return TH_WASM_TRAPPED;
    }
    clear_trap(ex);
    outer = (size_t)(ex->top - ex->frames);
    slots = max_size(param_slots(type), result_slots(type));
    if ((grc = push_entry_frame(ex, fn->inst, base, slots)) != 0) {
        wasm_exec_stack_trap(ex, grc);
        ex->top = ex->frames + outer;
        return TH_WASM_TRAPPED;
    }
    if (type->nparams > 0)
        memcpy(ex->stack + base, args, param_slots(type) * sizeof *args);

    ex->nested++;
    if (fn->host != NULL) {
        rc = wasm_interp_call_host(ex, fn, call->inst, base, base + slots);
    } else if ((grc = push_wasm_frame(ex, fn->code, fn->inst, base)) != 0) {
        wasm_exec_stack_trap(ex, grc);
        rc = TH_WASM_TRAPPED;
    } else if (!spend_entry_fuel(ex)) {
        rc = TH_WASM_OUT_OF_FUEL;
    } else {
        rc = wasm_interp_run(ex);
    }
    ex->nested--;

    if (rc == TH_OK) {
        copy_results(ex, type, base, results);
    } else if (rc == TH_WASM_OUT_OF_FUEL) {
        wasm_exec_set_trap(ex, TH_WASM_TRAP_FUEL, "fuel exhausted");
        build_backtrace(ex);
    } else {
        build_backtrace(ex);
        rc = TH_WASM_TRAPPED;
    }
    ex->top = ex->frames + outer;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Start functions                                                    */

int wasm_run_start(th_wasm_func *fn, uint64_t fuel, th_wasm_exec *on, th_error *err)
{
    th_wasm_exec *ex = on != NULL ? on : th_wasm_exec_new(NULL);
    uint64_t fuel_was = on != NULL ? on->fuel : 0;
    bool limited_was = on != NULL && on->fuel_limited;
    int rc;

    if (ex == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    if (ex->state != WASM_EXEC_IDLE)
        return th_error_set(err, TH_EBUSY, "the exec for the start function is busy");
    th_wasm_exec_set_fuel(ex, fuel ? fuel : UINT64_MAX);
    rc = th_wasm_exec_call(ex, fn, NULL, 0, NULL, 0);
    switch (rc) {
    case TH_OK: break;
    case TH_WASM_TRAPPED: rc = th_error_set(err, TH_ETRAP, "%s", ex->trap_msg); break;
    case TH_WASM_OUT_OF_FUEL:
        th_wasm_exec_abort(ex);
        rc = th_error_set(err, TH_ETRAP, "fuel exhausted");
        break;
    case TH_WASM_SUSPENDED:
        th_wasm_exec_abort(ex);
        rc = th_error_set(err, TH_ETRAP, "start function cannot suspend");
        break;
    default: rc = th_error_set(err, rc, "cannot run the start function"); break;
    }
    if (on == NULL) {
        th_wasm_exec_free(ex);
    } else { /* the embedder's fuel setting, as it was */
        ex->fuel = fuel_was;
        ex->fuel_limited = limited_was;
    }
    return rc;
}
