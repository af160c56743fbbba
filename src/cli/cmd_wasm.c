/*
 * cmd_wasm.c - `theater wasm`: run or validate a WebAssembly module with the
 * project's engine.
 *
 *   theater wasm run [OPTIONS] FILE.wasm [ARGS...]
 *   theater wasm validate [--json] FILE.wasm
 *
 * Both take --home DIR (ignored: a module needs no home) and --json, before
 * FILE.wasm or before the subcommand; value options may be written
 * --NAME=VALUE.  With --json, stdout holds one JSON object: for validate
 * {"file", "valid"[, "error"[, "offset"]]}; for run {"exit_code"} plus
 * "results" (--invoke) or "trap" and "backtrace" (after a trap), while
 * the guest's own stdout goes to stderr.
 *
 * `run` instantiates the module with WASI preview1 and calls `_start`; with
 * --invoke NAME it calls that export instead (after `_initialize` if the
 * module has one), parsing ARGS by the function's parameter types and
 * printing its results, one per line (integers decimal or 0x hex; a v128
 * as SHAPE:LANES in, as "i32x4 0x.. 0x.. 0x.. 0x.." out).
 *
 * Exit codes of `run`: the guest's proc_exit code (0..255; larger codes
 * become 1); 0 when `_start` returns; 134 after a trap (like SIGABRT) with
 * "trap: <reason>" and the backtrace on stderr; 1 when the module cannot be
 * loaded, linked or instantiated; 2 for usage errors.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "theater/wasi.h"
#include "theater/wasm.h"

#define EXIT_TRAP 134
#define EXIT_LOAD 1
#define EXIT_USAGE 2

static const char run_help[] =
    "usage: theater wasm run [OPTIONS] FILE.wasm [ARGS...]\n"
    "\n"
    "Run a WebAssembly module.  A WASI command module (one exporting _start,\n"
    "e.g. a C program built with clang --target=wasm32-wasi) gets ARGS as its\n"
    "arguments, after FILE.wasm as argv[0].\n"
    "\n"
    "options:\n"
    "  --invoke NAME        call export NAME instead of _start; ARGS are its\n"
    "                       parameters, its results are printed one per line.\n"
    "                       i32/i64: decimal, or hexadecimal after 0x (signed or\n"
    "                       unsigned; 010 is ten); f32/f64: as strtod reads them\n"
    "                       (1.5, -0, 0x1p-3, nan, inf); references: null;\n"
    "                       v128: SHAPE:LANES, lane 0 first, e.g. i32x4:1,2,3,4\n"
    "                       or f32x4:1.5,0,-0,inf (shapes i8x16 i16x8 i32x4\n"
    "                       i64x2 f32x4 f64x2; lanes as the scalars; commas or\n"
    "                       spaces, \"i32x4 1 2 3 4\" too).  A v128 result is\n"
    "                       printed as i32x4 with hexadecimal lanes\n"
    "                       (i32x4 0x00000001 0x00000002 0x00000003 0x00000004),\n"
    "                       which is also a valid argument\n"
    "  --dir HOST::GUEST    give the guest the host directory HOST, seen as the\n"
    "                       preopened directory GUEST (repeatable; --dir DIR\n"
    "                       means DIR::DIR).  Without --dir the guest has no\n"
    "                       file system at all: it can read stdin and write\n"
    "                       stdout and stderr, never seek, truncate or re-time\n"
    "                       the files behind them (WASI rights).\n"
    "  --env KEY=VALUE      add an environment variable (repeatable; the guest\n"
    "                       sees no host environment otherwise)\n"
    "  --fuel N             stop the guest with a trap after N fuel units\n"
    "                       (function entries and loop iterations)\n"
    "  --max-memory BYTES   limit linear memory (suffixes K, M, G = KiB, MiB, GiB)\n"
    "  --max-stack BYTES    limit the wasm stack (value slots and call frames;\n"
    "                       default 8M, grown on demand; suffixes as above)\n"
    "  --json               print one JSON object on stdout: {\"exit_code\"}, with\n"
    "                       \"results\" after --invoke ([{\"type\", \"value\"}];\n"
    "                       a NaN or infinity as a string) or \"trap\" and\n"
    "                       \"backtrace\" after a trap.  The guest's stdout goes\n"
    "                       to stderr then.\n"
    "  --home DIR           accepted as by every command (a module needs no home)\n"
    "  -h, --help           show this help\n"
    "\n"
    "Options come before FILE.wasm (what follows it goes to the guest); those\n"
    "with a value may also be written --NAME=VALUE.\n"
    "\n"
    "exit status: the guest's exit code (proc_exit; 0 when _start returns;\n"
    "codes above 255 become 1), 134 after a trap (\"trap: REASON\" and a wasm\n"
    "backtrace on stderr), 1 if the module cannot be loaded or instantiated,\n"
    "2 for a usage error.\n";

static const char validate_help[] =
    "usage: theater wasm validate [--json] FILE.wasm\n"
    "\n"
    "Decode and validate a WebAssembly binary (- = stdin).  Prints `ok` and\n"
    "exits 0, or prints the first error (with its byte offset) and exits 1.\n"
    "\n"
    "options:\n"
    "  --json       print {\"file\", \"valid\": true} or {\"file\", \"valid\": false,\n"
    "               \"error\", \"offset\"} (offset: the byte, when the error names\n"
    "               one) on stdout; a file that cannot be read is no verdict:\n"
    "               an error on stderr, exit 1, no JSON\n"
    "  --home DIR   accepted as by every command (a module needs no home)\n"
    "  -h, --help   show this help\n"
    "\n"
    "exit status: 0 valid, 1 invalid or unreadable, 2 usage error.\n";

static const char wasm_help[] =
    "usage: theater wasm [--json] [--home DIR] <run|validate> [OPTIONS] FILE.wasm [ARGS...]\n"
    "\n"
    "  run        run a WASI command module, or call one export (--invoke)\n"
    "  validate   check that a binary is a valid WebAssembly module\n"
    "\n"
    "--json (machine output) and --home DIR (ignored: a module needs no home)\n"
    "may come before the subcommand or after it.\n"
    "`theater wasm run --help` and `theater wasm validate --help` say more.\n";

typedef struct run_opts {
    const char *invoke;
    const char *file;
    char **args; /* guest args after FILE */
    int nargs;
    th_wasi_dir *dirs;
    size_t ndirs;
    const char **env;
    size_t nenv;
    uint64_t fuel;       /* 0 = unlimited */
    uint64_t max_memory; /* 0 = none */
    uint64_t max_stack;  /* 0 = the engine's default */
    json_t *json;        /* --json: the report being built, else NULL */
} run_opts;

