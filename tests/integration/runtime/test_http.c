/*
 * test_http.c - the http-framework handler end to end: the notes example
 * actor (examples/actors/notes) serves HTTP on 127.0.0.1 and real clients
 * talk to it: curl (routes, path parameters, methods, middleware,
 * keep-alive, chunked bodies, 100-continue, any bytes in bodies, oversized
 * bodies, HTTPS), python3 for raw bytes (bad requests, slow clients),
 * node's `ws` package for WebSocket.  After each test the actor's chain
 * must verify, and its events must show the requests.
 *
 * A client program that is missing (node or its `ws` package) skips its
 * test; curl and python3 are part of the set-up.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "theater/chain.h"
#include "runtime/rt_int.h"
#include "rt_test_util.h"
#include "test_skip.h"

/* ---- helpers ---- */

/* Run a shell command; its stdout (and stderr) in a malloc'd string, its
 * exit status in *status. */
static char *sh(int *status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *sh(int *status, const char *fmt, ...)
{
    char cmd[4096];
    rt_buf b = {0};
    char buf[4096];
    size_t n;
    va_list ap;
    FILE *f;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    f = popen(cmd, "r");
    assert_non_null(f);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        rt_buf_append(&b, buf, n);
    st = pclose(f);
    rt_buf_append(&b, "", 1);
    if (status != NULL)
        *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return (char *)b.data;
}

static void expect_has(const char *out, const char *needle)
{
    if (strstr(out, needle) == NULL)
        fail_msg("expected \"%s\" in:\n%s", needle, out);
}

typedef struct srv {
    rtt t;
    char id[TH_ACTOR_ID_SIZE];
    unsigned port;
} srv;

/* The notes actor's wasm (built with the examples), or NULL. */
static const char *notes_wasm(void)
{
    static char p[512];
    const char *toml = rtt_example("notes");

    if (toml == NULL)
        return NULL;
    snprintf(p, sizeof p, "%.*s.wasm", (int)(strlen(toml) - 5), toml);
    return p;
}

/* Write a manifest for the notes actor with the given init_state and
 * http-framework settings (TOML lines). */
static const char *notes_manifest(srv *s, const char *name, const char *init, const char *grant)
{
    static char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s.toml", s->t.home, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "name = \"%s\"\ncomponent = \"%s\"\ninit_state = '%s'\n\n"
            "[[handler]]\ntype = \"runtime\"\n\n[[handler]]\ntype = \"timing\"\n\n"
            "[[handler]]\ntype = \"http-framework\"\n%s\n",
            name, notes_wasm(), init, grant != NULL ? grant : "");
    fclose(f);
    return path;
}

/* The port the actor logged after `after` bytes of the log ("listening on
 * port N"), waiting for it. */
static unsigned logged_port(srv *s, size_t after)
{
    unsigned port = 0;
    const char *p;

    for (int i = 0; i < 500 && port == 0; i++) {
        pthread_mutex_lock(&s->t.log.lock);
        p = s->t.log.len > after ? strstr(s->t.log.text + after, "listening on port ") : NULL;
        if (p != NULL)
            port = (unsigned)atoi(p + strlen("listening on port "));
        pthread_mutex_unlock(&s->t.log.lock);
        if (port == 0)
            usleep(10000);
    }
    assert_true(port > 0);
    return port;
}

/* Start a runtime and the notes actor; false (test skipped) without the
 * example. */
static bool start(srv *s, const char *init, const char *grant)
{
    th_spawn_opts o = {0};
    th_error err;

    if (notes_wasm() == NULL)
        return false;
    memset(s, 0, sizeof *s);
    rtt_start(&s->t, 2);
    o.manifest_path = notes_manifest(s, "notes", init, grant);
    if (th_runtime_spawn(s->t.rt, &o, s->id, &err) != 0)
        fail_msg("spawn: %s", err.msg);
    s->port = logged_port(s, 0);
    return true;
}

