// SPDX-License-Identifier: GPL-2.0
/*
 * vsp_kwrite: the write primitive of an attacker who already runs code in
 * the guest kernel (a rootkit module, an exploit's arbitrary write), for
 * the kernel-memory pack's reproductions (the .case files in tests/guest/attacks).
 *
 * Writing "ADDR LEN" (ADDR in hex, LEN 1 to 8) to /proc/vsp_kwrite flips
 * the lowest bit of the LEN bytes at ADDR the way rootkits write read-only
 * kernel tables: interrupts off, CR0.WP cleared by a plain mov (the
 * kernel's write_cr0 pins WP), the store, WP back.  It then reads the
 * bytes again: "undone" when they hold their old value (a monitor put it
 * back), "stood" when the write stood, and then it puts the old bytes back
 * itself.  "ADDR LEN alias" makes the same store through the direct map
 * (lm_alias(ADDR), ADDR in the kernel image), the other mapping of the
 * same bytes a watch on ADDR alone would not see.  Reading /proc/vsp_kwrite gives that word.  So nothing it does
 * outlives the write; the targets the tests pick are entries the guest
 * never uses while they are changed (sys_call_table is not used for
 * dispatch on this kernel, IDT vectors the CPU never raises in 64-bit
 * mode, the helper paths with no helper being started).
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>
#include <linux/string.h>
#include <linux/irqflags.h>
#include <linux/mm.h>

static char kw_last[16] = "none\n";

static inline unsigned long kw_cr0(void)
{
	unsigned long v;

	asm volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static inline void kw_set_cr0(unsigned long v)
{
	asm volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

/* One store of LEN bytes with write protection off. */
static void kw_store(void *addr, u64 val, unsigned int len)
{
	unsigned long flags, cr0;

	local_irq_save(flags);
	cr0 = kw_cr0();
	kw_set_cr0(cr0 & ~X86_CR0_WP);
	switch (len) {
	case 1: WRITE_ONCE(*(u8 *)addr, (u8)val); break;
	case 2: WRITE_ONCE(*(u16 *)addr, (u16)val); break;
	case 4: WRITE_ONCE(*(u32 *)addr, (u32)val); break;
	case 8: WRITE_ONCE(*(u64 *)addr, val); break;
	}
	kw_set_cr0(cr0);
	local_irq_restore(flags);
}

static ssize_t kw_write(struct file *f, const char __user *ubuf, size_t n,
			loff_t *off)
{
	char buf[48], how[8] = "";
	unsigned long addr;
	unsigned int len;
	u64 old = 0, now = 0;
	int got;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, n))
		return -EFAULT;
	buf[n] = '\0';
	got = sscanf(buf, "%lx %u %7s", &addr, &len, how);
	if (got < 2 || (len != 1 && len != 2 && len != 4 && len != 8) ||
	    (got == 3 && strcmp(how, "alias")))
		return -EINVAL;
	if (got == 3) {
		if (addr < __START_KERNEL_map)
			return -EINVAL;
		addr = (unsigned long)lm_alias(addr);
	}
	if (copy_from_kernel_nofault(&old, (void *)addr, len))
		return -EFAULT;
	kw_store((void *)addr, old ^ 1, len);
	if (copy_from_kernel_nofault(&now, (void *)addr, len))
		return -EFAULT;
	if (now == old) {
		strscpy(kw_last, "undone\n", sizeof(kw_last));
	} else {
		strscpy(kw_last, "stood\n", sizeof(kw_last));
		kw_store((void *)addr, old, len);
	}
	pr_info("vsp_kwrite: %u bytes at %px: %s", len, (void *)addr, kw_last);
	return n;
}

static ssize_t kw_read(struct file *f, char __user *ubuf, size_t n,
		       loff_t *off)
{
	return simple_read_from_buffer(ubuf, n, off, kw_last, strlen(kw_last));
}

static const struct proc_ops kw_ops = {
	.proc_read = kw_read,
	.proc_write = kw_write,
};

static struct proc_dir_entry *kw_entry;

static int __init kw_init(void)
{
	kw_entry = proc_create("vsp_kwrite", 0600, NULL, &kw_ops);
	return kw_entry ? 0 : -ENOMEM;
}

static void __exit kw_exit(void)
{
	proc_remove(kw_entry);
}

module_init(kw_init);
module_exit(kw_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vsp test guest: a kernel write primitive for the kernel-memory pack's reproductions");
