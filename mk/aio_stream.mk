# aio_stream.h examples
AIOS_EXAMPLES := echo_server http_get tcp_client serial_cat udp_echo
EXAMPLES += $(addprefix $(BUILD)/,$(AIOS_EXAMPLES))

$(addprefix $(BUILD)/,$(AIOS_EXAMPLES)): $(BUILD)/%: examples/%.c aio_stream.h | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -I. -o $@ $< $(LDFLAGS) -lpthread
# http_get's response parser lives in a header beside it
$(BUILD)/http_get: examples/http_resp.h