static void verify_chain(srv *s)
{
    th_chain_config cfg = {0};
    th_chain_verify_result res;
    th_chain *c;
    th_error err;

    assert_int_equal(th_runtime_flush(s->t.rt, s->id, &err), 0);
    cfg.home = s->t.home;
    cfg.read_only = 1;
    assert_int_equal(th_chain_open(&cfg, &c, &err), TH_OK);
    if (th_chain_verify(c, s->id, &res, &err) != TH_OK || res.problem != 0)
        fail_msg("chain of %s does not verify: %s %s", s->id, err.msg, res.detail);
    assert_true(res.events > 0);
    th_chain_close(c);
}

static void collect(void *ud, const th_runtime_event *e)
{
    rt_buf *b = ud;

    rt_buf_printf(b, "%s %.*s\n", e->type, (int)e->data_len, (const char *)e->data);
}

static char *events_of(srv *s)
{
    rt_buf b = {0};
    th_error err;

    assert_int_equal(th_runtime_flush(s->t.rt, s->id, &err), 0);
    assert_int_equal(th_runtime_actor_events(s->t.rt, s->id, collect, &b, &err), 0);
    rt_buf_append(&b, "", 1);
    return (char *)b.data;
}

static void finish(srv *s)
{
    verify_chain(s);
    rtt_stop(&s->t);
}

#define CURL "curl -s -S -m 10 "

/* ---- tests ---- */

/* Routes with parameters, methods, 404/405, the state kept between
 * requests, and every request and answer on the chain. */
static void test_routes(void **state)
{
    srv s;
    char *out, *ev;
    int st;

    (void)state;
    if (!start(&s, "{\"port\": \"0\"}", NULL))
        th_skip_missing("the notes example actor (the wasm32 guest toolchain)");
    out = sh(&st, CURL "-X POST --data 'buy milk' http://127.0.0.1:%u/notes", s.port);
    expect_has(out, "{\"id\":1}");
    free(out);
    out = sh(&st, CURL "-X POST --data-binary 'call \"mom\"' http://127.0.0.1:%u/notes", s.port);
    expect_has(out, "{\"id\":2}");
    free(out);
    out = sh(&st, CURL "http://127.0.0.1:%u/notes/2", s.port);
    expect_has(out, "{\"id\":2,\"text\":\"call \\u0022mom\\u0022\"}");
    free(out);
    out = sh(&st, CURL "-o /dev/null -w '%%{http_code}' -X DELETE http://127.0.0.1:%u/notes/1",
             s.port);
    assert_string_equal(out, "204");
    free(out);
    out = sh(&st, CURL "http://127.0.0.1:%u/notes", s.port);
    expect_has(out, "{\"count\":1,\"notes\":[{\"id\":2,");
    free(out);
    out = sh(&st, CURL "-o /dev/null -w '%%{http_code}' http://127.0.0.1:%u/notes/1", s.port);
    assert_string_equal(out, "404"); /* the actor's own 404 */
    free(out);
    out = sh(&st, CURL "-o /dev/null -w '%%{http_code}' http://127.0.0.1:%u/nowhere", s.port);
    assert_string_equal(out, "404"); /* no route */
    free(out);
    out = sh(&st, CURL "-o /dev/null -w '%%{http_code}' -X PUT http://127.0.0.1:%u/notes", s.port);
    assert_string_equal(out, "405"); /* a route for the path, not the method */
    free(out);
    /* the wildcard route takes any method and any depth; the query stays */
    out = sh(&st, CURL "-X PATCH -H 'X-Thing: a b' 'http://127.0.0.1:%u/echo/a/b/c?x=1&y=%%20'",
             s.port);
    expect_has(out, "\"method\":\"PATCH\"");
    expect_has(out, "\"uri\":\"/echo/a/b/c?x=1&y=%20\"");
    expect_has(out, "[\"x-thing\",\"a b\"]");
    free(out);
    /* a body's length is among the headers, as received (h2o keeps it
     * apart), and that of the decoded body for a chunked one */
    out = sh(&st, CURL "-X POST --data-binary 'hello' http://127.0.0.1:%u/echo/len", s.port);
    expect_has(out, "[\"content-length\",\"5\"]");
    free(out);
    out = sh(&st,
             CURL "-X POST -H 'Transfer-Encoding: chunked' --data-binary 'hello!' "
                  "http://127.0.0.1:%u/echo/chunked",
             s.port);
    expect_has(out, "[\"content-length\",\"6\"]");
    free(out);
    ev = events_of(&s);
    expect_has(ev, "\"function\":\"handle-request\",\"interface\":\"http-handlers\"");
    expect_has(ev, "\"uri\":\"/notes/2\"");
    expect_has(ev, ",\"status\":204,\"headers\":"); /* the result: the response's fields */
    free(ev);
    finish(&s);
}

