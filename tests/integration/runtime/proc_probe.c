/*
 * proc_probe.c - a test actor (C guest SDK) for the process handler
 * (tests/integration/runtime/test_process.c).  Requests are commands:
 *   spawn OUT ERR CHUNK TIMEOUT CWD ENV SCRIPT   /bin/sh -c SCRIPT; OUT/ERR are
 *       raw|line|json|chunked, CHUNK a chunk size, TIMEOUT seconds, CWD a
 *       directory, ENV "K=V,K=V" (each "-" for none)   -> "ok PID"
 *   run PROGRAM [ARG]       PROGRAM directly, line mode      -> "ok PID"
 *   write PID TEXT          TEXT and "\n" to its stdin        -> "ok N"
 *   close PID               end its stdin (empty write)
 *   status PID              -> "ok running=R exit=E start=S"
 *   signal PID N / kill PID
 *   log                     -> everything handed to it so far
 *   has TEXT                -> "ok 1" if the log holds TEXT, else "ok 0"
 *   fail                    the actor fails (an err result)
 * or "err MESSAGE".  The state is the log: one line per event, "out PID
 * |TEXT|", "err PID |TEXT|" (a newline inside TEXT shown as '~') or
 * "exit PID CODE".
 */
#include "theater.h"

static ta_str word(ta_str *rest)
{
    size_t n = 0;
    while (n < rest->len && rest->ptr[n] != ' ')
        n++;
    ta_str w = {rest->ptr, n};
    size_t skip = n < rest->len ? n + 1 : n;
    rest->ptr += skip;
    rest->len -= skip;
    return w;
}

static uint64_t num(ta_str s)
{
    uint64_t v = 0;
    ta_parse_u64(ta_str_bytes(s), &v);
    return v;
}

static ta_output_mode mode_of(ta_str s)
{
    if (ta_str_eq_c(s, "line"))
        return TA_OUTPUT_LINE_BY_LINE;
    if (ta_str_eq_c(s, "json"))
        return TA_OUTPUT_JSON;
    if (ta_str_eq_c(s, "chunked"))
        return TA_OUTPUT_CHUNKED;
    return TA_OUTPUT_RAW;
}

/* Append "TAG PID |TEXT|\n" to the state. */
static void note(ta_state *state, const char *tag, uint64_t pid, ta_bytes text)
{
    size_t old = state->some ? state->val.len : 0, n = old + text.len + 48, o;
    char *buf = ta_scoped_alloc(n);

    for (o = 0; o < old; o++)
        buf[o] = (char)state->val.ptr[o];
    o += ta_fmt(buf + o, n - o, "%s %llu |", tag, (unsigned long long)pid);
    for (size_t i = 0; i < text.len; i++)
        buf[o++] = text.ptr[i] == '\n' ? '~' : (char)text.ptr[i];
    buf[o++] = '|';
    buf[o++] = '\n';
    ta_state_set(state, buf, o);
}

static ta_status on_stdout(ta_state *state, uint64_t pid, ta_bytes data)
{
    note(state, "out", pid, data);
    return TA_OK;
}

static ta_status on_stderr(ta_state *state, uint64_t pid, ta_bytes data)
{
    note(state, "err", pid, data);
    return TA_OK;
}

static ta_status on_exit(ta_state *state, uint64_t pid, int32_t code)
{
    ta_str s = ta_format("%d", (int)code);
    note(state, "exit", pid, ta_str_bytes(s));
    return TA_OK;
}

/* Does the log hold `text`? */
static bool log_has(const ta_state *state, ta_str text)
{
    size_t i, k, n = state->some ? state->val.len : 0;

    for (i = 0; i + text.len <= n; i++) {
        for (k = 0; k < text.len && state->val.ptr[i + k] == (uint8_t)text.ptr[k]; k++)
            ;
        if (k == text.len)
            return true;
    }
    return false;
}

static ta_status reply(ta_opt_bytes *response, ta_status st, ta_str value)
{
    ta_str out =
        !st.ok ? ta_format("err %.*s", TA_FMT(st.err)) : ta_format("ok %.*s", TA_FMT(value));
    ta_opt_set(response, out.ptr, out.len);
    return TA_OK;
}

