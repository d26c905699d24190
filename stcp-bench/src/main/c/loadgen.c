/*
 * loadgen: a closed-loop load generator for echo servers of 4-byte big-endian length-prefixed
 * frames, the C twin of stcp-loadgen. One thread, one epoll set (edge-triggered), non-blocking
 * sockets with TCP_NODELAY.
 *
 *   loadgen --addr 127.0.0.1:9000 --connections 100 --in-flight 1 --size 64 \
 *           --warmup 2s --duration 10s [--server-pid PID] [--syscalls] [--source-addrs A,B]
 *           [--timeline MS] [--busy-poll] [--tls-ca CERT.pem [--tls-ciphersuites LIST]]
 *
 * Every connection is connected (at most 200 connecting at a time) and pinged once before the
 * clock starts; then each keeps K frames in flight: every complete reply is answered with a new
 * frame at once. The warm-up is not recorded; the measured window is. Frames on a connection
 * come back in order, so a connection keeps the send times of its outstanding frames in a ring
 * and the round trip of a frame is "reply complete" minus "frame queued".
 *
 * Every frame is the same `size` bytes: a header holding size - 4, then a fixed pattern. The
 * header of every reply is checked; a wrong one or a lost connection is an error and ends that
 * connection. To stay cheaper than the servers it measures, the generator does not copy big
 * frames: from ZERO_COPY_MIN bytes on, frames are sent with sendfile(2) from a memfd and reply
 * bodies are dropped in the kernel with recv(MSG_TRUNC) (tcp(7)); headers are always read.
 *
 * Output, on stdout: a line "fairness ..." (frames completed per connection in the window and each
 * connection's longest round trip, as min/p50/p90/max over the connections), then one line of
 * key=value pairs (what stcp-bench parses):
 *   result connections=.. messages=.. seconds=.. msgs_per_s=.. p50_us=.. p90_us=.. p99_us=..
 *          p999_us=.. max_us=.. errors=.. server_cpu_us_per_msg=.. server_syscalls_per_msg=..
 *          loadgen_cpu_us_per_msg=.. loadgen_busy=.. others_busy=..
 * server CPU is utime + stime of /proc/PID/stat over the window; loadgen_busy is the share of a
 * core the generator used; others_busy the cores every other process used (from /proc/stat: the
 * machine's busy time less the generator's and the server's), which says whether something else
 * disturbed the run. System calls are counted only
 * with --syscalls (perf stat on raw_syscalls:sys_enter, which slows the server: use a separate
 * run). With --timeline MS, a line on stderr every MS milliseconds from the start of the warm-up:
 * "timeline ms=.. frames=.. worst_us=.. server_cpu_ms=.. server_page_faults=.. loadgen_cpu_ms=.."
 * (frames completed in that interval, the longest round trip among them, the CPU time each side
 * used in it and the server's minor page faults), which shows when a run stalled, which side was
 * busy meanwhile, and whether the server was touching new memory. With --busy-poll the generator
 * never sleeps in epoll_wait (it polls with a zero timeout): on loopback the core that writes a
 * reply also runs the receiver's half of TCP, so a server's write to a sleeping generator pays to
 * wake it (an inter-processor interrupt, dear on a VM), and a slower server, whose generator
 * sleeps more often, pays that more often; on a real network the client's own machine pays it.
 * loadgen_busy is then about 1 whatever the load. Unknown figures are NaN.
 *
 * TLS (--tls-ca): built as loadgen-tls, with -DLOADGEN_TLS and OpenSSL (-lssl -lcrypto); the plain
 * build refuses the option. Every connection makes a TLS handshake with the server before its
 * ping, and verifies the server's certificate against CERT.pem (its chain, and the --addr IP among
 * its names). Frames then go through SSL_write and SSL_read: no sendfile and no MSG_TRUNC (every
 * byte must be decrypted to be checked), and OpenSSL reads ahead, so that a record's header and
 * body take one read. --tls-ciphersuites offers only those TLS 1.3 suites (OpenSSL's syntax, e.g.
 * TLS_AES_128_GCM_SHA256), so that servers whose preferences differ can be made to use the same.
 * The handshakes are not measured; the negotiated protocol and suite are printed on stderr.
 * Exit status: 0 ok, 1 errors during the run, 2 could not start.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "histogram.h"

#ifdef LOADGEN_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
static SSL_CTX *tls_ctx;
#endif

#define MAX_SIZE ((1 << 20) + 4)   /* largest frame: a 1 MiB body and its header */
#define ZERO_COPY_MIN (64 * 1024)  /* frames this big are sent and dropped without copies */
#define TEMPLATE_BYTES (64 * 1024) /* smaller frames are written from this many bytes of them */
#define READ_BUF (64 * 1024)
#define CONNECT_BATCH 200
#define STAGE_TIMEOUT_NS (60 * NS)
#define NS 1000000000LL

