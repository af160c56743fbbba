/*
 * toml_int.h - what the TOML tree (toml.c) and parser (toml_parse.c) share.
 * Internal to src/base.
 */
#ifndef THEATER_BASE_TOML_INT_H
#define THEATER_BASE_TOML_INT_H

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/toml.h"

/* How a node came to exist (the parser's table definition rules, described
 * at the top of toml_parse.c). */
enum {
    KIND_IMPLICIT = 1,
    KIND_HEADER,
    KIND_DOTTED,
    KIND_INLINE,
    KIND_STATIC,
    KIND_AOT,
};

/* The "C" locale for number conversion; set by toml_init (once per
 * process, with the random seed of the table index hash). */
extern locale_t toml_c_locale;
void toml_init(void);

static inline bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Growable byte buffer used while building strings. */
typedef struct sbuf {
    char *ptr;
    size_t len, cap;
} sbuf;

int toml_buf_reserve(sbuf *b, size_t extra);
int toml_buf_add(sbuf *b, const char *s, size_t n);
int toml_buf_addc(sbuf *b, char c);
/* Hand the NUL-terminated contents over to the caller (never NULL on
 * success, "" for an empty buffer). */
char *toml_buf_detach(sbuf *b, size_t *len);

/* A new node of `type`; NULL when out of memory. */
toml_value *toml_node_new(toml_type type, int line, uint32_t depth);
int toml_array_push(toml_value *a, toml_value *item);
/* Entry `key` of table `t`, or NULL. */
toml_keyval *toml_tab_find(const toml_value *t, const char *key, size_t len);
/* Append a new entry (the caller checked that the key is absent).  On
 * success the table owns `key` (malloc'd, NUL-terminated) and `value`. */
int toml_tab_add(toml_value *t, char *key, size_t key_len, int line, toml_value *value);

#endif
