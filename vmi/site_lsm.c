/*
 * site_lsm.c: hook events (language 1.1) at the guest kernel's own
 * decision points, and the resolved fields every event can read
 * (vmi/mon.h).
 *
 * A hook event traps each kernel function its catalog entry names
 * (base/catalog_hooks.c: security_file_open, security_bprm_check, ...),
 * checked against the guest's symbols.  At the trap the argument
 * registers point at the objects the kernel resolved; vmi/site_hook.c
 * reads them through BTF when a rule asks (m->hs).
 *  - deny E emulates the hook's return of -E: the operation fails for
 *    every route that reached the hook, and nothing of it has run;
 *  - kill makes the hook a call of force_sig(SIGKILL) that returns into
 *    sys_ni_syscall (a return address pushed for it), so the hook's
 *    caller sees -ENOSYS: the operation fails as for a deny and the task
 *    dies on its way back to user space.  (Returning force_sig's leftover
 *    rax to the caller let the unlink, the truncating open or the signal
 *    go through.)  One write more than a deny.
 *  - return and redirect are refused by the checker on hook events.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmi/mon.h"

int mon_resolved_fetch(struct mon *m, struct vsp_event *ev, enum vsp_field f,
		       struct vsp_str *out)
{
	if (f < VSP_F_RES_FIRST || f >= VSP_F_COUNT || !m->hs)
		return -1;
	/* Kernel objects, read through the windows (their fields lie close
	 * together), timed as guest reads. */
	uint64_t t0 = vsp_now_ns();
	mon_load_task(m);
	m->hs->task = m->task;
	m->win_on = true;
	int rc = vsp_hook_site_fetch(m->hs, ev, f, out);
	m->win_on = false;
	m->fetch_ns += vsp_now_ns() - t0;
	return rc;
}

int mon_code_fetch(void *ctx, struct vsp_event *ev, enum vsp_field f,
		   struct vsp_str *out)
{
	struct mon *m = ctx;

	if (f >= VSP_F_RES_FIRST)
		return mon_resolved_fetch(m, ev, f, out);
	if (f != VSP_F_FUNC)
		return -1;
	out->ptr = m->cur->name;
	out->len = (uint32_t)strlen(m->cur->name);
	return 0;
}

static const char *lsm_lacks(const struct mon *m,
			     const struct vsp_event_key *k, char *buf,
			     size_t n)
{
	const struct vsp_hook *h = vsp_hook_by_name(k->kind, k->name);
	uint64_t a;

	if (!h) {
		snprintf(buf, n, "no such hook in the catalog");
		return buf;
	}
	if (!m->syms)
		return NULL;	/* asked again once the guest's are read */
	for (unsigned j = 0; j < VSP_HOOK_FUNCS && h->at[j].func; j++)
		if (vsp_sym_addr(m->syms, h->at[j].func, &a) < 0) {
			snprintf(buf, n, "the guest kernel's symbols have no %s",
				 h->at[j].func);
			return buf;
		}
	return NULL;
}

/*
 * A trap on each function of the hook.  Every one must be there and the
 * kernel objects readable (BTF), or the policy cannot be enforced as
 * written: refused, not warned.
 */
static int lsm_setup(struct mon *m, const struct vsp_event_key *k)
{
	const struct mon_site *site = mon_site_of(k->kind);
	const struct vsp_hook *h = vsp_hook_by_name(k->kind, k->name);
	char why[320];
	uint64_t addr;

	if (!h)
		return mon_no_trap(m, k);
	if (!m->hs) {
		if (m->dry)
			return 0;
		snprintf(why, sizeof why, "the guest's kernel objects are "
			 "unreadable (%s)", m->have_lx ? m->lxfs_err :
			 "no BTF: --vmlinux, or a kernel with its own .BTF");
		vsp_support_refuse(stderr, m->p, k, m->be.ops, why);
		return 1;
	}
	for (unsigned j = 0; j < VSP_HOOK_FUNCS && h->at[j].func; j++) {
		if (!m->syms || vsp_sym_addr(m->syms, h->at[j].func, &addr) < 0)
			return mon_no_trap(m, k);
		int rc = mon_add_event_trap(m, k, site, addr, h->at[j].func,
					    false);
		if (rc < 0)
			return rc;
		if (m->dry)
			continue;	/* checked, not placed */
		if (rc > 0)
			return mon_no_trap(m, k);
		struct mon_trap *t = m->dry ? NULL : mon_trap_at(m, addr);
		if (t && t->key == k) {
			t->hook = h;
			t->hook_at = j;
		}
	}
	return 0;
}

