# asyncdev.h: the unit suite in every build, against a kernel the test
# plays through the header's system-call hooks (tests/dev_test.c); the
# real kernel's side runs in the test VM (tests/parts/vm.sh, tests/dev_vm.c).

t_unit dev tests/dev_test.c
