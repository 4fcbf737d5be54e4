/*
 * What scripts/bench's C clients (tlsconn.c, wsbench.c) share: clocks, latency percentiles,
 * loopback URLs, sockets that connect from one of several loopback addresses, and "--name value"
 * options. Header only (static functions), so each client still builds with its one gcc line.
 */
#ifndef FULCRUM_BENCH_H
#define FULCRUM_BENCH_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static inline double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* CPU seconds this process used, user and system. */
static inline double cpu_s(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

static inline int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts the n latencies (seconds) and gives their p50 and p99 in microseconds; 0 when n is 0. */
static inline void percentiles_us(double *lat, size_t n, double *p50, double *p99) {
    *p50 = *p99 = 0;
    if (n == 0) return;
    qsort(lat, n, sizeof *lat, cmp_double);
    *p50 = lat[n / 2] * 1e6;
    *p99 = lat[(size_t)((double)(n - 1) * 0.99)] * 1e6;
}

static inline void nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/*
 * Parses SCHEME://127.x.x.x:PORT[/PATH]: 0 when it is one, -1 otherwise. Loopback only: the
 * benchmark never sends traffic elsewhere. Gives "host:port" in hostport and, when path is not
 * NULL, the path ("/" when there is none).
 */
static inline int loopback_url(const char *url, const char *scheme, struct sockaddr_in *addr, char *hostport,
                               size_t hostport_size, char *path, size_t path_size) {
    size_t sl = strlen(scheme);
    if (strncmp(url, scheme, sl) != 0 || strncmp(url + sl, "://", 3) != 0) return -1;
    const char *p = url + sl + 3;
    const char *colon = strchr(p, ':');
    char host[16];
    if (!colon || (size_t)(colon - p) >= sizeof host) return -1;
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || port <= 0 || port > 65535 || (*end && *end != '/')) return -1;
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr->sin_addr) != 1 || (ntohl(addr->sin_addr.s_addr) >> 24) != 127) return -1;
    snprintf(hostport, hostport_size, "%s:%ld", host, port);
    if (path) snprintf(path, path_size, "%s", *end ? end : "/");
    return 0;
}

/*
 * A non-blocking TCP_NODELAY socket bound to the source address 127.0.0.(1 + n % sources), its
 * port picked by the kernel at connect time, per destination: several sources multiply the ports
 * a run can use, where one address would run out over rounds. The fd, or -1 with errno set.
 */
static inline int source_socket(long n, int sources) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    nodelay(fd);
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(n % sources));
    if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* One "--name value" option: 'i' an int, 'd' a double, 's' a string, 'S' a string that may repeat. */
typedef struct {
    const char *name;
    char type;
    void *value; /* int *, double *, const char **; for 'S' an array of max const char * */
    int max;     /* 'S': room in the array */
    int *count;  /* 'S': how many were given */
} option;

/* Reads "--name value" pairs from argv[first] on into opts (ended by a NULL name); -1 after saying what is wrong. */
static inline int parse_options(int argc, char **argv, int first, const option *opts, const char *prog) {
    for (int i = first; i < argc; i += 2) {
        const option *o = opts;
        while (o->name && strcmp(o->name, argv[i]) != 0) o++;
        if (!o->name) { fprintf(stderr, "%s: unknown option %s\n", prog, argv[i]); return -1; }
        if (i + 1 >= argc) { fprintf(stderr, "%s: %s needs a value\n", prog, argv[i]); return -1; }
        const char *v = argv[i + 1];
        switch (o->type) {
        case 'i': *(int *)o->value = atoi(v); break;
        case 'd': *(double *)o->value = atof(v); break;
        case 's': *(const char **)o->value = v; break;
        case 'S':
            if (*o->count >= o->max) { fprintf(stderr, "%s: at most %d %s\n", prog, o->max, o->name); return -1; }
            ((const char **)o->value)[(*o->count)++] = v;
            break;
        }
    }
    return 0;
}

#endif
