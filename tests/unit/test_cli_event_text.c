/*
 * test_cli_event_text.c - the human and JSON forms of chain events
 * (src/cli/event_text.c), events recorded by content reference shown from
 * a home's store, and actor ids by unique prefix (src/cli/ids.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/limits.h"
#include "cli/event_text.h"
#include "cli/ids.h"
#include "theater/chain.h"

static const char *A = "2926a09d-9a8c-49a1-bfa5-f855c3032abd";
static const char *P = "34390650-15b6-44e1-aa51-afe8ac92c6ce";

static cli_event ev_of(const char *type, const char *data)
{
    cli_event e;

    memset(&e, 0, sizeof e);
    e.actor = A;
    e.seq = 7;
    e.type = type;
    e.timestamp_ms = 1764748575834ull; /* 2025-12-03T07:56:15.834Z */
    e.data = (const uint8_t *)data;
    e.data_len = strlen(data);
    return e;
}

/* The human form of (type, data), which must contain every `want`. */
static char *text_of(const char *type, const char *data, unsigned flags)
{
    cli_event e = ev_of(type, data);
    char *s = cli_event_text(&e, NULL, NULL, flags);

    assert_non_null(s);
    return s;
}

static void expect_in(const char *s, const char *want)
{
    if (strstr(s, want) == NULL)
        fail_msg("'%s' not in '%s'", want, s);
}

static void expect_not_in(const char *s, const char *bad)
{
    if (strstr(s, bad) != NULL)
        fail_msg("'%s' must not be in '%s'", bad, s);
}

static void test_message_text_and_binary(void **unused)
{
    char *s;

    (void)unused;
    /* "crash" as text, from the short id of the sender */
    s = text_of("wasm-call",
                "{\"function\":\"handle-send\",\"params\":[\"6372617368\"],\"from\":"
                "\"34390650-15b6-44e1-aa51-afe8ac92c6ce\"}",
                0);
    expect_in(s, "     7  2025-12-03T07:56:15.834Z  wasm-call");
    expect_in(s, "handle-send(\"crash\") from 34390650\n");
    expect_not_in(s, "6372617368");
    free(s);
    /* binary bytes stay hex, with their count */
    s = text_of("wasm-call", "{\"function\":\"handle-send\",\"params\":[\"00ff10\"]}", 0);
    expect_in(s, "handle-send(0x00ff10 (3 bytes))");
    free(s);
    /* invalid UTF-8 (overlong) is binary */
    s = text_of("wasm-call", "{\"function\":\"handle-send\",\"params\":[\"c0af\"]}", 0);
    expect_in(s, "0xc0af");
    free(s);
    /* text with quotes and a newline is escaped; JSON text is shown bare */
    s = text_of("wasm-result", "{\"function\":\"handle-send\",\"state\":\"7b2261223a317d\"}", 0);
    expect_in(s, "handle-send -> ok, state {\"a\":1}");
    free(s);
    s = text_of("host-call",
                "{\"interface\":\"runtime\",\"function\":\"log\",\"input\":{\"msg\":"
                "\"say \\\"hi\\\"\\nbye\"},\"output\":null}",
                0);
    expect_in(s, "runtime.log(\"say \\\"hi\\\"\\nbye\")");
    free(s);
    /* a request's response; the reply of a host request */
    s = text_of("wasm-call",
                "{\"function\":\"handle-request\",\"params\":[\"b50cdbef-6d6f-4c51-8\","
                "\"6a6f622032\"],\"result\":{\"state\":null,\"response\":\"646f6e65\"}}",
                0);
    expect_in(s, "handle-request(request b50cdbef, \"job 2\") -> response \"done\", state none");
    free(s);
    s = text_of("host-call",
                "{\"interface\":\"message-server-host\",\"function\":\"request\",\"input\":"
                "{\"to\":\"2926a09d-9a8c-49a1-bfa5-f855c3032abd\",\"msg\":\"6a6f622031\"},"
                "\"output\":{\"ok\":\"646f6e653a206a6f622031\"}}",
                0);
    expect_in(s, "message-server-host.request(to 2926a09d, msg \"job 1\") -> \"done: job 1\"");
    free(s);
    s = text_of("host-call",
                "{\"interface\":\"message-server-host\",\"function\":\"send\",\"input\":"
                "{\"to\":\"x\",\"msg\":\"00\"},\"output\":{\"err\":\"actor x not found\"}}",
                0);
    expect_in(s, "-> error \"actor x not found\"");
    free(s);
}

