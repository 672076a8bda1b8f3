/* bench/aio_bench_client.c - the one load client every echo server is measured with.
 *
 *   cc -O2 -o build/aio_bench_client bench/aio_bench_client.c
 *
 *   aio_bench_client rtt  PORT CONNS SECONDS [IDLE]   round trips per second (64-byte
 *                                            messages) while IDLE more connections sit idle
 *   aio_bench_client bulk PORT MIB             MiB/s through the echo path, one connection
 *   aio_bench_client idle PORT CONNS PID       bytes of server RSS per idle connection
 *   aio_bench_client alt SLICE CYCLES CONNS IDLE PORT...
 *                                            the rtt measurement for several servers at
 *                                            once, interleaved: one child process per
 *                                            server holds its connections, and the
 *                                            servers take turns, SLICE seconds each, for
 *                                            CYCLES cycles (cycle c starts with server c)
 *                                            after one uncounted cycle that warms them up;
 *                                            prints a line per server: PORT and the round
 *                                            trips/s of each of its slices, in cycle order;
 *                                            PORT/K gives that server K idle connections
 *                                            instead of IDLE
 *
 * Plain non-blocking sockets and poll(), so the client costs the same for every server.
 */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/wait.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial(int port, int nonblock)
{
    struct sockaddr_in a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); exit(1); }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (nonblock) fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static int rtt(int port, int n, double seconds, int idle_n)
{
    struct pollfd *p = calloc((size_t)n, sizeof *p);
    int *got = calloc((size_t)n, sizeof *got), *idle_fd = calloc((size_t)idle_n + 1, sizeof *idle_fd), i;
    char msg[64], buf[64];
    long count = 0;
    double end;
    memset(msg, 'r', sizeof msg);
    for (i = 0; i < idle_n; i++) idle_fd[i] = dial(port, 1);   /* held open, never used */
    if (idle_n > 0) usleep(200000);                           /* the server has accepted them */
    for (i = 0; i < n; i++) {
        p[i].fd = dial(port, 1);
        p[i].events = POLLIN;
        if (send(p[i].fd, msg, sizeof msg, MSG_NOSIGNAL) != (ssize_t)sizeof msg) return 1;
    }
    end = now_s() + seconds;
    while (now_s() < end) {
        if (poll(p, (nfds_t)n, 1000) <= 0) continue;
        for (i = 0; i < n; i++) {
            ssize_t k;
            if (!(p[i].revents & POLLIN)) continue;
            k = recv(p[i].fd, buf, sizeof msg - (size_t)got[i], 0);
            if (k <= 0) { fprintf(stderr, "connection lost\n"); return 1; }
            got[i] += (int)k;
            if (got[i] == (int)sizeof msg) {
                got[i] = 0;
                count++;
                if (send(p[i].fd, msg, sizeof msg, MSG_NOSIGNAL) != (ssize_t)sizeof msg) return 1;
            }
        }
    }
    printf("%.0f\n", count / seconds);
    for (i = 0; i < n; i++) close(p[i].fd);
    for (i = 0; i < idle_n; i++) close(idle_fd[i]);
    free(p);
    free(got);
    free(idle_fd);
    return 0;
}

static int bulk(int port, long mib)
{
    static char out[262144], in[262144];
    long long total = (long long)mib << 20, sent = 0, recvd = 0;
    int fd = dial(port, 1);
    double start = now_s();
    memset(out, 'b', sizeof out);
    while (recvd < total) {
        struct pollfd p;
        p.fd = fd;
        p.events = POLLIN | (sent < total ? POLLOUT : 0);
        if (poll(&p, 1, 5000) <= 0) { fprintf(stderr, "stalled\n"); return 1; }
        if (p.revents & POLLOUT) {
            size_t want = total - sent < (long long)sizeof out ? (size_t)(total - sent) : sizeof out;
            ssize_t k = send(fd, out, want, MSG_NOSIGNAL);
            if (k > 0) sent += k;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t k = recv(fd, in, sizeof in, 0);
            if (k <= 0) { fprintf(stderr, "connection lost\n"); return 1; }
            recvd += k;
        }
    }
    printf("%.0f\n", mib / (now_s() - start));
    close(fd);
    return 0;
}

static long rss_bytes(int pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    if (!(f = fopen(path, "r"))) return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024;
}

static int idle(int port, int n, int pid)
{
    int *fds = calloc((size_t)n, sizeof *fds), i, warm[16];
    long before, after;
    /* warm up: the server's first connections allocate its arrays */
    for (i = 0; i < 16; i++) warm[i] = dial(port, 0);
    usleep(300000);
    before = rss_bytes(pid);
    for (i = 0; i < n; i++) fds[i] = dial(port, 0);
    usleep(1000000);
    after = rss_bytes(pid);
    printf("%ld\n", (after - before) / n);
    for (i = 0; i < n; i++) close(fds[i]);
    for (i = 0; i < 16; i++) close(warm[i]);
    return 0;
}

/* One server's connections, driven in slices on command from the parent. */
struct alt_child { int go, done; pid_t pid; int port; };

