/*
 * test_http_client.c - the http-client handler (src/handlers/http_client.c)
 * against a real HTTP server on 127.0.0.1 that the test runs itself
 * (libmicrohttpd, a thread per connection), through fetch_probe.c:
 * answers with their status, headers and body (binary, both ways), a
 * refused connection, a DNS failure, a timeout, an answer larger than
 * max_response_bytes, hosts not allowed (and no allowed_hosts at all),
 * bad requests, the subset rule for a child's grants, and many requests
 * at once from several actors (the actors wait, not the workers).  After
 * each test the actors' chains verify and the descriptors the test
 * process holds are back to what they were.  HTTPS trust (the handler's
 * ca_file): a python3 HTTPS server (tls_serve.py) with a certificate from
 * a CA that `openssl` makes at test time.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <microhttpd.h>

#include "theater/chain.h"
#include "rt_test_util.h"

/* ------------------------------------------------------------------ */
/* The server                                                         */

typedef struct upload {
    char *data;
    size_t len;
} upload;

static struct MHD_Daemon *g_mhd;
static unsigned g_port;
/* /slow: requests that arrived; while g_slow_hold is set, they are held
 * until the test clears it (at most a minute), else answered after 1.5 s */
static atomic_int g_slow_arrived;
static atomic_bool g_slow_hold;

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, const void *body,
                             size_t len, const char *hname, const char *hval)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;

    if (hname != NULL)
        MHD_add_response_header(r, hname, hval);
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *c, const char *url,
                             const char *method, const char *version, const char *data,
                             size_t *data_size, void **con_cls)
{
    upload *u = *con_cls;
    const char *xt;

    (void)cls;
    (void)version;
    if (u == NULL) {
        *con_cls = calloc(1, sizeof(upload));
        return MHD_YES;
    }
    if (*data_size > 0) {
        u->data = realloc(u->data, u->len + *data_size);
        memcpy(u->data + u->len, data, *data_size);
        u->len += *data_size;
        *data_size = 0;
        return MHD_YES;
    }
    xt = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Test");
    if (strcmp(url, "/hello") == 0)
        return queue(c, 200, "hello world", 11, "X-Reply", xt ? xt : "none");
    if (strcmp(url, "/echo") == 0) {
        char m[64];
        snprintf(m, sizeof m, "%s %s", method,
                 MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type") ? "typed"
                                                                                 : "untyped");
        return queue(c, 201, u->data ? u->data : "", u->len, "X-Method", m);
    }
    if (strcmp(url, "/binary") == 0) {
        unsigned char b[256];
        for (int i = 0; i < 256; i++)
            b[i] = (unsigned char)i;
        return queue(c, 200, b, sizeof b, "Content-Type", "application/octet-stream");
    }
    if (strcmp(url, "/big") == 0) {
        size_t n = 200000;
        char *b = malloc(n);
        memset(b, 'b', n);
        enum MHD_Result rc = queue(c, 200, b, n, NULL, NULL);
        free(b);
        return rc;
    }
    if (strcmp(url, "/slow") == 0) {
        atomic_fetch_add(&g_slow_arrived, 1);
        if (atomic_load(&g_slow_hold))
            for (int i = 0; i < 6000 && atomic_load(&g_slow_hold); i++)
                usleep(10000);
        else
            usleep(1500000);
        return queue(c, 200, "late", 4, NULL, NULL);
    }
    if (strcmp(url, "/latin1") == 0)
        return queue(c, 200, "", 0, "X-Name", "caf\xe9");
    if (strcmp(url, "/redirect") == 0)
        return queue(c, 302, "", 0, "Location", "/hello");
    return queue(c, 404, "no", 2, NULL, NULL);
}

static void done_cb(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    upload *u = *con_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (u != NULL) {
        free(u->data);
        free(u);
    }
    *con_cls = NULL;
}

static int server_up(void **state)
{
    rtt warm;

    (void)state;
    /* libuv's process-wide signal pipe is made with the first loop and
     * kept: made here, before any descriptor count */
    rtt_start(&warm, 1);
    rtt_stop(&warm);
    g_mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                             NULL, NULL, serve, NULL, MHD_OPTION_NOTIFY_COMPLETED, done_cb, NULL,
                             MHD_OPTION_SOCK_ADDR,
                             (struct sockaddr *)&(struct sockaddr_in){
                                 .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)},
                             MHD_OPTION_END);
    if (g_mhd == NULL)
        return -1;
    g_port = MHD_get_daemon_info(g_mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
    return 0;
}

