/*
 * WebSocket echo server and ping-pong load client for scripts/bench, in C so that the load side
 * costs little per message and the proxy between them, not the client, is what is measured.
 *
 *   wsbench echo PORT
 *       Echoes every message back on its connection (loopback only). Answers pings, and close
 *       frames with a close frame.
 *   wsbench load --url ws://127.0.0.1:PORT/ [--url ...] [--clients 64] [--duration 10]
 *                [--size 32] [--connect-timeout 15]
 *       Each client sends one message and the next as soon as the echo arrives, so at most one
 *       message per connection is in flight (as scripts/bench.d/ws-load.js). Prints one line:
 *       WS-LOAD msgs=N secs=S rate=R clients=C errors=E client_cpu_pct=P
 *   wsbench storm --url ws://127.0.0.1:PORT/ [--url ...] [--count 10000] [--inflight 1000]
 *                 [--sources 4] [--timeout 60] [--hold 0]
 *       A reconnect storm: opens --count connections as fast as it can, at most --inflight
 *       handshakes under way at once (a new one as soon as one ends), from 127.0.0.1 ..
 *       127.0.0.N (N = --sources), sends the Upgrade and counts the 101s. Connections that got
 *       their 101 are held open without traffic (as reconnected clients stay) until exit, --hold
 *       seconds after the line below. rate = 101s per second from the first connect to the last
 *       101; p50/p99 = connect to 101 of one connection:
 *       WS-STORM count=N opened=O errors=E secs=S rate=R p50_us=A p99_us=B inflight=I client_cpu_pct=P
 *
 * One thread, epoll, non-blocking sockets with TCP_NODELAY. Frames up to 2^31 bytes.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <strings.h>
#include <sys/epoll.h>

#include "bench.h"

#define MAX_URLS 16
#define MAX_EVENTS 256

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* ---- SHA-1 and base64, for Sec-WebSocket-Accept only ---------------------------------- */

static uint32_t rol(uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }

static void sha1(const unsigned char *msg, size_t len, unsigned char out[20]) {
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    size_t total = ((len + 8) / 64 + 1) * 64;
    unsigned char *m = calloc(total, 1);
    if (!m) { perror("calloc"); exit(1); }
    memcpy(m, msg, len);
    m[len] = 0x80;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) m[total - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t off = 0; off < total; off += 64) {
        uint32_t w[80];
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)m[off + 4 * i] << 24 | (uint32_t)m[off + 4 * i + 1] << 16 |
                   (uint32_t)m[off + 4 * i + 2] << 8 | m[off + 4 * i + 3];
        for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
            uint32_t f, k;
            if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
            else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
            else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
            else { f = b ^ c ^ d; k = 0xCA62C1D6; }
            uint32_t t = rol(a, 5) + f + e + k + w[i];
            e = d; d = c; c = rol(b, 30); b = a; a = t;
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
    }
    free(m);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++) out[4 * i + j] = (unsigned char)(h[i] >> (24 - 8 * j));
}

static void base64(const unsigned char *in, size_t n, char *out) {
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = t[v >> 18 & 63];
        out[o++] = t[v >> 12 & 63];
        out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = 0;
}

/* ---- connections ---------------------------------------------------------------------- */

typedef struct {
    unsigned char *p;
    size_t len, cap;
} buf;

static void buf_append(buf *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) { perror("realloc"); exit(1); }
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void buf_consume(buf *b, size_t n) {
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

static void buf_free(buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

typedef struct {
    int fd;
    int open;      /* handshake done */
    int want_out;  /* EPOLLOUT registered */
    buf in, out;
} conn;

static int epfd;

static void set_events(conn *c, int out) {
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = out;
}

/* Sends what is queued; 0 on success (maybe still queued), -1 when the connection failed. */
static int flush_out(conn *c) {
    while (c->out.len > 0) {
        ssize_t n = send(c->fd, c->out.p, c->out.len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!c->want_out) set_events(c, 1);
                return 0;
            }
            if (errno == EINTR) continue;
            return -1;
        }
        buf_consume(&c->out, (size_t)n);
    }
    if (c->want_out) set_events(c, 0);
    return 0;
}

static void queue(conn *c, const void *data, size_t n) { buf_append(&c->out, data, n); }

