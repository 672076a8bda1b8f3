/* tests/aio_dgram_await_aiofirst.c - tests/aio_dgram_await.c with aio_stream.h
 * included before sched.h: then sched.h compiles the await bridge. */
#define AWAIT_AIO_FIRST
#include "aio_dgram_await.c"
