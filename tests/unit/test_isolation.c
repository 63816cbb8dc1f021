/* test_isolation.c: the monitor cannot get a writable view of protected
 * code. Two independent walls are tested: the memfd's seals (the kernel
 * refuses mmap(PROT_WRITE), mprotect, write(), /proc/self/mem, resizing),
 * and the monitor's seccomp filter (no new fd-backed or executable
 * mappings, no opening files, no memslot changes, no new processes).
 * Built without sanitizers: their runtime needs a looser filter. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hv/machine/hv_machine.h"
#include "hv/svc/hv_seccomp.h"
#include "lib/hv_abi.h"
#include "lib/hv_elf.h"
#include "lib/vrf_sandbox.h"
#include "verifier/vrf_proc.h"

#define DEMO_ELF "build/guest/demo.elf"

static uint8_t *image;
static size_t image_len;

static int load_image(void **state)
{
    (void)state;
    FILE *f = fopen(DEMO_ELF, "rb");
    if (!f)
        return -1;
    image = malloc(HV_ELF_MAX_SIZE);
    image_len = fread(image, 1, HV_ELF_MAX_SIZE, f);
    fclose(f);
    return image_len > 0 ? 0 : -1;
}

static int free_image(void **state)
{
    (void)state;
    free(image);
    return 0;
}

/* The verifier's memfd with its writable mapping, and the monitor's view. */
struct views {
    int fd;
    uint8_t *w;        /* verifier */
    const uint8_t *ro; /* monitor */
};

static void make_views(struct views *v)
{
    v->fd = vrf_code_create(image, image_len, HV_PROT_SIZE, &v->w);
    assert_true(v->fd >= 0);
    assert_int_equal(fcntl(v->fd, F_GET_SEALS) & VRF_CODE_SEALS,
                     VRF_CODE_SEALS);
    v->ro = mmap(NULL, HV_PROT_SIZE, PROT_READ, MAP_SHARED, v->fd, 0);
    assert_true(v->ro != MAP_FAILED);
    assert_memory_equal(v->w, v->ro, HV_PROT_SIZE);
}

static void drop_views(struct views *v)
{
    munmap((void *)v->ro, HV_PROT_SIZE);
    munmap(v->w, HV_PROT_SIZE);
    close(v->fd);
}

static void test_seals_refuse_writable_views(void **state)
{
    (void)state;
    struct views v;
    uint8_t before[64], junk[64];
    make_views(&v);
    memcpy(before, v.ro, sizeof before);
    memset(junk, 0xcc, sizeof junk);

    /* 1. A new shared writable mapping. */
    errno = 0;
    assert_true(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, v.fd,
                     0) == MAP_FAILED);
    assert_int_equal(errno, EPERM);
    /* 2. Upgrading the read-only mapping. */
    assert_int_equal(mprotect((void *)v.ro, 4096, PROT_READ | PROT_WRITE),
                     -1);
    /* 3. write() and pwrite() on the fd. */
    assert_int_equal(pwrite(v.fd, junk, sizeof junk, 0), -1);
    assert_int_equal(errno, EPERM);
    /* 4. The same memfd reopened through /proc, then mapped writable. */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", v.fd);
    int fd2 = open(path, O_RDWR);
    if (fd2 >= 0) {
        assert_true(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd2,
                         0) == MAP_FAILED);
        assert_int_equal(pwrite(fd2, junk, sizeof junk, 0), -1);
        close(fd2);
    }
    /* 5. /proc/self/mem, which can write through read-only mappings of
     *    private memory, but not into a sealed shared one. */
    int mem = open("/proc/self/mem", O_RDWR);
    assert_true(mem >= 0);
    assert_int_equal(pwrite(mem, junk, sizeof junk, (off_t)(uintptr_t)v.ro),
                     -1);
    close(mem);
    /* 6. Resizing or unsealing. */
    assert_int_equal(ftruncate(v.fd, 0), -1);
    assert_int_equal(fcntl(v.fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
    /* 7. A private writable copy is allowed, but it is a copy. */
    uint8_t *priv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE,
                         v.fd, 0);
    assert_true(priv != MAP_FAILED);
    memcpy(priv, junk, sizeof junk);
    munmap(priv, 4096);

    assert_memory_equal(v.ro, before, sizeof before);
    assert_memory_equal(v.w, before, sizeof before);
    drop_views(&v);
}

static void test_verifier_mapping_writes_through(void **state)
{
    (void)state;
    struct views v;
    make_views(&v);
    uint8_t *kpatch = v.w + (HV_PROT_KPATCH - HV_PROT_BASE);
    kpatch[0] = 0xc3;
    assert_int_equal(v.ro[HV_PROT_KPATCH - HV_PROT_BASE], 0xc3);
    drop_views(&v);
}

/* Each hostile action, run in a child under the monitor's filter: it must
 * end the child with the monitor's host-failure status. */
enum hostile {
    H_NONE, /* control: only allowed calls */
    H_SET_MEMSLOT,
    H_OPEN_PROC_MEM,
    H_MMAP_FD,
    H_MMAP_EXEC,
    H_MPROTECT_EXEC,
    H_FORK,
    H_EXECVE,
    H_PTRACE,
};