static void alt_serve(int port, int n, int idle_n, double slice, int go, int done)
{
    struct pollfd *p = calloc((size_t)n, sizeof *p);
    int *got = calloc((size_t)n, sizeof *got), i;
    char msg[64], buf[64], cmd;
    double rate = 0;
    memset(msg, 'r', sizeof msg);
    for (i = 0; i < idle_n; i++) dial(port, 1);   /* held open until exit, never used */
    for (i = 0; i < n; i++) { p[i].fd = dial(port, 1); p[i].events = POLLIN; }
    if (write(done, &rate, sizeof rate) != (ssize_t)sizeof rate) _exit(1);
    while (read(go, &cmd, 1) == 1 && cmd == 'g') {
        long count = 0;
        int outstanding = 0;
        double start = now_s(), end = start + slice, stop;
        for (i = 0; i < n; i++, outstanding++) {
            got[i] = 0;
            if (send(p[i].fd, msg, sizeof msg, MSG_NOSIGNAL) != (ssize_t)sizeof msg) _exit(1);
        }
        /* after the slice, no new messages: the replies in flight are drained so
           that the next server's slice starts with this one quiet */
        while (outstanding > 0) {
            int sending = now_s() < end;
            if (!sending && now_s() > end + 5) { fprintf(stderr, "alt: replies lost\n"); _exit(1); }
            if (poll(p, (nfds_t)n, 1000) <= 0) continue;
            for (i = 0; i < n; i++) {
                ssize_t k;
                if (!(p[i].revents & POLLIN)) continue;
                k = recv(p[i].fd, buf, sizeof msg - (size_t)got[i], 0);
                if (k <= 0) { fprintf(stderr, "alt: connection lost\n"); _exit(1); }
                got[i] += (int)k;
                if (got[i] < (int)sizeof msg) continue;
                got[i] = 0;
                outstanding--;
                if (!sending) continue;
                count++;
                if (send(p[i].fd, msg, sizeof msg, MSG_NOSIGNAL) != (ssize_t)sizeof msg) _exit(1);
                outstanding++;
            }
        }
        stop = end < now_s() ? end : now_s();
        rate = count / (stop - start);
        if (write(done, &rate, sizeof rate) != (ssize_t)sizeof rate) _exit(1);
    }
    _exit(0);
}

static int alt(double slice, int cycles, int n, int idle_n, int nports, char **ports)
{
    struct alt_child *c = calloc((size_t)nports, sizeof *c);
    double *rate = calloc((size_t)(nports * cycles), sizeof *rate), r;
    int i, k, status = 0;
    for (i = 0; i < nports; i++) {
        int go[2], done[2];
        const char *slash = strchr(ports[i], '/');
        int idle_i = slash ? atoi(slash + 1) : idle_n;
        c[i].port = atoi(ports[i]);
        if (pipe(go) < 0 || pipe(done) < 0) { perror("pipe"); return 1; }
        fflush(stdout);
        if ((c[i].pid = fork()) == 0) {
            close(go[1]); close(done[0]);
            alt_serve(c[i].port, n, idle_i, slice, go[0], done[1]);
        }
        close(go[0]); close(done[1]);
        c[i].go = go[1]; c[i].done = done[0];
        /* one at a time, so that no server accepts while another's connections are made */
        if (read(c[i].done, &r, sizeof r) != (ssize_t)sizeof r) { fprintf(stderr, "alt: port %d: setup failed\n", c[i].port); return 1; }
    }
    if (idle_n > 0) usleep(300000);   /* every server has accepted its connections */
    for (k = -1; k < cycles; k++)   /* cycle -1 warms every server up and is not counted */
        for (i = 0; i < nports; i++) {
            int j = (i + k + nports) % nports;
            if (write(c[j].go, "g", 1) != 1 || read(c[j].done, &r, sizeof r) != (ssize_t)sizeof r) {
                fprintf(stderr, "alt: port %d: slice failed\n", c[j].port);
                return 1;
            }
            if (k >= 0) rate[j * cycles + k] = r;
        }
    for (i = 0; i < nports; i++) {
        if (write(c[i].go, "q", 1) != 1) status = 1;
        close(c[i].go); close(c[i].done);
        waitpid(c[i].pid, NULL, 0);
        printf("%s", ports[i]);
        for (k = 0; k < cycles; k++) printf(" %.0f", rate[i * cycles + k]);
        printf("\n");
    }
    free(c);
    free(rate);
    return status;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "rtt") == 0)
        return rtt(atoi(argv[2]), atoi(argv[3]), atof(argv[4]), argc >= 6 ? atoi(argv[5]) : 0);
    if (argc >= 4 && strcmp(argv[1], "bulk") == 0) return bulk(atoi(argv[2]), atol(argv[3]));
    if (argc >= 7 && strcmp(argv[1], "alt") == 0)
        return alt(atof(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), argc - 6, argv + 6);
    if (argc >= 5 && strcmp(argv[1], "idle") == 0) return idle(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    fprintf(stderr, "usage: %s rtt PORT CONNS SECONDS [IDLE] | bulk PORT MIB | idle PORT CONNS PID | alt SLICE CYCLES CONNS IDLE PORT...\n", argv[0]);
    return 2;
}
