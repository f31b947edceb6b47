/*
 * readonly_fs.c: an LD_PRELOAD shim that makes one directory behave like a filesystem remounted read-only
 * (as `mount -o remount,ro` or ext4's errors=remount-ro would), for ReadOnlyDiskTests; or, with
 * APPROVALBOT_FAULT_KIND=enospc, like a full disk, for FullDiskStartTests.
 *
 * A real remount is not possible in the test: the kernel refuses it with EBUSY while SQLite holds files open
 * for writing, and root ignores file modes. So, while the file named by APPROVALBOT_FAULT_READONLY_MARKER exists,
 * every call that would modify something inside APPROVALBOT_FAULT_READONLY_DIR fails with EROFS, as the kernel
 * answers on a read-only mount: writes to, truncation, allocation and fsync of an fd open on a file there;
 * open/openat for writing or creating a file there; unlink, rename, mkdir, rmdir, link there. Reads, locks and
 * mmap'd memory are untouched. Without the marker every call goes straight to libc (one access() per call).
 *
 * Full disk (enospc): only what needs new blocks fails, with ENOSPC, as on a full ext4 or tmpfs: a write that
 * ends past the file's end, an ftruncate or truncate that grows a file, fallocate and posix_fallocate past its
 * end. A write over bytes the file already has, a truncation that shrinks it, fsync, creating an empty file,
 * unlink and rename go through (a full disk still has inodes and directory space; the shim does not model holes).
 *
 * Build: gcc -shared -fPIC -O2 -o readonly_fs.so readonly_fs.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static char g_dir[PATH_MAX];
static size_t g_dir_len;
static char g_marker[PATH_MAX];
static int g_enabled;
static int g_full; /* APPROVALBOT_FAULT_KIND=enospc */

__attribute__((constructor)) static void readonly_fs_init(void)
{
    const char *dir = getenv("APPROVALBOT_FAULT_READONLY_DIR");
    const char *marker = getenv("APPROVALBOT_FAULT_READONLY_MARKER");
    if (dir == NULL || marker == NULL || dir[0] != '/' || marker[0] != '/' || strlen(marker) >= sizeof g_marker) return;
    if (realpath(dir, g_dir) == NULL) return;
    g_dir_len = strlen(g_dir);
    while (g_dir_len > 1 && g_dir[g_dir_len - 1] == '/') g_dir[--g_dir_len] = '\0';
    strcpy(g_marker, marker);
    const char *kind = getenv("APPROVALBOT_FAULT_KIND");
    g_full = kind != NULL && strcmp(kind, "enospc") == 0;
    g_enabled = 1;
}

/* The marker is checked on every call, so creating or deleting it takes effect at once in every thread. */
static int faulty_now(void)
{
    return g_enabled && access(g_marker, F_OK) == 0;
}

/* The EROFS guards: every change refused. */
static int read_only_now(void)
{
    return !g_full && faulty_now();
}

static int inside(const char *absolute)
{
    return strncmp(absolute, g_dir, g_dir_len) == 0 && (absolute[g_dir_len] == '/' || absolute[g_dir_len] == '\0');
}

static int fd_path(int fd, char *out, size_t size)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, size - 1);
    if (n < 0) return -1;
    out[n] = '\0';
    return 0;
}

static int fd_inside(int fd)
{
    char path[PATH_MAX];
    return fd >= 0 && fd_path(fd, path, sizeof path) == 0 && path[0] == '/' && inside(path);
}

/* The absolute, symlink-free path a (dirfd, path) pair names; the last component need not exist. */
static int path_inside(int dirfd, const char *path)
{
    char joined[PATH_MAX * 2], resolved[PATH_MAX];
    if (path == NULL) return 0;
    if (path[0] == '/') {
        snprintf(joined, sizeof joined, "%s", path);
    } else {
        char base[PATH_MAX];
        if (dirfd == AT_FDCWD) {
            if (getcwd(base, sizeof base) == NULL) return 0;
        } else if (fd_path(dirfd, base, sizeof base) != 0) {
            return 0;
        }
        snprintf(joined, sizeof joined, "%s/%s", base, path);
    }
    if (realpath(joined, resolved) != NULL) return inside(resolved);
    char *slash = strrchr(joined, '/');
    if (slash == NULL) return 0;
    if (slash == joined) return inside("/");
    *slash = '\0';
    if (realpath(joined, resolved) == NULL) return inside(joined);
    return inside(resolved);
}

