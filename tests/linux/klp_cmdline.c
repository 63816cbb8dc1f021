// SPDX-License-Identifier: GPL-2.0
/*
 * klp_cmdline.c: an in-guest Linux livepatch (the kernel's own mechanism,
 * Documentation/livepatch/livepatch.rst), the comparison point of
 * tests/bench/bench_klp.sh: /proc/cmdline prints a fixed line instead of
 * the boot command line while the patch is enabled.
 *
 * Built against Debian's headers for the guest kernel by
 * `tests/lib/linux-guest.sh klp OUTDIR`; unsigned, so loading it taints the
 * kernel (Debian has MODULE_SIG without MODULE_SIG_FORCE).
 */
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

#define KLP_CMDLINE_TEXT "hvpatch-klp: this has been live patched"

/* Replaces fs/proc/cmdline.c's cmdline_proc_show(): same prototype. */
static int klp_cmdline_show(struct seq_file *m, void *v)
{
	seq_puts(m, KLP_CMDLINE_TEXT "\n");
	return 0;
}

/* Both arrays end with an empty entry: the core walks them to it. */
static struct klp_func klp_cmdline_funcs[] = {
	{ .old_name = "cmdline_proc_show", .new_func = klp_cmdline_show },
	{}
};

/* A NULL name means the function lives in vmlinux, not in a module. */
static struct klp_object klp_cmdline_objs[] = {
	{ .name = NULL, .funcs = klp_cmdline_funcs },
	{}
};

static struct klp_patch klp_cmdline_patch = {
	.mod = THIS_MODULE,
	.objs = klp_cmdline_objs,
};

/*
 * Enabling starts the transition and returns; the patch is in force for
 * every task once /sys/kernel/livepatch/klp_cmdline/transition reads 0.
 */
static int __init klp_cmdline_init(void)
{
	return klp_enable_patch(&klp_cmdline_patch);
}

/*
 * Nothing to undo: the module can only be removed after the patch was
 * disabled through sysfs and its transition finished.
 */
static void __exit klp_cmdline_exit(void)
{
}

module_init(klp_cmdline_init);
module_exit(klp_cmdline_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("hvpatch benchmark: livepatch of /proc/cmdline");
MODULE_INFO(livepatch, "Y");
