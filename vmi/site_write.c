/*
 * site_write.c: writes to guest kernel data (`on write SYM[LO..HI]`),
 * through the backend's write watchpoints (vmi/watch.h).
 *
 * Setup finds the object in the guest's symbols (its size is the
 * distance to the next symbol, or the 8-byte elements LO..HI the rule
 * names) and watches it, at its address and at its direct-map alias, with
 * a shadow copy so that `old` is exact.  The
 * stub stops after a write with every vCPU stopped; the changed span
 * becomes the event (addr, offset, len, value, old) with the writer's
 * process and kernel call path.  deny and return put the old bytes back
 * before any vCPU runs on; an allowed write moves the shadow.
 *
 * A kernel that copies a string byte by byte (proc_dostring, behind
 * /proc/sys/kernel/modprobe) stops once per changed byte.  The stops of
 * one writer (the same kernel stack, the same function) at rising
 * offsets of one object are one write: decided at its first changed
 * byte, its later bytes take that verdict (put back one by one under
 * deny) without a decision or record of their own.  Tables (NAME[LO..HI])
 * are never folded: each element written is its own event.
 *
 * kill cannot end the writer where it stands (inside the kernel, in the
 * middle of a function, maybe under a lock): the write is undone as for
 * deny, and the writer's task is ended on its way back to user space.  A
 * trap at syscall_exit_to_user_mode waits for it (while any kill is
 * pending, no longer): there the system call is over, nothing is held,
 * and the entry becomes a tail call of do_group_exit(SIGKILL), as a
 * syscall's kill is.  A write by an interrupt, a softirq or a kernel
 * thread has no such way back; it is undone, and the record says
 * "applied":false with the reason.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmi/mon.h"
#include "vmi/vma.h"

#define WR_STACK_SHIFT 14	/* THREAD_SIZE on x86-64: one kernel stack */
#define WR_RUN_NS 2000000000ull	/* a write's stops come closer than this */
#define WR_KILL_NS 10000000000ull	/* a writer returns long before this */

/* Where the rule's bytes are: 0, or -1 with the reason in buf. */
static int write_span(const struct mon *m, const struct vsp_event_key *k,
		      uint64_t *sym, uint64_t *addr, uint64_t *len, char *buf,
		      size_t n)
{
	uint64_t size = 0;

	if (vsp_sym_lookup(m->syms, k->name, sym, &size) < 0) {
		snprintf(buf, n, "the guest kernel's symbols have no %s",
			 k->name);
		return -1;
	}
	if (k->lo >= 0) {
		if (k->hi < k->lo || (uint64_t)(k->hi - k->lo) >=
		    VSP_WATCH_MAX_BYTES / 8) {
			snprintf(buf, n, "elements %" PRId64 "..%" PRId64 " are "
				 "more than vsp watches in one object (%d bytes)",
				 k->lo, k->hi, VSP_WATCH_MAX_BYTES);
			return -1;
		}
		*addr = *sym + (uint64_t)k->lo * 8;
		*len = (uint64_t)(k->hi - k->lo + 1) * 8;
		return 0;
	}
	*addr = *sym;
	*len = size ? size : 8;
	if (*len > VSP_WATCH_MAX_BYTES) {
		snprintf(buf, n, "%s is %" PRIu64 " bytes up to the next symbol, "
			 "more than vsp watches in one object (%d); name "
			 "elements with [LO..HI]", k->name, *len,
			 VSP_WATCH_MAX_BYTES);
		return -1;
	}
	return 0;
}

static const char *write_lacks(const struct mon *m,
			       const struct vsp_event_key *k, char *buf,
			       size_t n)
{
	uint64_t sym, addr, len;

	if (!m->syms)
		return NULL;	/* asked again once the guest's are read */
	return write_span(m, k, &sym, &addr, &len, buf, n) < 0 ? buf : NULL;
}

/* How many watchpoints the policy's objects hold so far. */
static uint32_t write_wps(const struct mon *m)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < m->ws.n; i++)
		n += m->ws.r[i].nwp;
	return n;
}

