/*
 * site_user.c: user-space function events, `on user "LIB":FUNC`.
 *
 * LIB is a module's file name ("libc.so.6", matched against the last
 * component of the mapped file) or an absolute path (an executable or a
 * library, matched against the file's path).  Where each process maps it
 * is learnt from outside the guest:
 *  - at attach, the task list (init_task.tasks) and each task's VMAs
 *    (vmi/vma.h) give every executable mapping of the module;
 *  - afterwards, a trap at perf_event_mmap(vma), which mmap_region and
 *    mprotect call for every mapping made executable with the VMA
 *    complete, gives each new one (a library dlopen()ed late as well),
 *    and takes away what the process had in its range (a dlclose()d
 *    library's place taken by other code); a trap at exit_mmap(mm), which
 *    exit and exec reach when a process's memory goes, removes its traps;
 *    and one at unmap_region(mm, ..., start, end), which munmap (dlclose)
 *    and mremap reach once the range is detached, those in the range.
 * FUNC is resolved once per mapped file from the module's own ELF, read
 * through the file's pages in the guest's page cache (vmi/pcache.h,
 * vmi/uelf.h): its dynamic symbols, or for a program without them (a
 * static one) its .symtab, read by file offset.  The result is a file
 * offset, which each process's mapping places wherever ASLR put it.  One
 * breakpoint per distinct address.
 *
 * A GDB stub's breakpoint is per virtual address, not per process: at a
 * hit, the page table root (CR3) says which process runs, and only a
 * process known to map the module there decides; another one (whose code
 * at that address is something else) resumes silently.  A process vsp
 * never saw map the module (the child of a fork copies its parent's map)
 * is looked at once, at its first hit, through its current task.
 *
 * Flow control (vmi/site_user_flow.c) is emulated at the function's
 * first instruction, before it runs: `return X` sets rax and returns
 * to the caller (the return address popped from rsp); `deny E` returns -1 with the thread's errno
 * set to E through its TLS (fs_base plus libc's errno offset, read from
 * its __errno_location and GOT); `kill` sends the process SIGKILL by
 * making it run kill(pid, SIGKILL) through a `syscall` instruction in the
 * module's own _exit; `pause` as everywhere.  An allowed call leaves
 * the trap with its first instruction run by the monitor (vmi/emulate.h:
 * the push, mov, sub, test or cmp that most functions open with, decoded
 * once from the module's file), or by a single step where that
 * instruction is of another kind or the process's code at the address is
 * not the file's (read at every call whose first instruction vsp runs).  A process that rewrote
 * the function under its trap runs what it wrote, stepped, and the
 * change is an alert.
 *
 * Every table here is fixed-size and filled at traps of the mapping path,
 * never at a decision; the guest's memory is read bounded (vmi/vma.h,
 * vmi/pcache.h, vmi/uelf.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmi/site_user.h"
#include "vmi/uelf.h"
#include "vmi/vma.h"

static const char *const mu_syms[] = { "perf_event_mmap", "exit_mmap",
				       "page_offset_base", "vmemmap_base",
				       "init_task" };

static const char *user_lacks(const struct mon *m,
			      const struct vsp_event_key *k, char *buf,
			      size_t n)
{
	uint64_t a;

	if (!k->lib || !k->lib[0]) {
		snprintf(buf, n, "the event names no module");
		return buf;
	}
	if (!m->syms)
		return NULL;	/* asked again once the guest's are read */
	for (size_t i = 0; i < sizeof mu_syms / sizeof mu_syms[0]; i++)
		if (vsp_sym_addr(m->syms, mu_syms[i], &a) < 0) {
			snprintf(buf, n, "the guest kernel's symbols have no %s "
				 "(needed to follow processes' mappings)",
				 mu_syms[i]);
			return buf;
		}
	return NULL;
}

void mon_user_release(struct mon *m)
{
	free(m->user);
	m->user = NULL;
}

/* ---- the mapped file: FUNC's place in it ---- */

/* name's address in the image: from the dynamic symbols when the module
 * has them (e NULL: it has none), else from the file's .symtab, the only
 * place a static program names its functions. */
