// LD_PRELOAD shim for the backup and restore tests: appends one line per successful fsync/fdatasync ("fsync <path>",
// the path read back from /proc/self/fd) and per successful rename ("rename <from> <to>"), in the order they happen, to
// the file named by APPROVALBOT_SYNC_LOG. A test then sees whether a rename was followed by a sync of its folder.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static void log_line(const char *line, size_t length)
{
    const char *log = getenv("APPROVALBOT_SYNC_LOG");
    if (log == NULL) return;
    int out = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (out < 0) return;
    // The raw system call: this shim's own write must not be logged as one.
    syscall(SYS_write, out, line, length);
    close(out);
}

static void log_sync(int fd)
{
    char link[64], path[4096], line[4200];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 0) return;
    path[n] = '\0';
    int length = snprintf(line, sizeof line, "fsync %s\n", path);
    if (length > 0) log_line(line, (size_t)length < sizeof line ? (size_t)length : sizeof line - 1);
}

int fsync(int fd)
{
    static int (*real)(int);
    if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int result = real(fd);
    if (result == 0) log_sync(fd);
    return result;
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int result = real(fd);
    if (result == 0) log_sync(fd);
    return result;
}

int rename(const char *from, const char *to)
{
    static int (*real)(const char *, const char *);
    if (real == NULL) real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    int result = real(from, to);
    if (result == 0)
    {
        char line[8300];
        int length = snprintf(line, sizeof line, "rename %s %s\n", from, to);
        if (length > 0) log_line(line, (size_t)length < sizeof line ? (size_t)length : sizeof line - 1);
    }
    return result;
}
