/*
 * toml.h - the project's TOML 1.0.0 parser (internal API, prefix toml_).
 *
 * toml_parse() turns a UTF-8 document into a tree of toml_value nodes:
 * tables, arrays and scalars (string, integer, float, boolean and the four
 * date/time kinds, kept as typed values).  Every node and every key carries
 * the 1-based line it was written on, so that callers (the manifest loader)
 * can name a line in their own error messages.
 *
 * Conformance: the parser accepts exactly the documents TOML 1.0.0 accepts
 * (checked against every case of toml-test's files-toml-1.0.0 by
 * tests/toml).  Untrusted input is bounded by TH_TOML_MAX_* in limits.h.
 *
 * Ownership: the tree belongs to the caller of toml_parse() and is released
 * with toml_free() on the root.  Pointers into the tree (values, keys,
 * strings) stay valid until then.  Nodes are read-only for users except
 * through toml_string_set().  The tree is not thread-safe for concurrent
 * mutation but may be read from several threads at once.
 */
#ifndef THEATER_BASE_TOML_H
#define THEATER_BASE_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "theater/error.h"

typedef enum toml_type {
    TOML_TABLE = 1,
    TOML_ARRAY,
    TOML_STRING,
    TOML_INTEGER,
    TOML_FLOAT,
    TOML_BOOL,
    TOML_DATETIME,       /* offset date-time: 1979-05-27T07:32:00-07:00 */
    TOML_DATETIME_LOCAL, /* local date-time:  1979-05-27T07:32:00 */
    TOML_DATE_LOCAL,     /* local date:       1979-05-27 */
    TOML_TIME_LOCAL,     /* local time:       07:32:00.999 */
} toml_type;

/* A date and/or time.  Which fields are meaningful depends on the value's
 * type: dates use year..day, times hour..frac_digits, TOML_DATETIME also
 * offset_minutes.  Fields are range-checked by the parser (day against the
 * month and leap years; second may be 60 for a leap second). */
typedef struct toml_datetime {
    int year, month, day;     /* 0000-9999, 1-12, 1-31 */
    int hour, minute, second; /* 0-23, 0-59, 0-60 */
    int nanosecond;           /* 0-999999999; digits past the 9th are dropped */
    int frac_digits;          /* fraction digits as written (0 = none), max 9 */
    int offset_minutes;       /* east of UTC, -1439..1439; 0 for "Z" */
} toml_datetime;

typedef struct toml_value toml_value;
typedef struct toml_keyval toml_keyval;

/* One entry of a table. */
struct toml_keyval {
    char *key;         /* UTF-8, NUL-terminated; may also contain NUL */
    size_t key_len;    /* bytes, without the terminator */
    int line;          /* line of the key (the last part of a dotted key) */
    toml_value *value; /* owned by the table */
};

struct toml_value {
    toml_type type;
    int line; /* line where the value (or the header defining it) starts */
    union {
        struct {
            char *ptr; /* UTF-8, NUL-terminated; may contain NUL (\u0000) */
            size_t len;
        } s;
        int64_t i;
        double f;
        bool b;
        toml_datetime dt;
        struct {
            toml_value **items;
            size_t len, cap;
        } a;
        struct {
            toml_keyval *items; /* in the order the keys were first written */
            size_t len, cap;
            uint32_t *index; /* hash slots (entry index + 1), or NULL */
            size_t index_cap;
        } t;
    } u;
    /* Parser bookkeeping (private): how a table was defined, the section
     * that defined it, nesting depth, whether an array is an array of
     * tables. */
    uint8_t kind;
    uint32_t section;
    uint32_t depth;
};

/* Parse `len` bytes of `text` (need not be NUL-terminated).  On success
 * returns 0 and stores the root table in *out (caller frees with
 * toml_free).  On failure returns TH_EINVAL (malformed document), TH_ETOOBIG
 * (a TH_TOML_MAX_* limit) or TH_ENOMEM, leaves *out NULL and fills err with
 * "line L, column C: what went wrong". */
int toml_parse(const char *text, size_t len, toml_value **out /* out */, th_error *err);

/* Release a tree (any node that is not owned by a parent).  NULL is fine. */
void toml_free(toml_value *v);

/* Human name of a type for messages: "table", "array", "string", "integer",
 * "float", "boolean", "offset date-time", "local date-time", "local date",
 * "local time".  Never NULL. */
const char *toml_type_name(toml_type type);

/* Number of entries of a table (0 if `t` is NULL or not a table). */
size_t toml_table_len(const toml_value *t);

/* The i-th entry of a table in document order, or NULL if out of range or
 * `t` is not a table.  Borrowed from the tree. */
const toml_keyval *toml_table_entry(const toml_value *t, size_t i);

/* Look up a key (exact bytes) in a table.  Returns the value, or NULL if
 * absent or `t` is not a table.  Borrowed from the tree. */
const toml_value *toml_table_getn(const toml_value *t, const char *key, size_t key_len);
/* Same with a NUL-terminated key.  The keyval variant also gives the key's
 * line. */
const toml_value *toml_table_get(const toml_value *t, const char *key);
const toml_keyval *toml_table_find(const toml_value *t, const char *key);

/* Number of elements of an array (0 if `a` is NULL or not an array) and the
 * i-th element (NULL if out of range).  Borrowed from the tree. */
size_t toml_array_len(const toml_value *a);
const toml_value *toml_array_get(const toml_value *a, size_t i);

/* Replace the contents of a string node with a copy of `s` (`len` bytes).
 * Returns 0, TH_EINVAL if `v` is not a string, or TH_ENOMEM (node unchanged). */
int toml_string_set(toml_value *v, const char *s, size_t len);

/* Write a date/time of the given type in RFC 3339 / TOML form, e.g.
 * "1979-05-27T07:32:00.5-07:00", "Z" for a zero offset, fraction digits as
 * written.  Returns the length written (snprintf semantics: the output is
 * truncated but NUL-terminated if `n` is too small) or -1 if `type` is not
 * a date/time type.  TOML_DATETIME_MAX_TEXT bytes always suffice. */
#define TOML_DATETIME_MAX_TEXT 40
int toml_datetime_format(const toml_datetime *dt, toml_type type, char *buf, size_t n);

/* Write `d` as the shortest decimal text that reads back as the same double
 * ("inf", "-inf", "nan" for the specials; always with a '.' or exponent, so
 * it reads back as a TOML float).  Returns the length; TOML_FLOAT_MAX_TEXT
 * bytes always suffice. */
#define TOML_FLOAT_MAX_TEXT 32
int toml_float_format(double d, char *buf, size_t n);

#endif