static int mu_lookup(struct vsp_pcmod *pm, const struct vsp_uelf *e,
		     const char *name, uint64_t *addr, char *err, size_t n)
{
	uint64_t v;

	if (e && vsp_uelf_lookup(e, vsp_pcmod_read, pm, name, addr, err, n) == 0)
		return 0;
	size_t used = e ? strlen(err) : 0;
	if (used)
		used += (size_t)snprintf(err + used, n - used, "; .symtab: ");
	if (used >= n)
		used = n - 1;
	if (vsp_uelf_symtab_lookup(vsp_pcmod_file_read, pm, name, &v,
				   err + used, n - used) < 0)
		return -1;
	*addr = v + pm->bias;
	return 0;
}

/* Resolves the event's function in the file at `mapping`, once. */
static struct mu_file *mu_file(struct mon *m, struct mu_ev *ev,
			       uint64_t mapping)
{
	struct mon_user *u = m->user;

	for (unsigned i = 0; i < ev->nf; i++)
		if (ev->f[i].mapping == mapping)
			return &ev->f[i];
	if (ev->nf == MU_FILES)
		return NULL;
	struct mu_file *f = &ev->f[ev->nf++];
	memset(f, 0, sizeof *f);
	f->mapping = mapping;

	struct vsp_pcmod pm;
	struct vsp_uelf e;
	const struct vsp_uelf *dyn = &e;
	uint64_t fn, ex;
	char err[160];
	if (vsp_pcmod_open(&pm, &u->pc, mapping, MU_DYN_BIAS, f->err,
			   sizeof f->err) < 0)
		return f;
	if (vsp_uelf_open(&e, vsp_pcmod_read, &pm, pm.base, err,
			  sizeof err) < 0)
		dyn = NULL;	/* a static program: its .symtab */
	if (mu_lookup(&pm, dyn, ev->k->name, &fn, f->err, sizeof f->err) < 0) {
		if (!dyn) {
			snprintf(err + strlen(err), sizeof err - strlen(err),
				 "; .symtab: %s", f->err);
			snprintf(f->err, sizeof f->err, "%s", err);
		}
		return f;
	}
	if (vsp_pcmod_foff(&pm, fn, &f->foff) < 0) {
		snprintf(f->err, sizeof f->err, "%s lies outside the file",
			 ev->k->name);
		return f;
	}
	f->img_fn = fn;
	f->ok = true;
	if (vsp_pcmod_read(&pm, fn, f->code, sizeof f->code) ==
	    (long)sizeof f->code) {
		f->clen = 8;
		if (m->have_cs &&
		    vsp_emu_decode(m->cs, f->code, sizeof f->code, fn, &f->emu))
			f->clen = f->emu.len > 8 ? f->emu.len : 8;
	}
	/* For kill: a `syscall` instruction of the module's own _exit. */
	uint8_t code[64];
	if (mu_lookup(&pm, dyn, "_exit", &ex, err, sizeof err) == 0 &&
	    vsp_pcmod_read(&pm, ex, code, sizeof code) == (long)sizeof code)
		for (size_t i = 0; i + 1 < sizeof code; i++)
			if (code[i] == 0x0f && code[i + 1] == 0x05 &&
			    vsp_pcmod_foff(&pm, ex + i, &f->kill_foff) == 0)
				break;
	if (dyn && vsp_uelf_lookup(&e, vsp_pcmod_read, &pm, "__errno_location",
				   &ex, err, sizeof err) == 0)
		f->errno_fn = ex;
	f->is_static = !dyn;
	return f;
}

/* ---- the table of processes' mappings ---- */

static struct mu_map *mu_find(struct mon_user *u, uint64_t cr3, uint64_t addr)
{
	uint64_t pa = cr3 & MU_CR3_MASK;

	for (unsigned i = 0; i < u->nmap; i++) {
		struct mu_map *p = &u->map[i];
		if (p->addr == addr && (p->pgd == pa || p->pgd + MU_PTI_USER == pa))
			return p;
	}
	return NULL;
}

static bool mu_addr_used(const struct mon_user *u, uint64_t addr)
{
	for (unsigned i = 0; i < u->nmap; i++)
		if (u->map[i].addr == addr && u->map[i].ev)
			return true;
	return false;
}

