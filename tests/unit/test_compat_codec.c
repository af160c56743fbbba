/*
 * test_compat_codec.c - the compatibility listener's wire format
 * (src/server/compat_codec.c) piece by piece: frames, the fragmenting
 * layer both ways, ManagementCommand parsing with serde's rules, and the
 * exact bytes serde_json writes for strings, bytes and responses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/base64.h"
#include "server/compat_codec.h"

static const char *ID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";

static char *text_of(srv_jbuf *b)
{
    char *s = malloc(b->len + 1);

    assert_non_null(s);
    memcpy(s, b->data, b->len);
    s[b->len] = 0;
    return s;
}

static void assert_buf(srv_jbuf *b, const char *want)
{
    char *s = text_of(b);

    assert_false(b->oom);
    assert_string_equal(s, want);
    free(s);
    srv_jbuf_release(b);
}

static int parse(const char *json, srv_compat_cmd *c)
{
    th_error e;

    th_error_clear(&e);
    return srv_compat_parse((const uint8_t *)json, strlen(json), c, &e);
}

/* serde_json's escapes: only " \ and control characters; \u00XX in
 * lowercase hex; UTF-8 as it is; '/' and DEL raw. */
static void test_string_escapes(void **state)
{
    srv_jbuf b = {0};
    const char in[] = "a\"b\\c/\n\r\t\b\f\x01\x1f\x7f \xc3\xa9 \xf0\x9f\x98\x80 \xff\xc3";

    (void)state;
    srv_jbuf_str(&b, in, sizeof in - 1);
    assert_buf(&b, "\"a\\\"b\\\\c/\\n\\r\\t\\b\\f\\u0001\\u001f\x7f \xc3\xa9 \xf0\x9f\x98\x80 "
                   "\xef\xbf\xbd\xef\xbf\xbd\"");
    srv_jbuf_bytes(&b, (const uint8_t *)"\x00\x09\xff", 3);
    assert_buf(&b, "[0,9,255]");
    srv_jbuf_bytes(&b, NULL, 0);
    assert_buf(&b, "[]");
}

static void test_responses(void **state)
{
    srv_jbuf b = {0};
    uint8_t h[32], p[32];
    th_runtime_event ev = {0};

    (void)state;
    srv_compat_error(&b, SRV_E_ACTOR_NOT_FOUND, "ignored");
    assert_buf(&b, "{\"Error\":{\"error\":\"ActorNotFound\"}}");
    srv_compat_error(&b, SRV_E_RUNTIME_ERROR, "Failed: \"x\"");
    assert_buf(&b, "{\"Error\":{\"error\":{\"RuntimeError\":\"Failed: \\\"x\\\"\"}}}");
    srv_compat_status(&b, ID, TH_ACTOR_STOPPING);
    assert_buf(&b, "{\"ActorStatus\":{\"id\":\"3f2504e0-4f89-41d3-9a0c-0305e82c3301\",\"status\":"
                   "\"Stopped\"}}");
    srv_compat_state(&b, ID, false, NULL, 0);
    assert_buf(&b,
               "{\"ActorState\":{\"id\":\"3f2504e0-4f89-41d3-9a0c-0305e82c3301\",\"state\":null}}");
    srv_compat_channel_message(&b, "ch_1", ID, (const uint8_t *)"hi", 2);
    assert_buf(&b, "{\"ChannelMessage\":{\"channel_id\":\"ch_1\",\"sender_id\":{\"Actor\":"
                   "\"3f2504e0-4f89-41d3-9a0c-0305e82c3301\"},\"message\":[104,105]}}");
    memset(h, 1, sizeof h);
    memset(p, 2, sizeof p);
    ev.actor_id = ID;
    ev.type = "wasm-call";
    ev.data = (const uint8_t *)"{}";
    ev.data_len = 2;
    ev.timestamp_ms = 1700000000123u;
    ev.hash = h;
    srv_compat_chain_event(&b, &ev);
    assert_buf(&b, "{\"hash\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"
                   "\"parent_hash\":null,\"event_type\":\"wasm-call\",\"data\":[123,125],"
                   "\"timestamp\":1700000000123,\"description\":null}");
    ev.parent_hash = p;
    srv_compat_actor_event(&b, &ev);
    {
        char *s = text_of(&b);
        assert_non_null(strstr(
            s,
            "\"parent_hash\":[2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2]"));
        assert_int_equal(strncmp(s, "{\"ActorEvent\":{\"event\":{\"hash\":[1,", 34), 0);
        free(s);
        srv_jbuf_release(&b);
    }
}

