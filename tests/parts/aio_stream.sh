# tests/parts/aio_stream.sh - aio_stream.h: unit suites in every build variant,
# then the examples against real peers (nginx, socat, curl, a load client, a
# pseudo-terminal).  Sourced by tests/run.sh.
#
# AIO_LOAD_CONNS (default 1000) sets the load client's concurrent connections.

t_unit aio_stream tests/aio_stream_test.c -lpthread
