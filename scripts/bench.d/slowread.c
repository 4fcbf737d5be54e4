/*
 * Slow-reader client for scripts/bench (the "slow read" attack of slowhttptest): many clients
 * ask for a large response and read it a few bytes at a time, so a proxy must either stop
 * reading from its backend (backpressure) or hold the response in memory.
 *
 *   slowread --url http://127.0.0.1:PORT/PATH [--readers 500] [--rcvbuf 4096] [--rate 256]
 *            [--hold 15] [--connect-timeout 30] [--linger 120]
 *
 * Each reader sets SO_RCVBUF before connecting (so its TCP window stays small), sends one GET and
 * then reads at most --rate bytes per second (0: never reads). Once every reader has connected
 * and sent its request (or --connect-timeout passed) it prints
 *     SLOW-CONNECTED readers=N connected=C secs=S
 * holds for --hold seconds, then prints
 *     SLOW-READ readers=N connected=C open=O responding=R done=D closed=X errors=E bytes=B
 * where open = readers whose connection is still open, responding = open readers that have
 * received a "HTTP/1.x 200" status line (peeked when they have not read it yet), done = readers
 * that received the whole response (Content-Length) before the hold ended, closed = closed by the
 * peer before that, errors = connect, send or reset errors. It keeps the readers open (still
 * reading slowly) until --linger seconds more have passed or it gets SIGTERM/SIGINT, so the
 * caller can measure the server while they are held.
 *
 * Loopback only (127.0.0.0/8). One thread, epoll, non-blocking sockets.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define CONNECTING_MAX 128 /* connects in flight at once */
#define TICK_MS 100

enum state { IDLE, CONNECTING, OPEN, DONE, CLOSED, FAILED };

struct reader {
    int fd;
    enum state st;
    double credit;        /* bytes it may read now */
    long long got;        /* bytes read */
    long long content_length; /* -1 until the head has been read */
    int status;           /* status code once read, 0 before */
    char head[512];       /* the response head as far as read (for the status line / length) */
    int head_len;
};

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void) {
    fprintf(stderr, "usage: slowread --url http://127.0.0.1:PORT/PATH [--readers 500] [--rcvbuf 4096]\n"
                    "                [--rate 256] [--hold 15] [--connect-timeout 30] [--linger 120]\n");
    exit(2);
}

/* Parses "http://A.B.C.D:PORT/PATH"; only 127.0.0.0/8 is accepted. */
static void parse_url(const char *url, struct sockaddr_in *sa, char *hostport, size_t hp_len,
                      char *path, size_t path_len) {
    const char *p = url;
    if (strncmp(p, "http://", 7) != 0) { fprintf(stderr, "slowread: only http:// URLs: %s\n", url); exit(2); }
    p += 7;
    const char *slash = strchr(p, '/');
    size_t hl = slash ? (size_t)(slash - p) : strlen(p);
    if (hl == 0 || hl >= hp_len) { fprintf(stderr, "slowread: bad URL %s\n", url); exit(2); }
    memcpy(hostport, p, hl);
    hostport[hl] = 0;
    snprintf(path, path_len, "%s", slash ? slash : "/");
    char host[64];
    const char *colon = strchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof host) { fprintf(stderr, "slowread: URL needs host:port: %s\n", url); exit(2); }
    memcpy(host, hostport, colon - hostport);
    host[colon - hostport] = 0;
    int port = atoi(colon + 1);
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (port <= 0 || port > 65535 || inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        fprintf(stderr, "slowread: need a numeric IPv4 host and a port: %s\n", url);
        exit(2);
    }
    if ((ntohl(sa->sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "slowread: refusing %s: loopback (127.0.0.0/8) only\n", host);
        exit(2);
    }
}

