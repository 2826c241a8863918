/*
 * guest_kernel.c: finding the guest kernel at attach (see vmi/mon.h).
 *
 * Wait until a vCPU runs the kernel; take its symbols from the symbol
 * file, the profile (checked by its kallsyms digest, or by the guest's
 * whole table with --verify-symbols=full) or the running kernel's own
 * kallsyms, decoded from guest memory; find the KASLR slide; verify the
 * symbols against the running kernel where traps go; read its BTF; then
 * the Linux layouts (vmi/linux.h, vmi/linux_fs.h) the sites read objects
 * through.  Nothing is placed in the guest until all of it holds.
 */
#include "vmi/mon.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Compares the profile's section `id` with the running kernel: 0, or
 * -EPERM (said) when it is another kernel's. */
int mon_kprof_check(struct mon *m, enum vsp_kprof_id id)
{
	char err[256];
	unsigned reads;
	if (vsp_kprof_verify(&m->kprof, id, vsp_sym_slide(m->syms),
			     mon_gread_many, mon_gread, m,
			     &reads, err, sizeof err) < 0) {
		fprintf(stderr, "vsp attach: refusing: %s (%s); nothing placed\n",
			err, m->o->symbols);
		return -EPERM;
	}
	return 0;
}

static bool mon_in_kernel(const struct vsp_regs *r)
{
	return (r->cr0 & 0x80000000u) && r->rip >= VSP_KASLR_LO;
}

/*
 * A guest started paused at power on has no kernel in memory yet, and
 * with KASLR nobody knows where it will land.  Let it run, stopping it
 * every 100 ms, until a stop finds the vCPU in kernel text: the kernel
 * then has its final addresses and the slide can be searched.  Booting
 * takes about a second under TCG and user space starts later, so no event
 * a policy names is missed.
 */
static int mon_wait_kernel(struct mon *m, struct vsp_regs *r)
{
	bool told = false;
	for (int i = 0; i < 600 && !mon_in_kernel(r); i++) {
		if (mon_signal)
			return -EINTR;
		if (!told)
			mon_say(m, "waiting for the guest kernel to start");
		told = true;
		struct vsp_resume go = { .how = VSP_RESUME_CONTINUE };
		int rc = m->be.ops->resume(&m->be, 0, &go);
		struct vsp_stop st = { .kind = VSP_STOP_TIMEOUT };
		if (rc == 0)
			rc = m->be.ops->wait(&m->be, &st, 100);
		if (rc == 0 && st.kind == VSP_STOP_TIMEOUT) {
			rc = m->be.ops->interrupt(&m->be);
			for (int k = 0; rc == 0 && k < 20 && st.kind == VSP_STOP_TIMEOUT; k++)
				rc = m->be.ops->wait(&m->be, &st, 100);
		}
		if (rc == -EINTR)
			continue;
		if (rc < 0)
			return rc;
		if (st.kind == VSP_STOP_EXITED || st.kind == VSP_STOP_TIMEOUT)
			return -ENOTCONN;
		rc = m->be.ops->regs_get(&m->be, st.vcpu, r);
		if (rc < 0)
			return rc;
	}
	return mon_in_kernel(r) ? 0 : -ETIMEDOUT;
}

/* The running kernel's own symbol table, decoded from its memory. */
static struct vsp_symtab *mon_kallsyms(struct mon *m, uint64_t rip, char *err,
				       size_t errlen)
{
	struct vsp_ksyms_stats ks;
	uint64_t rt0 = m->be.round_trips;
	struct vsp_symtab *t = vsp_ksyms_from_guest(mon_gread, m, rip, &ks, err,
						    errlen);
	if (t)
		mon_say(m, "kernel symbols from guest memory: %u, KASLR slide 0x%"
			PRIx64 " (%" PRIu64 " KiB of .rodata, %" PRIu64
			" round trips, %.0f ms)", ks.loc.nsyms, (uint64_t)ks.slide,
			ks.bytes >> 10, m->be.round_trips - rt0, (double)ks.ns / 1e6);
	return t;
}