/* Parse an unsigned decimal with an optional K/M/G (binary) suffix. */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    uint64_t mul = 1;

    if (*s == 0 || *s == '-')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s)
        return -1;
    if (*end == 'K' || *end == 'k')
        mul = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1024 * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        mul = 1024ull * 1024 * 1024, end++;
    if (*end != 0 || (mul > 1 && v > UINT64_MAX / mul))
        return -1;
    *out = v * mul;
    return 0;
}

/* Split "HOST::GUEST" (or "DIR") into a th_wasi_dir pointing into `arg`. */
static int parse_dir(char *arg, th_wasi_dir *d)
{
    char *sep = strstr(arg, "::");

    if (sep == NULL) {
        d->host = d->guest = arg;
    } else {
        *sep = 0;
        d->host = arg;
        d->guest = sep + 2;
    }
    return *d->host && *d->guest ? 0 : -1;
}

/* The value options of `wasm run`, by index. */
enum { R_INVOKE, R_FUEL, R_MAX_MEMORY, R_MAX_STACK, R_DIR, R_ENV, R_HOME };
static const char *const run_vals[] = {
    [R_INVOKE] = "--invoke",       [R_FUEL] = "--fuel", [R_MAX_MEMORY] = "--max-memory",
    [R_MAX_STACK] = "--max-stack", [R_DIR] = "--dir",   [R_ENV] = "--env",
    [R_HOME] = "--home",           [R_HOME + 1] = NULL,
};

/* Value option k of run_vals into `o`; 0, or EXIT_USAGE after a message.
 * `val` points into argv (which --dir splits in place). */
