# sched.h examples
EXAMPLES += $(BUILD)/sched_demo $(BUILD)/shared_bus $(BUILD)/button

$(BUILD)/sched_demo: examples/sched_demo.c sched.h | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -I. -o $@ $< $(LDFLAGS)
$(BUILD)/shared_bus: examples/shared_bus.c sched.h | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -I. -o $@ $< $(LDFLAGS)
$(BUILD)/button: examples/button.c sched.h | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -I. -o $@ $< $(LDFLAGS)