/*
 * A profile's symbols verified by its kallsyms digest instead of the
 * guest's whole table: the slide from the profile's linux_banner near the
 * rip, then every window of the tables compared, a few batched reads in
 * all.  1 verified (the slide set); 0 when the digest cannot say (none,
 * symbols changed since it was taken, no banner near the rip: the full
 * decode follows); -EPERM, said, when the tables differ.
 */
static int mon_kprof_digest(struct mon *m, uint64_t rip)
{
	const struct vsp_kprof_digest *d = &m->kprof.dig;
	const char *file = m->o->symbols;
	if (!d->nsyms || m->o->verify_symbols_full)
		return 0;
	if (d->symbols != d->symbols_read) {
		mon_say(m, "%s: its symbols are not those its kallsyms digest was "
			"taken with; checking them against the guest's own table",
			file);
		return 0;
	}
	uint64_t rt0 = m->be.round_trips, t0 = vsp_now_ns();
	int64_t slide;
	if (vsp_kprof_digest_slide(&m->kprof, m->syms, rip, mon_gread_many,
				   mon_gread, m, &slide, NULL) < 0) {
		mon_say(m, "%s: its kernel's banner is not where the vCPU runs; "
			"checking its symbols against the guest's own table", file);
		return 0;
	}
	char err[256];
	if (vsp_kprof_digest_verify(&m->kprof, slide, mon_gread_many, mon_gread,
				    m, NULL, err, sizeof err) < 0) {
		fprintf(stderr, "vsp attach: refusing: %s does not match the "
			"running kernel: %s; nothing placed\n", file, err);
		return -EPERM;
	}
	vsp_sym_set_slide(m->syms, slide);
	mon_say(m, "kernel found; KASLR slide 0x%" PRIx64 "; symbols verified by "
		"the profile's kallsyms digest (%zu windows, %" PRIu64 " round "
		"trips, %.0f ms)", (uint64_t)slide, d->nwin, m->be.round_trips - rt0,
		(double)(vsp_now_ns() - t0) / 1e6);
	return 1;
}

/*
 * Once the kernel runs: symbols from the guest when no file gave them;
 * with a file, the KASLR slide, and the guest's own table to check the
 * file against.  A file whose slide cannot be found is refused: its
 * addresses would trap nothing.  -EPERM with the message printed.
 */
int mon_find_slide(struct mon *m)
{
	struct vsp_regs r;
	int rc = m->be.ops->regs_get(&m->be, 0, &r);
	if (rc == 0)
		rc = mon_wait_kernel(m, &r);
	if (rc < 0)
		return rc;
	char err[256];
	if (!m->syms) {
		m->syms = mon_kallsyms(m, r.rip, err, sizeof err);
		if (!m->syms) {
			fprintf(stderr, "vsp attach: refusing: no symbols given and "
				"none found in the guest: %s\n", err);
			return -EPERM;
		}
		m->ksyms = m->syms;
		return 0;
	}
	if ((rc = mon_kprof_digest(m, r.rip)) != 0)
		return rc < 0 ? rc : 0;
	/* The guest's own table gives the slide at once (both tables know
	 * _text) and is what the file is then checked against. */
	int64_t slide = 0;
	uint64_t run_text, link_text;
	m->ksyms = mon_kallsyms(m, r.rip, err, sizeof err);
	if (m->ksyms && vsp_sym_addr(m->ksyms, "_text", &run_text) == 0 &&
	    vsp_sym_addr(m->syms, "_text", &link_text) == 0) {
		slide = (int64_t)(run_text - link_text);
	} else {
		if (!m->ksyms)
			mon_say(m, "the guest's own symbols were not found (%s); %s "
				"is checked against the kernel's code only", err,
				m->o->symbols);
		struct vsp_kaslr_stats ks;
		if (vsp_kaslr_find(m->syms, m->img, mon_gread, m, r.rip, &slide,
				   &ks, err, sizeof err) < 0) {
			fprintf(stderr, "vsp attach: refusing: %s does not match the "
				"running kernel (KASLR slide not found: %s)\n",
				m->o->symbols, err);
			return -EPERM;
		}
	}
	vsp_sym_set_slide(m->syms, slide);
	mon_say(m, "kernel found; KASLR slide 0x%" PRIx64, (uint64_t)slide);
	return 0;
}