static int set_run_value(run_opts *o, int k, char *val)
{
    switch (k) {
    case R_INVOKE: o->invoke = val; return 0;
    case R_FUEL:
        if (parse_size(val, &o->fuel) == 0 && o->fuel != 0)
            return 0;
        cli_errorf("wasm run: bad --fuel '%s' (a positive integer)", val);
        return EXIT_USAGE;
    case R_MAX_MEMORY:
        if (parse_size(val, &o->max_memory) == 0 && o->max_memory != 0)
            return 0;
        cli_errorf("wasm run: bad --max-memory '%s' (bytes, e.g. 65536 or 16M)", val);
        return EXIT_USAGE;
    case R_MAX_STACK:
        if (parse_size(val, &o->max_stack) == 0 && o->max_stack != 0 && o->max_stack <= SIZE_MAX)
            return 0;
        cli_errorf("wasm run: bad --max-stack '%s' (bytes, e.g. 1048576 or 16M)", val);
        return EXIT_USAGE;
    case R_DIR:
        if (parse_dir(val, &o->dirs[o->ndirs]) != 0) {
            cli_errorf("wasm run: bad --dir '%s' (HOST::GUEST)", val);
            return EXIT_USAGE;
        }
        o->ndirs++;
        return 0;
    case R_ENV:
        if (strchr(val, '=') == NULL || val[0] == '=') {
            cli_errorf("wasm run: bad --env '%s' (KEY=VALUE)", val);
            return EXIT_USAGE;
        }
        o->env[o->nenv++] = val;
        return 0;
    default: return 0; /* --home: a module needs no home */
    }
}

/* Fill `o` from argv; returns 0, -1 after --help, or EXIT_USAGE.  *json is
 * set by --json. */
static int parse_run(int argc, char **argv, run_opts *o, bool *json)
{
    const char *val;
    int i, k;

    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != 0; i++) {
        const char *a = argv[i];

        if (cli_is_help(a)) {
            fputs(run_help, stdout);
            return -1;
        }
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "--json") == 0) {
            *json = true;
        } else if ((k = cli_opt_value(argc, argv, &i, "wasm run", run_vals, &val)) >= 0) {
            if (set_run_value(o, k, (char *)val) != 0) /* val is in argv: writable */
                return EXIT_USAGE;
        } else if (k == CLI_OPT_NO_VALUE) {
            return EXIT_USAGE;
        } else {
            cli_errorf("wasm run: unknown option %s (see --help)", a);
            return EXIT_USAGE;
        }
    }
    if (i >= argc) {
        cli_errorf("wasm run: missing FILE.wasm (see --help)");
        return EXIT_USAGE;
    }
    o->file = argv[i];
    o->args = argv + i + 1;
    o->nargs = argc - i - 1;
    return 0;
}

/* Parse an integer of `bits` bits (32 or 64 here, also 8 and 16 for v128
 * lanes): decimal, or hexadecimal after "0x", with an optional sign,
 * nothing else (no octal: "010" is ten).  Signed and unsigned forms are
 * both taken: -2^(bits-1) .. 2^bits - 1.  The value's bits go to *out. */
static int parse_int(const char *s, unsigned bits, uint64_t *out)
{
    uint64_t max = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
    uint64_t v = 0, lim;
    bool neg = false;
    unsigned base = 10, digits = 0;

    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    /* a negative value goes down to -2^(bits-1): its magnitude to 2^(bits-1) */
    lim = neg ? (max >> 1) + 1 : max;
    for (; *s != 0; s++, digits++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return -1;
        if (v > (lim - d) / base)
            return -1;
        v = v * base + d;
    }
    if (digits == 0)
        return -1;
    *out = (neg ? (uint64_t)0 - v : v) & max;
    return 0;
}

/* A float (strtod's forms: decimal, 0x hexadecimal, nan, inf), all of
 * `s`: an f32 (rounded once, by strtof) when `out32`, else an f64. */
static int parse_float(const char *s, float *out32, double *out64)
{
    char *end;

    if (*s == 0 || isspace((unsigned char)*s))
        return -1;
    if (out32 != NULL)
        *out32 = strtof(s, &end);
    else
        *out64 = strtod(s, &end);
    return *end == 0 ? 0 : -1;
}

/* The v128 shapes, as the text format names them. */
static const struct v128_shape {
    const char *name;
    unsigned lanes, bits;
    bool is_float;
} v128_shapes[] = {
    {"i8x16", 16, 8, false}, {"i16x8", 8, 16, false}, {"i32x4", 4, 32, false},
    {"i64x2", 2, 64, false}, {"f32x4", 4, 32, true},  {"f64x2", 2, 64, true},
};

/* A v128 argument: SHAPE then its lanes, lane 0 first, after a ':' or a
 * space and separated by commas or spaces ("i32x4:1,2,3,4", "i32x4 1 2 3
 * 4", "f32x4:1.5,-0,nan,inf"); each lane an integer or float as for the
 * scalar types.  The 16 bytes go to slots[0..1] (lane 0 at the lowest
 * address). */
