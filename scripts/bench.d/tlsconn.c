/*
 * New TLS connections per second for scripts/bench: every request on a connection of its own,
 * with a full TLS 1.3 handshake each time.
 *
 *   tlsconn --url https://127.0.0.1:PORT/ [--conns 64] [--duration 10] [--sources 4]
 *           [--timeout 5]
 *
 * Each of --conns slots connects (from 127.0.0.1 .. 127.0.0.N in turn, N = --sources, so the
 * client's ports last), does a TLS 1.3 handshake, sends "GET PATH" with Connection: close, reads
 * the whole response, waits for the server's close and starts again. wrk with a Connection: close
 * header does not do this: it keeps each connection's TLS session and resumes it, so it measures
 * resumptions. Here the client keeps no session and asks for no ticket, and a resumed handshake
 * would be counted (resumed=) and make the run invalid. Prints one line:
 *   TLS-CONN conns=C secs=S handshakes=H rate=R errors=E resumed=X p50_us=A p99_us=B
 *            client_cpu_pct=P protocol=TLSv1.3 cipher=NAME group=NAME
 * handshakes = complete 2xx/3xx responses; p50/p99 = connect to complete response.
 *
 * One thread, epoll, non-blocking sockets, OpenSSL. Loopback addresses only.
 */
#define _GNU_SOURCE
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <strings.h>
#include <sys/epoll.h>

#include "bench.h"

enum state { CONNECTING, HANDSHAKE, WRITING, READING, DRAINING };

typedef struct {
    int fd;
    SSL *ssl;
    enum state st;
    double started;
    size_t sent;
    char in[4096];
    size_t in_len;
    long body_left; /* -1 until the head is read */
} slot;

static SSL_CTX *ctx;
static int epfd, nsources = 4, next_source;
static struct sockaddr_in target;
static char request[256];
static size_t request_len;
static long handshakes, errors, resumed;
static const char *last_error = "";
static char protocol[32], cipher[64], group[32];
static double *lat;
static size_t lat_n, lat_cap;
static int measuring;

static void watch(slot *s, unsigned events, int op) {
    struct epoll_event ev = {.events = events, .data.ptr = s};
    epoll_ctl(epfd, op, s->fd, &ev);
}

static void start(slot *s) {
    s->in_len = 0;
    s->sent = 0;
    s->body_left = -1;
    s->started = now_s();
    s->fd = source_socket(next_source++, nsources);
    if (s->fd < 0) { perror("tlsconn: socket or bind"); exit(1); }
    s->ssl = SSL_new(ctx);
    SSL_set_fd(s->ssl, s->fd);
    SSL_set_connect_state(s->ssl);
    s->st = CONNECTING;
    if (connect(s->fd, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS) {
        s->st = HANDSHAKE; /* the handshake reports the failure */
    }
    watch(s, EPOLLOUT, EPOLL_CTL_ADD);
}

static void finish(slot *s, int ok, const char *why) {
    if (!ok) {
        if (measuring) errors++;
        last_error = why;
    }
    epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
    SSL_free(s->ssl);
    close(s->fd);
    s->ssl = NULL;
    start(s);
}

/* Interprets an SSL_* result: 1 to wait for the socket (events set), 0 on failure. */
static int want(slot *s, int r) {
    int e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ) { watch(s, EPOLLIN, EPOLL_CTL_MOD); return 1; }
    if (e == SSL_ERROR_WANT_WRITE) { watch(s, EPOLLOUT, EPOLL_CTL_MOD); return 1; }
    return 0;
}

/* Parses the response head once complete: sets body_left, or returns 0 for a bad response. */
static int parse_head(slot *s) {
    char *end = memmem(s->in, s->in_len, "\r\n\r\n", 4);
    if (!end) return s->in_len < sizeof s->in - 1;
    if (s->in_len < 12 || strncmp(s->in, "HTTP/1.", 7) != 0 || (s->in[9] != '2' && s->in[9] != '3')) return 0;
    long len = -1;
    for (char *p = s->in; p < end; p++) {
        if (*p == '\n' && strncasecmp(p + 1, "content-length:", 15) == 0) len = strtol(p + 16, NULL, 10);
    }
    size_t head = (size_t)(end - s->in) + 4;
    /* Without Content-Length the body ends with the connection. */
    s->body_left = len < 0 ? -2 : len - (long)(s->in_len - head);
    s->in_len = 0;
    return 1;
}

static void done_response(slot *s) {
    if (measuring) {
        handshakes++;
        if (SSL_session_reused(s->ssl)) resumed++;
        if (lat_n == lat_cap) {
            lat_cap = lat_cap ? lat_cap * 2 : 65536;
            lat = realloc(lat, lat_cap * sizeof *lat);
            if (!lat) { perror("realloc"); exit(1); }
        }
        lat[lat_n++] = now_s() - s->started;
    }
    if (!protocol[0]) {
        snprintf(protocol, sizeof protocol, "%s", SSL_get_version(s->ssl));
        snprintf(cipher, sizeof cipher, "%s", SSL_CIPHER_get_name(SSL_get_current_cipher(s->ssl)));
        const char *g = SSL_group_to_name(s->ssl, SSL_get_negotiated_group(s->ssl));
        snprintf(group, sizeof group, "%s", g ? g : "-");
    }
    s->st = DRAINING;
}

