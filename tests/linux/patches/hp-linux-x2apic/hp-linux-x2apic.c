/* hp-linux-x2apic.c: HP-LINUX-0001 for Debian's cloud kernel (6.1): a
 * replacement of the static __x2apic_enable() (arch/x86/kernel/apic/
 * apic.c) that does what it does and says so in the kernel log. The
 * kernel calls it late in boot, after the monitor has locked the text and
 * a test has applied this patch, so the line
 *     x2apic enabled (hvpatch: live patch HP-LINUX-0001 ran)
 * in dmesg is the proof that the redirect ran.
 *
 * The original reads IA32_APICBASE through paravirt ops and prints with
 * printk_once; this one uses rdmsr/wrmsr directly (the kernel does too on
 * bare metal and KVM) and prints on every CPU that switches to x2APIC
 * mode: the patch area is read-only, so there is no "once" flag to set. */

#define MSR_IA32_APICBASE 0x0000001bu
#define X2APIC_ENABLE (1ull << 10)
#define KERN_SOH "\001"
#define KERN_INFO KERN_SOH "6"

/* The kernel's own, resolved from its symbol table. */
int _printk(const char *fmt, ...);

void hp_x2apic_enable(void);

static inline unsigned long long rdmsr64(unsigned int msr)
{
    unsigned int lo, hi;

    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (unsigned long long)hi << 32 | lo;
}

static inline void wrmsr64(unsigned int msr, unsigned long long v)
{
    __asm__ volatile("wrmsr"
                     :
                     : "c"(msr), "a"((unsigned int)v),
                       "d"((unsigned int)(v >> 32))
                     : "memory");
}

void hp_x2apic_enable(void)
{
    unsigned long long msr = rdmsr64(MSR_IA32_APICBASE);

    if (msr & X2APIC_ENABLE)
        return;
    wrmsr64(MSR_IA32_APICBASE, msr | X2APIC_ENABLE);
    _printk(KERN_INFO "x2apic enabled (hvpatch: live patch HP-LINUX-0001 "
                      "ran)\n");
}
