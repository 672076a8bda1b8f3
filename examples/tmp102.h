/* tmp102.h - v0.1.0 - a TMP102-style I2C temperature sensor read by sched.h tasks, over i2c-dev or a simulated bus - MIT or public domain, see the end of the file */
/*
# tmp102.h

An example driver of the asynckit family: a register-mapped I2C
temperature sensor of the TMP102 kind (also the TMP112, which has the same
registers), read by a sched.h task that shares the bus with every other
device on it through sched.h's managed resource.  The bus is reached
through a small table of operations: `/dev/i2c-N` (i2c-dev, no library),
a simulated bus of TMP102s for trying a program without hardware and for
tests, or operations of your own.

## Using it

It is built on sched.h (which it includes).  In exactly one C file:

    #define SCHD_IMPLEMENTATION
    #define TMP102_IMPLEMENTATION
    #include "tmp102.h"

Other files include it without the macros.  One command builds a program:
`cc -std=c99 -O2 -I. -o app app.c`.  No kernel header is needed: the few
ioctl numbers and structures of i2c-dev are defined here (musl toolchains
have no `<linux/i2c-dev.h>`).

## Options (define before including the implementation)

- `TMP102_STATIC`: every function static (implies `TMP102_IMPLEMENTATION`).
- `TMP102_SYS_OPEN(path, flags)`, `TMP102_SYS_IOCTL(fd, request, arg)`,
  `TMP102_SYS_CLOSE(fd)`: the system calls on `/dev/i2c-N`, each a
  function-like macro with the libc signature, so that a test can play
  the kernel.
- `TMP102_API`: decoration of public functions (default `extern`).

## How a read keeps the loop free

i2c-dev has no asynchronous interface: every transfer is an ioctl that
returns when the bus transaction is over.  A register transaction of this
sensor moves 4 or 5 bytes, about 0.4 ms at 100 kHz and 0.1 ms at 400 kHz,
so the driver makes them from the loop, each one whole and short, and
never waits on the bus for anything else.  What takes time is the
conversion (26 ms typical, 35 ms at most): the task waits for it with a
sched.h delay, holding nothing, while the loop serves everything else and
other devices use the bus.  A read is:

    acquire the bus      SCHD_AWAIT_ACQUIRE, bounded by the read's timeout
    start a one-shot     write the configuration with SD and OS set
    release the bus
    wait                 SCHD_AWAIT_DELAY(conversion_ns): the loop runs on
    acquire the bus
    collect              read the configuration: OS set means done; then
                         read the temperature (else release, wait poll_ns,
                         and ask again)
    release the bus

So a read blocks the loop for at most two transactions at a time (the
first read of a sensor, which also puts it into shutdown, and every
collection), and between them the bus is free.  The bus keeps the longest
transaction it has made (`bus->longest_ns`): that is the longest stall
this driver caused.  A transaction that hangs (a device holding SDA low)
blocks until the adapter's timeout, often a second:
`tmp102_i2cdev_set_timeout` bounds it.  Devices that stretch the clock for
a whole measurement, large block transfers, or a bus slower than 100 kHz
need a worker thread instead; the bus operations are the place for it.

## Where it fits

    tmp102_bus bus;  tmp102_i2cdev dev;  tmp102_sensor a, b;
    tmp102_i2cdev_open(&dev, "/dev/i2c-1", 0);
    tmp102_bus_init(&bus, &loop, tmp102_i2cdev_ops(), &dev);
    tmp102_init(&a, &bus, 0x48);
    tmp102_init(&b, &bus, 0x49);
    tmp102_read(&a, on_reading, NULL);        // from a callback or a job
    tmp102_read(&b, on_reading, NULL);        // both convert at the same time

or from a task, where the read is a task of its own to join:

    if (tmp102_read(&a, NULL, NULL) == 0) SCHD_AWAIT_JOIN(t, &a.task);
    if (a.status == 0) printf("%.4f C\n", tmp102_celsius(&a));

`bus.res` is an ordinary `schd_resource`: another driver on the same bus
takes a handle on it (`schd_resource_handle`) and holds it for its own
transactions; hooks set on it after `tmp102_bus_init` (an I2C
multiplexer's channel select) run as the bus changes hands, with the
handle's argument, which for a sensor is its `tmp102_sensor`.

## API

### Registers and their values

    TMP102_REG_TEMP 0x00, TMP102_REG_CONFIG 0x01, TMP102_REG_TLOW 0x02, TMP102_REG_THIGH 0x03
    TMP102_CFG_OS, _SD, _TM, _POL, _EM, TMP102_CFG_FAULTS_1 .. _6, TMP102_CFG_RATE_0_25HZ .. _8HZ
    int  tmp102_decode_temp(uint16_t raw);     the temperature register, in 1/16 degC;
                                               its bit 0 says 12-bit (-128 to 127.9375)
                                               or 13-bit extended (-256 to 255.9375)
    int  tmp102_decode_limit(uint16_t raw, int extended);   Tlow, Thigh
    int  tmp102_encode_limit(int sixteenths, int extended, uint16_t *raw);   -ERANGE
                                               outside the register's range

Registers hold 16 bits, sent most significant byte first; a temperature is
left-justified two's complement, 0.0625 degC per unit.

### The bus

    int  tmp102_bus_init(tmp102_bus *bus, schd_loop *loop, const tmp102_bus_ops *ops, void *ud);

`ops->write_reg(ud, addr, reg, value)` writes a register in one
transaction, `ops->read_reg(ud, addr, reg, &value)` reads one (a pointer
write, a repeated start, two bytes); each returns 0 or a negative errno.
They are called from the loop and block it: keep them short.  The bus
counts `transactions`, `errors`, and keeps `longest_ns`.

### i2c-dev

    int  tmp102_i2cdev_open(tmp102_i2cdev *dev, const char *path, unsigned flags);
    int  tmp102_i2cdev_set_timeout(tmp102_i2cdev *dev, int64_t ns);   the adapter's, in 10 ms steps
    void tmp102_i2cdev_close(tmp102_i2cdev *dev);
    const tmp102_bus_ops *tmp102_i2cdev_ops(void);

`path` is `/dev/i2c-1` or just `1`.  Adapters that speak plain I2C get one
I2C_RDWR ioctl per transaction; adapters that only speak SMBus (and the
kernel's i2c-stub), or any with the flag `TMP102_I2CDEV_SMBUS`, get SMBus
word transfers (byte-swapped: SMBus sends the low byte first, the sensor
the high one).  The first transfer to an address asks i2c-dev for it
(I2C_SLAVE), so an address that a kernel driver holds (hwmon's tmp102 or
lm75) fails with -EBUSY instead of sharing the chip with it.  The timeout
set with `tmp102_i2cdev_set_timeout` is the adapter's, shared by every
user of that bus.

### A sensor

    int  tmp102_init(tmp102_sensor *s, tmp102_bus *bus, unsigned addr);   0x03 to 0x77
    int  tmp102_read(tmp102_sensor *s, tmp102_cb cb, void *ud);          [cb(s, status, ud)]
    int  tmp102_set_limits(tmp102_sensor *s, int low, int high, tmp102_cb cb, void *ud);
    int  tmp102_cancel(tmp102_sensor *s);
    double tmp102_celsius(const tmp102_sensor *s);
    const char *tmp102_stage_name(int stage);
    const char *tmp102_strerror(int code);

Settings, in the sensor after its init: `config` (bits written with each
conversion: `TMP102_CFG_EM` for 13 bits up to 150 degC, the alert's
`_TM`, `_POL`, `_FAULTS_n`), `conversion_ns` (26 ms: the first look at
the result), `poll_ns` (5 ms: between later looks), `timeout_ns` (100 ms:
the whole read, the waits for the bus included).

`tmp102_read` starts a read (a task, `s->task`) and returns 0, or -EBUSY
while an operation of this sensor runs, or -ECANCELED while the loop
closes.  The callback comes once, from the loop, with the outcome, which
also stays in the sensor: `status`, `sixteenths` and `raw` (the register)
when it is 0, `stage` (where it failed), `started_ns`, `done_ns`, and
`polls` (how many looks found the conversion unfinished).
`tmp102_set_limits` writes the settings of `config`, Tlow and Thigh (1/16
degC, in the format that `config`'s EM bit chooses) the same way, in one
hold of the bus (three transactions, for a setup done once).  `tmp102_cancel` ends an
operation with -ECANCELED; closing the loop does too.  A sensor must not
be freed while an operation runs.

### A simulated bus

    void tmp102_sim_init(tmp102_sim *sim);
    tmp102_sim_chip *tmp102_sim_add(tmp102_sim *sim, unsigned addr, int sixteenths);
    const tmp102_bus_ops *tmp102_sim_ops(void);

Up to four simulated TMP102s with their registers, their one-shot
conversions and the time i2c-dev takes: each transaction blocks the caller
for `sim->latency_ns` (plus the chip's `latency_ns`) as the ioctl would.
An address with no chip answers -ENXIO.  A chip measures `sixteenths`,
which moves by `step` after each conversion; `fail` (a negative errno)
fails its transactions once `fail_after` more have succeeded, and
`never_ready` keeps its conversions from ending.  Conversions take
`sim->conversion_ns` (26 ms) of `sim->clock` (NULL: CLOCK_MONOTONIC; a
test gives it the loop's clock).

## Error codes

0 is success; failures are negative errno values, and the stage says
where (`TMP102_STAGE_BUS`: waiting for the bus, `_START`: starting the
conversion, `_CONVERSION`: waiting for it, `_RESULT`: collecting it,
`_LIMITS`: writing Tlow and Thigh):

    -ETIMEDOUT   the read's timeout ran out (stage bus or conversion: a sensor
                 that never finishes its conversion), or the adapter gave up
    -ENXIO       no device answered at the address (some adapters: -EREMOTEIO)
    -EIO         the transaction failed on the bus
    -EBUSY       an operation of this sensor is running; from i2c-dev, a
                 kernel driver holds the address
    -ECANCELED   tmp102_cancel, or the loop closed
    -ENOTSUP     the adapter can do neither plain I2C nor SMBus word transfers
    -ERANGE      a limit outside the register's range
    -EINVAL      bad arguments or settings
*/
#ifndef TMP102_H_INCLUDED
#define TMP102_H_INCLUDED

