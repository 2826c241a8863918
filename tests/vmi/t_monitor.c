/*
 * t_monitor.c: the attach loop (vmi/monitor.c) against a scripted backend.
 *
 * No QEMU here: a backend written in this test plays a stopped guest whose
 * memory holds a syscall handler (with ftrace's 5-byte NOP), a kernel
 * stack with pt_regs and return addresses, user strings and a Xen
 * hypercall page.  It hands the monitor a fixed list of stops and records
 * what the monitor did at each: registers written, how it resumed.  So the
 * verdicts' mechanics are pinned where CI needs no guest (and, with ORC
 * tables in its memory, what the monitor does with sound and unsorted
 * ones when no vmlinux is given): deny and return
 * emulate the handler's return in one register write, an allowed call
 * resumes past the NOP, a hypercall is denied or let into Xen with its
 * `mov` emulated (or, on a kernel with the XSA-466 stubs, through either
 * stub), only the named events are trapped, and every trap is gone at the
 * end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "vmi/backend.h"
#include "vmi/monitor.h"
#include "vmi/xen.h"
#include "tests/tap.h"

/* The monitor's messages (expected warnings, the pause report) go to a
 * scratch file, so the TAP stream stays readable (VSP_TEST_LOUD=1 shows
 * them). */
static int quiet_begin(void)
{
	fflush(stderr);
	if (getenv("VSP_TEST_LOUD"))
		return -1;
	int saved = dup(2);
	FILE *f = tmpfile();
	if (f)
		dup2(fileno(f), 2);
	return saved;
}

static void quiet_end(int saved)
{
	fflush(stderr);
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
}

#define K_TEXT 0xffffffff81000000ull
#define K_HPAGE 0xffffffff81001000ull	/* hypercall_page */
#define K_OPENAT 0xffffffff81200000ull
#define K_GETPID 0xffffffff81200100ull
#define K_BANNER 0xffffffff812e0000ull	/* linux_banner */
#define K_STACK 0xffffc90000010000ull	/* 8 KiB kernel stack */
#define K_RET 0xffffffff81002345ull	/* into do_syscall_64 */
#define K_DATA 0xffffffff82000000ull	/* modprobe_path, then sys_call_table */
#define K_SCT 0xffffffff82000100ull
#define K_WRITER 0xffffffff81200300ull	/* a function that writes it */
#define U_STR 0x7fff0000ull

struct region {
	uint64_t base;
	size_t len;
	uint8_t *data;
};

struct rec {
	bool regs_set;
	struct vsp_regs set;
	struct vsp_resume res;
	int nres;
};

static struct {
	struct region mem[8];
	int nmem;
	struct vsp_regs regs;
	uint64_t traps[16];
	int ntraps, max_traps;
	int stop;		/* index of the current stop, -1 before */
	int nstops;
	struct vsp_regs stops[64];
	struct rec rec[64];
	bool step_pending;	/* a STEP resume: the next wait is its stop */
	int ndel, nstep;
	int tamper_at;		/* at this stop the code under openat changes */
	uint8_t *text;
	bool detached, stay;
	uint64_t wrote_at, log[32];
	int nlog;
	size_t wrote_len;
	char wrote[64];
	/* Watch stops: at stop i, `watch[i].on` makes it a write of byte
	 * `val` at `at` before the stop; writes go to memory (write_mem). */
	struct { bool on; uint64_t at; uint8_t val; } watch[64];
	bool write_mem;
	uint64_t wps[8][2];
	int nwps, max_wps;	/* max_wps: a KVM-like stub's 4 of 8 bytes */
} fk;

static uint8_t *fk_region(uint64_t base, size_t len)
{
	struct region *r = &fk.mem[fk.nmem++];
	r->base = base;
	r->len = len;
	r->data = calloc(1, len);
	return r->data;
}

static int fk_nattach;

static int fk_attach(struct vsp_backend *be, const char *target)
{
	(void)target;
	fk_nattach++;
	be->ncpus = 1;
	return 0;
}

static int fk_trap_add(struct vsp_backend *be, uint64_t addr)
{
	(void)be;
	fk.traps[fk.ntraps++] = addr;
	if (fk.nlog < 32)
		fk.log[fk.nlog++] = addr;
	if (fk.ntraps > fk.max_traps)
		fk.max_traps = fk.ntraps;
	return 0;
}

static int fk_trap_del(struct vsp_backend *be, uint64_t addr)
{
	(void)be;
	fk.ndel++;
	for (int i = 0; i < fk.ntraps; i++)
		if (fk.traps[i] == addr) {
			fk.traps[i] = fk.traps[--fk.ntraps];
			return 0;
		}
	return -ENOENT;
}

static long fk_read(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
		    void *buf, size_t len)
{
	(void)be;
	(void)vcpu;
	for (int i = 0; i < fk.nmem; i++) {
		struct region *r = &fk.mem[i];
		if (gva >= r->base && gva < r->base + r->len) {
			size_t n = r->base + r->len - gva;
			if (n > len)
				n = len;
			memcpy(buf, r->data + (gva - r->base), n);
			return (long)n;
		}
	}
	return -EFAULT;
}

static long fk_write(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
		     const void *buf, size_t len)
{
	(void)be;
	(void)vcpu;
	fk.wrote_at = gva;
	fk.wrote_len = len < sizeof fk.wrote ? len : sizeof fk.wrote;
	memcpy(fk.wrote, buf, fk.wrote_len);
	for (int i = 0; fk.write_mem && i < fk.nmem; i++) {
		struct region *r = &fk.mem[i];
		if (gva >= r->base && gva + len <= r->base + r->len)
			memcpy(r->data + (gva - r->base), buf, len);
	}
	return (long)len;
}

static int fk_regs_get(struct vsp_backend *be, uint32_t vcpu, struct vsp_regs *r)
{
	(void)be;
	(void)vcpu;
	*r = fk.regs;
	return 0;
}

static int fk_regs_set(struct vsp_backend *be, uint32_t vcpu,
		       const struct vsp_regs *r)
{
	(void)be;
	(void)vcpu;
	fk.regs = *r;
	if (fk.stop >= 0) {
		fk.rec[fk.stop].regs_set = true;
		fk.rec[fk.stop].set = *r;
	}
	return 0;
}

static int fk_wait(struct vsp_backend *be, struct vsp_stop *st, int timeout_ms)
{
	(void)be;
	(void)timeout_ms;
	memset(st, 0, sizeof *st);
	if (fk.step_pending) {
		fk.step_pending = false;
		st->kind = VSP_STOP_STEP;
		return 0;
	}
	if (fk.tamper_at && fk.stop + 1 == fk.tamper_at && fk.text) {
		/* push %rbp; mov %rsp,%rbp; nop: not ftrace's NOP any more */
		static const uint8_t code[5] = { 0x55, 0x48, 0x89, 0xe5, 0x90 };
		memcpy(fk.text + (K_OPENAT - K_TEXT), code, 5);
	}
	if (fk.stop + 1 >= fk.nstops) {
		st->kind = VSP_STOP_EXITED;
		return 0;
	}
	fk.stop++;
	fk.regs = fk.stops[fk.stop];
	st->kind = VSP_STOP_TRAP;
	st->addr = fk.regs.rip;
	if (fk.watch[fk.stop].on) {
		uint64_t at = fk.watch[fk.stop].at;
		for (int i = 0; i < fk.nmem; i++)
			if (at >= fk.mem[i].base && at < fk.mem[i].base + fk.mem[i].len)
				fk.mem[i].data[at - fk.mem[i].base] = fk.watch[fk.stop].val;
		st->kind = VSP_STOP_WATCH;
		st->addr = at;
	}
	return 0;
}

static int fk_watch_add(struct vsp_backend *be, uint64_t addr, uint64_t len)
{
	(void)be;
	if (fk.max_wps && (len > 8 || fk.nwps >= fk.max_wps))
		return -ENOSPC;
	if (fk.nwps >= 8)
		return -ENOSPC;
	fk.wps[fk.nwps][0] = addr;
	fk.wps[fk.nwps++][1] = len;
	return 0;
}

static int fk_watch_del(struct vsp_backend *be, uint64_t addr, uint64_t len)
{
	(void)be;
	for (int i = 0; i < fk.nwps; i++)
		if (fk.wps[i][0] == addr && fk.wps[i][1] == len) {
			fk.wps[i][0] = fk.wps[--fk.nwps][0];
			fk.wps[i][1] = fk.wps[fk.nwps][1];
			return 0;
		}
	return -ENOENT;
}

