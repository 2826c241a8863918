/*
 * monitor.c: the attach loop (see monitor.h and, for how the monitor is
 * split, vmi/mon.h).
 *
 * Attach, find the guest kernel (symbols, BTF, the KASLR slide), place
 * the traps each event's site asks for, then wait for stops and hand
 * each to the trap table (vmi/decide.c decides at event traps), until the
 * guest ends, a signal arrives, the link is lost or the session detaches.
 */
#include "vmi/mon.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


volatile sig_atomic_t mon_signal;

static void mon_on_signal(int sig)
{
	mon_signal = sig;
}

void mon_say(struct mon *m, const char *fmt, ...)
{
	if (m->o->quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("vsp attach: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Forgets every window: guest memory may have changed since. */
void mon_win_drop(struct mon *m)
{
	for (int i = 0; i < MON_NWIN; i++)
		m->win[i].len = 0;
}

static struct mon_win *mon_win_of(struct mon *m, uint64_t gva, size_t len)
{
	for (int i = 0; i < MON_NWIN; i++) {
		struct mon_win *w = &m->win[i];
		if (w->len && gva >= w->base && gva + len <= w->base + w->len)
			return w;
	}
	return NULL;
}

/* The next window to fill, placed for gva: how much it asks for. */
static struct mon_win *mon_win_place(struct mon *m, uint64_t gva, size_t len,
				     size_t *want)
{
	struct mon_win *w = &m->win[m->win_next];
	m->win_next = (m->win_next + 1) % MON_NWIN;
	w->len = 0;
	w->base = gva & ~(uint64_t)63;
	*want = MON_WIN;
	/* Stay in the page: the next one may be unmapped. */
	size_t to_page = 4096 - (size_t)(w->base & 4095);
	if (*want > to_page && gva + len <= w->base + to_page)
		*want = to_page;
	return w;
}

/* Guest reads for vmi/linux.c, vmi/kaslr.c and vmi/unwind.c.  While the
 * process context is read, small reads go through a few windows: the
 * fields of a task_struct lie close together, and each guest read is a
 * round trip that the stopped guest waits for. */
long mon_gread(void *ctx, uint64_t gva, void *buf, size_t len)
{
	struct mon *m = ctx;
	if (!m->win_on || len > MON_WIN / 2)
		return m->be.ops->read(&m->be, m->vcpu, gva, buf, len);
	struct mon_win *w = mon_win_of(m, gva, len);
	if (w) {
		memcpy(buf, w->data + (gva - w->base), len);
		return (long)len;
	}
	size_t want;
	w = mon_win_place(m, gva, len, &want);
	long n = m->be.ops->read(&m->be, m->vcpu, w->base, w->data, want);
	w->len = n > 0 ? (size_t)n : 0;
	if (w->len && gva + len <= w->base + w->len) {
		memcpy(buf, w->data + (gva - w->base), len);
		return (long)len;
	}
	w->len = 0;
	return m->be.ops->read(&m->be, m->vcpu, gva, buf, len);
}

/* Batched guest reads for vmi/kprofile.c: one round trip a batch where
 * the backend batches reads, one read each otherwise. */
int mon_gread_many(void *ctx, struct vsp_read *r, size_t n)
{
	struct mon *m = ctx;
	if (m->be.ops->read_many)
		return m->be.ops->read_many(&m->be, m->vcpu, r, n);
	for (size_t i = 0; i < n; i++)
		r[i].got = m->be.ops->read(&m->be, m->vcpu, r[i].gva, r[i].buf,
					   r[i].len);
	return 0;
}

/*
 * Fills windows for the small reads at gva[0..n) (8 bytes each) that a
 * site knows it will make, in one round trip where the backend batches
 * reads: the objects of a hook event lie apart (the task, its fs, the
 * file, the dentry) and each would otherwise be a round trip of its own.
 * What cannot be batched is left for mon_gread to read when asked.
 */
void mon_gread_ahead(struct mon *m, const uint64_t *gva, size_t n)
{
	struct vsp_read r[MON_NWIN];
	struct mon_win *fill[MON_NWIN];
	size_t k = 0;

	if (!m->be.ops->read_many)
		return;
	for (size_t i = 0; i < n && k < MON_NWIN; i++) {
		if (gva[i] < 0xff00000000000000ull || mon_win_of(m, gva[i], 8))
			continue;
		bool dup = false;
		for (size_t j = 0; j < k && !dup; j++)
			dup = gva[i] >= r[j].gva && gva[i] + 8 <= r[j].gva + r[j].len;
		if (dup)
			continue;
		size_t want;
		fill[k] = mon_win_place(m, gva[i], 8, &want);
		r[k] = (struct vsp_read){ fill[k]->base, fill[k]->data, want, 0 };
		k++;
	}
	if (k == 0 || m->be.ops->read_many(&m->be, m->vcpu, r, k) < 0)
		return;
	for (size_t j = 0; j < k; j++)
		fill[j]->len = r[j].got > 0 ? (size_t)r[j].got : 0;
}

/*
 * Refuses, before any trap goes in, every event of `p` that cannot be
 * trapped here (vmi/support.h): a kind the backend never traps or the
 * monitor has no site for, and what this guest lacks for the event (its site
 * says: a syscall without a handler, a kernel function without a symbol,
 * a hypercall without a hypercall page).  Returns how many were refused;
 * each is reported on `out` with its rule's location.
 */
int mon_refusals(const struct mon *m, const struct vsp_policy *p, FILE *out)
{
	int n = 0;
	for (uint32_t i = 0; i < vsp_policy_nevents(p); i++) {
		const struct vsp_event_key *k = vsp_policy_event(p, i);
		const struct mon_site *s = mon_site_of(k->kind);
		char buf[200];
		const char *why = vsp_support_why(m->be.ops, k);
		if (!why && s && s->lacks)
			why = s->lacks(m, k, buf, sizeof buf);
		if (!why && m->uw_tried && (!m->uw || m->uw_bad) &&
		    (k->reads & VSP_FBIT(VSP_F_STACK))) {
			snprintf(buf, sizeof buf, "its rules read the call path "
				 "(must arise from) and no call paths can be "
				 "rebuilt here: %.90s", m->uw_err);
			why = buf;
		}
		if (why) {
			vsp_support_refuse(out, p, k, m->be.ops, why);
			n++;
		}
	}
	return n;
}

/* Whether a rule of the policy reads the call path. */
static bool mon_policy_reads_paths(const struct mon *m)
{
	for (uint32_t i = 0; i < vsp_policy_nevents(m->p); i++)
		if (vsp_policy_event(m->p, i)->reads & VSP_FBIT(VSP_F_STACK))
			return true;
	return false;
}

/* Whether the policy or the mode asks for call paths at all.  A session
 * or a service may load rules that read them later: then too. */
static bool mon_policy_wants_paths(const struct mon *m)
{
	return m->mode == VSP_MODE_LEARN || m->o->record || m->o->interactive ||
	       m->o->hooks || mon_policy_reads_paths(m);
}

/*
 * The unwinder, once the symbols carry the slide.  Its ORC tables come
 * from the vmlinux when one was given, else from the running kernel's
 * memory, and so are the tail jumps between functions (from the kernel
 * text), each read once here (some MiB: only when something asks for call
 * paths).  Tables the guest named but that do not hold up, or text that
 * cannot be read, refuse the attach when rules read the paths, each such
 * rule named (exit 3, as for other kernel data that does not match): a
 * path from a tampered table is no path.  Without any unwinder,
 * mon_refusals refuses the rules that read paths (exit 1).  0, or -EPERM
 * with the message printed.
 */
static int mon_unwinder(struct mon *m)
{
	struct vsp_unwind_opts uo;
	memset(&uo, 0, sizeof uo);
	m->uw_tried = true;
	m->uw = vsp_unwind_new(m->syms, m->img, &uo, m->uw_err, sizeof m->uw_err);
	if (!m->uw || m->img || !mon_policy_wants_paths(m))
		return 0;
	struct vsp_unwind_orc_stats os;
	char err[200];
	uint64_t rt0 = m->be.round_trips;
	const struct vsp_kprof *kp = &m->kprof;
	struct vsp_kprof_reader kr = { kp, vsp_sym_slide(m->syms) };
	bool orc_prof = kp->sec[VSP_KPROF_ORC].data != NULL;
	int rc;
	/* The profile's tables, once windows of them match the guest's. */
	if (orc_prof && ((rc = mon_kprof_check(m, VSP_KPROF_ORC_IP)) < 0 ||
			 (rc = mon_kprof_check(m, VSP_KPROF_ORC)) < 0))
		return rc;
	rc = orc_prof ? vsp_unwind_orc_from_guest(m->uw, vsp_kprof_read, &kr, &os,
						  err, sizeof err)
		      : vsp_unwind_orc_from_guest(m->uw, mon_gread, m, &os, err,
						  sizeof err);
	if (rc == 0)
		mon_say(m, "call paths by %s ORC tables (%u entries, %" PRIu64
			" KiB, %" PRIu64 " round trips, %.0f ms)", orc_prof ?
			"the profile's" : "the guest's own", os.entries,
			os.bytes >> 10, m->be.round_trips - rt0, (double)os.ns / 1e6);
	else if (rc > 0)
		mon_say(m, "call paths by instruction analysis: %s", err);
	const char *what = orc_prof ? "the profile's ORC tables do not hold up"
				    : "the guest's ORC tables do not hold up";
	if (rc == 0 || rc > 0) {
		/* The tail jumps a return address's call may reach the
		 * callee through: the profile's, or from the kernel's text
		 * as it runs. */
		rt0 = m->be.round_trips;
		if (kp->sec[VSP_KPROF_TAILS].data) {
			what = "the profile's tail jumps do not hold up";
			rc = vsp_unwind_tails_adopt(m->uw, kp->sec[VSP_KPROF_TAILS].data,
						    kp->sec[VSP_KPROF_TAILS].size,
						    err, sizeof err);
			if (rc == 0)
				mon_say(m, "tail jumps from the profile (%zu)",
					kp->sec[VSP_KPROF_TAILS].size / 16);
		} else {
			what = "the guest's kernel text, for the tail jumps, "
			       "cannot be read";
			rc = vsp_unwind_tails_from_guest(m->uw, mon_gread, m, &os,
							 err, sizeof err);
			if (rc == 0)
				mon_say(m, "tail jumps from the guest's kernel text "
					"(%u, %" PRIu64 " KiB, %" PRIu64 " round "
					"trips, %.0f ms)", os.entries, os.bytes >> 10,
					m->be.round_trips - rt0, (double)os.ns / 1e6);
			/* Read during the boot: again once it is over. */
			m->tails_early = rc == 0 && !m->have_integ;
		}
		if (rc >= 0)
			return 0;
	}
	if (mon_policy_reads_paths(m)) {
		/* Each rule that reads paths, by its location, as
		 * mon_refusals refuses; the attach ends as on other kernel
		 * data that does not hold up. */
		snprintf(m->uw_err, sizeof m->uw_err, "%s", what);
		m->uw_bad = true;
		mon_refusals(m, m->p, stderr);
		fprintf(stderr, "vsp attach: refusing: %s (%s) and the policy's "
			"rules read call paths; no trap placed\n", what, err);
		return -EPERM;
	}
	vsp_unwind_free(m->uw);
	m->uw = NULL;
	snprintf(m->uw_err, sizeof m->uw_err, "%s", what);
	mon_say(m, "no call paths: %s (%s)", what, err);
	return 0;
}

int mon_setup_traps(struct mon *m)
{
	uint32_t n = vsp_policy_nevents(m->p);
	int refused = 0;
	/* The resolved fields' reader: for hook events, and for proc.exe
	 * and its kin on every event. */
	if (!m->hs && m->have_lxfs && m->have_lx) {
		m->hs = calloc(1, sizeof *m->hs);
		if (!m->hs || vsp_hook_site_init(m->hs, &m->lxfs, &m->lx, m->syms,
						 mon_gread, m) < 0) {
			free(m->hs);
			m->hs = NULL;
			fprintf(stderr, "vsp attach: out of memory\n");
			return -ENOMEM;
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct vsp_event_key *k = vsp_policy_event(m->p, i);
		const struct mon_site *s = mon_site_of(k->kind);
		if (!s)
			continue;	/* refused by mon_refusals */
		int rc = s->setup(m, k);
		if (rc < 0)
			return rc;
		refused += rc;
	}
	return refused;
}

static void mon_release(struct mon *m)
{
	mon_user_release(m);
	if (m->uw)
		vsp_unwind_free(m->uw);
	if (m->have_cs)
		cs_close(&m->cs);
	if (m->img)
		vsp_kimg_free(m->img);
	if (m->ksyms && m->ksyms != m->syms)
		vsp_sym_free(m->ksyms);
	if (m->syms)
		vsp_sym_free(m->syms);
	vsp_kprof_free(&m->kprof);
	if (m->hs) {
		vsp_hook_site_release(m->hs);
		free(m->hs);
	}
}

static void mon_signals(bool on, bool hup, bool intr)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on ? mon_on_signal : SIG_DFL;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal must end the wait for the next stop. */
	if (intr)
		sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Under a service SIGHUP is its reload, not a detach. */
	if (hup)
		sigaction(SIGHUP, &sa, NULL);
}

/* Audit records go through the sink when the caller opened one. */
void mon_audit_init(struct mon *m, struct vsp_policy *p)
{
	if (m->o->audit_sink)
		vsp_audit_init_sink(&m->audit, m->o->audit_sink, p);
	else
		vsp_audit_init(&m->audit, m->o->audit, p);
}

/* In the guard's process (a copy of vsp's from the attach), once vsp has
 * died without detaching: the last audit record says what the guard did. */
static void mon_last_words(void *ctx, const char *msg)
{
	struct mon *m = ctx;
	if (!m->have_audit)
		return;
	vsp_sink_keep(m->o->audit_sink);
	struct vsp_audit_note n = {
		.time_ns = vsp_now_ns() - m->t_attach,
		.vm = m->o->vm ? m->o->vm : "guest0", .kind = "monitor",
		.name = "guard", .msg = msg, .mode = m->mode,
	};
	vsp_audit_note(&m->audit, &n);
}

/* What the backend's guard does when vsp dies, and what it keeps open
 * for the last record. */
static void mon_guard_conf(struct mon *m)
{
	struct vsp_guard_conf *g = &m->be.guard;
	memset(g, 0, sizeof *g);
	g->on_death = m->o->on_death;
	g->last_words = mon_last_words;
	g->ctx = m;
	int fd = m->o->audit_sink ? vsp_sink_fd(m->o->audit_sink) :
		 m->o->audit ? fileno(m->o->audit) : -1;
	if (fd >= 0)
		g->keep[g->nkeep++] = fd;
	m->t_attach = vsp_now_ns();
}

/* What a service around the loop sees (monitor.h). */
const struct vsp_monitor_view *mon_view(struct mon *m,
					struct vsp_monitor_view *v)
{
	m->rs.traps_installed = m->installed;
	m->rs.round_trips = m->be.round_trips;
	v->policy = m->p;
	v->rs = &m->rs;
	v->trap_hits = m->trap_hits;
	v->rt_in_traps = m->rt_in_traps;
	v->events = m->seq;
	v->policy_loads = m->gen;
	v->audit_records = m->have_audit ? m->audit.records : 0;
	v->audit_write_errors = m->have_audit ? m->audit.write_errors : 0;
	v->trace_write_errors = m->trace_lost;
	return v;
}

void mon_run_stats(struct mon *m, FILE *out, bool json, uint64_t traps,
		   bool attach_time)
{
	m->rs.traps_installed = traps;
	m->rs.round_trips = m->be.round_trips;
	m->rs.count_lost = true;
	m->rs.audit_lost = mon_audit_lost(m);
	m->rs.trace_lost = m->trace_lost;
	vsp_stats_print(out, m->p, &m->rs, json);
	if (json)
		return;
	if (attach_time)
		fprintf(out, "attach:             %.0f ms and %" PRIu64 " round "
			"trips from the bare stub to the traps placed\n",
			(double)m->t_first_trap / 1e6, m->rt_first_trap);
	fprintf(out, "traps hit:          %" PRIu64 "\n", m->trap_hits);
	if (m->trap_hits)
		fprintf(out, "per trap:           %.2f round trips, %.2f ms\n",
			(double)m->rt_in_traps / (double)m->trap_hits,
			(double)m->rs.trap_ns / 1e6 / (double)m->trap_hits);
	if (m->hs && m->hs->st.events)
		fprintf(out, "hook events:        %" PRIu64 " (%" PRIu64
			" let pass undecided); paths walked %" PRIu64
			", from the cache %" PRIu64 " (%" PRIu64 " stale)\n",
			m->hs->st.events, m->hs->st.skipped, m->hs->st.path_walks,
			m->hs->st.cache_hits, m->hs->st.cache_stale);
	if (m->hook_cached.n || m->hook_walked.n)
		fprintf(out, "per hook event:     %.2f round trips with every path "
			"from the cache (%" PRIu64 "), %.2f with a path walked (%"
			PRIu64 ")\n",
			m->hook_cached.n ? (double)m->hook_cached.rt /
					   (double)m->hook_cached.n : 0.0,
			m->hook_cached.n,
			m->hook_walked.n ? (double)m->hook_walked.rt /
					   (double)m->hook_walked.n : 0.0,
			m->hook_walked.n);
	mon_user_stats(m, out);
	if (m->watch_hits)
		fprintf(out, "watch hits:         %" PRIu64 " (%" PRIu64 " bytes "
			"folded into the write they continue)\n"
			"per watch hit:      %.2f round trips, %.2f ms\n",
			m->watch_hits, m->watch_folded,
			(double)m->rt_in_watch / (double)m->watch_hits,
			(double)m->watch_ns / 1e6 / (double)m->watch_hits);
	if (m->have_integ)
		fprintf(out, "integrity:          %" PRIu64 " checks, %" PRIu64
			" reads of the entry code, %" PRIu64 " alert%s\n",
			m->integ.checks, m->integ_reads, m->integ_alerts,
			m->integ_alerts == 1 ? "" : "s");
	if (m->restarts)
		fprintf(out, "calls restarted:    %" PRIu64
			" (unreadable path while the late-decision slot was busy)\n",
			m->restarts);
}

int vsp_monitor_run(const struct vsp_monitor_opts *o)
{
	struct mon *m = calloc(1, sizeof *m);
	if (!m) {
		fprintf(stderr, "vsp attach: out of memory\n");
		return VSP_MON_LOST;
	}
	int status = VSP_MON_OK;
	bool stay_paused = false;
	m->o = o;
	m->p = o->policy;
	m->mode = vsp_policy_mode(o->policy);
	m->be.ops = o->ops;
	m->out = o->ctl_out ? o->ctl_out : stdout;
	if (o->interactive && mon_session_init(m) < 0) {
		fprintf(stderr, "vsp attach: out of memory\n");
		free(m);
		return VSP_MON_LOST;
	}
	if (mon_load_guest_info(m) < 0) {
		status = VSP_MON_USAGE;
		goto out_release;
	}
	/* Refused before connecting: nothing is left half enforced. */
	if (mon_refusals(m, m->p, stderr) > 0) {
		fprintf(stderr, "vsp attach: the policy names events that cannot "
			"be trapped on this guest; nothing attached\n");
		status = VSP_MON_POLICY;
		goto out_release;
	}
	if (o->audit || o->audit_sink) {
		mon_audit_init(m, m->p);
		m->audit.flush_each = true;
		m->have_audit = true;
	}
	mon_signal = 0;
	mon_signals(true, !o->hooks, !o->ctl_sigint);

	char why[200];
	if (o->ops->available && !o->ops->available(why, sizeof why)) {
		fprintf(stderr, "vsp attach: cannot attach to %s through %s: %s\n",
			o->target, o->ops->name, why);
		status = VSP_MON_LOST;
		goto out_signals;
	}
	uint64_t t_start = vsp_now_ns();
	mon_guard_conf(m);
	int rc = o->ops->attach(&m->be, o->target);
	if (rc < 0) {
		fprintf(stderr, "vsp attach: cannot attach to %s through %s: %s\n",
			o->target, o->ops->name, vsp_backend_error(&m->be, rc));
		status = VSP_MON_LOST;
		goto out_detach;
	}
	m->attached = true;
	m->t_attach = vsp_now_ns();
	if (m->syms || mon_wants_syms(m) || o->interactive) {
		rc = mon_find_slide(m);
		/* The guest's own BTF first when there is no vmlinux: the
		 * sites of hook events need its kernel objects. */
		if (rc == 0)
			rc = mon_guest_btf(m);
		if (rc == 0)
			rc = mon_verify_sites(m);
		if (rc < 0) {
			if (rc != -EINTR && rc != -EPERM)
				fprintf(stderr, "vsp attach: the guest kernel did not "
					"start: %s\n", vsp_backend_error(&m->be, rc));
			status = rc == -EINTR ? VSP_MON_OK : VSP_MON_LOST;
			goto out_detach;
		}
		mon_syms_ready(m);
		if (o->ops->regs_get(&m->be, 0, &m->regs) == 0) {
			m->vcpu = 0;
			mon_integ_start(m);
		}
		if (mon_unwinder(m) < 0) {
			status = VSP_MON_LOST;
			goto out_detach;
		}
	} else {
		m->uw_tried = true;
		snprintf(m->uw_err, sizeof m->uw_err, "no kernel symbols");
	}
	/* Again now that the guest's symbols and unwinder are known. */
	if ((!o->symbols || !m->uw) && mon_refusals(m, m->p, stderr) > 0) {
		fprintf(stderr, "vsp attach: the policy names events this "
			"guest cannot trap; nothing placed\n");
		status = VSP_MON_POLICY;
		goto out_detach;
	}
	rc = mon_setup_traps(m);
	if (rc != 0) {
		if (rc > 0)
			fprintf(stderr, "vsp attach: the policy names events this "
				"guest cannot trap; detaching\n");
		status = rc > 0 ? VSP_MON_POLICY : VSP_MON_LOST;
		goto out_detach;
	}
	m->t_first_trap = vsp_now_ns() - t_start;
	m->rt_first_trap = m->be.round_trips;
	mon_say(m, "attached to %s (%s, %u vCPU); %" PRIu64 " trap%s installed, "
		"mode %s", o->target, o->ops->name, m->be.ncpus, m->installed,
		m->installed == 1 ? "" : "s", vsp_mode_name(m->mode));
	if (o->record)
		fflush(o->record);
	/* The audit file is emptied only now that vsp guards the guest. */
	if (o->audit_sink && (rc = vsp_sink_start(o->audit_sink)) < 0)
		fprintf(stderr, "vsp attach: emptying the audit file: %s\n",
			strerror(-rc));
	struct vsp_monitor_view view;
	if (o->hooks && o->hooks->ready)
		o->hooks->ready(o->hooks->ctx, mon_view(m, &view));

	struct vsp_resume go = { .how = VSP_RESUME_CONTINUE };
	rc = o->ops->resume(&m->be, 0, &go);
	uint64_t events_seen = 0;
	if (o->interactive) {
		fprintf(m->out, "attached to %s; %" PRIu64 " trap%s, mode %s; "
			"'help' lists the commands\n", o->target, m->installed,
			m->installed == 1 ? "" : "s", vsp_mode_name(m->mode));
		fflush(m->out);
		mon_prompt(m);
	}
	while (rc >= 0) {
		if (mon_signal) {
			mon_say(m, "signal %d: detaching", (int)mon_signal);
			break;
		}
		if (o->hooks && o->hooks->tick &&
		    o->hooks->tick(o->hooks->ctx, mon_view(m, &view)) ==
		    VSP_HOOK_RELOAD && (rc = mon_reload(m)) < 0)
			break;
		if (o->interactive && (m->paused ||
				       vsp_now_ns() - m->ctl_ns > MON_CTL_NS)) {
			/* A stopped guest sends nothing: only commands wake us. */
			int q = mon_ctl(m, m->paused ? 200 : 0);
			if (q < 0) {
				rc = q;
				break;
			}
			if (q > 0) {
				mon_say(m, "detaching");
				break;
			}
			if (m->paused)
				continue;
		}
		if (o->max_events && events_seen >= (uint64_t)o->max_events) {
			mon_say(m, "%d events seen: detaching", o->max_events);
			break;
		}
		struct vsp_stop st;
		m->rt_wait = m->be.round_trips;
		rc = o->ops->wait(&m->be, &st, o->interactive ? 50 : 1000);
		if (rc == -EINTR) {
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		if (st.kind == VSP_STOP_TIMEOUT) {
			m->ctl_ns = 0;	/* the guest is quiet: look at once */
			/* ... and at its integrity now and then. */
			if (m->syms && !m->integ_asked && !m->paused &&
			    vsp_now_ns() - m->integ_stop_ns > MON_INTEG_IDLE_NS) {
				m->integ_asked = true;
				rc = o->ops->interrupt(&m->be);
			}
			continue;
		}
		if (st.kind == VSP_STOP_EXITED) {
			mon_say(m, "the guest ended");
			rc = -ENOTCONN;
			status = VSP_MON_OK;
			goto out_gone;
		}
		if (st.kind == VSP_STOP_TRAP || st.kind == VSP_STOP_WATCH) {
			/* A watch stop is an event when it was decided: not a
			 * write of the same bytes, nor a later byte of a write. */
			uint64_t w0 = m->watch_events;
			rc = st.kind == VSP_STOP_TRAP ? mon_on_trap(m, &st) :
			     mon_on_watch(m, &st);
			unsigned seen = st.kind == VSP_STOP_TRAP ||
					m->watch_events != w0;
			if (rc == MON_PAUSED && o->interactive) {
				/* The session goes on around the stopped guest. */
				m->paused = true;
				if (!m->held) {
					m->rule_paused = true;
					m->pause_addr = st.addr;
					fprintf(m->out, "guest paused by a rule; "
						"'continue' resumes it\n");
				}
				fflush(m->out);
				rc = 0;
				events_seen += seen;
				continue;
			}
			if (rc == MON_PAUSED) {
				stay_paused = true;
				break;
			}
			events_seen += seen;
			if (m->lost_stop) {
				/* --on-audit-error stop or pause. */
				stay_paused = o->on_audit_error == VSP_ON_ERR_PAUSE;
				break;
			}
			continue;
		}
		/* A stop we did not ask for (or the look at a quiet guest):
		 * let the guest go on. */
		if (st.kind == VSP_STOP_INTERRUPT && m->syms) {
			m->vcpu = st.vcpu;
			if (o->ops->regs_get(&m->be, st.vcpu, &m->regs) == 0)
				mon_integrity(m);
		}
		rc = o->ops->resume(&m->be, st.vcpu, &go);
	}
	if (m->held && rc >= 0) {
		/* Detaching from an event `step` held: it is decided first. */
		m->paused = false;
		rc = mon_release_held(m);
		if (rc == MON_PAUSED) {
			m->paused = m->rule_paused = true;
			m->pause_addr = m->held_addr;
		}
		if (rc > 0)
			rc = 0;
	}
	if (rc >= 0 && !stay_paused && !(o->interactive && m->paused)) {
		int src = mon_write_settle(m);
		if (src == MON_PAUSED)
			stay_paused = true;
		else if (src < 0)
			rc = src;
	}
	if (rc < 0) {
		fprintf(stderr, "vsp attach: lost the guest: %s\n", vsp_backend_error(&m->be, rc));
		status = VSP_MON_LOST;
	}
	/* A guest paused by a rule stays so; one paused from the session
	 * runs on. */
	if (o->interactive && m->rule_paused && rc >= 0)
		stay_paused = true;
out_gone:
	/* A pending redirect's traps go with the rest in detach (the guest
	 * may be running now: no packets but the interrupt). */
	if (m->rd.active && m->rd.late && m->rd.stage != 2)
		mon_late_drop(m, "detached first");
	else if (m->rd.active && !m->rd.pin && !m->rd.late) {
		fprintf(stderr, "vsp attach: redirect to %s not applied: "
			"detached first\n", m->rd.path);
		mon_pend_audit(m, "detached first");
	}
	m->rd.active = false;
	m->rd.late = false;
out_detach:
	/* The backend removes the watchpoints with the traps (the guest may
	 * run now: no packets but the interrupt); here only the copies go. */
	vsp_watch_release(&m->ws, NULL);
	o->ops->detach(&m->be, stay_paused);
	if (stay_paused)
		fprintf(stderr, "vsp attach: detached; the guest stays paused\n");
	else if (m->attached && status == VSP_MON_OK && !mon_signal && rc >= 0)
		mon_say(m, "detached; the guest runs on");
	else if (m->attached && mon_signal)
		mon_say(m, "detached; every trap removed, the guest runs on");
out_signals:
	mon_signals(false, !o->hooks, !o->ctl_sigint);
	if (m->have_audit) {
		vsp_audit_release(&m->audit);
		if (o->audit)
			fflush(o->audit);
	}
	if (o->record)
		fflush(o->record);
	if (o->hooks && o->hooks->done && m->attached)
		o->hooks->done(o->hooks->ctx, mon_view(m, &view));
	if (o->stats && m->attached)
		mon_run_stats(m, stderr, o->stats_json, m->installed, true);
	if (m->mode == VSP_MODE_LEARN && m->attached &&
	    vsp_policy_save_profiles(m->p, stderr) < 0 && status == VSP_MON_OK)
		status = VSP_MON_USAGE;
	uint64_t alost = mon_audit_lost(m);
	if (alost || m->trace_lost) {
		/* The last line says what the run lost, whatever else it says. */
		fprintf(stderr, "vsp attach: %" PRIu64 " audit record%s and %"
			PRIu64 " trace line%s lost (%s: %s)\n", alost,
			alost == 1 ? "" : "s", m->trace_lost,
			m->trace_lost == 1 ? "" : "s", m->lost_what ? m->lost_what : "audit",
			strerror(m->lost_err ? -m->lost_err : EIO));
		if (status == VSP_MON_OK)
			status = VSP_MON_RECORDS;
	}
out_release:
	if (m->p != o->policy)
		vsp_policy_free(m->p);
	mon_session_release(m);
	mon_release(m);
	free(m);
	return status;
}