static int server_down(void **state)
{
    (void)state;
    MHD_stop_daemon(g_mhd);
    return 0;
}

/* A port where nothing listens. */
static unsigned closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &n), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A server that is not TLS: accepts one connection, writes a line of
 * plain text and closes it (a TLS handshake with it fails at once). */
static void *plain_once(void *ud)
{
    int fd = *(int *)ud, c = accept(fd, NULL, NULL);

    if (c >= 0) {
        if (write(c, "not tls at all\r\n", 16) < 0)
            perror("write");
        close(c);
    }
    close(fd);
    return NULL;
}

static unsigned plain_server(pthread_t *th, int *fd)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;

    *fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(bind(*fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(*fd, 1), 0);
    assert_int_equal(getsockname(*fd, (struct sockaddr *)&a, &n), 0);
    pthread_create(th, NULL, plain_once, fd);
    return ntohs(a.sin_port);
}

/* ------------------------------------------------------------------ */
/* Actors                                                             */

static int fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    char p[300], l[300];
    int n = 0;

    while ((e = readdir(d)) != NULL) {
        n++;
        if (getenv("RTT_FDS") != NULL) {
            snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
            ssize_t k = readlink(p, l, sizeof l - 1);
            l[k > 0 ? k : 0] = 0;
            fprintf(stderr, "fd %s -> %s\n", e->d_name, l);
        }
    }
    closedir(d);
    return n;
}

/* The descriptors are back to `n` (the test server may still hold a
 * connection it is answering slowly: waits up to a minute). */
static void fds_back(int n)
{
    for (int i = 0; i < 6000 && fd_count() != n; i++)
        usleep(10000);
    assert_int_equal(fd_count(), n);
}

/* The probe with an http-client handler whose settings are `grant`. */
static void spawn_fetcher(rtt *t, const char *name, const char *grant, char *id)
{
    rtt_spawn_probe(t, name, "fetch_probe", "http-client", grant, id);
}