static int parse_v128(const char *s, th_wasm_val *slots)
{
    const struct v128_shape *sh = NULL;
    uint8_t bytes[16] = {0};
    char lane[128];
    unsigned n = 0;
    size_t len;

    for (size_t i = 0; i < sizeof v128_shapes / sizeof v128_shapes[0]; i++) {
        len = strlen(v128_shapes[i].name);
        if (strncmp(s, v128_shapes[i].name, len) == 0 && (s[len] == ':' || s[len] == ' ')) {
            sh = &v128_shapes[i];
            s += len + 1;
            break;
        }
    }
    if (sh == NULL)
        return -1;
    for (;;) {
        uint64_t bits;
        float f;
        double d;

        while (*s == ' ')
            s++;
        if (*s == 0)
            break;
        len = strcspn(s, ", ");
        if (len == 0 || len >= sizeof lane || n == sh->lanes)
            return -1;
        memcpy(lane, s, len);
        lane[len] = 0;
        s += len;
        while (*s == ' ')
            s++;
        if (*s == ',' && *++s == 0)
            return -1; /* a trailing comma */
        if (!sh->is_float) {
            if (parse_int(lane, sh->bits, &bits) != 0)
                return -1;
        } else if (parse_float(lane, sh->bits == 32 ? &f : NULL, &d) != 0) {
            return -1;
        } else if (sh->bits == 32) {
            uint32_t b32;
            memcpy(&b32, &f, 4);
            bits = b32;
        } else {
            memcpy(&bits, &d, 8);
        }
        for (unsigned b = 0; b < sh->bits / 8; b++) /* little-endian lanes */
            bytes[n * (sh->bits / 8) + b] = (uint8_t)(bits >> (8 * b));
        n++;
    }
    if (n != sh->lanes)
        return -1;
    memcpy(&slots[0].bits, bytes, 8);
    memcpy(&slots[1].bits, bytes + 8, 8);
    return 0;
}

/* Slots a value of type `t` takes (a v128: two). */
static uint32_t slots_of(uint8_t t)
{
    return t == TH_WASM_V128 ? 2 : 1;
}

/* Parse `s` as a value of type `t` into `v` (two slots for a v128). */
static int parse_value(const char *s, uint8_t t, th_wasm_val *v)
{
    uint64_t bits;

    switch (t) {
    case TH_WASM_I32:
        if (parse_int(s, 32, &bits) != 0)
            return -1;
        v->i32 = (int32_t)(uint32_t)bits;
        return 0;
    case TH_WASM_I64:
        if (parse_int(s, 64, &bits) != 0)
            return -1;
        v->i64 = (int64_t)bits;
        return 0;
    case TH_WASM_F32: return parse_float(s, &v->f32, NULL);
    case TH_WASM_F64: return parse_float(s, NULL, &v->f64);
    case TH_WASM_V128: return parse_v128(s, v);
    case TH_WASM_FUNCREF:
    case TH_WASM_EXTERNREF: v->ref = NULL; return strcmp(s, "null") == 0 ? 0 : -1;
    default: return -1;
    }
}

static const char *type_name(uint8_t t)
{
    switch (t) {
    case TH_WASM_I32: return "i32";
    case TH_WASM_I64: return "i64";
    case TH_WASM_F32: return "f32";
    case TH_WASM_F64: return "f64";
    case TH_WASM_V128: return "v128";
    case TH_WASM_FUNCREF: return "funcref";
    case TH_WASM_EXTERNREF: return "externref";
    default: return "?";
    }
}

/* A v128 (two slots) as the text format's i32x4 with hexadecimal lanes,
 * lane 0 first: "i32x4 0x00000001 0x00000002 0x00000003 0x00000004",
 * which --invoke also takes as an argument. */
static void v128_text(const th_wasm_val *slots, char out[64])
{
    uint8_t b[16];
    uint32_t lane[4];

    memcpy(b, &slots[0].bits, 8);
    memcpy(b + 8, &slots[1].bits, 8);
    for (int i = 0; i < 4; i++)
        lane[i] = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 | (uint32_t)b[4 * i + 2] << 16 |
                  (uint32_t)b[4 * i + 3] << 24;
    snprintf(out, 64, "i32x4 0x%08" PRIx32 " 0x%08" PRIx32 " 0x%08" PRIx32 " 0x%08" PRIx32, lane[0],
             lane[1], lane[2], lane[3]);
}

