/*
 * linux.c: task_struct and cred layouts from BTF, and the current process
 * of a trapping vCPU.
 *
 * Member offsets are searched through anonymous structs and unions, since
 * task_struct nests some of its fields that way and the nesting changes
 * between versions.  Only byte-aligned members are accepted: a bitfield
 * where a pointer or an id is expected means the BTF is not what we think.
 *
 * The current task is found through the per-CPU area: on x86-64 the kernel
 * keeps each CPU's base in gs, and `current_task` (or, from 6.2,
 * `pcpu_hot.current_task`) is a per-CPU variable at a fixed offset from it.
 */
#include "vmi/linux.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/btf.h>

#include "base/errf.h"

/* The kernel half with 5-level paging (LA57); 4-level kernels sit higher. */
#define LX_KERNEL_HALF 0xff00000000000000ULL

/* Skips typedefs and qualifiers. */
static const struct btf_type *lx_resolve(const struct btf *btf, uint32_t id,
					 uint32_t *out_id)
{
	int rid = btf__resolve_type(btf, id);

	if (rid < 0)
		return NULL;
	if (out_id)
		*out_id = (uint32_t)rid;
	return btf__type_by_id(btf, (uint32_t)rid);
}

/* Members one lookup may visit: a real task_struct, anonymous unions
 * and all, takes a few hundred; lying BTF (anonymous members nested
 * eight deep, thousands at each level, all the same struct) would take
 * thousands to the eighth power. */
#define LX_MEMBER_BUDGET 100000

/*
 * Bit offset of member `name` in composite type `id`, looking into
 * anonymous members; the member's own type id in *mtype.  -1 when absent.
 * `depth` and `*budget` (members left to visit) bound the search against
 * malformed BTF.
 */
static long lx_member(const struct btf *btf, uint32_t id, const char *name,
		      uint32_t *mtype, int depth, long *budget)
{
	const struct btf_type *t = lx_resolve(btf, id, &id);
	const struct btf_member *m;

	if (!t || !btf_is_composite(t) || depth > 8)
		return -1;
	m = btf_members(t);
	for (uint16_t i = 0; i < btf_vlen(t); i++, m++) {
		if (--*budget < 0)
			return -1;
		const char *mn = btf__name_by_offset(btf, m->name_off);
		long base = (long)btf_member_bit_offset(t, i);

		if (mn && *mn) {
			if (strcmp(mn, name))
				continue;
			if (btf_member_bitfield_size(t, i))
				return -1;
			*mtype = m->type;
			return base;
		} else {
			long sub = lx_member(btf, m->type, name, mtype,
					     depth + 1, budget);

			if (sub >= 0)
				return base + sub;
		}
	}
	return -1;
}

int vsp_linux_btf_offset(const struct btf *btf, const char *sname,
			 const char *mname, uint32_t *off, char *err,
			 size_t errlen)
{
	int id = btf__find_by_name_kind(btf, sname, BTF_KIND_STRUCT);
	uint32_t mt;
	long bits;

	if (id < 0) {
		vsp_errf(err, errlen, "BTF has no struct %s", sname);
		return -1;
	}
	long budget = LX_MEMBER_BUDGET;
	bits = lx_member(btf, (uint32_t)id, mname, &mt, 0, &budget);
	if (bits < 0 || bits % 8) {
		vsp_errf(err, errlen, "BTF: struct %s has no member %s", sname,
			 mname);
		return -1;
	}
	/* Lying BTF: a member past its struct's end. */
	if ((uint64_t)bits / 8 >= btf__type_by_id(btf, (uint32_t)id)->size) {
		vsp_errf(err, errlen, "BTF: struct %s's member %s lies past its "
			 "end", sname, mname);
		return -1;
	}
	*off = (uint32_t)(bits / 8);
	return 0;
}