static char *fetch(rtt *t, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static char *fetch(rtt *t, const char *id, const char *fmt, ...)
{
    char *s;
    va_list ap;

    va_start(ap, fmt);
    s = rtt_askv(t, id, 120000, fmt, ap);
    va_end(ap);
    return s;
}

static void expect_has(char *s, const char *needle)
{
    if (strstr(s, needle) == NULL)
        fail_msg("'%s' lacks '%s'", s, needle);
    free(s);
}

static void collect(void *ud, const th_runtime_event *e)
{
    char **acc = ud;
    size_t n = *acc ? strlen(*acc) : 0;

    *acc = realloc(*acc, n + strlen(e->type) + e->data_len + 3);
    sprintf(*acc + n, "%s %.*s\n", e->type, (int)e->data_len, (const char *)e->data);
}

static char *events_of(rtt *t, const char *id)
{
    char *acc = NULL;
    th_error err;

    assert_int_equal(th_runtime_actor_events(t->rt, id, collect, &acc, &err), 0);
    return acc;
}

/* ------------------------------------------------------------------ */
/* Tests                                                              */

static void test_answers(void **state)
{
    rtt t;
    char id[TH_ACTOR_ID_SIZE], grant[128], *evs;
    int fds = fd_count();

    (void)state;
    rtt_start(&t, 2);
    snprintf(grant, sizeof grant, "allowed_hosts = [\"127.0.0.1:%u\"]", g_port);
    spawn_fetcher(&t, "fetch", grant, id);
    /* status, body, headers; the actor's header reached the server */
    char *s = fetch(&t, id, "GET http://127.0.0.1:%u/hello", g_port);
    if (strncmp(s, "ok 200 68656c6c6f20776f726c64\n", 30) != 0)
        fail_msg("got '%s'", s);
    expect_has(s, "X-Reply: probe");
    /* a binary body both ways, unchanged; no Content-Type added */
    expect_has(fetch(&t, id, "POST http://127.0.0.1:%u/echo 00ff0d0a7f80fe", g_port),
               "ok 201 00ff0d0a7f80fe\n");
    expect_has(fetch(&t, id, "POST http://127.0.0.1:%u/echo 00", g_port), "X-Method: POST untyped");
    expect_has(fetch(&t, id, "PUT http://127.0.0.1:%u/echo 41", g_port), "X-Method: PUT untyped");
    expect_has(fetch(&t, id, "DELETE http://127.0.0.1:%u/echo", g_port), "X-Method: DELETE");
    s = fetch(&t, id, "GET http://127.0.0.1:%u/binary", g_port);
    assert_int_equal(strncmp(s, "ok 200 000102", 13), 0);
    expect_has(s, "fdfeff\n");
    /* HEAD: headers, an empty body (some, as the original's send-http
     * answered every response); a redirect is not followed */
    expect_has(fetch(&t, id, "HEAD http://127.0.0.1:%u/hello", g_port), "ok 200 \n");
    /* an empty body is some(empty), never none */
    s = fetch(&t, id, "GET http://127.0.0.1:%u/latin1", g_port);
    if (strncmp(s, "ok 200 \n", 8) != 0)
        fail_msg("got '%s'", s);
    free(s);
    expect_has(fetch(&t, id, "GET http://127.0.0.1:%u/redirect", g_port), "Location: /hello");
    expect_has(fetch(&t, id, "GET http://127.0.0.1:%u/nothing", g_port), "ok 404 6e6f");
    /* a header that is not UTF-8 is read as ISO-8859-1 */
    expect_has(fetch(&t, id, "GET http://127.0.0.1:%u/latin1", g_port), "X-Name: caf\xc3\xa9");
    /* recorded: the request in, the response out */
    evs = events_of(&t, id);
    expect_has(evs, "\"function\":\"send-http\"");
    rtt_verify_chain(&t, id);
    rtt_stop(&t);
    fds_back(fds);
}

static void test_failures(void **state)
{
    rtt t;
    char id[TH_ACTOR_ID_SIZE], impatient[TH_ACTOR_ID_SIZE], grant[256];
    unsigned dead = closed_port();
    th_actor_status st;
    th_error err;
    int fds = fd_count();

    (void)state;
    rtt_start(&t, 2);
    /* (a transfer timeout far beyond what any of these takes on a loaded
     * machine; the timeout itself is the impatient actor's) */
    snprintf(grant, sizeof grant,
             "allowed_hosts = [\"127.0.0.1\", \"*.invalid\"]\ntimeout_ms = 60000\n"
             "max_response_bytes = 100000");
    spawn_fetcher(&t, "fetch", grant, id);
    spawn_fetcher(&t, "impatient", "allowed_hosts = [\"127.0.0.1\"]\ntimeout_ms = 500", impatient);
    expect_has(fetch(&t, id, "GET http://127.0.0.1:%u/hello", dead), "err GET http://127.0.0.1:");
    expect_has(fetch(&t, id, "GET http://127.0.0.1:%u/hello", dead), "Couldn't connect");
    expect_has(fetch(&t, id, "GET http://no-such-host.invalid/"), "resolve");
    /* TLS to a server that does not speak it: the handshake fails */
    {
        pthread_t th;
        int sfd;
        unsigned plain = plain_server(&th, &sfd);
        expect_has(fetch(&t, id, "GET https://127.0.0.1:%u/hello", plain), "SSL");
        pthread_join(th, NULL);
    }
    expect_has(fetch(&t, impatient, "GET http://127.0.0.1:%u/slow", g_port),
               "timed out after 500 ms");
    expect_has(fetch(&t, id, "GET http://127.0.0.1:%u/big", g_port),
               "larger than max_response_bytes (100000 bytes)");
    /* still fine after all that */
    expect_has(fetch(&t, id, "GET http://127.0.0.1:%u/hello", g_port), "ok 200");
    /* refusals before anything is sent */
    expect_has(fetch(&t, id, "GET http://localhost:%u/hello", g_port), "host localhost port");
    expect_has(fetch(&t, id, "GET http://127.0.0.2:%u/hello", g_port), "not in this actor's");
    expect_has(fetch(&t, id, "GET ftp://127.0.0.1/x"), "err");
    expect_has(fetch(&t, id, "GET file:///etc/passwd"), "err");
    expect_has(fetch(&t, id, "G(T http://127.0.0.1/"), "bad method");
    expect_has(fetch(&t, id, "GET not-a-url"), "err");
    assert_int_equal(th_runtime_actor_status(t.rt, id, &st, &err), 0);
    assert_int_equal(st, TH_ACTOR_RUNNING);
    rtt_verify_chain(&t, id);
    rtt_verify_chain(&t, impatient);
    rtt_stop(&t);
    fds_back(fds);
}

static void test_grants(void **state)
{
    rtt t;
    char a[TH_ACTOR_ID_SIZE], b[TH_ACTOR_ID_SIZE], c[TH_ACTOR_ID_SIZE], grant[128];

    (void)state;
    rtt_start(&t, 2);
    spawn_fetcher(&t, "none", "", a);
    expect_has(fetch(&t, a, "GET http://127.0.0.1:%u/hello", g_port),
               "err the http-client handler of this actor allows no host");
    spawn_fetcher(&t, "all", "allowed_hosts = [\"*\"]", b);
    expect_has(fetch(&t, b, "GET http://127.0.0.1:%u/hello", g_port), "ok 200");
    snprintf(grant, sizeof grant, "allowed_hosts = [\"127.0.0.1:%u\"]", g_port + 1);
    spawn_fetcher(&t, "otherport", grant, c);
    expect_has(fetch(&t, c, "GET http://127.0.0.1:%u/hello", g_port), "not in this actor's");
    /* a module that imports http-client needs the handler */
    {
        char path[512], id[TH_ACTOR_ID_SIZE];
        th_spawn_opts o = {0};
        th_error err;
        FILE *f;
        snprintf(path, sizeof path, "%s/nohandler.toml", t.home);
        f = fopen(path, "w");
        fprintf(f, "name = \"b\"\ncomponent = \"%s\"\n[[handler]]\ntype = \"message-server\"\n",
                rtt_module("fetch_probe"));
        fclose(f);
        o.manifest_path = path;
        assert_int_not_equal(th_runtime_spawn(t.rt, &o, id, &err), 0);
        assert_non_null(strstr(err.msg, "needs the \"http-client\" handler"));
    }
    rtt_verify_chain(&t, a);
    rtt_stop(&t);
}

/* Manifests: bad patterns are refused with the field named. */
static void test_manifest_checks(void **state)
{
    static const char *const bad[] = {
        "allowed_hosts = [\"exa mple.com\"]",
        "allowed_hosts = [\"a.com:0\"]",
        "allowed_hosts = [\"a.com:99999\"]",
        "allowed_hosts = [\"*a.com\"]",
        "allowed_hosts = \"a.com\"",
        "timeout_ms = 0",
        "max_response_bytes = -1",
        "allowed_host = [\"a.com\"]",
    };
    rtt t;
    char path[512];
    th_spawn_opts o = {0};
    th_error err;
    char id[TH_ACTOR_ID_SIZE];
    FILE *f;

    (void)state;
    rtt_start(&t, 1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "%s/bad%zu.toml", t.home, i);
        f = fopen(path, "w");
        fprintf(f, "name = \"b\"\ncomponent = \"%s\"\n[[handler]]\ntype = \"http-client\"\n%s\n",
                rtt_module("fetch_probe"), bad[i]);
        fclose(f);
        o.manifest_path = path;
        assert_int_not_equal(th_runtime_spawn(t.rt, &o, id, &err), 0);
        assert_non_null(strstr(err.msg, "handler[0]"));
    }
    /* ca_file: an existing file that can be read, resolved against the
     * manifest's directory (the home here, not the test's working
     * directory) */
    {
        static const char *const ca[][2] = {
            {"ca_file = \"no-such-ca.pem\"", "field 'handler[0].ca_file': file '"},
            {"ca_file = \".\"", "is not a file (a PEM bundle of CA certificates)"},
            {"ca_file = \"\"", "handler[0].ca_file"},
            {"ca_file = 1", "handler[0].ca_file"},
        };
        char where[600];
        for (size_t i = 0; i < sizeof ca / sizeof ca[0]; i++) {
            snprintf(path, sizeof path, "%s/badca%zu.toml", t.home, i);
            f = fopen(path, "w");
            fprintf(f,
                    "name = \"b\"\ncomponent = \"%s\"\n[[handler]]\ntype = \"http-client\"\n%s\n",
                    rtt_module("fetch_probe"), ca[i][0]);
            fclose(f);
            o.manifest_path = path;
            assert_int_not_equal(th_runtime_spawn(t.rt, &o, id, &err), 0);
            if (strstr(err.msg, ca[i][1]) == NULL)
                fail_msg("%s: expected '%s' in: %s", ca[i][0], ca[i][1], err.msg);
            if (i == 0) {
                snprintf(where, sizeof where, "%s/no-such-ca.pem': No such file or directory",
                         t.home);
                if (strstr(err.msg, where) == NULL)
                    fail_msg("expected '%s' in: %s", where, err.msg);
            }
        }
    }
    rtt_stop(&t);
}