static void step(slot *s) {
    for (;;) {
        int r;
        switch (s->st) {
        case CONNECTING: {
            int err = 0;
            socklen_t l = sizeof err;
            getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l);
            if (err) { finish(s, 0, "connect failed"); return; }
            s->st = HANDSHAKE;
            continue;
        }
        case HANDSHAKE:
            r = SSL_do_handshake(s->ssl);
            if (r == 1) { s->st = WRITING; continue; }
            if (!want(s, r)) finish(s, 0, "TLS handshake failed");
            return;
        case WRITING:
            r = SSL_write(s->ssl, request + s->sent, (int)(request_len - s->sent));
            if (r > 0) {
                s->sent += (size_t)r;
                if (s->sent == request_len) { s->st = READING; watch(s, EPOLLIN, EPOLL_CTL_MOD); }
                continue;
            }
            if (!want(s, r)) finish(s, 0, "write failed");
            return;
        case READING:
        case DRAINING: {
            char skip[16384];
            char *dst = s->body_left == -1 ? s->in + s->in_len : skip;
            int cap = s->body_left == -1 ? (int)(sizeof s->in - 1 - s->in_len) : (int)sizeof skip;
            r = SSL_read(s->ssl, dst, cap);
            if (r > 0) {
                if (s->st == DRAINING) continue;
                if (s->body_left == -1) {
                    s->in_len += (size_t)r;
                    if (!parse_head(s)) { finish(s, 0, "not a 2xx/3xx HTTP response"); return; }
                } else if (s->body_left >= 0) {
                    s->body_left -= r;
                }
                if (s->body_left == 0) done_response(s);
                continue;
            }
            int e = SSL_get_error(s->ssl, r);
            if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
                /* The server closed: the end of a response without Content-Length, or after one. */
                if (s->st == READING && s->body_left == -2) done_response(s);
                if (s->st == DRAINING) finish(s, 1, "");
                else finish(s, 0, "closed before the response was complete");
                ERR_clear_error();
                return;
            }
            if (!want(s, r)) {
                ERR_clear_error();
                finish(s, s->st == DRAINING, "read failed");
            }
            return;
        }
        }
    }
}

int main(int argc, char **argv) {
    const char *url = NULL;
    int conns = 64;
    double duration = 10, timeout = 5;
    const option opts[] = {
        {"--url", 's', &url}, {"--conns", 'i', &conns}, {"--duration", 'd', &duration},
        {"--sources", 'i', &nsources}, {"--timeout", 'd', &timeout}, {NULL},
    };
    char hostport[32], path[128];
    if (parse_options(argc, argv, 1, opts, "tlsconn") < 0 || !url || conns <= 0 || nsources <= 0 ||
        loopback_url(url, "https", &target, hostport, sizeof hostport, path, sizeof path) < 0) {
        fprintf(stderr, "usage: tlsconn --url https://127.x.x.x:PORT/ [--conns N] [--duration S] [--sources N] "
                        "[--timeout S]\n");
        return 2;
    }
    request_len = (size_t)snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                                   path, hostport);
    signal(SIGPIPE, SIG_IGN);

    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* the benchmark's own self-signed certificate */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);

    epfd = epoll_create1(0);
    slot *slots = calloc((size_t)conns, sizeof *slots);
    for (int i = 0; i < conns; i++) start(&slots[i]);
    measuring = 1;
    double t0 = now_s(), c0 = cpu_s(), end = t0 + duration;
    struct epoll_event evs[256];
    double last_check = t0;
    while (now_s() < end) {
        int n = epoll_wait(epfd, evs, 256, 100);
        if (n < 0 && errno != EINTR) { perror("epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) step(evs[i].data.ptr);
        double t = now_s();
        if (t - last_check >= 0.5) {
            last_check = t;
            for (int i = 0; i < conns; i++)
                if (t - slots[i].started > timeout) finish(&slots[i], 0, "timeout");
        }
    }
    double secs = now_s() - t0, cpu = cpu_s() - c0;
    double p50, p99;
    percentiles_us(lat, lat_n, &p50, &p99);
    printf("TLS-CONN conns=%d secs=%.3f handshakes=%ld rate=%.1f errors=%ld resumed=%ld p50_us=%.0f p99_us=%.0f "
           "client_cpu_pct=%.1f protocol=%s cipher=%s group=%s%s%s%s\n",
           conns, secs, handshakes, handshakes / secs, errors, resumed, p50, p99, cpu / secs * 100,
           protocol[0] ? protocol : "-", cipher[0] ? cipher : "-", group[0] ? group : "-",
           *last_error ? " error=\"" : "", last_error, *last_error ? "\"" : "");
    return errors || resumed ? 1 : 0;
}
