/* tools/gpssim.c - a simulated GPS module on a pseudo-terminal, for the
 * tests and for trying examples/gps_logger.c without a receiver.
 *
 *   cc -std=c99 -O2 -o build/gpssim tools/gpssim.c
 *
 *   build/gpssim [--timeout SECONDS] SCRIPT -- COMMAND ARGS...
 *   e.g. build/gpssim tests/gps/fix.sim -- build/gps_logger --count 2 @tty 9600
 *
 * Opens a pseudo-terminal and sets its port side raw (8N1, no echo, as a
 * serial port), so that what the module sends before COMMAND opens the
 * port waits there unchanged.  Runs COMMAND with each argument "@tty"
 * replaced by the port's path (also in the environment as GPSSIM_TTY); its
 * stdout passes through this program, which reads it line by line for the
 * script's "expect".  The script (a file, or "-" for stdin, COMMAND's
 * stdin then being /dev/null) plays the module, one step per line:
 *
 *   nmea BODY      sends "$BODY*HH" CR LF, HH the checksum of BODY
 *   badsum BODY    the same with a checksum that is off by one
 *   raw TEXT       sends TEXT with the escapes \r \n \t \\ \xHH and no line end
 *   expect TEXT    waits until COMMAND prints a line holding TEXT (lines
 *                  an earlier expect went past do not count)
 *   kill SIGNAL    sends COMMAND SIGINT or SIGTERM (INT, TERM)
 *   hangup         closes the terminal: COMMAND's reads fail as on an unplug
 *   # ...          a comment (so is an empty line)
 *
 * Then it waits for COMMAND to end and exits with its status (128 + N for a
 * signal N).  A step that cannot finish within the timeout (default 30 s),
 * an expect that COMMAND ends without meeting, or a bad script line stops
 * COMMAND with SIGKILL and exits 125 with a message naming the script line.
 * Bad arguments: the usage line, exit 2.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#define OUT_MAX 65536   /* COMMAND's lines kept for expect */

static int master = -1, port = -1, out_fd = -1;
static pid_t child = -1;
static int timeout_ms = 30000;
static const char *script_name;
static int script_line;
static char out[OUT_MAX + 1];     /* COMMAND's output not yet passed by an expect */
static size_t out_len;
static int out_eof;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "gpssim: %s:%d: ", script_name, script_line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    if (child > 0) { kill(child, SIGKILL); waitpid(child, NULL, 0); }
    exit(125);
}

/* ---- COMMAND's output ---- */

/* Reads what COMMAND printed: passes it on and keeps it for expect. */
static void take_output(void)
{
    char buf[4096];
    ssize_t n = read(out_fd, buf, sizeof buf);
    if (n == 0) { out_eof = 1; return; }
    if (n < 0) { if (errno != EAGAIN && errno != EINTR) out_eof = 1; return; }
    if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n || fflush(stdout) != 0) die("stdout: %s", strerror(errno));
    if (out_len + (size_t)n > OUT_MAX) {   /* keep the newest; an expect looks at recent lines */
        size_t drop = out_len + (size_t)n - OUT_MAX;
        if (drop > out_len) drop = out_len;
        memmove(out, out + drop, out_len - drop);
        out_len -= drop;
    }
    memcpy(out + out_len, buf, (size_t)n);   /* buf is smaller than out */
    for (; n > 0; n--, out_len++)
        if (out[out_len] == 0) out[out_len] = 1;   /* a NUL printed must not end the text expect searches */
    out[out_len] = 0;
}

/* One wait: for COMMAND's output, and for room in the terminal when
 * want_write.  0, or -1 when the deadline passed. */
static int wait_once(int want_write, long long deadline)
{
    struct pollfd p[2];
    int n = 0, left = (int)(deadline - now_ms());
    if (left <= 0) return -1;
    if (!out_eof) { p[n].fd = out_fd; p[n].events = POLLIN; n++; }
    if (want_write) { p[n].fd = master; p[n].events = POLLOUT; n++; }
    if (n == 0) return -1;   /* nothing can change any more */
    if (poll(p, (nfds_t)n, left) < 0 && errno != EINTR) die("poll: %s", strerror(errno));
    if (!out_eof && p[0].revents) take_output();
    return 0;
}

/* ---- the module's side ---- */

static void send_bytes(const char *p, size_t n)
{
    long long deadline = now_ms() + timeout_ms;
    if (master < 0) die("the terminal was hung up");
    while (n > 0) {
        ssize_t k = write(master, p, n);
        if (k > 0) { p += k; n -= (size_t)k; continue; }
        if (k < 0 && errno != EAGAIN && errno != EINTR) die("write: %s", strerror(errno));
        if (wait_once(1, deadline) < 0) die("the port took nothing for %d ms", timeout_ms);
    }
}

static void send_nmea(const char *body, int off_by)
{
    char line[1024];
    unsigned sum = 0;
    const char *c;
    int n;
    for (c = body; *c; c++) sum ^= (unsigned char)*c;
    n = snprintf(line, sizeof line, "$%s*%02X\r\n", body, (sum + (unsigned)off_by) & 0xff);
    if (n < 0 || (size_t)n >= sizeof line) die("sentence too long for the script");
    send_bytes(line, (size_t)n);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void send_raw(const char *t)
{
    char buf[4096];
    size_t n = 0;
    while (*t) {
        char c = *t++;
        if (c == '\\') {
            char e = *t ? *t++ : 0;
            if (e == 'r') c = '\r';
            else if (e == 'n') c = '\n';
            else if (e == 't') c = '\t';
            else if (e == '\\') c = '\\';
            else if (e == 'x' && hex_digit(t[0]) >= 0 && hex_digit(t[1]) >= 0) {
                c = (char)(hex_digit(t[0]) * 16 + hex_digit(t[1]));
                t += 2;
            } else die("bad escape in raw");
        }
        if (n == sizeof buf) { send_bytes(buf, n); n = 0; }
        buf[n++] = c;
    }
    send_bytes(buf, n);
}

/* Waits for a line of COMMAND's output holding text; forgets what it passed. */
static void expect(const char *text)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        char *line = out, *nl;
        while ((nl = strchr(line, '\n')) != NULL) {
            *nl = 0;
            if (strstr(line, text)) {
                *nl = '\n';
                out_len -= (size_t)(nl + 1 - out);
                memmove(out, nl + 1, out_len + 1);
                return;
            }
            *nl = '\n';
            line = nl + 1;
        }
        if (out_eof) die("the command ended without printing \"%s\"", text);
        if (wait_once(0, deadline) < 0) die("no line with \"%s\" within %d ms", text, timeout_ms);
    }
}