/* Middleware in front of /admin: refused without the token (403 with the
 * middleware's body), passed on with it, and the route sees the request
 * as the middleware changed it. */
static void test_middleware(void **state)
{
    srv s;
    char *out, *ev;
    int st;

    (void)state;
    if (!start(&s, "{\"port\": \"0\"}", NULL))
        th_skip_missing("the notes example actor (the wasm32 guest toolchain)");
    out = sh(&st, CURL "-w ' %%{http_code}' http://127.0.0.1:%u/admin/whoami", s.port);
    assert_string_equal(out, "{\"error\":\"x-token required\"} 403");
    free(out);
    out = sh(&st, CURL "-H 'x-token: secret' http://127.0.0.1:%u/admin/whoami", s.port);
    assert_string_equal(out, "{\"auth\":\"ok\"}");
    free(out);
    /* no middleware on other paths */
    out = sh(&st, CURL "-o /dev/null -w '%%{http_code}' http://127.0.0.1:%u/notes", s.port);
    assert_string_equal(out, "200");
    free(out);
    ev = events_of(&s);
    expect_has(ev, "\"function\":\"handle-middleware\"");
    expect_has(ev, "\"proceed\":false");
    expect_has(ev, "\"proceed\":true");
    free(ev);
    finish(&s);
}

/* One connection for several requests; chunked bodies; 100-continue; every
 * byte value through the body and back. */
static void test_bodies_keepalive(void **state)
{
    srv s;
    char *out, path[600];
    int st;
    FILE *f;

    (void)state;
    if (!start(&s, "{\"port\": \"0\"}", NULL))
        th_skip_missing("the notes example actor (the wasm32 guest toolchain)");
    out =
        sh(&st, CURL "-v http://127.0.0.1:%u/notes http://127.0.0.1:%u/notes 2>&1", s.port, s.port);
    expect_has(out, "Re-using existing connection");
    free(out);
    out = sh(&st,
             "printf 'chunk-one-chunk-two' | " CURL
             "-H 'Transfer-Encoding: chunked' --data-binary @- http://127.0.0.1:%u/echo/body",
             s.port);
    assert_string_equal(out, "chunk-one-chunk-two");
    free(out);
    /* all 256 byte values, 8 KiB, with Expect: 100-continue */
    snprintf(path, sizeof path, "%s/bytes.bin", s.t.home);
    f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 8192; i++)
        fputc(i % 256, f);
    fclose(f);
    out = sh(&st,
             CURL "-v -H 'Expect: 100-continue' --data-binary @%s -o %s.back "
                  "http://127.0.0.1:%u/echo/body 2>&1 && cmp %s %s.back && echo SAME",
             path, path, s.port, path, path);
    expect_has(out, "HTTP/1.1 100 Continue");
    expect_has(out, "SAME");
    free(out);
    finish(&s);
}

/* Raw bytes: a malformed request gets 400 and never reaches the actor; a
 * body above max_body_bytes gets 413; a slow client (headers never
 * finished) holds no one up. */
