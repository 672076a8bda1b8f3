# sched.h examples
EXAMPLES += $(BUILD)/sched_demo $(BUILD)/shared_bus $(BUILD)/button $(BUILD)/sensor_logger

$(BUILD)/sched_demo: examples/sched_demo.c sched.h | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -I. -o $@ $< $(LDFLAGS)
$(BUILD)/shared_bus: examples/shared_bus.c sched.h | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -I. -o $@ $< $(LDFLAGS)
$(BUILD)/button: examples/button.c sched.h | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -I. -o $@ $< $(LDFLAGS)
# the TMP102 driver lives in a header beside the logger
$(BUILD)/sensor_logger: examples/sensor_logger.c examples/tmp102.h sched.h | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -I. -o $@ $< $(LDFLAGS)
