/*
 * raw_client.c - clients that misbehave on purpose, for the daemon's
 * integration tests (daemon.sh): what curl cannot do.
 *
 *   raw_client slowloris SOCK TIMEOUT_S
 *       sends a request's headers one byte every 300 ms; meanwhile another
 *       client must be served at once, and the slow connection must be
 *       closed by the daemon within TIMEOUT_S + 3 s.
 *   raw_client slowsse SOCK ACTOR N
 *       opens ACTOR's event stream with a tiny receive buffer and reads
 *       nothing while N one-way messages go to ACTOR over another
 *       connection (each answered 202 at once: the actor is not held up);
 *       then reads the stream: it must end with `event: overflow` naming
 *       the last sequence sent, after the events 0..that sequence in order.
 *
 * Exit status 0 when every check holds, 1 with a message otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what, const char *arg)
{
    fprintf(stderr, "raw_client: %s%s\n", what, arg);
    return 1;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(const char *path, int rcvbuf)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read one response (headers + Content-Length body) from a keep-alive
 * connection; returns the status or -1. */
static int read_response(int fd, double timeout)
{
    char buf[65536];
    size_t len = 0;
    double end = now_s() + timeout;
    char *hdr_end, *cl;
    long body;

    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t r;
        buf[len] = 0;
        if ((hdr_end = strstr(buf, "\r\n\r\n")) != NULL) {
            cl = strcasestr(buf, "content-length:");
            body = cl ? strtol(cl + 15, NULL, 10) : 0;
            if ((size_t)(hdr_end + 4 - buf) + (size_t)body <= len)
                return (int)strtol(buf + 9, NULL, 10);
        }
        if (now_s() > end || len + 1 >= sizeof buf)
            return -1;
        if (poll(&p, 1, 100) <= 0)
            continue;
        r = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (r <= 0)
            return -1;
        len += (size_t)r;
    }
}

static int slowloris(const char *sock, int timeout_s)
{
    static const char head[] = "GET /v1/health HTTP/1.1\r\nHost: theater\r\nX-Slow: ";
    int slow = dial(sock, 0), fast;
    double t0 = now_s(), t;
    char c = 'a';
    int st;

    if (slow < 0 || send_all(slow, head, sizeof head - 1) != 0)
        return fail("cannot connect to ", sock);
    /* another client is served while the slow one dribbles */
    fast = dial(sock, 0);
    if (fast < 0 || send_all(fast, "GET /v1/health HTTP/1.1\r\nHost: theater\r\n\r\n", 42) != 0)
        return fail("cannot connect a second client to ", sock);
    t = now_s();
    st = read_response(fast, 2.0);
    if (st != 200)
        return fail("", "a normal client was not served while a slow one was connected");
    printf("normal client served in %.0f ms beside the slow one\n", (now_s() - t) * 1000);
    close(fast);
    for (;;) {
        if (send(slow, &c, 1, MSG_NOSIGNAL) != 1)
            break; /* closed by the daemon */
        {
            struct pollfd p = {slow, POLLIN, 0};
            char buf[512];
            if (poll(&p, 1, 300) > 0 && recv(slow, buf, sizeof buf, 0) <= 0)
                break;
        }
        if (now_s() - t0 > timeout_s + 3)
            return fail("", "the slow client was not disconnected in time");
    }
    printf("slow client disconnected after %.1f s\n", now_s() - t0);
    close(slow);
    return 0;
}

/* The body of a chunked response in `all` (headers included), decoded in
 * place after a leading newline.  Returns its length or -1. */
static long dechunk(char *all, size_t len)
{
    char *p = strstr(all, "\r\n\r\n"), *out = all, *end = all + len;
    unsigned long n;

    if (p == NULL)
        return -1;
    p += 4;
    *out++ = '\n';
    while (p < end) {
        n = strtoul(p, &p, 16);
        if ((p = strstr(p, "\r\n")) == NULL)
            return -1;
        p += 2;
        if (n == 0 || p + n > end)
            break;
        memmove(out, p, n);
        out += n;
        p += n + 2;
    }
    *out = 0;
    return out - all;
}

static int slowsse(const char *sock, const char *actor, int n)
{
    char req[512], *all = NULL, *p, *ov;
    size_t len = 0, cap = 0;
    int sse = dial(sock, 4096), cmd, i, st;
    long expect = 0, last_sent;
    double t0;

    if (sse < 0)
        return fail("cannot connect to ", sock);
    /* (Connection: close: the end of the response is the end of the
     * connection, which is what the drain below waits for; a kept-alive
     * connection would stay open until the client timeout) */
    snprintf(req, sizeof req,
             "GET /v1/actors/%s/events?follow=1 HTTP/1.1\r\nHost: theater\r\nConnection: "
             "close\r\n\r\n",
             actor);
    if (send_all(sse, req, strlen(req)) != 0)
        return fail("", "cannot send the stream request");
    cmd = dial(sock, 0);
    if (cmd < 0)
        return fail("cannot connect to ", sock);
    t0 = now_s();
    for (i = 0; i < n; i++) {
        snprintf(req, sizeof req,
                 "POST /v1/actors/%s/messages HTTP/1.1\r\nHost: theater\r\nContent-Length: "
                 "5\r\n\r\nhello",
                 actor);
        if (send_all(cmd, req, strlen(req)) != 0 || (st = read_response(cmd, 5.0)) != 202)
            return fail("", "a message was not accepted while the stream client was stuck");
    }
    printf("%d messages accepted in %.0f ms while the stream client read nothing\n", n,
           (now_s() - t0) * 1000);
    close(cmd);
    /* now drain the stream: it must end */
    for (;;) {
        struct pollfd pf = {sse, POLLIN, 0};
        ssize_t r;
        if (len + 65536 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            all = realloc(all, cap);
            if (all == NULL)
                return fail("", "out of memory");
        }
        if (poll(&pf, 1, 10000) <= 0)
            return fail("", "the stream of a client that fell behind did not end");
        r = recv(sse, all + len, cap - len - 1, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    all[len] = 0;
    close(sse);
    if (dechunk(all, len) < 0)
        return fail("", "the stream is not a chunked HTTP response");
    ov = strstr(all, "event: overflow\ndata: {\"last_sent\":");
    if (ov == NULL)
        return fail("", "no `event: overflow` at the end of the stream");
    last_sent = strtol(strstr(ov, "last_sent\":") + 11, NULL, 10);
    /* every id from 0 to last_sent, in order, before the overflow */
    for (p = all; (p = strstr(p, "\nid: ")) != NULL && p < ov; p += 5) {
        long id = strtol(p + 5, NULL, 10);
        if (id != expect) {
            fprintf(stderr, "raw_client: event %ld where %ld was expected\n", id, expect);
            return 1;
        }
        expect++;
    }
    if (expect - 1 != last_sent) {
        fprintf(stderr, "raw_client: overflow names %ld but the last event sent was %ld\n",
                last_sent, expect - 1);
        return 1;
    }
    printf("stream ended with event: overflow after events 0..%ld\n", last_sent);
    free(all);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "slowloris") == 0)
        return slowloris(argv[2], atoi(argv[3]));
    if (argc == 5 && strcmp(argv[1], "slowsse") == 0)
        return slowsse(argv[2], argv[3], atoi(argv[4]));
    fprintf(stderr, "usage: raw_client slowloris SOCK TIMEOUT_S | slowsse SOCK ACTOR N\n");
    return 2;
}