/* Print a value of type `t` (its slots at `v`). */
static void print_value(uint8_t t, const th_wasm_val *v)
{
    char text[64];

    switch (t) {
    case TH_WASM_I32: printf("%" PRId32 "\n", v->i32); break;
    case TH_WASM_I64: printf("%" PRId64 "\n", v->i64); break;
    case TH_WASM_F32:
        if (isnan(v->f32))
            printf("%snan\n", signbit(v->f32) ? "-" : "");
        else
            printf("%.9g\n", (double)v->f32);
        break;
    case TH_WASM_F64:
        if (isnan(v->f64))
            printf("%snan\n", signbit(v->f64) ? "-" : "");
        else
            printf("%.17g\n", v->f64);
        break;
    case TH_WASM_V128:
        v128_text(v, text);
        printf("%s\n", text);
        break;
    case TH_WASM_FUNCREF:
    case TH_WASM_EXTERNREF: printf("%s\n", v->ref == NULL ? "null" : type_name(t)); break;
    default: printf("?\n"); break;
    }
}

/* A float for JSON: a number, or "nan", "-nan", "inf", "-inf", which JSON
 * has no numbers for. */
static json_t *float_json(double d)
{
    if (isnan(d))
        return json_string(signbit(d) ? "-nan" : "nan");
    if (isinf(d))
        return json_string(d < 0 ? "-inf" : "inf");
    return json_real(d);
}

/* One result as {"type", "value"} (a new reference, NULL when out of
 * memory); a reference is null, or its type's name when not null, as the
 * text form prints it; a v128 is its i32x4 text, as printed. */
static json_t *value_json(uint8_t t, const th_wasm_val *v)
{
    char text[64];
    json_t *val;

    switch (t) {
    case TH_WASM_I32: val = json_integer(v->i32); break;
    case TH_WASM_I64: val = json_integer(v->i64); break;
    case TH_WASM_F32: val = float_json(v->f32); break;
    case TH_WASM_F64: val = float_json(v->f64); break;
    case TH_WASM_V128:
        v128_text(v, text);
        val = json_string(text);
        break;
    case TH_WASM_FUNCREF:
    case TH_WASM_EXTERNREF: val = v->ref == NULL ? json_null() : json_string(type_name(t)); break;
    default: val = json_null(); break;
    }
    return json_pack("{s:s, s:o}", "type", type_name(t), "value", val);
}

/* --json: the trap's reason and the exec's backtrace (if any) go into the
 * report. */
static void note_trap(const run_opts *o, const char *reason, th_wasm_exec *ex)
{
    json_t *bt;

    if (o->json == NULL)
        return;
    if ((bt = cli_frames_json(ex != NULL ? th_wasm_exec_backtrace(ex) : NULL)) == NULL &&
        (bt = json_array()) == NULL)
        return;
    json_object_set_new(o->json, "trap", json_string(reason));
    json_object_set_new(o->json, "backtrace", bt);
}

/* Print the exec's wasm backtrace (if any) on stderr, indented. */
static void print_backtrace(th_wasm_exec *ex)
{
    const char *line = th_wasm_exec_backtrace(ex);

    if (line == NULL || *line == 0)
        return;
    fprintf(stderr, "wasm backtrace:\n");
    while (*line) {
        const char *nl = strchr(line, '\n');
        int len = nl ? (int)(nl - line) : (int)strlen(line);
        fprintf(stderr, "  %.*s\n", len, line);
        line += len + (nl != NULL);
    }
}

/* Report a trap (or proc_exit) after a call; returns the exit code. */
static int report_trap(th_wasm_exec *ex, const th_wasi *wasi, const run_opts *o)
{
    uint32_t code;

    if (th_wasi_exit_code(wasi, &code))
        return code <= 255 ? (int)code : 1;
    fflush(stdout);
    fprintf(stderr, "trap: %s\n", th_wasm_exec_trap_message(ex));
    print_backtrace(ex);
    note_trap(o, th_wasm_exec_trap_message(ex), ex);
    return EXIT_TRAP;
}

/* Call `fn`; handles fuel exhaustion (abort, report as a trap).  Returns
 * -1 on success (results filled) or an exit code. */