/* Reads the status code and Content-Length once the head is complete in r->head. */
static void parse_head(struct reader *r) {
    if (r->status || r->head_len < 12) return;
    r->head[r->head_len] = 0;
    if (strncmp(r->head, "HTTP/1.", 7) != 0) { r->status = -1; return; }
    char *end = strstr(r->head, "\r\n\r\n");
    if (!end) return;
    r->status = atoi(r->head + 9);
    long long cl = -1;
    for (char *l = strstr(r->head, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, "Content-Length:", 15) == 0) cl = atoll(l + 17);
    }
    long long head_bytes = (end + 4) - r->head;
    r->content_length = cl < 0 ? -1 : cl + head_bytes; /* whole response, head included */
}

/* The status code: parsed from the head once read, else from what has arrived (peeked). */
static int status_of(struct reader *r) {
    if (r->status) return r->status;
    char s[16];
    int have = r->head_len < 12 ? r->head_len : 12;
    memcpy(s, r->head, have);
    if (have < 12) {
        ssize_t p = recv(r->fd, s + have, 12 - have, MSG_PEEK | MSG_DONTWAIT);
        if (p > 0) have += (int)p;
    }
    if (have < 12 || strncmp(s, "HTTP/1.", 7) != 0) return 0;
    s[12] = 0;
    return atoi(s + 9);
}