/* A durable actor's message id (docs/events.md, "message_id"): short,
 * whole with --wide, and not repeated for a request (its request id). */
static void test_message_id(void **unused)
{
    char *s;

    (void)unused;
    s = text_of("wasm-call",
                "{\"function\":\"handle-send\",\"params\":[\"6869\"],\"message_id\":"
                "\"01a2491c-5538-7000-b178-801630a2f2b3\",\"result\":{\"state\":\"31\"}}",
                0);
    expect_in(s, "handle-send(\"hi\") -> ok, state \"1\", message id 30a2f2b3\n");
    expect_not_in(s, "message_id");
    free(s);
    s = text_of("wasm-call",
                "{\"function\":\"handle-send\",\"params\":[\"6869\"],\"message_id\":"
                "\"01a2491c-5538-7000-b178-801630a2f2b3\"}",
                CLI_EVENT_WIDE);
    expect_in(s, "handle-send(\"hi\"), message id 01a2491c-5538-7000-b178-801630a2f2b3\n");
    free(s);
    s = text_of("wasm-call",
                "{\"function\":\"handle-request\",\"params\":[\"d92db202-adeb-4716\",\"78\"],"
                "\"message_id\":\"d92db202-adeb-4716\",\"result\":{\"state\":\"31\","
                "\"response\":\"31\"}}",
                0);
    expect_in(s, "handle-request(request d92db202, \"x\") -> response \"1\", state \"1\"\n");
    expect_not_in(s, "message id");
    free(s);
    s = text_of("wasm-result",
                "{\"function\":\"handle-request\",\"state\":null,\"response\":\"31\","
                "\"message_id\":\"d92db202-adeb-4716\",\"later\":1}",
                0);
    expect_in(s, "handle-request -> response \"1\", state none, message id d92db202 later=1\n");
    free(s);
    s = text_of("actor-failed",
                "{\"error_type\":\"internal\",\"message\":\"trap\",\"function\":\"handle-send\","
                "\"message_id\":\"01a2491c-5538\"}",
                0);
    expect_in(s, "failed in handle-send: internal: trap, message id 01a2491c");
    free(s);
    s = text_of("actor-failed",
                "{\"error_type\":\"internal\",\"message\":\"trap\",\"function\":\"handle-send\","
                "\"message_id\":\"01a2491c-5538-7000-b178-801630a2f2b3\"}",
                0);
    expect_in(s, "failed in handle-send: internal: trap, message id 30a2f2b3\n");
    free(s);
    s = text_of("message-dropped",
                "{\"function\":\"handle-send\",\"message_id\":\"01a2491c-5538\"}", 0);
    expect_in(s, "handle-send is not exported: message dropped, message id 01a2491c");
    free(s);
}

static void test_long_values(void **unused)
{
    size_t n = 1000, i;
    char *data = malloc(n * 2 + 100), *s;

    (void)unused;
    i = (size_t)sprintf(data, "{\"function\":\"handle-send\",\"params\":[\"");
    for (size_t k = 0; k < n; k++, i += 2)
        memcpy(data + i, "61", 2); /* 'a' */
    strcpy(data + i, "\"]}");
    /* cut after CLI_EVENT_VALUE_MAX bytes, saying how much is left out */
    s = text_of("wasm-call", data, 0);
    expect_in(s, "(\"aaaaaaaaaa");
    expect_in(s, "aaaaaaaaaa\"...(+800 bytes))");
    assert_int_equal(strchr(strchr(s, '"') + 1, '"') - strchr(s, '"') - 1, CLI_EVENT_VALUE_MAX);
    free(s);
    /* --wide: everything */
    s = text_of("wasm-call", data, CLI_EVENT_WIDE);
    expect_not_in(s, "...(+");
    assert_true(strlen(s) > n + 50);
    free(s);
    free(data);
}