#include "sched.h"

#include <stdint.h>

#if defined(TMP102_STATIC) && !defined(TMP102_IMPLEMENTATION)
#define TMP102_IMPLEMENTATION
#endif
#ifndef TMP102_API
#  if defined(TMP102_STATIC) && defined(__GNUC__)
#    define TMP102_API static __attribute__((unused))
#  elif defined(TMP102_STATIC)
#    define TMP102_API static
#  else
#    define TMP102_API extern
#  endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ==== section: registers ==== */

enum { TMP102_REG_TEMP = 0x00, TMP102_REG_CONFIG = 0x01, TMP102_REG_TLOW = 0x02, TMP102_REG_THIGH = 0x03 };

/* The configuration register, as the 16-bit value read most significant
 * byte first. */
#define TMP102_CFG_OS         0x8000u  /* write 1 in shutdown: one conversion; reads 1 once it is done */
#define TMP102_CFG_RES        0x6000u  /* converter resolution, read-only (always 11) */
#define TMP102_CFG_FAULTS_1   0x0000u  /* consecutive faults before the alert: 1, 2, 4, 6 */
#define TMP102_CFG_FAULTS_2   0x0800u
#define TMP102_CFG_FAULTS_4   0x1000u
#define TMP102_CFG_FAULTS_6   0x1800u
#define TMP102_CFG_POL        0x0400u  /* alert active high */
#define TMP102_CFG_TM         0x0200u  /* alert as an interrupt, not a thermostat */
#define TMP102_CFG_SD         0x0100u  /* shutdown between one-shot conversions */
#define TMP102_CFG_RATE_0_25HZ 0x0000u /* continuous conversions (SD 0) per second */
#define TMP102_CFG_RATE_1HZ   0x0040u
#define TMP102_CFG_RATE_4HZ   0x0080u  /* the power-on rate */
#define TMP102_CFG_RATE_8HZ   0x00C0u
#define TMP102_CFG_AL         0x0020u  /* the alert pin's state, read-only */
#define TMP102_CFG_EM         0x0010u  /* extended mode: 13 bits, up to 150 degC */

