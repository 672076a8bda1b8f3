# aio_stream.h examples
AIOS_EXAMPLES := echo_server http_get tcp_client serial_cat udp_echo gps_logger
EXAMPLES += $(addprefix $(BUILD)/,$(AIOS_EXAMPLES))

$(addprefix $(BUILD)/,$(AIOS_EXAMPLES)): $(BUILD)/%: examples/%.c aio_stream.h | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -I. -o $@ $< $(LDFLAGS) -lpthread
# http_get's response parser lives in a header beside it
$(BUILD)/http_get: examples/http_resp.h
# gps_logger's NMEA parser lives in a header beside it
$(BUILD)/gps_logger: examples/nmea.h
# a GPS module simulated on a pseudo-terminal, to try gps_logger without one
# (libc only, so a plain `make` builds it too)
EXAMPLES += $(BUILD)/gpssim
$(BUILD)/gpssim: tools/gpssim.c | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -o $@ $< $(LDFLAGS)