/*
 * The direct map shows all of physical memory, the kernel image's data
 * too: an attacker with a kernel write primitive can change modprobe_path
 * at lm_alias(&modprobe_path) and pass a watchpoint on the image's own
 * address.  Where that alias is (__va(__pa_symbol(va))), from the running
 * kernel's phys_base and page_offset_base; 0 when va is not in the image
 * or they cannot be read.  vsp_watch_alias checks the bytes there.
 */
#define WR_KERNEL_MAP 0xffffffff80000000ull	/* __START_KERNEL_map */
#define WR_PAGE_OFFSET 0xffff888000000000ull	/* without page_offset_base */
static uint64_t write_alias(struct mon *m, uint64_t va)
{
	uint64_t a, phys_base, base = WR_PAGE_OFFSET;

	if (va < WR_KERNEL_MAP || !m->syms ||
	    vsp_sym_addr(m->syms, "phys_base", &a) < 0 ||
	    m->be.ops->read(&m->be, m->vcpu, a, &phys_base, 8) != 8)
		return 0;
	if (vsp_sym_addr(m->syms, "page_offset_base", &a) == 0 &&
	    m->be.ops->read(&m->be, m->vcpu, a, &base, 8) != 8)
		return 0;
	return base + (va - WR_KERNEL_MAP) + phys_base;
}

static int write_setup(struct mon *m, const struct vsp_event_key *k)
{
	uint64_t sym, addr, len;
	char why[256], what[200];

	if (write_span(m, k, &sym, &addr, &len, why, sizeof why) < 0) {
		if (m->dry)
			return 0;
		vsp_support_refuse(stderr, m->p, k, m->be.ops, why);
		return 1;
	}
	if (m->dry)
		return 0;	/* watchpoints are not code: nothing to verify */
	uint32_t before = write_wps(m);
	if (vsp_watch_place(&m->ws, &m->be, m->vcpu, k, sym, addr, len, what,
			    sizeof what) < 0) {
		if (before)
			snprintf(why, sizeof why, "%s, after the %u the policy's "
				 "other objects hold", what, before);
		else
			snprintf(why, sizeof why, "%s", what);
		vsp_support_refuse(stderr, m->p, k, m->be.ops, why);
		return 1;
	}
	uint32_t i = m->ws.n - 1;
	m->walias_done &= ~(1ull << i);
	struct mon_trap *t = &m->wtrap[i];
	memset(t, 0, sizeof *t);
	t->addr = addr;
	t->role = MON_T_EVENT;
	t->site = &mon_site_write;
	t->key = k;
	t->name = k->name;
	t->path_arg = -1;
	t->gen = m->gen;
	m->installed++;
	mon_say(m, "watch %s at 0x%" PRIx64 ", %" PRIu64 " bytes, in %u write "
		"watchpoint%s", k->name, addr, len, m->ws.r[i].nwp,
		m->ws.r[i].nwp == 1 ? "" : "s");
	if (m->have_integ)
		mon_write_aliases(m);
	return 0;
}

/*
 * Every watched object at its direct-map alias too, once the kernel has
 * booted (before, phys_base and page_offset_base still hold their
 * build-time values): called when the boot is over (mon_integ_start) and
 * for objects placed after it.  Once per object; one that cannot be is
 * named in a warning.
 */
void mon_write_aliases(struct mon *m)
{
	for (uint32_t i = 0; i < m->ws.n; i++) {
		const struct vsp_wrange *r = &m->ws.r[i];
		char why[256];

		if (m->walias_done & (1ull << i))
			continue;
		m->walias_done |= 1ull << i;
		uint64_t alias = write_alias(m, r->addr);
		if (!alias)
			snprintf(why, sizeof why, "its direct-map alias cannot "
				 "be found");
		else if (vsp_watch_alias(&m->ws, &m->be, m->vcpu, i, alias, why,
					 sizeof why) == 0) {
			mon_say(m, "watch %s: and at its direct-map alias 0x%"
				PRIx64 " (%u write watchpoint%s in all)",
				r->key->name, alias, r->nwp,
				r->nwp == 1 ? "" : "s");
			continue;
		}
		fprintf(stderr, "vsp attach: warning: %s: %s: a write through "
			"another mapping of it is not seen\n", r->key->name, why);
	}
}

