/* tests/aio_echo_faulty.c - examples/echo_server.c with one defect put into
 * its output on purpose, so that the load checks show they catch it.
 *
 *   ECHO_FAULT=drop|dup|delay [ECHO_FAULT_AFTER=BYTES] aio_echo_faulty PORT
 *
 * Once BYTES bytes (default 1000000) have been echoed in all, the next send:
 *   drop   leaves out one byte but reports it sent
 *   dup    sends its first byte twice
 *   delay  moves its first byte behind the rest of its first block, so
 *          bytes arrive out of order
 * Everything else is the example, unchanged. */
#define _GNU_SOURCE 1
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>

static ssize_t faulty_sendmsg(int fd, const struct msghdr *msg, int flags);
#define AIOS_SYS_SENDMSG(fd, msg, flags) faulty_sendmsg((fd), (msg), (flags))
#include "../examples/echo_server.c"

static long long echoed, fault_after = -1;
static int fault_done;

static ssize_t faulty_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    const char *mode = getenv("ECHO_FAULT");
    struct msghdr m = *msg;
    struct iovec first, iov[64];
    ssize_t n;
    size_t k;
    if (fault_after < 0) fault_after = getenv("ECHO_FAULT_AFTER") ? atoll(getenv("ECHO_FAULT_AFTER")) : 1000000;
    if (!mode || fault_done || echoed < fault_after || msg->msg_iovlen < 1 || msg->msg_iovlen > 63 ||
        msg->msg_iov[0].iov_len < 2) {
        n = sendmsg(fd, msg, flags);
        if (n > 0) echoed += n;
        return n;
    }
    fault_done = 1;
    for (k = 0; k < msg->msg_iovlen; k++) iov[k] = msg->msg_iov[k];
    first = iov[0];
    iov[0].iov_base = (char *)first.iov_base + 1;
    iov[0].iov_len = first.iov_len - 1;
    m.msg_iov = iov;
    if (strcmp(mode, "drop") == 0) {
        n = sendmsg(fd, &m, flags);
        return n < 0 ? n : n + 1;   /* the byte left out counts as sent */
    }
    if (strcmp(mode, "delay") == 0) {
        memmove(&iov[2], &iov[1], (msg->msg_iovlen - 1) * sizeof iov[0]);
        iov[1].iov_base = first.iov_base;
        iov[1].iov_len = 1;
        m.msg_iovlen = msg->msg_iovlen + 1;
        return sendmsg(fd, &m, flags);
    }
    if (strcmp(mode, "dup") == 0 && send(fd, first.iov_base, 1, flags) != 1) return -1;
    return sendmsg(fd, msg, flags);
}