/* Offset of a per-CPU variable from the BTF's .data..percpu section. */
static int lx_percpu_var(const struct btf *btf, const char *name,
			 uint64_t *off)
{
	int id = btf__find_by_name_kind(btf, ".data..percpu", BTF_KIND_DATASEC);
	const struct btf_type *t;
	const struct btf_var_secinfo *v;

	if (id < 0)
		return -1;
	t = btf__type_by_id(btf, (uint32_t)id);
	v = btf_var_secinfos(t);
	for (uint16_t i = 0; i < btf_vlen(t); i++, v++) {
		const struct btf_type *var = btf__type_by_id(btf, v->type);
		const char *n = var ? btf__name_by_offset(btf, var->name_off) :
				      NULL;

		if (n && !strcmp(n, name)) {
			*off = v->offset;
			return 0;
		}
	}
	return -1;
}

/*
 * Where the current task pointer and the preempt count live in the per-CPU
 * area.  Kernels from 6.2 keep them in pcpu_hot; older ones in
 * current_task and __preempt_count (the count is optional).  The symbol table
 * is trusted first (it comes from the very guest), BTF otherwise.
 */
static int lx_find_current(struct vsp_linux *lx, const struct btf *btf,
			   const struct vsp_symtab *syms)
{
	uint64_t a;
	uint32_t in_hot;

	if (vsp_linux_btf_offset(btf, "pcpu_hot", "preempt_count", &in_hot, NULL, 0) == 0) {
		if ((syms && vsp_sym_addr(syms, "pcpu_hot", &a) == 0) ||
		    lx_percpu_var(btf, "pcpu_hot", &a) == 0) {
			lx->preempt_off = a + in_hot;
			lx->have_preempt = true;
		}
	} else if ((syms && vsp_sym_addr(syms, "__preempt_count", &a) == 0) ||
		   lx_percpu_var(btf, "__preempt_count", &a) == 0) {
		lx->preempt_off = a;
		lx->have_preempt = true;
	}
	if (vsp_linux_btf_offset(btf, "pcpu_hot", "current_task", &in_hot, NULL, 0) == 0) {
		if ((syms && vsp_sym_addr(syms, "pcpu_hot", &a) == 0) ||
		    lx_percpu_var(btf, "pcpu_hot", &a) == 0) {
			lx->current_off = a + in_hot;
			lx->pcpu_hot = true;
			lx->have_current = true;
			return 0;
		}
	}
	if ((syms && vsp_sym_addr(syms, "current_task", &a) == 0) ||
	    lx_percpu_var(btf, "current_task", &a) == 0) {
		lx->current_off = a;
		lx->have_current = true;
		return 0;
	}
	return -1;
}

/* Offset and element count of array member `name` of struct `sname`. */
static int lx_array(const struct btf *btf, const char *sname,
		    const char *name, uint32_t *off, uint32_t *nelems)
{
	int id = btf__find_by_name_kind(btf, sname, BTF_KIND_STRUCT);
	uint32_t mt;
	long bits;

	if (id < 0)
		return -1;
	long budget = LX_MEMBER_BUDGET;
	bits = lx_member(btf, (uint32_t)id, name, &mt, 0, &budget);
	const struct btf_type *t = lx_resolve(btf, mt, NULL);
	if (bits < 0 || bits % 8 || !t || !btf_is_array(t))
		return -1;
	*off = (uint32_t)(bits / 8);
	*nelems = btf_array(t)->nelems;
	return 0;
}

/*
 * The maple tree of 6.1 and later: mm_struct.mm_mt, its nodes' pivots and
 * slots, and the VMA and dentry members the module search reads.  The
 * metadata byte (the index of a node's last used slot) sits in the last
 * slot of a range node and after the gaps of an arange node.
 */