/* Reads what the socket has into c->in: 1 if something was read, 0 if nothing, -1 at the end or an error. */
static int read_in(conn *c) {
    int got = 0;
    for (;;) {
        if (c->in.cap - c->in.len < 4096) {
            size_t cap = c->in.cap ? c->in.cap * 2 : 8192;
            c->in.p = realloc(c->in.p, cap);
            if (!c->in.p) { perror("realloc"); exit(1); }
            c->in.cap = cap;
        }
        ssize_t n = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
        if (n > 0) {
            c->in.len += (size_t)n;
            got = 1;
            continue;
        }
        if (n == 0) return -1;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return got;
        if (errno == EINTR) continue;
        return -1;
    }
}

/* Parses one frame at the start of b: its total length, or 0 if incomplete. */
static size_t frame(const buf *b, int *opcode, size_t *payload_off, size_t *payload_len, int *masked) {
    if (b->len < 2) return 0;
    const unsigned char *p = b->p;
    uint64_t len = p[1] & 0x7f;
    size_t hdr = 2;
    if (len == 126) {
        if (b->len < 4) return 0;
        len = (uint64_t)p[2] << 8 | p[3];
        hdr = 4;
    } else if (len == 127) {
        if (b->len < 10) return 0;
        len = 0;
        for (int i = 0; i < 8; i++) len = len << 8 | p[2 + i];
        hdr = 10;
        if (len > (1u << 31)) { fprintf(stderr, "wsbench: frame of %llu bytes\n", (unsigned long long)len); exit(1); }
    }
    *masked = (p[1] & 0x80) != 0;
    if (*masked) hdr += 4;
    if (b->len < hdr + len) return 0;
    *opcode = p[0] & 0x0f;
    *payload_off = hdr;
    *payload_len = (size_t)len;
    return hdr + (size_t)len;
}