static int fk_resume(struct vsp_backend *be, uint32_t vcpu,
		     const struct vsp_resume *how)
{
	(void)be;
	(void)vcpu;
	if (fk.stop >= 0) {
		fk.rec[fk.stop].res = *how;
		fk.rec[fk.stop].nres++;
	}
	if (how->how == VSP_RESUME_STEP) {
		fk.step_pending = true;
		fk.nstep++;
	}
	return 0;
}

static int fk_interrupt(struct vsp_backend *be)
{
	(void)be;
	return 0;
}

static void fk_detach(struct vsp_backend *be, bool stay_paused)
{
	(void)be;
	fk.detached = true;
	fk.stay = stay_paused;
	fk.ntraps = 0;
}

static const struct vsp_backend_ops fk_ops = {
	.name = "fake",
	.caps = { .kinds = VSP_BE_KIND(SYSCALL) | VSP_BE_KIND(KERNEL) |
			   VSP_BE_KIND(HYPERCALL), .single_step = true },
	.attach = fk_attach,
	.trap_add = fk_trap_add,
	.trap_del = fk_trap_del,
	.read = fk_read,
	.write = fk_write,
	.regs_get = fk_regs_get,
	.regs_set = fk_regs_set,
	.wait = fk_wait,
	.resume = fk_resume,
	.interrupt = fk_interrupt,
	.detach = fk_detach,
};

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Appends a stop at `handler` with its own pt_regs; returns it for
 * adjustments. */
static struct vsp_regs *syscall_stop(uint64_t handler, uint64_t user_ptr)
{
	uint8_t *stack = NULL;
	/* Each stop gets its own pt_regs, as each syscall has its own. */
	uint64_t K_PTREGS = K_STACK + 0x200 * (uint64_t)(fk.nstops % 12);
	for (int i = 0; i < fk.nmem; i++)
		if (fk.mem[i].base == K_STACK)
			stack = fk.mem[i].data;
	put64(stack + (K_PTREGS - K_STACK) + 0x68, user_ptr);	/* regs->si */
	put64(stack + (K_PTREGS - K_STACK) + 0x70, (uint32_t)-100);	/* di: AT_FDCWD */
	struct vsp_regs r;
	memset(&r, 0, sizeof r);
	r.rip = handler;
	r.rdi = K_PTREGS;
	r.rsp = K_STACK + 0x1e00;
	r.cr0 = 0x80050033;
	r.cr3 = 0x1000;
	r.rax = 0x1234;
	fk.stops[fk.nstops] = r;
	return &fk.stops[fk.nstops++];
}

static void setup_guest(void)
{
	uint8_t *text = fk_region(K_TEXT, 0x300000);
	fk.text = text;
	/* Every function starts with ftrace's NOP, as the running kernel's. */
	static const uint8_t nop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
	static const uint64_t fns[] = { K_OPENAT, K_GETPID, 0xffffffff81002000ull,
					0xffffffff81200200ull, 0xffffffff81280000ull,
					0xffffffff81280100ull, 0xffffffff81290000ull,
					0xffffffff81290100ull,
					/* so the KASLR probe finds most entries patched */
					K_TEXT, 0xffffffff81000100ull };
	for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
		memcpy(text + (fns[i] - K_TEXT), nop5, 5);
	/* The banner the monitor checks before it places a trap. */
	strcpy((char *)text + (K_BANNER - K_TEXT), "Linux version 6.1.0-fake\n");
	/* Hypercall page: entry i is mov $i,%eax; vmcall; ret. */
	for (int i = 0; i < 64; i++) {
		uint8_t *e = text + (K_HPAGE - K_TEXT) + 32 * i;
		e[0] = 0xb8;
		e[1] = (uint8_t)i;
		e[5] = 0x0f;
		e[6] = 0x01;
		e[7] = 0xc1;
		e[8] = 0xc3;
	}
	uint8_t *data = fk_region(K_DATA, 0x1000);
	strcpy((char *)data, "/sbin/modprobe");
	uint8_t *stack = fk_region(K_STACK, 0x2000);
	put64(stack + 0x1e00, K_RET);
	uint8_t *user = fk_region(U_STR, 0x1000);
	strcpy((char *)user, "/etc/shadow");
	strcpy((char *)user + 0x100, "/etc/hostname");
	/* The last string runs into the end of mapped memory. */
	memset(user + 0x1000 - 8, 'a', 8);

	fk.regs.cr0 = 0x80050033;
	fk.regs.rip = K_TEXT + 0x10;	/* the kernel runs */
	fk.stop = -1;
	syscall_stop(K_OPENAT, U_STR);		  /* 0 */
	syscall_stop(K_OPENAT, U_STR + 0x100);	  /* 1 */
	syscall_stop(K_GETPID, 0);		  /* 2 */
	struct vsp_regs *h = syscall_stop(K_HPAGE + 32 * 1, 0);		  /* 3 */
	h->rdi = 0x7000;
	h->rsi = 0x100000000ull + 200;	/* count: Xen reads the low 32 bits */
	h = syscall_stop(K_HPAGE + 32 * 1, 0);				  /* 4 */
	h->rdi = 0x7000;
	h->rsi = 5;
	syscall_stop(K_OPENAT, U_STR + 0x1000 - 8); /* 5 */
}

static const char policy_text[] =
	"rule \"deny-shadow\": on syscall openat when path == \"/etc/shadow\"\n"
	"  : deny EACCES;\n"
	"rule \"fake-pid\": on syscall getpid : return 4242;\n"
	"rule \"big-mmu\": on hypercall mmu_update when count > 100 : deny EPERM;\n"
	"rule \"cut\": on syscall openat when event.partial : log \"cut\";\n";

static const char symbols_text[] =
	"ffffffff81000000 T _text\n"
	"ffffffff81000000 T _stext\n"
	"ffffffff81001000 T hypercall_page\n"
	"ffffffff81000100 T __fentry__\n"
	"ffffffff81002000 T do_syscall_64\n"
	"ffffffff81200000 T __x64_sys_openat\n"
	"ffffffff81200100 T __x64_sys_getpid\n"
	"ffffffff81200200 T __x64_sys_read\n"
	"ffffffff81280000 T do_group_exit\n"
	"ffffffff81280100 T force_sig\n"
	"ffffffff81290000 T getname\n"
	"ffffffff81290100 T putname\n"
	"ffffffff812e0000 D linux_banner\n"
	"ffffffff812f0000 T _etext\n"
	"ffffffff81200300 T proc_dostring\n"
	"ffffffff82000000 D modprobe_path\n"
	"ffffffff82000100 D hook_table\n"
	"ffffffff82001000 D after_hook_table\n";

/* Runs the monitor with its standard error into `err`. */
static int run_into(const struct vsp_monitor_opts *mo, FILE *err)
{
	fflush(stderr);
	int saved = dup(2);
	dup2(fileno(err), 2);
	int rc = vsp_monitor_run(mo);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	return rc;
}

