/*
 * big_event.c - a chain with an event recorded by content reference, for
 * cli/content_ref.sh: what an actor's handle-send of a 32 MiB message
 * records, without running one.
 *
 *   big_event HOME ACTOR         append to ACTOR's chain in HOME: an
 *                                actor-spawned, a wasm-call whose data
 *                                (over 64 MiB: the message as hex) is
 *                                recorded by content reference, and a
 *                                wasm-result; print the content's SHA-256
 *   big_event HOME --drop        remove the referenced content from the
 *                                home's store (as a damaged home lacks it)
 *
 * Exit status 0, or 1 with a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "base/hex.h"
#include "base/limits.h"
#include "base/sha256.h"
#include "theater/chain.h"

#define MESSAGE_BYTES (32u * 1024u * 1024u + 4096u) /* as hex: above 64 MiB */

static int append(th_chain *c, const char *actor, const char *type, const char *data, size_t len)
{
    th_error err;

    if (th_chain_append(c, actor, type, data, len, NULL, NULL, &err) != TH_OK) {
        fprintf(stderr, "big_event: appending %s: %s\n", type, err.msg);
        return 1;
    }
    return 0;
}

/* {"function":"handle-send","params":["6161...62"]}: a message of 'a's
 * ending in one 'b' (so a cut shows where it is). */
static char *call_data(size_t *len)
{
    static const char head[] = "{\"function\":\"handle-send\",\"params\":[\"";
    static const char tail[] = "\"]}";
    size_t n = sizeof head - 1 + 2 * MESSAGE_BYTES + sizeof tail - 1, i;
    char *d = malloc(n + 1), *p;

    if (d == NULL)
        return NULL;
    memcpy(d, head, sizeof head - 1);
    p = d + sizeof head - 1;
    for (i = 0; i + 1 < MESSAGE_BYTES; i++, p += 2)
        memcpy(p, "61", 2);
    memcpy(p, "62", 2);
    memcpy(p + 2, tail, sizeof tail);
    *len = n;
    return d;
}

static int write_chain(const char *home, const char *actor)
{
    static const char spawned[] = "{\"id\":\"%s\",\"name\":\"big\",\"version\":\"0.1.0\"}";
    static const char result[] = "{\"function\":\"handle-send\",\"state\":null}";
    th_chain_config cfg = {0};
    th_chain *c;
    th_error err;
    uint8_t hash[32];
    char text[200], hex[65];
    size_t len;
    char *big;
    int bad;

    cfg.home = home;
    if ((big = call_data(&len)) == NULL || len <= TH_CHAIN_MAX_DATA_BYTES) {
        fprintf(stderr, "big_event: out of memory\n");
        return 1;
    }
    if (th_chain_open(&cfg, &c, &err) != TH_OK) {
        fprintf(stderr, "big_event: %s\n", err.msg);
        return 1;
    }
    snprintf(text, sizeof text, spawned, actor);
    bad = append(c, actor, "actor-spawned", text, strlen(text)) ||
          append(c, actor, "wasm-call", big, len) ||
          append(c, actor, "wasm-result", result, sizeof result - 1);
    if (th_chain_close(c) != TH_OK && !bad) {
        fprintf(stderr, "big_event: storing the events failed\n");
        bad = 1;
    }
    if (!bad && base_sha256(big, len, hash) == 0)
        printf("%s\n", base_hex_encode(hash, sizeof hash, hex));
    free(big);
    return bad;
}

static int drop_content(const char *home)
{
    char path[4200], *msg = NULL;
    sqlite3 *db;
    int rc;

    snprintf(path, sizeof path, "%s/theater.db", home);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "big_event: %s: %s\n", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return 1;
    }
    rc = sqlite3_exec(db, "DELETE FROM store_content WHERE store = '" TH_CHAIN_CONTENT_STORE "'",
                      NULL, NULL, &msg);
    if (rc == SQLITE_OK && sqlite3_changes(db) == 0)
        rc = SQLITE_NOTFOUND;
    if (rc != SQLITE_OK)
        fprintf(stderr, "big_event: %s: %s\n", path, msg ? msg : "no content to remove");
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc != SQLITE_OK;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: big_event HOME ACTOR | big_event HOME --drop\n");
        return 2;
    }
    if (strcmp(argv[2], "--drop") == 0)
        return drop_content(argv[1]);
    return write_chain(argv[1], argv[2]);
}
