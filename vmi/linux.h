/*
 * linux.h: the process behind a trap in a Linux guest.
 *
 * Rules read proc.pid, proc.comm, proc.uid and the like.  At a trap the
 * monitor knows only the vCPU's registers; this module finds that CPU's
 * current task through the per-CPU area (gs base plus the per-CPU offset of
 * `current_task`, or of `pcpu_hot.current_task` on kernels from 6.2) and
 * reads the task's ids, name and credentials.  Every structure offset comes
 * from the kernel's own BTF (the vmlinux .BTF section, or a raw BTF file
 * such as a copy of /sys/kernel/btf/vmlinux), parsed once with libbpf; no
 * layout is hard-coded, so one binary follows kernel versions.
 *
 * Filling a struct vsp_proc costs a handful of bounded reads through the
 * caller's callback and never allocates.
 */
#ifndef VSP_LINUX_H
#define VSP_LINUX_H

#include <stdbool.h>
#include <stdint.h>

#include "base/event.h"
#include "vmi/kaslr.h"
#include "vmi/symbols.h"

/* Byte offsets into guest structures, as the kernel's BTF states them. */
struct vsp_linux {
	/* struct task_struct */
	uint32_t task_pid, task_tgid, task_comm, task_real_parent;
	uint32_t task_cred, task_real_cred;
	uint32_t task_size;
	/* struct cred */
	uint32_t cred_uid, cred_euid, cred_gid;
	/* Per-CPU offset of the current task pointer (from symbols or from
	 * the BTF .data..percpu section); valid when have_current. */
	uint64_t current_off;
	bool have_current;
	bool pcpu_hot;		/* found as pcpu_hot.current_task (6.2+) */
	/* Per-CPU offset of the preempt count (__preempt_count, from 6.2
	 * pcpu_hot.preempt_count), to tell a task from an interrupt:
	 * valid when have_preempt. */
	uint64_t preempt_off;
	bool have_preempt;
	/* A task's memory map, for user-space events (vmi/vma.h): valid
	 * when have_mm (kernels with the maple tree, 6.1 and later). */
	bool have_mm;
	uint32_t task_mm, mm_mt;	/* task_struct.mm, mm_struct.mm_mt */
	uint32_t mt_root;		/* maple_tree.ma_root */
	/* maple_range_64 (also the leaf layout) and maple_arange_64 */
	uint32_t r64_pivot, r64_slot, r64_npivot, r64_nslot, r64_meta;
	uint32_t a64_pivot, a64_slot, a64_npivot, a64_nslot, a64_meta;
	uint32_t vma_start, vma_end, vma_mm, vma_flags, vma_pgoff, vma_file;
	uint32_t file_dentry;		/* file.f_path.dentry */
	uint32_t dentry_parent, dentry_name;	/* d_parent, d_name.name */
	/* The task list (init_task.tasks) and a task's executable, for
	 * `ps` in vsp repl: valid when have_tasks. */
	bool have_tasks;
	uint32_t task_tasks;		/* task_struct.tasks (a list_head) */
	uint32_t mm_exe_file;		/* mm_struct.exe_file */
	/* A mapped file's pages in the page cache, for reading a module's
	 * ELF whatever the process touched (vmi/pcache.h), and a process's
	 * page table root, to tell its traps by CR3: valid when have_pcache. */
	bool have_pcache;
	uint32_t mm_pgd;		/* mm_struct.pgd */
	uint32_t file_mapping;		/* file.f_mapping */
	uint32_t as_xa_head;		/* address_space.i_pages.xa_head */
	uint32_t xa_shift, xa_slots;	/* xa_node.shift, xa_node.slots */
	uint32_t page_size, page_index;	/* sizeof(struct page), page.index */
	/* cpuinfo_x86.x86_capability (boot_cpu_data's feature words, as
	 * the kernel set them): valid when have_caps. */
	bool have_caps;
	uint32_t cpu_caps;
};

/*
 * Reads the offsets from BTF at `btf_path` (an ELF with .BTF or raw BTF).
 * The memory-map offsets are optional (have_mm tells).
 * `syms` (may be NULL) locates the per-CPU current task pointer; without it
 * the BTF's per-CPU data section is used.  0, or -1 with a message.
 */
int vsp_linux_init(struct vsp_linux *lx, const char *btf_path,
		   const struct vsp_symtab *syms, char *err, size_t errlen);

/*
 * The same from raw BTF bytes (borrowed), such as the running kernel's
 * own .BTF read from guest memory; libbpf checks the header, the type and
 * string sections' bounds and every type's size before any is used.
 * `name` is for messages.
 */
int vsp_linux_init_mem(struct vsp_linux *lx, const void *data, size_t size,
		       const char *name, const struct vsp_symtab *syms,
		       char *err, size_t errlen);

/*
 * Byte offset of member `mname` of struct `sname` in `btf`, looking into
 * anonymous members; bitfields are refused.  0, or -1 with a message.
 * For the other Linux readers (vmi/linux_fs.c).
 */
struct btf;
int vsp_linux_btf_offset(const struct btf *btf, const char *sname,
			 const char *mname, uint32_t *off, char *err,
			 size_t errlen);

/*
 * The per-CPU base of a vCPU stopped in kernel mode: gs_base, or the
 * shadow kernel_gs_base when the stop came before swapgs (the one that is a
 * kernel address).  0 when neither is.
 */
uint64_t vsp_linux_percpu_base(uint64_t gs_base, uint64_t kernel_gs_base);

/* Where the CPU with that per-CPU base keeps its current task's address;
 * 0 when this kernel's layout or the base gives none. */
uint64_t vsp_linux_current_slot(const struct vsp_linux *lx, uint64_t percpu_base);
/* The current task_struct address of the CPU with that per-CPU base: 0 or
 * -1 (unreadable, or not a kernel pointer). */
/* Whether the CPU with that per-CPU base runs a task rather than an
 * interrupt, a softirq or an NMI (the kernel's in_task()): 1, 0, or -1
 * when this kernel's layout or the read cannot tell. */
int vsp_linux_in_task(const struct vsp_linux *lx, vsp_gread_fn read,
		      void *ctx, uint64_t percpu_base);
int vsp_linux_current(const struct vsp_linux *lx, vsp_gread_fn read,
		      void *ctx, uint64_t percpu_base, uint64_t *task);

/*
 * Fills `out` from the task at `task`: pid (the thread group id), tid, ppid
 * (the real parent's tgid), comm, uid, euid, gid (from the task's effective
 * cred, `cred`).  Fields that cannot be read are -1 (comm empty); returns
 * 0 when everything was read, -1 when anything was missing.
 */
int vsp_linux_proc(const struct vsp_linux *lx, vsp_gread_fn read, void *ctx,
		   uint64_t task, struct vsp_proc *out);

/* The task after `task` on the kernel's task list (init_task.tasks,
 * one entry per process): 0, or -1 when unreadable or not a kernel
 * pointer.  Needs have_tasks. */
int vsp_linux_next_task(const struct vsp_linux *lx, vsp_gread_fn read,
			void *ctx, uint64_t task, uint64_t *next);

/* The base name of the task's executable (mm->exe_file's dentry), at
 * most size - 1 bytes, NUL-terminated: 0, or -1 (a kernel thread has
 * none; unreadable).  Needs have_tasks and have_mm. */
int vsp_linux_exe(const struct vsp_linux *lx, vsp_gread_fn read, void *ctx,
		  uint64_t task, char *buf, size_t size);

#endif