static char *write_tmp(const char *dir, const char *name, const char *text)
{
	char *path = malloc(strlen(dir) + strlen(name) + 2);
	sprintf(path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	return path;
}

static bool fk_has_trap(uint64_t a)
{
	for (int i = 0; i < fk.ntraps; i++)
		if (fk.traps[i] == a)
			return true;
	return false;
}

#define K_GETNAME 0xffffffff81290000ull
#define K_GN_RET 0xffffffff81002400ull	/* in do_syscall_64 here */
#define K_FNAME (K_STACK + 0x1800)	/* struct filename */

static int count_lines(FILE *f, const char *needle);

/* Redirect (through getname's return), kill and pause. */
static void second_run(const char *dir, const char *map)
{
	static const char text[] =
		"rule \"decoy\": on syscall openat when path == \"/etc/shadow\"\n"
		"  : redirect \"/etc/decoy\";\n"
		"rule \"stop-it\": on syscall openat when path == \"/etc/hostname\" : kill;\n"
		"rule \"freeze\": on syscall getpid : pause;\n";
	char *pol = write_tmp(dir, "q.vsp", text);
	for (int i = 0; i < fk.nmem; i++)
		free(fk.mem[i].data);
	memset(&fk, 0, sizeof fk);
	setup_guest();
	fk.nstops = 0;
	syscall_stop(K_OPENAT, U_STR);		/* 0 */
	struct vsp_regs *g = syscall_stop(K_GETNAME, 0);		/* 1 */
	g->rdi = U_STR;
	g->rsp = K_STACK + 0x1d00;
	struct vsp_regs *gr = syscall_stop(K_GN_RET, 0);		/* 2 */
	gr->rip = K_GN_RET;
	gr->rax = K_FNAME;
	gr->rsp = K_STACK + 0x1d08;
	syscall_stop(K_OPENAT, U_STR + 0x100);	/* 3 */
	syscall_stop(K_GETPID, 0);		/* 4 */
	syscall_stop(K_GETPID, 0);		/* never */
	uint8_t *stack = NULL, *ktext = NULL;
	for (int i = 0; i < fk.nmem; i++) {
		if (fk.mem[i].base == K_STACK)
			stack = fk.mem[i].data;
		if (fk.mem[i].base == K_TEXT)
			ktext = fk.mem[i].data;
	}
	/* openat as on disk, before ftrace patches it: call __fentry__. */
	int32_t rel = (int32_t)(0xffffffff81000100ull - (K_OPENAT + 5));
	ktext[K_OPENAT - K_TEXT] = 0xe8;
	memcpy(ktext + (K_OPENAT - K_TEXT) + 1, &rel, 4);
	put64(stack + 0x1d00, K_GN_RET);
	put64(stack + 0x1800, K_FNAME + 0x20);	/* ->name: the inline buffer */
	put64(stack + 0x1808, U_STR);		/* ->uptr */

	struct vsp_load_opts lo = { .mode = VSP_MODE_UNSET };
	const char *files[] = { pol };
	struct vsp_policy *p = vsp_policy_load(files, 1, &lo, NULL);
	ok(p != NULL, "second policy loads");
	if (!p)
		return;
	FILE *audit = tmpfile();
	struct vsp_monitor_opts mo = {
		.ops = &fk_ops, .target = "fake", .symbols = map,
		.policy = p, .audit = audit, .quiet = true,
	};
	int q = quiet_begin();
	int rc = vsp_monitor_run(&mo);
	quiet_end(q);
	struct rec *r = fk.rec;
	ok(rc == VSP_MON_OK, "pause: the monitor ends with 0");
	/* The redirect's record is written once the kernel's copy is, and
	 * carries what the event read at its entry. */
	ok(count_lines(audit, "\"rule\":\"decoy\"") == 1 &&
	   count_lines(audit, "\"verdict\":\"redirect\"") == 1 &&
	   count_lines(audit, "\"applied\":true,") == 3 &&
	   count_lines(audit, "\"path\":\"/etc/shadow\"") == 1 &&
	   count_lines(audit, "not_applied") == 0,
	   "redirect: audited applied once getname's copy was rewritten");
	fclose(audit);
	ok(fk.detached && fk.stay, "pause: detached with the guest left paused");
	ok(fk.stop == 4, "pause: no stop handled after it");
	ok(!r[0].regs_set && r[0].res.how == VSP_RESUME_AT &&
	   r[0].res.addr == K_OPENAT + 5,
	   "redirect: the call goes on, past `call __fentry__` like the NOP");
	ok(r[1].res.how == VSP_RESUME_CONTINUE && !r[1].regs_set,
	   "redirect: getname entry matched, its trap removed, guest runs on");
	ok(fk.wrote_at == K_FNAME + 0x20 && fk.wrote_len == 11 &&
	   memcmp(fk.wrote, "/etc/decoy", 11) == 0,
	   "redirect: the kernel's copy of the path rewritten, NUL included");
	ok(r[2].res.how == VSP_RESUME_CONTINUE && !fk_has_trap(K_GN_RET) &&
	   !fk_has_trap(K_GETNAME), "redirect: helper traps gone afterwards");
	ok(r[3].regs_set && r[3].set.rdi == 9 && r[3].set.rip == 0xffffffff81280000ull,
	   "kill: the handler becomes do_group_exit(SIGKILL)");
	ok(r[3].res.how == VSP_RESUME_CONTINUE,
	   "kill: resumed there");
	ok(r[4].nres == 0, "pause: the guest is not resumed");
	vsp_policy_free(p);
	unlink(pol);
	free(pol);
}

static int count_lines(FILE *f, const char *needle)
{
	char line[4096];
	int n = 0;
	rewind(f);
	while (fgets(line, sizeof line, f))
		n += !needle || strstr(line, needle) != NULL;
	return n;
}

static void fresh_guest(void)
{
	for (int i = 0; i < fk.nmem; i++)
		free(fk.mem[i].data);
	memset(&fk, 0, sizeof fk);
	setup_guest();
	fk.nstops = 0;
}

/*
 * The guest rewrites the code under a trap (at stop 10): the monitor finds
 * out at its next periodic check, says so in an alert record, re-arms the
 * trap and from then on steps the new instruction instead of skipping it.
 */
static void tamper_run(const char *dir, const char *map)
{
	static const char text[] =
		"rule \"deny-shadow\": on syscall openat when path == \"/etc/shadow\"\n"
		"  : deny EACCES;\n";
	char *pol = write_tmp(dir, "t.vsp", text);
	fresh_guest();
	for (int i = 0; i < 40; i++)
		syscall_stop(K_OPENAT, U_STR + 0x100);
	fk.tamper_at = 10;
	struct vsp_load_opts lo = { .mode = VSP_MODE_UNSET };
	const char *files[] = { pol };
	struct vsp_policy *p = vsp_policy_load(files, 1, &lo, NULL);
	ok(p != NULL, "tamper: policy loads");
	if (!p)
		return;
	FILE *audit = tmpfile();
	struct vsp_monitor_opts mo = {
		.ops = &fk_ops, .target = "fake", .symbols = map,
		.policy = p, .audit = audit, .quiet = true,
	};
	int q = quiet_begin();
	int rc = vsp_monitor_run(&mo);
	quiet_end(q);
	struct rec *r = fk.rec;
	ok(rc == VSP_MON_OK, "tamper: the monitor ends with 0");
	ok(r[9].res.how == VSP_RESUME_AT && r[9].res.addr == K_OPENAT + 5,
	   "tamper: before the write, the NOP is skipped");
	int skipped = 0, stepped = 0, at = -1;
	for (int i = 0; i < 40; i++) {
		if (r[i].nres == 1 && r[i].res.how == VSP_RESUME_AT)
			skipped++;
		if (r[i].nres == 2 && r[i].res.how == VSP_RESUME_CONTINUE) {
			stepped++;
			if (at < 0)
				at = i;
		}
	}
	printf("# skipped %d, stepped %d, first stepped at stop %d\n",
	       skipped, stepped, at);
	ok(at > 10 && at <= 10 + 32 + 1,
	   "tamper: noticed within one check period of the write");
	ok(skipped + stepped == 40 && stepped == 40 - at,
	   "tamper: every hit after it is stepped, none skipped");
	ok(count_lines(audit, "\"severity\":\"alert\"") == 1 &&
	   count_lines(audit, "\"name\":\"__x64_sys_openat\"") == 1 &&
	   count_lines(audit, "changed: 55 48 89 e5 90, was 0f 1f 44 00 00") == 1,
	   "tamper: one alert record naming the function and the bytes");
	ok(count_lines(audit, NULL) == 1, "tamper: nothing else in the audit log");
	int adds = 0;
	for (int i = 0; i < fk.nlog; i++)
		adds += fk.log[i] == K_OPENAT;
	ok(adds >= 3, "tamper: the trap re-armed after the write");
	vsp_policy_free(p);
	fclose(audit);
	unlink(pol);
	free(pol);
}

/* A backend that steps over its own traps (Xen) is resumed in place: no
 * removal, no single step that could swallow another vCPU's trap. */
static int stepper_attach(struct vsp_backend *be, const char *target)
{
	return fk_attach(be, target);
}

static void stepping_backend_run(const char *dir, const char *map)
{
	static const char text[] =
		"rule \"deny-shadow\": on syscall openat when path == \"/etc/shadow\"\n"
		"  : deny EACCES;\n";
	char *pol = write_tmp(dir, "s.vsp", text);
	fresh_guest();
	static const uint8_t code[5] = { 0x55, 0x48, 0x89, 0xe5, 0x90 };
	memcpy(fk.text + (K_OPENAT - K_TEXT), code, 5);
	for (int i = 0; i < 3; i++)
		syscall_stop(K_OPENAT, U_STR + 0x100);
	struct vsp_backend_ops ops = fk_ops;
	ops.attach = stepper_attach;
	ops.steps_over_traps = true;
	struct vsp_load_opts lo = { .mode = VSP_MODE_UNSET };
	const char *files[1] = { pol };
	struct vsp_policy *p = vsp_policy_load(files, 1, &lo, NULL);
	if (!p) {
		ok(0, "steps_over_traps: policy loads");
		return;
	}
	struct vsp_monitor_opts mo = {
		.ops = &ops, .target = "fake", .symbols = map,
		.policy = p, .quiet = true,
	};
	int q = quiet_begin();
	int rc = vsp_monitor_run(&mo);
	quiet_end(q);
	ok(rc == VSP_MON_OK, "steps_over_traps: the monitor ends with 0");
	bool cont = true;
	for (int i = 0; i < 3; i++)
		cont &= fk.rec[i].nres == 1 && fk.rec[i].res.how == VSP_RESUME_CONTINUE;
	ok(cont, "steps_over_traps: each hit resumed once, in place");
	ok(fk.nstep == 0 && fk.ndel == 0,
	   "steps_over_traps: no single step, no trap removed");
	vsp_policy_free(p);
	unlink(pol);
	free(pol);

	/* The stepping (GDB-like) backend on the same code removes, steps
	 * and re-adds. */
	pol = write_tmp(dir, "s.vsp", text);
	fresh_guest();
	memcpy(fk.text + (K_OPENAT - K_TEXT), code, 5);
	syscall_stop(K_OPENAT, U_STR + 0x100);
	files[0] = pol;
	p = vsp_policy_load(files, 1, &lo, NULL);
	ok(p != NULL, "second stepping policy loads");
	if (!p)
		return;
	mo.ops = &fk_ops;
	mo.policy = p;
	q = quiet_begin();
	rc = vsp_monitor_run(&mo);
	quiet_end(q);
	ok(fk.nstep == 1 && fk.ndel == 1 && fk.rec[0].nres == 2,
	   "without it: removed, stepped, re-added, continued");
	vsp_policy_free(p);
	unlink(pol);
	free(pol);
}

/* A policy naming a kind the backend does not trap is refused before the
 * monitor connects: it asks the capabilities, not the backend's name. */
static void caps_run(const char *dir, const char *map)
{
	static const char text[] =
		"rule \"g\": on syscall getpid : return 1;\n"
		"rule \"c\": on kernel do_syscall_64 : deny;\n";
	char *pol = write_tmp(dir, "c.vsp", text);
	struct vsp_load_opts lo = { .mode = VSP_MODE_UNSET };
	const char *files[] = { pol };
	struct vsp_policy *p = vsp_policy_load(files, 1, &lo, NULL);
	if (!p) {
		ok(0, "caps: policy loads");
		return;
	}
	fresh_guest();
	int nattach = fk_nattach;
	struct vsp_backend_ops ops = fk_ops;
	ops.caps.kinds = VSP_BE_KIND(KERNEL);
	struct vsp_monitor_opts mo = {
		.ops = &ops, .target = "fake", .symbols = map,
		.policy = p, .quiet = true,
	};
	fflush(stderr);
	int saved = dup(2);
	FILE *f = tmpfile();
	dup2(fileno(f), 2);
	int rc = vsp_monitor_run(&mo);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	char text_err[2048] = "";
	rewind(f);
	size_t n = fread(text_err, 1, sizeof text_err - 1, f);
	text_err[n] = 0;
	fclose(f);
	ok(rc == VSP_MON_POLICY, "caps: the monitor ends with the policy status");
	ok(strstr(text_err, "c.vsp:1:") && strstr(text_err, "rule \"g\": "
		  "syscall getpid cannot be trapped through the fake backend: "
		  "the backend has no way to trap events of this kind") != NULL,
	   "caps: the syscall the backend cannot trap is refused by its rule");
	ok(strstr(text_err, "do_syscall_64") == NULL,
	   "caps: the kernel function it traps is not refused");
	printf("# traps: %d\n", fk.max_traps);
	ok(fk_nattach == nattach && fk.max_traps == 0,
	   "caps: nothing attached, no trap placed");
	vsp_policy_free(p);
	unlink(pol);
	free(pol);
}

/* An attach through the Xen backend that fails prints libxc's reason, not
 * a bare errno string. */
static int xenish_attach(struct vsp_backend *be, const char *target)
{
	/* The real backend leaves its message (no Xen on this host, or no
	 * such domain); the failure itself is reported as EIO. */
	vsp_be_xen_ops.attach(be, target);
	be->priv = NULL;
	return -EIO;
}

static void xen_error_run(const char *dir, const char *map)
{
	static const char text[] = "rule \"g\": on syscall getpid : return 1;\n";
	char *pol = write_tmp(dir, "x.vsp", text);
	struct vsp_load_opts lo = { .mode = VSP_MODE_UNSET };
	const char *files[] = { pol };
	struct vsp_policy *p = vsp_policy_load(files, 1, &lo, NULL);
	if (!p) {
		ok(0, "xen error: policy loads");
		return;
	}
	struct vsp_backend_ops ops = fk_ops;
	ops.error = vsp_be_xen_ops.error;
	ops.attach = xenish_attach;
	struct vsp_monitor_opts mo = {
		.ops = &ops, .target = "nosuch-domain", .symbols = map,
		.policy = p, .quiet = true,
	};
	fflush(stderr);
	int saved = dup(2);
	FILE *f = tmpfile();
	dup2(fileno(f), 2);
	int rc = vsp_monitor_run(&mo);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	char line[1024] = "";
	rewind(f);
	if (!fgets(line, sizeof line, f))
		line[0] = 0;
	fclose(f);
	const char *why = vsp_be_xen_last_error();
	printf("# %s", line);
	ok(rc == VSP_MON_LOST, "xen error: cannot attach, exit 3");
	ok(why && *why && strstr(line, why) && !strstr(line, strerror(EIO)),
	   "xen error: the message is the Xen backend's, not strerror");
	vsp_policy_free(p);
	unlink(pol);
	free(pol);
}

/*
 * The path's page is not present at the syscall's entry: the decision
 * waits for getname's return and runs on the kernel's copy; a deny there
 * makes getname return the error.
 */
#define U_NP 0x7ffe0000ull	/* a page not present */
static void late_run(const char *dir, const char *map)
{
	static const char text[] =
		"rule \"deny-shadow\": on syscall openat when path == \"/etc/shadow\"\n"
		"  : deny EACCES;\n";
	char *pol = write_tmp(dir, "l.vsp", text);
	fresh_guest();
	syscall_stop(K_OPENAT, U_NP);				/* 0 */
	struct vsp_regs *g = syscall_stop(K_GETNAME, 0);	/* 1 */
	g->rdi = U_NP;
	g->rsp = K_STACK + 0x1d00;
	struct vsp_regs *gr = syscall_stop(K_GN_RET, 0);	/* 2 */
	gr->rip = K_GN_RET;
	gr->rax = K_FNAME;
	gr->rsp = K_STACK + 0x1d08;
	struct vsp_regs *pr = syscall_stop(K_GN_RET, 0);	/* 3 */
	pr->rip = K_GN_RET;
	pr->rax = 0x5555;	/* whatever putname left */
	pr->rsp = K_STACK + 0x1d08;
	uint8_t *stack = NULL;
	for (int i = 0; i < fk.nmem; i++)
		if (fk.mem[i].base == K_STACK)
			stack = fk.mem[i].data;
	put64(stack + 0x1d00, K_GN_RET);
	put64(stack + 0x1800, K_FNAME + 0x20);	/* ->name */
	put64(stack + 0x1808, U_NP);		/* ->uptr */
	strcpy((char *)stack + 0x1820, "/etc/shadow");

	struct vsp_load_opts lo = { .mode = VSP_MODE_UNSET };
	const char *files[] = { pol };
	struct vsp_policy *p = vsp_policy_load(files, 1, &lo, NULL);
	ok(p != NULL, "late: policy loads");
	if (!p)
		return;
	FILE *audit = tmpfile();
	struct vsp_monitor_opts mo = {
		.ops = &fk_ops, .target = "fake", .symbols = map,
		.policy = p, .audit = audit, .quiet = true,
	};
	int q = quiet_begin();
	int rc = vsp_monitor_run(&mo);
	quiet_end(q);
	struct rec *r = fk.rec;
	ok(rc == VSP_MON_OK, "late: the monitor ends with 0");
	ok(!r[0].regs_set && r[0].res.how == VSP_RESUME_AT,
	   "late: unreadable path at the entry: the call goes on for now");
	ok(!r[1].regs_set && r[1].res.how == VSP_RESUME_CONTINUE,
	   "late: getname's entry matched, its return trapped");
	ok(r[2].regs_set && r[2].set.rax == (uint64_t)-13 &&
	   r[2].set.rip == K_GN_RET && r[2].res.how == VSP_RESUME_CONTINUE,
	   "late: denied on the kernel's copy: getname returns -EACCES");
	ok(!fk_has_trap(K_GN_RET) && !fk_has_trap(K_GETNAME) && fk.stop == 3,
	   "late: helper traps gone; the guest runs on");
	ok(count_lines(audit, "\"verdict\":\"deny\"") == 1 &&
	   count_lines(audit, "\"path\":\"/etc/shadow\"") == 1 &&
	   count_lines(audit, NULL) == 1,
	   "late: one record, with the path the kernel copied");
	vsp_policy_free(p);
	fclose(audit);
	unlink(pol);
	free(pol);
}

/* A late decision that cannot be made at getname's return (here: the
 * kernel's copy of the path unreadable) is not made on the unreadable
 * path: getname returns ERR_PTR(-EAGAIN), so the call fails, and an alert
 * record says why. */
static void late_fail_run(const char *dir, const char *map)
{
	static const char text[] =
		"rule \"deny-shadow\": on syscall openat when path == \"/etc/shadow\"\n"
		"  : deny EACCES;\n";
	char *pol = write_tmp(dir, "lf.vsp", text);
	fresh_guest();
	syscall_stop(K_OPENAT, U_NP);				/* 0 */
	struct vsp_regs *g = syscall_stop(K_GETNAME, 0);	/* 1 */
	g->rdi = U_NP;
	g->rsp = K_STACK + 0x1d00;
	struct vsp_regs *gr = syscall_stop(K_GN_RET, 0);	/* 2 */
	gr->rip = K_GN_RET;
	gr->rax = K_FNAME;
	gr->rsp = K_STACK + 0x1d08;
	uint8_t *stack = NULL;
	for (int i = 0; i < fk.nmem; i++)
		if (fk.mem[i].base == K_STACK)
			stack = fk.mem[i].data;
	put64(stack + 0x1d00, K_GN_RET);
	put64(stack + 0x1800, 0x7fff00000000ull);	/* ->name: unmapped */
	put64(stack + 0x1808, U_NP);			/* ->uptr */

	struct vsp_load_opts lo = { .mode = VSP_MODE_UNSET };
	const char *files[] = { pol };
	struct vsp_policy *p = vsp_policy_load(files, 1, &lo, NULL);
	ok(p != NULL, "late fail: policy loads");
	if (!p)
		return;
	FILE *audit = tmpfile();
	struct vsp_monitor_opts mo = {
		.ops = &fk_ops, .target = "fake", .symbols = map,
		.policy = p, .audit = audit, .quiet = true,
	};
	int q = quiet_begin();
	vsp_monitor_run(&mo);
	quiet_end(q);
	struct rec *r = fk.rec;
	ok(r[2].regs_set && r[2].set.rax == (uint64_t)-11 &&
	   r[2].res.how == VSP_RESUME_CONTINUE,
	   "late fail: getname returns -EAGAIN, the call does not run");
	ok(count_lines(audit, "openat: the late decision could not be made "
		       "(cannot read the kernel's copy of the path): the call "
		       "failed with EAGAIN") == 1 &&
	   count_lines(audit, "\"verdict\":\"deny\"") == 0 &&
	   count_lines(audit, NULL) == 1,
	   "late fail: one alert record, no decision on the unreadable path");
	ok(!fk_has_trap(K_GN_RET) && !fk_has_trap(K_GETNAME),
	   "late fail: helper traps gone");
	vsp_policy_free(p);
	fclose(audit);
	unlink(pol);
	free(pol);
}

/* A redirect whose getname never comes (vsp detaches first) did not
 * reach the guest: its record says so (it used to say "applied":true). */
static void redirect_lost_run(const char *dir, const char *map)
{
	static const char text[] =
		"rule \"decoy\": on syscall openat when path == \"/etc/shadow\"\n"
		"  : redirect \"/etc/decoy\";\n";
	char *pol = write_tmp(dir, "rl.vsp", text);
	for (int i = 0; i < fk.nmem; i++)
		free(fk.mem[i].data);
	memset(&fk, 0, sizeof fk);
	setup_guest();
	fk.nstops = 0;
	syscall_stop(K_OPENAT, U_STR);	/* 0: then the guest ends */

	struct vsp_load_opts lo = { .mode = VSP_MODE_UNSET };
	const char *files[] = { pol };
	struct vsp_policy *p = vsp_policy_load(files, 1, &lo, NULL);
	ok(p != NULL, "redirect lost: policy loads");
	if (!p)
		return;
	FILE *audit = tmpfile();
	struct vsp_monitor_opts mo = {
		.ops = &fk_ops, .target = "fake", .symbols = map,
		.policy = p, .audit = audit, .quiet = true,
	};
	int q = quiet_begin();
	vsp_monitor_run(&mo);
	quiet_end(q);
	ok(count_lines(audit, "\"verdict\":\"redirect\"") == 1 &&
	   count_lines(audit, "\"applied\":false,\"not_applied\":\"the kernel's "
		       "copy of the path was not replaced: detached first\"") == 1 &&
	   count_lines(audit, "\"path\":\"/etc/shadow\"") == 1 &&
	   count_lines(audit, NULL) == 1,
	   "redirect lost: one record, applied false, detached first");
	vsp_policy_free(p);
	fclose(audit);
	unlink(pol);
	free(pol);
}

/* A deny that cannot be applied (the handler's stack is unreadable, so
 * no return can be emulated): the call must not run anyway.  Its task is
 * ended instead, and the record says "applied":false and why. */
static void unapplied_run(const char *dir, const char *map)
{
	static const char text[] =
		"rule \"no\": on syscall openat when path == \"/etc/shadow\"\n"
		"  : deny EACCES;\n";
	char *pol = write_tmp(dir, "u.vsp", text);
	for (int i = 0; i < fk.nmem; i++)
		free(fk.mem[i].data);
	memset(&fk, 0, sizeof fk);
	setup_guest();
	fk.nstops = 0;
	struct vsp_regs *st = syscall_stop(K_OPENAT, U_STR);	/* 0 */
	st->rsp = 0x7fff00000000ull;	/* nothing mapped there */

	struct vsp_load_opts lo = { .mode = VSP_MODE_UNSET };
	const char *files[] = { pol };
	struct vsp_policy *p = vsp_policy_load(files, 1, &lo, NULL);
	ok(p != NULL, "unapplied: policy loads");
	if (!p)
		return;
	FILE *audit = tmpfile();
	struct vsp_monitor_opts mo = {
		.ops = &fk_ops, .target = "fake", .symbols = map,
		.policy = p, .audit = audit, .quiet = true,
	};
	int q = quiet_begin();
	int rc = vsp_monitor_run(&mo);
	quiet_end(q);
	struct rec *r = fk.rec;
	ok(rc == VSP_MON_OK, "unapplied: the monitor ends with 0");
	ok(r[0].regs_set && r[0].set.rdi == 9 &&
	   r[0].set.rip == 0xffffffff81280000ull &&
	   r[0].res.how == VSP_RESUME_CONTINUE,
	   "unapplied: the call does not run: do_group_exit(SIGKILL) instead");
	ok(count_lines(audit, "\"verdict\":\"deny\"") == 1 &&
	   count_lines(audit, "\"applied\":false,\"not_applied\":\"the stack "
		       "is unreadable: its task was killed instead\"") == 1 &&
	   count_lines(audit, NULL) == 1,
	   "unapplied: one record, applied false, with the reason");
	vsp_policy_free(p);
	fclose(audit);
	unlink(pol);
	free(pol);
}

/* Events this guest cannot trap are refused before the monitor connects:
 * exit 1, no attach, no trap, every refused event named. */
static void refuse_run(const char *dir, const char *map)
{
	static const char text[] =
		"rule \"ok\": on syscall openat : allow;\n"
		"rule \"gone\": on kernel no_such_function : deny;\n"
		"rule \"nohandler\": on syscall uselib : deny;\n"
		"on user \"libc.so.6\":system : return 0;\n";
	char *pol = write_tmp(dir, "r.vsp", text);
	fresh_guest();
	struct vsp_load_opts lo = { .mode = VSP_MODE_UNSET };
	const char *files[1] = { pol };
	struct vsp_policy *p = vsp_policy_load(files, 1, &lo, NULL);
	ok(p != NULL, "refuse: the policy checks clean");
	if (!p)
		return;
	struct vsp_monitor_opts mo = {
		.ops = &fk_ops, .target = "fake", .symbols = map,
		.policy = p, .quiet = true,
	};
	fk_nattach = 0;
	FILE *err = tmpfile();
	int rc = run_into(&mo, err);
	ok(rc == VSP_MON_POLICY, "refuse: exit status 1");
	ok(fk_nattach == 0 && fk.max_traps == 0,
	   "refuse: never attached, no trap placed");
	ok(count_lines(err, "r.vsp:2:") == 1 &&
	   count_lines(err, "rule \"gone\": kernel no_such_function cannot be "
		       "trapped") == 1, "refuse: the kernel function, by rule and line");
	ok(count_lines(err, "r.vsp:3:") == 1 &&
	   count_lines(err, "no __x64_sys_uselib") == 1,
	   "refuse: the syscall without a handler, with the reason");
	ok(count_lines(err, "r.vsp:4:4: error: user \"libc.so.6\":system") == 1,
	   "refuse: the user event of an unnamed rule, by line and column");
	ok(count_lines(err, "r.vsp:1:") == 0, "refuse: the trappable event is not named");
	fclose(err);
	vsp_policy_free(p);
	unlink(pol);
	free(pol);
}

/*
 * No vmlinux: the ORC tables come from guest memory (K_ORC, named by the
 * symbol file).  Tables that hold up give call paths by ORC; tables the
 * guest has made unsorted refuse a policy whose rules read call paths --
 * every such rule named by its location, exit 3, no trap placed -- and do
 * not stand in the way of a policy that reads none.
 */
#define K_ORC 0xffffffff812f8000ull

static int orc_attach(const char *dir, const char *map, const char *name,
		      const char *text, bool swap, FILE *err, int *traps)
{
	char *pol = write_tmp(dir, name, text);
	fresh_guest();
	for (int i = 0; i < 3; i++)
		syscall_stop(K_OPENAT, U_STR + 0x100);
	/* Four entries: ips (relative to their own slot), then ORC
	 * entries (sp_off 8 from rsp, a call frame). */
	static const uint64_t ips[4] = { K_TEXT, 0xffffffff81002000ull, K_OPENAT,
					 K_GETPID };
	uint8_t *t = fk.text + (K_ORC - K_TEXT);
	for (int i = 0; i < 4; i++) {
		int j = swap && i >= 1 && i <= 2 ? 3 - i : i;
		int32_t rel = (int32_t)(ips[j] - (K_ORC + 4 * (uint64_t)i));
		memcpy(t + 4 * i, &rel, 4);
		static const uint8_t e[6] = { 8, 0, 0, 0, 0x05, 0x02 };
		memcpy(t + 16 + 6 * i, e, 6);
	}
	struct vsp_load_opts lo = { .mode = VSP_MODE_UNSET };
	const char *files[1] = { pol };
	struct vsp_policy *p = vsp_policy_load(files, 1, &lo, NULL);
	int rc = -1;
	if (p) {
		struct vsp_monitor_opts mo = {
			.ops = &fk_ops, .target = "fake", .symbols = map,
			.policy = p,
		};
		rc = run_into(&mo, err);
		vsp_policy_free(p);
	}
	*traps = fk.max_traps;
	unlink(pol);
	free(pol);
	return rc;
}

static void orc_run(const char *dir)
{
	char text[sizeof symbols_text + 512];
	snprintf(text, sizeof text, "%s"
		 "ffffffff812f8000 R __start_orc_unwind_ip\n"
		 "ffffffff812f8010 R __stop_orc_unwind_ip\n"
		 "ffffffff812f8010 R __start_orc_unwind\n"
		 "ffffffff812f8028 R __stop_orc_unwind\n", symbols_text);
	char *map = write_tmp(dir, "orc.map", text);
	static const char paths[] =
		"rule \"ok\": on syscall getpid : allow;\n"
		"rule \"paths\": on syscall openat\n"
		"  must arise from \"do_syscall_64 <- *\" : deny EPERM;\n";
	static const char plain[] = "rule \"g\": on syscall getpid : deny EPERM;\n";
	int traps;
	FILE *err = tmpfile();
	int rc = orc_attach(dir, map, "orc1.vsp", paths, false, err, &traps);
	ok(rc == VSP_MON_OK && traps > 0 &&
	   count_lines(err, "call paths by the guest's own ORC tables (4 entries") == 1,
	   "ORC from guest memory: the tables that hold up are used");
	fclose(err);

	err = tmpfile();
	rc = orc_attach(dir, map, "orc2.vsp", paths, true, err, &traps);
	ok(rc == VSP_MON_LOST, "unsorted ORC tables, call-path rules: exit 3");
	ok(traps == 0, "unsorted ORC tables: no trap placed");
	ok(count_lines(err, "orc2.vsp:2:") == 1 &&
	   count_lines(err, "rule \"paths\": syscall openat cannot be trapped") == 1 &&
	   count_lines(err, "read the call path (must arise from) and no call "
		       "paths can be rebuilt here: the guest's ORC tables do not "
		       "hold up") == 1,
	   "unsorted ORC tables: the rule reading paths named by its location");
	ok(count_lines(err, "orc2.vsp:1:") == 0,
	   "unsorted ORC tables: the rule reading no path is not named");
	ok(count_lines(err, "refusing: the guest's ORC tables do not hold up "
		       "(ORC: entry 2 (0xffffffff81002000) is below entry 1") == 1,
	   "unsorted ORC tables: the message says what is wrong");
	fclose(err);

	err = tmpfile();
	rc = orc_attach(dir, map, "orc3.vsp", plain, true, err, &traps);
	ok(rc == VSP_MON_OK && traps > 0 &&
	   count_lines(err, "call paths by") == 0,
	   "unsorted ORC tables, no rule reads paths: attached, tables not read");
	fclose(err);
	unlink(map);
	free(map);
}


/* A watch stop of a write of `val` at `at` by the writer on `stack`. */
static struct vsp_regs *watch_stop(uint64_t at, uint8_t val, uint64_t stack)
{
	struct vsp_regs *r = syscall_stop(K_WRITER + 0x20, 0);
	r->rsp = stack;
	fk.watch[fk.nstops - 1].on = true;
	fk.watch[fk.nstops - 1].at = at;
	fk.watch[fk.nstops - 1].val = val;
	return r;
}

/* Runs the policy `text` on the stops set up so far; stderr in err. */
static int watch_run(const char *dir, const char *map, const char *text,
		     FILE *audit, FILE *err)
{
	char *pol = write_tmp(dir, "w.vsp", text);
	struct vsp_load_opts lo = { .mode = VSP_MODE_UNSET };
	const char *files[1] = { pol };
	struct vsp_policy *p = vsp_policy_load(files, 1, &lo, NULL);
	ok(p != NULL, "write: the policy loads");
	if (!p)
		return -1;
	struct vsp_backend_ops ops = fk_ops;
	ops.caps.kinds |= VSP_BE_KIND(WRITE);
	ops.caps.watchpoints = true;
	ops.watch_add = fk_watch_add;
	ops.watch_del = fk_watch_del;
	struct vsp_monitor_opts mo = {
		.ops = &ops, .target = "fake", .symbols = map,
		.policy = p, .audit = audit, .quiet = true,
	};
	int rc = run_into(&mo, err);
	vsp_policy_free(p);
	unlink(pol);
	free(pol);
	return rc;
}

/*
 * Writes to modprobe_path through watch stops: a string copied byte by
 * byte is one write, denied at its first changed byte and put back byte
 * by byte, with one record; another writer's write is an event of its
 * own; a byte written with its old value is no event.
 */
static void write_run(const char *dir, const char *map)
{
	const uint64_t s1 = K_STACK + 0x1e00, s2 = K_STACK + 0x81e00;
	fresh_guest();
	fk.write_mem = true;
	const char *evil = "/tmp/x";
	for (int i = 0; evil[i]; i++)	/* '/' first: the old byte */
		watch_stop(K_DATA + (uint64_t)i, (uint8_t)evil[i], s1);
	watch_stop(K_DATA + 6, 0, s1);
	watch_stop(K_DATA + 3, 'X', s2);	/* another task */
	FILE *audit = tmpfile(), *err = tmpfile();
	int rc = watch_run(dir, map, "rule \"mp\": on write modprobe_path\n"
			   "  : deny, alert \"%{offset} %{len} %{value} %{old}\";\n",
			   audit, err);
	ok(rc == VSP_MON_OK, "write: the monitor ends with 0");
	uint8_t *data = NULL;
	for (int i = 0; i < fk.nmem; i++)
		if (fk.mem[i].base == K_DATA)
			data = fk.mem[i].data;
	ok(data && strcmp((char *)data, "/sbin/modprobe") == 0,
	   "write: every byte denied is put back: %s", data ? (char *)data : "?");
	ok(count_lines(audit, "\"rule\":\"mp\",\"verdict\":\"deny\"") == 2,
	   "write: two records, one per write, not per byte");
	ok(count_lines(audit, "\"msg\":\"1 1 0x74 0x73\"") == 1,
	   "write: the first write's record: offset 1, 't' over 's'");
	ok(count_lines(audit, "\"msg\":\"3 1 0x58 0x69\"") == 1,
	   "write: the other writer's, an event of its own");
	ok(count_lines(audit, "\"offset\":1,\"len\":1,\"value\":116,\"old\":115") == 1,
	   "write: the record's event has offset, len, value and old");
	ok(fk.nwps == 1 && fk.wps[0][0] == K_DATA && fk.wps[0][1] == 0x100,
	   "write: one watchpoint over the object, up to the next symbol");
	fclose(audit);
	fclose(err);

	/* Allowed: the shadow follows, so the next write's old is exact. */
	fresh_guest();
	fk.write_mem = true;
	watch_stop(K_DATA + 1, 'T', s1);
	watch_stop(K_DATA + 1, 'U', s2);
	audit = tmpfile();
	err = tmpfile();
	rc = watch_run(dir, map, "on write modprobe_path : log \"%{value} %{old}\";\n",
		       audit, err);
	ok(count_lines(audit, "\"msg\":\"0x54 0x73\"") == 1 &&
	   count_lines(audit, "\"msg\":\"0x55 0x54\"") == 1,
	   "write: allowed writes stand and old follows them");
	fclose(audit);
	fclose(err);

	/* kill on a guest whose way back to user space vsp does not know
	 * (no syscall_exit_to_user_mode, no BTF): the write undone, the
	 * record says why the writer was not killed. */
	fresh_guest();
	fk.write_mem = true;
	watch_stop(K_DATA + 1, 'T', s1);
	audit = tmpfile();
	err = tmpfile();
	rc = watch_run(dir, map, "on write modprobe_path : kill;\n", audit, err);
	for (int i = 0; i < fk.nmem; i++)
		if (fk.mem[i].base == K_DATA)
			data = fk.mem[i].data;
	ok(strcmp((char *)data, "/sbin/modprobe") == 0 &&
	   count_lines(audit, "\"applied\":false") == 1 &&
	   count_lines(audit, "way back to user space is not known: the write "
		       "was undone, its writer not killed") == 1,
	   "write: kill undoes the write and says the writer lives");
	fclose(audit);
	fclose(err);

	/* A table: each element written is its own event. */
	fresh_guest();
	fk.write_mem = true;
	watch_stop(K_SCT + 8 * 2, 0x41, s1);
	watch_stop(K_SCT + 8 * 3, 0x42, s1);
	audit = tmpfile();
	err = tmpfile();
	rc = watch_run(dir, map, "on write hook_table[0..7] : deny, log \"%{offset} %{len}\";\n",
		       audit, err);
	ok(count_lines(audit, "\"msg\":\"16 8\"") == 1 &&
	   count_lines(audit, "\"msg\":\"24 8\"") == 1,
	   "write: table elements are events of their own, 8 bytes each");
	fclose(audit);
	fclose(err);

	/* A KVM-like stub: 4 watchpoints of 8 bytes.  64 bytes need 8. */
	fresh_guest();
	fk.max_wps = 4;
	audit = tmpfile();
	err = tmpfile();
	rc = watch_run(dir, map, "rule \"t\": on write hook_table[0..7] : deny;\n",
		       audit, err);
	ok(rc == VSP_MON_POLICY, "write: too few watchpoints: exit 1");
	ok(count_lines(err, "w.vsp:1:") == 1 &&
	   count_lines(err, "rule \"t\": write hook_table[0..7] cannot be "
		       "trapped through the fake backend: it needs 8 write "
		       "watchpoints of 8 bytes and the hypervisor took 4") == 1,
	   "write: refused by rule and location, with both counts");
	ok(fk.nwps == 0, "write: nothing left placed");
	fclose(audit);
	fclose(err);
}

/* CR0.WP cleared at a stop: one alert, on stderr and in the audit log,
 * and the events still decided. */
static void integrity_run(const char *dir, const char *map)
{
	static const char text[] = "rule \"p\": on syscall getpid : return 7;\n";
	char *pol = write_tmp(dir, "i.vsp", text);
	fresh_guest();
	fk.regs.cr4 = 0x6f0 | (1u << 20) | (1u << 21);
	syscall_stop(K_GETPID, 0)->cr4 = fk.regs.cr4;
	syscall_stop(K_GETPID, 0)->cr0 &= ~(1ull << 16);
	fk.stops[1].cr4 = fk.regs.cr4;
	syscall_stop(K_GETPID, 0)->cr0 &= ~(1ull << 16);
	fk.stops[2].cr4 = fk.regs.cr4;
	syscall_stop(K_GETPID, 0)->cr4 = 0x6f0;
	struct vsp_load_opts lo = { .mode = VSP_MODE_UNSET };
	const char *files[1] = { pol };
	struct vsp_policy *p = vsp_policy_load(files, 1, &lo, NULL);
	FILE *audit = tmpfile(), *err = tmpfile();
	struct vsp_monitor_opts mo = {
		.ops = &fk_ops, .target = "fake", .symbols = map,
		.policy = p, .audit = audit, .quiet = true, .stats = true,
	};
	int rc = run_into(&mo, err);
	ok(rc == VSP_MON_OK, "integrity: the monitor ends with 0");
	ok(count_lines(err, "alert: CR0.WP cleared") == 1,
	   "integrity: CR0.WP cleared reported once on stderr");
	ok(count_lines(err, "CR4.SMEP cleared; CR4.SMAP cleared") == 1,
	   "integrity: SMEP and SMAP cleared reported");
	ok(count_lines(audit, "\"severity\":\"alert\"") == 2 &&
	   count_lines(audit, "CR0.WP cleared") == 1,
	   "integrity: an alert record per change in the audit log");
	ok(count_lines(audit, "\"rule\":\"p\",\"verdict\":\"return\"") == 4,
	   "integrity: every event still decided");
	ok(count_lines(err, "integrity:          5 checks, 0 reads") == 1,
	   "integrity: stops within a second read no code (rate-limited)");
	fclose(audit);
	fclose(err);
	vsp_policy_free(p);
	unlink(pol);
	free(pol);
}

/*
 * A kernel with the XSA-466 change: no hypercall page, both vendors'
 * stubs, and the guest calls the one its CPU wants (here the second,
 * AMD's).  Both are hypercall traps: a call through either is an event, a
 * deny returns to the caller, an allowed call and one no rule names go on
 * in place.
 */
#define K_HC_INTEL 0xffffffff81001000ull
#define K_HC_AMD 0xffffffff81001040ull

static void stub_run(const char *dir)
{
	static const char text[] =
		"rule \"big-mmu\": on hypercall mmu_update when count > 100 : deny EPERM;\n"
		"rule \"ver\": on hypercall xen_version : log \"cmd %{cmd}\";\n";
	char *pol = write_tmp(dir, "h.vsp", text);
	/* symbols_text with the AMD stub where the hypercall page was, and
	 * the same with the Intel stub added. */
	static const char page[] = "ffffffff81001000 T hypercall_page\n";
	char amd[sizeof symbols_text + 64], both[sizeof symbols_text + 128];
	const char *at = strstr(symbols_text, page);
	snprintf(amd, sizeof amd, "%.*sffffffff81001040 T xen_hypercall_amd\n%s",
		 (int)(at - symbols_text), symbols_text, at + sizeof page - 1);
	snprintf(both, sizeof both, "%sffffffff81001000 T xen_hypercall_intel\n",
		 amd);
	char *map2 = write_tmp(dir, "amd.map", amd);
	char *intel = write_tmp(dir, "stubs.map", both);
	fresh_guest();
	struct vsp_regs *h = syscall_stop(K_HC_AMD, 0);	/* 0: denied */
	h->rax = 1;
	h->rsi = 200;
	h = syscall_stop(K_HC_AMD, 0);				/* 1: allowed */
	h->rax = 1;
	h->rsi = 5;
	h = syscall_stop(K_HC_AMD, 0);				/* 2: no rule */
	h->rax = 29;
	h = syscall_stop(K_HC_AMD, 0);				/* 3: logged */
	h->rax = 17;
	h->rdi = 6;
	h = syscall_stop(K_HC_INTEL, 0);			/* 4: the other */
	h->rax = 17;
	h->rdi = 0x100000002ull;	/* int cmd: Xen reads the low half */
	struct vsp_backend_ops ops = fk_ops;
	ops.steps_over_traps = true;
	struct vsp_load_opts lo = { .mode = VSP_MODE_UNSET };
	const char *files[1] = { pol };
	struct vsp_policy *p = vsp_policy_load(files, 1, &lo, NULL);
	if (!p) {
		ok(0, "stubs: policy loads");
		return;
	}
	FILE *audit = tmpfile();
	struct vsp_monitor_opts mo = {
		.ops = &ops, .target = "fake", .symbols = intel,
		.policy = p, .audit = audit, .quiet = true,
	};
	int q = quiet_begin();
	int rc = vsp_monitor_run(&mo);
	quiet_end(q);
	struct rec *r = fk.rec;
	ok(rc == VSP_MON_OK, "stubs: the monitor ends with 0");
	bool hi = false, ha = false;
	for (int i = 0; i < fk.nlog; i++) {
		hi |= fk.log[i] == K_HC_INTEL;
		ha |= fk.log[i] == K_HC_AMD;
	}
	ok(fk.max_traps == 2 && hi && ha,
	   "stubs: both stubs trapped, nothing else");
	ok(r[0].regs_set && r[0].set.rax == (uint64_t)-1 && r[0].set.rip == K_RET,
	   "stubs: a deny through the AMD stub returns -EPERM to the caller");
	ok(!r[1].regs_set && r[1].nres == 1 &&
	   r[1].res.how == VSP_RESUME_CONTINUE,
	   "stubs: an allowed call goes on in place");
	ok(!r[2].regs_set && r[2].nres == 1 &&
	   r[2].res.how == VSP_RESUME_CONTINUE,
	   "stubs: a hypercall no rule names goes on in place");
	ok(count_lines(audit, "\"rule\":\"big-mmu\",\"verdict\":\"deny\",\"errno\":1") == 1 &&
	   count_lines(audit, "\"msg\":\"cmd 6\"") == 1 &&
	   count_lines(audit, "\"msg\":\"cmd 2\"") == 1 &&
	   count_lines(audit, NULL) == 3,
	   "stubs: events from both stubs, with their named arguments");
	vsp_policy_free(p);
	fclose(audit);

	/* A kernel with the AMD stub only: it is the site itself. */
	fresh_guest();
	h = syscall_stop(K_HC_AMD, 0);
	h->rax = 1;
	h->rsi = 200;
	p = vsp_policy_load(files, 1, &lo, NULL);
	ok(p != NULL, "stubs: second policy loads");
	if (!p)
		return;
	mo.symbols = map2;
	mo.policy = p;
	mo.audit = NULL;
	q = quiet_begin();
	rc = vsp_monitor_run(&mo);
	quiet_end(q);
	ok(rc == VSP_MON_OK && fk.max_traps == 1 && fk.rec[0].regs_set &&
	   fk.rec[0].set.rax == (uint64_t)-1,
	   "stubs: the AMD stub alone is trapped and denies");
	vsp_policy_free(p);
	unlink(pol);
	unlink(map2);
	unlink(intel);
	free(pol);
	free(map2);
	free(intel);
}

int main(void)
{
	char dir[] = "/tmp/vsp-t-monitor.XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char *pol = write_tmp(dir, "p.vsp", policy_text);
	char *map = write_tmp(dir, "System.map", symbols_text);
	setup_guest();

	struct vsp_load_opts lo = { .mode = VSP_MODE_UNSET };
	const char *files[] = { pol };
	struct vsp_policy *p = vsp_policy_load(files, 1, &lo, NULL);
	ok(p != NULL, "policy loads");
	if (!p) {
		return done();
	}
	FILE *audit = tmpfile();
	struct vsp_monitor_opts mo = {
		.ops = &fk_ops, .target = "fake", .symbols = map,
		.policy = p, .audit = audit, .quiet = true,
	};
	int q = quiet_begin();
	int rc = vsp_monitor_run(&mo);
	quiet_end(q);
	ok(rc == VSP_MON_OK, "the monitor ends with 0 when the guest exits");
	/* The cut string of the last stop also arms getname's entry, for a
	 * decision on the kernel's copy that never comes (the guest ends). */
	ok(fk.max_traps == 4, "traps: openat, getpid, mmu_update's entry, "
	   "and getname for the unreadable path");
	ok(fk.detached && !fk.stay, "detached, guest resumed");

	struct rec *r = fk.rec;
	ok(r[0].regs_set && r[0].set.rax == (uint64_t)-13,
	   "deny: rax = -EACCES");
	ok(r[0].set.rip == K_RET && r[0].set.rsp == K_STACK + 0x1e08,
	   "deny: returned to the caller, rsp past the return address");
	ok(r[0].nres == 1 && r[0].res.how == VSP_RESUME_CONTINUE,
	   "deny: one resume, from the new rip");

	ok(!r[1].regs_set, "allow: registers untouched");
	ok(r[1].res.how == VSP_RESUME_AT && r[1].res.addr == K_OPENAT + 5,
	   "allow: resumed past the 5-byte NOP, trap left in place");

	ok(r[2].regs_set && r[2].set.rax == 4242 && r[2].set.rip == K_RET,
	   "return: rax = 4242, back in the caller");

	ok(r[3].regs_set && r[3].set.rax == (uint64_t)-1 && r[3].set.rip == K_RET,
	   "hypercall deny: -EPERM, back in the caller without entering Xen");
	ok(r[4].regs_set && r[4].set.rax == 1 &&
	   r[4].set.rip == K_HPAGE + 32 + 5,
	   "hypercall allow: the entry's mov emulated, rip past it");

	ok(!r[5].regs_set && r[5].res.addr == K_OPENAT + 5,
	   "a string cut by unmapped memory: on to getname for a late decision");

	rewind(audit);
	char line[4096];
	int n = 0;
	bool deny = false, ret = false, hdeny = false, cut = false;
	while (fgets(line, sizeof line, audit)) {
		n++;
		deny |= strstr(line, "\"rule\":\"deny-shadow\",\"verdict\":\"deny\"") != NULL;
		ret |= strstr(line, "\"rule\":\"fake-pid\",\"verdict\":\"return\",\"value\":4242") != NULL;
		hdeny |= strstr(line, "\"rule\":\"big-mmu\",\"verdict\":\"deny\",\"errno\":1") != NULL;
		/* The guest ends before getname: never decided on the
		 * unreadable path, audited as an alert instead. */
		cut |= strstr(line, "\"rule\":null") != NULL &&
		       strstr(line, "\"severity\":\"alert\"") != NULL &&
		       strstr(line, "openat: no late decision (detached first): "
			      "the call was not decided") != NULL;
	}
	ok(n == 4, "four audit records");
	ok(deny && ret && hdeny, "deny, return and hypercall deny recorded");
	ok(cut, "the late call that never reached getname: an alert, not a "
	   "decision on the unreadable path");

	vsp_policy_free(p);
	fclose(audit);
	second_run(dir, map);
	tamper_run(dir, map);
	late_run(dir, map);
	unapplied_run(dir, map);
	late_fail_run(dir, map);
	redirect_lost_run(dir, map);
	stepping_backend_run(dir, map);
	caps_run(dir, map);
	xen_error_run(dir, map);
	refuse_run(dir, map);
	orc_run(dir);
	write_run(dir, map);
	integrity_run(dir, map);
	stub_run(dir);
	unlink(pol);
	unlink(map);
	rmdir(dir);
	free(pol);
	free(map);
	return done();
}
