/* tests/usb_fakehost.c - runs a command next to a set of fake USB devices.
 *
 *   umockdev-wrapper build/tests/usb_fakehost -- COMMAND ARGS...
 *
 * Builds the testbed (the devices of tests/usb_fake.h: hubs, the loopback
 * test device 1234:0001, the composite 1234:0003, a SuperSpeed 1234:0004
 * and a low-speed 1234:0005), then runs COMMAND, which inherits the
 * testbed through UMOCKDEV_DIR and LD_PRELOAD, and exits with its status.
 * Used to compare `ausb dev-info` with `lsusb -v` and by the benchmarks. */
#include "tests/usb_fake.h"
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static usbf_device root1, hub, dev1, dev3, root2, dev4, dev5;

int main(int argc, char **argv)
{
    pid_t pid;
    int i = 1, status;
    if (argc > 1 && strcmp(argv[1], "--") == 0) i = 2;
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
    pid = fork();
    if (pid < 0) { perror("fork"); return 2; }
    if (pid == 0) {
        execvp(argv[i], argv + i);
        perror(argv[i]);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0) {}
    usbf_done();
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