static void test_errors_by_name(void **unused)
{
    char *s;

    (void)unused;
    assert_string_equal(cli_error_type_name(0), "operation-timeout");
    assert_string_equal(cli_error_type_name(5), "internal");
    assert_string_equal(cli_error_type_name(8), "paused");
    assert_null(cli_error_type_name(9));
    assert_null(cli_error_type_name(-1));
    /* as recorded before names were: a number */
    s = text_of("actor-failed",
                "{\"error_type\":5,\"message\":\"trap in handle-send: unreachable\"}", 0);
    expect_in(s, "failed: internal: trap in handle-send: unreachable");
    expect_not_in(s, "error_type");
    free(s);
    /* as recorded now: who failed, where, and the backtrace */
    s = text_of("actor-failed",
                "{\"error_type\":\"internal\",\"message\":\"trap: unreachable\","
                "\"actor\":\"2926a09d-9a8c-49a1-bfa5-f855c3032abd\",\"name\":\"worker\","
                "\"function\":\"handle-request\",\"backtrace\":[\"#0 crash\",\"#1 handle\"]}",
                0);
    expect_in(s, "worker (2926a09d) failed in handle-request: internal: trap: unreachable\n");
    expect_in(s, "\n            at #0 crash\n            at #1 handle\n");
    free(s);
    s = text_of("wasm-call",
                "{\"function\":\"handle-child-error\",\"params\":[\"2926a09d-9a8c-49a1-bfa5-"
                "f855c3032abd\",{\"error_type\":0,\"data\":\"too slow\"}]}",
                0);
    expect_in(s, "handle-child-error(2926a09d, operation-timeout: \"too slow\")");
    free(s);
}