static void test_bad_and_slow(void **state)
{
    srv s;
    char *out, *ev;
    int st;

    (void)state;
    if (!start(&s, "{\"port\": \"0\"}", "max_body_bytes = 1024"))
        th_skip_missing("the notes example actor (the wasm32 guest toolchain)");
    out = sh(&st,
             "python3 -c 'import socket,sys; c=socket.create_connection((\"127.0.0.1\",%u)); "
             "c.sendall(b\"\\x00\\xffGARBAGE \\r\\n\\r\\n\"); "
             "sys.stdout.write(c.recv(200).decode(\"latin-1\").split(\"\\r\\n\")[0])'",
             s.port);
    assert_string_equal(out, "HTTP/1.1 400 Bad Request");
    free(out);
    out = sh(&st,
             "head -c 4096 /dev/zero | " CURL
             "-o /dev/null -w '%%{http_code}' --data-binary @- http://127.0.0.1:%u/echo/body",
             s.port);
    assert_string_equal(out, "413");
    free(out);
    /* a client that sends half its headers and waits; meanwhile others are
     * served */
    out = sh(&st,
             "python3 -c 'import socket,subprocess,sys\n"
             "c=socket.create_connection((\"127.0.0.1\",%u))\n"
             "c.sendall(b\"GET /notes HTTP/1.1\\r\\nHost: x\\r\\n\")\n"
             "r=subprocess.run([\"curl\",\"-s\",\"-m\",\"5\",\"http://127.0.0.1:%u/notes\"],"
             "capture_output=True)\n"
             "sys.stdout.write(r.stdout.decode())\n"
             "c.sendall(b\"\\r\\n\")\n"
             "sys.stdout.write(\" | \"+c.recv(100).decode().split(\"\\r\\n\")[0])'",
             s.port, s.port);
    assert_string_equal(out, "{\"count\":0,\"notes\":[]} | HTTP/1.1 200 OK");
    free(out);
    ev = events_of(&s);
    if (strstr(ev, "GARBAGE") != NULL)
        fail_msg("a malformed request reached the actor");
    free(ev);
    finish(&s);
}

/* The actor does not answer in time: 504; its queue is full: 503. */
static void test_timeout_and_full(void **state)
{
    srv s;
    char *out, path[300];
    unsigned long long calls;
    int st;

    (void)state;
    if (!start(&s, "{\"port\": \"0\"}", "request_timeout_ms = 1000\nmax_queued = 1"))
        th_skip_missing("the notes example actor (the wasm32 guest toolchain)");
    /* /slow sleeps 3 s: 504 after 1 s; while it sleeps the queue (1) is
     * full, so a second request gets 503 at once */
    calls = rtt_calls(&s.t, s.id);
    free(sh(&st,
            "(" CURL "-o /dev/null -w '%%{http_code}' http://127.0.0.1:%u/slow > %s/slow.tmp;"
            " mv %s/slow.tmp %s/slow.code) >/dev/null 2>&1 &",
            s.port, s.t.home, s.t.home, s.t.home));
    assert_true(rtt_calls_wait(&s.t, s.id, calls, 60000)); /* the actor took /slow */
    out = sh(&st, CURL "-o /dev/null -w '%%{http_code}' http://127.0.0.1:%u/notes", s.port);
    assert_string_equal(out, "503");
    free(out);
    snprintf(path, sizeof path, "%s/slow.code", s.t.home);
    for (int i = 0; i < 600 && access(path, R_OK) != 0; i++)
        usleep(100000);
    out = sh(&st, "cat %s", path);
    assert_string_equal(out, "504");
    free(out);
    /* once the actor is done with it, it answers again */
    out = NULL;
    for (int i = 0; i < 600; i++) {
        free(out);
        out = sh(&st, CURL "-o /dev/null -w '%%{http_code}' http://127.0.0.1:%u/notes", s.port);
        if (strcmp(out, "200") == 0)
            break;
        usleep(100000);
    }
    assert_string_equal(out, "200");
    free(out);
    finish(&s);
}

/* Grants: a port outside allowed_ports, or another host, is refused (init
 * fails with the reason); a child may not hold more than its parent. */
