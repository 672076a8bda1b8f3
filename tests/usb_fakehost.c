/* tests/usb_fakehost.c - runs a command next to a set of fake USB devices.
 *
 *   umockdev-wrapper build/tests/usb_fakehost -- COMMAND ARGS...
 *
 * Builds the testbed (the devices of tests/usb_fake.h: hubs, the loopback
 * test device 1234:0001, the composite 1234:0003, a SuperSpeed 1234:0004
 * and a low-speed 1234:0005), then runs COMMAND, which inherits the
 * testbed through UMOCKDEV_DIR and LD_PRELOAD, and exits with its status.
 * Used to compare `ausb dev-info` with `lsusb -v` and by the benchmarks.
 *
 *   umockdev-wrapper build/tests/usb_fakehost --hotplug -- COMMAND ARGS...
 *
 * reads COMMAND's output (and copies it to stdout); once COMMAND has
 * printed a line for each of the 7 devices, plugs in 1234:00c3 with a
 * uevent, waits for a line naming it, unplugs it, waits for the next line
 * naming it, then stops COMMAND and exits 0 (1 when COMMAND ended first). */
#include "tests/usb_fake.h"
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <signal.h>

static usbf_device root1, hub, dev1, dev3, root2, dev4, dev5, late;

/* Reads COMMAND's lines; see the top comment. */
static int drive_hotplug(pid_t pid, FILE *in)
{
    char line[256];
    int lines = 0, step = 0;
    while (fgets(line, sizeof line, in)) {
        fputs(line, stdout);
        fflush(stdout);
        lines++;
        if (step == 0 && lines == 7) {
            late.desc_len = usbf_std_descriptors(late.desc, 0x1234, 0x00c3);
            usbf_add(&late, "/devices/fake/usb1/1-1.3", 1, 9, 480);
            umockdev_testbed_uevent(usbf_testbed, late.syspath, "add");
            step = 1;
        } else if (step == 1 && strstr(line, "1234:00c3")) {
            usbf_unplug(&late);
            step = 2;
        } else if (step == 2 && strstr(line, "1234:00c3")) {
            kill(pid, SIGTERM);
            return 0;
        }
    }
    return 1;
}

int main(int argc, char **argv)
{
    pid_t pid;
    int i = 1, status, hotplug = 0, fds[2] = {-1, -1}, r = 0;
    if (argc > 1 && strcmp(argv[1], "--hotplug") == 0) { hotplug = 1; i = 2; }
    if (argc > i && strcmp(argv[i], "--") == 0) i++;
    if (i >= argc) {
        fprintf(stderr, "usage: usb_fakehost -- COMMAND ARGS...\n");
        return 2;
    }
    usbf_init();
    root1.desc_len = usbf_hub_descriptors(root1.desc);
    usbf_add(&root1, "/devices/fake/usb1", 1, 1, 480);
    hub.desc_len = usbf_hub_descriptors(hub.desc);
    usbf_add(&hub, "/devices/fake/usb1/1-1", 1, 2, 480);
    dev1.strings[1] = "Fake Inc"; dev1.strings[2] = "Loop Gadget"; dev1.strings[3] = "SN-ONE";
    dev1.desc_len = usbf_std_descriptors(dev1.desc, 0x1234, 0x0001);
    usbf_add(&dev1, "/devices/fake/usb1/1-1.2", 1, 5, 480);
    dev3.desc_len = usbf_unusual_descriptors(dev3.desc);
    usbf_add(&dev3, "/devices/fake/usb1/1-1.4", 1, 7, 480);
    dev5.desc_len = usbf_lowspeed_descriptors(dev5.desc);
    usbf_add(&dev5, "/devices/fake/usb1/1-1.1", 1, 3, 1);
    root2.desc_len = usbf_hub_descriptors(root2.desc);
    usbf_add(&root2, "/devices/fake/usb2", 2, 1, 5000);
    dev4.desc_len = usbf_superspeed_descriptors(dev4.desc);
    usbf_add(&dev4, "/devices/fake/usb2/2-1", 2, 2, 5000);
    fflush(NULL);
    if (hotplug && pipe(fds) < 0) { perror("pipe"); return 2; }
    pid = fork();
    if (pid < 0) { perror("fork"); return 2; }
    if (pid == 0) {
        if (hotplug) { dup2(fds[1], 1); close(fds[0]); close(fds[1]); }
        execvp(argv[i], argv + i);
        perror(argv[i]);
        _exit(127);
    }
    if (hotplug) {
        FILE *in;
        close(fds[1]);
        in = fdopen(fds[0], "r");
        r = in ? drive_hotplug(pid, in) : 2;
        if (r) kill(pid, SIGTERM);
        while (waitpid(pid, &status, 0) < 0) {}
        if (in) fclose(in);
        usbf_done();
        return r;
    }
    while (waitpid(pid, &status, 0) < 0) {}
    usbf_done();
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