static uint64_t mu_pgd(struct mon *m, uint64_t mm)
{
	uint64_t pgd;

	if (mon_gread(m, mm + m->lx.mm_pgd, &pgd, 8) != 8 ||
	    pgd < m->user->pc.page_offset)
		return 0;
	return pgd - m->user->pc.page_offset;
}

/* A breakpoint at addr for ev in the process of mm (pid for messages). */
static int mu_place(struct mon *m, struct mu_ev *ev, struct mu_file *f,
		    uint64_t mm, uint64_t pgd, uint64_t addr, int64_t pid)
{
	struct mon_user *u = m->user;

	/* The kernel decides on PTI early in start_kernel, perhaps after
	 * vsp attached, and always before the first process runs: at the
	 * first trap for one (a kernel stop) the answer is final. */
	if (!m->pti_final) {
		mon_guest_pti(m);
		m->pti_final = true;
	}
	for (unsigned i = 0; i < u->nmap; i++)
		if (u->map[i].mm == mm && u->map[i].addr == addr) {
			u->map[i].ev = ev;	/* known: a negative one corrected */
			u->map[i].file = f;
			return 0;
		}
	if (u->nmap == MU_MAPS) {
		fprintf(stderr, "vsp attach: warning: more than %d process "
			"mappings of user functions; %s at 0x%" PRIx64 " in pid %"
			PRId64 " not trapped\n", MU_MAPS, ev ? ev->k->name : "?",
			addr, pid);
		return -ENOSPC;
	}
	struct mon_trap *t = mon_trap_at(m, addr);
	if (!t && ev) {
		t = mon_trap_new(m, addr, MON_T_EVENT);
		if (!t) {
			fprintf(stderr, "vsp attach: too many traps\n");
			return -ENOSPC;
		}
		t->site = &mon_site_user;
		t->key = ev->k;
		t->name = ev->k->name;
		t->call = ev->call;
		t->path_arg = ev->call ? vsp_call_path_arg(ev->call) : -1;
		t->gen = m->gen;
		t->uhelp = MU_FUNC;
		/* User code is another process's: never read it from here
		 * (user_leave compares it at a hit, in the process). */
		t->checked = true;
		int rc = m->be.ops->trap_add(&m->be, addr);
		if (rc < 0) {
			t->role = MON_T_FREE;
			fprintf(stderr, "vsp attach: cannot trap %s at 0x%" PRIx64
				": %s\n", ev->k->name, addr,
				vsp_backend_error(&m->be, rc));
			return rc;
		}
		m->installed++;
	} else if (t && (t->site != &mon_site_user || t->uhelp != MU_FUNC)) {
		fprintf(stderr, "vsp attach: warning: user address 0x%" PRIx64
			" holds another trap; %s not trapped there\n", addr,
			ev ? ev->k->name : "?");
		return 0;
	}
	struct mu_map *p = &u->map[u->nmap++];
	memset(p, 0, sizeof *p);
	p->mm = mm;
	p->pgd = pgd;
	p->addr = addr;
	p->ev = ev;
	p->file = f;
	p->pid = pid;
	if (ev) {
		u->placed++;
		mon_say(m, "user trap %s:%s at 0x%" PRIx64 " in pid %" PRId64
			" (mm 0x%" PRIx64 ")", ev->k->lib, ev->k->name, addr, pid,
			mm);
	}
	return 0;
}

/* The breakpoints of user functions no entry uses any more. */
static void mu_sweep(struct mon *m)
{
	struct mon_user *u = m->user;

	for (size_t i = 0; i < m->ntraps; i++) {
		struct mon_trap *t = &m->traps[i];
		if (t->role != MON_T_EVENT || t->site != &mon_site_user ||
		    t->uhelp != MU_FUNC || mu_addr_used(u, t->addr))
			continue;
		int rc = mon_helper_del(m, t);
		if (rc < 0)
			fprintf(stderr, "vsp attach: cannot remove the trap at 0x%"
				PRIx64 ": %s\n", t->addr,
				vsp_backend_error(&m->be, rc));
		u->removed++;
	}
}

