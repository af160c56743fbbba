/*
 * fuzz_compat.c - the compat codec's fuzz harness (fuzz_compat.h).
 */
#include "fuzz_compat.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/compat_codec.h"

/* Encode answers from what a command carried, as the listener would. */
static void answer(const srv_compat_cmd *c, int layer)
{
    srv_jbuf b = {0}, f = {0};
    char id[TH_ACTOR_ID_SIZE], wire[36];
    uint64_t next = 1;
    th_runtime_event ev = {0};
    static const uint8_t hash[32] = {1, 2, 3};

    srv_compat_id_only(&b, "ActorStarted", c->id);
    srv_compat_subscribed(&b, c->id, c->sub_id);
    srv_compat_state(&b, c->id, c->has_data, c->data, c->len);
    srv_compat_requested(&b, c->id, c->data, c->len);
    if (c->text != NULL) {
        srv_compat_error(&b, SRV_E_RUNTIME_ERROR, c->text);
        srv_compat_channel_only(&b, "MessageSent", c->text);
        if (srv_compat_channel_from_wire(c->text, id)) {
            srv_compat_channel_to_wire(id, wire);
            if (strcasecmp(wire, c->text) != 0)
                abort(); /* the wire form must round-trip (hex in any case) */
        }
        ev.actor_id = c->id;
        ev.type = c->text;
        ev.data = c->data;
        ev.data_len = c->len;
        ev.hash = hash;
        ev.parent_hash = c->has_data ? hash : NULL;
        srv_compat_actor_event(&b, &ev);
    }
    srv_compat_wrap(&f, b.data, b.len, layer, &next);
    srv_jbuf_release(&b);
    srv_jbuf_release(&f);
}

static int one_message(srv_compat_defrag *d, const uint8_t *p, size_t n)
{
    uint8_t *msg;
    size_t len;
    int layer, rc, parsed = 0;
    srv_compat_cmd cmd;

    rc = srv_compat_unwrap(d, p, n, &msg, &len, &layer, NULL);
    if (rc == 1) {
        if (srv_compat_parse(msg, len, &cmd, NULL) == 0) {
            answer(&cmd, layer);
            srv_compat_cmd_release(&cmd);
            parsed = 1;
        }
        free(msg);
    }
    return parsed;
}

int fuzz_compat_one(const uint8_t *data, size_t size)
{
    srv_compat_defrag d = {0};
    const uint8_t *p;
    size_t plen, used, off = 1;
    int n = 0;

    if (size == 0)
        return 0;
    if ((data[0] & 1) == 0) {
        n = one_message(&d, data + 1, size - 1);
    } else {
        while (srv_compat_frame_next(data + off, size - off, &p, &plen, &used, NULL) == 1) {
            off += used;
            n += one_message(&d, p, plen);
        }
    }
    srv_compat_defrag_release(&d);
    return n;
}
