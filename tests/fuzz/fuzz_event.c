/*
 * fuzz_event.c - fuzz harness of the chain-event renderer
 * (src/cli/event_text.c), which reads event data that nobody vouches for:
 * chains imported from elsewhere, databases edited by hand, a daemon's
 * API.
 *
 * An input is an event: its type up to the first newline, then its data.
 * The harness renders it in every form (plain, --wide, with the actor
 * column), builds the JSON form, renders that too and checks it gives the
 * same text as the event itself, and renders the data as if it were an
 * event in the JSON form.  A crash, a sanitizer report, a leak or an
 * abort() (the two renderings differ) is a bug.
 *
 * Built two ways (tests/fuzz/CMakeLists.txt): with -fsanitize=fuzzer, the
 * libFuzzer target fuzz_event (THEATER_FUZZ=ON); with replay_main.c, a
 * program that replays every file of the directories it is given (ctest
 * fuzz.event_corpus, tests/fuzz/corpus_event).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/event_text.h"

static const char *const g_ids[] = {"2926a09d-9a8c-49a1-bfa5-f855c3032abd",
                                    "2926a09e-0000-4000-8000-000000000000",
                                    "34390650-15b6-44e1-aa51-afe8ac92c6ce"};

static void one(const uint8_t *data, size_t size)
{
    static const uint8_t hash[32] = {7};
    const uint8_t *nl = memchr(data, '\n', size);
    size_t tlen = nl ? (size_t)(nl - data) : size;
    char *type = malloc(tlen + 1), *a, *b;
    cli_ids ids = {0};
    cli_event ev;
    unsigned flags[] = {0, CLI_EVENT_WIDE, CLI_EVENT_ACTOR | CLI_EVENT_NO_SEQ};
    json_t *form, *as_event, *probe;
    th_error err;
    size_t i;
    int utf8_type;

    if (type == NULL || cli_ids_init(&ids, g_ids, 3) != 0)
        abort();
    memcpy(type, data, tlen);
    type[tlen] = '\0';
    if (strlen(type) != tlen) { /* a type holds no NUL */
        free(type);
        cli_ids_release(&ids);
        return;
    }
    probe = json_string(type); /* NULL: not UTF-8, shown differently in JSON */
    utf8_type = probe != NULL;
    json_decref(probe);
    memset(&ev, 0, sizeof ev);
    ev.actor = g_ids[size % 3];
    ev.seq = size;
    ev.type = type;
    ev.timestamp_ms = 1764748575834ull;
    ev.data = nl ? nl + 1 : data + size;
    ev.data_len = nl ? size - tlen - 1 : 0;
    ev.hash = hash;
    for (i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        a = cli_event_text(&ev, &ids, NULL, flags[i]);
        form = cli_event_json(&ev);
        if (a == NULL || form == NULL)
            abort(); /* only memory can fail */
        b = cli_event_text_from_json(form, &ids, NULL, flags[i], &err);
        if (b == NULL && json_object_get(form, "event_type") != NULL)
            abort();
        if (b != NULL && utf8_type && strcmp(a, b) != 0) {
            fprintf(stderr, "the event and its JSON form render differently:\n%s%s", a, b);
            abort();
        }
        free(a);
        free(b);
        json_decref(form);
    }
    /* the data as an event in the JSON form (what a daemon would send) */
    as_event = json_loadb((const char *)ev.data, ev.data_len, 0, NULL);
    if (as_event != NULL) {
        b = cli_event_text_from_json(as_event, &ids, NULL, 0, &err);
        free(b);
        json_decref(as_event);
    }
    free(type);
    cli_ids_release(&ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size);
    return 0;
}