/* Removes the entries of mm at addresses in [lo, hi); how many were a
 * function's (not negative ones), and *pid one of their pids. */
static unsigned mu_drop(struct mon_user *u, uint64_t mm, uint64_t lo,
			uint64_t hi, int64_t *pid)
{
	unsigned n = 0, j = 0;

	for (unsigned i = 0; i < u->nmap; i++) {
		const struct mu_map *p = &u->map[i];
		if (p->mm != mm || p->addr < lo || p->addr >= hi) {
			u->map[j++] = *p;
			continue;
		}
		if (p->ev) {
			n++;
			*pid = p->pid;
		}
	}
	u->nmap = j;
	return n;
}

/* Removes every entry of mm and the breakpoints nothing else uses. */
static void mu_forget(struct mon *m, uint64_t mm)
{
	struct mon_user *u = m->user;
	int64_t pid = -1;

	if (!mu_drop(u, mm, 0, UINT64_MAX, &pid))
		return;
	mu_sweep(m);
	mon_say(m, "user traps of pid %" PRId64 " (mm 0x%" PRIx64 ") gone: "
		"its memory is released; %u mapping%s known", pid, mm, u->nmap,
		u->nmap == 1 ? "" : "s");
}

/* ---- a process's mappings ---- */

struct mu_scan {
	struct mon *m;
	uint64_t mm, pgd;
	int64_t pid;
	int rc;
};

/* Does the file of this VMA have the name ev wants? */
static bool mu_name_is(struct mon *m, const struct mu_ev *ev, uint64_t dentry)
{
	char name[VSP_VMA_MAX_PATH];
	const char *lib = ev->k->lib;
	bool path = lib[0] == '/';

	if (vsp_vma_dentry_name(&m->lx, mon_gread, m, dentry, path, name,
				sizeof name) < 0)
		return false;

	return strcmp(name, lib) == 0;
}

/* The rule's function is not in the file a process maps: never silent,
 * since the rule then guards nothing there. */
static void mu_unresolved(struct mon *m, const struct mu_ev *ev, int64_t pid,
			  const struct mu_file *f)
{
	const struct vsp_event_key *k = ev->k;
	const struct vsp_rule_info *ri = NULL;

	if (k->file && k->rule < vsp_policy_nrules(m->p))
		ri = vsp_policy_rule(m->p, k->rule);
	fprintf(stderr, "%s:%d:%d: warning: ", k->file ? k->file : "<policy>",
		k->line, k->col);
	if (ri && ri->named)
		fprintf(stderr, "rule \"%s\": ", ri->name);
	fprintf(stderr, "pid %" PRId64 " maps %s but %s cannot be found in it: "
		"%s; not trapped there\n", pid, k->lib, k->name, f->err);
}

/* One executable file mapping [start, end) at page offset pgoff of file:
 * a trap for each event whose module it is. */
static int mu_vma(struct mon *m, uint64_t mm, uint64_t pgd, int64_t pid,
		  uint64_t start, uint64_t end, uint64_t pgoff, uint64_t file)
{
	struct mon_user *u = m->user;
	uint64_t dentry = 0, mapping = 0;

	if (mon_gread(m, file + m->lx.file_dentry, &dentry, 8) != 8 ||
	    mon_gread(m, file + m->lx.file_mapping, &mapping, 8) != 8 ||
	    !dentry || !mapping || pgoff > (1ull << 40))
		return 0;
	for (unsigned i = 0; i < u->nev; i++) {
		struct mu_ev *ev = &u->ev[i];
		if (!mu_name_is(m, ev, dentry))
			continue;
		struct mu_file *f = mu_file(m, ev, mapping);
		if (!f)
			continue;
		if (!f->ok) {
			if (f->err[0])
				mu_unresolved(m, ev, pid, f);
			f->err[0] = 0;	/* said once a file */
			continue;
		}
		uint64_t lo = pgoff * 4096;
		if (f->foff < lo || f->foff - lo >= end - start)
			continue;	/* another part of the file */
		int rc = mu_place(m, ev, f, mm, pgd, start + (f->foff - lo), pid);
		if (rc < 0 && rc != -ENOSPC)
			return rc;
	}
	return 0;
}