static int lx_mm_init(struct vsp_linux *lx, const struct btf *btf)
{
	uint32_t fpath, pdentry, dname, qname, ameta;

	if (vsp_linux_btf_offset(btf, "task_struct", "mm", &lx->task_mm, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "mm_struct", "mm_mt", &lx->mm_mt, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "maple_tree", "ma_root", &lx->mt_root, NULL, 0) ||
	    lx_array(btf, "maple_range_64", "pivot", &lx->r64_pivot,
		     &lx->r64_npivot) ||
	    lx_array(btf, "maple_range_64", "slot", &lx->r64_slot,
		     &lx->r64_nslot) ||
	    lx_array(btf, "maple_arange_64", "pivot", &lx->a64_pivot,
		     &lx->a64_npivot) ||
	    lx_array(btf, "maple_arange_64", "slot", &lx->a64_slot,
		     &lx->a64_nslot) ||
	    vsp_linux_btf_offset(btf, "maple_arange_64", "meta", &ameta, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "vm_area_struct", "vm_start", &lx->vma_start, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "vm_area_struct", "vm_end", &lx->vma_end, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "vm_area_struct", "vm_mm", &lx->vma_mm, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "vm_area_struct", "vm_flags", &lx->vma_flags, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "vm_area_struct", "vm_pgoff", &lx->vma_pgoff, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "vm_area_struct", "vm_file", &lx->vma_file, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "file", "f_path", &fpath, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "path", "dentry", &pdentry, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "dentry", "d_parent", &lx->dentry_parent, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "dentry", "d_name", &dname, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "qstr", "name", &qname, NULL, 0))
		return -1;
	if (lx->r64_nslot < 2 || lx->r64_nslot > 64 || lx->a64_nslot < 2 ||
	    lx->a64_nslot > 64 || lx->r64_npivot + 1 != lx->r64_nslot ||
	    lx->a64_npivot + 1 != lx->a64_nslot)
		return -1;
	lx->r64_meta = lx->r64_slot + (lx->r64_nslot - 1) * 8;
	lx->a64_meta = ameta;
	lx->file_dentry = fpath + pdentry;
	lx->dentry_name = dname + qname;
	return 0;
}

/* The page cache: file.f_mapping, its xarray of pages, and struct page's
 * size and index (a large folio's first index). */
static int lx_pcache_init(struct vsp_linux *lx, const struct btf *btf)
{
	uint32_t ipages, xhead;
	int id = btf__find_by_name_kind(btf, "page", BTF_KIND_STRUCT);

	if (id < 0 ||
	    vsp_linux_btf_offset(btf, "mm_struct", "pgd", &lx->mm_pgd, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "file", "f_mapping", &lx->file_mapping, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "address_space", "i_pages", &ipages, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "xarray", "xa_head", &xhead, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "xa_node", "shift", &lx->xa_shift, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "xa_node", "slots", &lx->xa_slots, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "page", "index", &lx->page_index, NULL, 0))
		return -1;
	lx->as_xa_head = ipages + xhead;
	lx->page_size = btf__type_by_id(btf, (uint32_t)id)->size;
	return lx->page_size ? 0 : -1;
}

/* The offsets from parsed BTF; `btf_path` names it in messages.  Takes
 * btf (frees it). */
static int lx_init_btf(struct vsp_linux *lx, struct btf *btf,
		       const char *btf_path, const struct vsp_symtab *syms,
		       char *err, size_t errlen)
{
	int id, rc = -1;

	if (vsp_linux_btf_offset(btf, "task_struct", "pid", &lx->task_pid, err, errlen) ||
	    vsp_linux_btf_offset(btf, "task_struct", "tgid", &lx->task_tgid, err, errlen) ||
	    vsp_linux_btf_offset(btf, "task_struct", "comm", &lx->task_comm, err, errlen) ||
	    vsp_linux_btf_offset(btf, "task_struct", "real_parent", &lx->task_real_parent,
		      err, errlen) ||
	    vsp_linux_btf_offset(btf, "task_struct", "cred", &lx->task_cred, err,
		      errlen) ||
	    vsp_linux_btf_offset(btf, "task_struct", "real_cred", &lx->task_real_cred,
		      err, errlen) ||
	    vsp_linux_btf_offset(btf, "cred", "uid", &lx->cred_uid, err, errlen) ||
	    vsp_linux_btf_offset(btf, "cred", "euid", &lx->cred_euid, err, errlen) ||
	    vsp_linux_btf_offset(btf, "cred", "gid", &lx->cred_gid, err, errlen))
		goto out;
	id = btf__find_by_name_kind(btf, "task_struct", BTF_KIND_STRUCT);
	lx->task_size = btf__type_by_id(btf, (uint32_t)id)->size;
	lx->have_mm = lx_mm_init(lx, btf) == 0;
	lx->have_tasks = vsp_linux_btf_offset(btf, "task_struct", "tasks", &lx->task_tasks,
				   NULL, 0) == 0 &&
			 vsp_linux_btf_offset(btf, "mm_struct", "exe_file", &lx->mm_exe_file,
				   NULL, 0) == 0;
	lx->have_pcache = lx->have_mm && lx_pcache_init(lx, btf) == 0;
	lx->have_caps = vsp_linux_btf_offset(btf, "cpuinfo_x86", "x86_capability",
					     &lx->cpu_caps, NULL, 0) == 0;
	if (lx_find_current(lx, btf, syms) < 0) {
		vsp_errf(err, errlen,
			 "%s: cannot locate the per-CPU current task pointer "
			 "(no current_task or pcpu_hot)", btf_path);
		goto out;
	}
	rc = 0;
out:
	btf__free(btf);
	return rc;
}

