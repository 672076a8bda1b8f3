/* tests/usb_sched_usbfirst.c - tests/usb_sched.c with asyncusb.h included
 * before sched.h: then sched.h compiles the await bridge. */
#define AWAIT_USB_FIRST
#include "usb_sched.c"