static int mu_scan_vma(void *arg, const struct vsp_vma *v)
{
	struct mu_scan *s = arg;

	if (!(v->flags & MU_VM_EXEC) || !v->file)
		return 0;
	s->rc = mu_vma(s->m, s->mm, s->pgd, s->pid, v->start, v->end, v->pgoff,
		       v->file);
	return s->rc < 0 ? 1 : 0;
}

/* Every executable mapping of task's mm; *mmp gets the mm (0: none). */
static int mu_scan_task(struct mon *m, uint64_t task, uint64_t *mmp)
{
	struct vsp_proc pr;
	struct mu_scan s = { .m = m };
	char err[160];

	*mmp = 0;
	if (vsp_vma_task_mm(&m->lx, mon_gread, m, task, &s.mm) < 0 || !s.mm)
		return 0;
	*mmp = s.mm;
	s.pgd = mu_pgd(m, s.mm);
	if (!s.pgd)
		return 0;
	vsp_linux_proc(&m->lx, mon_gread, m, task, &pr);
	s.pid = pr.pid;
	if (vsp_vma_walk(&m->lx, mon_gread, m, s.mm, mu_scan_vma, &s, err,
			 sizeof err) < 0)
		fprintf(stderr, "vsp attach: warning: pid %" PRId64 "'s memory "
			"map: %s\n", s.pid, err);
	return s.rc < 0 ? s.rc : 0;
}

/* The processes that run now, from init_task along task_struct.tasks. */
static int mu_scan_all(struct mon *m)
{
	uint64_t init, task, mm;

	if (vsp_sym_addr(m->syms, "init_task", &init) < 0)
		return 0;
	task = init;
	for (unsigned n = 0; n < MU_TASKS; n++) {
		int rc = mu_scan_task(m, task, &mm);
		if (rc < 0)
			return rc;
		uint64_t next;
		if (vsp_linux_next_task(&m->lx, mon_gread, m, task, &next) < 0 ||
		    next == init)
			break;
		task = next;
	}
	return 0;
}

/* ---- the kernel helpers: new mappings, released memory ---- */

static int mu_helper(struct mon *m, const struct vsp_event_key *k,
		     const char *sym, int role)
{
	uint64_t addr;

	if (vsp_sym_addr(m->syms, sym, &addr) < 0)
		return 1;
	struct mon_trap *t = mon_trap_at(m, addr);
	if (t)
		return t->site == &mon_site_user && t->uhelp == role ? 0 : 1;
	t = mon_trap_new(m, addr, MON_T_EVENT);
	if (!t)
		return -ENOSPC;
	t->site = &mon_site_user;
	t->key = k;
	t->name = sym;
	t->gen = m->gen;
	t->uhelp = (uint8_t)role;
	mon_trap_check(m, t);
	int rc = m->be.ops->trap_add(&m->be, addr);
	if (rc < 0) {
		t->role = MON_T_FREE;
		fprintf(stderr, "vsp attach: cannot trap %s at 0x%" PRIx64 ": %s\n",
			sym, addr, vsp_backend_error(&m->be, rc));
		return rc;
	}
	mon_say(m, "trap %s at 0x%" PRIx64 " (user mappings)", sym, addr);
	return 0;
}

static int mu_init(struct mon *m, const struct vsp_event_key *k)
{
	uint64_t a;
	const char *why = NULL;

	if (!m->have_lx || !m->lx.have_mm || !m->lx.have_tasks ||
	    !m->lx.have_pcache || !m->lx.have_current)
		why = "the guest kernel's BTF does not give its processes' "
		      "memory maps and page cache";
	if (!why && !m->syms)
		why = "no kernel symbols";
	if (why) {
		vsp_support_refuse(stderr, m->p, k, m->be.ops, why);
		return 1;
	}
	if (!m->user) {
		m->user = calloc(1, sizeof *m->user);
		if (!m->user)
			return -ENOMEM;
		m->user->gen = m->gen;
		/* VSP_USER_EMULATE=0: every allowed call stepped, to measure
		 * what the emulation saves (tests/guest/measure.sh). */
		const char *env = getenv("VSP_USER_EMULATE");
		m->user->no_emulate = env && strcmp(env, "0") == 0;
	}
	struct mon_user *u = m->user;
	if (!u->pc.lx) {
		u->pc.lx = &m->lx;
		u->pc.read = mon_gread;
		u->pc.ctx = m;
		if (vsp_sym_addr(m->syms, "page_offset_base", &a) < 0 ||
		    mon_gread(m, a, &u->pc.page_offset, 8) != 8 ||
		    vsp_sym_addr(m->syms, "vmemmap_base", &a) < 0 ||
		    mon_gread(m, a, &u->pc.vmemmap, 8) != 8 ||
		    u->pc.page_offset < MU_KERNEL_HALF ||
		    u->pc.vmemmap < MU_KERNEL_HALF) {
			u->pc.lx = NULL;
			vsp_support_refuse(stderr, m->p, k, m->be.ops,
					   "cannot read page_offset_base and "
					   "vmemmap_base");
			return 1;
		}
	}
	return 0;
}