static void test_parse_commands(void **state)
{
    srv_compat_cmd c;

    (void)state;
    assert_int_equal(parse("\"ListActors\"", &c), 0);
    assert_int_equal(c.kind, SRV_C_LIST_ACTORS);
    assert_int_equal(parse(" {\"ListActors\" : null} ", &c), 0);
    assert_int_equal(c.kind, SRV_C_LIST_ACTORS);

    /* every UUID form the uuid crate parses, answered in one form */
    assert_int_equal(parse("{\"StopActor\":{\"id\":\"3F2504E0-4F89-41D3-9A0C-0305E82C3301\"}}", &c),
                     0);
    assert_string_equal(c.id, ID);
    assert_int_equal(parse("{\"StopActor\":{\"id\":\"3f2504e04f8941d39a0c0305e82c3301\"}}", &c), 0);
    assert_string_equal(c.id, ID);
    assert_int_equal(
        parse("{\"StopActor\":{\"id\":\"{3f2504e0-4f89-41d3-9a0c-0305e82c3301}\"}}", &c), 0);
    assert_string_equal(c.id, ID);
    assert_int_equal(
        parse("{\"StopActor\":{\"id\":\"urn:uuid:3f2504e0-4f89-41d3-9a0c-0305e82c3301\"}}", &c), 0);
    assert_string_equal(c.id, ID);
    assert_int_equal(parse("{\"StopActor\":{\"id\":\"3f2504e0-4f89-41d3-9a0c-0305e82c330\"}}", &c),
                     TH_EINVAL);
    assert_int_equal(parse("{\"StopActor\":{\"id\":\"3f2504e0-4f89-41d3-9a0c-0305e82c33g1\"}}", &c),
                     TH_EINVAL);

    /* a struct as an array; Option fields may be left out */
    assert_int_equal(parse("{\"StartActor\":[\"m.toml\",[1,2],true,false]}", &c), 0);
    assert_int_equal(c.kind, SRV_C_START_ACTOR);
    assert_string_equal(c.text, "m.toml");
    assert_true(c.has_data);
    assert_int_equal(c.len, 2);
    assert_true(c.parent);
    assert_false(c.subscribe);
    srv_compat_cmd_release(&c);
    assert_int_equal(parse("{\"StartActor\":{\"manifest\":\"m.toml\"}}", &c), 0);
    assert_false(c.has_data);
    assert_false(c.parent);
    srv_compat_cmd_release(&c);
    assert_int_equal(parse("{\"StartActor\":[\"m.toml\",null]}", &c),
                     TH_EINVAL); /* seq: all fields */

    assert_int_equal(
        parse("{\"OpenChannel\":{\"actor_id\":\"External\",\"initial_message\":[]}}", &c), 0);
    assert_true(c.to_external);
    srv_compat_cmd_release(&c);
    assert_int_equal(
        parse("{\"OpenChannel\":{\"actor_id\":{\"Actor\":\"3f2504e04f8941d39a0c0305e82c3301\"},"
              "\"initial_message\":[7]}}",
              &c),
        0);
    assert_false(c.to_external);
    assert_string_equal(c.id, ID);
    assert_int_equal(c.data[0], 7);
    srv_compat_cmd_release(&c);
    assert_int_equal(parse("{\"NewStore\":{}}", &c), 0);
    assert_int_equal(c.kind, SRV_C_NEW_STORE);
    assert_int_equal(parse("{\"NewStore\":[]}", &c), 0);

    /* refused: as serde refuses */
    assert_int_equal(parse("\"StopActor\"", &c), TH_EINVAL);       /* not a unit variant */
    assert_int_equal(parse("{\"ListActors\":{}}", &c), TH_EINVAL); /* unit with payload */
    assert_int_equal(parse("{\"Nope\":{}}", &c), TH_EINVAL);       /* unknown variant */
    assert_int_equal(parse("{\"StopActor\":{}}", &c), TH_EINVAL);  /* missing field */
    assert_int_equal(parse("{\"A\":1,\"B\":2}", &c), TH_EINVAL);   /* two variants */
    assert_int_equal(parse("{\"SendActorMessage\":{\"id\":\"3f2504e04f8941d39a0c0305e82c3301\","
                           "\"data\":[1,-1]}}",
                           &c),
                     TH_EINVAL);
    assert_int_equal(parse("{\"SendActorMessage\":{\"id\":\"3f2504e04f8941d39a0c0305e82c3301\","
                           "\"data\":[1.0]}}",
                           &c),
                     TH_EINVAL);
    assert_int_equal(parse("{\"StartActor\":{\"manifest\":\"m\",\"parent\":1}}", &c), TH_EINVAL);
    assert_int_equal(parse("{\"CloseChannel\":{\"channel_id\":\"a\",\"channel_id\":\"b\"}}", &c),
                     TH_EINVAL);
    assert_int_equal(parse("\"ListActors\" x", &c), TH_EINVAL);
}