static bool write_fill(struct mon *m, struct mon_trap *t, int *rc)
{
	const struct vsp_whit *h = &m->whit;
	struct vsp_event *ev = &m->ev;

	(void)rc;
	mon_code_begin(m, t, mon_code_fetch);
	ev->addr = h->addr;
	ev->offset = h->offset;
	ev->len = h->len;
	ev->value = h->value;
	ev->old = h->old;
	m->args_loaded = true;
	mon_code_end(m, t);
	/* The record names the writer: its call path whenever one is
	 * written, not only when a rule reads it. */
	if (!ev->has_stack && m->uw && m->have_audit) {
		vsp_unwind(m->uw, &m->regs, mon_gread, m, &m->cp);
		if (m->cp.n)
			vsp_callpath_to_event(&m->cp, ev);
	}
	return true;
}

static int write_undo(struct mon *m)
{
	m->wdone = true;
	return vsp_watch_restore(&m->ws, &m->be, m->vcpu, &m->whit);
}

static void write_ret(struct mon *m, struct mon_trap *t, int64_t value,
		      struct mon_apply *a)
{
	(void)t, (void)value;
	a->rc = write_undo(m) < 0 ? -EFAULT : 0;
	a->applied = a->rc == 0;
	if (a->rc)
		a->why = "the old bytes could not be written back";
}

/* Marks the writer for its end at the way back to user space: NULL, or
 * why it cannot be. */
static const char *write_kill_later(struct mon *m)
{
	uint64_t base = vsp_linux_percpu_base(m->regs.gs_base,
					      m->regs.kernel_gs_base), mm = 0;

	if (!m->fn_sys_exit || !m->fn_group_exit || !m->have_lx)
		return "this kernel's way back to user space is not known";
	int in_task = vsp_linux_in_task(&m->lx, mon_gread, m, base);
	if (in_task < 0)
		return "whether an interrupt wrote cannot be told";
	if (!in_task)
		return "an interrupt wrote";
	mon_load_task(m);
	if (!m->task ||
	    vsp_vma_task_mm(&m->lx, mon_gread, m, m->task, &mm) < 0)
		return "the writer's task cannot be read";
	if (!mm)
		return "a kernel thread wrote";
	uint32_t i = 0;
	while (i < m->nwkill && m->wkill[i].task != m->task)
		i++;
	if (i == MON_WKILL)
		return "too many writers wait to be killed";
	if (!m->wexit) {
		m->wexit = mon_helper_add(m, m->fn_sys_exit, MON_T_WEXIT);
		if (!m->wexit)
			return "no trap could be placed on the way back to "
			       "user space";
	}
	m->wkill[i].task = m->task;
	m->wkill[i].since = vsp_now_ns();
	/* A copy: a policy loaded meanwhile frees the event's name. */
	snprintf(m->wkill[i].obj, sizeof m->wkill[i].obj, "%s", m->ev.name);
	if (i == m->nwkill)
		m->nwkill++;
	return NULL;
}

static void write_kill(struct mon *m, struct mon_trap *t, struct mon_apply *a)
{
	(void)t;
	a->rc = 0;
	if (write_undo(m) < 0) {
		a->applied = false;
		a->why = "the old bytes could not be written back";
		return;
	}
	const char *why = write_kill_later(m);
	a->applied = !why;
	if (why) {
		snprintf(m->why_not, sizeof m->why_not, "%s: the write was "
			 "undone, its writer not killed", why);
		a->why = m->why_not;
	}
}

static void write_unmark(struct mon *m, uint32_t i)
{
	m->wkill[i] = m->wkill[--m->nwkill];
}

/*
 * A task on its way back to user space, while writers wait to be killed:
 * one of them ends here, the others go on.  Waits longer than WR_KILL_NS
 * are dropped (the writer died otherwise, and its task_struct may be
 * another task's by now); the trap goes with the last.
 */
