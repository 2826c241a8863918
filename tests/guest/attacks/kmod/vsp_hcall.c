// SPDX-License-Identifier: GPL-2.0
/*
 * vsp_hcall: hypercalls made by code of an attacker's own inside a Xen
 * guest's kernel (a rootkit module, an exploit's payload), for the
 * xen-hypercalls pack's live test (tests/xen/xen.t).
 *
 * Writing "grant" to /proc/vsp_hcall makes one grant_table_op hypercall,
 * GNTTABOP_query_size for the guest itself: harmless (it only reads how
 * many grant frames the domain has), but made from this module's own
 * code, a path the kernel's grant-table code never takes.  Writing "mmu"
 * makes one mmu_update with no entries (a PVH guest is refused by Xen
 * either way).  Reading /proc/vsp_hcall gives the last call's result as
 * "OP rc RC", RC the hypercall's return value.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>
#include <linux/string.h>
#include <xen/xen.h>
#include <xen/interface/xen.h>
#include <xen/interface/grant_table.h>
#include <asm/xen/hypercall.h>

static char hc_last[48] = "none\n";

static noinline int hc_grant(void)
{
	struct gnttab_query_size q = { .dom = DOMID_SELF };

	return HYPERVISOR_grant_table_op(GNTTABOP_query_size, &q, 1);
}

static noinline int hc_mmu(void)
{
	return HYPERVISOR_mmu_update(NULL, 0, NULL, DOMID_SELF);
}

static ssize_t hc_write(struct file *f, const char __user *ubuf, size_t n,
			loff_t *off)
{
	char buf[16];
	const char *op;
	int rc;

	if (n >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, n))
		return -EFAULT;
	buf[n] = 0;
	strim(buf);
	if (!xen_domain())
		return -ENODEV;
	if (!strcmp(buf, "grant")) {
		op = "grant_table_op";
		rc = hc_grant();
	} else if (!strcmp(buf, "mmu")) {
		op = "mmu_update";
		rc = hc_mmu();
	} else {
		return -EINVAL;
	}
	snprintf(hc_last, sizeof(hc_last), "%s rc %d\n", op, rc);
	return n;
}

static ssize_t hc_read(struct file *f, char __user *ubuf, size_t n,
		       loff_t *off)
{
	return simple_read_from_buffer(ubuf, n, off, hc_last, strlen(hc_last));
}

static const struct proc_ops hc_ops = {
	.proc_read = hc_read,
	.proc_write = hc_write,
};

static int __init hc_init(void)
{
	return proc_create("vsp_hcall", 0600, NULL, &hc_ops) ? 0 : -ENOMEM;
}

static void __exit hc_exit(void)
{
	remove_proc_entry("vsp_hcall", NULL);
}

module_init(hc_init);
module_exit(hc_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vsp test: hypercalls from a module's own code");