static void test_other_types(void **unused)
{
    char *s;

    (void)unused;
    s = text_of("actor-spawned",
                "{\"id\":\"2926a09d-9a8c-49a1-bfa5-f855c3032abd\",\"name\":\"worker\","
                "\"version\":\"0.1.0\",\"manifest\":\"/x/worker.toml\",\"parent\":"
                "\"34390650-15b6-44e1-aa51-afe8ac92c6ce\",\"init_state\":\"7b7d\"}",
                0);
    expect_in(s, "started worker 0.1.0 from /x/worker.toml, parent 34390650, init state {}");
    free(s);
    s = text_of("supervisor-action",
                "{\"action\":\"restart\",\"strategy\":\"one-for-one\",\"trigger\":"
                "\"2926a09d-9a8c\",\"children\":[\"2926a09d-9a8c\",\"34390650-1\"]}",
                0);
    expect_in(s, "restart 2926a09d, 34390650 (one-for-one) after 2926a09d ended");
    free(s);
    s = text_of("supervisor-action",
                "{\"action\":\"restart\",\"strategy\":\"one-for-one\",\"trigger\":"
                "\"2926a09d-9a8c\",\"because\":\"failed\",\"children\":[\"2926a09d-9a8c\"]}",
                0);
    expect_in(s, "restart 2926a09d (one-for-one) after 2926a09d failed");
    expect_not_in(s, "because");
    free(s);
    s = text_of("supervisor-action",
                "{\"action\":\"restart\",\"strategy\":\"one-for-one\",\"trigger\":"
                "\"2926a09d-9a8c\",\"because\":\"exited\",\"children\":[\"2926a09d-9a8c\"]}",
                0);
    expect_in(s, "restart 2926a09d (one-for-one) after 2926a09d exited");
    free(s);
    s = text_of("supervisor-action",
                "{\"action\":\"escalate\",\"strategy\":\"one-for-all\","
                "\"max_restarts\":3,\"within_seconds\":5,\"child\":\"abcdefgh-1\"}",
                0);
    expect_in(s, "escalate (one-for-all): more than 3 restarts within 5 s, child abcdefgh");
    free(s);
    s = text_of("actor-stopped", "{\"reason\":\"shutdown\",\"data\":\"627965\"}", 0);
    expect_in(s, "stopped: shutdown, data \"bye\"");
    free(s);
    s = text_of("actor-restarted", "{\"init_state\":null}", 0);
    expect_in(s, "restarted, init state none");
    free(s);
    /* supervisor.resume's start and restart: the state it starts with */
    s = text_of("actor-spawned",
                "{\"id\":\"2926a09d-9a8c-49a1-bfa5-f855c3032abd\",\"name\":\"worker\","
                "\"version\":\"0.1.0\",\"manifest\":\"/x/worker.toml\",\"parent\":null,"
                "\"init_state\":\"7b7d\",\"resumed\":true}",
                0);
    expect_in(s, "started worker 0.1.0 from /x/worker.toml, resumed with state {}");
    assert_null(strstr(s, "resumed true"));
    free(s);
    s = text_of("actor-restarted", "{\"init_state\":\"7b7d\",\"resumed\":true}", 0);
    expect_in(s, "restarted, resumed with state {}");
    free(s);
    s = text_of(
        "actor-restored",
        "{\"id\":\"2926a09d-9a8c-49a1-bfa5-f855c3032abd\",\"name\":\"kid\","
        "\"version\":\"0.1.0\",\"manifest\":null,\"parent\":null,\"state\":\"7b7d\","
        "\"component\":\"db788b0a38d667fe160b0c5ac5800247a5f55e8d09154771e2d78a99b1936735\","
        "\"resumed\":true,\"init\":false,\"after_seq\":2}",
        0);
    expect_in(s, "restored kid after event 2, state {}, resumed, component db788b0a38d6");
    assert_null(strstr(s, "resumed="));
    free(s);
    s = text_of("message-dropped", "{\"function\":\"handle-send\"}", 0);
    expect_in(s, "handle-send is not exported: message dropped");
    free(s);
    s = text_of("store", "{\"interface\":\"store\"}", 0);
    free(s);
    /* a field the summary does not know is still shown */
    s = text_of("actor-stopped", "{\"reason\":\"shutdown\",\"data\":null,\"extra\":42}", 0);
    expect_in(s, "stopped: shutdown extra=42");
    free(s);
    /* an unknown type: its data as it is; data that is not JSON: its bytes */
    s = text_of("custom-thing", "{\"k\":\"v\"}", 0);
    expect_in(s, "custom-thing       {\"k\":\"v\"}");
    free(s);
    s = text_of("wasm-call", "not json", 0);
    expect_in(s, "wasm-call          \"not json\"");
    free(s);
    /* host-call: store content is bytes, other arguments are strings */
    s = text_of("host-call",
                "{\"interface\":\"store\",\"function\":\"store\",\"input\":[\"s-1\","
                "\"68656c6c6f\"],\"output\":{\"ok\":\"abcd\"}}",
                0);
    expect_in(s, "store.store(\"s-1\", \"hello\") -> \"abcd\"");
    free(s);
    /* the same call as the generated WIT glue records it */
    s = text_of("host-call",
                "{\"interface\":\"message-server-host\",\"function\":\"send\",\"input\":"
                "{\"actor-id\":\"2926a09d-9a8c-49a1-bfa5-f855c3032abd\",\"msg\":\"6869\"},"
                "\"output\":{\"ok\":null}}",
                0);
    expect_in(s, "message-server-host.send(actor-id 2926a09d, msg \"hi\") -> ok");
    free(s);
    s = text_of("host-call",
                "{\"interface\":\"store\",\"function\":\"store\",\"input\":{\"store-id\":"
                "\"s\",\"content\":\"6869\"},\"output\":{\"ok\":{\"hash\":\"ab\"}}}",
                0);
    expect_in(s, "store.store(store-id \"s\", content \"hi\") -> {\"hash\":\"ab\"}");
    free(s);
    assert_true(cli_event_type_known("actor-failed"));
    assert_false(cli_event_type_known("actor-fail"));
    assert_non_null(strstr(cli_event_types_joined(), "init-skipped"));
}