int main(int argc, char **argv) {
    const char *url = NULL;
    int readers = 500, rcvbuf = 4096;
    double rate = 256, hold = 15, connect_timeout = 30, linger = 120;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage();
        if (!strcmp(argv[i], "--url")) url = argv[++i];
        else if (!strcmp(argv[i], "--readers")) readers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rcvbuf")) rcvbuf = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rate")) rate = atof(argv[++i]);
        else if (!strcmp(argv[i], "--hold")) hold = atof(argv[++i]);
        else if (!strcmp(argv[i], "--connect-timeout")) connect_timeout = atof(argv[++i]);
        else if (!strcmp(argv[i], "--linger")) linger = atof(argv[++i]);
        else usage();
    }
    if (!url || readers <= 0 || readers > 100000 || rcvbuf < 0 || rate < 0 || hold < 0) usage();

    struct sockaddr_in sa;
    char hostport[128], path[1024];
    parse_url(url, &sa, hostport, sizeof hostport, path, sizeof path);
    char req[1400];
    int req_len = snprintf(req, sizeof req,
                           "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: fulcrum-bench-slowread\r\nAccept: */*\r\n\r\n",
                           path, hostport);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)readers + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)readers + 64) {
            fprintf(stderr, "slowread: ulimit -n %llu is too low for %d readers\n", (unsigned long long)rl.rlim_cur, readers);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    struct reader *rs = calloc(readers, sizeof *rs);
    int ep = epoll_create1(0);
    if (!rs || ep < 0) { perror("slowread"); return 1; }
    for (int i = 0; i < readers; i++) { rs[i].fd = -1; rs[i].content_length = -1; }

    int next = 0, connecting = 0, settled = 0, errors = 0;
    double t0 = now(), t_connected = -1, t_tick = t0;
    char buf[65536];
    struct epoll_event evs[MAX_EVENTS];

    for (;;) {
        double t = now();
        /* Start connects, CONNECTING_MAX in flight. */
        while (next < readers && connecting < CONNECTING_MAX && t_connected < 0) {
            struct reader *r = &rs[next];
            r->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (r->fd < 0) { r->st = FAILED; errors++; settled++; next++; continue; }
            /* Before connect: the window the client offers is fixed at the handshake. */
            if (rcvbuf > 0) setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
            if (connect(r->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
                close(r->fd); r->fd = -1; r->st = FAILED; errors++; settled++; next++;
                continue;
            }
            r->st = CONNECTING;
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLRDHUP, .data.u32 = (uint32_t)next};
            epoll_ctl(ep, EPOLL_CTL_ADD, r->fd, &ev);
            connecting++;
            next++;
        }
        if (t_connected < 0 && (settled == readers || t - t0 >= connect_timeout)) {
            t_connected = t;
            int c = 0;
            for (int i = 0; i < readers; i++) c += rs[i].st == OPEN || rs[i].st == DONE;
            printf("SLOW-CONNECTED readers=%d connected=%d secs=%.1f\n", readers, c, t - t0);
            fflush(stdout);
        }
        if (t_connected >= 0 && t - t_connected >= hold + linger) break;
        if (stop) break;

        int timeout = (int)((t_tick + TICK_MS / 1000.0 - t) * 1000);
        if (timeout < 0) timeout = 0;
        int n = epoll_wait(ep, evs, MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) { perror("epoll_wait"); return 1; }
        for (int k = 0; k < n; k++) {
            struct reader *r = &rs[evs[k].data.u32];
            uint32_t e = evs[k].events;
            if (r->st == CONNECTING) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                connecting--;
                settled++;
                if (err || (e & (EPOLLERR | EPOLLHUP)) || send(r->fd, req, req_len, MSG_NOSIGNAL) != req_len) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, r->fd, NULL);
                    close(r->fd); r->fd = -1; r->st = FAILED; errors++;
                    continue;
                }
                r->st = OPEN;
                struct epoll_event ev = {.events = EPOLLRDHUP, .data.u32 = evs[k].data.u32};
                epoll_ctl(ep, EPOLL_CTL_MOD, r->fd, &ev);
            } else if (r->st == OPEN && (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
                /* The peer closed (or reset): the response will not come any further. */
                epoll_ctl(ep, EPOLL_CTL_DEL, r->fd, NULL);
                if (e & EPOLLERR) { r->st = FAILED; errors++; } else r->st = CLOSED;
            }
        }

        t = now();
        if (t - t_tick < TICK_MS / 1000.0) continue;
        double dt = t - t_tick;
        t_tick = t;
        /* Paced reads: each open reader may take rate * dt more bytes. */
        for (int i = 0; i < readers && rate > 0; i++) {
            struct reader *r = &rs[i];
            if (r->st != OPEN) continue;
            r->credit += rate * dt;
            while (r->credit >= 1) {
                size_t want = r->credit < sizeof buf ? (size_t)r->credit : sizeof buf;
                ssize_t got = recv(r->fd, buf, want, MSG_DONTWAIT);
                if (got <= 0) break;
                if (r->head_len < (int)sizeof r->head - 1) {
                    int c = got < (ssize_t)(sizeof r->head - 1 - r->head_len) ? (int)got : (int)(sizeof r->head - 1 - r->head_len);
                    memcpy(r->head + r->head_len, buf, c);
                    r->head_len += c;
                    parse_head(r);
                }
                r->got += got;
                r->credit -= got;
                if (r->content_length >= 0 && r->got >= r->content_length) {
                    r->st = DONE;
                    epoll_ctl(ep, EPOLL_CTL_DEL, r->fd, NULL);
                    break;
                }
            }
            if (r->credit > rate) r->credit = rate; /* no bursts after a stall */
        }

        static int reported;
        if (!reported && t_connected >= 0 && t - t_connected >= hold) {
            reported = 1;
            int c = 0, open = 0, responding = 0, done = 0, closed = 0;
            long long bytes = 0;
            for (int i = 0; i < readers; i++) {
                struct reader *r = &rs[i];
                bytes += r->got;
                if (r->st == OPEN || r->st == DONE || r->st == CLOSED) c++;
                if (r->st == DONE) done++;
                if (r->st == CLOSED) closed++;
                if (r->st != OPEN) continue;
                open++;
                if (status_of(r) == 200) responding++;
            }
            printf("SLOW-READ readers=%d connected=%d open=%d responding=%d done=%d closed=%d errors=%d bytes=%lld\n",
                   readers, c, open, responding, done, closed, errors, bytes);
            fflush(stdout);
        }
    }
    for (int i = 0; i < readers; i++)
        if (rs[i].fd >= 0) close(rs[i].fd);
    return 0;
}