static void act(enum hostile h, int fd)
{
    struct kvm_userspace_memory_region r = {.slot = 1};
    char *argv[] = {"/bin/true", NULL};
    void *p;
    switch (h) {
    case H_NONE: {
        struct kvm_irq_level irq = {.irq = 4, .level = 1};
        p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ioctl(fd, KVM_IRQ_LINE, &irq); /* allowed (fails: not a VM fd) */
        _exit(p == MAP_FAILED || getpid() <= 0);
    }
    case H_SET_MEMSLOT:
        ioctl(fd, KVM_SET_USER_MEMORY_REGION, &r);
        break;
    case H_OPEN_PROC_MEM:
        open("/proc/self/mem", O_RDWR);
        break;
    case H_MMAP_FD:
        mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
        break;
    case H_MMAP_EXEC:
        mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
        break;
    case H_MPROTECT_EXEC:
        p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        mprotect(p, 4096, PROT_READ | PROT_EXEC);
        break;
    case H_FORK:
        fork();
        break;
    case H_EXECVE:
        execve(argv[0], argv, NULL);
        break;
    case H_PTRACE:
        ptrace(PTRACE_PEEKDATA, getppid(), NULL, NULL);
        break;
    }
    _exit(99); /* the call went through: the filter failed */
}

enum mode { DEMO, LINUX, LINUX_LOCKED };

static int run_hostile_in(enum mode mode, enum hostile h, int fd)
{
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, STDERR_FILENO); /* the SIGSYS report is expected */
        if (hv_seccomp_enter(mode != DEMO) != 0 ||
            (mode == LINUX_LOCKED && hv_seccomp_lock_memslots() != 0))
            _exit(98);
        act(h, fd);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_hostile(enum hostile h, int fd)
{
    return run_hostile_in(DEMO, h, fd);
}

/* A Linux guest's monitor changes memslots once, at the text lock; the
 * filter it loads then forbids it for good, the rest as for the demo. */
static void test_monitor_sandbox_linux(void **state)
{
    (void)state;
    struct views v;
    make_views(&v);
    assert_int_equal(run_hostile_in(LINUX, H_NONE, v.fd), 0);
    assert_int_equal(run_hostile_in(LINUX, H_SET_MEMSLOT, v.fd), 99);
    assert_int_equal(run_hostile_in(LINUX_LOCKED, H_NONE, v.fd), 0);
    for (int h = H_SET_MEMSLOT; h <= H_PTRACE; h++) {
        int got = run_hostile_in(LINUX_LOCKED, (enum hostile)h, v.fd);
        if (got != 2)
            fail_msg("locked, hostile action %d: exit %d, want 2", h, got);
    }
    drop_views(&v);
}

static void test_monitor_sandbox(void **state)
{
    (void)state;
    struct views v;
    make_views(&v);
    assert_int_equal(run_hostile(H_NONE, v.fd), 0);
    for (int h = H_SET_MEMSLOT; h <= H_PTRACE; h++) {
        int got = run_hostile((enum hostile)h, v.fd);
        if (got != 2)
            fail_msg("hostile action %d: exit %d, want 2 (denied)", h, got);
    }
    drop_views(&v);
}

/* In a child confined beneath dirfd: 0 if every open behaves as the
 * verifier's trust-directory rule says, the failing step otherwise, 77
 * without Landlock. */
static int fs_beneath_child(int dirfd)
{
    int fd;
    if (vrf_sandbox_fs_beneath("test", dirfd) == 1)
        return 77;
    fd = openat(dirfd, "anchors/a.pem", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 1; /* reading beneath it works */
    close(fd);
    fd = openat(dirfd, "anchors", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 2; /* so does listing */
    close(fd);
    if (openat(dirfd, "/etc/passwd", O_RDONLY) >= 0 || errno != EACCES)
        return 3; /* an absolute path escapes seccomp's pin, not this */
    if (openat(dirfd, "../outside", O_RDONLY) >= 0 || errno != EACCES)
        return 4;
    if (openat(dirfd, "anchors/a.pem", O_WRONLY) >= 0 || errno != EACCES)
        return 5; /* read-only */
    if (openat(dirfd, "anchors/new", O_WRONLY | O_CREAT, 0600) >= 0 ||
        errno != EACCES)
        return 6;
    return 0;
}

/* The verifier's trust directory: Landlock lets it read beneath its
 * directory fd and nothing else, whatever path openat is given. */
static void test_verifier_fs_beneath(void **state)
{
    (void)state;
    char base[] = "/tmp/hvpatch-fsbeneath-XXXXXX", p[96];
    static const char *const made[] = {"/trust", "/trust/anchors"};
    int status = -1, f;
    assert_non_null(mkdtemp(base));
    for (size_t i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s%s", base, made[i]);
        assert_int_equal(mkdir(p, 0700), 0);
    }
    /* base/trust is the trust directory; base/outside is not. */
    snprintf(p, sizeof p, "%s/trust/anchors/a.pem", base);
    assert_true((f = open(p, O_WRONLY | O_CREAT, 0600)) >= 0);
    close(f);
    snprintf(p, sizeof p, "%s/outside", base);
    assert_true((f = open(p, O_WRONLY | O_CREAT, 0600)) >= 0);
    close(f);
    snprintf(p, sizeof p, "%s/trust", base);
    int dirfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd >= 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fs_beneath_child(dirfd));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(dirfd);
    snprintf(p, sizeof p, "rm -rf '%s'", base);
    assert_int_equal(system(p), 0);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip();
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_seals_refuse_writable_views),
        cmocka_unit_test(test_verifier_mapping_writes_through),
        cmocka_unit_test(test_monitor_sandbox),
        cmocka_unit_test(test_monitor_sandbox_linux),
        cmocka_unit_test(test_verifier_fs_beneath),
    };
    return cmocka_run_group_tests_name("isolation", t, load_image,
                                       free_image);
}
