/*
 * An LD_PRELOAD fault shim for the I/O-error test (tests/it/disk_faults.rs): while the
 * file that KULISSE_FAULT_TRIGGER names exists, every write and sync of a SQLite WAL
 * file (a path ending in "-wal") fails with EIO, as a failing disk would make it. Other
 * files, and everything while the trigger is absent, go through untouched.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int failing(int fd) {
    const char *trigger = getenv("KULISSE_FAULT_TRIGGER");
    if (trigger == NULL || access(trigger, F_OK) != 0) {
        return 0;
    }
    char link[64];
    char path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 4) {
        return 0;
    }
    path[n] = '\0';
    return strcmp(path + n - 4, "-wal") == 0;
}

#define REAL(name)                                                                  \
    static __typeof__(name) *real_##name;                                           \
    if (real_##name == NULL) {                                                      \
        real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name);                  \
    }

ssize_t write(int fd, const void *buf, size_t count) {
    REAL(write);
    if (failing(fd)) {
        errno = EIO;
        return -1;
    }
    return real_write(fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    REAL(pwrite);
    if (failing(fd)) {
        errno = EIO;
        return -1;
    }
    return real_pwrite(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset) {
    REAL(pwrite64);
    if (failing(fd)) {
        errno = EIO;
        return -1;
    }
    return real_pwrite64(fd, buf, count, offset);
}

int fsync(int fd) {
    REAL(fsync);
    if (failing(fd)) {
        errno = EIO;
        return -1;
    }
    return real_fsync(fd);
}

int fdatasync(int fd) {
    REAL(fdatasync);
    if (failing(fd)) {
        errno = EIO;
        return -1;
    }
    return real_fdatasync(fd);
}