static void test_grants(void **state)
{
    srv s;
    th_spawn_opts o = {0};
    char id[TH_ACTOR_ID_SIZE];
    th_error err;

    (void)state;
    if (notes_wasm() == NULL)
        th_skip_missing("the notes example actor (the wasm32 guest toolchain)");
    memset(&s, 0, sizeof s);
    rtt_start(&s.t, 2);
    o.manifest_path = notes_manifest(&s, "notes1", "{\"port\": \"9000\"}",
                                     "allowed_ports = [8000, \"8100-8200\"]");
    assert_int_not_equal(th_runtime_spawn(s.t.rt, &o, id, &err), 0);
    expect_has(err.msg, "port 9000 is not in the actor's allowed_ports");
    o.manifest_path = notes_manifest(&s, "notes2", "{\"port\": \"80\"}", NULL);
    assert_int_not_equal(th_runtime_spawn(s.t.rt, &o, id, &err), 0);
    expect_has(err.msg, "port 80 is not in the actor's allowed_ports");
    o.manifest_path =
        notes_manifest(&s, "notes3", "{\"port\": \"0\"}", "allowed_ports = [\"9-2\"]");
    assert_int_not_equal(th_runtime_spawn(s.t.rt, &o, id, &err), 0);
    expect_has(err.msg, "allowed_ports[0]");
    /* the granted host is an address (a name failed every start-server
     * with "cannot listen on example.com:0: Invalid argument") */
    o.manifest_path = notes_manifest(&s, "notes5", "{\"port\": \"0\"}", "host = \"example.com\"");
    assert_int_not_equal(th_runtime_spawn(s.t.rt, &o, id, &err), 0);
    expect_has(err.msg,
               "field 'handler[2].host' must be an IPv4 or IPv6 address, not \"example.com\"");
    /* port 0 picks from the granted set */
    o.manifest_path =
        notes_manifest(&s, "notes4", "{\"port\": \"0\"}", "allowed_ports = [\"18300-18310\"]");
    assert_int_equal(th_runtime_spawn(s.t.rt, &o, id, &err), 0);
    {
        unsigned port = logged_port(&s, 0);
        assert_true(port >= 18300 && port <= 18310);
    }
    rtt_stop(&s.t);
}

/* Failing, stopping and restarting the actor close its servers; after a
 * restart the actor serves again on the server its init made anew. */
static void test_lifecycle(void **state)
{
    srv s;
    char *out;
    int st;
    size_t mark;
    unsigned old;
    th_error err;

    (void)state;
    if (!start(&s, "{\"port\": \"0\"}", NULL))
        th_skip_missing("the notes example actor (the wasm32 guest toolchain)");
    out = sh(&st, CURL "-X POST --data 'x' http://127.0.0.1:%u/notes", s.port);
    expect_has(out, "{\"id\":1}");
    free(out);
    pthread_mutex_lock(&s.t.log.lock);
    mark = s.t.log.len;
    pthread_mutex_unlock(&s.t.log.lock);
    old = s.port;
    assert_int_equal(th_runtime_restart(s.t.rt, s.id, &err), 0);
    s.port = logged_port(&s, mark);
    out = sh(&st, CURL "-o /dev/null -w '%%{http_code}' http://127.0.0.1:%u/notes", s.port);
    assert_string_equal(out, "200");
    free(out);
    if (old != s.port) {
        out = sh(&st, CURL "http://127.0.0.1:%u/notes 2>&1", old);
        expect_has(out, "Failed to connect");
        free(out);
    }
    /* a failing handler fails the actor: 500, then (once the failure has
     * closed its listener) nothing listens */
    out = sh(&st, CURL "-o /dev/null -w '%%{http_code}' http://127.0.0.1:%u/fail", s.port);
    assert_string_equal(out, "500");
    free(out);
    out = NULL;
    for (int i = 0; i < 600; i++) {
        free(out);
        out = sh(&st, CURL "http://127.0.0.1:%u/notes 2>&1", s.port);
        if (strstr(out, "Failed to connect") != NULL)
            break;
        usleep(100000);
    }
    expect_has(out, "Failed to connect");
    free(out);
    finish(&s);
}

/* WebSocket with node's `ws`: a message the actor sends on connect, text
 * and binary echoes in order, a fragmented message, ping/pong, close. */
