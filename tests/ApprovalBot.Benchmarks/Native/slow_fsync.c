/*
 * LD_PRELOAD shim for `--flush-sweep`: every fsync and fdatasync of the process (and of its children, which inherit
 * LD_PRELOAD) returns SLOW_FSYNC_US microseconds after the real one, as on a disk whose cache flush takes that much
 * longer than this machine's. The calling thread sleeps, as it would waiting for a slower device; no CPU is spent.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

static long delay_us = -1;

static void after_sync(void)
{
    if (delay_us < 0)
    {
        const char *value = getenv("SLOW_FSYNC_US");
        delay_us = value ? atol(value) : 0;
    }
    if (delay_us > 0)
    {
        struct timespec left = { delay_us / 1000000, (delay_us % 1000000) * 1000 };
        while (nanosleep(&left, &left) == -1 && errno == EINTR)
        {
        }
    }
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
    {
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    }
    int result = real(fd);
    after_sync();
    return result;
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real)
    {
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    }
    int result = real(fd);
    after_sync();
    return result;
}