/* Appends a frame header with FIN set; a client's frames carry a (fixed) masking key. */
static void frame_head(buf *out, int opcode, size_t len, const unsigned char *mask) {
    unsigned char h[14];
    size_t n = 0;
    h[n++] = (unsigned char)(0x80 | opcode);
    unsigned char m = mask ? 0x80 : 0;
    if (len < 126) {
        h[n++] = (unsigned char)(m | len);
    } else if (len < 65536) {
        h[n++] = m | 126;
        h[n++] = (unsigned char)(len >> 8);
        h[n++] = (unsigned char)len;
    } else {
        h[n++] = m | 127;
        for (int i = 7; i >= 0; i--) h[n++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    if (mask) { memcpy(h + n, mask, 4); n += 4; }
    buf_append(out, h, n);
}

/* ---- echo server ---------------------------------------------------------------------- */

static void close_conn(conn *c) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    free(c);
}

/* Answers the upgrade request once its head is complete: 1 done, 0 incomplete, -1 bad request. */
static int server_handshake(conn *c) {
    unsigned char *end = memmem(c->in.p, c->in.len, "\r\n\r\n", 4);
    if (!end) return c->in.len > 16384 ? -1 : 0;
    size_t head_len = (size_t)(end - c->in.p) + 4;
    char key[128] = {0};
    for (size_t i = 0; i + 1 < head_len; i++) {
        if (c->in.p[i] == '\n' && head_len - i > 19 && strncasecmp((char *)c->in.p + i + 1, "sec-websocket-key:", 18) == 0) {
            size_t k = i + 19, n = 0;
            while (k < head_len && (c->in.p[k] == ' ' || c->in.p[k] == '\t')) k++;
            while (k < head_len && c->in.p[k] != '\r' && n < sizeof key - 1) key[n++] = (char)c->in.p[k++];
            break;
        }
    }
    if (!key[0]) {
        static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        queue(c, bad, sizeof bad - 1);
        flush_out(c);
        return -1;
    }
    char joined[256];
    snprintf(joined, sizeof joined, "%s%s", key, GUID);
    unsigned char digest[20];
    sha1((unsigned char *)joined, strlen(joined), digest);
    char accept[32];
    base64(digest, 20, accept);
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
    queue(c, resp, (size_t)n);
    buf_consume(&c->in, head_len);
    c->open = 1;
    return 1;
}

/* Echoes every complete frame; -1 when the connection is to be closed. */
static int server_frames(conn *c) {
    int opcode, masked;
    size_t off, len, total;
    while ((total = frame(&c->in, &opcode, &off, &len, &masked)) > 0) {
        unsigned char *payload = c->in.p + off;
        if (masked) {
            const unsigned char *mask = payload - 4;
            for (size_t i = 0; i < len; i++) payload[i] ^= mask[i & 3];
        }
        int reply = opcode == 9 ? 10 : opcode; /* a ping gets a pong */
        if (opcode != 10) {                    /* pongs need no answer */
            frame_head(&c->out, reply, len, NULL);
            queue(c, payload, len);
        }
        buf_consume(&c->in, total);
        if (opcode == 8) return -1; /* close: the close frame goes back, then the connection ends */
    }
    return 0;
}

static int run_echo(int port) {
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4096) < 0) {
        fprintf(stderr, "wsbench echo: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    epfd = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, ls, &ev);
    printf("wsbench echo listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(epfd, evs, MAX_EVENTS, -1);
        if (n < 0 && errno != EINTR) { perror("epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    nodelay(fd);
                    conn *nc = calloc(1, sizeof *nc);
                    nc->fd = fd;
                    struct epoll_event e = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
                }
                continue;
            }
            if (evs[i].events & EPOLLOUT && flush_out(c) < 0) { close_conn(c); continue; }
            if (!(evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
            int r = read_in(c);
            int done = r < 0;
            if (!c->open && c->in.len > 0) {
                int h = server_handshake(c);
                if (h < 0) done = 1;
            }
            if (c->open && server_frames(c) < 0) done = 1;
            if (flush_out(c) < 0 || done) close_conn(c);
        }
    }
}

/* ---- load client ---------------------------------------------------------------------- */

/* Sends the client's message; -1 when the connection failed. */
static int send_message(conn *c, const buf *msg) {
    queue(c, msg->p, msg->len);
    return flush_out(c);
}

/* Ends a client whose connection failed: it takes no further part in the run. */
static void drop(conn *c) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
}

/* Each ws://127.x.x.x:PORT/ URL: its address and its "host:port"; -1 after naming one that is not. */
static int parse_urls(const char **urls, int nurls, struct sockaddr_in *addrs, char (*hostports)[96],
                      const char *prog) {
    for (int u = 0; u < nurls; u++) {
        if (loopback_url(urls[u], "ws", &addrs[u], hostports[u], sizeof hostports[u], NULL, 0) < 0) {
            fprintf(stderr, "%s: '%s' is not ws://127.x.x.x:PORT/\n", prog, urls[u]);
            return -1;
        }
    }
    return 0;
}

static int run_load(int argc, char **argv) {
    const char *urls[MAX_URLS];
    int nurls = 0, clients = 64, size = 32;
    double duration = 10, connect_timeout = 15;
    const option opts[] = {
        {"--url", 'S', urls, MAX_URLS, &nurls}, {"--clients", 'i', &clients}, {"--duration", 'd', &duration},
        {"--size", 'i', &size}, {"--connect-timeout", 'd', &connect_timeout}, {NULL},
    };
    if (parse_options(argc, argv, 2, opts, "wsbench load") < 0) return 2;
    if (nurls == 0 || clients <= 0 || size <= 0) {
        fprintf(stderr, "wsbench load: --url ws://127.x.x.x:PORT/ is required; --clients and --size must be > 0\n");
        return 2;
    }
    struct sockaddr_in addrs[MAX_URLS];
    char hostports[MAX_URLS][96];
    if (parse_urls(urls, nurls, addrs, hostports, "wsbench load") < 0) return 2;
    /* The message each client sends, masked once: the same bytes every time. */
    unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    buf msg = {0};
    frame_head(&msg, 1, (size_t)size, mask);
    for (int i = 0; i < size; i++) {
        unsigned char ch = (unsigned char)('x' ^ mask[i & 3]);
        buf_append(&msg, &ch, 1);
    }

    epfd = epoll_create1(0);
    conn *cs = calloc((size_t)clients, sizeof *cs);
    long errors = 0;
    int opened = 0;
    for (int i = 0; i < clients; i++) {
        int u = i % nurls;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        nodelay(fd);
        if (connect(fd, (struct sockaddr *)&addrs[u], sizeof addrs[u]) < 0 && errno != EINPROGRESS) {
            fprintf(stderr, "wsbench load: connect %s: %s\n", hostports[u], strerror(errno));
            errors++;
        }
        cs[i].fd = fd;
        char req[512];
        int n = snprintf(req, sizeof req,
                         "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                         hostports[u]);
        queue(&cs[i], req, (size_t)n);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = &cs[i]};
        cs[i].want_out = 1;
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }

    struct epoll_event evs[MAX_EVENTS];
    double start = now_s(), t0 = 0, cpu0 = 0, end = start + connect_timeout;
    long received = 0;
    int running = 0;
    const char *last_error = "";
    while (now_s() < end) {
        int wait_ms = (int)((end - now_s()) * 1000) + 1;
        int n = epoll_wait(epfd, evs, MAX_EVENTS, wait_ms);
        if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (c->fd < 0) continue;
            int failed = 0;
            if (evs[i].events & EPOLLOUT && flush_out(c) < 0) failed = 1;
            if (!failed && evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                int r = read_in(c);
                if (r < 0) failed = 1;
                if (!c->open && c->in.len > 0) {
                    unsigned char *h = memmem(c->in.p, c->in.len, "\r\n\r\n", 4);
                    if (h) {
                        if (c->in.len < 12 || memcmp(c->in.p, "HTTP/1.1 101", 12) != 0) {
                            last_error = "the handshake was not answered with 101";
                            failed = 1;
                        } else {
                            buf_consume(&c->in, (size_t)(h - c->in.p) + 4);
                            c->open = 1;
                            if (++opened == clients) {
                                /* Everyone is connected: every client sends its first message. */
                                running = 1;
                                t0 = now_s();
                                cpu0 = cpu_s();
                                end = t0 + duration;
                                for (int k = 0; k < clients; k++) {
                                    if (cs[k].fd < 0 || &cs[k] == c) continue;
                                    if (send_message(&cs[k], &msg) < 0) {
                                        errors++;
                                        last_error = "send failed";
                                        drop(&cs[k]);
                                    }
                                }
                                if (send_message(c, &msg) < 0) failed = 1;
                            }
                        }
                    }
                }
                int opcode, masked;
                size_t off, len, total;
                while (!failed && c->open && (total = frame(&c->in, &opcode, &off, &len, &masked)) > 0) {
                    buf_consume(&c->in, total);
                    if (opcode == 8) { failed = 1; last_error = "closed by the server"; break; }
                    if (!running) continue;
                    received++;
                    if (send_message(c, &msg) < 0) failed = 1;
                }
            }
            if (failed) {
                errors++;
                if (!*last_error) last_error = "connection failed or closed during the run";
                drop(c);
            }
        }
    }
    if (!running) {
        printf("WS-LOAD msgs=0 secs=0 rate=0 clients=%d errors=%ld client_cpu_pct=0 error=\"only %d/%d connections "
               "opened in %.0fs %s\"\n", opened, errors + 1, opened, clients, connect_timeout, last_error);
        return 1;
    }
    double secs = now_s() - t0;
    double cpu = cpu_s() - cpu0;
    printf("WS-LOAD msgs=%ld secs=%.3f rate=%.1f clients=%d errors=%ld client_cpu_pct=%.1f%s%s%s\n", received, secs,
           received / secs, opened, errors, cpu / secs * 100, *last_error ? " error=\"" : "", last_error,
           *last_error ? "\"" : "");
    return errors > 0 ? 1 : 0;
}