/* A child's grant within its parent's (parent.wat spawns the manifest its
 * initial state names; hostile.wat imports nothing). */
static int family(rtt *t, const char *grant, const char *child_grant, th_error *err)
{
    return rtt_spawn_family(t, "http-client", grant, child_grant, err);
}

static void refused(rtt *t, const char *g, const char *cg, const char *why)
{
    th_error err;
    int rc = family(t, g, cg, &err);

    if (rc == 0 || strstr(err.msg, why) == NULL)
        fail_msg("expected a refusal with '%s', got %d: %s", why, rc, rc ? err.msg : "");
}

static void accepted(rtt *t, const char *g, const char *cg)
{
    th_error err;

    if (family(t, g, cg, &err) != 0)
        fail_msg("expected the spawn to work: %s", err.msg);
}

static void test_subset(void **state)
{
    rtt t;

    (void)state;
    rtt_start(&t, 2);
    accepted(&t, "allowed_hosts = [\"*\"]", "allowed_hosts = [\"a.com\", \"*.b.org:443\"]");
    accepted(&t, "allowed_hosts = [\"*.b.org\"]",
             "allowed_hosts = [\"x.b.org:8080\", \"*.c.b.org\"]");
    accepted(&t, "allowed_hosts = [\"a.com\"]", "");
    refused(&t, "allowed_hosts = [\"a.com\"]", "allowed_hosts = [\"*\"]",
            "allowed_hosts lists \"*\", which the parent's allowed_hosts do not cover");
    refused(&t, "allowed_hosts = [\"*.b.org\"]", "allowed_hosts = [\"b.org\"]", "\"b.org\"");
    refused(&t, "allowed_hosts = [\"a.com:80\"]", "allowed_hosts = [\"a.com\"]", "\"a.com\"");
    refused(&t, "", "allowed_hosts = [\"a.com\"]", "\"a.com\"");
    refused(&t, "timeout_ms = 100", "timeout_ms = 200",
            "timeout_ms = 200 exceeds the parent's 100");
    refused(&t, "max_response_bytes = 10", "",
            "max_response_bytes = 16777216 exceeds the parent's 10");
    /* ca_file: the child trusts what its parent trusts, the same file (as
     * a real path) or, for both, the system's store */
    {
        char a[600], b[600], ga[700], ga2[700], gb[700], why[1600];
        FILE *f;
        snprintf(a, sizeof a, "%s/a.pem", t.home);
        snprintf(b, sizeof b, "%s/b.pem", t.home);
        assert_non_null(f = fopen(a, "w"));
        fclose(f);
        assert_non_null(f = fopen(b, "w"));
        fclose(f);
        snprintf(ga, sizeof ga, "ca_file = \"%s\"", a);
        snprintf(ga2, sizeof ga2, "ca_file = \"%s/./a.pem\"", t.home);
        snprintf(gb, sizeof gb, "ca_file = \"%s\"", b);
        accepted(&t, ga, ga);
        accepted(&t, ga, ga2);
        accepted(&t, "", "");
        /* the child's file as its manifest's directory (the home) has it;
         * the parent's not named */
        refused(&t, ga, "",
                "ca_file is absent (the system's CA store), but the parent trusts only its own "
                "ca_file");
        refused(&t, "", ga, "ca_file 'a.pem' is not the parent's trust (the system's CA store)");
        snprintf(why, sizeof why, "ca_file 'b.pem' is not the parent's ca_file");
        refused(&t, ga, gb, why);
    }
    rtt_stop(&t);
}

