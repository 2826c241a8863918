/*
 * fuzz_monitor.c: fuzz target for the attach loop (vmi/monitor.c) reading
 * a hostile guest.
 *
 * The monitor is where guest memory meets the engine: at each trap it
 * reads the handler's pt_regs, the user strings they point at (the string
 * reader behind `path` and friends), the kernel stack for call paths, and
 * then writes registers and guest memory to apply a verdict.  This target
 * plays a guest behind a backend of its own (struct vsp_backend_ops):
 * kernel text with ftrace NOPs at fixed functions, and a kernel stack and
 * a user page filled from the input with unmapped holes; the input also
 * scripts the stops (where the vCPU stopped, its registers, stops the
 * monitor did not cause) and which backend operations fail.
 *
 * Invariants: the monitor returns one of its exit statuses; it detaches
 * every time; it never writes guest memory outside the regions it read
 * from; and it never waits again after being told the guest is gone.
 *
 * Input: 1 byte of failures to inject, 1 byte of stop count, 16 bytes per
 * stop (at most 12), 4 bytes of hole bitmap, then the stack (8 KiB) and
 * the user page (4 KiB).
 */
#include <errno.h>
#include <unistd.h>

#include "fz_common.h"
#include "vmi/backend.h"
#include "vmi/monitor.h"

#define M_TEXT 0xffffffff81000000ull
#define M_TEXT_LEN 0x300000
#define M_HPAGE 0xffffffff81001000ull
#define M_STACK 0xffffc90000010000ull
#define M_STACK_LEN 0x2000
#define M_USER 0x7fff0000ull
#define M_USER_LEN 0x1000
#define M_MAX_STOPS 12

static const char fz_map_text[] =
	"ffffffff81000000 T _text\n"
	"ffffffff81000000 T _stext\n"
	"ffffffff81000100 T __fentry__\n"
	"ffffffff81001000 T hypercall_page\n"
	"ffffffff81002000 T do_syscall_64\n"
	"ffffffff81003000 T entry_SYSCALL_64_after_hwframe\n"
	"ffffffff81200000 T __x64_sys_openat\n"
	"ffffffff81200100 T __x64_sys_getpid\n"
	"ffffffff81200200 T __x64_sys_execve\n"
	"ffffffff81200300 T __x64_sys_kill\n"
	"ffffffff81200400 T __ia32_compat_sys_openat\n"
	"ffffffff81200500 T __ia32_sys_getpid\n"
	"ffffffff81240000 T commit_creds\n"
	"ffffffff81280000 T do_group_exit\n"
	"ffffffff81280100 T force_sig\n"
	"ffffffff81290000 T getname\n"
	"ffffffff812f0000 T _etext\n";

static const uint64_t fz_stop_at[] = {
	0xffffffff81200000ull, 0xffffffff81200100ull, 0xffffffff81200200ull,
	0xffffffff81200300ull, 0xffffffff81240000ull, 0xffffffff81290000ull,
	0xffffffff81002400ull, M_HPAGE + 32 * 1, M_HPAGE + 32 * 26,
	M_HPAGE + 32 * 63, 0xffffffff81200005ull, M_TEXT + 0x10,
	0xffffffff81200400ull, 0xffffffff81200500ull,
};

static const char fz_policy_text[] =
	"rule \"deny\": on syscall openat when path matches \"/etc/**\" : deny EACCES, alert \"%{path}\";\n"
	"rule \"redir\": on syscall openat when path endswith \"/x\" : redirect \"/etc/decoy\";\n"
	"rule \"kill\": on syscall execve when path startswith \"/tmp/\" : kill;\n"
	"rule \"pid\": on syscall getpid when proc.pid > 100 : return 4242;\n"
	"rule \"freeze\": on syscall kill when arg1 == 19 : pause;\n"
	"rule \"mmu\": on hypercall mmu_update when count > 100 : deny EPERM;\n"
	"rule \"creds\": on kernel commit_creds must arise from \"__sys_setuid <- **\" : deny EPERM, log;\n"
	"rule \"cut\": on syscall openat, execve when event.partial : log \"cut %{path}\";\n";

static struct {
	uint8_t *text;
	uint8_t stack[M_STACK_LEN], user[M_USER_LEN];
	uint32_t holes;		/* user page: bit i unmapped 128-byte piece */
	uint8_t fail;
	struct vsp_regs stops[M_MAX_STOPS];
	uint8_t kinds[M_MAX_STOPS];
	int nstops, stop, waits;
	struct vsp_regs regs;
	bool gone, detached;
	int ntraps;
} fm;

static char fz_map_path[64];
static struct vsp_policy *fz_pol;
static FILE *fz_null;

enum {
	FAIL_TRAP = 1, FAIL_READ = 2, FAIL_REGS_SET = 4, FAIL_RESUME = 8,
	FAIL_WRITE = 16, FAIL_REGS_GET = 32, FAIL_WAIT = 64
};

static int fm_attach(struct vsp_backend *be, const char *target)
{
	be->ncpus = 1 + (fm.fail >> 7);
	return 0;
}

