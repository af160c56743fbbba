/*
 * test_sdk_alloc.c - host-side tests of the C guest SDK's logic: the
 * allocator behind cabi_realloc (with a full heap-invariant check after
 * every step of a random workload), the call-scoped memory that export
 * calls free at post-return, the export glue's return area, the formatter
 * (against the C library's snprintf), the JSON string reader and the UTF-8
 * checks. The SDK sources are included so the test can see the heap; built
 * for the host, they use a static array as linear memory (see theater.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "theater.c"
#include "theater_text.c"

/* ------------------------------------------------------------------------ */
/* Heap invariants                                                          */
/* ------------------------------------------------------------------------ */

/* Walks the heap: blocks tile [start, top), sizes are multiples of 8 and at
 * least 16, prev_size links match, no two free blocks touch, the last block
 * is used and is heap.last, and the free list holds exactly the free blocks,
 * doubly linked. Returns the number of used blocks. */
static int check_heap(void)
{
    if (!heap.ready)
        return 0;
    int used = 0, free_blocks = 0;
    uint32_t prev = 0, b = heap.start;
    bool prev_free = false;
    assert_true(heap.top <= heap.end);
    while (b < heap.top) {
        uint32_t size = blk_size(b);
        assert_true(size >= MIN_BLOCK && size % 8 == 0);
        assert_true(b + size <= heap.top);
        assert_int_equal(blk_prev_size(b), prev ? blk_size(prev) : 0);
        bool is_free = !(blk_flags(b) & F_USED);
        if (is_free) {
            assert_false(prev_free);
            assert_int_equal(blk_flags(b), 0);
            free_blocks++;
        } else {
            used++;
        }
        prev_free = is_free;
        prev = b;
        b += size;
    }
    assert_int_equal(b, heap.top);
    assert_false(prev_free);
    assert_int_equal(heap.last, prev);
    int listed = 0;
    uint32_t back = 0;
    for (uint32_t f = heap.free_head; f; f = *blk_next_free(f)) {
        assert_false(blk_flags(f) & F_USED);
        assert_int_equal(*blk_prev_free(f), back);
        back = f;
        assert_true(++listed <= free_blocks);
    }
    assert_int_equal(listed, free_blocks);
    return used;
}

/* Used blocks other than the scope list's own array. */
static int live(void)
{
    return check_heap() - (scope.items ? 1 : 0);
}

static void reset_heap(void)
{
    memset(&heap, 0, sizeof heap);
    memset(&scope, 0, sizeof scope);
    host_pages = 1;
}