/* A new policy (a session's load): what the old one placed goes, since
 * its events' keys go with it; the new one's setup places its own. */
static void mu_reset(struct mon *m)
{
	struct mon_user *u = m->user;

	for (size_t i = 0; i < m->ntraps; i++) {
		struct mon_trap *t = &m->traps[i];
		if (t->role != MON_T_EVENT || t->site != &mon_site_user)
			continue;
		int rc = mon_helper_del(m, t);
		if (rc < 0)
			fprintf(stderr, "vsp attach: cannot remove the trap at 0x%"
				PRIx64 ": %s\n", t->addr,
				vsp_backend_error(&m->be, rc));
	}
	u->nev = u->nmap = 0;
	u->helpers = false;
	u->cur = NULL;
	u->gen = m->gen;
}

static int user_setup(struct mon *m, const struct vsp_event_key *k)
{
	if (m->dry)
		return 0;
	if (m->user && m->user->gen != m->gen)
		mu_reset(m);
	int rc = mu_init(m, k);
	if (rc)
		return rc;
	struct mon_user *u = m->user;
	if (u->nev == MU_EVS) {
		vsp_support_refuse(stderr, m->p, k, m->be.ops,
				   "too many user-space function events");
		return 1;
	}
	struct mu_ev *ev = &u->ev[u->nev++];
	memset(ev, 0, sizeof *ev);
	ev->k = k;
	ev->call = vsp_userfn_by_name(k->name);
	if (!u->helpers) {
		uint64_t a;
		if ((rc = mu_helper(m, k, "perf_event_mmap", MU_H_MMAP)) != 0 ||
		    (rc = mu_helper(m, k, "exit_mmap", MU_H_EXIT)) != 0 ||
		    (vsp_sym_addr(m->syms, "unmap_region", &a) == 0 &&
		     (rc = mu_helper(m, k, "unmap_region", MU_H_UNMAP)) < 0)) {
			if (rc > 0)
				vsp_support_refuse(stderr, m->p, k, m->be.ops,
						   "cannot trap the kernel's mapping "
						   "path (perf_event_mmap, exit_mmap)");
			u->nev--;
			return rc;
		}
		u->helpers = true;
	}
	/* The processes that mapped it before vsp came (the events placed
	 * already are found placed). */
	rc = mu_scan_all(m);
	return rc < 0 ? rc : 0;
}

/* perf_event_mmap(vma): a mapping complete; ours if executable and of a
 * module a rule names. */