static int fm_trap_add(struct vsp_backend *be, uint64_t addr)
{
	if (fm.fail & FAIL_TRAP && fm.ntraps >= 2)
		return -EIO;
	fm.ntraps++;
	return 0;
}

static int fm_trap_del(struct vsp_backend *be, uint64_t addr)
{
	fm.ntraps--;
	return 0;
}

/* How many bytes from gva on are mapped, and where they are. */
static uint8_t *fm_map(uint64_t gva, size_t *avail, bool *user)
{
	*user = false;
	if (gva >= M_TEXT && gva - M_TEXT < M_TEXT_LEN) {
		*avail = M_TEXT_LEN - (size_t)(gva - M_TEXT);
		return fm.text + (gva - M_TEXT);
	}
	if (gva >= M_STACK && gva - M_STACK < M_STACK_LEN) {
		*avail = M_STACK_LEN - (size_t)(gva - M_STACK);
		return fm.stack + (gva - M_STACK);
	}
	if (gva >= M_USER && gva - M_USER < M_USER_LEN) {
		size_t off = (size_t)(gva - M_USER), n = 0;
		while (off + n < M_USER_LEN && !(fm.holes >> ((off + n) / 128) & 1))
			n++;
		*avail = n;
		*user = true;
		return fm.user + off;
	}
	*avail = 0;
	return NULL;
}

static long fm_read(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
		    void *buf, size_t len)
{
	size_t avail;
	bool user;
	uint8_t *p = fm_map(gva, &avail, &user);

	/* vcpu is whatever this backend reported (a GDB stub's thread
	 * number can exceed the thread count it gave), so any is accepted. */
	if (user && fm.fail & FAIL_READ)
		return -EIO;
	if (!p || !avail)
		return -EFAULT;
	if (avail > len)
		avail = len;
	memcpy(buf, p, avail);
	return (long)avail;
}

static long fm_write(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
		     const void *buf, size_t len)
{
	size_t avail;
	bool user;
	uint8_t *p = fm_map(gva, &avail, &user);

	if (fm.fail & FAIL_WRITE)
		return -EIO;
	if (!p || avail < len)
		return -EFAULT;
	if (gva >= M_TEXT && gva - M_TEXT < M_TEXT_LEN)
		FZ_FAIL("the monitor wrote kernel text at %#llx",
			(unsigned long long)gva);
	memcpy(p, buf, len);
	return (long)len;
}

static int fm_regs_get(struct vsp_backend *be, uint32_t vcpu,
		       struct vsp_regs *r)
{
	if (fm.fail & FAIL_REGS_GET && fm.stop == 1)
		return -EIO;
	*r = fm.regs;
	return 0;
}

static int fm_regs_set(struct vsp_backend *be, uint32_t vcpu,
		       const struct vsp_regs *r)
{
	if (fm.fail & FAIL_REGS_SET)
		return -ENOTCONN;
	fm.regs = *r;
	return 0;
}

static int fm_wait(struct vsp_backend *be, struct vsp_stop *st, int timeout_ms)
{
	memset(st, 0, sizeof(*st));
	if (fm.gone)
		FZ_FAIL("wait after the guest was reported gone");
	if (++fm.waits > 4 * M_MAX_STOPS + 8)
		FZ_FAIL("the monitor keeps waiting (%d waits)", fm.waits);
	if (fm.stop + 1 >= fm.nstops) {
		if (fm.fail & FAIL_WAIT)
			return -ENOTCONN;
		fm.gone = true;
		st->kind = VSP_STOP_EXITED;
		return 0;
	}
	fm.stop++;
	fm.regs = fm.stops[fm.stop];
	st->kind = fm.kinds[fm.stop] % 8 < 5 ? VSP_STOP_TRAP :
		(enum vsp_stop_kind)(fm.kinds[fm.stop] % 8 - 4);
	st->vcpu = fm.kinds[fm.stop] >> 7;
	st->addr = fm.regs.rip;
	st->code = 5;
	if (st->kind == VSP_STOP_EXITED)
		fm.gone = true;
	return 0;
}

static int fm_resume(struct vsp_backend *be, uint32_t vcpu,
		     const struct vsp_resume *how)
{
	return fm.fail & FAIL_RESUME && fm.stop == 2 ? -ENOTCONN : 0;
}

static int fm_interrupt(struct vsp_backend *be)
{
	return 0;
}

static void fm_detach(struct vsp_backend *be, bool stay_paused)
{
	fm.detached = true;
}