#define REAL(name) \
    static __typeof__(name) *real_##name; \
    if (real_##name == NULL) real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

#define REFUSE(ret) do { errno = EROFS; return ret; } while (0)

#define FD_GUARD(fd, ret) if (read_only_now() && fd_inside(fd)) REFUSE(ret)
#define PATH_GUARD(dirfd, path, ret) if (read_only_now() && path_inside(dirfd, path)) REFUSE(ret)

/* The ENOSPC guards: only what would need new blocks. */
static int full_now(void)
{
    return g_full && faulty_now();
}

/* Whether count bytes written at offset (-1: the fd's position, or its end when opened O_APPEND) end past the file's end. */
static int grows(int fd, off_t offset, size_t count)
{
    struct stat st;
    if (count == 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    if (offset < 0) {
        int flags = fcntl(fd, F_GETFL);
        offset = flags >= 0 && (flags & O_APPEND) ? st.st_size : lseek(fd, 0, SEEK_CUR);
        if (offset < 0) return 0;
    }
    return offset + (off_t)count > st.st_size;
}

static size_t iov_bytes(const struct iovec *iov, int iovcnt)
{
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) total += iov[i].iov_len;
    return total;
}

#define GROW_GUARD(fd, offset, count, ret) \
    if (full_now() && fd_inside(fd) && grows(fd, offset, count)) do { errno = ENOSPC; return ret; } while (0)

static int writes(int flags)
{
    return (flags & (O_WRONLY | O_RDWR | O_TRUNC)) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
}

/* O_CREAT alone (read-only access) is refused only when it would create the file, as the kernel does. */
static int refuses_open(int dirfd, const char *path, int flags)
{
    if (!read_only_now() || !path_inside(dirfd, path)) return 0;
    if (writes(flags)) return 1;
    if (flags & O_CREAT) {
        struct stat st;
        return fstatat(dirfd, path, &st, 0) != 0;
    }
    return 0;
}

static mode_t open_mode(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    REAL(open);
    va_list ap; va_start(ap, flags); mode_t mode = open_mode(flags, ap); va_end(ap);
    if (refuses_open(AT_FDCWD, path, flags)) REFUSE(-1);
    return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    REAL(open64);
    va_list ap; va_start(ap, flags); mode_t mode = open_mode(flags, ap); va_end(ap);
    if (refuses_open(AT_FDCWD, path, flags)) REFUSE(-1);
    return real_open64(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    REAL(openat);
    va_list ap; va_start(ap, flags); mode_t mode = open_mode(flags, ap); va_end(ap);
    if (refuses_open(dirfd, path, flags)) REFUSE(-1);
    return real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    REAL(openat64);
    va_list ap; va_start(ap, flags); mode_t mode = open_mode(flags, ap); va_end(ap);
    if (refuses_open(dirfd, path, flags)) REFUSE(-1);
    return real_openat64(dirfd, path, flags, mode);
}

int creat(const char *path, mode_t mode)
{
    REAL(creat);
    PATH_GUARD(AT_FDCWD, path, -1);
    return real_creat(path, mode);
}

int creat64(const char *path, mode_t mode)
{
    REAL(creat64);
    PATH_GUARD(AT_FDCWD, path, -1);
    return real_creat64(path, mode);
}

ssize_t write(int fd, const void *buf, size_t count)
{
    REAL(write);
    GROW_GUARD(fd, -1, count, -1);
    FD_GUARD(fd, -1);
    return real_write(fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
    REAL(pwrite);
    GROW_GUARD(fd, offset, count, -1);
    FD_GUARD(fd, -1);
    return real_pwrite(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset)
{
    REAL(pwrite64);
    GROW_GUARD(fd, offset, count, -1);
    FD_GUARD(fd, -1);
    return real_pwrite64(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    REAL(writev);
    GROW_GUARD(fd, -1, iov_bytes(iov, iovcnt), -1);
    FD_GUARD(fd, -1);
    return real_writev(fd, iov, iovcnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
    REAL(pwritev);
    GROW_GUARD(fd, offset, iov_bytes(iov, iovcnt), -1);
    FD_GUARD(fd, -1);
    return real_pwritev(fd, iov, iovcnt, offset);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off64_t offset)
{
    REAL(pwritev64);
    GROW_GUARD(fd, offset, iov_bytes(iov, iovcnt), -1);
    FD_GUARD(fd, -1);
    return real_pwritev64(fd, iov, iovcnt, offset);
}

int ftruncate(int fd, off_t length)
{
    REAL(ftruncate);
    GROW_GUARD(fd, 0, (size_t)length, -1);
    FD_GUARD(fd, -1);
    return real_ftruncate(fd, length);
}

int ftruncate64(int fd, off64_t length)
{
    REAL(ftruncate64);
    GROW_GUARD(fd, 0, (size_t)length, -1);
    FD_GUARD(fd, -1);
    return real_ftruncate64(fd, length);
}

int truncate(const char *path, off_t length)
{
    REAL(truncate);
    if (full_now() && path_inside(AT_FDCWD, path)) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && length > st.st_size) { errno = ENOSPC; return -1; }
    }
    PATH_GUARD(AT_FDCWD, path, -1);
    return real_truncate(path, length);
}

int fallocate(int fd, int mode, off_t offset, off_t len)
{
    REAL(fallocate);
    GROW_GUARD(fd, offset, (size_t)len, -1);
    FD_GUARD(fd, -1);
    return real_fallocate(fd, mode, offset, len);
}

int fallocate64(int fd, int mode, off64_t offset, off64_t len)
{
    REAL(fallocate64);
    GROW_GUARD(fd, offset, (size_t)len, -1);
    FD_GUARD(fd, -1);
    return real_fallocate64(fd, mode, offset, len);
}

/* posix_fallocate returns the error instead of setting errno. */
int posix_fallocate(int fd, off_t offset, off_t len)
{
    REAL(posix_fallocate);
    if (full_now() && fd_inside(fd) && grows(fd, offset, (size_t)len)) return ENOSPC;
    if (read_only_now() && fd_inside(fd)) return EROFS;
    return real_posix_fallocate(fd, offset, len);
}

int posix_fallocate64(int fd, off64_t offset, off64_t len)
{
    REAL(posix_fallocate64);
    if (full_now() && fd_inside(fd) && grows(fd, offset, (size_t)len)) return ENOSPC;
    if (read_only_now() && fd_inside(fd)) return EROFS;
    return real_posix_fallocate64(fd, offset, len);
}

/* A filesystem forced read-only after an error answers fsync with EROFS (ext4), so SQLite cannot count on it. */
int fsync(int fd)
{
    REAL(fsync);
    FD_GUARD(fd, -1);
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    REAL(fdatasync);
    FD_GUARD(fd, -1);
    return real_fdatasync(fd);
}

int fchmod(int fd, mode_t mode)
{
    REAL(fchmod);
    FD_GUARD(fd, -1);
    return real_fchmod(fd, mode);
}

int fchown(int fd, uid_t owner, gid_t group)
{
    REAL(fchown);
    FD_GUARD(fd, -1);
    return real_fchown(fd, owner, group);
}

int unlink(const char *path)
{
    REAL(unlink);
    PATH_GUARD(AT_FDCWD, path, -1);
    return real_unlink(path);
}

int unlinkat(int dirfd, const char *path, int flags)
{
    REAL(unlinkat);
    PATH_GUARD(dirfd, path, -1);
    return real_unlinkat(dirfd, path, flags);
}

int rename(const char *from, const char *to)
{
    REAL(rename);
    if (read_only_now() && (path_inside(AT_FDCWD, from) || path_inside(AT_FDCWD, to))) REFUSE(-1);
    return real_rename(from, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
    REAL(renameat);
    if (read_only_now() && (path_inside(fromfd, from) || path_inside(tofd, to))) REFUSE(-1);
    return real_renameat(fromfd, from, tofd, to);
}

int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned int flags)
{
    REAL(renameat2);
    if (read_only_now() && (path_inside(fromfd, from) || path_inside(tofd, to))) REFUSE(-1);
    return real_renameat2(fromfd, from, tofd, to, flags);
}

int link(const char *from, const char *to)
{
    REAL(link);
    PATH_GUARD(AT_FDCWD, to, -1);
    return real_link(from, to);
}

int mkdir(const char *path, mode_t mode)
{
    REAL(mkdir);
    PATH_GUARD(AT_FDCWD, path, -1);
    return real_mkdir(path, mode);
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
    REAL(mkdirat);
    PATH_GUARD(dirfd, path, -1);
    return real_mkdirat(dirfd, path, mode);
}

int rmdir(const char *path)
{
    REAL(rmdir);
    PATH_GUARD(AT_FDCWD, path, -1);
    return real_rmdir(path);
}