static void test_actor_column(void **unused)
{
    cli_event e = ev_of("init-skipped", "{}");
    char *s = cli_event_text(&e, NULL, NULL, CLI_EVENT_ACTOR | CLI_EVENT_NO_SEQ);

    (void)unused;
    assert_non_null(s);
    assert_string_equal(s, "2926a09d  2025-12-03T07:56:15.834Z  init-skipped       "
                           "init is not exported: started without it\n");
    free(s);
}

static void test_json_form(void **unused)
{
    static const uint8_t hash[32] = {1, 2, 3};
    cli_event e = ev_of("actor-failed", "{\"error_type\":5,\"message\":\"m\"}");
    json_t *o, *back;
    char *dump, *t1, *t2;
    th_error err;

    (void)unused;
    e.hash = hash;
    o = cli_event_json(&e);
    assert_non_null(o);
    dump = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        dump, "{\"actor\":\"2926a09d-9a8c-49a1-bfa5-f855c3032abd\",\"data\":{\"error_type\":"
              "\"internal\",\"message\":\"m\"},\"event_type\":\"actor-failed\",\"hash\":"
              "\"0102030000000000000000000000000000000000000000000000000000000000\","
              "\"parent_hash\":null,\"seq\":7,\"timestamp\":1764748575834}");
    free(dump);
    /* the human form from the JSON form is the same as from the event */
    t1 = cli_event_text(&e, NULL, NULL, 0);
    t2 = cli_event_text_from_json(o, NULL, NULL, 0, &err);
    assert_non_null(t2);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    json_decref(o);

    /* bytes appear once, as the recorded hex; no base64 copy */
    e = ev_of("wasm-call", "{\"function\":\"handle-send\",\"params\":[\"6372617368\"]}");
    o = cli_event_json(&e);
    dump = json_dumps(o, JSON_COMPACT);
    assert_non_null(
        strstr(dump, "\"data\":{\"function\":\"handle-send\",\"params\":[\"6372617368\"]}"));
    assert_null(strstr(strstr(dump, "6372617368") + 1, "6372617368"));
    free(dump);
    json_decref(o);

    /* data that is not JSON: data_hex */
    e = ev_of("custom", "\x01\x02");
    o = cli_event_json(&e);
    assert_string_equal(json_string_value(json_object_get(o, "data_hex")), "0102");
    assert_null(json_object_get(o, "data"));
    t1 = cli_event_text(&e, NULL, NULL, 0);
    t2 = cli_event_text_from_json(o, NULL, NULL, 0, &err);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    json_decref(o);

    /* not an event */
    back = json_pack("{s:s}", "event_type", "x");
    assert_null(cli_event_text_from_json(back, NULL, NULL, 0, &err));
    assert_int_equal(err.code, TH_EINVAL);
    json_decref(back);
    back = json_pack("{s:s, s:i, s:i, s:s}", "event_type", "x", "seq", 1, "timestamp", 1,
                     "data_hex", "0g");
    assert_null(cli_event_text_from_json(back, NULL, NULL, 0, &err));
    json_decref(back);
}