static void test_websocket(void **state)
{
    srv s;
    char *out, js[600], *ev;
    int st;
    FILE *f;

    (void)state;
    out = sh(&st, "NODE_PATH=$(npm root -g 2>/dev/null) node -e 'require(\"ws\")' 2>&1");
    free(out);
    if (st != 0)
        th_skip_missing("node with the npm package ws (scripts/setup.sh installs both)");
    if (!start(&s, "{\"port\": \"0\"}", NULL))
        th_skip_missing("the notes example actor (the wasm32 guest toolchain)");
    snprintf(js, sizeof js, "%s/ws.js", s.t.home);
    f = fopen(js, "w");
    assert_non_null(f);
    fputs(
        "const WebSocket = require('ws');\n"
        "const ws = new WebSocket('ws://127.0.0.1:' + process.argv[2] + '/ws');\n"
        "const got = []; let pong = '';\n"
        "ws.on('open', () => { ws.send('hi'); ws.send(Buffer.from([0, 255, 7]));\n"
        "  ws.ping('p'); ws.send('frag1', {fin: false}); ws.send('frag2', {fin: true});\n"
        "  ws.send('bye'); });\n"
        "ws.on('message', (d, bin) => got.push(bin ? 'bin:' + d.toString('hex') : d.toString()));\n"
        "ws.on('pong', d => pong = d.toString());\n"
        "ws.on('close', (c) => { got.push('close:' + c); got.push('pong:' + pong);\n"
        "  console.log(JSON.stringify(got)); });\n"
        "ws.on('error', (e) => console.log('error ' + e));\n",
        f);
    fclose(f);
    out = sh(&st, "NODE_PATH=$(npm root -g) timeout 10 node %s %u 2>&1", js, s.port);
    /* replies in order; the pong (a control frame) may come among them */
    assert_string_equal(out, "[\"welcome 1\",\"echo: hi\",\"bin:00ff07\",\"echo: frag1frag2\","
                             "\"close:1000\",\"pong:p\"]\n");
    free(out);
    assert_true(rtt_log_wait(&s.t, "websocket 1 closed", 5000));
    ev = events_of(&s);
    expect_has(ev, "\"function\":\"handle-websocket-connect\"");
    expect_has(ev, "\"function\":\"handle-websocket-message\"");
    expect_has(ev, "\"text\":\"frag1frag2\"");
    expect_has(ev, "\"function\":\"handle-websocket-disconnect\"");
    expect_has(ev, "\"function\":\"send-websocket-message\"");
    free(ev);
    /* a plain GET on the WebSocket path is not an upgrade: no route */
    out = sh(&st, CURL "-o /dev/null -w '%%{http_code}' http://127.0.0.1:%u/ws", s.port);
    assert_string_equal(out, "404");
    free(out);
    /* a client offering subprotocols: the 101 names the first (a client
     * fails the connection otherwise); the actor hears the whole offer */
    f = fopen(js, "w");
    assert_non_null(f);
    fputs("const WebSocket = require('ws');\n"
          "const ws = new WebSocket('ws://127.0.0.1:' + process.argv[2] + '/ws',\n"
          "  ['chat', 'superchat']);\n"
          "ws.on('open', () => { console.log('protocol ' + ws.protocol); ws.close(); });\n"
          "ws.on('error', (e) => console.log('error ' + e));\n",
          f);
    fclose(f);
    out = sh(&st, "NODE_PATH=$(npm root -g) timeout 10 node %s %u 2>&1", js, s.port);
    assert_string_equal(out, "protocol chat\n");
    free(out);
    assert_true(rtt_log_wait(&s.t, "websocket 2 closed", 5000));
    ev = events_of(&s);
    expect_has(ev, "\"params\":[4,2,\"/ws\",\"chat,superchat\"]");
    free(ev);
    finish(&s);
}

/* HTTPS with a certificate made by the openssl command: the same service
 * over TLS (HTTP/1.1 and, by ALPN, HTTP/2); a certificate that does not
 * load is refused at create-server. */