int vsp_linux_init(struct vsp_linux *lx, const char *btf_path,
		   const struct vsp_symtab *syms, char *err, size_t errlen)
{
	memset(lx, 0, sizeof(*lx));
	struct btf *btf = btf__parse(btf_path, NULL);
	if (!btf) {
		vsp_errf(err, errlen, "%s: no usable BTF (%s)", btf_path,
			 strerror(errno));
		return -1;
	}
	return lx_init_btf(lx, btf, btf_path, syms, err, errlen);
}

int vsp_linux_init_mem(struct vsp_linux *lx, const void *data, size_t size,
		       const char *name, const struct vsp_symtab *syms,
		       char *err, size_t errlen)
{
	memset(lx, 0, sizeof(*lx));
	if (size > UINT32_MAX) {
		return vsp_errf(err, errlen, "%s: BTF of %zu bytes is too large",
				name, size);
	}
	struct btf *btf = btf__new(data, (uint32_t)size);
	if (!btf) {
		return vsp_errf(err, errlen, "%s: no usable BTF (%s)", name,
				strerror(errno));
	}
	return lx_init_btf(lx, btf, name, syms, err, errlen);
}

uint64_t vsp_linux_percpu_base(uint64_t gs_base, uint64_t kernel_gs_base)
{
	if (gs_base >= LX_KERNEL_HALF)
		return gs_base;
	if (kernel_gs_base >= LX_KERNEL_HALF)
		return kernel_gs_base;
	return 0;
}

static int lx_read_ptr(vsp_gread_fn read, void *ctx, uint64_t gva,
		       uint64_t *out)
{
	uint64_t v;

	if (gva < LX_KERNEL_HALF ||
	    vsp_gread_all(read, ctx, gva, &v, sizeof(v)) < 0 ||
	    v < LX_KERNEL_HALF)
		return -1;
	*out = v;
	return 0;
}

static int lx_read_s32(vsp_gread_fn read, void *ctx, uint64_t gva,
		       int64_t *out)
{
	int32_t v;

	if (vsp_gread_all(read, ctx, gva, &v, sizeof(v)) < 0) {
		*out = -1;
		return -1;
	}
	*out = v;
	return 0;
}

static int lx_read_u32(vsp_gread_fn read, void *ctx, uint64_t gva,
		       int64_t *out)
{
	uint32_t v;

	if (vsp_gread_all(read, ctx, gva, &v, sizeof(v)) < 0) {
		*out = -1;
		return -1;
	}
	*out = v;
	return 0;
}

uint64_t vsp_linux_current_slot(const struct vsp_linux *lx, uint64_t percpu_base)
{
	if (!lx->have_current || percpu_base < LX_KERNEL_HALF)
		return 0;
	return percpu_base + lx->current_off;
}

/* include/linux/preempt.h: NMI_MASK | HARDIRQ_MASK | SOFTIRQ_OFFSET. */
#define LX_NOT_TASK 0x00ff0100u

int vsp_linux_in_task(const struct vsp_linux *lx, vsp_gread_fn read,
		      void *ctx, uint64_t percpu_base)
{
	uint32_t pc;

	if (!lx->have_preempt || percpu_base < LX_KERNEL_HALF ||
	    vsp_gread_all(read, ctx, percpu_base + lx->preempt_off, &pc,
			  sizeof pc) < 0)
		return -1;
	return (pc & LX_NOT_TASK) == 0;
}