extern char **environ;

enum phase { SETUP, WARMUP, MEASURE, TAIL, DONE };
enum state { CONNECTING, HANDSHAKING, PINGING, READY, DEAD };

struct conn {
    int fd;
    enum state state;
    uint32_t blocked;     /* the event the last write waits for: EPOLLOUT (a full socket buffer; over TLS, EPOLLIN too) */
    long unsent;          /* frames queued and not completely written */
    long woff;            /* bytes of the first unsent frame already written */
    long roff;            /* bytes of the frame being received so far */
    uint32_t header;      /* its length field, while roff < 4 */
    int64_t *sent_at;     /* ring of the send times of the outstanding frames */
    int head, outstanding;
    long measured;        /* frames completed in the measured window */
    int64_t worst;        /* the longest round trip among them, ns */
#ifdef LOADGEN_TLS
    SSL *ssl;             /* with --tls-ca, from the end of the connect on */
#endif
};

static struct opts {
    struct sockaddr_in addr;
    int connections, in_flight;
    long size;
    int64_t warmup_ns, duration_ns;
    pid_t server_pid;
    int syscalls;
    int busy_poll; /* --busy-poll: epoll_wait never sleeps */
    int64_t timeline_ns;  /* 0: no timeline */
    struct in_addr sources[256];
    int n_sources;
    const char *tls_ca;   /* --tls-ca: NULL, plain TCP */
    const char *tls_suites; /* --tls-ciphersuites: NULL, OpenSSL's defaults */
} o = {.connections = 100, .in_flight = 1, .size = 64, .warmup_ns = 2 * NS, .duration_ns = 10 * NS};

static enum phase phase = SETUP;
static struct conn *conns;
static int epfd, memfd = -1, ready_count, connecting, next_connect;
static char *tmpl;           /* frames back to back, for write(2) */
static long tmpl_len;
static char rbuf[MAX_SIZE]; /* a whole frame: even a dropped body (MSG_TRUNC) asks for no more than it holds */
static long messages, errors;
static struct histogram hist;
static long tick_frames;     /* for --timeline: frames completed since the last line */
static int64_t tick_worst;   /* and the longest round trip among them, ns */

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * NS + t.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void cannot_connect(int err) {
    fprintf(stderr, "loadgen: cannot connect to %s:%d: %s\n", inet_ntoa(o.addr.sin_addr), ntohs(o.addr.sin_port),
            strerror(err));
    exit(2);
}

static void fail(struct conn *c, const char *why) {
    if (c->state == DEAD) return;
    if (phase != DONE) {
        errors++;
        if (errors <= 5) fprintf(stderr, "loadgen: connection %ld: %s\n", (long)(c - conns), why);
    }
    if (c->state == CONNECTING) connecting--;
#ifdef LOADGEN_TLS
    SSL_free(c->ssl);
    c->ssl = NULL;
#endif
    close(c->fd);
    c->state = DEAD;
}

