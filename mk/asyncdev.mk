# asyncdev.h examples
EXAMPLES += $(BUILD)/gpio_counter

$(BUILD)/gpio_counter: examples/gpio_counter.c asyncdev.h sched.h | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -I. -o $@ $< $(LDFLAGS)
# the same counter on a chip played through a named pipe (tools/fakegpio.h)
$(BUILD)/gpio_counter_fake: examples/gpio_counter.c tools/fakegpio.h asyncdev.h sched.h | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -I. -include tools/fakegpio.h -o $@ $< $(LDFLAGS)