int mon_on_writer_exit(struct mon *m, struct mon_trap *t)
{
	int rc = m->be.ops->regs_get(&m->be, m->vcpu, &m->regs);
	if (rc < 0)
		return rc;
	uint64_t now = vsp_now_ns();
	m->proc_loaded = m->task_loaded = false;
	mon_load_task(m);
	int hit = -1;
	char obj[64] = "?";
	for (uint32_t i = 0; i < m->nwkill && m->task; i++)
		if (m->wkill[i].task == m->task) {
			snprintf(obj, sizeof obj, "%s", m->wkill[i].obj);
			write_unmark(m, i);
			hit = 0;
			break;
		}
	/* Then the waits that are over, the slots moving under the scan. */
	for (uint32_t i = m->nwkill; i-- > 0;)
		if (now - m->wkill[i].since > WR_KILL_NS)
			write_unmark(m, i);
	if (hit < 0) {
		if (!m->nwkill) {
			mon_helper_del(m, t);
			m->wexit = NULL;
			struct vsp_resume r = { .how = VSP_RESUME_CONTINUE };
			return m->be.ops->resume(&m->be, m->vcpu, &r);
		}
		return mon_leave(m, t);
	}
	if (!m->nwkill) {
		mon_helper_del(m, t);
		m->wexit = NULL;
	}
	mon_load_proc(m);
	struct mon_apply a = { 0 };
	mon_kill(m, m->fn_group_exit, &a);
	char msg[200];
	snprintf(msg, sizeof msg, "%s (pid %" PRId64 ") killed on its way back "
		 "to user space, for its write of %s", m->ev.proc.comm,
		 m->ev.proc.pid, obj);
	if (a.rc == 0)
		mon_alert_note(m, "kernel", "syscall_exit_to_user_mode", t->addr,
			       msg);
	return a.rc;
}

/* The write stands unless a verdict undid it: the shadow follows it.
 * Before the guest runs: its memory can only be read while stopped. */
static void write_keep(struct mon *m)
{
	if (!m->wdone &&
	    vsp_watch_accept(&m->ws, &m->be, m->vcpu, &m->whit) < 0)
		fprintf(stderr, "vsp attach: %s: cannot read the new contents\n",
			m->ev.name);
}

static int write_leave(struct mon *m, struct mon_trap *t)
{
	(void)t;
	write_keep(m);
	struct vsp_resume r = { .how = VSP_RESUME_CONTINUE };
	return m->be.ops->resume(&m->be, m->vcpu, &r);
}

const struct mon_site mon_site_write = {
	.kind = VSP_EV_WRITE,
	.label = "write %s",
	.kernel_code = true,	/* the objects are found through the symbols */
	.lacks = write_lacks,
	.setup = write_setup,
	.fill = write_fill,
	.apply = {
		.ret = write_ret,
		.kill = write_kill,
		.leave = write_leave,
	},
};

/* The writer: its kernel stack and the function it runs. */
static void write_who(struct mon *m, uint64_t *stack, uint64_t *fn)
{
	uint64_t off = 0;

	*stack = m->regs.rsp >> WR_STACK_SHIFT;
	*fn = m->syms && vsp_sym_at(m->syms, m->regs.rip, &off) ?
	      m->regs.rip - off : m->regs.rip;
}

/* Whether this hit goes on with the write decided last (see the top). */
static bool write_goes_on(const struct mon *m, uint64_t stack, uint64_t fn,
			  uint64_t now)
{
	const struct vsp_wrange *r = &m->ws.r[m->whit.range];

	return m->wrun.on && m->wrun.range == m->whit.range &&
	       !(r->key && r->key->lo >= 0) && m->wrun.stack == stack &&
	       m->wrun.fn == fn && m->whit.offset > m->wrun.offset &&
	       now - m->wrun.ns < WR_RUN_NS;
}

