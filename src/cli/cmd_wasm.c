/*
 * cmd_wasm.c - `theater wasm`: run or validate a WebAssembly module with the
 * project's engine.
 *
 *   theater wasm run [OPTIONS] FILE.wasm [ARGS...]
 *   theater wasm validate FILE.wasm
 *
 * `run` instantiates the module with WASI preview1 and calls `_start`; with
 * --invoke NAME it calls that export instead (after `_initialize` if the
 * module has one), parsing ARGS by the function's parameter types and
 * printing its results, one per line.
 *
 * Exit codes of `run`: the guest's proc_exit code (0..255; larger codes
 * become 1); 0 when `_start` returns; 134 after a trap (like SIGABRT) with
 * "trap: <reason>" and the backtrace on stderr; 1 when the module cannot be
 * loaded, linked or instantiated; 2 for usage errors.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    "                       parameters (integers, floats, nan, inf, or null for\n"
    "                       references); its results are printed one per line\n"
    "  --dir HOST::GUEST    give the guest the host directory HOST, seen as the\n"
    "                       preopened directory GUEST (repeatable; --dir DIR\n"
    "                       means DIR::DIR).  Without --dir the guest has no\n"
    "                       file system at all.\n"
    "  --env KEY=VALUE      add an environment variable (repeatable; the guest\n"
    "                       sees no host environment otherwise)\n"
    "  --fuel N             stop the guest with a trap after N fuel units\n"
    "                       (function entries and loop iterations)\n"
    "  --max-memory BYTES   limit linear memory (suffixes K, M, G = KiB, MiB, GiB)\n"
    "  --max-stack BYTES    limit the wasm stack (value slots and call frames;\n"
    "                       default 8M, grown on demand; suffixes as above)\n"
    "  -h, --help           show this help\n"
    "\n"
    "exit status: the guest's exit code (proc_exit; 0 when _start returns;\n"
    "codes above 255 become 1), 134 after a trap (\"trap: REASON\" and a wasm\n"
    "backtrace on stderr), 1 if the module cannot be loaded or instantiated,\n"
    "2 for a usage error.\n";

static const char validate_help[] =
    "usage: theater wasm validate FILE.wasm\n"
    "\n"
    "Decode and validate a WebAssembly binary.  Prints `ok` and exits 0, or\n"
    "prints the first error (with its byte offset) and exits 1.\n";

static const char wasm_help[] =
    "usage: theater wasm <run|validate> [OPTIONS] FILE.wasm [ARGS...]\n"
    "\n"
    "  run        run a WASI command module, or call one export (--invoke)\n"
    "  validate   check that a binary is a valid WebAssembly module\n"
    "\n"
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

/* Fill `o` from argv; returns 0, or the exit code for usage errors/help. */
static int parse_run(int argc, char **argv, run_opts *o)
{
    int i = 1;

    while (i < argc && argv[i][0] == '-' && argv[i][1] != 0) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (cli_is_help(a)) {
            fputs(run_help, stdout);
            return -1;
        }
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (val == NULL) {
            cli_errorf("wasm run: option %s needs a value (see --help)", a);
            return EXIT_USAGE;
        }
        if (strcmp(a, "--invoke") == 0) {
            o->invoke = val;
        } else if (strcmp(a, "--fuel") == 0) {
            if (parse_size(val, &o->fuel) != 0 || o->fuel == 0) {
                cli_errorf("wasm run: bad --fuel '%s' (a positive integer)", val);
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--max-memory") == 0) {
            if (parse_size(val, &o->max_memory) != 0 || o->max_memory == 0) {
                cli_errorf("wasm run: bad --max-memory '%s' (bytes, e.g. 65536 or 16M)", val);
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--max-stack") == 0) {
            if (parse_size(val, &o->max_stack) != 0 || o->max_stack == 0 ||
                o->max_stack > SIZE_MAX) {
                cli_errorf("wasm run: bad --max-stack '%s' (bytes, e.g. 1048576 or 16M)", val);
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--dir") == 0) {
            if (parse_dir(argv[i + 1], &o->dirs[o->ndirs]) != 0) {
                cli_errorf("wasm run: bad --dir '%s' (HOST::GUEST)", val);
                return EXIT_USAGE;
            }
            o->ndirs++;
        } else if (strcmp(a, "--env") == 0) {
            if (strchr(val, '=') == NULL || val[0] == '=') {
                cli_errorf("wasm run: bad --env '%s' (KEY=VALUE)", val);
                return EXIT_USAGE;
            }
            o->env[o->nenv++] = val;
        } else {
            cli_errorf("wasm run: unknown option %s (see --help)", a);
            return EXIT_USAGE;
        }
        i += 2;
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

/* Parse `s` as a value of type `t` into `v`. */
static int parse_value(const char *s, uint8_t t, th_wasm_val *v)
{
    char *end;

    errno = 0;
    switch (t) {
    case TH_WASM_I32:
    case TH_WASM_I64: {
        long long sv;
        unsigned long long uv;
        if (s[0] == '-') {
            sv = strtoll(s, &end, 0);
            if (t == TH_WASM_I32 && sv < INT32_MIN)
                return -1;
            uv = (unsigned long long)sv;
        } else {
            uv = strtoull(s, &end, 0);
            if (t == TH_WASM_I32 && uv > UINT32_MAX)
                return -1;
        }
        if (errno != 0 || end == s || *end != 0)
            return -1;
        if (t == TH_WASM_I32)
            v->i32 = (int32_t)(uint32_t)uv;
        else
            v->i64 = (int64_t)uv;
        return 0;
    }
    case TH_WASM_F32: v->f32 = strtof(s, &end); return end != s && *end == 0 ? 0 : -1;
    case TH_WASM_F64: v->f64 = strtod(s, &end); return end != s && *end == 0 ? 0 : -1;
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

static void print_value(uint8_t t, th_wasm_val v)
{
    switch (t) {
    case TH_WASM_I32: printf("%" PRId32 "\n", v.i32); break;
    case TH_WASM_I64: printf("%" PRId64 "\n", v.i64); break;
    case TH_WASM_F32:
        if (isnan(v.f32))
            printf("%snan\n", signbit(v.f32) ? "-" : "");
        else
            printf("%.9g\n", (double)v.f32);
        break;
    case TH_WASM_F64:
        if (isnan(v.f64))
            printf("%snan\n", signbit(v.f64) ? "-" : "");
        else
            printf("%.17g\n", v.f64);
        break;
    case TH_WASM_FUNCREF:
    case TH_WASM_EXTERNREF: printf("%s\n", v.ref == NULL ? "null" : type_name(t)); break;
    default: printf("?\n"); break;
    }
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
static int report_trap(th_wasm_exec *ex, const th_wasi *wasi)
{
    uint32_t code;

    if (th_wasi_exit_code(wasi, &code))
        return code <= 255 ? (int)code : 1;
    fflush(stdout);
    fprintf(stderr, "trap: %s\n", th_wasm_exec_trap_message(ex));
    print_backtrace(ex);
    return EXIT_TRAP;
}

/* Call `fn`; handles fuel exhaustion (abort, report as a trap).  Returns
 * -1 on success (results filled) or an exit code. */
static int call_func(th_wasm_exec *ex, th_wasm_func *fn, const th_wasm_val *args, uint32_t nargs,
                     th_wasm_val *results, uint32_t nresults, const th_wasi *wasi, uint64_t fuel)
{
    int rc = th_wasm_exec_call(ex, fn, args, nargs, results, nresults);

    if (rc == TH_OK)
        return -1;
    if (rc == TH_WASM_TRAPPED)
        return report_trap(ex, wasi);
    if (rc == TH_WASM_OUT_OF_FUEL) {
        th_wasm_exec_abort(ex); /* turns it into a fuel trap */
        fflush(stdout);
        fprintf(stderr, "trap: %s (--fuel %" PRIu64 ")\n", th_wasm_exec_trap_message(ex), fuel);
        print_backtrace(ex);
        return EXIT_TRAP;
    }
    if (rc == TH_WASM_SUSPENDED) {
        th_wasm_exec_abort(ex);
        cli_errorf("the guest suspended, which a CLI run cannot resume");
        return EXIT_TRAP;
    }
    cli_errorf("call failed: %s", th_strerror(rc));
    return EXIT_LOAD;
}

/* --invoke: parse the arguments, call the export, print its results. */
static int invoke_export(th_wasm_instance *inst, th_wasm_exec *ex, const run_opts *o,
                         const th_wasi *wasi)
{
    th_wasm_func *fn = th_wasm_instance_func(inst, o->invoke);
    th_wasm_func *init = th_wasm_instance_func(inst, "_initialize");
    const th_wasm_functype *ft;
    th_wasm_val *vals = NULL;
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
    vals = calloc((size_t)ft->nparams + ft->nresults + 1, sizeof *vals);
    if (vals == NULL) {
        cli_errorf("out of memory");
        return EXIT_LOAD;
    }
    for (uint32_t i = 0; i < ft->nparams; i++)
        if (parse_value(o->args[i], ft->types[i], &vals[i]) != 0) {
            cli_errorf("argument %u: '%s' is not a valid %s", i + 1, o->args[i],
                       type_name(ft->types[i]));
            rc = EXIT_USAGE;
            goto out;
        }
    if (init != NULL && init != fn) {
        rc = call_func(ex, init, NULL, 0, NULL, 0, wasi, o->fuel);
        if (rc >= 0)
            goto out;
    }
    rc = call_func(ex, fn, vals, ft->nparams, vals + ft->nparams, ft->nresults, wasi, o->fuel);
    if (rc < 0) {
        for (uint32_t i = 0; i < ft->nresults; i++)
            print_value(ft->types[ft->nparams + i], vals[ft->nparams + i]);
        rc = 0;
    }
out:
    free(vals);
    return rc;
}

/* Load, link and run according to `o`; returns the exit code. */
static int run_module(const run_opts *o)
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
    imp = th_wasm_imports_new();
    if (imp == NULL || th_wasi_new(&wc, &wasi, &err) != TH_OK ||
        th_wasi_add_to_imports(wasi, imp, &err) != TH_OK) {
        cli_errorf("%s", imp == NULL ? "out of memory" : err.msg);
        goto out;
    }
    ic.max_memory_bytes = o->max_memory;
    ic.start_fuel = o->fuel;
    if (th_wasm_instance_new(mod, imp, &ic, &inst, &err) != TH_OK) {
        uint32_t code;
        if (err.code == TH_ETRAP && th_wasi_exit_code(wasi, &code)) {
            rc = code <= 255 ? (int)code : 1; /* proc_exit in the start function */
            goto out;
        }
        fflush(stdout);
        if (err.code == TH_ETRAP)
            fprintf(stderr, "trap: %s\n", err.msg);
        else
            cli_errorf("%s: %s", o->file, err.msg);
        rc = err.code == TH_ETRAP ? EXIT_TRAP : EXIT_LOAD;
        goto out;
    }
    ecfg.max_stack_bytes = (size_t)o->max_stack;
    ex = th_wasm_exec_new(&ecfg);
    if (ex == NULL) {
        cli_errorf("out of memory");
        goto out;
    }
    if (o->fuel)
        th_wasm_exec_set_fuel(ex, o->fuel);
    if (o->invoke) {
        rc = invoke_export(inst, ex, o, wasi);
    } else {
        th_wasm_func *start = th_wasm_instance_func(inst, "_start");
        if (start == NULL) {
            cli_errorf("%s: no _start export (not a WASI command module; use "
                       "--invoke NAME to call an export)",
                       o->file);
            goto out;
        }
        rc = call_func(ex, start, NULL, 0, NULL, 0, wasi, o->fuel);
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

static int cmd_run(int argc, char **argv)
{
    run_opts o;
    int rc;

    memset(&o, 0, sizeof o);
    /* at most one --dir/--env per two argv entries */
    o.dirs = calloc((size_t)argc, sizeof *o.dirs);
    o.env = calloc((size_t)argc, sizeof *o.env);
    if (o.dirs == NULL || o.env == NULL) {
        cli_errorf("out of memory");
        rc = EXIT_LOAD;
        goto out;
    }
    rc = parse_run(argc, argv, &o);
    if (rc != 0) {
        rc = rc < 0 ? 0 : rc;
        goto out;
    }
    rc = run_module(&o);
out:
    free(o.dirs);
    free(o.env);
    return rc;
}

static int cmd_validate(int argc, char **argv)
{
    unsigned char *bytes;
    size_t len;
    th_error err = {0};
    int rc;

    if (argc >= 2 && cli_is_help(argv[1])) {
        fputs(validate_help, stdout);
        return 0;
    }
    if (argc != 2) {
        fputs(validate_help, stderr);
        return EXIT_USAGE;
    }
    bytes = cli_read_file(argv[1], &len);
    if (bytes == NULL)
        return EXIT_LOAD;
    rc = th_wasm_module_validate(bytes, len, &err);
    free(bytes);
    if (rc != TH_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], err.msg[0] ? err.msg : th_strerror(rc));
        return 1;
    }
    printf("ok\n");
    return 0;
}

int cli_cmd_wasm(int argc, char **argv)
{
    if (argc < 2) {
        fputs(wasm_help, stderr);
        return EXIT_USAGE;
    }
    if (cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        fputs(wasm_help, stdout);
        return 0;
    }
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(argv[1], "validate") == 0)
        return cmd_validate(argc - 1, argv + 1);
    cli_errorf("wasm: unknown subcommand '%s' (run or validate)", argv[1]);
    return EXIT_USAGE;
}