TMP102_API int tmp102_decode_temp(uint16_t raw);
TMP102_API int tmp102_decode_limit(uint16_t raw, int extended);
TMP102_API int tmp102_encode_limit(int sixteenths, int extended, uint16_t *raw);

/* ==== section: the bus ==== */

/* One I2C bus: two blocking register transactions, each 0 or -errno. */
typedef struct tmp102_bus_ops {
    int (*write_reg)(void *ud, unsigned addr, unsigned reg, uint16_t value);
    int (*read_reg)(void *ud, unsigned addr, unsigned reg, uint16_t *value);
} tmp102_bus_ops;

typedef struct tmp102_bus {
    schd_resource res;           /* the bus itself: one holder at a time */
    schd_loop *loop;
    const tmp102_bus_ops *ops;
    void *ud;
    unsigned long transactions, errors;
    int64_t longest_ns;          /* the longest transaction: the longest stall of the loop */
} tmp102_bus;

TMP102_API int tmp102_bus_init(tmp102_bus *bus, schd_loop *loop, const tmp102_bus_ops *ops, void *ud);

/* ==== section: i2c-dev ==== */

#define TMP102_I2CDEV_SMBUS 1u   /* SMBus word transfers even where plain I2C works */

typedef struct tmp102_i2cdev {
    int fd;
    int smbus;                   /* 1: I2C_SMBUS word transfers; 0: I2C_RDWR */
    int addr;                    /* the address I2C_SLAVE holds; -1: none yet */
    unsigned long funcs;         /* what the adapter can do (I2C_FUNCS) */
} tmp102_i2cdev;

TMP102_API int  tmp102_i2cdev_open(tmp102_i2cdev *dev, const char *path, unsigned flags);
TMP102_API int  tmp102_i2cdev_set_timeout(tmp102_i2cdev *dev, int64_t ns);
TMP102_API void tmp102_i2cdev_close(tmp102_i2cdev *dev);
TMP102_API const tmp102_bus_ops *tmp102_i2cdev_ops(void);

/* ==== section: a sensor ==== */

enum {
    TMP102_STAGE_NONE = 0,       /* the last operation succeeded */
    TMP102_STAGE_BUS,            /* waiting for the bus */
    TMP102_STAGE_START,          /* starting the conversion */
    TMP102_STAGE_CONVERSION,     /* waiting for it to end */
    TMP102_STAGE_RESULT,         /* collecting the result */
    TMP102_STAGE_LIMITS          /* writing Tlow and Thigh */
};

typedef struct tmp102_sensor tmp102_sensor;
typedef void (*tmp102_cb)(tmp102_sensor *s, int status, void *ud);

struct tmp102_sensor {
    schd_task task;              /* the operation running (SCHD_AWAIT_JOIN on it) */
    tmp102_bus *bus;
    schd_rhandle handle;         /* this sensor's hold on the bus */
    unsigned addr;
    /* settings */
    unsigned config;             /* written with each conversion: EM, TM, POL, FAULTS */
    int64_t conversion_ns, poll_ns, timeout_ns;
    /* the outcome of the last operation */
    int status;                  /* 0, or a negative code */
    int stage;                   /* where it failed: TMP102_STAGE_* */
    int sixteenths;              /* the temperature, 1/16 degC */
    uint16_t raw;                /* the temperature register as read */
    unsigned polls;              /* looks that found the conversion unfinished */
    int64_t started_ns, done_ns; /* loop times */
    /* private */
    int shut_down;               /* 1 once the sensor is known to be in shutdown */
    int step;
    uint16_t low_raw, high_raw;
    int64_t deadline;
    tmp102_cb cb;
    void *ud;
};

TMP102_API int  tmp102_init(tmp102_sensor *s, tmp102_bus *bus, unsigned addr);
TMP102_API int  tmp102_read(tmp102_sensor *s, tmp102_cb cb, void *ud);
TMP102_API int  tmp102_set_limits(tmp102_sensor *s, int low, int high, tmp102_cb cb, void *ud);
TMP102_API int  tmp102_cancel(tmp102_sensor *s);
TMP102_API double tmp102_celsius(const tmp102_sensor *s);
TMP102_API const char *tmp102_stage_name(int stage);
TMP102_API const char *tmp102_strerror(int code);

/* ==== section: a simulated bus ==== */

typedef struct tmp102_sim_chip {
    unsigned addr;               /* 0: a free slot */
    int sixteenths;              /* what it measures, 1/16 degC */
    int step;                    /* added to sixteenths after each conversion */
    int fail;                    /* -errno for its transactions, once fail_after reaches 0 */
    int fail_after;              /* transactions that still succeed before fail applies */
    int never_ready;             /* its conversions never end */
    int64_t latency_ns;          /* added to the bus's for its transactions */
    /* its registers and state */
    uint16_t config, temp, tlow, thigh;
    int converting;
    int64_t conv_end;
    unsigned long transactions, conversions;
} tmp102_sim_chip;

