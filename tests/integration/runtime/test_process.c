/*
 * test_process.c - the process handler (src/handlers/process.c) through
 * proc_probe.c with /bin/sh -c scripts: output in each mode (raw,
 * line-by-line, json, chunked), stdin, exit codes and os-status, signals
 * (a child that ignores SIGTERM), the execution timeout, output cut at
 * max_output_buffer (and recorded as cut), the grants (allowed_programs,
 * allowed_paths, max_processes, the environment given and nothing else),
 * the subset rule for a child's grants, and the end of an actor or of the
 * runtime killing its processes and what they started.  After each test:
 * the chains verify, no child of this process is left a zombie, and the
 * descriptors are what they were.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "theater/chain.h"
#include "base/utf8.h"
#include "rt_test_util.h"

/* Children of this process that are zombies. */
static int zombies(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    char path[300], buf[512], state;
    int n = 0, ppid;

    while ((e = readdir(d)) != NULL) {
        FILE *f;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        if (fgets(buf, sizeof buf, f) != NULL) {
            char *p = strrchr(buf, ')');
            if (p != NULL && sscanf(p + 2, "%c %d", &state, &ppid) == 2 && ppid == getpid() &&
                state == 'Z')
                n++;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

/* Is `pid` gone (or a zombie that is not ours, left for init)? */
static bool gone(long pid)
{
    char path[64], buf[512], state;
    int ppid;
    FILE *f;

    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return true;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if ((f = fopen(path, "r")) == NULL)
        return true;
    bool z = false;
    if (fgets(buf, sizeof buf, f) != NULL) {
        char *p = strrchr(buf, ')');
        z = p != NULL && sscanf(p + 2, "%c %d", &state, &ppid) == 2 && state == 'Z' &&
            ppid != getpid();
    }
    fclose(f);
    return z;
}

static bool wait_gone(long pid, unsigned ms)
{
    for (unsigned i = 0; i < ms / 10; i++) {
        if (gone(pid))
            return true;
        usleep(10000);
    }
    return gone(pid);
}

typedef struct env {
    rtt t;
    int fds;
    char dir[300]; /* an allowed cwd */
} env;

static int setup(void **state)
{
    env *e = calloc(1, sizeof *e);
    rtt warm;

    /* libuv's process-wide signal pipe and child watcher: made once */
    rtt_start(&warm, 1);
    rtt_stop(&warm);
    e->fds = rtt_fd_count();
    rtt_start(&e->t, 2);
    snprintf(e->dir, sizeof e->dir, "%s/work", e->t.home);
    mkdir(e->dir, 0755);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    int fds = e->fds;

    rtt_stop(&e->t);
    free(e);
    for (int i = 0; i < 300 && rtt_fd_count() != fds; i++)
        usleep(10000);
    assert_int_equal(rtt_fd_count(), fds);
    assert_int_equal(zombies(), 0);
    return 0;
}

/* The probe with a process handler whose settings are `grant` ("-": the
 * default grant: /bin/sh, the work directory). */
static void spawn_runner(env *e, const char *name, const char *grant, char *id)
{
    char def[400];

    snprintf(def, sizeof def, "allowed_programs = [\"/bin/sh\"]\nallowed_paths = [\"%s\"]", e->dir);
    rtt_spawn_probe(&e->t, name, "proc_probe", "process", strcmp(grant, "-") == 0 ? def : grant,
                    id);
}

static char *cmd(env *e, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static char *cmd(env *e, const char *id, const char *fmt, ...)
{
    char *s;
    va_list ap;

    va_start(ap, fmt);
    s = rtt_askv(&e->t, id, 60000, fmt, ap);
    va_end(ap);
    return s;
}

/* A request whose answer may be an error (the actor failing): the
 * answer or the error's text. */
static char *cmd_any(env *e, const char *id, const char *c)
{
    uint8_t *resp;
    size_t len;
    th_error err;

    if (th_runtime_request(e->t.rt, id, (const uint8_t *)c, strlen(c), 20000, &resp, &len, &err) !=
        0)
        return strdup(err.msg);
    free(resp);
    return strdup("answered");
}

/* Spawn: returns the pid (the answer must be "ok PID"). */
static long spawn(env *e, const char *id, const char *fmt, ...)
{
    char c[4096], *s;
    long pid;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c, sizeof c, fmt, ap);
    va_end(ap);
    s = cmd(e, id, "%s", c);
    if (strncmp(s, "ok ", 3) != 0)
        fail_msg("'%s' answered '%s'", c, s);
    pid = strtol(s + 3, NULL, 10);
    free(s);
    assert_true(pid > 1);
    return pid;
}

static void expect(char *s, const char *needle)
{
    if (strstr(s, needle) == NULL)
        fail_msg("'%s' lacks '%s'", s, needle);
    free(s);
}

/* Wait (two minutes at most: a sanitizer build on a loaded machine) until
 * the actor's log has `needle`; returns the log.  The actor is asked
 * whether it has it ("has"), not for the whole log, which may be large. */
static char *wait_log(env *e, const char *id, const char *needle)
{
    char *s = NULL;
    struct timespec t0, now;
    unsigned pause_us = 5000;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        free(s);
        s = cmd(e, id, "has %s", needle);
        if (strcmp(s, "ok 1") == 0)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 120)
            break;
        /* asking often costs the actor, which scans its log each time */
        usleep(pause_us);
        if (pause_us < 200000)
            pause_us *= 2;
    }
    free(s);
    s = cmd(e, id, "log");
    if (strstr(s, needle) == NULL)
        fail_msg("the log never had '%s': %s", needle, s);
    return s;
}

static void collect(void *ud, const th_runtime_event *ev)
{
    char **acc = ud;
    size_t n = *acc ? strlen(*acc) : 0;

    *acc = realloc(*acc, n + strlen(ev->type) + ev->data_len + 3);
    sprintf(*acc + n, "%s %.*s\n", ev->type, (int)ev->data_len, (const char *)ev->data);
}

__attribute__((noinline)) static char *events_of(env *e, const char *id)
{
    char *acc = NULL;
    th_error err;

    assert_int_equal(th_runtime_actor_events(e->t.rt, id, collect, &acc, &err), 0);
    return acc;
}

static void verify_chain(env *e, const char *id)
{
    th_chain_config cfg = {0};
    th_chain_verify_result res;
    th_chain *c;
    th_error err;

    assert_int_equal(th_runtime_flush(e->t.rt, id, &err), 0);
    cfg.home = e->t.home;
    cfg.read_only = 1;
    assert_int_equal(th_chain_open(&cfg, &c, &err), TH_OK);
    if (th_chain_verify(c, id, &res, &err) != TH_OK || res.problem != 0)
        fail_msg("chain of %s does not verify: %s %s", id, err.msg, res.detail);
    th_chain_close(c);
}

/* ------------------------------------------------------------------ */

static void test_modes(void **state)
{
    env *e = *state;
    char id[TH_ACTOR_ID_SIZE], want[256], *log, *evs;
    long p1, p2, p3, p4;

    spawn_runner(e, "modes", "-", id);
    p1 = spawn(e, id,
               "spawn line line - - - - printf 'a\\n\\nbb\\nccc'; printf 'e1\\ne2\\n' >&2; exit 3");
    snprintf(want, sizeof want, "exit %ld |3|", p1);
    log = wait_log(e, id, want);
    /* each line, in order, and the exit after the last output */
    {
        /* each stream in order (the two may interleave), the exit last */
        const char *order[] = {"out", "|a|", "out", "|bb|", "out", "|ccc|", "exit", "|3|"};
        const char *at = log, *hit;
        for (size_t i = 0; i < 8; i += 2) {
            snprintf(want, sizeof want, "%s %ld %s", order[i], p1, order[i + 1]);
            if ((hit = strstr(at, want)) == NULL)
                fail_msg("lines: '%s' not in order in %s", want, log);
            at = hit;
        }
        snprintf(want, sizeof want, "err %ld |e1|\nerr %ld |e2|", p1, p1);
        assert_true(strstr(log, want) != NULL && strstr(log, want) < strstr(log, "exit"));
        /* the empty line between a and bb is no delivery (as in the original) */
        snprintf(want, sizeof want, "out %ld ||", p1);
        assert_null(strstr(log, want));
    }
    free(log);
    p2 = spawn(e, id, "spawn chunked raw 4 - - - printf 0123456789");
    snprintf(want, sizeof want, "out %ld |0123|\nout %ld |4567|\nout %ld |89|\nexit %ld |0|", p2,
             p2, p2, p2);
    free(wait_log(e, id, want));
    p3 = spawn(e, id,
               "spawn json raw - - - - printf '{\"a\": 1}\\nnot json\\n[2]\\n\\n\"s\"\\n{\"b\":'");
    snprintf(want, sizeof want, "exit %ld |0|", p3);
    log = wait_log(e, id, want);
    snprintf(want, sizeof want, "out %ld |{\"a\": 1}|\nout %ld |[2]|\nout %ld |\"s\"|\nexit", p3,
             p3, p3);
    if (strstr(log, want) == NULL)
        fail_msg("json: %s", log);
    free(log);
    p4 = spawn(e, id, "spawn raw raw - - - - printf 'x\\ny'");
    snprintf(want, sizeof want, "out %ld |x~y|\nexit %ld |0|", p4, p4);
    free(wait_log(e, id, want));
    /* recorded: the spawn, each output event, the invalid JSON counted */
    evs = events_of(e, id);
    expect(strdup(evs), "\"function\":\"os-spawn\"");
    expect(strdup(evs), "\"function\":\"handle-stdout\",\"interface\":\"process-handlers\"");
    expect(strdup(evs), "\"invalid_json_lines\":");
    expect(evs, "\"function\":\"handle-exit\"");
    verify_chain(e, id);
}

static void test_stdin_status(void **state)
{
    env *e = *state;
    char id[TH_ACTOR_ID_SIZE], want[256];
    long p;

    spawn_runner(e, "stdin", "-", id);
    p = spawn(e, id, "spawn line line - - - - read x; echo got $x; cat; exit 7");
    expect(cmd(e, id, "status %ld", p), "ok running=1 exit=999 start=");
    expect(cmd(e, id, "write %ld one", p), "ok 4");
    snprintf(want, sizeof want, "out %ld |got one|", p);
    free(wait_log(e, id, want));
    expect(cmd(e, id, "write %ld two", p), "ok 4");
    expect(cmd(e, id, "close %ld", p), "ok");
    expect(cmd(e, id, "write %ld more", p), "err");
    snprintf(want, sizeof want, "out %ld |two|\nexit %ld |7|", p, p);
    free(wait_log(e, id, want));
    expect(cmd(e, id, "status %ld", p), "ok running=0 exit=7");
    expect(cmd(e, id, "write %ld late", p), "has exited");
    expect(cmd(e, id, "signal %ld 15", p), "has exited");
    expect(cmd(e, id, "status 1"), "err no process 1");
    /* the child holds none of the runtime's files (the database in the
     * home, its sockets): they are close-on-exec */
    p = spawn(e, id, "spawn line line - - - - ls -l /proc/$$/fd/ | grep -c %s; true", e->t.home);
    snprintf(want, sizeof want, "out %ld |0|", p);
    free(wait_log(e, id, want));
    /* a child's signal mask is the ordinary one (none blocked) */
    p = spawn(e, id, "spawn line line - - - - grep SigBlk /proc/self/status");
    snprintf(want, sizeof want, "out %ld |SigBlk:\t0000000000000000|", p);
    free(wait_log(e, id, want));
    verify_chain(e, id);
}

static void test_signals_timeout(void **state)
{
    env *e = *state;
    char id[TH_ACTOR_ID_SIZE], want[256];
    long p, q;

    spawn_runner(e, "sig", "-", id);
    p = spawn(e, id,
              "spawn line line - - - - trap 'echo term' TERM; echo ready; "
              "while :; do sleep 0.05; done");
    snprintf(want, sizeof want, "out %ld |ready|", p);
    free(wait_log(e, id, want));
    expect(cmd(e, id, "signal %ld 15", p), "ok");
    /* the child got the signal (its trap says so) and goes on */
    snprintf(want, sizeof want, "out %ld |term|", p);
    free(wait_log(e, id, want));
    expect(cmd(e, id, "status %ld", p), "running=1");
    expect(cmd(e, id, "signal %ld 0", p), "err signal 0");
    expect(cmd(e, id, "kill %ld", p), "ok");
    snprintf(want, sizeof want, "exit %ld |-9|", p);
    free(wait_log(e, id, want));
    assert_true(wait_gone(p, 1000));
    /* the execution timeout: SIGTERM, then SIGKILL for one that ignores it */
    p = spawn(e, id, "spawn line line - 1 - - sleep 30");
    q = spawn(e, id, "spawn line line - 1 - - trap '' TERM; while :; do sleep 0.05; done");
    snprintf(want, sizeof want, "exit %ld |-15|", p);
    free(wait_log(e, id, want));
    snprintf(want, sizeof want, "exit %ld |-9|", q);
    free(wait_log(e, id, want));
    verify_chain(e, id);
}

static void test_cut(void **state)
{
    env *e = *state;
    char id[TH_ACTOR_ID_SIZE], want[256], xs[128], *evs;
    long p;

    spawn_runner(e, "cut", "allowed_programs = [\"/bin/sh\"]\nmax_output_buffer = 100", id);
    p = spawn(e, id,
              "spawn line line - - - - head -c 300 /dev/zero | tr '\\0' x; echo; echo short");
    memset(xs, 'x', 100);
    xs[100] = 0;
    /* the long line is cut at 100 bytes; the next one comes whole (the
     * child waited while the actor had 100 bytes to handle) */
    snprintf(want, sizeof want, "out %ld |%s|\nout %ld |short|\nexit %ld |0|", p, xs, p, p);
    free(wait_log(e, id, want));
    evs = events_of(e, id);
    expect(strdup(evs), "\"cut\":200");
    expect(evs, "\"cut\":{\"stdout\":200,\"stderr\":0}");
    /* a writer faster than its actor loses nothing: 200 KB, more than a
     * pipe holds, through a 4 KB buffer (the child waits meanwhile) */
    char id2[TH_ACTOR_ID_SIZE], *log, line[1100];
    spawn_runner(e, "waits", "allowed_programs = [\"/bin/sh\"]\nmax_output_buffer = 4096", id2);
    p = spawn(e, id2,
              "spawn line line - - - - i=0; while [ $i -lt 200 ]; do printf '%%0999d\\n' $i; "
              "i=$((i+1)); done");
    snprintf(want, sizeof want, "exit %ld |0|", p);
    log = wait_log(e, id2, want);
    for (int i = 0; i < 200; i++) {
        snprintf(line, sizeof line, "out %ld |%0999d|\n", p, i);
        if (strstr(log, line) == NULL)
            fail_msg("line %d lost", i);
    }
    free(log);
    evs = events_of(e, id2);
    assert_null(strstr(evs, "\"cut\""));
    free(evs);
    verify_chain(e, id2);
    verify_chain(e, id);
}

static void test_grants(void **state)
{
    env *e = *state;
    char id[TH_ACTOR_ID_SIZE], none[TH_ACTOR_ID_SIZE], one[TH_ACTOR_ID_SIZE], want[512];
    long p;

    spawn_runner(e, "grants", "-", id);
    expect(cmd(e, id, "run /bin/ls"),
           "err program \"/bin/ls\" is not in this actor's allowed_programs");
    expect(cmd(e, id, "run sh"), "not in this actor's allowed_programs");
    expect(cmd(e, id, "spawn line line - - / - pwd"), "not inside this actor's allowed_paths");
    expect(cmd(e, id, "spawn line line - - /nonexistent - pwd"), "err cwd");
    expect(cmd(e, id, "spawn line line 0 - - - true"), "chunk-size");
    /* the cwd and the environment given, nothing else */
    p = spawn(e, id, "spawn line line - - %s FOO=bar,E= pwd; echo \"$FOO|$E|$HOME|$USER\"", e->dir);
    snprintf(want, sizeof want, "out %ld |%s|\nout %ld |bar|||", p, e->dir, p);
    free(wait_log(e, id, want));
    /* a program that is allowed but cannot run */
    {
        char bad[TH_ACTOR_ID_SIZE];
        spawn_runner(e, "badprog", "allowed_programs = [\"/no/such/program\"]", bad);
        expect(cmd(e, bad, "run /no/such/program"),
               "err cannot run /no/such/program: no such file or directory");
        expect(cmd(e, bad, "run /no/such/program"), "err cannot run");
        verify_chain(e, bad);
    }
    /* its error, cut by its buffer in the middle of a character of the
     * program's name, is still UTF-8 (the generated wake makes it so) */
    {
        char bad[TH_ACTOR_ID_SIZE], prog[400], grant[512], *out;
        size_t n = 0, i;
        n += (size_t)snprintf(prog, sizeof prog, "/no/such/");
        for (i = 0; i < 150; i++)
            n += (size_t)snprintf(prog + n, sizeof prog - n, "\xc3\xa9");
        snprintf(grant, sizeof grant, "allowed_programs = [\"%s\"]", prog);
        spawn_runner(e, "cutprog", grant, bad);
        out = cmd(e, bad, "run %s", prog);
        if (strncmp(out, "err cannot run /no/such/\xc3\xa9", 26) != 0)
            fail_msg("'%s' is not the error", out);
        assert_true(base_utf8_valid((const uint8_t *)out, strlen(out)));
        assert_true(out[strlen(out) - 1] == '?'); /* the lone first byte */
        free(out);
        verify_chain(e, bad);
    }
    /* no allowed_programs at all */
    spawn_runner(e, "none", "", none);
    expect(cmd(e, none, "spawn line line - - - - true"), "allows no program");
    /* max_processes */
    spawn_runner(e, "one", "allowed_programs = [\"/bin/sh\"]\nmax_processes = 1", one);
    p = spawn(e, one, "spawn line line - - - - sleep 30");
    expect(cmd(e, one, "spawn line line - - - - true"), "runs 1 processes, its limit");
    expect(cmd(e, one, "kill %ld", p), "ok");
    snprintf(want, sizeof want, "exit %ld |-9|", p);
    free(wait_log(e, one, want));
    expect(cmd(e, one, "spawn line line - - - - true"), "ok");
    verify_chain(e, id);
    verify_chain(e, none);
}

/* `s` (freed) with every `from` replaced by `to` (same length). */
static char *swap(char *s, const char *from, const char *to)
{
    assert_int_equal(strlen(from), strlen(to));
    for (char *at = s; (at = strstr(at, from)) != NULL; at += strlen(to))
        memcpy(at, to, strlen(to));
    return s;
}

/* A cwd outside allowed_paths gets one answer whether or not it exists
 * (no "No such file" that would tell which host paths exist); a relative
 * cwd is relative to the manifest's directory, as allowed_paths are. */
static void test_cwd_no_oracle(void **state)
{
    env *e = *state;
    char id[TH_ACTOR_ID_SIZE], path[400], want[600], *a, *b;
    long p;
    FILE *f;

    spawn_runner(e, "cwd", "-", id);
    snprintf(path, sizeof path, "%s/exists", e->t.home);
    assert_non_null((f = fopen(path, "w")));
    fclose(f);
    a = swap(cmd(e, id, "spawn line line - - %s/exists - pwd", e->t.home), "exists", "XXXXXX");
    b = swap(cmd(e, id, "spawn line line - - %s/nohere - pwd", e->t.home), "nohere", "XXXXXX");
    assert_string_equal(a, b);
    expect(a, "is not inside this actor's allowed_paths");
    free(b);
    /* below a missing directory, through "..", relative */
    a = swap(cmd(e, id, "spawn line line - - %s/nodir/../exists - pwd", e->t.home), "exists",
             "XXXXXX");
    b = swap(cmd(e, id, "spawn line line - - %s/nodir/../nohere - pwd", e->t.home), "nohere",
             "XXXXXX");
    assert_string_equal(a, b);
    expect(a, "is not inside this actor's allowed_paths");
    free(b);
    a = swap(cmd(e, id, "spawn line line - - ../exists - pwd"), "exists", "XXXXXX");
    b = swap(cmd(e, id, "spawn line line - - ../nohere - pwd"), "nohere", "XXXXXX");
    assert_string_equal(a, b);
    free(a);
    free(b);
    a = swap(cmd(e, id, "spawn line line - - exists - pwd"), "exists", "XXXXXX");
    b = swap(cmd(e, id, "spawn line line - - nohere - pwd"), "nohere", "XXXXXX");
    assert_string_equal(a, b);
    expect(a, "is not inside this actor's allowed_paths");
    free(b);
    /* "work" is the manifest's work/ (allowed_paths names it so), not the
     * runtime's working directory's */
    p = spawn(e, id, "spawn line line - - work - pwd");
    snprintf(want, sizeof want, "out %ld |%s|", p, e->dir);
    free(wait_log(e, id, want));
    /* inside the grant, a missing directory is missing */
    expect(cmd(e, id, "spawn line line - - work/nohere - pwd"),
           "err cwd \"work/nohere\": No such file or directory");
    verify_chain(e, id);
}

/* Environment variables the dynamic loader or libc act on (every LD_*,
 * glibc's unsecure list) are refused, naming the variable; others pass. */
static void test_env_refused(void **state)
{
    static const char *const refused[] = {
        "LD_PRELOAD",  "LD_AUDIT",     "LD_LIBRARY_PATH", "LD_DEBUG",    "LD_BIND_NOW",
        "GCONV_PATH",  "GETCONF_DIR",  "GLIBC_TUNABLES",  "HOSTALIASES", "LOCALDOMAIN",
        "LOCPATH",     "MALLOC_TRACE", "NIS_PATH",        "NLSPATH",     "RESOLV_HOST_CONF",
        "RES_OPTIONS", "TMPDIR",       "TZDIR",
    };
    env *e = *state;
    char id[TH_ACTOR_ID_SIZE], want[600];
    long p;

    spawn_runner(e, "envs", "-", id);
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        snprintf(want, sizeof want, "err env[1]: %s is refused", refused[i]);
        expect(cmd(e, id, "spawn line line - - - OK=1,%s=/nonexistent.so echo ran", refused[i]),
               want);
    }
    /* names that only look alike pass: case matters to the loader, and
     * LD without the underscore is not its prefix */
    p = spawn(e, id, "spawn line line - - - ld_preload=x,LDX=y,XLD_PRELOAD=z echo \"$LDX\"");
    snprintf(want, sizeof want, "out %ld |y|", p);
    free(wait_log(e, id, want));
    verify_chain(e, id);
}