static ta_status on_request(ta_state *state, ta_str request_id, ta_bytes msg,
                            ta_opt_bytes *response)
{
    ta_str rest = ta_bytes_str(msg), c = word(&rest);
    ta_process_config cfg = {0};
    uint64_t pid = 0;
    uint32_t n = 0;
    ta_status st;
    (void)request_id;

    if (ta_str_eq_c(c, "fail"))
        return ta_fail("asked to fail");
    if (ta_str_eq_c(c, "log"))
        return reply(response, TA_OK, state->some ? ta_bytes_str(state->val) : TA_STR(""));
    if (ta_str_eq_c(c, "has"))
        return reply(response, TA_OK, log_has(state, rest) ? TA_STR("1") : TA_STR("0"));
    if (ta_str_eq_c(c, "spawn") || ta_str_eq_c(c, "run")) {
        ta_str *args = ta_scoped_alloc(2 * sizeof(ta_str));
        ta_env_var *env = ta_scoped_alloc(8 * sizeof(ta_env_var));
        if (ta_str_eq_c(c, "run")) {
            cfg.program = word(&rest);
            cfg.stdout_mode = cfg.stderr_mode = TA_OUTPUT_LINE_BY_LINE;
            if (rest.len > 0) {
                args[0] = rest;
                cfg.args = (ta_str_list){args, 1};
            }
        } else {
            ta_str out = word(&rest), err = word(&rest), chunk = word(&rest), tmo = word(&rest);
            ta_str cwd = word(&rest), envs = word(&rest);
            cfg.program = TA_STR("/bin/sh");
            args[0] = TA_STR("-c");
            args[1] = rest;
            cfg.args = (ta_str_list){args, 2};
            cfg.stdout_mode = mode_of(out);
            cfg.stderr_mode = mode_of(err);
            if (!ta_str_eq_c(chunk, "-")) {
                cfg.has_chunk_size = true;
                cfg.chunk_size = (uint32_t)num(chunk);
            }
            if (!ta_str_eq_c(tmo, "-")) {
                cfg.has_execution_timeout = true;
                cfg.execution_timeout = num(tmo);
            }
            if (!ta_str_eq_c(cwd, "-"))
                cfg.cwd = (ta_opt_str){true, cwd};
            size_t ne = 0;
            while (!ta_str_eq_c(envs, "-") && envs.len > 0 && ne < 8) {
                size_t k = 0, e = 0;
                while (e < envs.len && envs.ptr[e] != ',')
                    e++;
                while (k < e && envs.ptr[k] != '=')
                    k++;
                env[ne].name = (ta_str){envs.ptr, k};
                env[ne].value = (ta_str){envs.ptr + k + (k < e), e - k - (k < e)};
                ne++;
                envs.ptr += e + (e < envs.len);
                envs.len -= e + (e < envs.len);
            }
            cfg.env = (ta_env_var_list){env, ne};
        }
        st = ta_os_spawn(&cfg, &pid);
        return reply(response, st, ta_format("%llu", (unsigned long long)pid));
    }
    pid = num(word(&rest));
    if (ta_str_eq_c(c, "write")) {
        ta_str line = ta_format("%.*s\n", TA_FMT(rest));
        st = ta_os_write_stdin(pid, ta_str_bytes(line), &n);
        return reply(response, st, ta_format("%u", (unsigned)n));
    }
    if (ta_str_eq_c(c, "close"))
        return reply(response, ta_os_write_stdin(pid, (ta_bytes){0, 0}, &n), TA_STR(""));
    if (ta_str_eq_c(c, "status")) {
        ta_process_status s;
        st = ta_os_status(pid, &s);
        return reply(response, st,
                     ta_format("running=%d exit=%d start=%llu", s.running ? 1 : 0,
                               s.has_exit_code ? (int)s.exit_code : 999,
                               (unsigned long long)s.start_time));
    }
    if (ta_str_eq_c(c, "signal"))
        return reply(response, ta_os_signal(pid, (uint32_t)num(rest)), TA_STR(""));
    if (ta_str_eq_c(c, "kill"))
        return reply(response, ta_os_kill(pid), TA_STR(""));
    return reply(response, ta_fail("unknown command"), TA_STR(""));
}

TA_HANDLE_REQUEST(on_request)
TA_HANDLE_STDOUT(on_stdout)
TA_HANDLE_STDERR(on_stderr)
TA_HANDLE_EXIT(on_exit)