static void test_frames(void **state)
{
    const uint8_t *p;
    size_t n, used;
    th_error e;
    const uint8_t two[] = {0, 0, 0, 2, 'h', 'i', 0, 0};

    (void)state;
    th_error_clear(&e);
    assert_int_equal(srv_compat_frame_next(two, 3, &p, &n, &used, &e), 0);
    assert_int_equal(srv_compat_frame_next(two, 5, &p, &n, &used, &e), 0);
    assert_int_equal(srv_compat_frame_next(two, 6, &p, &n, &used, &e), 1);
    assert_int_equal(n, 2);
    assert_int_equal(used, 6);
    assert_memory_equal(p, "hi", 2);
    assert_int_equal(
        srv_compat_frame_next((const uint8_t *)"\x02\x00\x00\x01", 4, &p, &n, &used, &e),
        TH_ETOOBIG);
}

/* Wrap a message in the fragmenting layer, unwrap it again. */
static void round_trip(size_t len)
{
    srv_jbuf out = {0};
    srv_compat_defrag d = {0};
    uint64_t id = 5;
    uint8_t *msg = malloc(len), *got = NULL;
    const uint8_t *p, *buf;
    size_t i, n, used, off = 0, glen = 0, frames = 0;
    int layer, rc = 0;

    assert_non_null(msg);
    for (i = 0; i < len; i++)
        msg[i] = (uint8_t)(i * 7);
    assert_int_equal(srv_compat_wrap(&out, msg, len, SRV_COMPAT_FRAGMENTING, &id), 0);
    buf = out.data;
    while (srv_compat_frame_next(buf + off, out.len - off, &p, &n, &used, NULL) == 1) {
        off += used;
        frames++;
        rc = srv_compat_unwrap(&d, p, n, &got, &glen, &layer, NULL);
        assert_int_equal(layer, SRV_COMPAT_FRAGMENTING);
        if (rc == 1)
            break;
        assert_int_equal(rc, 0);
    }
    assert_int_equal(rc, 1);
    assert_int_equal(off, out.len);
    assert_int_equal(glen, len);
    assert_memory_equal(got, msg, len);
    assert_int_equal(
        frames, len <= 12u * 1024 * 1024 ? 1 : (len + 12u * 1024 * 1024 - 1) / (12u * 1024 * 1024));
    free(got);
    free(msg);
    srv_jbuf_release(&out);
    srv_compat_defrag_release(&d);
}

