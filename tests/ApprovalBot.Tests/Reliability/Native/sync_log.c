// LD_PRELOAD shim for the backup, restore and crash-point tests.
//
// Log: appends one line per successful fsync/fdatasync ("fsync <path>", the path read back from /proc/self/fd) and per
// successful rename ("rename <from> <to>"), in the order they happen, to the file named by APPROVALBOT_SYNC_LOG. A test
// then sees whether a rename was followed by a sync of its folder.
//
// Crash points (CrashPoints.cs): with APPROVALBOT_CRASH_POINTS set, each fsync, fdatasync and rename is a point, counted
// and appended to that file ("<n> <call> <path>"). APPROVALBOT_CRASH_PATHS (fnmatch patterns separated by ':', a '*'
// matching '/' too) keeps only the points on a file or folder that matches one of them (a rename: its source or its
// target), so a log file's timed fsync does not move the count. With APPROVALBOT_CRASH_AT=<n> the process sends itself
// SIGKILL just before the n-th point's call: what it wrote before is in the page cache (a kill, not a power cut), the
// call itself never happens. A dry run without CRASH_AT lists every point, so a test can kill at each in turn.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static int g_on = -1;
static long g_crash_at;
static long g_count;

static void log_to(const char *log, const char *line, size_t length)
{
    if (log == NULL) return;
    int out = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (out < 0) return;
    // The raw system call: this shim's own write must not be logged as one.
    syscall(SYS_write, out, line, length);
    close(out);
}

static void log_line(const char *line, size_t length)
{
    log_to(getenv("APPROVALBOT_SYNC_LOG"), line, length);
}

static int fd_path(int fd, char *path, size_t size)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, size - 1);
    if (n < 0) return -1;
    path[n] = '\0';
    return 0;
}

static void log_sync(int fd)
{
    char path[4096], line[4200];
    if (fd_path(fd, path, sizeof path) != 0) return;
    int length = snprintf(line, sizeof line, "fsync %s\n", path);
    if (length > 0) log_line(line, (size_t)length < sizeof line ? (size_t)length : sizeof line - 1);
}

static int counting(void)
{
    if (g_on < 0) {
        const char *at = getenv("APPROVALBOT_CRASH_AT");
        g_crash_at = at == NULL ? 0 : atol(at);
        g_on = getenv("APPROVALBOT_CRASH_POINTS") != NULL;
    }
    return g_on;
}

static int matches(const char *path)
{
    const char *patterns = getenv("APPROVALBOT_CRASH_PATHS");
    if (patterns == NULL || patterns[0] == '\0') return 1;
    char pattern[4096];
    for (const char *start = patterns; ; ) {
        const char *end = strchr(start, ':');
        size_t length = end == NULL ? strlen(start) : (size_t)(end - start);
        if (length > 0 && length < sizeof pattern) {
            memcpy(pattern, start, length);
            pattern[length] = '\0';
            if (fnmatch(pattern, path, 0) == 0) return 1;
        }
        if (end == NULL) return 0;
        start = end + 1;
    }
}

/* Counts a point on path (and other, for a rename) if it matches; kills the process before the chosen one. */
static void point(const char *call, const char *path, const char *other)
{
    if (!counting() || !(matches(path) || (other != NULL && matches(other)))) return;
    long n = __atomic_add_fetch(&g_count, 1, __ATOMIC_SEQ_CST);
    char line[8400];
    int length = snprintf(line, sizeof line, "%ld %s %s%s%s%s\n", n, call, path, other == NULL ? "" : " ", other == NULL ? "" : other,
        n == g_crash_at ? " (killed here)" : "");
    if (length > 0) log_to(getenv("APPROVALBOT_CRASH_POINTS"), line, (size_t)length < sizeof line ? (size_t)length : sizeof line - 1);
    if (n == g_crash_at) {
        syscall(SYS_kill, getpid(), SIGKILL);
        for (;;) pause();
    }
}

static void fd_point(const char *call, int fd)
{
    if (!counting()) return;
    char path[4096];
    if (fd_path(fd, path, sizeof path) != 0 || path[0] != '/') return; // a pipe, a socket: no file
    point(call, path, NULL);
}

/* A rename's paths as the process gave them, made absolute against the working directory. */
static void rename_point(const char *from, const char *to)
{
    if (!counting()) return;
    char cwd[4096], a[8200], b[8200];
    if (getcwd(cwd, sizeof cwd) == NULL) cwd[0] = '\0';
    snprintf(a, sizeof a, "%s%s%s", from[0] == '/' ? "" : cwd, from[0] == '/' ? "" : "/", from);
    snprintf(b, sizeof b, "%s%s%s", to[0] == '/' ? "" : cwd, to[0] == '/' ? "" : "/", to);
    point("rename", a, b);
}

#define REAL(name) \
    static __typeof__(name) *real_##name; \
    if (real_##name == NULL) real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

int fsync(int fd)
{
    REAL(fsync);
    fd_point("fsync", fd);
    int result = real_fsync(fd);
    if (result == 0) log_sync(fd);
    return result;
}

int fdatasync(int fd)
{
    REAL(fdatasync);
    fd_point("fdatasync", fd);
    int result = real_fdatasync(fd);
    if (result == 0) log_sync(fd);
    return result;
}

int rename(const char *from, const char *to)
{
    REAL(rename);
    rename_point(from, to);
    int result = real_rename(from, to);
    if (result == 0)
    {
        char line[8300];
        int length = snprintf(line, sizeof line, "rename %s %s\n", from, to);
        if (length > 0) log_line(line, (size_t)length < sizeof line ? (size_t)length : sizeof line - 1);
    }
    return result;
}
