# asyncusb.h examples (libusb-1.0 through pkg-config)
EXAMPLES += $(BUILD)/ausb $(BUILD)/ptp_info

AUSB_LIBS = $(shell $(PKG_CONFIG) --cflags --libs libusb-1.0)

$(BUILD)/ausb: examples/ausb.c asyncusb.h | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -I. -o $@ $< $(AUSB_LIBS) $(LDFLAGS)
$(BUILD)/ptp_info: examples/ptp_info.c asyncusb.h | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -I. -o $@ $< $(AUSB_LIBS) $(LDFLAGS)

EXAMPLES += $(BUILD)/usb_monitor $(BUILD)/bulk_stream
$(BUILD)/usb_monitor: examples/usb_monitor.c asyncusb.h | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -I. -o $@ $< $(AUSB_LIBS) $(LDFLAGS)
$(BUILD)/bulk_stream: examples/bulk_stream.c asyncusb.h | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -I. -o $@ $< $(AUSB_LIBS) $(LDFLAGS)

EXAMPLES += $(BUILD)/usb_lines
$(BUILD)/usb_lines: examples/usb_lines.c asyncusb.h aio_stream.h sched.h | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -I. -o $@ $< $(AUSB_LIBS) -lpthread $(LDFLAGS)

# The demo's emulated camera needs libumockdev, which cross builds do not
# have: it is built for `make demo` (and by the tests), never by `make all`.
DEMO_TOOLS += $(BUILD)/fakecam
FAKECAM_LIBS = $(shell $(PKG_CONFIG) --cflags --libs umockdev-1.0)
$(BUILD)/fakecam: tools/fakecam.c tools/fakecam.h tools/ptpcam.h tests/usb_fake.h | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -iquote . -o $@ $< $(FAKECAM_LIBS) $(LDFLAGS)
# ptp_info's container and dataset parsing lives in a header beside it
$(BUILD)/ptp_info: examples/ptp_parse.h
