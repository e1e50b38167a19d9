/* Tree generator for scripts/bench-scale: millions of small files, fast.
 *
 *   bench-scale-gen create  ROOT FILES DIRS MAXSIZE SEED
 *   bench-scale-gen rewrite ROOT FILES DIRS MAXSIZE SEED EVERY MTIME
 *
 * create: FILES regular files spread over DIRS directories (ROOT/dD/fI, files
 *   in consecutive blocks per directory, as a real tree is written), each of a
 *   size drawn uniformly from 0..MAXSIZE bytes and filled with pseudo-random
 *   bytes derived from (SEED, I): no two files share a content, so nothing
 *   deduplicates. mtimes are fixed in the past (2024-01-01 plus I seconds, with
 *   nanoseconds), far from "now", so no file is racy for the scan.
 * rewrite: rewrites every EVERY-th file (I = 0, EVERY, 2*EVERY, ...) with the
 *   contents and size derived from (SEED, I), and sets its mtime to MTIME plus I
 *   seconds. With another SEED and MTIME it changes 1/EVERY of the files; with
 *   the SEED given to create and MTIME 0 it puts them back as created.
 *
 * The same (SEED, FILES, DIRS, MAXSIZE) always gives the same tree.
 * Prints the number of files and bytes written on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const int64_t base_mtime = 1704067200; /* 2024-01-01T00:00:00Z */

static uint64_t splitmix(uint64_t* s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void die(const char* what, const char* path) {
    fprintf(stderr, "bench-scale-gen: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static char buf[1 << 20];

/* Writes file I; returns its size. */
static int64_t write_file(const char* root, int64_t i, int64_t files, int64_t dirs, int64_t maxsize,
                          uint64_t seed, int64_t mtime) {
    char path[4096];
    int64_t d = i * dirs / files;
    snprintf(path, sizeof path, "%s/d%lld/f%lld", root, (long long)d, (long long)i);
    uint64_t s = seed * 0x100000001b3ULL ^ (uint64_t)i * 0xd6e8feb86659fd93ULL;
    int64_t size = (int64_t)(splitmix(&s) % (uint64_t)(maxsize + 1));
    if (size > (int64_t)sizeof buf) {
        size = sizeof buf;
    }
    for (int64_t k = 0; k < size; k += 8) {
        uint64_t v = splitmix(&s);
        memcpy(buf + k, &v, 8);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        die("cannot create", path);
    }
    for (int64_t done = 0; done < size;) {
        ssize_t n = write(fd, buf + done, (size_t)(size - done));
        if (n < 0) {
            die("cannot write", path);
        }
        done += n;
    }
    struct timespec t[2];
    t[0].tv_sec = t[1].tv_sec = mtime + i % 86400;
    t[0].tv_nsec = t[1].tv_nsec = (long)((uint64_t)i * 7919 % 1000000000);
    if (futimens(fd, t) != 0) {
        die("cannot set the mtime of", path);
    }
    if (close(fd) != 0) {
        die("cannot close", path);
    }
    return size;
}

int main(int argc, char** argv) {
    int create = argc == 7 && strcmp(argv[1], "create") == 0;
    int rewrite = argc == 9 && strcmp(argv[1], "rewrite") == 0;
    if (!create && !rewrite) {
        fprintf(stderr, "usage: %s create ROOT FILES DIRS MAXSIZE SEED\n"
                        "       %s rewrite ROOT FILES DIRS MAXSIZE SEED EVERY MTIME\n",
                argv[0], argv[0]);
        return 2;
    }
    const char* root = argv[2];
    int64_t files = atoll(argv[3]), dirs = atoll(argv[4]), maxsize = atoll(argv[5]);
    uint64_t seed = strtoull(argv[6], NULL, 10);
    if (files < 1 || dirs < 1 || maxsize < 0) {
        fprintf(stderr, "bench-scale-gen: FILES and DIRS must be >= 1, MAXSIZE >= 0\n");
        return 2;
    }
    if (dirs > files) {
        dirs = files;
    }
    int64_t count = 0, bytes = 0;
    if (create) {
        char path[4096];
        if (mkdir(root, 0755) != 0 && errno != EEXIST) {
            die("cannot create", root);
        }
        for (int64_t d = 0; d < dirs; d++) {
            snprintf(path, sizeof path, "%s/d%lld", root, (long long)d);
            if (mkdir(path, 0755) != 0 && errno != EEXIST) {
                die("cannot create", path);
            }
        }
        for (int64_t i = 0; i < files; i++) {
            bytes += write_file(root, i, files, dirs, maxsize, seed, base_mtime);
            count++;
        }
        /* Directories' mtimes in the past too, once their files exist. */
        struct timespec t[2] = {{base_mtime, 0}, {base_mtime, 0}};
        for (int64_t d = 0; d < dirs; d++) {
            snprintf(path, sizeof path, "%s/d%lld", root, (long long)d);
            if (utimensat(AT_FDCWD, path, t, 0) != 0) {
                die("cannot set the mtime of", path);
            }
        }
        if (utimensat(AT_FDCWD, root, t, 0) != 0) {
            die("cannot set the mtime of", root);
        }
    } else {
        int64_t every = atoll(argv[7]);
        int64_t mtime = atoll(argv[8]);
        if (every < 1) {
            fprintf(stderr, "bench-scale-gen: EVERY must be >= 1\n");
            return 2;
        }
        if (mtime == 0) {
            mtime = base_mtime;
        }
        for (int64_t i = 0; i < files; i += every) {
            bytes += write_file(root, i, files, dirs, maxsize, seed, mtime);
            count++;
        }
    }
    printf("%lld %lld\n", (long long)count, (long long)bytes);
    return 0;
}
