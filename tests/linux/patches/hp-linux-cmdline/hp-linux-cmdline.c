/* hp-linux-cmdline.c: HP-LINUX-0002 for Debian's cloud kernel (6.1): a
 * replacement of cmdline_proc_show() (fs/proc/cmdline.c), so that
 *     cat /proc/cmdline
 * in the guest prints "hvpatch: this has been live patched" instead of
 * the command line: a live patch a user can see from user space. Its code
 * goes in the second MiB of the patch area (code.area), so that it can be
 * applied after HP-LINUX-0001, whose code holds the first. */

struct seq_file;

/* The kernel's own, resolved from its symbol table. */
void seq_puts(struct seq_file *m, const char *s);

int hp_cmdline_proc_show(struct seq_file *m, void *v);

int hp_cmdline_proc_show(struct seq_file *m, void *v)
{
    (void)v;
    seq_puts(m, "hvpatch: this has been live patched\n");
    return 0;
}