#define TMP102_SIM_CHIPS 4

typedef struct tmp102_sim {
    tmp102_sim_chip chip[TMP102_SIM_CHIPS];
    int64_t latency_ns;          /* each transaction blocks its caller this long */
    int64_t conversion_ns;       /* one-shot conversion time: 26 ms */
    schd_clock_cb clock;         /* the time conversions take; NULL: CLOCK_MONOTONIC */
    void *clock_ud;
    unsigned long transactions;
} tmp102_sim;

TMP102_API void tmp102_sim_init(tmp102_sim *sim);
TMP102_API tmp102_sim_chip *tmp102_sim_add(tmp102_sim *sim, unsigned addr, int sixteenths);
TMP102_API const tmp102_bus_ops *tmp102_sim_ops(void);

#ifdef __cplusplus
}
#endif

#endif /* TMP102_H_INCLUDED */

/* ======================================================================
 * Implementation
 * ====================================================================== */
#if defined(TMP102_IMPLEMENTATION) && !defined(TMP102_IMPLEMENTATION_DONE)
#define TMP102_IMPLEMENTATION_DONE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

#ifndef TMP102_SYS_OPEN
#define TMP102_SYS_OPEN(path, flags) open((path), (flags))
#endif
#ifndef TMP102_SYS_IOCTL
#define TMP102_SYS_IOCTL(fd, req, arg) ioctl((fd), (req), (arg))
#endif
#ifndef TMP102_SYS_CLOSE
#define TMP102_SYS_CLOSE(fd) close(fd)
#endif
#if defined(__GNUC__)
#define TMP102_PRIVATE static __attribute__((unused))
#else
#define TMP102_PRIVATE static
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ==== section: registers ==== */

/* Bits the driver may write: the rest of the register is read-only or
 * set by the operation (SD, OS) or unused in shutdown (the rate). */
#define TMP102__CFG_SETTINGS (TMP102_CFG_FAULTS_6 | TMP102_CFG_POL | TMP102_CFG_TM | TMP102_CFG_EM)

TMP102_API int tmp102_decode_limit(uint16_t raw, int extended)
{
    /* left-justified two's complement: 12 bits, or 13 in extended mode */
    int bits = extended ? 13 : 12;
    int v = (int)(raw >> (16 - bits));
    if (v & (1 << (bits - 1))) v -= 1 << bits;
    return v;
}

/* Bit 0 of the temperature register is 1 in extended mode. */
TMP102_API int tmp102_decode_temp(uint16_t raw) { return tmp102_decode_limit(raw, raw & 1); }

TMP102_API int tmp102_encode_limit(int sixteenths, int extended, uint16_t *raw)
{
    int bits = extended ? 13 : 12;
    int lo = -(1 << (bits - 1)), hi = (1 << (bits - 1)) - 1;
    if (!raw) return -EINVAL;
    if (sixteenths < lo || sixteenths > hi) return -ERANGE;
    *raw = (uint16_t)(((unsigned)sixteenths & ((1u << bits) - 1)) << (16 - bits));
    return 0;
}

/* ==== section: the bus ==== */

TMP102_API int tmp102_bus_init(tmp102_bus *bus, schd_loop *loop, const tmp102_bus_ops *ops, void *ud)
{
    if (!bus || !loop || !ops || !ops->write_reg || !ops->read_reg) return -EINVAL;
    memset(bus, 0, sizeof *bus);
    schd_resource_init(&bus->res, bus, NULL, NULL);
    bus->loop = loop;
    bus->ops = ops;
    bus->ud = ud;
    return 0;
}

/* Every transaction goes through here: it is timed (the loop waits for
 * it) and counted. */
TMP102_PRIVATE int tmp102__account(tmp102_bus *bus, int64_t t0, int r)
{
    int64_t took = schd_now_ns() - t0;
    bus->transactions++;
    if (took > bus->longest_ns) bus->longest_ns = took;
    if (r > 0) r = 0;
    if (r < 0) bus->errors++;
    return r;
}

TMP102_PRIVATE int tmp102__write(tmp102_sensor *s, unsigned reg, uint16_t value)
{
    tmp102_bus *bus = s->bus;
    int64_t t0 = schd_now_ns();
    return tmp102__account(bus, t0, bus->ops->write_reg(bus->ud, s->addr, reg, value));
}

TMP102_PRIVATE int tmp102__read(tmp102_sensor *s, unsigned reg, uint16_t *value)
{
    tmp102_bus *bus = s->bus;
    int64_t t0 = schd_now_ns();
    return tmp102__account(bus, t0, bus->ops->read_reg(bus->ud, s->addr, reg, value));
}

/* ==== section: i2c-dev ==== */

/* <linux/i2c-dev.h> and <linux/i2c.h>: plain numbers (not _IOC ones) and
 * the structures as user space sees them on every ABI (tests/i2c_test.c
 * compares them with the kernel's headers where there are some). */
#define TMP102__I2C_TIMEOUT 0x0702
#define TMP102__I2C_SLAVE   0x0703
#define TMP102__I2C_FUNCS   0x0705
#define TMP102__I2C_RDWR    0x0707
#define TMP102__I2C_SMBUS   0x0720
#define TMP102__I2C_M_RD    0x0001
#define TMP102__FUNC_I2C    0x00000001ul
#define TMP102__FUNC_WORD   0x00600000ul   /* SMBus read and write word data */
#define TMP102__SMBUS_WRITE 0
#define TMP102__SMBUS_READ  1
#define TMP102__SMBUS_WORD  3

struct tmp102__i2c_msg { uint16_t addr, flags, len; uint8_t *buf; };
struct tmp102__i2c_rdwr { struct tmp102__i2c_msg *msgs; uint32_t nmsgs; };
union tmp102__smbus_data { uint8_t byte; uint16_t word; uint8_t block[34]; };
struct tmp102__smbus_ioctl { uint8_t read_write, command; uint32_t size; union tmp102__smbus_data *data; };

