/* tools/fakecam.c - the project's own emulated USB camera, for the demo and
 * the tests: a PTP still-image device written with the libumockdev C API
 * (through tests/usb_fake.h), next to which a command runs.
 *
 *   cc -std=c99 -O2 -iquote . -o build/fakecam tools/fakecam.c $(pkg-config --cflags --libs umockdev-1.0)
 *
 *   build/fakecam [--fail OP[=CODE]] [--misbehave MODE] -- COMMAND ARGS...
 *
 * Builds an umockdev testbed holding a root hub (Bus 001 Device 001) and the
 * camera (Bus 001 Device 002, ID 1209:0001, a pid.codes test id; the
 * identity is invented: "AsyncKit Demo Camera", serial AK0123456789), runs COMMAND, which
 * inherits the testbed through UMOCKDEV_DIR and LD_PRELOAD, and exits with
 * COMMAND's status.  Started outside umockdev-wrapper, it starts itself
 * again under umockdev-wrapper.  No recording is replayed: every answer is
 * computed here.  The camera itself, what it answers and how, is in
 * tools/fakecam.h (found beside this file).
 *
 * --fail OP[=CODE] (hex, 1 to 4 digits each) makes operation OP answer
 * response CODE (default 2002, General Error), to show how a client
 * reports a refusal.
 * --misbehave MODE makes every bulk IN transfer hostile, to show that a
 * client still ends: zlp (each completes at once with a zero-length
 * packet), trickle (each command is answered by a data container that
 * announces 1 MiB and then comes one byte per transfer) or silent (none
 * is ever answered).
 * A bad option prints the usage line and exits 2.
 */
#define _POSIX_C_SOURCE 200809L
#include "fakecam.h"
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static cam camera_state;
static usbf_device root_hub, camera;

/* ---- the runner ---- */

static int under_umockdev(void)
{
    const char *pre = getenv("LD_PRELOAD");
    return pre && strstr(pre, "umockdev-preload");
}

static int usage(const char *why, const char *arg)
{
    if (why) fprintf(stderr, "fakecam: %s: '%s'\n", why, arg);
    fprintf(stderr, "usage: fakecam [--fail OP[=CODE]] [--misbehave zlp|trickle|silent] -- COMMAND ARGS...\n");
    return 2;
}

/* 1 to 4 hex digits up to `stop`, which must follow them; NULL otherwise. */
static const char *parse_hex16(const char *s, char stop, unsigned *out)
{
    unsigned v = 0;
    int n = 0, d;
    for (; *s != stop; s++, n++) {
        char ch = *s;
        d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0 || n == 4) return NULL;
        v = v * 16 + (unsigned)d;
    }
    if (n == 0) return NULL;
    *out = v;
    return s;
}

/* --fail OP[=CODE]: 0, or -1 for anything else (OP 0 included). */
static int parse_fail(const char *arg, cam *c)
{
    const char *rest = parse_hex16(arg, strchr(arg, '=') ? '=' : 0, &c->fail_op);
    c->fail_code = CAM_RC_GENERAL_ERROR;
    if (!rest || c->fail_op == 0) return -1;
    if (*rest == '=' && !parse_hex16(rest + 1, 0, &c->fail_code)) return -1;
    return 0;
}

static int parse_misbehave(const char *arg, cam *c)
{
    static const char *const modes[] = {"zlp", "trickle", "silent"};
    static const int values[] = {FAKECAM_ZLP, FAKECAM_TRICKLE, FAKECAM_SILENT};
    int k;
    for (k = 0; k < 3; k++)
        if (strcmp(arg, modes[k]) == 0) { c->misbehave = values[k]; return 0; }
    return -1;
}

/* The options before "--"; the index of COMMAND, or -1 after the usage. */
static int parse_args(int argc, char **argv, cam *c)
{
    int i = 1;
    while (i < argc && strcmp(argv[i], "--") != 0) {
        if (i + 1 >= argc) { usage("a value is missing after", argv[i]); return -1; }
        if (strcmp(argv[i], "--fail") == 0) {
            if (parse_fail(argv[i + 1], c) < 0) { usage("--fail wants OP[=CODE], hex of 1 to 4 digits", argv[i + 1]); return -1; }
        } else if (strcmp(argv[i], "--misbehave") == 0) {
            if (parse_misbehave(argv[i + 1], c) < 0) { usage("--misbehave wants zlp, trickle or silent", argv[i + 1]); return -1; }
        } else {
            usage("unknown option", argv[i]);
            return -1;
        }
        i += 2;
    }
    if (i + 1 >= argc) { usage(NULL, NULL); return -1; }
    return i + 1;
}

int main(int argc, char **argv)
{
    int i, status;
    pid_t pid;
    cam *c = &camera_state;
    if ((i = parse_args(argc, argv, c)) < 0) return 2;
    if (!under_umockdev()) {
        /* umockdev-wrapper preloads the library that makes the testbed
         * visible; start again under it (once: the variable says so). */
        char **args;
        int k;
        if (getenv("FAKECAM_WRAPPED")) {
            fprintf(stderr, "fakecam: needs umockdev-wrapper (Debian package umockdev)\n");
            return 2;
        }
        if (!(args = (char **)calloc((size_t)argc + 2, sizeof *args))) return 2;
        setenv("FAKECAM_WRAPPED", "1", 1);
        args[0] = (char *)"umockdev-wrapper";
        for (k = 0; k < argc; k++) args[k + 1] = argv[k];
        execvp(args[0], args);
        fprintf(stderr, "fakecam: cannot start umockdev-wrapper (Debian package umockdev): %s\n", strerror(errno));
        free(args);
        return 2;
    }
    usbf_init();
    root_hub.desc_len = usbf_hub_descriptors(root_hub.desc);
    usbf_add(&root_hub, "/devices/fake/usb1", 1, 1, 480);
    fakecam_add(&camera, c, "/devices/fake/usb1/1-1", 1, 2);
    fflush(NULL);
    pid = fork();
    if (pid < 0) { perror("fakecam: fork"); return 2; }
    if (pid == 0) {
        execvp(argv[i], argv + i);
        fprintf(stderr, "fakecam: %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) { perror("fakecam: waitpid"); status = 2 << 8; break; }
    }
    usbf_done();
    g_free(root_hub.syspath);
    g_free(camera.syspath);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
