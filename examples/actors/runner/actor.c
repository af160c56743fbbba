/*
 * runner - runs a shell command with the process handler and reports it.
 *
 * init spawns /bin/sh -c COMMAND (the "command" of its initial state, JSON;
 * a small default otherwise) with an environment of its own (GREETING),
 * stdout line by line and stderr line by line; every line is logged as it
 * comes (handle-stdout / handle-stderr) and counted in the state; when the
 * child exits (handle-exit) the actor logs the exit code and shuts down
 * with "exit CODE, N lines" as its exit data.  The manifest allows
 * /bin/sh and nothing else.
 */
#include "theater.h"

/* What a stdout line is logged as (tests/integration/cli/runner_variant.c
 * builds this actor with another label: other code for the same record). */
#ifndef RUNNER_STDOUT_LABEL
#define RUNNER_STDOUT_LABEL "stdout"
#endif

static ta_status runner_init(ta_state *state, ta_str actor_id)
{
    ta_str command = TA_STR("echo \"$GREETING from $(uname -s)\"; echo to stderr >&2; "
                            "i=1; while [ $i -le 3 ]; do echo line $i; i=$((i+1)); done; exit 3");
    if (state->some)
        ta_json_get_str(state->val, "command", &command);
    ta_str args[] = {TA_STR("-c"), command};
    ta_env_var env[] = {{TA_STR("GREETING"), TA_STR("hello")},
                        {TA_STR("PATH"), TA_STR("/usr/bin:/bin")}};
    ta_process_config cfg = {
        .program = TA_STR("/bin/sh"),
        .args = {args, 2},
        .env = {env, 2},
        .stdout_mode = TA_OUTPUT_LINE_BY_LINE,
        .stderr_mode = TA_OUTPUT_LINE_BY_LINE,
        .has_execution_timeout = true,
        .execution_timeout = 60,
    };
    uint64_t pid;

    ta_status st = ta_os_spawn(&cfg, &pid);
    if (!st.ok)
        return st;
    ta_logf("runner %.*s started pid %llu: %.*s", TA_FMT(actor_id), (unsigned long long)pid,
            TA_FMT(command));
    ta_state_set(state, "0", 1);
    return TA_OK;
}

static void count_line(ta_state *state)
{
    uint64_t n = 0;
    if (state->some)
        ta_parse_u64(state->val, &n);
    ta_str s = ta_format("%llu", (unsigned long long)(n + 1));
    ta_state_set(state, s.ptr, s.len);
}

static ta_status runner_stdout(ta_state *state, uint64_t pid, ta_bytes line)
{
    ta_logf("[%llu] " RUNNER_STDOUT_LABEL ": %.*s", (unsigned long long)pid,
            TA_FMT(ta_utf8_fix(ta_bytes_str(line))));
    count_line(state);
    return TA_OK;
}

static ta_status runner_stderr(ta_state *state, uint64_t pid, ta_bytes line)
{
    ta_logf("[%llu] stderr: %.*s", (unsigned long long)pid,
            TA_FMT(ta_utf8_fix(ta_bytes_str(line))));
    count_line(state);
    return TA_OK;
}

static ta_status runner_exit(ta_state *state, uint64_t pid, int32_t code)
{
    ta_str lines = state->some ? ta_bytes_str(state->val) : TA_STR("0");
    ta_logf("[%llu] exited with %d", (unsigned long long)pid, (int)code);
    ta_str data = ta_format("exit %d, %.*s lines", (int)code, TA_FMT(lines));
    return ta_shutdown(ta_some(ta_str_bytes(data)));
}

TA_ACTOR_INIT(runner_init)
TA_HANDLE_STDOUT(runner_stdout)
TA_HANDLE_STDERR(runner_stderr)
TA_HANDLE_EXIT(runner_exit)
