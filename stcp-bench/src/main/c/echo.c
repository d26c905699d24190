/*
 * echo: the cheapest echo server this rig knows, to measure the load generator's ceiling. One
 * thread, one edge-triggered epoll set; every byte read is written back as it is (an echo of
 * bytes is an echo of frames). Small reads go through a 64 KiB buffer per connection; when a
 * read fills it, the connection switches to splice(2) through a pipe of its own, so big frames
 * are echoed without being copied to user space.
 *
 *   echo --addr 127.0.0.1:9000
 *
 * Prints "listening on HOST:PORT" once bound; runs until SIGTERM or SIGINT.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF (64 * 1024)
#define PIPE_SIZE (1 << 20)

struct conn {
    int fd;
    int drained;  /* the last read() came back short: wait for the next EPOLLIN edge */
    int pipe[2];  /* once splicing: bytes read and not yet written back wait in the pipe */
    long piped;
    char *buf;    /* before that: bytes read and not yet written back */
    long off, len;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static void drop(struct conn *c) {
    close(c->fd);
    if (c->pipe[0] >= 0) {
        close(c->pipe[0]);
        close(c->pipe[1]);
    }
    free(c->buf);
    free(c);
}

/*
 * Moves bytes socket -> pipe -> socket until one side would block (EAGAIN: a pipe can fill its
 * slots before its bytes, so a short splice does not mean an empty socket). 0, or -1 when the
 * connection is done.
 */
static int serve_spliced(struct conn *c) {
    for (;;) {
        while (c->piped > 0) {
            ssize_t n = splice(c->pipe[0], NULL, c->fd, NULL, c->piped, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n < 0) return errno == EAGAIN ? 0 : -1;
            c->piped -= n;
        }
        ssize_t n = splice(c->fd, NULL, c->pipe[1], NULL, PIPE_SIZE, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n == 0) return -1;
        if (n < 0) return errno == EAGAIN ? 0 : -1;
        c->piped = n;
    }
}

static int serve(struct conn *c) {
    if (c->pipe[0] >= 0) return serve_spliced(c);
    for (;;) {
        while (c->off < c->len) {
            ssize_t n = write(c->fd, c->buf + c->off, c->len - c->off);
            if (n < 0) return errno == EAGAIN ? 0 : -1;
            c->off += n;
        }
        if (c->drained) return 0;
        ssize_t n = read(c->fd, c->buf, BUF);
        if (n == 0) return -1;
        if (n < 0) return errno == EAGAIN ? 0 : -1;
        c->off = 0;
        c->len = n;
        c->drained = n < BUF;
        if (n == BUF && pipe2(c->pipe, O_NONBLOCK | O_CLOEXEC) == 0) { /* big transfers: splice from now on */
            fcntl(c->pipe[1], F_SETPIPE_SZ, PIPE_SIZE);
            while (c->off < c->len) {
                ssize_t w = write(c->fd, c->buf + c->off, c->len - c->off);
                if (w < 0 && errno != EAGAIN) return -1;
                if (w < 0) { /* keep the rest in the pipe, in order */
                    ssize_t p = write(c->pipe[1], c->buf + c->off, c->len - c->off);
                    if (p != c->len - c->off) return -1;
                    c->piped = p;
                    break;
                }
                c->off += w;
            }
            c->off = c->len = 0;
            return serve_spliced(c);
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 3 || strcmp(argv[1], "--addr") != 0 || !strrchr(argv[2], ':')) {
        fprintf(stderr, "usage: echo --addr IPV4:PORT\n");
        return 2;
    }
    char *colon = strrchr(argv[2], ':');
    *colon = 0;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(colon + 1))};
    if (inet_pton(AF_INET, argv[2], &addr.sin_addr) != 1) {
        fprintf(stderr, "echo: --addr: \"%s\" (expected: an IPv4 address)\n", argv[2]);
        return 2;
    }
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 4096) < 0) {
        perror("echo: bind");
        return 2;
    }
    socklen_t len = sizeof addr;
    getsockname(lfd, (struct sockaddr *)&addr, &len);
    printf("listening on %s:%d\n", inet_ntoa(addr.sin_addr), ntohs(addr.sin_port));
    fflush(stdout);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}, events[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    while (!stop) {
        int n = epoll_wait(ep, events, 256, 500);
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL) { /* the listener */
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    c = calloc(1, sizeof *c);
                    if (c == NULL || (c->buf = malloc(BUF)) == NULL) {
                        free(c);
                        close(fd);
                        continue;
                    }
                    c->fd = fd;
                    c->pipe[0] = c->pipe[1] = -1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->drained = 0;
            if (serve(c) < 0) drop(c);
        }
    }
    return 0;
}
