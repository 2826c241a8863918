/*
 * fuzz_btf.c: fuzz target for the guest's BTF as vsp reads it.
 *
 * Without a vmlinux, vsp attach copies the running kernel's .BTF out of
 * guest memory (vmi/kallsyms.h, vsp_ksyms_read_btf) and takes from it
 * every offset it reads kernel objects at: task and cred members and the
 * maple tree for process context (vmi/linux.h), and the file, path,
 * dentry, socket and cgroup members of hook events (vmi/linux_fs.h).  The
 * guest wrote those bytes, so they can lie: types that refer to
 * themselves, anonymous members nested and fanned out without end, sizes
 * and counts past the data.
 *
 * Invariants: both readers return (no unbounded search); on success the
 * offsets they report lie inside the structs that hold them.
 *
 * Input: the raw BTF (header, types, strings), as the guest serves it.
 */
#include "fz_common.h"
#include "vmi/linux.h"
#include "vmi/linux_fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vsp_linux lx;
	struct vsp_lxfs fs;
	char err[256];

	if (vsp_linux_init_mem(&lx, data, size, "fuzz", NULL, err,
			       sizeof err) == 0) {
		/* Every offset read from task_struct lies inside it. */
		if (lx.task_size == 0 || lx.task_pid >= lx.task_size ||
		    lx.task_comm >= lx.task_size || lx.task_cred >= lx.task_size)
			FZ_FAIL("task_struct offsets past its size %u "
				"(pid %u, comm %u, cred %u)", lx.task_size,
				lx.task_pid, lx.task_comm, lx.task_cred);
	} else if (!err[0]) {
		FZ_FAIL("vsp_linux_init_mem failed without a message");
	}
	err[0] = 0;
	if (vsp_lxfs_init_mem(&fs, data, size, "fuzz", err, sizeof err) != 0 &&
	    !err[0])
		FZ_FAIL("vsp_lxfs_init_mem failed without a message");
	return 0;
}