#ifdef LOADGEN_TLS
/* The context every connection's TLS comes from: the CA to verify the server with, reads ahead. */
static void tls_setup(void) {
    tls_ctx = SSL_CTX_new(TLS_client_method());
    if (!tls_ctx || SSL_CTX_load_verify_locations(tls_ctx, o.tls_ca, NULL) != 1) {
        fprintf(stderr, "loadgen: --tls-ca: cannot load a certificate from %s:\n", o.tls_ca);
        ERR_print_errors_fp(stderr);
        exit(2);
    }
    if (o.tls_suites && SSL_CTX_set_ciphersuites(tls_ctx, o.tls_suites) != 1) {
        fprintf(stderr, "loadgen: --tls-ciphersuites: \"%s\" (expected: TLS 1.3 suites separated by colons)\n", o.tls_suites);
        exit(2);
    }
    SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION);
    /* A write may be partial, and is retried from the same template offset (same bytes, same or more). */
    SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(tls_ctx, 1);
    SSL_CTX_set_default_read_buffer_len(tls_ctx, READ_BUF);
    SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_OFF);
}

/* The connection's TLS, once its TCP connect is done: a client that checks the server's name is --addr's IP. */
static void tls_start(struct conn *c) {
    c->ssl = SSL_new(tls_ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) die("SSL_new");
    SSL_set_connect_state(c->ssl);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), inet_ntoa(o.addr.sin_addr));
    c->state = HANDSHAKING;
}

/*
 * After an SSL call returned r <= 0: the event to wait for (EPOLLIN or EPOLLOUT), or 0 when the
 * connection failed (it is failed here, with OpenSSL's reason).
 */
static uint32_t tls_wait(struct conn *c, int r, const char *what) {
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) return EPOLLIN;
    if (e == SSL_ERROR_WANT_WRITE) return EPOLLOUT;
    char why[300];
    unsigned long err = ERR_peek_error();
    if (e == SSL_ERROR_ZERO_RETURN) snprintf(why, sizeof why, "TLS %s: closed by the server (close_notify)", what);
    else if (e == SSL_ERROR_SYSCALL && err == 0)
        snprintf(why, sizeof why, "TLS %s: %s", what, errno == 0 ? "closed by the server" : strerror(errno));
    else snprintf(why, sizeof why, "TLS %s: %s", what, err ? ERR_reason_error_string(err) : "error");
    ERR_clear_error();
    fail(c, why);
    return 0;
}

