/* bad-linux-cmdline-ud2.c: BAD-LINUX-UD2, a deliberately bad, correctly
 * signed patch for Debian's cloud kernel (tests only): cmdline_proc_show()
 * (fs/proc/cmdline.c) becomes a ud2, so the next
 *     cat /proc/cmdline
 * in the guest oopses ("invalid opcode: 0000 [#1] ...") and is killed;
 * the kernel runs on. The monitor's health watch sees the oops on the
 * console and reverts the patch (tests/integration/linux_auto_revert.bats);
 * the next cat works. Its code sits in the upper half of the second MiB
 * of the patch area, clear of HP-LINUX-0001 and -0002. */

struct seq_file;

int bad_cmdline_proc_show(struct seq_file *m, void *v);

int bad_cmdline_proc_show(struct seq_file *m, void *v)
{
    (void)m;
    (void)v;
    __builtin_trap(); /* ud2 */
}