/* Every site the policy is about to trap, checked against the running
 * kernel; nothing is placed.  0, or -EPERM with the message printed. */
int mon_verify_sites(struct mon *m)
{
	vsp_kverify_init(&m->kv, mon_gread, m, m->syms, m->ksyms, m->img);
	vsp_kverify_banner(&m->kv);
	m->dry = true;
	int rc = mon_setup_traps(m);
	m->dry = false;
	if (rc < 0)
		return rc;
	if (m->kv.failed) {
		fprintf(stderr, "vsp attach: refusing: the symbols do not match the "
			"running kernel: %s (%u of %u checks failed); no trap "
			"placed\n", m->kv.first, m->kv.failed, m->kv.checked);
		return -EPERM;
	}
	mon_say(m, "symbols verified against the running kernel (%u checks)",
		m->kv.checked);
	return 0;
}

/* Process context without a vmlinux: the running kernel's own BTF. */
int mon_guest_btf(struct mon *m)
{
	if (m->have_lx)
		return 0;
	char err[256];
	uint8_t *btf;
	size_t n;
	uint64_t rt0 = m->be.round_trips, t0 = vsp_now_ns();
	const char *from = "the guest's .BTF", *say = "the guest's own BTF";
	int rc;
	if (m->kprof.sec[VSP_KPROF_BTF].data) {
		/* The profile's, once windows of it match the guest's. */
		if ((rc = mon_kprof_check(m, VSP_KPROF_BTF)) < 0)
			return rc;
		struct vsp_kprof_reader kr = { &m->kprof, vsp_sym_slide(m->syms) };
		rc = vsp_ksyms_read_btf(vsp_kprof_read, &kr, m->syms, &btf, &n,
					err, sizeof err);
		from = "the profile's .BTF";
		say = "the profile's BTF";
	} else {
		rc = vsp_ksyms_read_btf(mon_gread, m, m->syms, &btf, &n, err,
					sizeof err);
	}
	if (rc < 0) {
		fprintf(stderr, "vsp attach: warning: no process context: %s\n", err);
		return 0;
	}
	if (vsp_linux_init_mem(&m->lx, btf, n, from, m->syms, err,
			       sizeof err) == 0) {
		m->have_lx = true;
		mon_say(m, "process context from %s (%zu KiB, %" PRIu64 " round "
			"trips, %.0f ms)", say, n >> 10,
			m->be.round_trips - rt0, (double)(vsp_now_ns() - t0) / 1e6);
		/* ... and the kernel objects of hook events. */
		m->have_lxfs = vsp_lxfs_init_mem(&m->lxfs, btf, n, from,
						 m->lxfs_err,
						 sizeof m->lxfs_err) == 0;
	} else {
		fprintf(stderr, "vsp attach: warning: no process context: %s\n", err);
	}
	free(btf);
	return 0;
}

/* Whether the policy traps kernel code (and so needs symbols). */
bool mon_wants_syms(struct mon *m)
{
	for (uint32_t i = 0; i < vsp_policy_nevents(m->p); i++) {
		const struct mon_site *s =
			mon_site_of(vsp_policy_event(m->p, i)->kind);
		if (s && s->kernel_code)
			return true;
	}
	return false;
}

