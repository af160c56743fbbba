/*
 * client.c - the live commands' side of the management API: HTTP over the
 * daemon's unix socket with libcurl, error bodies turned into messages,
 * and a Server-Sent Events reader that resumes with Last-Event-ID.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/client.h"
#include "theater/home.h"
#include "theater/server.h"
#include "theater/store.h"

/* How long a client waits for a daemon that is starting: while one holds
 * the home's lock (restoring its actors, say) it waits up to
 * CLI_DAEMON_START_MS; with no lock taken yet (a `theater server &` just
 * launched) CLI_DAEMON_GRACE_MS, so `theater server & theater start M`
 * works as written. */
#define CLI_DAEMON_START_MS 60000
#define CLI_DAEMON_GRACE_MS 500
#define CLI_DAEMON_FOLLOW_GRACE_MS 5000 /* a follower across a daemon restart */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether the daemon's socket accepts a connection. */
static bool socket_answers(const char *path)
{
    struct sockaddr_un sa;
    int fd, ok;

    if (strlen(path) >= sizeof sa.sun_path)
        return true; /* let libcurl report it */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return true;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

static int no_daemon(const cli_api *api)
{
    if (api->home_given)
        cli_errorf("no daemon running at %s; start one with `theater server --home %s`", api->sock,
                   api->home);
    else
        cli_errorf("no daemon running at %s; start one with `theater server`", api->sock);
    return CLI_EXIT_NO_DAEMON;
}

/* Wait until the daemon's socket answers: 0, or CLI_EXIT_NO_DAEMON after a
 * message when no daemon holds the home (after `grace_ms`) or the one that
 * does never starts listening. */
static int wait_for_daemon(cli_api *api, int grace_ms)
{
    long long t0 = now_ms(), told = 0;
    pid_t pid;
    th_error err;

    for (;;) {
        if (socket_answers(api->sock))
            return 0;
        if (th_server_home_owner(api->home, &pid, &err) == 1) {
            if (now_ms() - t0 > CLI_DAEMON_START_MS) {
                cli_errorf("the daemon on %s (pid %ld) did not start listening on %s within %d s",
                           api->home, (long)pid, api->sock, CLI_DAEMON_START_MS / 1000);
                return CLI_EXIT_NO_DAEMON;
            }
            if (told == 0 && now_ms() - t0 > 1000) {
                fprintf(stderr, "theater: waiting for the daemon (pid %ld) to start listening\n",
                        (long)pid);
                told = 1;
            }
        } else if (now_ms() - t0 > grace_ms) {
            return no_daemon(api);
        }
        usleep(20000);
    }
}

int cli_api_open(const char *home_arg, cli_api *api)
{
    th_error err;
    struct stat st;
    int rc;

    memset(api, 0, sizeof *api);
    api->home_given = home_arg != NULL || cli_home_option;
    if (home_arg == NULL)
        home_arg = getenv("THEATER_HOME");
    if (th_home_resolve(home_arg, api->home, sizeof api->home, &err) != 0) {
        cli_errorf("%s", err.msg);
        return CLI_EXIT_ERROR;
    }
    snprintf(api->sock, sizeof api->sock, "%s/theater.sock", api->home);
    if ((stat(api->sock, &st) != 0 || !S_ISSOCK(st.st_mode)) &&
        (rc = wait_for_daemon(api, CLI_DAEMON_GRACE_MS)) != 0)
        return rc;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    api->curl = curl_easy_init();
    if (api->curl == NULL) {
        cli_errorf("cannot initialise libcurl");
        return CLI_EXIT_ERROR;
    }
    return 0;
}

void cli_api_close(cli_api *api)
{
    if (api->curl != NULL)
        curl_easy_cleanup(api->curl);
    api->curl = NULL;
}

void cli_resp_free(cli_resp *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    cli_resp *r = ud;
    size_t len = size * n;
    char *nb = realloc(r->body, r->len + len + 1);

    if (nb == NULL)
        return 0;
    r->body = nb;
    memcpy(r->body + r->len, p, len);
    r->len += len;
    r->body[r->len] = 0;
    return len;
}

static int connect_error(cli_api *api, CURLcode cc)
{
    if (cc == CURLE_COULDNT_CONNECT)
        return no_daemon(api);
    cli_errorf("talking to the daemon at %s: %s", api->sock, curl_easy_strerror(cc));
    return CLI_EXIT_ERROR;
}

int cli_api_call(cli_api *api, const char *method, const char *path, const void *body, size_t len,
                 const char *ctype, cli_resp *out)
{
    char url[2048], ct[128];
    struct curl_slist *hdr = NULL;
    CURL *c = api->curl;
    CURLcode cc;

    memset(out, 0, sizeof *out);
    snprintf(url, sizeof url, "http://theater%s", path);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, api->sock);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype ? ctype : "application/octet-stream");
        hdr = curl_slist_append(hdr, ct);
        hdr = curl_slist_append(hdr, "Expect:");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    }
    cc = curl_easy_perform(c);
    /* a socket left by a daemon that is starting again (or one still
     * starting): wait for it, then once more */
    if (cc == CURLE_COULDNT_CONNECT && wait_for_daemon(api, CLI_DAEMON_GRACE_MS) == 0) {
        cli_resp_free(out);
        cc = curl_easy_perform(c);
    } else if (cc == CURLE_COULDNT_CONNECT) {
        curl_slist_free_all(hdr);
        cli_resp_free(out);
        return CLI_EXIT_NO_DAEMON; /* wait_for_daemon said so */
    }
    curl_slist_free_all(hdr);
    if (cc != CURLE_OK) {
        cli_resp_free(out);
        return connect_error(api, cc);
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    return 0;
}

/* The frames of an error's "backtrace" (an actor's failure), under its
 * line: "    at #N name", control characters shown as '?'. */