static int setup(void **state)
{
    (void)state;
    reset_heap();
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Allocator                                                                */
/* ------------------------------------------------------------------------ */

static void test_alloc_basics(void **state)
{
    (void)state;
    uint8_t *a = ta_alloc(1), *b = ta_alloc(100), *c = ta_calloc(24);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal((uintptr_t)a % 8, 0);
    assert_int_equal((uintptr_t)b % 8, 0);
    for (int i = 0; i < 24; i++)
        assert_int_equal(c[i], 0);
    memset(b, 0xab, 100);
    *a = 7;
    assert_int_equal(check_heap(), 3);

    /* Freeing the top block gives it back; a hole is reused first-fit. */
    uint32_t top = heap.top;
    ta_free(c);
    assert_true(heap.top < top);
    ta_free(a);
    assert_int_equal(check_heap(), 1);
    uint8_t *d = ta_alloc(4);
    assert_ptr_equal(d, a);
    ta_free(d);
    ta_free(b);
    assert_int_equal(check_heap(), 0);
    assert_int_equal(heap.top, heap.start);

    ta_free(NULL);                    /* ignored */
    ta_free((void *)"static string"); /* outside the heap: ignored */
    static uint64_t outside;
    ta_free(&outside);
    assert_int_equal(check_heap(), 0);
}

static void test_alloc_grows_memory(void **state)
{
    (void)state;
    assert_int_equal(mem_size(), PAGE_SIZE);
    void *big = ta_alloc(200000);
    assert_non_null(big);
    assert_int_equal(mem_size(), 4 * PAGE_SIZE); /* 64 + 8 + 200000 bytes need 4 pages */
    assert_true(heap.top <= heap.end);
    memset(big, 1, 200000);
    assert_null(ta_alloc((size_t)HOST_PAGES * PAGE_SIZE)); /* cannot grow that far */
    assert_null(ta_alloc((size_t)0x80000000u));
    assert_int_equal(check_heap(), 1);
    ta_free(big);
    assert_int_equal(check_heap(), 0);
}

static void test_realloc_in_place_and_moving(void **state)
{
    (void)state;
    uint8_t *a = ta_alloc(16);
    uint8_t *b = ta_alloc(16);
    for (int i = 0; i < 16; i++)
        a[i] = (uint8_t)i;
    /* a cannot grow in place (b follows): it moves and keeps its bytes. */
    uint8_t *a2 = ta_realloc(a, 64);
    assert_ptr_not_equal(a2, a);
    for (int i = 0; i < 16; i++)
        assert_int_equal(a2[i], i);
    check_heap();
    /* b is now followed by a2; freeing a2 and growing b merges in place. */
    ta_free(a2);
    assert_ptr_equal(ta_realloc(b, 200), b);
    /* shrinking keeps the block and gives the tail back */
    assert_ptr_equal(ta_realloc(b, 8), b);
    assert_int_equal(check_heap(), 1);
    assert_int_equal(blk_size(MEM_OFF(b) - HDR_SIZE), MIN_BLOCK);
    ta_free(b);
    assert_non_null(ta_realloc(NULL, 10)); /* realloc(NULL) allocates */
    assert_int_equal(check_heap(), 1);
}

/* A seeded random workload against a shadow copy of every block. */
static void test_alloc_random_workload(void **state)
{
    (void)state;
    enum { SLOTS = 64, STEPS = 20000 };
    struct {
        uint8_t *p;
        size_t n;
        uint8_t fill;
    } slot[SLOTS] = {{0}};
    uint32_t rng = 12345;
    for (int step = 0; step < STEPS; step++) {
        rng = rng * 1103515245u + 12345u;
        int i = (int)((rng >> 8) % SLOTS);
        size_t n = (rng >> 16) % 3 == 0 ? (rng >> 12) % 5000 : (rng >> 12) % 64;
        if (slot[i].p) {
            for (size_t k = 0; k < slot[i].n; k++)
                assert_int_equal(slot[i].p[k], slot[i].fill);
        }
        if (slot[i].p && (rng & 1)) {
            ta_free(slot[i].p);
            slot[i].p = NULL;
        } else if (slot[i].p) {
            uint8_t *q = ta_realloc(slot[i].p, n);
            assert_non_null(q);
            size_t keep = n < slot[i].n ? n : slot[i].n;
            for (size_t k = 0; k < keep; k++)
                assert_int_equal(q[k], slot[i].fill);
            slot[i].p = q;
            slot[i].n = n;
            memset(q, slot[i].fill, n);
        } else {
            slot[i].p = ta_alloc(n);
            assert_non_null(slot[i].p);
            slot[i].n = n;
            slot[i].fill = (uint8_t)(rng >> 24);
            memset(slot[i].p, slot[i].fill, n);
        }
        if (step % 16 == 0)
            check_heap();
    }
    for (int i = 0; i < SLOTS; i++)
        ta_free(slot[i].p);
    assert_int_equal(check_heap(), 0);
    assert_int_equal(heap.top, heap.start);
}

/* ------------------------------------------------------------------------ */
/* cabi_realloc and call scope                                              */
/* ------------------------------------------------------------------------ */

static void test_cabi_realloc(void **state)
{
    (void)state;
    /* zero-size: an aligned non-null address, nothing allocated */
    assert_int_equal((uintptr_t)cabi_realloc(NULL, 0, 4, 0), 4);
    assert_int_equal(live(), 0);
    char *p = cabi_realloc(NULL, 0, 1, 5);
    memcpy(p, "hello", 5);
    assert_int_equal(scope.len, 1);
    /* growing a host allocation keeps it scoped (one entry) */
    p = cabi_realloc(p, 5, 1, 5000);
    assert_memory_equal(p, "hello", 5);
    assert_int_equal(scope.len, 1);
    assert_true(blk_flags(blk_of(p)) & F_SCOPED);
    assert_int_equal(live(), 1);
}

static ta_str seen_msg;

/* A handle-send handler: remembers its message, sets a formatted state. */
static ta_status send_handler(ta_state *st, ta_bytes msg)
{
    seen_msg = ta_bytes_str(msg);
    ta_str text = ta_format("got %.*s", TA_FMT(msg));
    ta_state_set(st, text.ptr, text.len);
    return TA_OK;
}

static ta_status failing_handler(ta_state *st, ta_bytes msg)
{
    return ta_failf("bad message of %zu bytes", msg.len);
}

/* Lowers bytes into the heap the way a host does: via cabi_realloc. */
static uint8_t *host_lower(const char *s)
{
    size_t n = strlen(s);
    uint8_t *p = cabi_realloc(NULL, 0, 1, n);
    memcpy(p, s, n);
    return p;
}

static void test_export_call_scope(void **state)
{
    (void)state;
    uint8_t *st = host_lower("old");
    uint8_t *msg = host_lower("ping");
    thw_res_tup1_opt_bytes_str *r = ta__call_send(send_handler, 1, st, 3, msg, 4);
    assert_true(ta_str_eq_c(seen_msg, "ping"));
    assert_int_equal(r->is_err, 0);
    assert_true(r->u.ok.f0.some);
    assert_int_equal(r->u.ok.f0.u.val.len, 8);
    assert_memory_equal(r->u.ok.f0.u.val.ptr, "got ping", 8);
    assert_true(live() >= 3); /* parameters and results live until post-return */
    ta__post_return(r);
    assert_int_equal(live(), 0);
    assert_int_equal(scope.len, 0);

    /* A failure carries its message in the err case. */
    msg = host_lower("xyz");
    r = ta__call_send(failing_handler, 0, NULL, 0, msg, 3);
    assert_int_equal(r->is_err, 1);
    assert_int_equal(r->u.err.len, strlen("bad message of 3 bytes"));
    assert_memory_equal(r->u.err.ptr, "bad message of 3 bytes", r->u.err.len);
    ta__post_return(r);
    assert_int_equal(live(), 0);
}

/* Without post-return, the next export call frees the previous call's
 * memory on entry, but not the parameters lowered for itself. */
static void test_scope_without_post_return(void **state)
{
    (void)state;
    uint8_t *msg = host_lower("first");
    ta__call_send(send_handler, 0, NULL, 0, msg, 5);
    assert_int_equal(scope.done, scope.len);
    size_t first_call = scope.len;
    uint8_t *msg2 = host_lower("second");
    assert_int_equal(scope.len, first_call + 1);
    thw_res_tup1_opt_bytes_str *r = ta__call_send(send_handler, 0, NULL, 0, msg2, 6);
    assert_true(ta_str_eq_c(seen_msg, "second")); /* msg2 survived the flush */
    assert_memory_equal(r->u.ok.f0.u.val.ptr, "got second", 10);
    ta__post_return(r);
    assert_int_equal(live(), 0);
}

static ta_bytes kept;

static ta_status keeping_handler(ta_state *st, ta_bytes msg)
{
    kept = (ta_bytes){ta_keep(msg.ptr), msg.len};
    return TA_OK;
}

static void test_keep_and_early_free(void **state)
{
    (void)state;
    uint8_t *msg = host_lower("keep me");
    ta__post_return(ta__call_send(keeping_handler, 0, NULL, 0, msg, 7));
    assert_int_equal(live(), 1);
    assert_memory_equal(kept.ptr, "keep me", 7);
    ta_free((void *)(uintptr_t)kept.ptr);
    assert_int_equal(live(), 0);

    /* ta_free of a scoped block takes it out of the scope list */
    void *s1 = ta_scoped_alloc(10), *s2 = ta_scoped_alloc(10);
    assert_int_equal(scope.len, 2);
    ta_free(s1);
    assert_int_equal(scope.len, 1);
    assert_int_equal(scope.items[0], blk_of(s2));
    call_end();
    ta__post_return(NULL);
    assert_int_equal(live(), 0);
}

/* Many scoped blocks: the scope list grows and everything is freed. */
static void test_scope_many(void **state)
{
    (void)state;
    for (int i = 0; i < 1000; i++)
        ta_str_scoped("x", 1);
    assert_int_equal(scope.len, 1000);
    call_end();
    ta__post_return(NULL);
    assert_int_equal(scope.len, 0);
    assert_int_equal(live(), 0);
    assert_int_equal(check_heap(), 1); /* the scope list itself */
}

static ta_status request_handler(ta_state *st, ta_str rid, ta_bytes msg, ta_opt_bytes *resp)
{
    *resp = ta_some(msg);
    ta_state_clear(st);
    return TA_OK;
}

static ta_status open_handler(ta_state *st, ta_str ch, ta_bytes msg, ta_channel_accept *acc)
{
    assert_false(acc->accepted);
    assert_false(acc->message.some);
    acc->accepted = true;
    return TA_OK;
}

static void test_request_and_channel_results(void **state)
{
    (void)state;
    uint8_t *rid = host_lower("r1"), *msg = host_lower("answer");
    thw_res_tup2_opt_bytes_tup1_opt_bytes_str *r =
        ta__call_request(request_handler, 1, msg, 6, (char *)rid, 2, msg, 6);
    assert_int_equal(r->is_err, 0);
    assert_false(r->u.ok.f0.some);
    assert_null(r->u.ok.f0.u.val.ptr); /* none is lowered without a pointer */
    assert_true(r->u.ok.f1.f0.some);
    assert_memory_equal(r->u.ok.f1.f0.u.val.ptr, "answer", 6);
    ta__post_return(r);

    thw_res_tup2_opt_bytes_tup1_types_channel_accept_str *c =
        ta__call_channel_open(open_handler, 0, NULL, 0, "ch", 2, NULL, 0);
    assert_int_equal(c->is_err, 0);
    assert_true(c->u.ok.f1.f0.accepted);
    assert_false(c->u.ok.f1.f0.message.some);
    ta__post_return(c);
    assert_int_equal(live(), 0);
}

/* http-handlers: the request arrives as the host lowered it, the response
 * and the middleware's result are lowered with their lists, and the
 * WebSocket replies become a call-scoped list of the generated type. */
static const ta_header resp_headers[] = {{{"a", 1}, {"b", 1}}};

static ta_status http_handler(ta_state *st, uint64_t hid, ta_http_request req,
                              ta_http_response *resp)
{
    assert_int_equal(hid, 7);
    assert_true(ta_str_eq_c(req.method, "PUT") && ta_str_eq_c(req.uri, "/x?y"));
    assert_int_equal(req.headers.len, 1);
    assert_true(ta_str_eq_c(req.headers.items[0].value, "v"));
    assert_true(req.body.some && ta_bytes_eq_c(req.body.val, "body"));
    assert_int_equal(resp->status, 200); /* the defaults */
    assert_int_equal(resp->headers.len, 0);
    assert_false(resp->body.some);
    resp->status = 201;
    resp->headers = (ta_header_list){resp_headers, 1};
    resp->body = ta_some(TA_BYTES("made"));
    ta_state_set(st, "s", 1);
    return TA_OK;
}

static ta_status middleware_handler(ta_state *st, uint64_t hid, ta_http_request req,
                                    ta_http_middleware_result *res)
{
    assert_true(res->proceed); /* starts as the request passed on */
    assert_true(ta_str_eq(res->request.uri, req.uri));
    res->proceed = hid == 1;
    res->request.uri = TA_STR("/rewritten");
    return TA_OK;
}

static ta_status ws_handler(ta_state *st, uint64_t hid, uint64_t conn, ta_ws_message msg,
                            ta_ws_message_list *replies)
{
    static ta_ws_message out[3];
    assert_int_equal(replies->len, 0);
    if (msg.type == TA_WS_OTHER) {
        assert_true(ta_str_eq_c(msg.other, "odd"));
        return ta_fail("odd");
    }
    assert_int_equal(msg.type, TA_WS_TEXT);
    assert_false(msg.data.some);
    out[0] = ta_ws_text(msg.text.val);
    out[1] = ta_ws_binary(TA_BYTES("\x01\x02"));
    out[2] = (ta_ws_message){.type = TA_WS_OTHER, .other = TA_STR("x")};
    *replies = (ta_ws_message_list){out, 3};
    return TA_OK;
}

static void test_http_handler_results(void **state)
{
    (void)state;
    uint8_t *hdr = cabi_realloc(NULL, 0, 4, sizeof(ta_header));
    ((ta_header *)(void *)hdr)[0] = (ta_header){TA_STR("k"), TA_STR("v")};
    thw_res_tup2_opt_bytes_tup1_http_types_http_response_str *r =
        ta__call_http_request(http_handler, 0, NULL, 0, 7, "PUT", 3, "/x?y", 4,
                              (const ta_header *)(void *)hdr, 1, 1, (const uint8_t *)"body", 4);
    assert_int_equal(r->is_err, 0);
    assert_true(r->u.ok.f0.some);
    assert_int_equal(r->u.ok.f1.f0.status, 201);
    assert_int_equal(r->u.ok.f1.f0.headers.len, 1);
    assert_memory_equal(r->u.ok.f1.f0.headers.ptr[0].f0.ptr, "a", 1);
    assert_true(r->u.ok.f1.f0.body.some);
    assert_memory_equal(r->u.ok.f1.f0.body.u.val.ptr, "made", 4);
    ta__post_return(r);
    assert_int_equal(live(), 0);

    thw_res_tup2_opt_bytes_tup1_http_types_middleware_result_str *m = ta__call_http_middleware(
        middleware_handler, 0, NULL, 0, 2, "GET", 3, "/a", 2, NULL, 0, 0, NULL, 0);
    assert_int_equal(m->is_err, 0);
    assert_false(m->u.ok.f1.f0.proceed);
    assert_int_equal(m->u.ok.f1.f0.request.uri.len, 10);
    assert_memory_equal(m->u.ok.f1.f0.request.method.ptr, "GET", 3);
    assert_false(m->u.ok.f1.f0.request.body.some);
    ta__post_return(m);

    thw_res_tup2_opt_bytes_tup1_list_websocket_types_websocket_message_str *w = ta__call_ws_message(
        ws_handler, 0, NULL, 0, 3, 9, TA_WS_TEXT, NULL, 0, 0, NULL, 0, 1, "hi", 2);
    assert_int_equal(w->is_err, 0);
    const thw_websocket_types_websocket_message *l = w->u.ok.f1.f0.ptr;
    assert_int_equal(w->u.ok.f1.f0.len, 3);
    assert_int_equal(l[0].ty.tag, 0);
    assert_true(l[0].text.some && l[0].text.u.val.len == 2);
    assert_false(l[0].data.some);
    assert_int_equal(l[1].ty.tag, 1);
    assert_true(l[1].data.some && l[1].data.u.val.len == 2);
    assert_int_equal(l[2].ty.tag, 6);
    assert_memory_equal(l[2].ty.u.other.ptr, "x", 1);
    assert_true(live() >= 1); /* the lowered list lives until post-return */
    ta__post_return(w);
    assert_int_equal(live(), 0);

    w = ta__call_ws_message(ws_handler, 0, NULL, 0, 3, 9, TA_WS_OTHER, "odd", 3, 0, NULL, 0, 0,
                            NULL, 0);
    assert_int_equal(w->is_err, 1);
    assert_memory_equal(w->u.err.ptr, "odd", 3);
    ta__post_return(w);
    assert_int_equal(live(), 0);
}

/* ------------------------------------------------------------------------ */
/* Formatting, JSON, UTF-8, numbers                                         */
/* ------------------------------------------------------------------------ */

#define SAME_AS_SNPRINTF(...) \
    do { \
        char want[128], got[128]; \
        int wn = snprintf(want, sizeof want, __VA_ARGS__); \
        size_t gn = ta_fmt(got, sizeof got, __VA_ARGS__); \
        assert_int_equal(gn, (size_t)wn); \
        assert_string_equal(got, want); \
    } while (0)

static void test_fmt(void **state)
{
    (void)state;
    SAME_AS_SNPRINTF("plain");
    SAME_AS_SNPRINTF("%d|%i|%u", 42, -7, 3000000000u);
    SAME_AS_SNPRINTF("[%5d][%-5d][%05d][%+d][% d]", 42, 42, -42, 5, 5);
    SAME_AS_SNPRINTF("%d %ld %lld", INT32_MIN, (long)INT64_MIN, (long long)INT64_MIN);
    SAME_AS_SNPRINTF("%llu %zu %x %X %#x %o %#o", 18446744073709551615ull, (size_t)99, 255u, 255u,
                     255u, 8u, 8u);
    SAME_AS_SNPRINTF("%hhu %hd %hhd", 300, 70000, 200);
    SAME_AS_SNPRINTF("[%.5d][%.0d][%8.3d][%-8.3x]", 42, 0, 7, 0xau);
    SAME_AS_SNPRINTF("[%s][%10s][%-10s][%.2s][%.*s]", "abc", "abc", "abc", "abc", 4, "abcdef");
    SAME_AS_SNPRINTF("[%*d][%-*d]", 6, 1, 6, 2);
    SAME_AS_SNPRINTF("%c%c%% 100%%", 'o', 'k');
    SAME_AS_SNPRINTF("%jd %td", (intmax_t)-5, (ptrdiff_t)-6);

    /* truncation: snprintf semantics */
    char small[6];
    assert_int_equal(ta_fmt(small, sizeof small, "%s", "truncated"), 9);
    assert_string_equal(small, "trunc");
    assert_int_equal(ta_fmt(NULL, 0, "%d", 12345), 5);

    ta_str s = ta_format("%s-%d", "x", 1);
    assert_true(ta_str_eq_c(s, "x-1"));
    call_end();
    ta__post_return(NULL);
}

static void expect_json(const char *json, const char *key, const char *want)
{
    ta_str out;
    bool ok = ta_json_get_str((ta_bytes){(const uint8_t *)json, strlen(json)}, key, &out);
    if (!want) {
        if (ok)
            fail_msg("%s [%s]: expected no string, got %.*s", json, key, (int)out.len, out.ptr);
        return;
    }
    if (!ok)
        fail_msg("%s [%s]: expected %s, got nothing", json, key, want);
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.ptr, want, out.len);
}