TMP102_PRIVATE int tmp102__ioctl(int fd, unsigned long req, void *arg)
{
    int r;
    do {
        r = TMP102_SYS_IOCTL(fd, req, arg);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

/* "1" means /dev/i2c-1. */
TMP102_PRIVATE const char *tmp102__i2c_path(const char *path, char *buf, size_t n)
{
    size_t len = strspn(path, "0123456789");
    if (len == 0 || path[len] || len > 6) return path;
    snprintf(buf, n, "/dev/i2c-%s", path);
    return buf;
}

TMP102_API int tmp102_i2cdev_open(tmp102_i2cdev *dev, const char *path, unsigned flags)
{
    char buf[32];
    unsigned long funcs = 0;
    int fd, r;
    if (!dev || !path || !*path || (flags & ~TMP102_I2CDEV_SMBUS)) return -EINVAL;
    dev->fd = -1;
    fd = TMP102_SYS_OPEN(tmp102__i2c_path(path, buf, sizeof buf), O_RDWR | O_CLOEXEC);
    if (fd < 0) return -errno;
    r = tmp102__ioctl(fd, TMP102__I2C_FUNCS, &funcs);
    if (r == 0) {
        int smbus = (flags & TMP102_I2CDEV_SMBUS) || !(funcs & TMP102__FUNC_I2C);
        if (smbus && (funcs & TMP102__FUNC_WORD) != TMP102__FUNC_WORD) r = -ENOTSUP;
        dev->smbus = smbus;
    }
    if (r < 0) {
        (void)TMP102_SYS_CLOSE(fd);
        return r;
    }
    dev->fd = fd;
    dev->addr = -1;
    dev->funcs = funcs;
    return 0;
}

TMP102_API int tmp102_i2cdev_set_timeout(tmp102_i2cdev *dev, int64_t ns)
{
    int64_t steps;
    int r;
    if (!dev || dev->fd < 0 || ns <= 0 || ns > SCHD_SEC(3600)) return -EINVAL;
    steps = (ns + SCHD_MS(10) - 1) / SCHD_MS(10);   /* i2c-dev counts in 10 ms */
    r = tmp102__ioctl(dev->fd, TMP102__I2C_TIMEOUT, (void *)(uintptr_t)steps);
    return r < 0 ? r : 0;
}

TMP102_API void tmp102_i2cdev_close(tmp102_i2cdev *dev)
{
    if (!dev || dev->fd < 0) return;
    (void)TMP102_SYS_CLOSE(dev->fd);
    dev->fd = -1;
}

/* I2C_SLAVE for addr unless it holds it already: SMBus transfers go to
 * it, and i2c-dev says -EBUSY when a kernel driver has the address. */
TMP102_PRIVATE int tmp102__i2c_claim(tmp102_i2cdev *dev, unsigned addr)
{
    int r;
    if (dev->fd < 0) return -EBADF;
    if (dev->addr == (int)addr) return 0;
    r = tmp102__ioctl(dev->fd, TMP102__I2C_SLAVE, (void *)(uintptr_t)addr);
    if (r < 0) return r;
    dev->addr = (int)addr;
    return 0;
}

/* SMBus words go low byte first; the sensor sends its high byte first. */
TMP102_PRIVATE uint16_t tmp102__swap(uint16_t v) { return (uint16_t)((v << 8) | (v >> 8)); }

TMP102_PRIVATE int tmp102__smbus_word(tmp102_i2cdev *dev, int rw, unsigned reg, uint16_t *word)
{
    union tmp102__smbus_data data;
    struct tmp102__smbus_ioctl io;
    int r;
    memset(&data, 0, sizeof data);
    data.word = *word;
    io.read_write = (uint8_t)rw;
    io.command = (uint8_t)reg;
    io.size = TMP102__SMBUS_WORD;
    io.data = &data;
    r = tmp102__ioctl(dev->fd, TMP102__I2C_SMBUS, &io);
    if (r < 0) return r;
    *word = data.word;
    return 0;
}

/* One I2C_RDWR of nmsgs messages; the kernel says how many went through. */
TMP102_PRIVATE int tmp102__rdwr(tmp102_i2cdev *dev, struct tmp102__i2c_msg *msgs, unsigned nmsgs)
{
    struct tmp102__i2c_rdwr x;
    int r;
    x.msgs = msgs;
    x.nmsgs = nmsgs;
    r = tmp102__ioctl(dev->fd, TMP102__I2C_RDWR, &x);
    return r < 0 ? r : (r == (int)nmsgs ? 0 : -EIO);
}

TMP102_PRIVATE void tmp102__msg(struct tmp102__i2c_msg *m, unsigned addr, unsigned flags, uint8_t *buf, unsigned len)
{
    m->addr = (uint16_t)addr;
    m->flags = (uint16_t)flags;
    m->len = (uint16_t)len;
    m->buf = buf;
}

TMP102_PRIVATE int tmp102__i2c_write(void *ud, unsigned addr, unsigned reg, uint16_t value)
{
    tmp102_i2cdev *dev = (tmp102_i2cdev *)ud;
    struct tmp102__i2c_msg m;
    uint8_t out[3];
    uint16_t word = tmp102__swap(value);
    int r = tmp102__i2c_claim(dev, addr);
    if (r < 0) return r;
    if (dev->smbus) return tmp102__smbus_word(dev, TMP102__SMBUS_WRITE, reg, &word);
    out[0] = (uint8_t)reg;
    out[1] = (uint8_t)(value >> 8);
    out[2] = (uint8_t)value;
    tmp102__msg(&m, addr, 0, out, 3);
    return tmp102__rdwr(dev, &m, 1);
}

TMP102_PRIVATE int tmp102__i2c_read(void *ud, unsigned addr, unsigned reg, uint16_t *value)
{
    tmp102_i2cdev *dev = (tmp102_i2cdev *)ud;
    struct tmp102__i2c_msg m[2];
    uint8_t pointer = (uint8_t)reg, in[2] = {0, 0};
    uint16_t word = 0;
    int r = tmp102__i2c_claim(dev, addr);
    if (r < 0) return r;
    if (dev->smbus) {
        if ((r = tmp102__smbus_word(dev, TMP102__SMBUS_READ, reg, &word)) == 0) *value = tmp102__swap(word);
        return r;
    }
    tmp102__msg(&m[0], addr, 0, &pointer, 1);   /* the register pointer, then a repeated start */
    tmp102__msg(&m[1], addr, TMP102__I2C_M_RD, in, 2);
    if ((r = tmp102__rdwr(dev, m, 2)) == 0) *value = (uint16_t)(in[0] << 8 | in[1]);
    return r;
}

TMP102_API const tmp102_bus_ops *tmp102_i2cdev_ops(void)
{
    static const tmp102_bus_ops ops = {tmp102__i2c_write, tmp102__i2c_read};
    return &ops;
}

/* ==== section: a sensor ==== */

TMP102_PRIVATE void tmp102__done(schd_task *t, int result, void *ud);

TMP102_API int tmp102_init(tmp102_sensor *s, tmp102_bus *bus, unsigned addr)
{
    if (!s || !bus || !bus->loop || addr < 0x03 || addr > 0x77) return -EINVAL;
    memset(s, 0, sizeof *s);
    s->bus = bus;
    s->addr = addr;
    s->conversion_ns = SCHD_MS(26);
    s->poll_ns = SCHD_MS(5);
    s->timeout_ns = SCHD_MS(100);
    schd_resource_handle(&bus->res, &s->handle, s);
    schd_task_on_done(&s->task, tmp102__done, s);
    return 0;
}

TMP102_API double tmp102_celsius(const tmp102_sensor *s) { return s ? s->sixteenths / 16.0 : 0.0; }

TMP102_API const char *tmp102_stage_name(int stage)
{
    switch (stage) {
    case TMP102_STAGE_NONE: return "none";
    case TMP102_STAGE_BUS: return "bus";
    case TMP102_STAGE_START: return "start";
    case TMP102_STAGE_CONVERSION: return "conversion";
    case TMP102_STAGE_RESULT: return "result";
    case TMP102_STAGE_LIMITS: return "limits";
    default: return "unknown";
    }
}

TMP102_API const char *tmp102_strerror(int code) { return schd_strerror(code); }

TMP102_PRIVATE int64_t tmp102__min(int64_t a, int64_t b) { return a < b ? a : b; }

/* What is left of the operation's time (0 when it has run out). */
TMP102_PRIVATE int64_t tmp102__left(const tmp102_sensor *s)
{
    int64_t now = schd_loop_now(s->bus->loop);
    return s->deadline > now ? s->deadline - now : 0;
}

/* Bounds the next await by what is left; 0 when nothing is. */
TMP102_PRIVATE int tmp102__bound(schd_task *t, const tmp102_sensor *s)
{
    int64_t left = tmp102__left(s);
    if (left > 0) schd_task_timeout(t, left);
    return left > 0;
}

TMP102_PRIVATE void tmp102__let_go(tmp102_sensor *s)
{
    if (s->bus->res.holder == &s->handle) schd_resource_release(&s->handle);
}

/* The sensor's settings, in shutdown (no conversion started). */
TMP102_PRIVATE int tmp102__configure(tmp102_sensor *s)
{
    int r = tmp102__write(s, TMP102_REG_CONFIG, (uint16_t)((s->config & TMP102__CFG_SETTINGS) | TMP102_CFG_SD));
    s->shut_down = r == 0;
    return r;
}

/* In one hold of the bus: shutdown first when the sensor may still be
 * converting continuously (its power-on mode), then the one-shot. */
TMP102_PRIVATE int tmp102__start(tmp102_sensor *s)
{
    uint16_t cfg = (uint16_t)((s->config & TMP102__CFG_SETTINGS) | TMP102_CFG_SD);
    int r = s->shut_down ? 0 : tmp102__configure(s);
    if (r == 0) r = tmp102__write(s, TMP102_REG_CONFIG, (uint16_t)(cfg | TMP102_CFG_OS));
    s->shut_down = r == 0;
    return r;
}

/* In one hold: 1 with the result read, 0 while the conversion goes on. */
TMP102_PRIVATE int tmp102__collect(tmp102_sensor *s)
{
    uint16_t cfg = 0, raw = 0;
    int r = tmp102__read(s, TMP102_REG_CONFIG, &cfg);
    if (r < 0) return r;
    if (!(cfg & TMP102_CFG_OS)) return 0;
    if ((r = tmp102__read(s, TMP102_REG_TEMP, &raw)) < 0) return r;
    s->raw = raw;
    s->sixteenths = tmp102_decode_temp(raw);
    return 1;
}

/* The read, as a task: the bus is held only around transactions, never
 * across a wait.  One await per line (the task has no stack). */
TMP102_PRIVATE int tmp102__read_task(schd_task *t)
{
    tmp102_sensor *s = (tmp102_sensor *)t->ud;
    SCHD_TASK_BEGIN(t);
    s->deadline = schd_loop_now(t->loop) + s->timeout_ns;
    s->started_ns = schd_loop_now(t->loop);
    s->stage = TMP102_STAGE_BUS;
    if (!tmp102__bound(t, s)) SCHD_TASK_EXIT(t, -ETIMEDOUT);
    SCHD_AWAIT_ACQUIRE(t, &s->handle);
    if (SCHD_STATUS(t) < 0) SCHD_TASK_EXIT(t, SCHD_STATUS(t));
    s->stage = TMP102_STAGE_START;
    s->step = tmp102__start(s);
    schd_resource_release(&s->handle);
    if (s->step < 0) SCHD_TASK_EXIT(t, s->step);
    s->stage = TMP102_STAGE_CONVERSION;
    SCHD_AWAIT_DELAY(t, tmp102__min(s->conversion_ns, tmp102__left(s)));
    for (;;) {
        if (!tmp102__bound(t, s)) SCHD_TASK_EXIT(t, -ETIMEDOUT);   /* stage: conversion */
        SCHD_AWAIT_ACQUIRE(t, &s->handle);
        if (SCHD_STATUS(t) < 0) {
            s->stage = TMP102_STAGE_BUS;
            SCHD_TASK_EXIT(t, SCHD_STATUS(t));
        }
        s->stage = TMP102_STAGE_RESULT;
        s->step = tmp102__collect(s);
        schd_resource_release(&s->handle);
        if (s->step != 0) break;
        s->polls++;
        s->stage = TMP102_STAGE_CONVERSION;
        SCHD_AWAIT_DELAY(t, tmp102__min(s->poll_ns, tmp102__left(s)));
    }
    if (s->step < 0) SCHD_TASK_EXIT(t, s->step);
    SCHD_TASK_FINALLY(t);
    tmp102__let_go(s);
    SCHD_TASK_END(t);
}

TMP102_PRIVATE int tmp102__limits_task(schd_task *t)
{
    tmp102_sensor *s = (tmp102_sensor *)t->ud;
    SCHD_TASK_BEGIN(t);
    s->deadline = schd_loop_now(t->loop) + s->timeout_ns;
    s->started_ns = schd_loop_now(t->loop);
    s->stage = TMP102_STAGE_BUS;
    if (!tmp102__bound(t, s)) SCHD_TASK_EXIT(t, -ETIMEDOUT);
    SCHD_AWAIT_ACQUIRE(t, &s->handle);
    if (SCHD_STATUS(t) < 0) SCHD_TASK_EXIT(t, SCHD_STATUS(t));
    s->stage = TMP102_STAGE_LIMITS;
    s->step = tmp102__configure(s);   /* the limits' format follows EM: set it first */
    if (s->step == 0) s->step = tmp102__write(s, TMP102_REG_TLOW, s->low_raw);
    if (s->step == 0) s->step = tmp102__write(s, TMP102_REG_THIGH, s->high_raw);
    schd_resource_release(&s->handle);
    if (s->step < 0) SCHD_TASK_EXIT(t, s->step);
    SCHD_TASK_FINALLY(t);
    tmp102__let_go(s);
    SCHD_TASK_END(t);
}

/* The task's end, however it came: the outcome, then the callback. */
TMP102_PRIVATE void tmp102__done(schd_task *t, int result, void *ud)
{
    tmp102_sensor *s = (tmp102_sensor *)ud;
    tmp102_cb cb = s->cb;
    (void)t;
    s->status = result;
    s->done_ns = schd_loop_now(s->bus->loop);
    if (result == 0) s->stage = TMP102_STAGE_NONE;
    else s->shut_down = 0;   /* the chip may have reset: shut it down again */
    s->cb = NULL;
    if (cb) cb(s, result, s->ud);
}

TMP102_PRIVATE int tmp102__begin(tmp102_sensor *s, schd_task_cb fn, tmp102_cb cb, void *ud)
{
    int r, st = schd_task_state(&s->task);
    if (st == SCHD_TASK_READY || st == SCHD_TASK_WAITING) return -EBUSY;
    if (s->conversion_ns < 0 || s->poll_ns <= 0 || s->timeout_ns <= 0 || s->timeout_ns > SCHD_SEC(3600))
        return -EINVAL;
    s->cb = cb;
    s->ud = ud;
    s->polls = 0;
    if ((r = schd_task_start(&s->task, s->bus->loop, fn, s)) < 0) s->cb = NULL;
    return r;
}

TMP102_API int tmp102_read(tmp102_sensor *s, tmp102_cb cb, void *ud)
{
    if (!s || !s->bus) return -EINVAL;
    return tmp102__begin(s, tmp102__read_task, cb, ud);
}

TMP102_API int tmp102_set_limits(tmp102_sensor *s, int low, int high, tmp102_cb cb, void *ud)
{
    int extended, r;
    uint16_t lo, hi;
    if (!s || !s->bus || low > high) return -EINVAL;
    extended = (s->config & TMP102_CFG_EM) != 0;
    if ((r = tmp102_encode_limit(low, extended, &lo)) < 0 || (r = tmp102_encode_limit(high, extended, &hi)) < 0)
        return r;
    if ((r = tmp102__begin(s, tmp102__limits_task, cb, ud)) == 0) {
        s->low_raw = lo;
        s->high_raw = hi;
    }
    return r;
}

TMP102_API int tmp102_cancel(tmp102_sensor *s)
{
    return s ? schd_task_cancel(&s->task) : -EINVAL;
}

/* ==== section: a simulated bus ==== */

TMP102_API void tmp102_sim_init(tmp102_sim *sim)
{
    if (!sim) return;
    memset(sim, 0, sizeof *sim);
    sim->conversion_ns = SCHD_MS(26);
}

TMP102_API tmp102_sim_chip *tmp102_sim_add(tmp102_sim *sim, unsigned addr, int sixteenths)
{
    int i;
    if (!sim || addr < 0x03 || addr > 0x77) return NULL;
    for (i = 0; i < TMP102_SIM_CHIPS; i++) {
        tmp102_sim_chip *c = &sim->chip[i];
        if (c->addr == addr) return NULL;
        if (c->addr) continue;
        memset(c, 0, sizeof *c);
        c->addr = addr;
        c->sixteenths = sixteenths;
        c->config = TMP102_CFG_RATE_4HZ;   /* power-on: converting continuously */
        return c;
    }
    return NULL;
}

TMP102_PRIVATE int64_t tmp102__sim_now(const tmp102_sim *sim)
{
    return sim->clock ? sim->clock(sim->clock_ud) : schd_now_ns();
}

/* What the ioctl would do to its caller: block for the transfer. */
TMP102_PRIVATE void tmp102__sim_block(int64_t ns)
{
    struct timespec ts, rest;
    if (ns <= 0) return;
    ts.tv_sec = (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    while (nanosleep(&ts, &rest) < 0 && errno == EINTR) ts = rest;
}

/* The part of a transaction every register shares: the time it takes,
 * the address acknowledged or not, and the failures asked for. */
TMP102_PRIVATE int tmp102__sim_begin(tmp102_sim *sim, unsigned addr, tmp102_sim_chip **out)
{
    tmp102_sim_chip *c = NULL;
    int i;
    for (i = 0; i < TMP102_SIM_CHIPS && !c; i++)
        if (sim->chip[i].addr == addr) c = &sim->chip[i];
    sim->transactions++;
    tmp102__sim_block(sim->latency_ns + (c ? c->latency_ns : 0));
    if (!c) return -ENXIO;
    c->transactions++;
    if (c->fail < 0) {
        if (c->fail_after <= 0) return c->fail;
        c->fail_after--;
    }
    *out = c;
    return 0;
}

/* The temperature register for what the chip measures now. */
TMP102_PRIVATE uint16_t tmp102__sim_sample(const tmp102_sim_chip *c)
{
    int extended = (c->config & TMP102_CFG_EM) != 0;
    int hi = extended ? 4095 : 2047, v = c->sixteenths;
    uint16_t raw = 0;
    v = v > hi ? hi : v < -hi - 1 ? -hi - 1 : v;
    tmp102_encode_limit(v, extended, &raw);
    return (uint16_t)(raw | (extended ? 1u : 0u));
}

/* Brings the chip's registers up to the time now. */
TMP102_PRIVATE void tmp102__sim_update(const tmp102_sim *sim, tmp102_sim_chip *c)
{
    if (c->converting && !c->never_ready && tmp102__sim_now(sim) >= c->conv_end) {
        c->converting = 0;
        c->temp = tmp102__sim_sample(c);
        c->conversions++;
        c->sixteenths += c->step;
    } else if (!(c->config & TMP102_CFG_SD)) {
        c->temp = tmp102__sim_sample(c);   /* continuous: always a fresh result */
    }
}

TMP102_PRIVATE int tmp102__sim_write(void *ud, unsigned addr, unsigned reg, uint16_t value)
{
    tmp102_sim *sim = (tmp102_sim *)ud;
    tmp102_sim_chip *c;
    int r = tmp102__sim_begin(sim, addr, &c), extended;
    if (r < 0) return r;
    tmp102__sim_update(sim, c);
    extended = (c->config & TMP102_CFG_EM) != 0;
    switch (reg & 3) {
    case TMP102_REG_CONFIG:
        c->config = (uint16_t)(value & ~(TMP102_CFG_OS | TMP102_CFG_RES | TMP102_CFG_AL));
        if ((value & TMP102_CFG_SD) && (value & TMP102_CFG_OS) && !c->converting) {
            c->converting = 1;
            c->conv_end = tmp102__sim_now(sim) + sim->conversion_ns;
        }
        break;
    case TMP102_REG_TLOW: c->tlow = (uint16_t)(value & (extended ? 0xFFF8u : 0xFFF0u)); break;
    case TMP102_REG_THIGH: c->thigh = (uint16_t)(value & (extended ? 0xFFF8u : 0xFFF0u)); break;
    default: break;   /* the temperature is read-only */
    }
    return 0;
}

TMP102_PRIVATE int tmp102__sim_read(void *ud, unsigned addr, unsigned reg, uint16_t *value)
{
    tmp102_sim *sim = (tmp102_sim *)ud;
    tmp102_sim_chip *c;
    int r = tmp102__sim_begin(sim, addr, &c);
    if (r < 0) return r;
    tmp102__sim_update(sim, c);
    switch (reg & 3) {
    case TMP102_REG_TEMP: *value = c->temp; break;
    case TMP102_REG_CONFIG:
        *value = (uint16_t)(c->config | TMP102_CFG_RES | TMP102_CFG_AL |
                            ((c->config & TMP102_CFG_SD) && !c->converting ? TMP102_CFG_OS : 0));
        break;
    case TMP102_REG_TLOW: *value = c->tlow; break;
    default: *value = c->thigh; break;
    }
    return 0;
}

TMP102_API const tmp102_bus_ops *tmp102_sim_ops(void)
{
    static const tmp102_bus_ops ops = {tmp102__sim_write, tmp102__sim_read};
    return &ops;
}

#ifdef __cplusplus
}
#endif

#endif /* TMP102_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
This software is available under two licences; choose whichever you prefer.
------------------------------------------------------------------------------
ALTERNATIVE A - MIT License
Copyright (c) 2026 the asynckit authors
Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:
The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)
This is free and unencumbered software released into the public domain.
Anyone is free to copy, modify, publish, use, compile, sell, or distribute
this software, either in source code form or as a compiled binary, for any
purpose, commercial or non-commercial, and by any means.
In jurisdictions that recognize copyright laws, the author or authors of this
software dedicate any and all copyright interest in the software to the
public domain. We make this dedication for the benefit of the public at large
and to the detriment of our heirs and successors. We intend this dedication
to be an overt act of relinquishment in perpetuity of all present and future
rights to this software under copyright law.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN
ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION
WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
------------------------------------------------------------------------------
*/