static void test_tls(void **state)
{
    srv s;
    char *out, init[1200], dir[300], grant[1000];
    int st;
    th_spawn_opts o = {0};
    char id[TH_ACTOR_ID_SIZE];
    th_error err;

    (void)state;
    if (notes_wasm() == NULL)
        th_skip_missing("the notes example actor (the wasm32 guest toolchain)");
    snprintf(dir, sizeof dir, "/tmp/theater-tls-XXXXXX");
    assert_non_null(mkdtemp(dir));
    out = sh(&st,
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/key.pem -out %s/cert.pem "
             "-days 1 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>&1",
             dir, dir);
    assert_int_equal(st, 0);
    free(out);
    snprintf(init, sizeof init,
             "{\"port\": \"0\", \"cert\": \"%s/cert.pem\", \"key\": \"%s/key.pem\"}", dir, dir);
    /* the operator grants the files (the actor cannot read them) */
    snprintf(grant, sizeof grant, "tls_files = [\"%s/cert.pem\", \"%s/key.pem\"]", dir, dir);
    if (!start(&s, init, grant))
        th_skip_missing("the notes example actor (the wasm32 guest toolchain)");
    out =
        sh(&st, CURL "--cacert %s/cert.pem -X POST --data 'secret note' https://127.0.0.1:%u/notes",
           dir, s.port);
    assert_string_equal(out, "{\"id\":1}");
    free(out);
    out =
        sh(&st,
           CURL "--http2 --cacert %s/cert.pem -w ' %%{http_version}' https://127.0.0.1:%u/notes/1",
           dir, s.port);
    assert_string_equal(out, "{\"id\":1,\"text\":\"secret note\"} 2");
    free(out);
    /* plain HTTP on the TLS port does not get through */
    out = sh(&st, CURL "-o /dev/null -w '%%{http_code}' http://127.0.0.1:%u/notes", s.port);
    assert_string_not_equal(out, "200");
    free(out);
    /* a key that is not the certificate's */
    snprintf(init, sizeof init,
             "{\"port\": \"0\", \"cert\": \"%s/cert.pem\", \"key\": \"%s/cert.pem\"}", dir, dir);
    o.manifest_path = notes_manifest(&s, "badtls", init, grant);
    assert_int_not_equal(th_runtime_spawn(s.t.rt, &o, id, &err), 0);
    expect_has(err.msg, "tls-config: cannot load the private key");
    finish(&s);
    out = sh(&st, "rm -rf %s", dir);
    free(out);
}

/* The spawn of the notes actor with `init` and `grant` fails: its error
 * after the actor's id, with every `from` replaced by `to` (same length;
 * malloc'd). */
static char *tls_refusal(srv *s, const char *init, const char *grant, const char *from,
                         const char *to)
{
    th_spawn_opts o = {0};
    char id[TH_ACTOR_ID_SIZE], *m, *at;
    th_error err;

    o.manifest_path = notes_manifest(s, "tlsout", init, grant);
    assert_int_not_equal(th_runtime_spawn(s->t.rt, &o, id, &err), 0);
    assert_non_null((at = strstr(err.msg, "tls-config: ")));
    assert_non_null((m = strdup(at)));
    for (at = m; (at = strstr(at, from)) != NULL; at += strlen(to))
        memcpy(at, to, strlen(to));
    return m;
}

/* tls-config reads only files the actor's grants allow: the handler's
 * tls_files, or files inside its filesystem grant (a relative path is
 * relative to that directory).  Any other file is refused with one answer
 * whether or not it exists, before anything reads it. */