/* Goes on with the handshake; at its end the connection pings. False while it is not over (or failed). */
static int tls_handshake(struct conn *c) {
    static int told;
    int r = SSL_do_handshake(c->ssl);
    if (r != 1) {
        tls_wait(c, r, "handshake"); /* whichever event it waits for, every event retries it */
        return 0;
    }
    if (!told++) fprintf(stderr, "loadgen: %s, %s\n", SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
    return 1;
}
#endif

static int is_tls(const struct conn *c) {
#ifdef LOADGEN_TLS
    return c->ssl != NULL;
#else
    (void)c;
    return 0;
#endif
}

/* Queues one frame sent at `now`; do_write sends it. */
static void queue_frame(struct conn *c, int64_t now) {
    c->sent_at[(c->head + c->outstanding) % o.in_flight] = now;
    c->outstanding++;
    c->unsent++;
}

static void do_write(struct conn *c) {
    while (c->unsent > 0 && !c->blocked && c->state != DEAD) {
        ssize_t n;
#ifdef LOADGEN_TLS
        if (c->ssl) {
            long left = c->unsent * o.size - c->woff, room = tmpl_len - c->woff;
            int r = SSL_write(c->ssl, tmpl + c->woff, (int)(left < room ? left : room));
            if (r <= 0) {
                c->blocked = tls_wait(c, r, "write");
                return;
            }
            n = r;
        } else
#endif
        if (o.size >= ZERO_COPY_MIN) {
            off_t off = c->woff;
            n = sendfile(c->fd, memfd, &off, o.size - c->woff);
        } else {
            long left = c->unsent * o.size - c->woff;
            n = write(c->fd, tmpl + c->woff, left < tmpl_len - c->woff ? left : tmpl_len - c->woff);
        }
        if (n < 0) {
            if (errno == EAGAIN) c->blocked = EPOLLOUT;
            else if (errno != EINTR) fail(c, strerror(errno));
            return;
        }
        c->woff += n;
        c->unsent -= c->woff / o.size;
        c->woff %= o.size;
    }
}

static void frame_done(struct conn *c, int64_t now) {
    if (c->outstanding == 0) {
        fail(c, "a reply to no request");
        return;
    }
    int64_t latency = now - c->sent_at[c->head];
    c->head = (c->head + 1) % o.in_flight;
    c->outstanding--;
    if (c->state == PINGING) {
        c->state = READY;
        ready_count++;
        return;
    }
    tick_frames++;
    if (latency > tick_worst) tick_worst = latency;
    if (phase == MEASURE) {
        histogram_record(&hist, latency);
        messages++;
        c->measured++;
        if (latency > c->worst) c->worst = latency;
    }
    if (phase < DONE) queue_frame(c, now);
}

/* Walks n received bytes (data is NULL when they were dropped in the kernel). */
static void consume(struct conn *c, const unsigned char *data, long n, int64_t now) {
    while (n > 0 && c->state != DEAD) {
        long take;
        if (c->roff < 4) {
            take = 4 - c->roff < n ? 4 - c->roff : n;
            for (long i = 0; i < take; i++) c->header = c->header << 8 | data[i];
            if (c->roff + take == 4 && c->header != (uint32_t)(o.size - 4)) {
                fail(c, "a reply with the wrong length");
                return;
            }
        } else {
            take = o.size - c->roff < n ? o.size - c->roff : n;
        }
        c->roff += take;
        n -= take;
        if (data) data += take;
        if (c->roff == o.size) {
            c->roff = 0;
            c->header = 0;
            frame_done(c, now);
        }
    }
}

/*
 * Reads until the socket is empty: a short read means it was (a later arrival is a new edge).
 * Small frames are read a buffer at a time; of a big frame, the header alone is read, and the
 * body is dropped in the kernel.
 */
static void do_read(struct conn *c) {
#ifdef LOADGEN_TLS
    if (c->ssl) { /* until OpenSSL has nothing left and wants the socket */
        while (c->state != DEAD) {
            int r = SSL_read(c->ssl, rbuf, READ_BUF);
            if (r > 0) consume(c, (unsigned char *)rbuf, r, now_ns());
            else {
                tls_wait(c, r, "read"); /* whichever event it waits for, every event retries it */
                return;
            }
        }
        return;
    }
#endif
    while (c->state != DEAD) {
        int big = o.size >= ZERO_COPY_MIN, drop = big && c->roff >= 4;
        long want = !big ? READ_BUF : drop ? o.size - c->roff : 4 - c->roff;
        ssize_t n = recv(c->fd, rbuf, want, drop ? MSG_TRUNC : 0);
        if (n > 0) {
            consume(c, drop ? NULL : (unsigned char *)rbuf, n, now_ns());
            if (n < want) return;
        } else if (n == 0) {
            fail(c, "closed by the server");
        } else if (errno == EAGAIN) {
            return;
        } else if (errno != EINTR) {
            fail(c, strerror(errno));
        }
    }
}

static void start_connect(struct conn *c, int i) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (o.n_sources > 0) {
        struct sockaddr_in local = {.sin_family = AF_INET, .sin_addr = o.sources[i % o.n_sources]};
        setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(c->fd, (struct sockaddr *)&local, sizeof local) < 0) die("bind to a source address");
    }
    if (connect(c->fd, (struct sockaddr *)&o.addr, sizeof o.addr) < 0 && errno != EINPROGRESS) cannot_connect(errno);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
    c->state = CONNECTING;
    connecting++;
}

static void on_event(struct conn *c, uint32_t events, int64_t now) {
    if (c->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) cannot_connect(err ? err : ECONNREFUSED);
        if (!(events & EPOLLOUT)) return;
        connecting--;
#ifdef LOADGEN_TLS
        if (o.tls_ca) tls_start(c);
        else
#endif
        {
            c->state = PINGING;
            queue_frame(c, now);
        }
    }