static void test_fragmenting_layer(void **state)
{
    srv_jbuf out = {0};
    srv_compat_defrag d = {0};
    uint64_t id = 1;
    uint8_t *got;
    size_t glen;
    int layer;
    char f[3][256], b64[64];
    const char *parts[3] = {"\"List", "Act", "ors\""};
    int i;

    (void)state;
    /* plain: the frame is the message */
    assert_int_equal(srv_compat_wrap(&out, (const uint8_t *)"{}", 2, SRV_COMPAT_PLAIN, &id), 0);
    assert_int_equal(out.len, 6);
    assert_memory_equal(out.data, "\x00\x00\x00\x02{}", 6);
    srv_jbuf_release(&out);
    /* a small message: one Complete frame */
    assert_int_equal(srv_compat_wrap(&out, (const uint8_t *)"{}", 2, SRV_COMPAT_FRAGMENTING, &id),
                     0);
    assert_int_equal(out.len, 4 + 22);
    assert_memory_equal(out.data, "\x00\x00\x00\x16{\"Complete\":[123,125]}", 26);
    srv_jbuf_release(&out);
    round_trip(100);
    round_trip(12u * 1024 * 1024 + 10); /* two fragments */

    /* three fragments, out of order, one sent twice */
    for (i = 0; i < 3; i++) {
        base_base64_encode(parts[i], strlen(parts[i]), b64);
        snprintf(f[i], sizeof f[i],
                 "{\"Fragment\":{\"message_id\":9,\"fragment_index\":%d,\"total_fragments\":3,"
                 "\"data\":\"%s\"}}",
                 i, b64);
    }
    assert_int_equal(
        srv_compat_unwrap(&d, (uint8_t *)f[2], strlen(f[2]), &got, &glen, &layer, NULL), 0);
    assert_int_equal(
        srv_compat_unwrap(&d, (uint8_t *)f[0], strlen(f[0]), &got, &glen, &layer, NULL), 0);
    assert_int_equal(
        srv_compat_unwrap(&d, (uint8_t *)f[0], strlen(f[0]), &got, &glen, &layer, NULL), 0);
    assert_int_equal(
        srv_compat_unwrap(&d, (uint8_t *)f[1], strlen(f[1]), &got, &glen, &layer, NULL), 1);
    assert_int_equal(glen, 12);
    assert_memory_equal(got, "\"ListActors\"", 12);
    free(got);
    assert_int_equal(d.count, 0);

    /* refused: index out of range, counts that disagree, bad base64 */
    {
        const char *range = "{\"Fragment\":{\"message_id\":1,\"fragment_index\":2,\"total_"
                            "fragments\":2,\"data\":\"\"}}";
        assert_int_equal(
            srv_compat_unwrap(&d, (const uint8_t *)range, strlen(range), &got, &glen, &layer, NULL),
            TH_EINVAL);
    }
    assert_int_equal(
        srv_compat_unwrap(&d, (uint8_t *)f[0], strlen(f[0]), &got, &glen, &layer, NULL), 0);
    {
        const char *other = "{\"Fragment\":{\"message_id\":9,\"fragment_index\":1,\"total_"
                            "fragments\":4,\"data\":\"\"}}";
        assert_int_equal(
            srv_compat_unwrap(&d, (const uint8_t *)other, strlen(other), &got, &glen, &layer, NULL),
            TH_EINVAL);
    }
    {
        const char *bad = "{\"Fragment\":{\"message_id\":3,\"fragment_index\":0,\"total_"
                          "fragments\":2,\"data\":\"!!\"}}";
        assert_int_equal(
            srv_compat_unwrap(&d, (const uint8_t *)bad, strlen(bad), &got, &glen, &layer, NULL),
            TH_EINVAL);
    }
    /* too many messages in reassembly at once */
    for (i = 0; i < 20; i++) {
        char one[160];
        int rc;
        snprintf(one, sizeof one,
                 "{\"Fragment\":{\"message_id\":%d,\"fragment_index\":0,\"total_fragments\":2,"
                 "\"data\":\"YQ==\"}}",
                 100 + i);
        rc = srv_compat_unwrap(&d, (const uint8_t *)one, strlen(one), &got, &glen, &layer, NULL);
        if (rc != 0) {
            assert_int_equal(rc, TH_ETOOBIG);
            break;
        }
    }
    assert_true(i < 20);
    srv_compat_defrag_release(&d);

    /* anything else is a plain frame, returned as it is */
    assert_int_equal(srv_compat_unwrap(&d, (const uint8_t *)"{\"Complete\":1,\"x\":2}", 20, &got,
                                       &glen, &layer, NULL),
                     1);
    assert_int_equal(layer, SRV_COMPAT_PLAIN);
    assert_int_equal(glen, 20);
    free(got);
    assert_int_equal(srv_compat_unwrap(&d, (const uint8_t *)"{\"Complete\":[256]}", 18, &got, &glen,
                                       &layer, NULL),
                     TH_EINVAL);
}

static void test_channel_ids(void **state)
{
    char wire[36], id[TH_ACTOR_ID_SIZE];

    (void)state;
    srv_compat_channel_to_wire(ID, wire);
    assert_string_equal(wire, "ch_3f2504e04f8941d39a0c0305e82c3301");
    assert_true(srv_compat_channel_from_wire(wire, id));
    assert_string_equal(id, ID);
    assert_false(srv_compat_channel_from_wire("ch_0123456789abcdef", id));
    assert_false(srv_compat_channel_from_wire("xx_3f2504e04f8941d39a0c0305e82c3301", id));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_escapes),    cmocka_unit_test(test_responses),
        cmocka_unit_test(test_parse_commands),    cmocka_unit_test(test_frames),
        cmocka_unit_test(test_fragmenting_layer), cmocka_unit_test(test_channel_ids),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