static void step(char *line)
{
    size_t n = strlen(line);
    char *arg;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    if (n == 0 || line[0] == '#') return;
    arg = strchr(line, ' ');
    if (arg) *arg++ = 0;
    else arg = line + n;
    if (strcmp(line, "nmea") == 0) send_nmea(arg, 0);
    else if (strcmp(line, "badsum") == 0) send_nmea(arg, 1);
    else if (strcmp(line, "raw") == 0) send_raw(arg);
    else if (strcmp(line, "expect") == 0) expect(arg);
    else if (strcmp(line, "kill") == 0 && strcmp(arg, "INT") == 0) kill(child, SIGINT);
    else if (strcmp(line, "kill") == 0 && strcmp(arg, "TERM") == 0) kill(child, SIGTERM);
    else if (strcmp(line, "hangup") == 0 && !*arg) {
        if (master >= 0) close(master);
        if (port >= 0) close(port);
        master = port = -1;
    } else die("unknown step \"%s\"", line);
}

/* ---- setting up, running, ending ---- */

static void open_terminal(char *path, size_t cap)
{
    struct termios tio;
    const char *name;
    master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || !(name = ptsname(master)))
        die("pseudo-terminal: %s", strerror(errno));
    if (strlen(name) >= cap) die("pseudo-terminal name too long");
    strcpy(path, name);
    /* held open for the whole run: bytes sent before COMMAND opens the port wait in it */
    port = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (port < 0 || tcgetattr(port, &tio) < 0) die("%s: %s", path, strerror(errno));
    tio.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXOFF);
    tio.c_oflag &= ~(tcflag_t)OPOST;
    tio.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
    tio.c_cflag |= (tcflag_t)CS8;
    if (tcsetattr(port, TCSANOW, &tio) < 0) die("%s: %s", path, strerror(errno));
    if (fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK) < 0) die("fcntl: %s", strerror(errno));
}

static void start_command(char **argv, const char *path)
{
    int p[2], i;
    if (pipe(p) < 0) die("pipe: %s", strerror(errno));
    for (i = 0; argv[i]; i++) if (strcmp(argv[i], "@tty") == 0) argv[i] = (char *)path;
    setenv("GPSSIM_TTY", path, 1);
    fflush(stdout);
    child = fork();
    if (child < 0) die("fork: %s", strerror(errno));
    if (child == 0) {
        signal(SIGPIPE, SIG_DFL);   /* ignored here, not in COMMAND */
        if (strcmp(script_name, "-") == 0) {   /* the script is not COMMAND's input */
            int null = open("/dev/null", O_RDONLY);
            if (null >= 0) { dup2(null, 0); close(null); }
        }
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "gpssim: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(p[1]);
    out_fd = p[0];
    fcntl(out_fd, F_SETFL, fcntl(out_fd, F_GETFL) | O_NONBLOCK);
}

/* COMMAND's status once it ends, its output all passed on. */
static int finish_command(void)
{
    long long deadline = now_ms() + timeout_ms;
    int status;
    while (!out_eof)
        if (wait_once(0, deadline) < 0) die("the command did not end within %d ms", timeout_ms);
    for (;;) {
        pid_t r = waitpid(child, &status, WNOHANG);
        if (r == child) break;
        if (r < 0 && errno != EINTR) die("waitpid: %s", strerror(errno));
        if (now_ms() > deadline) die("the command closed its output but did not end");
        poll(NULL, 0, 10);   /* its output is closed: it is on its way out */
    }
    child = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int usage(void)
{
    fprintf(stderr, "usage: gpssim [--timeout SECONDS] SCRIPT -- COMMAND ARGS...\n");
    return 2;
}

int main(int argc, char **argv)
{
    char path[256], line[4096];
    FILE *script;
    int i = 1;
    if (argc > 2 && strcmp(argv[1], "--timeout") == 0) {
        char *end;
        long s;
        errno = 0;
        s = strtol(argv[2], &end, 10);
        if (argv[2][0] < '0' || argv[2][0] > '9' || *end || errno || s < 1 || s > 3600) return usage();
        timeout_ms = (int)s * 1000;
        i = 3;
    }
    if (argc - i < 3 || strcmp(argv[i + 1], "--") != 0) return usage();
    script_name = argv[i];
    script = strcmp(script_name, "-") == 0 ? stdin : fopen(script_name, "r");
    if (!script) { fprintf(stderr, "gpssim: %s: %s\n", script_name, strerror(errno)); return 125; }
    signal(SIGPIPE, SIG_IGN);
    open_terminal(path, sizeof path);
    start_command(argv + i + 2, path);
    while (fgets(line, sizeof line, script)) {
        script_line++;
        step(line);
    }
    script_line++;   /* the end of the script */
    if (script != stdin) fclose(script);
    return finish_command();
}