/* ---- HTTPS trust: ca_file ---- */

/* Run a shell command; its exit status (-1 if it did not exit). */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* In a new directory `dir`: a CA (ca.pem), the certificate of a server
 * at 127.0.0.1 that the CA signed (srv.pem, srv.key; its one name is the
 * address, IP:127.0.0.1), and another CA that signed nothing (other.pem). */
static void make_pki(char *dir, size_t cap)
{
    static const char key[] = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    static const char ca_ext[] =
        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign";

    snprintf(dir, cap, "/tmp/theater-ca-XXXXXX");
    assert_non_null(mkdtemp(dir));
    if (run("(cd %s && "
            "openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 -subj '/CN=Theater test CA' "
            "%s && "
            "openssl req -x509 %s -keyout other.key -out other.pem -days 2 -subj '/CN=Other CA' "
            "%s && "
            "openssl req %s -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 && "
            "printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > srv.ext && "
            "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem "
            "-days 2 -extfile srv.ext) > %s/openssl.log 2>&1",
            dir, key, ca_ext, key, ca_ext, key, dir) != 0) {
        run("cat %s/openssl.log >&2", dir);
        fail_msg("openssl could not make the test certificates");
    }
}

/* tls_serve.py with srv.pem of `dir`: its output (the server runs until
 * killed: *pid), the port in *port. */