#ifdef LOADGEN_TLS
    if (c->state == HANDSHAKING) {
        if (!tls_handshake(c)) return;
        c->state = PINGING;
        queue_frame(c, now);
    }
#endif
    if (events & c->blocked) c->blocked = 0;
    /* Over TLS every event reads: OpenSSL may want either event for a read, and may hold a record already. */
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR) || is_tls(c)) do_read(c);
    do_write(c);
}

/* utime + stime of a process in µs, or -1; and its minor page faults into *minflt, when given. */
static double process_stat(pid_t pid, double *minflt) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long faults, utime, stime;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %lu %*u %*u %*u %lu %lu", &faults, &utime, &stime) != 3)
        return -1;
    if (minflt) *minflt = faults;
    return (utime + stime) * 1e6 / sysconf(_SC_CLK_TCK);
}

static double process_cpu_us(pid_t pid) {
    return process_stat(pid, NULL);
}

/* Busy time of all CPUs in µs (/proc/stat: everything but idle and iowait), or -1. */
static double machine_busy_us(void) {
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[10] = {0}, busy = 0;
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                       &v[5], &v[6], &v[7], &v[8], &v[9]) : 0;
    if (f) fclose(f);
    if (n < 8) return -1;
    for (int i = 0; i < 8; i++) busy += i == 3 || i == 4 ? 0 : v[i]; /* guest time is already in user */
    return busy * 1e6 / sysconf(_SC_CLK_TCK);
}

static double own_cpu_us(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 + r.ru_utime.tv_usec + r.ru_stime.tv_usec;
}

/* perf stat counting the server's system calls for the window; its pid, or -1. */
static pid_t start_perf(char *out) {
    char pid[16], secs[32];
    snprintf(pid, sizeof pid, "%d", (int)o.server_pid);
    snprintf(secs, sizeof secs, "%.3f", o.duration_ns / 1e9);
    char *argv[] = {"perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p", pid, "-o", out, "--", "sleep",
                    secs, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t p;
    int rc = posix_spawnp(&p, "perf", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) fprintf(stderr, "loadgen: cannot run perf: %s\n", strerror(rc));
    return rc == 0 ? p : -1;
}

/* The count perf wrote ("12345,,raw_syscalls:sys_enter,..."), or -1. */
static double perf_count(const char *out) {
    FILE *f = fopen(out, "r");
    char line[512];
    double count = -1;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, ",raw_syscalls:sys_enter,") && line[0] >= '0' && line[0] <= '9') count = atof(line);
    if (f) fclose(f);
    return count;
}

static int64_t parse_duration(const char *s) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) goto bad;
    if (!strcmp(end, "ms")) return (int64_t)(v * 1e6);
    if (!strcmp(end, "s") || !*end) return (int64_t)(v * 1e9);
    if (!strcmp(end, "m")) return (int64_t)(v * 60e9);
bad:
    fprintf(stderr, "loadgen: duration: \"%s\" (expected: e.g. 500ms, 10s, 1m)\n", s);
    exit(2);
}

static long parse_long(const char *name, const char *s, long min, long max) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < min || v > max) {
        fprintf(stderr, "loadgen: %s: \"%s\" (expected: %ld..%ld)\n", name, s, min, max);
        exit(2);
    }
    return v;
}

