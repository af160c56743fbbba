/*
 * toml_decode.c - toml-test decoder for the project's TOML parser.
 *
 * Reads a TOML document on stdin and prints it on stdout as toml-test's
 * "tagged JSON" (tables -> objects, arrays -> arrays, each scalar ->
 * {"type": T, "value": "text"}); exits 1 with the parser's message on
 * stderr if the document is invalid, 2 on I/O or memory errors.  See
 * /work/shared/toml-test/README.md and tests/toml/toml_test_driver.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/limits.h"
#include "base/toml.h"

static json_t *tagged(const char *type, const char *text, size_t len)
{
    json_t *o = json_object();
    if (o == NULL || json_object_set_new(o, "type", json_string(type)) != 0 ||
        json_object_set_new(o, "value", json_stringn(text, len)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *to_json(const toml_value *v)
{
    char text[64];
    json_t *j;

    switch (v->type) {
    case TOML_TABLE:
        if ((j = json_object()) == NULL)
            return NULL;
        for (size_t i = 0; i < toml_table_len(v); i++) {
            const toml_keyval *kv = toml_table_entry(v, i);
            json_t *item = to_json(kv->value);
            if (item == NULL || json_object_setn_new(j, kv->key, kv->key_len, item) != 0) {
                json_decref(j);
                return NULL;
            }
        }
        return j;
    case TOML_ARRAY:
        if ((j = json_array()) == NULL)
            return NULL;
        for (size_t i = 0; i < toml_array_len(v); i++) {
            json_t *item = to_json(toml_array_get(v, i));
            if (item == NULL || json_array_append_new(j, item) != 0) {
                json_decref(j);
                return NULL;
            }
        }
        return j;
    case TOML_STRING: return tagged("string", v->u.s.ptr, v->u.s.len);
    case TOML_INTEGER:
        snprintf(text, sizeof text, "%" PRId64, v->u.i);
        return tagged("integer", text, strlen(text));
    case TOML_FLOAT:
        toml_float_format(v->u.f, text, sizeof text);
        return tagged("float", text, strlen(text));
    case TOML_BOOL: return tagged("bool", v->u.b ? "true" : "false", v->u.b ? 4 : 5);
    case TOML_DATETIME:
    case TOML_DATETIME_LOCAL:
    case TOML_DATE_LOCAL:
    case TOML_TIME_LOCAL:
        toml_datetime_format(&v->u.dt, v->type, text, sizeof text);
        return tagged(v->type == TOML_DATETIME         ? "datetime"
                      : v->type == TOML_DATETIME_LOCAL ? "datetime-local"
                      : v->type == TOML_DATE_LOCAL     ? "date-local"
                                                       : "time-local",
                      text, strlen(text));
    }
    return NULL;
}

int main(void)
{
    size_t cap = 1 << 16, len = 0, n;
    char *text = malloc(cap);
    toml_value *root = NULL;
    th_error err = {0};
    json_t *j;

    if (text == NULL)
        return 2;
    while ((n = fread(text + len, 1, cap - len, stdin)) > 0) {
        len += n;
        if (len == cap) {
            char *p;
            if (cap > TH_TOML_MAX_INPUT_BYTES) {
                fprintf(stderr, "toml_decode: input too large\n");
                return 1;
            }
            if ((p = realloc(text, cap * 2)) == NULL)
                return 2;
            text = p;
            cap *= 2;
        }
    }
    if (ferror(stdin)) {
        perror("toml_decode: stdin");
        return 2;
    }
    if (toml_parse(text, len, &root, &err) != 0) {
        fprintf(stderr, "toml_decode: %s\n", err.msg);
        free(text);
        return err.code == TH_ENOMEM ? 2 : 1;
    }
    free(text);
    if ((j = to_json(root)) == NULL) {
        fprintf(stderr, "toml_decode: out of memory\n");
        return 2;
    }
    toml_free(root);
    if (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 || putchar('\n') == EOF ||
        fflush(stdout) != 0)
        return 2;
    json_decref(j);
    return 0;
}