/* The actor's end kills its processes and what they started. */
/* The pid the first line of child `p`'s output names (a process it
 * started in the background and echoed). */
static long echoed_pid(env *e, const char *id, long p)
{
    char want[128], *log, *s;
    long pid;

    snprintf(want, sizeof want, "out %ld |", p);
    log = wait_log(e, id, want);
    s = strstr(log, want);
    pid = strtol(s + strlen(want), NULL, 10);
    free(log);
    assert_true(pid > 1);
    return pid;
}

static void test_end_kills(void **state)
{
    env *e = *state;
    char id[TH_ACTOR_ID_SIZE], id2[TH_ACTOR_ID_SIZE];
    long p, gc, p2;
    th_error err;

    spawn_runner(e, "ender", "-", id);
    p = spawn(e, id, "spawn line line - - - - trap '' TERM; sleep 100 & echo $!; wait");
    gc = echoed_pid(e, id, p);
    assert_false(gone(p));
    assert_false(gone(gc));
    assert_int_equal(th_runtime_stop(e->t.rt, id, &err), 0);
    /* SIGTERM is ignored by the shell: SIGKILL after the grace period */
    assert_true(wait_gone(p, 5000));
    assert_true(wait_gone(gc, 5000));
    /* a failing actor ends its processes too */
    spawn_runner(e, "failer", "-", id2);
    p2 = spawn(e, id2, "spawn line line - - - - sleep 100");
    free(cmd_any(e, id2, "fail"));
    assert_true(wait_gone(p2, 5000));
    /* and so does the runtime's stop */
    spawn_runner(e, "left", "-", id2);
    p2 = spawn(e, id2, "spawn line line - - - - sleep 100");
    rtt_stop(&e->t);
    assert_true(wait_gone(p2, 1000));
    rtt_start(&e->t, 2);
}

