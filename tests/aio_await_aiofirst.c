/* tests/aio_await_aiofirst.c - tests/aio_await.c with aio_stream.h included
 * before sched.h: then sched.h compiles the await bridge. */
#define AWAIT_AIO_FIRST
#include "aio_await.c"