static int mu_on_mmap(struct mon *m, struct mon_trap *t)
{
	const struct vsp_linux *lx = &m->lx;
	uint64_t vma = m->regs.rdi;
	uint8_t blk[256];
	uint32_t top = lx->vma_start;

	const uint32_t offs[] = { lx->vma_end, lx->vma_mm, lx->vma_flags,
				  lx->vma_pgoff, lx->vma_file };
	for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++)
		if (offs[i] > top)
			top = offs[i];
	if (top + 8 <= sizeof blk && vma >= MU_KERNEL_HALF &&
	    mon_gread(m, vma, blk, top + 8) == (long)top + 8) {
		uint64_t st, en, mm, fl, pg, file;
		memcpy(&st, blk + lx->vma_start, 8);
		memcpy(&en, blk + lx->vma_end, 8);
		memcpy(&mm, blk + lx->vma_mm, 8);
		memcpy(&fl, blk + lx->vma_flags, 8);
		memcpy(&pg, blk + lx->vma_pgoff, 8);
		memcpy(&file, blk + lx->vma_file, 8);
		if ((fl & MU_VM_EXEC) && mm && st < en && en <= MON_USER_TOP) {
			uint64_t pgd = mu_pgd(m, mm);
			/* The mapping process, for messages. */
			m->proc_loaded = m->task_loaded = false;
			mon_win_drop(m);
			m->ev.proc.pid = -1;
			mon_load_proc(m);
			int64_t pid = m->ev.proc.pid;
			/* What the process knew there is gone (unmapped, by
			 * dlclose or munmap, before this took its place): new
			 * code at the address is not the function's. */
			int64_t was = -1;
			if (mu_drop(m->user, mm, st, en, &was)) {
				mu_sweep(m);
				mon_say(m, "user traps of pid %" PRId64 " in "
					"[0x%" PRIx64 ", 0x%" PRIx64 ") gone: "
					"mapped anew", pid, st, en);
			}
			if (pgd && file) {
				int rc = mu_vma(m, mm, pgd, pid, st, en, pg, file);
				if (rc < 0 && rc != -ENOSPC)
					return rc;
			}
		}
	}
	return mon_leave(m, t);
}

/*
 * unmap_region(mm, mt, vma, prev, next, start, end) (Linux 6.1 to 6.6):
 * [start, end) is unmapped for good, its VMAs detached.  end is the
 * seventh argument, on the stack.  Only an mm with entries and a range
 * that holds up (page-aligned, in user space) drops any: a kernel whose
 * unmap_region takes other arguments drops nothing, and its traps go at
 * the next mapping there or at exit as before.
 */
static int mu_on_unmap(struct mon *m, struct mon_trap *t)
{
	struct mon_user *u = m->user;
	uint64_t mm = m->regs.rdi, st = m->regs.r9, en = 0;
	bool known = false;

	for (unsigned i = 0; i < u->nmap && !known; i++)
		known = u->map[i].mm == mm;
	if (known && !(st & 0xfff) && st < MON_USER_TOP &&
	    vsp_gread_all(mon_gread, m, m->regs.rsp + 8, &en, 8) == 0 &&
	    !(en & 0xfff) && st < en && en <= MON_USER_TOP) {
		int64_t pid = -1;
		if (mu_drop(u, mm, st, en, &pid)) {
			mu_sweep(m);
			mon_say(m, "user traps of pid %" PRId64 " in [0x%" PRIx64
				", 0x%" PRIx64 ") gone: unmapped; %u mapping%s "
				"known", pid, st, en, u->nmap,
				u->nmap == 1 ? "" : "s");
		}
	}
	return mon_leave(m, t);
}

static int mu_on_exit(struct mon *m, struct mon_trap *t)
{
	mu_forget(m, m->regs.rdi);
	return mon_leave(m, t);
}

/* A process at the address that vsp has not seen map anything: look at
 * its map once, through the current task. */
static struct mu_map *mu_learn(struct mon *m, struct mon_trap *t)
{
	struct mon_user *u = m->user;
	uint64_t mm = 0;

	m->proc_loaded = m->task_loaded = false;
	mon_win_drop(m);
	m->ev.proc.pid = -1;
	mon_load_proc(m);
	if (m->task)
		mu_scan_task(m, m->task, &mm);
	struct mu_map *p = mu_find(u, m->regs.cr3, t->addr);
	if (!p && mm) {
		uint64_t pgd = mu_pgd(m, mm);
		if (pgd && (m->regs.cr3 & MU_CR3_MASK) >= pgd &&
		    (m->regs.cr3 & MU_CR3_MASK) <= pgd + MU_PTI_USER &&
		    mu_place(m, NULL, NULL, mm, pgd, t->addr, m->ev.proc.pid) == 0)
			p = mu_find(u, m->regs.cr3, t->addr);
	}
	return p;
}

/* ---- the event ---- */