static void test_ids(void **unused)
{
    const char *list[] = {"2926a09d-9a8c", "2926a09e-0000", "2926a09d-9a8c", "abc",
                          "abcdefghijk",   "77777777-a",    "77777777-b"};
    cli_ids ids = {0};
    const char *out;
    char buf[64];
    th_error err;

    (void)unused;
    assert_int_equal(cli_ids_init(&ids, list, 7), TH_OK);
    assert_int_equal(ids.count, 6); /* the duplicate is dropped */
    assert_int_equal(cli_ids_resolve(&ids, "2926a09d", &out, &err), TH_OK);
    assert_string_equal(out, "2926a09d-9a8c");
    assert_int_equal(cli_ids_resolve(&ids, "2926a09", &out, &err), TH_EEXIST);
    assert_non_null(strstr(err.msg, "ambiguous"));
    assert_non_null(strstr(err.msg, "2926a09e-0000"));
    assert_int_equal(cli_ids_resolve(&ids, "ffff", &out, &err), TH_ENOENT);
    assert_int_equal(cli_ids_resolve(&ids, "", &out, &err), TH_EINVAL);
    /* an exact id wins over the longer ids it is a prefix of */
    assert_int_equal(cli_ids_resolve(&ids, "abc", &out, &err), TH_OK);
    assert_string_equal(out, "abc");
    assert_int_equal(cli_ids_resolve(&ids, "abcd", &out, &err), TH_OK);
    assert_string_equal(out, "abcdefghijk");
    /* every short form is unique and resolves back to its id */
    for (size_t i = 0; i < ids.count; i++) {
        cli_ids_short(&ids, ids.ids[i], buf, sizeof buf);
        assert_true(strlen(buf) >= (strlen(ids.ids[i]) < 8 ? strlen(ids.ids[i]) : 8));
        assert_int_equal(cli_ids_resolve(&ids, buf, &out, &err), TH_OK);
        assert_string_equal(out, ids.ids[i]);
    }
    assert_string_equal(cli_ids_short(&ids, "77777777-a", buf, sizeof buf), "77777777-a");
    assert_string_equal(cli_ids_short(&ids, "2926a09d-9a8c", buf, sizeof buf), "2926a09d");
    assert_string_equal(cli_ids_short(NULL, "2926a09d-9a8c", buf, sizeof buf), "2926a09d");
    cli_ids_release(&ids);
    cli_ids_release(&ids);
}

/* A value alone (what `chain events --state` prints after an event): one
 * line whatever the bytes hold. */
static void test_bytes_one_line(void **unused)
{
    static const uint8_t bin[] = {0x00, 0xff, 0x10};
    char *s;

    (void)unused;
    s = cli_bytes_text((const uint8_t *)"line 1\nline \"2\"", 15, 0);
    assert_non_null(s);
    assert_string_equal(s, "\"line 1\\nline \\\"2\\\"\"");
    free(s);
    s = cli_bytes_text((const uint8_t *)"{\n  \"n\": 3\n}", 12, 0);
    assert_non_null(s);
    assert_string_equal(s, "{ \"n\": 3 }");
    free(s);
    s = cli_bytes_text(bin, sizeof bin, 0);
    assert_non_null(s);
    assert_string_equal(s, "0x00ff10 (3 bytes)");
    free(s);
}

/* An event recorded by content reference (description "content-ref", its
 * data in the home's store): shown from its content, with a note, both
 * from the record and from its JSON form; in words when the content cannot
 * be had, and why. */