static void test_tls_confined(void **state)
{
    srv s;
    char *out, *a, *b, init[1200], dir[300], fs[400], grant[1200];
    int st;
    th_spawn_opts o = {0};
    char id[TH_ACTOR_ID_SIZE];
    th_error err;

    (void)state;
    if (notes_wasm() == NULL)
        th_skip_missing("the notes example actor (the wasm32 guest toolchain)");
    snprintf(dir, sizeof dir, "/tmp/theater-tls-XXXXXX");
    assert_non_null(mkdtemp(dir));
    out = sh(&st,
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/key.pem -out %s/cert.pem "
             "-days 1 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>&1 && "
             "mkdir %s/fs && cp %s/key.pem %s/cert.pem %s/fs/ && ln -s %s/key.pem %s/fs/out.pem",
             dir, dir, dir, dir, dir, dir, dir, dir);
    assert_int_equal(st, 0);
    free(out);
    snprintf(fs, sizeof fs, "\n[[handler]]\ntype = \"filesystem\"\npath = \"%s/fs\"\n", dir);
    /* inside the filesystem grant, by a relative path: served */
    if (!start(&s, "{\"port\": \"0\", \"cert\": \"cert.pem\", \"key\": \"key.pem\"}", fs))
        th_skip_missing("the notes example actor (the wasm32 guest toolchain)");
    out = sh(&st, CURL "--cacert %s/cert.pem -X POST --data 'n' https://127.0.0.1:%u/notes", dir,
             s.port);
    assert_string_equal(out, "{\"id\":1}");
    free(out);
    /* outside both grants: existing and missing files answer alike, with
     * no grant, with the filesystem grant (also through a symlink in it),
     * and with tls_files naming other files */
    snprintf(init, sizeof init,
             "{\"port\": \"0\", \"cert\": \"%s/cert.pem\", \"key\": \"%s/key.pem\"}", dir, dir);
    a = tls_refusal(&s, init, NULL, "cert", "XXXX");
    snprintf(init, sizeof init,
             "{\"port\": \"0\", \"cert\": \"%s/none.pem\", \"key\": \"%s/key.pem\"}", dir, dir);
    b = tls_refusal(&s, init, NULL, "none", "XXXX");
    assert_string_equal(a, b);
    expect_has(a, "is neither one of this actor's tls_files nor inside its filesystem grant");
    free(a);
    free(b);
    snprintf(init, sizeof init,
             "{\"port\": \"0\", \"cert\": \"../cert.pem\", \"key\": \"key.pem\"}");
    a = tls_refusal(&s, init, fs, "cert", "XXXX");
    snprintf(init, sizeof init,
             "{\"port\": \"0\", \"cert\": \"../none.pem\", \"key\": \"key.pem\"}");
    b = tls_refusal(&s, init, fs, "none", "XXXX");
    assert_string_equal(a, b);
    free(a);
    free(b);
    snprintf(init, sizeof init, "{\"port\": \"0\", \"cert\": \"cert.pem\", \"key\": \"out.pem\"}");
    a = tls_refusal(&s, init, fs, "out.pem", "XXXXXXX");
    expect_has(a, "'XXXXXXX' is neither one of");
    free(a);
    snprintf(grant, sizeof grant, "tls_files = [\"%s/fs/cert.pem\", \"%s/fs/key.pem\"]", dir, dir);
    snprintf(init, sizeof init,
             "{\"port\": \"0\", \"cert\": \"%s/cert.pem\", \"key\": \"%s/key.pem\"}", dir, dir);
    a = tls_refusal(&s, init, grant, "cert", "XXXX");
    expect_has(a, "is neither one of");
    free(a);
    /* tls_files name files, which must exist */
    snprintf(grant, sizeof grant, "tls_files = [\"%s/none.pem\"]", dir);
    o.manifest_path = notes_manifest(&s, "nofile", "{}", grant);
    assert_int_not_equal(th_runtime_spawn(s.t.rt, &o, id, &err), 0);
    expect_has(err.msg, "tls_files");
    /* a child's tls_files are among its parent's */
    snprintf(grant, sizeof grant, "tls_files = [\"%s/fs/cert.pem\"]", dir);
    snprintf(init, sizeof init, "tls_files = [\"%s/cert.pem\"]", dir);
    assert_int_not_equal(rtt_spawn_family(&s.t, "http-framework", grant, init, &err), 0);
    expect_has(err.msg, "tls_files lists");
    assert_int_equal(rtt_spawn_family(&s.t, "http-framework", grant, grant, &err), 0);
    finish(&s);
    out = sh(&st, "rm -rf %s", dir);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_middleware),
        cmocka_unit_test(test_bodies_keepalive),
        cmocka_unit_test(test_bad_and_slow),
        cmocka_unit_test(test_timeout_and_full),
        cmocka_unit_test(test_grants),
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_websocket),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_tls_confined),
    };
    return th_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