static void parse_args(int argc, char **argv) {
    int have_addr = 0;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--syscalls")) { o.syscalls = 1; continue; }
        if (!strcmp(k, "--busy-poll")) { o.busy_poll = 1; continue; }
        if (!v) { fprintf(stderr, "loadgen: %s needs a value (see the top of loadgen.c)\n", k); exit(2); }
        i++;
        if (!strcmp(k, "--addr")) {
            char host[64];
            const char *colon = strrchr(v, ':');
            if (!colon || colon - v >= (long)sizeof host) { fprintf(stderr, "loadgen: --addr: \"%s\" (expected: IPV4:PORT)\n", v); exit(2); }
            snprintf(host, colon - v + 1, "%s", v);
            o.addr.sin_family = AF_INET;
            o.addr.sin_port = htons((uint16_t)parse_long("port", colon + 1, 1, 65535));
            if (inet_pton(AF_INET, strcmp(host, "localhost") ? host : "127.0.0.1", &o.addr.sin_addr) != 1) {
                fprintf(stderr, "loadgen: --addr: \"%s\" (expected: an IPv4 address)\n", host);
                exit(2);
            }
            have_addr = 1;
        } else if (!strcmp(k, "--connections")) o.connections = parse_long(k, v, 1, 1000000);
        else if (!strcmp(k, "--in-flight")) o.in_flight = parse_long(k, v, 1, 1 << 16);
        else if (!strcmp(k, "--size")) o.size = parse_long(k, v, 4, MAX_SIZE);
        else if (!strcmp(k, "--warmup")) o.warmup_ns = parse_duration(v);
        else if (!strcmp(k, "--duration")) o.duration_ns = parse_duration(v);
        else if (!strcmp(k, "--server-pid")) o.server_pid = parse_long(k, v, 0, 1L << 30);
        else if (!strcmp(k, "--tls-ca")) {
#ifdef LOADGEN_TLS
            o.tls_ca = v;
#else
            fprintf(stderr, "loadgen: --tls-ca: this build has no TLS (use loadgen-tls, built when OpenSSL's headers are there)\n");
            exit(2);
#endif
        } else if (!strcmp(k, "--tls-ciphersuites")) {
            o.tls_suites = v;
        } else if (!strcmp(k, "--timeline")) o.timeline_ns = parse_long(k, v, 10, 60000) * 1000000LL;
        else if (!strcmp(k, "--source-addrs")) {
            char *list = strdup(v), *save = NULL;
            for (char *a = strtok_r(list, ",", &save); a && o.n_sources < 256; a = strtok_r(NULL, ",", &save))
                if (inet_pton(AF_INET, a, &o.sources[o.n_sources++]) != 1) {
                    fprintf(stderr, "loadgen: --source-addrs: \"%s\" (expected: IPv4 addresses)\n", a);
                    exit(2);
                }
            free(list);
        } else { fprintf(stderr, "loadgen: unknown option %s (see the top of loadgen.c)\n", k); exit(2); }
    }
    if (!have_addr) { fprintf(stderr, "loadgen: --addr HOST:PORT is required\n"); exit(2); }
    if (o.duration_ns <= 0) { fprintf(stderr, "loadgen: --duration must be > 0\n"); exit(2); }
    if (o.tls_suites && !o.tls_ca) { fprintf(stderr, "loadgen: --tls-ciphersuites goes with --tls-ca\n"); exit(2); }
    if (o.syscalls && o.server_pid <= 0) { fprintf(stderr, "loadgen: --syscalls needs --server-pid\n"); exit(2); }
}

/* The frame template: frames back to back (at least one, about 64 KiB); big ones also in a memfd. */
static void make_template(void) {
    long frames = o.size >= TEMPLATE_BYTES ? 1 : TEMPLATE_BYTES / o.size;
    if (frames < o.in_flight && o.size * (long)o.in_flight <= 4 * TEMPLATE_BYTES) frames = o.in_flight;
    tmpl_len = frames * o.size;
    tmpl = malloc(tmpl_len);
    if (!tmpl) die("malloc");
    for (long i = 0; i < tmpl_len; i++) {
        long at = i % o.size;
        tmpl[i] = at < 4 ? (char)((o.size - 4) >> (8 * (3 - at))) : (char)('a' + at % 26);
    }
    if (o.size >= ZERO_COPY_MIN) {
        memfd = memfd_create("loadgen-frame", MFD_CLOEXEC);
        if (memfd < 0 || write(memfd, tmpl, o.size) != o.size) die("memfd");
    }
}