static int call_func(th_wasm_exec *ex, th_wasm_func *fn, const th_wasm_val *args, uint32_t nargs,
                     th_wasm_val *results, uint32_t nresults, const th_wasi *wasi,
                     const run_opts *o)
{
    int rc = th_wasm_exec_call(ex, fn, args, nargs, results, nresults);

    if (rc == TH_OK)
        return -1;
    if (rc == TH_WASM_TRAPPED)
        return report_trap(ex, wasi, o);
    if (rc == TH_WASM_OUT_OF_FUEL) {
        th_wasm_exec_abort(ex); /* turns it into a fuel trap */
        fflush(stdout);
        fprintf(stderr, "trap: %s (--fuel %" PRIu64 ")\n", th_wasm_exec_trap_message(ex), o->fuel);
        print_backtrace(ex);
        note_trap(o, th_wasm_exec_trap_message(ex), ex);
        return EXIT_TRAP;
    }
    if (rc == TH_WASM_SUSPENDED) {
        th_wasm_exec_abort(ex);
        cli_errorf("the guest suspended, which a CLI run cannot resume");
        note_trap(o, "the guest suspended, which a CLI run cannot resume", NULL);
        return EXIT_TRAP;
    }
    cli_errorf("call failed: %s", th_strerror(rc));
    return EXIT_LOAD;
}

/* --invoke: parse the arguments, call the export, print its results.
 * *ran is set once the guest is called. */
static int invoke_export(th_wasm_instance *inst, th_wasm_exec *ex, const run_opts *o,
                         const th_wasi *wasi, bool *ran)
{
    th_wasm_func *fn = th_wasm_instance_func(inst, o->invoke);
    th_wasm_func *init = th_wasm_instance_func(inst, "_initialize");
    const th_wasm_functype *ft;
    th_wasm_val *vals = NULL;
    uint32_t nps = 0, nrs = 0; /* parameter and result slots */
    int rc = EXIT_LOAD;

    if (fn == NULL) {
        cli_errorf("%s: no exported function '%s'", o->file, o->invoke);
        return EXIT_LOAD;
    }
    ft = th_wasm_func_type(fn);
    if ((uint32_t)o->nargs != ft->nparams) {
        cli_errorf("%s: %s takes %u argument(s), %d given", o->file, o->invoke, ft->nparams,
                   o->nargs);
        return EXIT_USAGE;
    }
    /* the engine counts slots, a v128 taking two */
    for (uint32_t i = 0; i < ft->nparams + ft->nresults; i++)
        *(i < ft->nparams ? &nps : &nrs) += slots_of(ft->types[i]);
    vals = calloc((size_t)nps + nrs + 1, sizeof *vals);
    if (vals == NULL) {
        cli_errorf("out of memory");
        return EXIT_LOAD;
    }
    for (uint32_t i = 0, k = 0; i < ft->nparams; k += slots_of(ft->types[i]), i++)
        if (parse_value(o->args[i], ft->types[i], &vals[k]) != 0) {
            cli_errorf(
                "argument %u: '%s' is not a valid %s%s", i + 1, o->args[i], type_name(ft->types[i]),
                ft->types[i] == TH_WASM_V128 ? " (SHAPE:LANES, e.g. i32x4:1,2,3,4; see --help)"
                                             : "");
            rc = EXIT_USAGE;
            goto out;
        }
    *ran = true;
    if (init != NULL && init != fn) {
        rc = call_func(ex, init, NULL, 0, NULL, 0, wasi, o);
        if (rc >= 0)
            goto out;
    }
    rc = call_func(ex, fn, vals, nps, vals + nps, nrs, wasi, o);
    if (rc < 0) {
        json_t *res = o->json != NULL ? json_array() : NULL;
        for (uint32_t i = 0, k = nps; i < ft->nresults;
             k += slots_of(ft->types[ft->nparams + i]), i++) {
            uint8_t t = ft->types[ft->nparams + i];
            if (o->json == NULL)
                print_value(t, &vals[k]);
            else if (res != NULL)
                json_array_append_new(res, value_json(t, &vals[k]));
        }
        if (o->json != NULL)
            json_object_set_new(o->json, "results", res);
        rc = 0;
    }
out:
    free(vals);
    return rc;
}