static FILE *tls_server(const char *dir, unsigned *port, pid_t *pid)
{
    const char *src = getenv("THEATER_SOURCE_DIR");
    char cmd[1200];
    int p = 0;
    FILE *f;

    assert_non_null(src);
    snprintf(cmd, sizeof cmd,
             "exec python3 %s/tests/integration/runtime/tls_serve.py %s/srv.pem %s/srv.key", src,
             dir, dir);
    assert_non_null(f = popen(cmd, "r"));
    if (fscanf(f, "%u %d", port, &p) != 2)
        fail_msg("tls_serve.py did not start");
    *pid = (pid_t)p;
    return f;
}

static void test_ca_file(void **state)
{
    rtt t;
    char dir[64], grant[1024], trusting[TH_ACTOR_ID_SIZE], sys[TH_ACTOR_ID_SIZE],
        other[TH_ACTOR_ID_SIZE], rel[TH_ACTOR_ID_SIZE], junk[TH_ACTOR_ID_SIZE], ca[200], *s;
    unsigned port;
    pid_t pid;
    FILE *srv;

    (void)state;
    make_pki(dir, sizeof dir);
    srv = tls_server(dir, &port, &pid);
    /* not read: without ca_file the store is the system's whatever the
     * environment says */
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    setenv("SSL_CERT_FILE", ca, 1);
    rtt_start(&t, 2);

    /* the test CA trusted: the request goes through */
    snprintf(grant, sizeof grant,
             "allowed_hosts = [\"127.0.0.1\", \"localhost\"]\nca_file = \"%s\"", ca);
    spawn_fetcher(&t, "trusting", grant, trusting);
    s = fetch(&t, trusting, "GET https://127.0.0.1:%u/hello", port);
    if (strncmp(s, "ok 200 68656c6c6f206f76657220746c73\n", 36) != 0) /* hello over tls */
        fail_msg("got '%s'", s);
    free(s);
    /* the certificate names 127.0.0.1 only: another name for the same
     * server is refused, however trusted its CA */
    expect_has(fetch(&t, trusting, "GET https://localhost:%u/hello", port),
               "err GET https://localhost:");
    expect_has(fetch(&t, trusting, "GET https://localhost:%u/hello", port),
               "no alternative certificate subject name matches target host name 'localhost'");
    /* still fine after that */
    expect_has(fetch(&t, trusting, "GET https://127.0.0.1:%u/hello", port), "ok 200");

    /* without ca_file: the system's store, which does not know the CA */
    spawn_fetcher(&t, "system", "allowed_hosts = [\"127.0.0.1\"]", sys);
    s = fetch(&t, sys, "GET https://127.0.0.1:%u/hello", port);
    expect_has(strdup(s), "err GET https://127.0.0.1:");
    expect_has(strdup(s), "SSL certificate problem: unable to get local issuer certificate");
    expect_has(s, "(trusted: the system's CA store; a handler's ca_file can name others)");

    /* another CA in ca_file: it alone is trusted, so the server is not */
    snprintf(grant, sizeof grant, "allowed_hosts = [\"127.0.0.1\"]\nca_file = \"%s/other.pem\"",
             dir);
    spawn_fetcher(&t, "other", grant, other);
    s = fetch(&t, other, "GET https://127.0.0.1:%u/hello", port);
    expect_has(strdup(s), "SSL certificate problem");
    expect_has(s, "(trusted: only the CAs of this handler's ca_file)");

    /* a relative ca_file is the manifest's directory's (the home) */
    assert_int_equal(run("mkdir %s/certs && cp %s %s/certs/ca.pem", t.home, ca, t.home), 0);
    spawn_fetcher(&t, "relative", "allowed_hosts = [\"127.0.0.1\"]\nca_file = \"certs/ca.pem\"",
                  rel);
    expect_has(fetch(&t, rel, "GET https://127.0.0.1:%u/hello", port),
               "ok 200 68656c6c6f206f76657220746c73");
    /* a ca_file libcurl cannot load: its message names the file, which
     * the actor hears of by words, not by its host path (the runtime's
     * log has that) */
    assert_int_equal(run("echo junk > %s/certs/junk.pem", t.home), 0);
    spawn_fetcher(&t, "junk", "allowed_hosts = [\"127.0.0.1\"]\nca_file = \"certs/junk.pem\"",
                  junk);
    s = fetch(&t, junk, "GET https://127.0.0.1:%u/hello", port);
    assert_null(strstr(s, t.home));
    expect_has(s, "err GET https://127.0.0.1:");
    expect_has(fetch(&t, junk, "GET https://127.0.0.1:%u/hello", port), "this handler's ca_file");
    assert_true(rtt_log_has(&t, "/certs/junk.pem"));

    rtt_verify_chain(&t, trusting);
    rtt_verify_chain(&t, sys);
    rtt_stop(&t);
    unsetenv("SSL_CERT_FILE");
    kill(pid, SIGTERM);
    pclose(srv);
    run("rm -rf %s", dir);
}