/* ---- reconnect storm ------------------------------------------------------------------ */

typedef struct {
    int fd, url, state; /* state: 0 connecting, 1 sent, 2 open, 3 failed */
    double started;
    size_t sent, got;
    char head[1024];
} stormer;

static int run_storm(int argc, char **argv) {
    const char *urls[MAX_URLS];
    int nurls = 0, count = 10000, inflight = 1000, sources = 4;
    double timeout = 60, hold = 0;
    const option opts[] = {
        {"--url", 'S', urls, MAX_URLS, &nurls}, {"--count", 'i', &count}, {"--inflight", 'i', &inflight},
        {"--sources", 'i', &sources}, {"--timeout", 'd', &timeout}, {"--hold", 'd', &hold}, {NULL},
    };
    if (parse_options(argc, argv, 2, opts, "wsbench storm") < 0) return 2;
    if (nurls == 0 || count <= 0 || inflight <= 0 || sources <= 0) {
        fprintf(stderr, "wsbench storm: --url ws://127.x.x.x:PORT/ is required; --count, --inflight and --sources "
                        "must be > 0\n");
        return 2;
    }
    struct sockaddr_in addrs[MAX_URLS];
    char hostports[MAX_URLS][96];
    if (parse_urls(urls, nurls, addrs, hostports, "wsbench storm") < 0) return 2;
    epfd = epoll_create1(0);
    stormer *ss = calloc((size_t)count, sizeof *ss);
    double *lat = calloc((size_t)count, sizeof *lat);
    int next = 0, pending = 0, opened = 0;
    long errors = 0;
    const char *last_error = "";
    double t0 = now_s(), c0 = cpu_s(), last_open = t0, end = t0 + timeout;
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        /* Keeps --inflight handshakes under way: a new connection as soon as one ends. */
        while (pending < inflight && next < count) {
            stormer *s = &ss[next];
            s->url = next % nurls;
            s->started = now_s();
            s->fd = source_socket(next, sources);
            if (s->fd < 0 && (errno == EMFILE || errno == ENFILE)) {
                fprintf(stderr, "wsbench storm: socket: %s (ulimit -n?)\n", strerror(errno));
                return 1;
            }
            next++;
            pending++;
            if (s->fd < 0 ||
                (connect(s->fd, (struct sockaddr *)&addrs[s->url], sizeof addrs[s->url]) < 0 && errno != EINPROGRESS)) {
                last_error = strerror(errno);
                s->state = 3;
                if (s->fd >= 0) close(s->fd);
                errors++;
                pending--;
                continue;
            }
            struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
            epoll_ctl(epfd, EPOLL_CTL_ADD, s->fd, &ev);
        }
        if (pending == 0 && next == count) break;
        double t = now_s();
        if (t >= end) break;
        int n = epoll_wait(epfd, evs, MAX_EVENTS, (int)((end - t) * 1000) + 1);
        if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) {
            stormer *s = evs[i].data.ptr;
            int failed = 0;
            if (s->state == 0) {
                int err = 0;
                socklen_t l = sizeof err;
                getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l);
                if (err) { failed = 1; last_error = strerror(err); }
                else {
                    char req[512];
                    int len = snprintf(req, sizeof req,
                                       "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                                       hostports[s->url]);
                    /* A fresh socket's send buffer takes the whole request at once. */
                    if (send(s->fd, req, (size_t)len, MSG_NOSIGNAL) != len) { failed = 1; last_error = "send failed"; }
                    else {
                        s->state = 1;
                        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
                        epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev);
                    }
                }
            } else if (s->state == 1) {
                ssize_t r = recv(s->fd, s->head + s->got, sizeof s->head - 1 - s->got, 0);
                if (r <= 0) {
                    if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                    failed = 1;
                    last_error = r == 0 ? "closed before the 101" : strerror(errno);
                } else {
                    s->got += (size_t)r;
                    if (memmem(s->head, s->got, "\r\n\r\n", 4)) {
                        if (s->got < 12 || memcmp(s->head, "HTTP/1.1 101", 12) != 0) {
                            failed = 1;
                            last_error = "the handshake was not answered with 101";
                        } else {
                            /* Open: held without traffic, no longer watched. */
                            last_open = now_s();
                            lat[opened++] = last_open - s->started;
                            s->state = 2;
                            epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
                            pending--;
                        }
                    } else if (s->got >= sizeof s->head - 1) {
                        failed = 1;
                        last_error = "response head too large";
                    }
                }
            }
            if (failed) {
                epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
                close(s->fd);
                s->state = 3;
                errors++;
                pending--;
            }
        }
    }
    /* Handshakes still under way at the timeout count as errors. */
    for (int i = 0; i < next; i++) {
        if (ss[i].state < 2) { errors++; last_error = "timeout"; }
    }
    errors += count - next;
    double secs = last_open - t0, cpu = cpu_s() - c0;
    double p50, p99;
    percentiles_us(lat, (size_t)opened, &p50, &p99);
    printf("WS-STORM count=%d opened=%d errors=%ld secs=%.3f rate=%.1f p50_us=%.0f p99_us=%.0f inflight=%d "
           "client_cpu_pct=%.1f%s%s%s\n",
           count, opened, errors, secs, secs > 0 ? opened / secs : 0, p50, p99, inflight,
           now_s() > t0 ? cpu / (now_s() - t0) * 100 : 0, *last_error ? " error=\"" : "", last_error,
           *last_error ? "\"" : "");
    fflush(stdout);
    if (hold > 0) {
        struct timespec h = {(time_t)hold, (long)((hold - (time_t)hold) * 1e9)};
        nanosleep(&h, NULL);
    }
    return errors > 0 ? 1 : 0;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 3 && !strcmp(argv[1], "echo")) return run_echo(atoi(argv[2]));
    if (argc >= 2 && !strcmp(argv[1], "load")) return run_load(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "storm")) return run_storm(argc, argv);
    fprintf(stderr, "usage: wsbench echo PORT | wsbench load --url ws://127.0.0.1:PORT/ [--clients N] "
                    "[--duration S] [--size B] [--connect-timeout S] | wsbench storm --url ws://127.0.0.1:PORT/ "
                    "[--count N] [--inflight N] [--sources N] [--timeout S] [--hold S]\n");
    return 2;
}