static const struct vsp_backend_ops fm_ops = {
	.name = "fuzz",
	.caps = { .kinds = VSP_BE_KIND(SYSCALL) | VSP_BE_KIND(KERNEL) |
			   VSP_BE_KIND(HYPERCALL), .single_step = true },
	.attach = fm_attach, .trap_add = fm_trap_add,
	.trap_del = fm_trap_del, .read = fm_read, .write = fm_write,
	.regs_get = fm_regs_get, .regs_set = fm_regs_set, .wait = fm_wait,
	.resume = fm_resume, .interrupt = fm_interrupt, .detach = fm_detach,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint8_t nop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
	struct vsp_load_opts o = { .mode = VSP_MODE_UNSET };

	fz_null = fopen("/dev/null", "w");
	/* int3 between functions, as the kernel pads: the unwinder's code
	 * analysis stops there instead of decoding megabytes of zeros. */
	fm.text = malloc(M_TEXT_LEN);
	if (!fm.text)
		FZ_FAIL("out of memory");
	memset(fm.text, 0xcc, M_TEXT_LEN);
	/* Functions open with ftrace's NOP, as in the running kernel. */
	for (const char *l = fz_map_text; *l; l = strchr(l, '\n') + 1) {
		uint64_t a = strtoull(l, NULL, 16);
		if (a - M_TEXT + 5 <= M_TEXT_LEN && a != M_HPAGE)
			memcpy(fm.text + (a - M_TEXT), nop5, 5);
	}
	/* Hypercall page: entry i is mov $i,%eax; vmcall; ret. */
	for (int i = 0; i < 64; i++) {
		uint8_t *e = fm.text + (M_HPAGE - M_TEXT) + 32 * i;
		e[0] = 0xb8, e[1] = (uint8_t)i, e[2] = e[3] = e[4] = 0;
		e[5] = 0x0f, e[6] = 0x01;
		e[7] = 0xc1, e[8] = 0xc3;
	}
	/* do_syscall_64 calls the handlers (a call before 0x...2400). */
	fm.text[0x2400 - 5] = 0xe8;

	int fd = memfd_create("System.map", 0);
	if (fd < 0 || write(fd, fz_map_text, sizeof(fz_map_text) - 1) < 0)
		FZ_FAIL("symbol map");
	snprintf(fz_map_path, sizeof(fz_map_path), "/proc/self/fd/%d", fd);
	fz_pol = fz_policy_load(fz_policy_text, sizeof(fz_policy_text) - 1, &o);
	if (!fz_pol)
		FZ_FAIL("the monitor fuzzer's own policy does not load");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };

	if (!fz_pol)
		LLVMFuzzerInitialize(NULL, NULL);
	fm.fail = fz_u8(&in);
	fm.nstops = fz_u8(&in) % (M_MAX_STOPS + 1);
	fm.stop = -1;
	fm.waits = 0;
	fm.gone = fm.detached = false;
	fm.ntraps = 0;
	for (int i = 0; i < fm.nstops; i++) {
		struct vsp_regs *r = &fm.stops[i];
		uint8_t at = fz_u8(&in), k = fz_u8(&in);
		uint16_t rdi = fz_u8(&in) | (uint16_t)fz_u8(&in) << 8;
		uint16_t rsp = fz_u8(&in) | (uint16_t)fz_u8(&in) << 8;

		memset(r, 0, sizeof(*r));
		fm.kinds[i] = k;
		r->rip = at < 0xf0 ? fz_stop_at[at % (sizeof(fz_stop_at) / 8)] :
			M_TEXT + (uint64_t)at * 0x1111;
		r->rdi = k & 8 ? M_USER + rdi % M_USER_LEN : M_STACK + rdi % M_STACK_LEN;
		r->rsp = M_STACK + rsp % (M_STACK_LEN + 16);
		r->rsi = fz_u8(&in) | (uint64_t)fz_u8(&in) << 8 |
			 (uint64_t)fz_u8(&in) << 32;
		r->rax = fz_u8(&in);
		r->rdx = fz_u8(&in);
		r->r10 = fz_u8(&in);
		r->gs_base = fz_u8(&in) & 1 ? M_STACK : 0;
		r->cr0 = 0x80050033;
		r->cr3 = (uint64_t)fz_u8(&in) << 12;
		fz_u8(&in);
	}
	fm.holes = (uint32_t)fz_u64(&in);
	for (size_t i = 0; i < M_STACK_LEN; i++)
		fm.stack[i] = fz_u8(&in);
	for (size_t i = 0; i < M_USER_LEN; i++)
		fm.user[i] = fz_u8(&in);
	fm.regs = fm.nstops ? fm.stops[0] : (struct vsp_regs){ .rip = M_TEXT + 0x10 };

	struct vsp_monitor_opts mo = {
		.ops = &fm_ops, .target = "fuzz", .symbols = fz_map_path,
		.policy = fz_pol, .record = fz_null,
		.audit = getenv("FZ_VERBOSE") ? stdout : fz_null,
		.quiet = true, .vm = "fuzz",
	};
	int rc = vsp_monitor_run(&mo);
	if (rc != VSP_MON_OK && rc != VSP_MON_LOST && rc != VSP_MON_USAGE &&
	    rc != VSP_MON_POLICY)
		FZ_FAIL("monitor status %d", rc);
	if (!fm.detached && rc == VSP_MON_OK)
		FZ_FAIL("the monitor ended without detaching");
	return 0;
}