/* Many requests at once from several actors on one worker: the server
 * holds each until the test lets them go, and meanwhile another actor is
 * served (its answer comes while they all still wait: the actors wait,
 * not the worker). */
typedef struct par {
    rtt *t;
    char id[TH_ACTOR_ID_SIZE];
    char *answer;
    atomic_bool done;
} par;

static void *one(void *ud)
{
    par *p = ud;

    p->answer = fetch(p->t, p->id, "GET http://127.0.0.1:%u/slow", g_port);
    atomic_store(&p->done, true);
    return NULL;
}

static void test_concurrent(void **state)
{
    rtt t;
    par p[8];
    pthread_t th[8];
    char grant[128], other[TH_ACTOR_ID_SIZE];
    int i, waiting = 0, arrived;

    (void)state;
    rtt_start(&t, 1);
    /* (a transfer timeout beyond the longest the server may hold one) */
    snprintf(grant, sizeof grant, "allowed_hosts = [\"127.0.0.1\"]\ntimeout_ms = 120000");
    spawn_fetcher(&t, "other", grant, other);
    for (i = 0; i < 8; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        p[i].t = &t;
        atomic_init(&p[i].done, false);
        spawn_fetcher(&t, name, grant, p[i].id);
    }
    arrived = atomic_load(&g_slow_arrived);
    atomic_store(&g_slow_hold, true);
    for (i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, one, &p[i]);
    /* the slow requests are under way: all eight reached the server */
    for (i = 0; i < 6000 && atomic_load(&g_slow_arrived) - arrived < 8; i++)
        usleep(10000);
    if (atomic_load(&g_slow_arrived) - arrived != 8) {
        atomic_store(&g_slow_hold, false);
        fail_msg("%d of the 8 slow requests reached the server",
                 atomic_load(&g_slow_arrived) - arrived);
    }
    expect_has(fetch(&t, other, "GET http://127.0.0.1:%u/hello", g_port), "ok 200");
    for (i = 0; i < 8; i++)
        waiting += !atomic_load(&p[i].done);
    atomic_store(&g_slow_hold, false);
    assert_int_equal(waiting, 8);
    for (i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        expect_has(p[i].answer, "ok 200 6c617465");
    }
    rtt_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers), cmocka_unit_test(test_failures),
        cmocka_unit_test(test_grants),  cmocka_unit_test(test_manifest_checks),
        cmocka_unit_test(test_subset),  cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_ca_file),
    };
    return cmocka_run_group_tests(tests, server_up, server_down);
}