/* Names the monitor's own helpers need (kill, redirect). */
void mon_syms_ready(struct mon *m)
{
	uint64_t a;
	if (vsp_sym_addr(m->syms, "do_group_exit", &a) == 0)
		m->fn_group_exit = a;
	if (vsp_sym_addr(m->syms, "force_sig", &a) == 0)
		m->fn_force_sig = a;
	if (vsp_sym_addr(m->syms, "sys_ni_syscall", &a) == 0)
		m->fn_ni_syscall = a;
	if (vsp_sym_addr(m->syms, "syscall_exit_to_user_mode", &a) == 0)
		m->fn_sys_exit = a;
	static const char *const gn[3] = { "getname", "getname_flags",
					   "getname_uflags" };
	for (int i = 0; i < 3; i++)
		if (vsp_sym_addr(m->syms, gn[i], &a) == 0)
			m->fn_getname[i] = a;
	if (vsp_sym_addr(m->syms, "putname", &a) == 0)
		m->fn_putname = a;
	mon_guest_pti(m);
}

/*
 * Whether the kernel isolates its page tables: X86_FEATURE_PTI (word 7,
 * bit 11 of boot_cpu_data.x86_capability since 4.15), as the kernel set it
 * at boot.  The backend is told, so that kernel reads at user-mode stops
 * go through the kernel's page tables.  Read at kernel-mode stops (at
 * attach, and again before the first user trap is placed), so the read
 * itself needs nothing of the kind.
 */
#define MON_PTI_WORD 7
#define MON_PTI_BIT 11
void mon_guest_pti(struct mon *m)
{
	uint64_t a;
	uint32_t w;

	if (!m->have_lx || !m->lx.have_caps || !m->syms ||
	    vsp_sym_addr(m->syms, "boot_cpu_data", &a) < 0 ||
	    mon_gread(m, a + m->lx.cpu_caps + 4 * MON_PTI_WORD, &w, 4) != 4)
		return;
	bool was = m->be.guest_pti;
	m->be.guest_pti = (w >> MON_PTI_BIT) & 1;
	if (m->be.guest_pti && !was)
		mon_say(m, "the kernel isolates its page tables (PTI): kernel "
			"memory at user-mode stops is read through the kernel's "
			"page tables");
}

int mon_load_guest_info(struct mon *m)
{
	char err[256];
	const struct vsp_monitor_opts *o = m->o;
	if (o->symbols) {
		/* Read once: the symbols and, in a profile, its BTF, ORC
		 * tables and tail jumps, used instead of copying them from
		 * the guest. */
		char *text;
		size_t len;
		if (vsp_sym_read_file(o->symbols, &text, &len, err, sizeof err) < 0) {
			fprintf(stderr, "vsp attach: %s\n", err);
			return -1;
		}
		m->syms = vsp_sym_load_mem(text, len, o->symbols, err, sizeof err);
		int rc = m->syms ? vsp_kprof_load_mem(text, len, o->symbols,
						      &m->kprof, err, sizeof err)
				 : -1;
		free(text);
		if (rc < 0) {
			fprintf(stderr, "vsp attach: %s\n", err);
			return -1;
		}
	}
	/* The BTF comes from vmlinux; by default the one beside the symbols. */
	char guess[4096];
	const char *vmlinux = o->vmlinux;
	if (!vmlinux && o->symbols) {
		const char *slash = strrchr(o->symbols, '/');
		int dl = slash ? (int)(slash - o->symbols) : 1;
		snprintf(guess, sizeof guess, "%.*s/vmlinux", dl,
			 slash ? o->symbols : ".");
		if (access(guess, R_OK) == 0)
			vmlinux = guess;
	}
	if (vmlinux) {
		m->img = vsp_kimg_open(vmlinux, err, sizeof err);
		if (!m->img)
			fprintf(stderr, "vsp attach: warning: %s\n", err);
		if (vsp_linux_init(&m->lx, vmlinux, m->syms, err, sizeof err) == 0) {
			m->have_lx = true;
			m->have_lxfs = vsp_lxfs_init(&m->lxfs, vmlinux, m->lxfs_err,
						     sizeof m->lxfs_err) == 0;
		} else
			fprintf(stderr, "vsp attach: warning: no process context: %s\n",
				err);
	}
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &m->cs) == CS_ERR_OK) {
		m->have_cs = true;
		/* Operands, for the instructions emulated under a trap. */
		cs_option(m->cs, CS_OPT_DETAIL, CS_OPT_ON);
	}
	return 0;
}