/*
 * The reads a file.path costs, sent ahead in batches (mon_gread_ahead):
 * the current task, the file's path and the rename and mount counts;
 * then the dentry's parent and the task's fs; then the fs's root.  Three
 * steps, because each needs the one before; two when the task and its
 * fs are the last event's (a process opening files in a row), for the
 * first step reads where that task's fs and that fs's root are now, and
 * what is read at this stop is this stop's.  The decision then reads the
 * same addresses from the windows, as it would without this.
 */
static void lsm_ahead(struct mon *m)
{
	const struct vsp_lxfs *fs = &m->lxfs;
	struct vsp_hook_site *hs = m->hs;
	uint64_t slot = m->have_lx ? vsp_linux_current_slot(&m->lx,
			vsp_linux_percpu_base(m->regs.gs_base,
					      m->regs.kernel_gs_base)) : 0;
	uint64_t file = hs->a[0], f = 0;
	struct vsp_lxpath path;

	if (!slot)
		return;
	if (hs->args != VSP_HA_FILE && hs->args != VSP_HA_MMAP &&
	    hs->args != VSP_HA_READ_FILE)
		return;
	const uint64_t first[5] = {
		slot, file + fs->file_path, fs->rename_lock,
		m->ahead_task ? m->ahead_task + fs->task_fs : 0,
		m->ahead_fs ? m->ahead_fs + fs->fs_root : 0,
	};
	mon_gread_ahead(m, first, 5);
	mon_load_task(m);
	m->win_on = true;
	if (m->task &&
	    vsp_lxfs_read_path(fs, mon_gread, m, file + fs->file_path, &path) == 0) {
		const uint64_t second[2] = { path.dentry + fs->d_parent,
					     m->task + fs->task_fs };
		mon_gread_ahead(m, second, 2);
		if (vsp_gread_all(mon_gread, m, m->task + fs->task_fs, &f, 8) == 0)
			mon_gread_ahead(m, &(uint64_t){ f + fs->fs_root }, 1);
	}
	m->win_on = false;
	m->ahead_task = m->task;
	m->ahead_fs = f;
}

static bool lsm_fill(struct mon *m, struct mon_trap *t, int *rc)
{
	const uint64_t r[6] = { m->regs.rdi, m->regs.rsi, m->regs.rdx,
				m->regs.rcx, m->regs.r8, m->regs.r9 };

	mon_code_begin(m, t, mon_code_fetch);
	for (int i = 0; i < 6; i++)
		m->ev.args[i] = (int64_t)r[i];
	m->args_loaded = true;
	/* An mmap without PROT_EXEC, a firmware load: not the hook's
	 * event; it runs undecided. */
	if (!m->hs || !vsp_hook_site_wanted(m->hs, m->regs.rsp)) {
		if (m->hs)
			m->hs->st.skipped++;
		*rc = mon_leave(m, t);
		if (*rc >= 0)
			*rc = MON_GO_ON;
		return false;
	}
	if (t->key->reads & VSP_FBIT(VSP_F_FILE_PATH))
		lsm_ahead(m);
	mon_code_end(m, t);
	return true;
}

static void lsm_ret(struct mon *m, struct mon_trap *t, int64_t value,
		    struct mon_apply *a)
{
	(void)t;
	mon_return(m, value, a);
}

static void lsm_kill(struct mon *m, struct mon_trap *t, struct mon_apply *a)
{
	uint64_t ret = m->fn_ni_syscall, sp = m->regs.rsp - 8;

	(void)t;
	if (!ret || !m->fn_force_sig) {
		a->rc = -ENOSYS;
		return;
	}
	if (m->be.ops->write(&m->be, m->vcpu, sp, &ret, 8) != 8) {
		a->rc = -EFAULT;
		return;
	}
	m->regs.rsp = sp;
	mon_kill(m, m->fn_force_sig, a);
}

#define LSM_SITE(k, lbl) {					\
	.kind = VSP_EV_##k,					\
	.label = lbl,						\
	.kernel_code = true,					\
	.lacks = lsm_lacks,					\
	.setup = lsm_setup,					\
	.fill = lsm_fill,					\
	.apply = {						\
		.ret = lsm_ret,					\
		.kill = lsm_kill,				\
		.leave = mon_leave,				\
	},							\
}

const struct mon_site mon_site_file = LSM_SITE(FILE, "file %s");
const struct mon_site mon_site_net = LSM_SITE(NET, "net %s");
const struct mon_site mon_site_task = LSM_SITE(TASK, "task %s");