/* Load, link and run according to `o`; returns the exit code. */
static int run_module(const run_opts *o, bool *ran /* out: the guest ran */)
{
    unsigned char *bytes = NULL;
    size_t len = 0;
    th_error err = {0};
    th_wasm_module *mod = NULL;
    th_wasm_imports *imp = NULL;
    th_wasm_instance *inst = NULL;
    th_wasm_exec *ex = NULL;
    th_wasm_exec_config ecfg = {0};
    th_wasi *wasi = NULL;
    th_wasi_config wc;
    th_wasm_instance_config ic = {0};
    const char **argv = NULL;
    int rc = EXIT_LOAD;

    bytes = cli_read_file(o->file, &len);
    if (bytes == NULL)
        return EXIT_LOAD;
    if (th_wasm_module_new(bytes, len, &mod, &err) != TH_OK) {
        cli_errorf("%s: %s", o->file, err.msg);
        goto out;
    }
    argv = calloc((size_t)o->nargs + 1, sizeof *argv);
    if (argv == NULL)
        goto out;
    argv[0] = o->file;
    for (int i = 0; i < o->nargs; i++)
        argv[i + 1] = o->args[i];
    th_wasi_config_init(&wc);
    wc.argv = argv;
    wc.argc = o->invoke ? 1 : (size_t)o->nargs + 1;
    wc.env = o->env;
    wc.nenv = o->nenv;
    wc.dirs = o->dirs;
    wc.ndirs = o->ndirs;
    if (o->json != NULL)
        wc.stdout_fd = 2; /* stdout holds the JSON report alone */
    imp = th_wasm_imports_new();
    if (imp == NULL || th_wasi_new(&wc, &wasi, &err) != TH_OK ||
        th_wasi_add_to_imports(wasi, imp, &err) != TH_OK) {
        cli_errorf("%s", imp == NULL ? "out of memory" : err.msg);
        goto out;
    }
    ecfg.max_stack_bytes = (size_t)o->max_stack;
    ex = th_wasm_exec_new(&ecfg);
    if (ex == NULL) {
        cli_errorf("out of memory");
        goto out;
    }
    ic.max_memory_bytes = o->max_memory;
    ic.start_fuel = o->fuel;
    ic.start_exec = ex; /* a trap in the start function: its backtrace */
    if (th_wasm_instance_new(mod, imp, &ic, &inst, &err) != TH_OK) {
        uint32_t code;
        *ran = err.code == TH_ETRAP; /* the start function ran */
        if (err.code == TH_ETRAP && th_wasi_exit_code(wasi, &code)) {
            rc = code <= 255 ? (int)code : 1; /* proc_exit in the start function */
            goto out;
        }
        fflush(stdout);
        if (err.code == TH_ETRAP) {
            fprintf(stderr, "trap: %s\n", err.msg);
            print_backtrace(ex);
            note_trap(o, err.msg, ex);
        } else {
            cli_errorf("%s: %s", o->file, err.msg);
        }
        rc = err.code == TH_ETRAP ? EXIT_TRAP : EXIT_LOAD;
        goto out;
    }
    if (o->fuel)
        th_wasm_exec_set_fuel(ex, o->fuel);
    if (o->invoke) {
        rc = invoke_export(inst, ex, o, wasi, ran);
    } else {
        th_wasm_func *start = th_wasm_instance_func(inst, "_start");
        if (start == NULL) {
            cli_errorf("%s: no _start export (not a WASI command module; use "
                       "--invoke NAME to call an export)",
                       o->file);
            goto out;
        }
        *ran = true;
        rc = call_func(ex, start, NULL, 0, NULL, 0, wasi, o);
        if (rc < 0)
            rc = 0;
    }
out:
    fflush(stdout);
    th_wasm_exec_free(ex);
    th_wasm_instance_free(inst);
    th_wasm_imports_free(imp);
    th_wasi_free(wasi);
    th_wasm_module_free(mod);
    free(argv);
    free(bytes);
    return rc;
}

/* --json: {"exit_code"} and what `o->json` gathered, on stdout. */
static void print_report(const run_opts *o, int rc)
{
    json_t *r = json_pack("{s:i}", "exit_code", rc);

    if (r == NULL || json_object_update(r, o->json) != 0 ||
        json_dumpf(r, stdout, JSON_INDENT(2)) != 0)
        cli_errorf("wasm run: out of memory");
    else
        fputc('\n', stdout);
    fflush(stdout);
    json_decref(r);
}

