/*
 * test_runtime_manifest.c - unit tests of the manifest loader
 * (src/runtime/manifest.h): every field and its default, path resolution,
 * ${VAR} substitution, handler settings, and the errors for unknown fields,
 * wrong types and bad values (each must name the field and the line).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/limits.h"
#include "handlers/handlers_int.h"
#include "runtime/manifest.h"
#include "test_skip.h"
#include "theater/handlers.h"

/* A temporary directory per test run, with a subdirectory "data" and a
 * regular file "file.txt". */
static char g_dir[PATH_MAX];

static int setup(void **state)
{
    char path[PATH_MAX + 32], *real;
    FILE *f;
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/th-manifest-XXXXXX");
    if (mkdtemp(g_dir) == NULL)
        return -1;
    /* /tmp may be a symlink: compare against the resolved form. */
    if ((real = realpath(g_dir, NULL)) == NULL)
        return -1;
    snprintf(g_dir, sizeof g_dir, "%s", real);
    free(real);
    snprintf(path, sizeof path, "%s/data", g_dir);
    if (mkdir(path, 0700) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/file.txt", g_dir);
    if ((f = fopen(path, "w")) == NULL)
        return -1;
    fputs("x\n", f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    char cmd[PATH_MAX + 16];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The settings each handler read (NULL if the manifest does not list it). */
#define SETTINGS(m, type, h) ((const type *)rt_manifest_settings_of(m, h))
static const void *rt_manifest_settings_of(const rt_manifest *m, int h)
{
    const rt_manifest_handler *e = rt_manifest_handler_get(m, h);
    return e != NULL ? e->data : NULL;
}

/* Variables for ${VAR}: a fixed table instead of the process environment. */
static const char *test_getenv(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, "DATA") == 0)
        return "data";
    if (strcmp(name, "WASM_DIR") == 0)
        return "build/wasm";
    if (strcmp(name, "EMPTY") == 0)
        return "";
    return NULL;
}

static rt_manifest *parse_ok(const char *text)
{
    rt_manifest_options opt = {.base_dir = g_dir,
                               .name = "test.toml",
                               .getenv = test_getenv,
                               .handlers = th_handlers_builtin()};
    rt_manifest *m = NULL;
    th_error err = {0};
    if (rt_manifest_parse(text, strlen(text), &opt, &m, &err) != 0)
        fail_msg("unexpected error: %s\n--- manifest ---\n%s", err.msg, text);
    assert_non_null(m);
    return m;
}

/* Expect `code`; the message must contain each of the NULL-terminated
 * strings that follow. */
static void parse_bad(const char *text, int code, ...)
{
    rt_manifest_options opt = {.base_dir = g_dir,
                               .name = "test.toml",
                               .getenv = test_getenv,
                               .handlers = th_handlers_builtin()};
    rt_manifest *m = (rt_manifest *)1;
    th_error err = {0};
    const char *want;
    va_list ap;
    int rc = rt_manifest_parse(text, strlen(text), &opt, &m, &err);
    if (rc == 0)
        fail_msg("accepted a bad manifest:\n%s", text);
    assert_null(m);
    if (rc != code)
        fail_msg("code %d (%s), expected %d: %s", rc, th_strerror(rc), code, err.msg);
    va_start(ap, code);
    while ((want = va_arg(ap, const char *)) != NULL)
        if (strstr(err.msg, want) == NULL)
            fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
    va_end(ap);
}

#define BASE "name = \"a\"\ncomponent = \"a.wasm\"\n"

static void test_full_manifest(void **state)
{
    char want[PATH_MAX + 64];
    (void)state;
    rt_manifest *m = parse_ok("name = \"counter\"\n"
                              "version = \"1.2.3\"\n"
                              "description = \"\"\"\nCounts.\nWith state.\"\"\"\n"
                              "component = \"${WASM_DIR}/counter.wasm\"\n"
                              "init_state = '{\"count\": 0}'\n"
                              "save_chain = false\n"
                              "restart = \"transient\"\n"
                              "\n"
                              "[limits]\n"
                              "fuel_per_call = 5_000_000\n"
                              "memory_bytes = 1048576\n"
                              "call_timeout_ms = 250\n"
                              "stack_bytes = 16_777_216\n"
                              "\n"
                              "[supervision]\n"
                              "strategy = \"rest-for-one\"\n"
                              "max_restarts = 3\n"
                              "within_seconds = 10\n"
                              "\n"
                              "[[handler]]\n"
                              "type = \"runtime\"\n"
                              "[[handler]]\n"
                              "type = \"message-server\"\n"
                              "[[handler]]\n"
                              "type = \"random\"\n"
                              "seed = -1\n"
                              "[[handler]]\n"
                              "type = \"environment\"\n"
                              "allowed_vars = [\"HOME\", \"LANG\"]\n"
                              "[[handler]]\n"
                              "type = \"filesystem\"\n"
                              "path = \"${DATA}\"\n");
    assert_string_equal(m->name, "counter");
    assert_string_equal(m->version, "1.2.3");
    assert_string_equal(m->description, "Counts.\nWith state.");
    snprintf(want, sizeof want, "%s/build/wasm/counter.wasm", g_dir);
    assert_string_equal(m->component, want);
    assert_string_equal(m->dir, g_dir);
    assert_string_equal(m->source, "test.toml");
    assert_int_equal(m->init_state.kind, RT_MANIFEST_INIT_JSON);
    assert_string_equal(m->init_state.json, "{\"count\": 0}");
    assert_int_equal(m->init_state.line, 7);
    assert_false(m->save_chain);
    assert_int_equal(m->restart, RT_MANIFEST_RESTART_TRANSIENT);
    assert_int_equal(m->limits.fuel_per_call, 5000000);
    assert_int_equal(m->limits.memory_bytes, 1048576);
    assert_int_equal(m->limits.call_timeout_ms, 250);
    assert_int_equal(m->limits.stack_bytes, 16777216);
    assert_int_equal(m->supervision.strategy, RT_MANIFEST_STRATEGY_REST_FOR_ONE);
    assert_int_equal(m->supervision.max_restarts, 3);
    assert_int_equal(m->supervision.within_seconds, 10);

    assert_int_equal(m->handlers_len, 5);
    assert_int_equal(m->handlers[0].type, HANDLER_RUNTIME);
    assert_int_equal(m->handlers[0].line, 22);
    assert_int_equal(m->handlers[4].type, HANDLER_FILESYSTEM);
    assert_int_equal(m->handler_set, (1u << HANDLER_RUNTIME) | (1u << HANDLER_MESSAGE_SERVER) |
                                         (1u << HANDLER_RANDOM) | (1u << HANDLER_ENVIRONMENT) |
                                         (1u << HANDLER_FILESYSTEM));
    assert_null(rt_manifest_handler_get(m, HANDLER_STORE));
    assert_true(SETTINGS(m, hs_random, HANDLER_RANDOM)->seeded);
    assert_true(SETTINGS(m, hs_random, HANDLER_RANDOM)->seed == UINT64_MAX);
    const hs_environment *env = SETTINGS(m, hs_environment, HANDLER_ENVIRONMENT);
    assert_int_equal(env->len, 2);
    assert_string_equal(env->vars[0], "HOME");
    assert_string_equal(env->vars[1], "LANG");
    assert_null(env->vars[2]);
    snprintf(want, sizeof want, "%s/data", g_dir);
    assert_string_equal(SETTINGS(m, hs_filesystem, HANDLER_FILESYSTEM)->root, want);

    /* The handler's own subtree, substituted, for the handler to read. */
    const rt_manifest_handler *fs = rt_manifest_handler_get(m, HANDLER_FILESYSTEM);
    assert_non_null(fs);
    assert_string_equal(toml_table_get(fs->settings, "path")->u.s.ptr, "data");
    assert_string_equal(toml_table_get(fs->settings, "type")->u.s.ptr, "filesystem");
    assert_non_null(strstr(m->text, "${DATA}")); /* the text as written */
    rt_manifest_free(m);
    rt_manifest_free(NULL);
}

static void test_defaults(void **state)
{
    (void)state;
    rt_manifest *m = parse_ok(BASE);
    assert_string_equal(m->version, "0.0.0");
    assert_null(m->description);
    assert_int_equal(m->init_state.kind, RT_MANIFEST_INIT_NONE);
    assert_true(m->save_chain);
    assert_int_equal(m->restart, RT_MANIFEST_RESTART_PERMANENT);
    assert_true(m->limits.fuel_per_call == TH_MANIFEST_DEFAULT_FUEL_PER_CALL);
    assert_true(m->limits.memory_bytes == TH_MANIFEST_DEFAULT_MEMORY_BYTES);
    assert_int_equal(m->limits.call_timeout_ms, TH_MANIFEST_DEFAULT_CALL_TIMEOUT_MS);
    assert_int_equal(m->limits.stack_bytes, 0); /* the engine's default */
    assert_int_equal(m->supervision.strategy, RT_MANIFEST_STRATEGY_NONE);
    assert_int_equal(m->supervision.max_restarts, TH_MANIFEST_DEFAULT_MAX_RESTARTS);
    assert_int_equal(m->supervision.within_seconds, TH_MANIFEST_DEFAULT_WITHIN_SECONDS);
    assert_int_equal(m->handlers_len, 0);
    assert_int_equal(m->handler_set, 0);
    assert_null(SETTINGS(m, hs_environment, HANDLER_ENVIRONMENT));
    assert_null(SETTINGS(m, hs_filesystem, HANDLER_FILESYSTEM));
    assert_null(SETTINGS(m, hs_random, HANDLER_RANDOM));
    rt_manifest_free(m);

    /* A table given partly keeps the other defaults; 0 means "no limit". */
    m = parse_ok(BASE
                 "limits = { call_timeout_ms = 0 }\n[supervision]\nstrategy = \"one-for-all\"\n"
                 "[[handler]]\ntype = \"environment\"\n");
    assert_int_equal(m->limits.call_timeout_ms, 0);
    assert_true(m->limits.fuel_per_call == TH_MANIFEST_DEFAULT_FUEL_PER_CALL);
    assert_int_equal(m->supervision.strategy, RT_MANIFEST_STRATEGY_ONE_FOR_ALL);
    assert_int_equal(m->supervision.max_restarts, TH_MANIFEST_DEFAULT_MAX_RESTARTS);
    const hs_environment *env = SETTINGS(m, hs_environment, HANDLER_ENVIRONMENT);
    assert_non_null(env->vars); /* the environment handler without a list sees nothing */
    assert_null(env->vars[0]);
    assert_int_equal(env->len, 0);
    rt_manifest_free(m);

    /* Absolute paths are kept as they are. */
    m = parse_ok("name = \"a\"\ncomponent = \"/opt/a.wasm\"\n");
    assert_string_equal(m->component, "/opt/a.wasm");
    rt_manifest_free(m);
}

static void test_substitution(void **state)
{
    (void)state;
    rt_manifest *m = parse_ok("name = \"a${EMPTY}b\"\n"
                              "component = \"$${DATA}/$DATA/${DATA}$\"\n"
                              "description = \"costs $5, ${DATA}${DATA}\"\n");
    assert_string_equal(m->name, "ab");
    assert_true(strstr(m->component, "/${DATA}/$DATA/data$") != NULL);
    assert_string_equal(m->description, "costs $5, datadata");
    rt_manifest_free(m);

    parse_bad(BASE "\n\ndescription = \"${NOPE}\"\n", TH_EINVAL, "test.toml: line 5", "'NOPE'",
              "not defined", "'description'", NULL);
    parse_bad(BASE "[[handler]]\ntype = \"filesystem\"\npath = \"x/${MISSING}/y\"\n", TH_EINVAL,
              "line 5", "'MISSING'", "handler[0].path", NULL);
    parse_bad(BASE "description = \"${DATA\"\n", TH_EINVAL, "line 3", "malformed", NULL);
    parse_bad(BASE "description = \"${}\"\n", TH_EINVAL, "malformed", NULL);
    parse_bad(BASE "description = \"${1X}\"\n", TH_EINVAL, "malformed", NULL);

    /* Without a lookup function the process environment is used. */
    rt_manifest_options opt = {.base_dir = g_dir, .handlers = th_handlers_builtin()};
    rt_manifest *m2 = NULL;
    th_error err = {0};
    const char *text = "name = \"${TH_MANIFEST_TEST_VAR}\"\ncomponent = \"c.wasm\"\n";
    setenv("TH_MANIFEST_TEST_VAR", "from-env", 1);
    assert_int_equal(rt_manifest_parse(text, strlen(text), &opt, &m2, &err), 0);
    assert_string_equal(m2->name, "from-env");
    assert_string_equal(m2->source, "<manifest>");
    rt_manifest_free(m2);
    unsetenv("TH_MANIFEST_TEST_VAR");
    assert_int_equal(rt_manifest_parse(text, strlen(text), &opt, &m2, &err), TH_EINVAL);
    assert_non_null(strstr(err.msg, "TH_MANIFEST_TEST_VAR"));
}

static void test_unknown_fields_and_types(void **state)
{
    (void)state;
    parse_bad(BASE "\ncolour = \"red\"\n", TH_EINVAL, "line 4", "unknown field 'colour'", NULL);
    parse_bad(BASE "[limits]\nfuel = 1\n", TH_EINVAL, "line 4", "unknown field 'limits.fuel'",
              NULL);
    parse_bad(BASE "[supervision]\nstrategy = \"one-for-one\"\nintensity = 2\n", TH_EINVAL,
              "line 5", "'supervision.intensity'", NULL);
    parse_bad(BASE "[[handler]]\ntype = \"runtime\"\nseed = 1\n", TH_EINVAL, "line 5",
              "unknown field 'handler[0].seed'", NULL);
    parse_bad(BASE "[[handler]]\ntype = \"timing\"\n[[handler]]\ntype = \"random\"\npath = \"x\"\n",
              TH_EINVAL, "line 7", "'handler[1].path'", NULL);

    parse_bad("name = 1\ncomponent = \"a\"\n", TH_EINVAL, "line 1",
              "field 'name' must be a string, not an integer", NULL);
    parse_bad(BASE "save_chain = \"yes\"\n", TH_EINVAL, "line 3", "'save_chain' must be a boolean",
              NULL);
    parse_bad(BASE "[limits]\nfuel_per_call = \"lots\"\n", TH_EINVAL, "line 4",
              "'limits.fuel_per_call' must be an integer, not a string", NULL);
    parse_bad(BASE "limits = 3\n", TH_EINVAL, "line 3", "'limits' must be a table", NULL);
    parse_bad(BASE "init_state = { count = 0 }\n", TH_EINVAL, "line 3",
              "'init_state' must be a string", NULL);
    parse_bad(BASE "[handler]\ntype = \"runtime\"\n", TH_EINVAL, "line 3", "array of tables", NULL);
    parse_bad(BASE "handler = [1]\n", TH_EINVAL, "line 3", "'handler[0]' must be a table", NULL);
    parse_bad(BASE "[[handler]]\ntype = \"random\"\nseed = 1.5\n", TH_EINVAL, "line 5",
              "'handler[0].seed' must be an integer, not a float", NULL);
    parse_bad(BASE "[[handler]]\ntype = \"environment\"\nallowed_vars = \"HOME\"\n", TH_EINVAL,
              "line 5", "'handler[0].allowed_vars' must be an array", NULL);
    parse_bad(BASE "[[handler]]\ntype = \"environment\"\nallowed_vars = [\n\"HOME\",\n 7]\n",
              TH_EINVAL, "line 7", "'handler[0].allowed_vars[1]' must be a string", NULL);
    parse_bad(BASE "[[handler]]\ntype = \"environment\"\nallowed_vars = [\"A=B\"]\n", TH_EINVAL,
              "line 5", "not a variable name", NULL);
}

static void test_required_and_values(void **state)
{
    (void)state;
    parse_bad("component = \"a.wasm\"\n", TH_EINVAL, "missing required field 'name'", NULL);
    parse_bad("name = \"a\"\n", TH_EINVAL, "missing required field 'component'", NULL);
    parse_bad("name = \"\"\ncomponent = \"a\"\n", TH_EINVAL, "line 1", "'name' must not be empty",
              NULL);
    parse_bad("name = \"a\\nb\"\ncomponent = \"a\"\n", TH_EINVAL, "line 1", "control character",
              NULL);
    parse_bad("name = \"a\"\ncomponent = \"a\\u0000b\"\n", TH_EINVAL, "line 2", "control character",
              NULL);
    parse_bad(BASE "restart = \"always\"\n", TH_EINVAL, "line 3", "'restart' must be \"permanent\"",
              NULL);
    parse_bad(BASE "[supervision]\nstrategy = \"one_for_one\"\n", TH_EINVAL, "line 4",
              "'supervision.strategy' must be", NULL);
    parse_bad(BASE "[supervision]\nmax_restarts = 1\n", TH_EINVAL, "line 3",
              "missing required field 'supervision.strategy'", NULL);
    parse_bad(BASE "[supervision]\nstrategy = \"one-for-one\"\nwithin_seconds = 0\n", TH_EINVAL,
              "line 5", "'supervision.within_seconds' must be between 1", NULL);
    parse_bad(BASE "[limits]\nmemory_bytes = 5_000_000_000\n", TH_EINVAL, "line 4",
              "'limits.memory_bytes'", NULL);
    parse_bad(BASE "[limits]\nfuel_per_call = -1\n", TH_EINVAL, "line 4", "'limits.fuel_per_call'",
              NULL);
    parse_bad(BASE "[limits]\ncall_timeout_ms = 999999999999\n", TH_EINVAL, "line 4", NULL);
    parse_bad(BASE "[limits]\nstack_bytes = 4_000_000_000\n", TH_EINVAL, "line 4",
              "'limits.stack_bytes'", NULL);
    parse_bad(BASE "[[handler]]\ntype = \"teleport\"\n", TH_EINVAL, "line 4",
              "unknown handler \"teleport\"", NULL);
    parse_bad(BASE "[[handler]]\nseed = 1\n", TH_EINVAL, "line 3",
              "missing required field 'handler[0].type'", NULL);
    parse_bad(BASE "[[handler]]\ntype = \"store\"\n[[handler]]\ntype = "
                   "\"timing\"\n[[handler]]\ntype = \"store\"\n",
              TH_EINVAL, "line 8", "\"store\" is listed twice (first at line 3)", NULL);
    /* TOML errors come through with the source name and position. */
    parse_bad(BASE "name = \"b\"\n", TH_EINVAL, "test.toml: line 3", "duplicate key 'name'", NULL);
}

static void test_init_state(void **state)
{
    char want[PATH_MAX + 64];
    (void)state;
    rt_manifest *m = parse_ok(BASE "init_state = \"store:6f1c/counter/v2\"\n");
    assert_int_equal(m->init_state.kind, RT_MANIFEST_INIT_STORE);
    assert_string_equal(m->init_state.store_id, "6f1c");
    assert_string_equal(m->init_state.label, "counter/v2");
    rt_manifest_free(m);

    m = parse_ok(BASE "init_state = \"state/initial.json\"\n");
    assert_int_equal(m->init_state.kind, RT_MANIFEST_INIT_FILE);
    snprintf(want, sizeof want, "%s/state/initial.json", g_dir);
    assert_string_equal(m->init_state.path, want);
    rt_manifest_free(m);

    m = parse_ok(BASE "init_state = '''\n  [1, 2, {\"a\": null}]'''\n");
    assert_int_equal(m->init_state.kind, RT_MANIFEST_INIT_JSON);
    assert_string_equal(m->init_state.json, "  [1, 2, {\"a\": null}]");
    rt_manifest_free(m);

    parse_bad(BASE "init_state = '{\"a\": }'\n", TH_EINVAL, "line 3",
              "'init_state' is not valid JSON", NULL);
    parse_bad(BASE "init_state = \"store:abc\"\n", TH_EINVAL, "line 3", "store:<store-id>/<label>",
              NULL);
    parse_bad(BASE "init_state = \"store:/label\"\n", TH_EINVAL, "store:<store-id>/<label>", NULL);
    parse_bad(BASE "init_state = \"store:id/\"\n", TH_EINVAL, "store:<store-id>/<label>", NULL);
    parse_bad(BASE "init_state = \"\"\n", TH_EINVAL, "must not be empty", NULL);
}

static void test_filesystem_path(void **state)
{
    (void)state;
    parse_bad(BASE "[[handler]]\ntype = \"filesystem\"\n", TH_EINVAL,
              "missing required field 'handler[0].path'", NULL);
    parse_bad(BASE "[[handler]]\ntype = \"filesystem\"\npath = \"no-such-dir\"\n", TH_ENOENT,
              "line 5", "handler[0].path", "no-such-dir", NULL);
    parse_bad(BASE "[[handler]]\ntype = \"filesystem\"\npath = \"file.txt\"\n", TH_EINVAL, "line 5",
              "not a directory", NULL);
    rt_manifest *m =
        parse_ok(BASE "[[handler]]\ntype = \"filesystem\"\npath = \"data/../data/.\"\n");
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s/data", g_dir);
    assert_string_equal(SETTINGS(m, hs_filesystem, HANDLER_FILESYSTEM)->root, want);
    rt_manifest_free(m);
}

static void test_load_file(void **state)
{
    char path[PATH_MAX + 64], want[PATH_MAX + 64];
    rt_manifest *m = NULL;
    th_error err = {0};
    FILE *f;
    (void)state;

    snprintf(path, sizeof path, "%s/data/actor.toml", g_dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("name = \"disk\"\ncomponent = \"../bin/disk.wasm\"\n", f);
    fclose(f);
    assert_int_equal(rt_manifest_load(path, NULL, &m, &err), 0);
    assert_string_equal(m->name, "disk");
    snprintf(want, sizeof want, "%s/data", g_dir);
    assert_string_equal(m->dir, want);
    snprintf(want, sizeof want, "%s/data/../bin/disk.wasm", g_dir);
    assert_string_equal(m->component, want);
    assert_string_equal(m->source, path);
    assert_int_equal(m->text_len, strlen(m->text));
    rt_manifest_free(m);

    f = fopen(path, "w");
    assert_non_null(f);
    fputs("name = \"disk\"\ncomponent = \"x\"\n[limits\n", f);
    fclose(f);
    assert_int_equal(rt_manifest_load(path, NULL, &m, &err), TH_EINVAL);
    assert_null(m);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "line 3"));

    snprintf(path, sizeof path, "%s/missing.toml", g_dir);
    assert_int_equal(rt_manifest_load(path, NULL, &m, &err), TH_ENOENT);
    assert_non_null(strstr(err.msg, "missing.toml"));
    snprintf(path, sizeof path, "%s/data", g_dir);
    assert_int_equal(rt_manifest_load(path, NULL, &m, &err), TH_EINVAL);
    assert_non_null(strstr(err.msg, "is a directory"));
    /* a FIFO is refused at once (opening it used to block forever) */
    snprintf(path, sizeof path, "%s/fifo.toml", g_dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(rt_manifest_load(path, NULL, &m, &err), TH_EINVAL);
    assert_non_null(strstr(err.msg, "fifo.toml is a FIFO"));
    unlink(path);
}

static void test_size_limit(void **state)
{
    size_t n = (size_t)TH_MANIFEST_MAX_BYTES + 1;
    char *text = malloc(n + 1);
    rt_manifest *m = NULL;
    th_error err = {0};
    (void)state;
    assert_non_null(text);
    memset(text, '#', n);
    text[n] = '\0';
    assert_int_equal(rt_manifest_parse(text, n, NULL, &m, &err), TH_ETOOBIG);
    assert_null(m);
    free(text);
}

/* The example of docs/manifest.md is a valid manifest. */
static void test_docs_example(void **state)
{
    const char *src = getenv("THEATER_SOURCE_DIR");
    char path[PATH_MAX + 64], files[PATH_MAX + 64], ca[PATH_MAX + 64], *doc, *start, *end;
    rt_manifest_options opt = {
        .base_dir = g_dir, .name = "docs/manifest.md", .handlers = th_handlers_builtin()};
    rt_manifest *m = NULL;
    th_error err = {0};
    size_t len;
    FILE *f;
    (void)state;

    if (src == NULL)
        th_skip_missing("THEATER_SOURCE_DIR (set by ctest)");
    snprintf(path, sizeof path, "%s/docs/manifest.md", src);
    f = fopen(path, "rb");
    assert_non_null(f);
    doc = calloc(1, 1 << 20);
    assert_non_null(doc);
    len = fread(doc, 1, (1 << 20) - 1, f);
    fclose(f);
    assert_true(len > 0);
    start = strstr(doc, "```toml\n");
    assert_non_null(start);
    start += 8;
    end = strstr(start, "```");
    assert_non_null(end);
    snprintf(files, sizeof files, "%s/files", g_dir);
    assert_int_equal(mkdir(files, 0700), 0);
    snprintf(ca, sizeof ca, "%s/internal-ca.pem", g_dir);
    f = fopen(ca, "w");
    assert_non_null(f);
    fclose(f);
    setenv("COUNTER_DATA", g_dir, 1);
    if (rt_manifest_parse(start, (size_t)(end - start), &opt, &m, &err) != 0)
        fail_msg("docs example: %s", err.msg);
    assert_string_equal(m->name, "counter");
    assert_int_equal(m->handlers_len, HANDLER_COUNT);
    assert_int_equal(m->handler_set, (1u << HANDLER_COUNT) - 1);
    assert_string_equal(SETTINGS(m, hs_filesystem, HANDLER_FILESYSTEM)->root, files);
    assert_string_equal(SETTINGS(m, hs_http_client, HANDLER_HTTP_CLIENT)->ca_file, ca);
    assert_int_equal(m->supervision.strategy, RT_MANIFEST_STRATEGY_ONE_FOR_ONE);
    rt_manifest_free(m);
    unsetenv("COUNTER_DATA");
    rmdir(files);
    unlink(ca);
    free(doc);
}

/* The counts that bound an actor: defaults, values, ranges, and which
 * ones the manifest sets (a child inherits the others from its parent). */
static void test_bound_limits(void **state)
{
    (void)state;
    rt_manifest *m = parse_ok(BASE);
    assert_int_equal(m->limits_set, 0);
    assert_int_equal(m->limits.max_children, TH_MANIFEST_DEFAULT_MAX_CHILDREN);
    assert_int_equal(m->limits.max_descendants, TH_MANIFEST_DEFAULT_MAX_DESCENDANTS);
    assert_int_equal(m->limits.mailbox_messages, TH_MANIFEST_DEFAULT_MAILBOX_MESSAGES);
    assert_true(m->limits.mailbox_bytes == TH_MANIFEST_DEFAULT_MAILBOX_BYTES);
    assert_true(m->limits.store_bytes == TH_MANIFEST_DEFAULT_STORE_BYTES);
    rt_manifest_free(m);
    m = parse_ok(BASE "[limits]\nmax_children = 0\nmax_descendants = 7\nmailbox_messages = 1\n"
                      "mailbox_bytes = 4096\nstore_bytes = 0\nfuel_per_call = 9\n");
    assert_int_equal(m->limits_set, RT_MANIFEST_LIMIT_CHILDREN | RT_MANIFEST_LIMIT_DESCENDANTS |
                                        RT_MANIFEST_LIMIT_MAILBOX_MESSAGES |
                                        RT_MANIFEST_LIMIT_MAILBOX_BYTES |
                                        RT_MANIFEST_LIMIT_STORE_BYTES | RT_MANIFEST_LIMIT_FUEL);
    assert_int_equal(m->limits.max_children, 0);
    assert_int_equal(m->limits.max_descendants, 7);
    assert_int_equal(m->limits.mailbox_messages, 1);
    assert_int_equal(m->limits.mailbox_bytes, 4096);
    assert_int_equal(m->limits.store_bytes, 0);
    rt_manifest_free(m);
    parse_bad(BASE "[limits]\nmailbox_messages = 0\n", TH_EINVAL, "line 4",
              "'limits.mailbox_messages'", NULL);
    parse_bad(BASE "[limits]\nmailbox_bytes = 100\n", TH_EINVAL, "line 4", "'limits.mailbox_bytes'",
              NULL);
    parse_bad(BASE "[limits]\nmax_children = 1_000_001\n", TH_EINVAL, "'limits.max_children'",
              NULL);
    parse_bad(BASE "[limits]\nmax_descendants = -1\n", TH_EINVAL, "'limits.max_descendants'", NULL);
    parse_bad(BASE "[limits]\nstore_bytes = \"lots\"\n", TH_EINVAL, "must be an integer", NULL);
    /* which handlers take settings: their own tables say */
    const th_handler_set *set = th_handlers_builtin();
    assert_non_null(rt_manifest_handler_find(set, HANDLER_FILESYSTEM)->settings_read);
    assert_non_null(rt_manifest_handler_find(set, HANDLER_ENVIRONMENT)->settings_read);
    assert_non_null(rt_manifest_handler_find(set, HANDLER_RANDOM)->settings_read);
    assert_null(rt_manifest_handler_find(set, HANDLER_STORE)->settings_read);
    assert_null(rt_manifest_handler_find(set, -1));
}

static void test_handler_names(void **state)
{
    const th_handler_set *set = th_handlers_builtin();
    (void)state;
    for (int i = 0; i < HANDLER_COUNT; i++)
        assert_int_equal(
            rt_manifest_handler_lookup(set, rt_manifest_handler_find(set, i)->name)->handler, i);
    assert_string_equal(rt_manifest_handler_find(set, HANDLER_MESSAGE_SERVER)->name,
                        "message-server");
    assert_null(rt_manifest_handler_find(set, HANDLER_COUNT));
    assert_null(rt_manifest_handler_lookup(set, "nope"));
    assert_null(rt_manifest_handler_lookup(set, NULL));
    assert_null(rt_manifest_handler_lookup(NULL, "runtime"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_manifest),       cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_substitution),        cmocka_unit_test(test_unknown_fields_and_types),
        cmocka_unit_test(test_required_and_values), cmocka_unit_test(test_init_state),
        cmocka_unit_test(test_filesystem_path),     cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_size_limit),          cmocka_unit_test(test_docs_example),
        cmocka_unit_test(test_handler_names),       cmocka_unit_test(test_bound_limits),
    };
    return th_test_exit(cmocka_run_group_tests(tests, setup, teardown));
}