static void print_backtrace(const json_t *bt)
{
    const json_t *f;
    const char *p;
    size_t i, k;

    json_array_foreach((json_t *)bt, i, f)
    {
        if (!json_is_string(f))
            continue;
        fputs("    at ", stderr);
        for (p = json_string_value(f), k = 0; k < json_string_length(f); k++)
            fputc((unsigned char)p[k] < 0x20 || p[k] == 0x7f ? '?' : p[k], stderr);
        fputc('\n', stderr);
    }
}

int cli_api_fail(const cli_resp *r)
{
    json_t *o = r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
    const json_t *e = json_object_get(o, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));

    if (msg != NULL)
        cli_errorf("%s", msg);
    else
        cli_errorf("the daemon answered HTTP %ld", r->status);
    print_backtrace(json_object_get(e, "backtrace"));
    json_decref(o);
    return r->status == 503 && msg != NULL && strstr(msg, "shutting down") ? CLI_EXIT_NO_DAEMON
                                                                           : CLI_EXIT_ERROR;
}

json_t *cli_api_json(cli_api *api, const char *method, const char *path, json_t *body, long want,
                     int *exit_code)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    cli_resp r;
    json_t *o = NULL;
    int rc;

    json_decref(body);
    rc = cli_api_call(api, method, path, text, text ? strlen(text) : 0,
                      text ? "application/json" : NULL, &r);
    free(text);
    if (rc != 0) {
        *exit_code = rc;
        return NULL;
    }
    if (r.status != want) {
        *exit_code = cli_api_fail(&r);
    } else if ((o = json_loadb(r.body ? r.body : "", r.len, 0, NULL)) == NULL) {
        cli_errorf("the daemon sent a reply that is not JSON");
        *exit_code = CLI_EXIT_ERROR;
    } else {
        *exit_code = 0;
    }
    cli_resp_free(&r);
    return o;
}

/* ------------------------------------------------------------------ */
/* Server-Sent Events                                                 */

typedef struct sse_state {
    cli_sse *sse;
    char *buf;
    size_t len;
    int stop; /* the handler asked to stop */
} sse_state;

/* Parse one complete SSE block (NUL-terminated, without the blank line). */
static int sse_block(sse_state *s, char *block)
{
    char *line, *save = NULL, *event = NULL, *data = NULL, *id = NULL;

    for (line = strtok_r(block, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == ':')
            continue; /* a comment (keep-alive) */
        if (strncmp(line, "event: ", 7) == 0)
            event = line + 7;
        else if (strncmp(line, "data: ", 6) == 0)
            data = line + 6;
        else if (strncmp(line, "id: ", 4) == 0)
            id = line + 4;
    }
    if (event == NULL && data == NULL)
        return 0;
    if (event != NULL && strcmp(event, "overflow") == 0) {
        s->sse->overflowed = 1;
        return 0;
    }
    if (id != NULL) {
        snprintf(s->sse->last_id, sizeof s->sse->last_id, "%s", id);
        s->sse->have_id = 1;
    }
    return s->sse->fn(s->sse->ud, event ? event : "message", data ? data : "");
}

static size_t on_sse(char *p, size_t size, size_t n, void *ud)
{
    sse_state *s = ud;
    size_t len = size * n;
    char *nb = realloc(s->buf, s->len + len + 1), *end;

    if (nb == NULL)
        return 0;
    s->buf = nb;
    memcpy(s->buf + s->len, p, len);
    s->len += len;
    s->buf[s->len] = 0;
    while ((end = strstr(s->buf, "\n\n")) != NULL) {
        size_t used = (size_t)(end - s->buf) + 2;
        *end = 0;
        if (sse_block(s, s->buf) != 0) {
            s->stop = 1;
            return 0; /* ends the transfer */
        }
        memmove(s->buf, s->buf + used, s->len - used);
        s->len -= used;
        s->buf[s->len] = 0;
    }
    return len;
}

int cli_api_stream(cli_api *api, const char *path, cli_sse *sse)
{
    char url[2048], last[128];
    struct curl_slist *hdr;
    sse_state s;
    CURL *c = api->curl;
    CURLcode cc;
    long status = 0;
    int tries = 0;

    for (;;) {
        memset(&s, 0, sizeof s);
        s.sse = sse;
        sse->overflowed = 0;
        snprintf(url, sizeof url, "http://theater%s", path);
        hdr = curl_slist_append(NULL, "Accept: text/event-stream");
        if (sse->have_id) {
            snprintf(last, sizeof last, "Last-Event-ID: %s", sse->last_id);
            hdr = curl_slist_append(hdr, last);
        }
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, api->sock);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_sse);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        cc = curl_easy_perform(c);
        curl_slist_free_all(hdr);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (s.stop) {
            free(s.buf);
            return 0;
        }
        if (cc == CURLE_OK && status >= 400) {
            cli_resp r = {s.buf, s.len, status};
            int rc = cli_api_fail(&r);
            free(s.buf);
            return rc;
        }
        free(s.buf);
        /* no daemon (it died, or is starting again): a follower waits a
         * while for the next one, which brings durable actors back, and
         * resumes after the last event it got */
        if (cc == CURLE_COULDNT_CONNECT) {
            int rc = wait_for_daemon(api, CLI_DAEMON_FOLLOW_GRACE_MS);
            if (rc != 0)
                return rc;
            continue;
        }
        if (cc == CURLE_OK && !sse->overflowed)
            return 0; /* the daemon ended the stream (shutdown, or the channel closed) */
        /* a dropped connection or an overflow: resume after the last event */
        if (++tries > 50)
            return connect_error(api, cc);
        if (cc == CURLE_OK)
            tries = 0;
        usleep(100000);
    }
}