/* `wasm run`; `json`: --json came before the subcommand. */
static int cmd_run(int argc, char **argv, bool json)
{
    run_opts o;
    bool ran = false;
    int rc;

    memset(&o, 0, sizeof o);
    /* at most one --dir/--env per argv entry */
    o.dirs = calloc((size_t)argc, sizeof *o.dirs);
    o.env = calloc((size_t)argc, sizeof *o.env);
    if (o.dirs == NULL || o.env == NULL) {
        cli_errorf("out of memory");
        rc = EXIT_LOAD;
        goto out;
    }
    rc = parse_run(argc, argv, &o, &json);
    if (rc != 0) {
        rc = rc < 0 ? 0 : rc;
        goto out;
    }
    if (json && (o.json = json_object()) == NULL) {
        cli_errorf("out of memory");
        rc = EXIT_LOAD;
        goto out;
    }
    rc = run_module(&o, &ran);
    if (o.json != NULL && ran)
        print_report(&o, rc);
out:
    json_decref(o.json);
    free(o.dirs);
    free(o.env);
    return rc;
}

/* The verdict of `wasm validate --json` on stdout. */
static void print_verdict(const char *file, const char *error)
{
    json_t *o = json_pack("{s:s, s:b}", "file", file, "valid", error == NULL);
    long long off = error != NULL ? th_wasm_error_offset(error) : -1;

    if (o != NULL && error != NULL)
        json_object_set_new(o, "error", json_string(error));
    if (o != NULL && off >= 0)
        json_object_set_new(o, "offset", json_integer(off));
    if (o == NULL || json_dumpf(o, stdout, JSON_INDENT(2)) != 0)
        cli_errorf("wasm validate: out of memory");
    else
        fputc('\n', stdout);
    json_decref(o);
}

/* `wasm validate`; `json`: --json came before the subcommand. */
static int cmd_validate(int argc, char **argv, bool json)
{
    static const char *const home_opt[] = {"--home", NULL};
    const char *file = NULL, *val, *msg;
    unsigned char *bytes;
    size_t len;
    th_error err = {0};
    int i, k = -1, rc, opts = 1;

    for (i = 1; i < argc; i++) {
        if (opts && cli_is_help(argv[i])) {
            fputs(validate_help, stdout);
            return 0;
        } else if (opts && strcmp(argv[i], "--") == 0) {
            opts = 0;
        } else if (opts && strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (opts &&
                   (k = cli_opt_value(argc, argv, &i, "wasm validate", home_opt, &val)) >= 0) {
            /* a module needs no home */
        } else if (opts && k == CLI_OPT_NO_VALUE) {
            return EXIT_USAGE;
        } else if (opts && argv[i][0] == '-' && argv[i][1] != '\0') {
            cli_errorf("wasm validate: unknown option %s (see `theater wasm validate --help`)",
                       argv[i]);
            return EXIT_USAGE;
        } else if (file != NULL) {
            cli_errorf("wasm validate: one FILE.wasm only (see `theater wasm validate --help`)");
            return EXIT_USAGE;
        } else {
            file = argv[i];
        }
    }
    if (file == NULL) {
        cli_errorf("wasm validate: missing FILE.wasm (see `theater wasm validate --help`)");
        return EXIT_USAGE;
    }
    bytes = cli_read_file(file, &len);
    if (bytes == NULL)
        return EXIT_LOAD;
    rc = th_wasm_module_validate(bytes, len, &err);
    free(bytes);
    msg = rc == TH_OK ? NULL : err.msg[0] ? err.msg : th_strerror(rc);
    if (json)
        print_verdict(file, msg);
    else if (msg != NULL)
        fprintf(stderr, "%s: %s\n", file, msg);
    else
        printf("ok\n");
    return rc == TH_OK ? 0 : 1;
}

int cli_cmd_wasm(int argc, char **argv)
{
    static const char *const home_opt[] = {"--home", NULL};
    const char *val;
    bool json = false;
    int i, k;

    /* --json and --home may come before the subcommand */
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (cli_is_help(argv[i])) {
            fputs(wasm_help, stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if ((k = cli_opt_value(argc, argv, &i, "wasm", home_opt, &val)) ==
                   CLI_OPT_NO_VALUE) {
            return EXIT_USAGE;
        } else if (k < 0) {
            cli_errorf("wasm: unknown option %s (see `theater wasm --help`)", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (i >= argc) {
        fputs(wasm_help, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[i], "help") == 0) {
        fputs(wasm_help, stdout);
        return 0;
    }
    if (strcmp(argv[i], "run") == 0)
        return cmd_run(argc - i, argv + i, json);
    if (strcmp(argv[i], "validate") == 0)
        return cmd_validate(argc - i, argv + i, json);
    cli_errorf("wasm: unknown subcommand '%s' (run or validate)", argv[i]);
    return EXIT_USAGE;
}
