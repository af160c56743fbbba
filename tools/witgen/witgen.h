/*
 * witgen.h - what the parts of witgen share: the output file, the parsed
 * package and the helpers that name and describe its types.
 */
#ifndef THEATER_WITGEN_H
#define THEATER_WITGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "wit.h"

/* Where E writes, and the package being generated. */
extern FILE *out;
extern wit_pkg P;
/* Per canonical type: reachable from a function (used), declared yet. */
extern char *used;
extern char *declared;

/* printf to `out`. */
void E(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Type `t` of P. */
wit_type *T(int t);
/* C identifier of a WIT name ("parent-hash" -> "parent_hash"); upper case. */
const char *cid(const char *s);
const char *upper(const char *s);
/* Whether `t` is a primitive (bool, numbers, char); its C type name. */
bool prim(int t);
const char *ctype(int t);
/* The same with another prefix for non-primitive types (`prefix`_mangle). */
const char *ctype_prefixed(int t, const char *prefix);
/* Mark `t` and what it contains as used; declare its C type (once). */
void mark(int t);
void declare(int t);

/* gen_host.c helpers the test and guest glue share. */
const char *case_field(int t, int i, char *buf, size_t cap);
const char *field_of(int t, int i, char *buf, size_t cap);
void emit_tag_get(int t, const char *v);
void emit_tag_set(int t, const char *v, const char *x);
bool variantish(int t);
void emit_cvt(const char *dst, int to, const char *src, int from);
const char *fn_mangle(const wit_func *f);
void emit_params_decl(const wit_func *f, bool konst);

/* The three outputs; 0 or nonzero (the message printed). */
int write_host(const char *hpath, const char *cpath);
int write_test(const char *hpath, const char *cpath);
int write_guest(const char *hpath);

#endif