static void test_json(void **state)
{
    (void)state;
    expect_json("{\"worker\": \"/a/b.toml\"}", "worker", "/a/b.toml");
    expect_json(" { \"a\" : 1 , \"b\":[1,{\"c\":\"}\"}], \"k\" : \"v\" } ", "k", "v");
    expect_json("{\"a\":{\"k\":\"inner\"},\"k\":\"outer\"}", "k", "outer");
    expect_json("{\"k\":\"q\\\"\\\\\\/\\n\\t\"}", "k", "q\"\\/\n\t");
    expect_json("{\"k\":\"\\u00e9\\u20ac\\ud83d\\ude00\"}", "k",
                "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    expect_json("{\"k\\u0031\":\"escaped key\"}", "k1", "escaped key");
    expect_json("{\"k\":\"\"}", "k", "");
    expect_json("{\"k\":5}", "k", NULL);
    expect_json("{\"j\":\"x\"}", "k", NULL);
    expect_json("{}", "k", NULL);
    expect_json("[\"k\"]", "k", NULL);
    expect_json("{\"k\":\"unterminated}", "k", NULL);
    expect_json("{\"k\":\"\\ud83d\"}", "k", NULL); /* lone surrogate */
    expect_json("{\"a\":[[[[", "k", NULL);
    expect_json("", "k", NULL);
    call_end();
    ta__post_return(NULL);
    assert_int_equal(live(), 0);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(ta_utf8_valid(TA_STR("plain \xc3\xa9 \xf0\x9f\x98\x80")));
    assert_false(ta_utf8_valid(TA_STR("\xc0\xaf")));         /* overlong */
    assert_false(ta_utf8_valid(TA_STR("\xed\xa0\x80")));     /* surrogate */
    assert_false(ta_utf8_valid(TA_STR("\xf4\x90\x80\x80"))); /* above U+10FFFF */
    assert_false(ta_utf8_valid(TA_STR("\xe2\x82")));         /* truncated */
    ta_str ok = TA_STR("fine");
    assert_ptr_equal(ta_utf8_fix(ok).ptr, ok.ptr);
    ta_str fixed = ta_utf8_fix(TA_STR("a\xff"
                                      "b"));
    assert_true(ta_str_eq_c(fixed, "a\xef\xbf\xbd"
                                   "b"));
    ta_status st = ta_fail_str(TA_STR("bad \x80"));
    assert_false(st.ok);
    assert_true(ta_utf8_valid(st.err));
    call_end();
    ta__post_return(NULL);
}

static void test_numbers_and_strings(void **state)
{
    (void)state;
    uint64_t v = 1;
    assert_true(ta_parse_u64(TA_BYTES("18446744073709551615"), &v));
    assert_true(v == UINT64_MAX);
    assert_false(ta_parse_u64(TA_BYTES("18446744073709551616"), &v));
    assert_false(ta_parse_u64(TA_BYTES(""), &v));
    assert_false(ta_parse_u64(TA_BYTES("1x"), &v));
    assert_true(ta_parse_u64(TA_BYTES("0"), &v) && v == 0);
    assert_true(ta_bytes_starts_with(TA_BYTES("put k v"), "put "));
    assert_false(ta_bytes_starts_with(TA_BYTES("pu"), "put"));
    assert_true(ta_str_eq(TA_STR("ab"), ta_str_c("ab")));
    assert_false(ta_str_eq_c(TA_STR("ab"), "abc"));
    assert_string_equal(ta_error_type_name(TA_ERROR_PAUSED), "paused");
    assert_string_equal(ta_error_type_name((ta_error_type)99), "unknown");
    ta_str d = ta_str_dup(TA_STR("dup"));
    assert_string_equal(d.ptr, "dup"); /* owned copies are NUL-terminated */
    ta_free((void *)(uintptr_t)d.ptr);
    assert_int_equal(check_heap(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_alloc_basics, setup),
        cmocka_unit_test_setup(test_alloc_grows_memory, setup),
        cmocka_unit_test_setup(test_realloc_in_place_and_moving, setup),
        cmocka_unit_test_setup(test_alloc_random_workload, setup),
        cmocka_unit_test_setup(test_cabi_realloc, setup),
        cmocka_unit_test_setup(test_export_call_scope, setup),
        cmocka_unit_test_setup(test_scope_without_post_return, setup),
        cmocka_unit_test_setup(test_keep_and_early_free, setup),
        cmocka_unit_test_setup(test_scope_many, setup),
        cmocka_unit_test_setup(test_request_and_channel_results, setup),
        cmocka_unit_test_setup(test_http_handler_results, setup),
        cmocka_unit_test_setup(test_fmt, setup),
        cmocka_unit_test_setup(test_json, setup),
        cmocka_unit_test_setup(test_utf8, setup),
        cmocka_unit_test_setup(test_numbers_and_strings, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