static int user_fetch(void *ctx, struct vsp_event *ev, enum vsp_field f,
		      struct vsp_str *out)
{
	return mon_args_fetch(ctx, ev, f, out, false);
}

static bool user_fill(struct mon *m, struct mon_trap *t, int *rc)
{
	struct mon_user *u = m->user;

	m->ev.kind = VSP_EV_KIND_COUNT;	/* no event, unless filled below */
	if (!u) {
		*rc = mon_leave(m, t);
		return false;
	}
	if (t->uhelp != MU_FUNC) {
		*rc = t->uhelp == MU_H_MMAP ? mu_on_mmap(m, t) :
			t->uhelp == MU_H_EXIT ? mu_on_exit(m, t) :
			mu_on_unmap(m, t);
		if (*rc >= 0)
			*rc = MON_GO_ON;
		return false;
	}
	struct mu_map *p = mu_find(u, m->regs.cr3, t->addr);
	if (!p)
		p = mu_learn(m, t);
	if (!p || !p->ev) {
		/* Another process's code at this address: not ours. */
		u->foreign++;
		*rc = mon_leave(m, t);
		if (*rc >= 0)
			*rc = MON_GO_ON;
		return false;
	}
	u->cur = p;
	t->key = p->ev->k;
	t->name = p->ev->k->name;
	t->call = p->ev->call;
	t->path_arg = t->call ? vsp_call_path_arg(t->call) : -1;
	const uint64_t r[6] = { m->regs.rdi, m->regs.rsi, m->regs.rdx,
				m->regs.rcx, m->regs.r8, m->regs.r9 };
	mon_code_begin(m, t, user_fetch);
	m->ev.lib = t->key->lib;
	for (int i = 0; i < 6; i++)
		m->ev.args[i] = (int64_t)r[i];
	m->args_loaded = true;
	mon_event_proc(m, t->key);
	return true;
}

void mon_user_account(struct mon *m, const struct mon_trap *t, uint64_t rt,
		      uint64_t ns)
{
	struct mon_user *u = m->user;

	if (!u)
		return;
	if (t->uhelp == MU_FUNC) {
		u->fn_hits++;
		u->fn_rt += rt;
		u->fn_ns += ns;
	} else {
		u->map_hits++;
		u->map_rt += rt;
		u->map_ns += ns;
	}
}

void mon_user_stats(const struct mon *m, FILE *out)
{
	const struct mon_user *u = m->user;

	if (!u || !(u->fn_hits || u->map_hits))
		return;
	fprintf(out, "user calls:         %" PRIu64 " trapped", u->fn_hits);
	if (u->fn_hits)
		fprintf(out, ", %.2f round trips, %.2f ms each",
			(double)u->fn_rt / (double)u->fn_hits,
			(double)u->fn_ns / 1e6 / (double)u->fn_hits);
	fprintf(out, " (%" PRIu64 " from processes with other code there); "
		"mapping traps %" PRIu64, u->foreign, u->map_hits);
	if (u->map_hits)
		fprintf(out, ", %.2f round trips, %.2f ms each",
			(double)u->map_rt / (double)u->map_hits,
			(double)u->map_ns / 1e6 / (double)u->map_hits);
	fprintf(out, "; placed %" PRIu64 ", removed %" PRIu64 "\n", u->placed,
		u->removed);
	if (u->emulated || u->stepped)
		fprintf(out, "user calls allowed: %" PRIu64 " left by running "
			"their first instruction in vsp, %" PRIu64 " by a step"
			" (%" PRIu64 " where the process's code could not be "
			"read or was not its file's)\n", u->emulated, u->stepped,
			u->unlike);
	if (u->tampered)
		fprintf(out, "user traps rewritten by their process: %" PRIu64
			" (alerts; stepped from then on)\n", u->tampered);
}

const struct mon_site mon_site_user = {
	.kind = VSP_EV_USER,
	.label = "user function %s",
	.kernel_code = true,	/* its helpers are kernel functions */
	.lacks = user_lacks,
	.setup = user_setup,
	.fill = user_fill,
	.apply = {
		.ret = mu_ret,
		.deny = mu_deny,
		.kill = mu_kill,
		.leave = mu_leave,
	},
};