int vsp_linux_current(const struct vsp_linux *lx, vsp_gread_fn read,
		      void *ctx, uint64_t percpu_base, uint64_t *task)
{
	uint64_t slot = vsp_linux_current_slot(lx, percpu_base);
	if (!slot)
		return -1;
	return lx_read_ptr(read, ctx, slot, task);
}

int vsp_linux_proc(const struct vsp_linux *lx, vsp_gread_fn read, void *ctx,
		   uint64_t task, struct vsp_proc *out)
{
	uint64_t parent, cred;
	int bad = 0;
	char comm[16];

	out->pid = out->tid = out->ppid = -1;
	out->uid = out->euid = out->gid = -1;
	out->comm[0] = '\0';
	if (task < LX_KERNEL_HALF)
		return -1;
	bad |= lx_read_s32(read, ctx, task + lx->task_tgid, &out->pid);
	bad |= lx_read_s32(read, ctx, task + lx->task_pid, &out->tid);
	if (vsp_gread_all(read, ctx, task + lx->task_comm, comm,
			  sizeof(comm)) == 0) {
		/* The kernel keeps comm NUL-terminated, a hostile guest
		 * need not: cut at 16 bytes either way. */
		memcpy(out->comm, comm, sizeof(comm));
		out->comm[sizeof(comm)] = '\0';
	} else {
		bad = -1;
	}
	if (lx_read_ptr(read, ctx, task + lx->task_real_parent, &parent) == 0)
		bad |= lx_read_s32(read, ctx, parent + lx->task_tgid,
				   &out->ppid);
	else
		bad = -1;
	/* The objective credentials, as ps and /proc show them. */
	if (lx_read_ptr(read, ctx, task + lx->task_real_cred, &cred) == 0) {
		bad |= lx_read_u32(read, ctx, cred + lx->cred_uid, &out->uid);
		bad |= lx_read_u32(read, ctx, cred + lx->cred_euid, &out->euid);
		bad |= lx_read_u32(read, ctx, cred + lx->cred_gid, &out->gid);
	} else {
		bad = -1;
	}
	return bad ? -1 : 0;
}

int vsp_linux_next_task(const struct vsp_linux *lx, vsp_gread_fn read,
			void *ctx, uint64_t task, uint64_t *next)
{
	uint64_t p;
	if (!lx->have_tasks || task < LX_KERNEL_HALF ||
	    lx_read_ptr(read, ctx, task + lx->task_tasks, &p) < 0 ||
	    p < LX_KERNEL_HALF || p < lx->task_tasks)
		return -1;
	*next = p - lx->task_tasks;
	return 0;
}

int vsp_linux_exe(const struct vsp_linux *lx, vsp_gread_fn read, void *ctx,
		  uint64_t task, char *buf, size_t size)
{
	uint64_t mm, file, dentry, name;
	if (!size)
		return -1;
	buf[0] = '\0';
	if (!lx->have_tasks || !lx->have_mm ||
	    lx_read_ptr(read, ctx, task + lx->task_mm, &mm) < 0 ||
	    mm < LX_KERNEL_HALF ||
	    lx_read_ptr(read, ctx, mm + lx->mm_exe_file, &file) < 0 ||
	    file < LX_KERNEL_HALF ||
	    lx_read_ptr(read, ctx, file + lx->file_dentry, &dentry) < 0 ||
	    dentry < LX_KERNEL_HALF ||
	    lx_read_ptr(read, ctx, dentry + lx->dentry_name, &name) < 0 ||
	    name < LX_KERNEL_HALF)
		return -1;
	/* A name is at most NAME_MAX; read what fits and cut at its NUL. */
	char tmp[256];
	size_t want = size - 1 < sizeof tmp ? size - 1 : sizeof tmp;
	size_t to_page = 4096 - (size_t)(name & 4095);	/* no read past it */
	if (want > to_page)
		want = to_page;
	if (vsp_gread_all(read, ctx, name, tmp, want) < 0)
		return -1;
	size_t n = 0;
	while (n < want && tmp[n])
		n++;
	memcpy(buf, tmp, n);
	buf[n] = '\0';
	return 0;
}
