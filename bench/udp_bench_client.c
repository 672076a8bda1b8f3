/* bench/udp_bench_client.c - the load client every UDP echo server is measured with.
 *
 *   cc -O2 -o build/bench/udp_bench_client bench/udp_bench_client.c
 *
 *   udp_bench_client PORT PINGERS SECONDS
 *
 * PINGERS sockets, each connected to 127.0.0.1:PORT and each keeping one
 * 64-byte datagram in flight: an answer is counted and the next datagram
 * goes out at once.  Prints round trips per second over SECONDS, counted
 * after a warm-up of 100 ms.  A datagram unanswered after 200 ms is taken as
 * lost and sent again with a new number (the late answer, if it comes, is
 * not counted); how many is reported on stderr.  One epoll set, plain recv
 * and send, so the client costs the same for every server.
 */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 64
#define LOST_NS 200000000LL
#define WARMUP_NS 100000000LL

struct pinger {
    int fd;
    uint64_t seq;       /* the number the answer must carry */
    int64_t sent_ns;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Sends pinger i's datagram number p->seq. */
static int ping(struct pinger *p, uint32_t i, int64_t now)
{
    unsigned char msg[MSG];
    memset(msg, 'u', sizeof msg);
    memcpy(msg, &i, sizeof i);
    memcpy(msg + 4, &p->seq, sizeof p->seq);
    p->sent_ns = now;
    if (send(p->fd, msg, sizeof msg, 0) == (ssize_t)sizeof msg) return 0;
    if (errno == EAGAIN || errno == ENOBUFS) return 0;   /* taken as lost, sent again later */
    perror("udp_bench_client: send");
    return -1;
}

int main(int argc, char **argv)
{
    struct sockaddr_in a;
    struct epoll_event ev, evs[64];
    struct pinger *p;
    int64_t start, counting, end, now, next_scan;
    long long count = 0, lost = 0;
    int port, n, i, ep, status = 1;
    double seconds;
    if (argc != 4 || (port = atoi(argv[1])) <= 0 || port > 65535 || (n = atoi(argv[2])) <= 0 ||
        (seconds = atof(argv[3])) <= 0) {
        fprintf(stderr, "usage: %s PORT PINGERS SECONDS\n", argv[0]);
        return 2;
    }
    if (!(p = calloc((size_t)n, sizeof *p))) { perror("udp_bench_client"); return 1; }
    for (i = 0; i < n; i++) p[i].fd = -1;
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) { perror("udp_bench_client: epoll_create1"); goto out; }
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (i = 0; i < n; i++) {
        p[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (p[i].fd < 0 || connect(p[i].fd, (struct sockaddr *)&a, sizeof a) < 0) {
            perror("udp_bench_client: socket");
            goto out;
        }
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN;
        ev.data.u32 = (uint32_t)i;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, p[i].fd, &ev) < 0) { perror("udp_bench_client: epoll_ctl"); goto out; }
    }
    start = now_ns();
    counting = start + WARMUP_NS;
    end = counting + (int64_t)(seconds * 1e9);
    next_scan = start + LOST_NS / 2;
    for (i = 0; i < n; i++)
        if (ping(&p[i], (uint32_t)i, start) < 0) goto out;
    for (now = start; now < end;) {
        int k = epoll_wait(ep, evs, 64, 50), e;
        if (k < 0 && errno != EINTR) { perror("udp_bench_client: epoll_wait"); goto out; }
        now = now_ns();
        for (e = 0; e < k; e++) {
            uint32_t j = evs[e].data.u32, who;
            struct pinger *q = &p[j];
            unsigned char in[MSG + 1];
            uint64_t seq;
            ssize_t got;
            while ((got = recv(q->fd, in, sizeof in, MSG_DONTWAIT)) >= 0) {
                if (got != MSG) { fprintf(stderr, "udp_bench_client: a %zd-byte answer\n", got); goto out; }
                memcpy(&who, in, sizeof who);
                memcpy(&seq, in + 4, sizeof seq);
                if (who != j || seq != q->seq) continue;   /* late: already taken as lost */
                if (now >= counting) count++;
                q->seq++;
                if (ping(q, j, now) < 0) goto out;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {   /* ECONNREFUSED: no server there */
                perror("udp_bench_client: recv");
                goto out;
            }
        }
        if (now >= next_scan) {
            next_scan = now + LOST_NS / 2;
            for (i = 0; i < n; i++) {
                if (now - p[i].sent_ns < LOST_NS) continue;
                lost++;
                p[i].seq++;
                if (ping(&p[i], (uint32_t)i, now) < 0) goto out;
            }
        }
    }
    if (lost) fprintf(stderr, "udp_bench_client: %lld datagrams unanswered after 200 ms, sent again\n", lost);
    printf("%.0f\n", (double)count / seconds);
    status = 0;
out:
    for (i = 0; i < n; i++)
        if (p[i].fd >= 0) close(p[i].fd);
    if (ep >= 0) close(ep);
    free(p);
    return status;
}