/* A later byte of a decided write: the same verdict, no record. */
static int write_fold(struct mon *m, uint64_t now)
{
	int rc = 0;

	m->watch_folded++;
	m->wrun.offset = m->whit.offset;
	m->wrun.ns = now;
	if (m->wrun.undo && m->mode == VSP_MODE_ENFORCE)
		rc = write_undo(m);
	else
		write_keep(m);
	if (rc < 0)
		fprintf(stderr, "vsp attach: %s: the old bytes could not be "
			"written back at offset %" PRIu64 "\n",
			m->ws.r[m->whit.range].key->name, m->whit.offset);
	struct vsp_resume r = { .how = VSP_RESUME_CONTINUE };
	return m->be.ops->resume(&m->be, m->vcpu, &r);
}

int mon_on_watch(struct mon *m, const struct vsp_stop *st)
{
	uint64_t t0 = vsp_now_ns(), rt0 = m->rt_wait;
	int rc;

	m->vcpu = st->vcpu;
	m->wdone = false;
	rc = m->be.ops->regs_get(&m->be, m->vcpu, &m->regs);
	if (rc < 0)
		return rc;
	mon_integrity(m);
	int hit = vsp_watch_hit(&m->ws, &m->be, m->vcpu, st->addr, &m->whit);
	uint64_t stack, fn;
	if (hit > 0)
		write_who(m, &stack, &fn);
	if (hit <= 0) {
		/* The same bytes written again, or nothing of ours. */
		if (hit < 0)
			fprintf(stderr, "vsp attach: a watched object cannot be "
				"read after a write\n");
		struct vsp_resume r = { .how = VSP_RESUME_CONTINUE };
		rc = m->be.ops->resume(&m->be, m->vcpu, &r);
	} else if (write_goes_on(m, stack, fn, t0)) {
		rc = write_fold(m, t0);
	} else {
		struct mon_trap *t = &m->wtrap[m->whit.range];
		m->wrun.on = false;
		m->watch_events++;
		if (t->site->fill(m, t, &rc))
			rc = mon_decide(m, t, t->site);
		if (rc == MON_PAUSED)
			write_keep(m);	/* the guest stays stopped after it */
		else if (rc >= 0) {
			m->wrun.on = true;
			m->wrun.range = m->whit.range;
			m->wrun.stack = stack;
			m->wrun.fn = fn;
			m->wrun.offset = m->whit.offset;
			m->wrun.ns = t0;
			m->wrun.undo = m->wdone;
		}
		if ((unsigned)m->ev.kind < VSP_EV_KIND_COUNT)
			m->rs.kind_events[m->ev.kind]++;
	}
	m->watch_hits++;
	m->rt_in_watch += m->be.round_trips - rt0;
	m->watch_ns += vsp_now_ns() - t0;
	return rc;
}

/*
 * Before a detach: a denied write whose bytes still come (a string copied
 * byte by byte) is followed to its end, so that leaving does not let its
 * later bytes land over the old value.  The guest runs; its stops are
 * handled as in the loop until it is quiet for WR_SETTLE_MS, at most
 * WR_RUN_NS.  0, or a negative code (the guest is lost).
 */
#define WR_SETTLE_MS 300
int mon_write_settle(struct mon *m)
{
	uint64_t t0 = vsp_now_ns();

	while (m->wrun.on && m->wrun.undo && m->mode == VSP_MODE_ENFORCE &&
	       vsp_now_ns() - m->wrun.ns < WR_RUN_NS &&
	       vsp_now_ns() - t0 < WR_RUN_NS) {
		struct vsp_stop st;
		m->rt_wait = m->be.round_trips;
		int rc = m->be.ops->wait(&m->be, &st, WR_SETTLE_MS);
		if (rc == -EINTR)
			continue;
		if (rc < 0)
			return rc;
		if (st.kind == VSP_STOP_TIMEOUT)
			return 0;
		if (st.kind == VSP_STOP_EXITED)
			return -ENOTCONN;
		if (st.kind == VSP_STOP_WATCH)
			rc = mon_on_watch(m, &st);
		else if (st.kind == VSP_STOP_TRAP)
			rc = mon_on_trap(m, &st);
		else {
			struct vsp_resume r = { .how = VSP_RESUME_CONTINUE };
			rc = m->be.ops->resume(&m->be, st.vcpu, &r);
		}
		if (rc < 0)
			return rc;
		if (rc == MON_PAUSED)
			return MON_PAUSED;
	}
	return 0;
}