static void test_content_ref(void **unused)
{
    static const char real[] = "{\"function\":\"handle-send\",\"params\":[\"6869\"]}";
    char home[] = "/tmp/theater-evtext-XXXXXX", nohome[300], ref[160], cmd[400], *s, *t;
    th_store_config cfg = {0};
    th_content_ref cref;
    cli_content content, none;
    th_store *st;
    th_error err;
    cli_event e;
    json_t *o;

    (void)unused;
    assert_non_null(mkdtemp(home));
    cfg.home = home;
    assert_int_equal(th_store_open(&cfg, &st, &err), TH_OK);
    assert_int_equal(th_store_create(st, TH_CHAIN_CONTENT_STORE, &err), TH_OK);
    assert_int_equal(th_store_put(st, TH_CHAIN_CONTENT_STORE, real, strlen(real), &cref, &err),
                     TH_OK);
    th_store_close(st);
    snprintf(ref, sizeof ref, "{\"content-ref\":\"%s\",\"size\":%zu}", cref.hash, strlen(real));
    e = ev_of("wasm-call", ref);
    e.description = "content-ref";
    cli_content_init(&content, home);

    /* from the store: the summary of the real data, and a note */
    s = cli_event_text(&e, NULL, &content, 0);
    assert_non_null(s);
    snprintf(cmd, sizeof cmd,
             "  wasm-call          handle-send(\"hi\")  (recorded by reference: %zu bytes)\n",
             strlen(real));
    expect_in(s, cmd);
    expect_not_in(s, "content-ref");
    /* the JSON form (as the daemon sends it) keeps the reference, and reads
     * back to the same text */
    o = cli_event_json(&e);
    assert_non_null(o);
    expect_in(json_string_value(json_object_get(o, "description")), "content-ref");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(o, "data"), "content-ref")), cref.hash);
    t = cli_event_text_from_json(o, NULL, &content, 0, &err);
    assert_non_null(t);
    assert_string_equal(s, t);
    free(s);
    free(t);

    /* no store at hand: in words, the size and the hash's first 8 digits */
    s = cli_event_text(&e, NULL, NULL, 0);
    assert_non_null(s);
    snprintf(cmd, sizeof cmd,
             "  wasm-call          (data recorded by reference: %zu bytes, sha256 %.8s...)\n",
             strlen(real), cref.hash);
    expect_in(s, cmd);
    expect_not_in(s, "?");
    free(s);
    t = cli_event_text_from_json(o, NULL, NULL, CLI_EVENT_WIDE, &err);
    assert_non_null(t);
    snprintf(cmd, sizeof cmd, "sha256 %s)\n", cref.hash); /* whole with --wide */
    expect_in(t, cmd);
    free(t);
    json_decref(o);

    /* content the store does not have (another hash), or too large to show */
    snprintf(ref, sizeof ref, "{\"content-ref\":\"%064d\",\"size\":12345678}", 0);
    e = ev_of("wasm-call", ref);
    e.description = "content-ref";
    s = cli_event_text(&e, NULL, &content, 0);
    assert_non_null(s);
    expect_in(s, "(data recorded by reference: 12.3 MB, sha256 00000000...; it is not in the "
                 "home's store)\n");
    free(s);
    snprintf(ref, sizeof ref, "{\"content-ref\":\"%s\",\"size\":%llu}", cref.hash,
             (unsigned long long)TH_CLI_MAX_EVENT_CONTENT_BYTES + 1);
    e = ev_of("wasm-call", ref);
    e.description = "content-ref";
    s = cli_event_text(&e, NULL, &content, 0);
    assert_non_null(s);
    expect_in(s, "(data recorded by reference: 268.4 MB, sha256 ");
    expect_in(s, "too large to show here: `theater store get --store " TH_CHAIN_CONTENT_STORE);
    free(s);
    cli_content_release(&content);

    /* a home without a database: the store cannot be read, and says so */
    snprintf(nohome, sizeof nohome, "%s/none", home);
    cli_content_init(&none, nohome);
    s = cli_event_text(&e, NULL, &none, 0);
    assert_non_null(s);
    free(s);
    snprintf(ref, sizeof ref, "{\"content-ref\":\"%s\",\"size\":%zu}", cref.hash, strlen(real));
    e = ev_of("wasm-call", ref);
    e.description = "content-ref";
    s = cli_event_text(&e, NULL, &none, 0);
    assert_non_null(s);
    expect_in(s, "(data recorded by reference: 44 bytes, sha256 ");
    expect_in(s, "the home's store cannot be read: ");
    free(s);
    cli_content_release(&none);

    /* the same data without the description is not a reference */
    e.description = NULL;
    s = cli_event_text(&e, NULL, &content, 0);
    assert_non_null(s);
    expect_in(s, "content-ref=");
    free(s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_text_and_binary),
        cmocka_unit_test(test_message_id),
        cmocka_unit_test(test_long_values),
        cmocka_unit_test(test_errors_by_name),
        cmocka_unit_test(test_other_types),
        cmocka_unit_test(test_actor_column),
        cmocka_unit_test(test_json_form),
        cmocka_unit_test(test_bytes_one_line),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_content_ref),
    };
    (void)A;
    (void)P;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