/* The runtime stops while a child that has exited still has its output
 * open (held by what it started): every handle of the child is closed
 * with the I/O loop (the teardown counts the files; a loop left open
 * would keep five of them and libuv's SIGCHLD handling would still use
 * its freed memory). The stop must come within the 200 ms the output
 * may linger after the exit. */
static void test_stop_after_exit(void **state)
{
    env *e = *state;
    char id[TH_ACTOR_ID_SIZE], *s;
    long p, gc;

    spawn_runner(e, "early", "-", id);
    p = spawn(e, id, "spawn line line - - - - sleep 100 & echo $!");
    gc = echoed_pid(e, id, p);
    for (int i = 0; i < 5000; i++) {
        s = cmd(e, id, "status %ld", p);
        bool exited = strstr(s, "running=0") != NULL;
        free(s);
        if (exited)
            break;
        usleep(1000);
    }
    rtt_stop(&e->t);
    kill((pid_t)gc, SIGKILL);
    assert_true(wait_gone(gc, 5000));
    rtt_start(&e->t, 2);
}

/* A child's grant within its parent's. */
static int family(env *e, const char *grant, const char *child_grant, th_error *err)
{
    return rtt_spawn_family(&e->t, "process", grant, child_grant, err);
}

static void check(env *e, const char *g, const char *cg, const char *why)
{
    th_error err;
    int rc = family(e, g, cg, &err);

    if (why == NULL && rc != 0)
        fail_msg("expected the spawn to work: %s", err.msg);
    if (why != NULL && (rc == 0 || strstr(err.msg, why) == NULL))
        fail_msg("expected a refusal with '%s', got %d: %s", why, rc, rc ? err.msg : "");
}