static void raise_fd_limit(void) {
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

static int compare_longs(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

/* One line on how evenly the connections were served in the window: frames completed per
 * connection, and each connection's longest round trip (min, median, 90th percentile, max over
 * the connections). A server that serves some peers over and over while others wait shows here
 * long before it shows in the overall percentiles. */
static void print_fairness(void) {
    int n = o.connections;
    long *done = calloc(n, sizeof(long)), *worst = calloc(n, sizeof(long));
    if (done == NULL || worst == NULL) return;
    for (int i = 0; i < n; i++) {
        done[i] = conns[i].measured;
        worst[i] = (long)((conns[i].worst + 999) / 1000);
    }
    qsort(done, n, sizeof(long), compare_longs);
    qsort(worst, n, sizeof(long), compare_longs);
    printf("fairness conn_msgs_min=%ld conn_msgs_p50=%ld conn_msgs_p90=%ld conn_msgs_max=%ld"
           " conn_worst_us_min=%ld conn_worst_us_p50=%ld conn_worst_us_p90=%ld conn_worst_us_max=%ld\n",
           done[0], done[n / 2], done[n * 9 / 10], done[n - 1], worst[0], worst[n / 2], worst[n * 9 / 10], worst[n - 1]);
    free(done);
    free(worst);
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    make_template();
#ifdef LOADGEN_TLS
    if (o.tls_ca) tls_setup();
#endif
    conns = calloc(o.connections, sizeof *conns);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || epfd < 0) die("setup");
    for (int i = 0; i < o.connections; i++)
        if (!(conns[i].sent_at = malloc(o.in_flight * sizeof(int64_t)))) die("malloc");

    struct epoll_event events[256];
    int64_t deadline = now_ns() + STAGE_TIMEOUT_NS, window_start = 0, window_end = 0;
    double server_cpu0 = -1, own_cpu0 = 0, server_cpu = NAN, own_cpu = 0, syscalls = NAN, machine0 = -1, others = NAN;
    long window_messages = 0, window_errors = 0, errors0 = 0;
    int64_t next_tick = 0, timeline_start = 0; /* --timeline */
    double tick_server = 0, tick_own = 0, tick_faults = NAN;
    pid_t perf = -1;
    char perf_out[] = "/tmp/loadgen-perf-XXXXXX";

    while (phase != DONE) {
        while (phase == SETUP && connecting < CONNECT_BATCH && next_connect < o.connections) {
            start_connect(&conns[next_connect], next_connect);
            next_connect++;
        }
        int64_t wake = next_tick > 0 && next_tick < deadline ? next_tick : deadline;
        int64_t left_ms = (wake - now_ns()) / 1000000 + 1; /* never negative: that would wait forever */
        int n = epoll_wait(epfd, events, 256, o.busy_poll || left_ms < 0 ? 0 : left_ms > 100 ? 100 : (int)left_ms);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        int64_t now = now_ns();
        for (int i = 0; i < n; i++) on_event(events[i].data.ptr, events[i].events, now);
        now = now_ns();

        /* Phase changes, in order: with no warm-up the window opens before any reply is read. */
        if (phase == SETUP && ready_count + (int)errors == o.connections) {
            if (errors > 0) { fprintf(stderr, "loadgen: %ld connections failed before the start\n", errors); return 2; }
            phase = WARMUP;
            deadline = now + o.warmup_ns;
            if (o.timeline_ns > 0) {
                timeline_start = now;
                next_tick = now + o.timeline_ns;
                tick_frames = tick_worst = 0;
                tick_server = o.server_pid > 0 ? process_stat(o.server_pid, &tick_faults) : NAN;
                tick_own = own_cpu_us();
            }
            for (int i = 0; i < o.connections; i++) {
                for (int k = 0; k < o.in_flight; k++) queue_frame(&conns[i], now);
                do_write(&conns[i]);
            }
        }
        if (phase == SETUP && now >= deadline) {
            fprintf(stderr, "loadgen: only %d of %d connections connected and answered a ping within 60s\n",
                    ready_count, o.connections);
            return 2;
        }
        if (next_tick > 0 && now >= next_tick && phase != DONE) {
            double faults = NAN, server = o.server_pid > 0 ? process_stat(o.server_pid, &faults) : NAN;
            double own = own_cpu_us();
            fprintf(stderr, "timeline ms=%lld frames=%ld worst_us=%lld server_cpu_ms=%.1f server_page_faults=%.0f"
                    " loadgen_cpu_ms=%.1f\n", (long long)((now - timeline_start) / 1000000), tick_frames,
                    (long long)(tick_worst / 1000), (server - tick_server) / 1e3, faults - tick_faults, (own - tick_own) / 1e3);
            tick_frames = tick_worst = 0;
            tick_server = server;
            tick_faults = faults;
            tick_own = own;
            next_tick += o.timeline_ns;
            if (next_tick <= now) next_tick = now + o.timeline_ns; /* a late wake-up skips, never bursts */
        }
        if (phase == WARMUP && now >= deadline) {
            phase = MEASURE;
            histogram_reset(&hist);
            messages = 0;
            errors0 = errors;
            if (o.server_pid > 0) server_cpu0 = process_cpu_us(o.server_pid);
            if (o.syscalls) {
                int fd = mkstemp(perf_out);
                if (fd >= 0) close(fd);
                perf = fd >= 0 ? start_perf(perf_out) : -1;
            }
            own_cpu0 = own_cpu_us();
            machine0 = machine_busy_us();
            window_start = now;
            deadline = window_start + o.duration_ns;
        }
        if (phase == MEASURE && now >= deadline) {
            window_end = now;
            window_messages = messages;
            window_errors = errors - errors0;
            own_cpu = own_cpu_us() - own_cpu0;
            double machine = machine_busy_us();
            if (server_cpu0 >= 0) {
                double after = process_cpu_us(o.server_pid);
                if (after >= 0) server_cpu = after - server_cpu0;
            }
            if (machine0 >= 0 && machine >= 0 && (o.server_pid <= 0 || !isnan(server_cpu)))
                others = (machine - machine0 - own_cpu - (o.server_pid > 0 ? server_cpu : 0)) / ((now - window_start) / 1e3);
            phase = perf > 0 ? TAIL : DONE; /* the load goes on while perf finishes its window */
            deadline = now + 10 * NS;
        }
        if (phase == TAIL) {
            int status;
            if (waitpid(perf, &status, WNOHANG) == perf) {
                syscalls = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? perf_count(perf_out) : -1;
                phase = DONE;
            } else if (now >= deadline) {
                kill(perf, SIGKILL);
                waitpid(perf, &status, 0);
                fprintf(stderr, "loadgen: perf did not finish\n");
                phase = DONE;
            }
        }
    }
    if (perf > 0) unlink(perf_out);

    print_fairness();
    double seconds = (window_end - window_start) / 1e9;
    double per_msg = window_messages > 0 ? 1.0 / window_messages : NAN;
    int64_t max = histogram_max(&hist);
    printf("result connections=%d messages=%ld seconds=%.3f msgs_per_s=%.1f p50_us=%lld p90_us=%lld p99_us=%lld"
           " p999_us=%lld max_us=%lld errors=%ld server_cpu_us_per_msg=%.3f server_syscalls_per_msg=%.3f"
           " loadgen_cpu_us_per_msg=%.3f loadgen_busy=%.3f others_busy=%.3f\n",
           o.connections, window_messages, seconds, window_messages / seconds,
           (long long)histogram_micros(&hist, 50), (long long)histogram_micros(&hist, 90),
           (long long)histogram_micros(&hist, 99), (long long)histogram_micros(&hist, 99.9),
           (long long)((max + 999) / 1000), window_errors, server_cpu * per_msg,
           syscalls >= 0 ? syscalls * per_msg : NAN, own_cpu * per_msg, own_cpu / (seconds * 1e6),
           others < 0 ? 0 : others);
    return window_errors > 0 ? 1 : 0;
}