static void test_subset(void **state)
{
    env *e = *state;
    char g[512], cg[512];

    check(e, "allowed_programs = [\"/bin/sh\", \"/bin/ls\"]", "allowed_programs = [\"/bin/ls\"]",
          NULL);
    check(e, "", "", NULL);
    check(e, "allowed_programs = [\"/bin/ls\"]", "allowed_programs = [\"/bin/sh\"]",
          "allowed_programs lists \"/bin/sh\", which the parent may not run");
    check(e, "", "allowed_programs = [\"/bin/sh\"]", "\"/bin/sh\"");
    check(e, "max_processes = 2", "max_processes = 3", "max_processes = 3 exceeds the parent's 2");
    check(e, "max_processes = 2", "", "max_processes = 16 exceeds the parent's 2");
    check(e, "max_output_buffer = 10", "max_output_buffer = 11", "max_output_buffer = 11 exceeds");
    snprintf(g, sizeof g, "allowed_paths = [\"%s\"]", e->t.home);
    snprintf(cg, sizeof cg, "allowed_paths = [\"%s\"]", e->dir);
    check(e, g, cg, NULL);
    check(e, cg, g, "outside the parent's allowed_paths");
}

static void test_manifest_checks(void **state)
{
    static const char *const bad[] = {
        "allowed_programs = [\"sh\"]", "allowed_paths = [\"/nonexistent\"]", "max_processes = -1",
        "max_output_buffer = 0",       "allowed_programs = \"/bin/sh\"",
    };
    env *e = *state;
    char path[512], id[TH_ACTOR_ID_SIZE];
    th_spawn_opts o = {0};
    th_error err;
    FILE *f;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "%s/bad%zu.toml", e->t.home, i);
        f = fopen(path, "w");
        fprintf(f, "name = \"b\"\ncomponent = \"%s\"\n[[handler]]\ntype = \"process\"\n%s\n",
                rtt_module("proc_probe"), bad[i]);
        fclose(f);
        o.manifest_path = path;
        assert_int_not_equal(th_runtime_spawn(e->t.rt, &o, id, &err), 0);
        assert_non_null(strstr(err.msg, "handler[0]"));
    }
    /* a module that imports the process interface needs the handler */
    snprintf(path, sizeof path, "%s/nohandler.toml", e->t.home);
    f = fopen(path, "w");
    fprintf(f, "name = \"b\"\ncomponent = \"%s\"\n[[handler]]\ntype = \"message-server\"\n",
            rtt_module("proc_probe"));
    fclose(f);
    o.manifest_path = path;
    assert_int_not_equal(th_runtime_spawn(e->t.rt, &o, id, &err), 0);
    assert_non_null(strstr(err.msg, "needs the \"process\" handler"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdin_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signals_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cwd_no_oracle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_kills, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_after_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manifest_checks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
