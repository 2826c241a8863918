/*
 * t_linux.c: guest knowledge from the kernel's own build output --
 * process context through BTF offsets (vmi/linux.c) and the KASLR slide
 * search (vmi/kaslr.c).
 *
 * Process context is read from hand-made memory images (a per-CPU area, a
 * task, its parent, its credentials), including hostile ones: pointers to
 * user space or to nothing, a comm without its NUL.  With the guest rig's
 * vmlinux cached, the offsets come from its BTF (ELF and raw forms) and
 * the slide search runs against the real image mapped at several slides,
 * with and without the image's bytes to compare against.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>

#include "vmi/kaslr.h"
#include "vmi/linux.h"
#include "tests/tap.h"
#include "tests/rig_cache.h"

/* ---------------------------------------------------- process */

#define PCPU 0xffff88801fc00000ULL
#define TASK 0xffff888004a00000ULL
#define PARENT 0xffff888004b00000ULL
#define CRED 0xffff888004c00000ULL
#define REGION 0x40000

struct region {
	uint64_t base;
	uint8_t bytes[REGION];
	bool mapped;
};

static struct region mem[4];

static long mem_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	size_t n = 0;

	(void)ctx;
	while (n < len) {
		uint64_t a = gva + n;
		bool hit = false;

		for (size_t i = 0; i < 4; i++) {
			if (mem[i].mapped && a >= mem[i].base &&
			    a < mem[i].base + REGION) {
				((uint8_t *)buf)[n] = mem[i].bytes[a - mem[i].base];
				hit = true;
				break;
			}
		}
		if (!hit)
			break;
		n++;
	}
	return (long)n;
}

static void put(uint64_t gva, const void *v, size_t len)
{
	for (size_t i = 0; i < 4; i++)
		if (gva >= mem[i].base && gva + len <= mem[i].base + REGION) {
			memcpy(mem[i].bytes + (gva - mem[i].base), v, len);
			return;
		}
	fprintf(stderr, "# put outside the image\n");
	abort();
}

static void put64(uint64_t gva, uint64_t v)
{
	put(gva, &v, 8);
}

static void put32(uint64_t gva, uint32_t v)
{
	put(gva, &v, 4);
}

/* A guest with one task "victim" (tid 42, tgid 40) whose parent has tgid 7,
 * uid 1000, euid 0, gid 100. */
static void build_guest(const struct vsp_linux *lx)
{
	memset(mem, 0, sizeof(mem));
	mem[0].base = PCPU;
	mem[1].base = TASK;
	mem[2].base = PARENT;
	mem[3].base = CRED;
	for (size_t i = 0; i < 4; i++)
		mem[i].mapped = true;
	put64(PCPU + lx->current_off, TASK);
	put32(TASK + lx->task_pid, 42);
	put32(TASK + lx->task_tgid, 40);
	put(TASK + lx->task_comm, "victim\0\0\0\0\0\0\0\0\0\0", 16);
	put64(TASK + lx->task_real_parent, PARENT);
	put64(TASK + lx->task_real_cred, CRED);
	put64(TASK + lx->task_cred, CRED);
	put32(PARENT + lx->task_tgid, 7);
	put32(CRED + lx->cred_uid, 1000);
	put32(CRED + lx->cred_euid, 0);
	put32(CRED + lx->cred_gid, 100);
}

static void test_proc(const struct vsp_linux *lx, const char *what)
{
	uint64_t task = 0;
	struct vsp_proc p;
	char label[128];

	build_guest(lx);
	snprintf(label, sizeof(label), "%s: current task found", what);
	ok(vsp_linux_current(lx, mem_read, NULL, PCPU, &task) == 0 &&
	   task == TASK, "%s", label);
	ok(vsp_linux_proc(lx, mem_read, NULL, task, &p) == 0 && p.pid == 40 &&
	   p.tid == 42 && p.ppid == 7 && p.uid == 1000 && p.euid == 0 &&
	   p.gid == 100 && !strcmp(p.comm, "victim"),
	   "process fields: %s", p.comm);

	/* A comm that fills all 16 bytes is cut there. */
	put(TASK + lx->task_comm, "ABCDEFGHIJKLMNOP", 16);
	vsp_linux_proc(lx, mem_read, NULL, task, &p);
	ok(strlen(p.comm) == 16 && !strcmp(p.comm, "ABCDEFGHIJKLMNOP"),
	   "comm without NUL cut at 16: %s", p.comm);

	/* Credentials unmapped: ids unknown, the rest still there. */
	mem[3].mapped = false;
	ok(vsp_linux_proc(lx, mem_read, NULL, task, &p) == -1 && p.uid == -1 &&
	   p.euid == -1 && p.gid == -1 && p.pid == 40,
	   "unreadable cred: -1 ids, pid kept%s", "");
	mem[3].mapped = true;

	/* A parent pointer into user space is not followed. */
	put64(TASK + lx->task_real_parent, 0x00007fffdeadbeefULL);
	ok(vsp_linux_proc(lx, mem_read, NULL, task, &p) == -1 && p.ppid == -1,
	   "user-space parent pointer refused%s", "");

	/* current_task pointing at user space, or the per-CPU area absent. */
	put64(PCPU + lx->current_off, 0x400000);
	ok(vsp_linux_current(lx, mem_read, NULL, PCPU, &task) == -1,
	   "user-space current task refused%s", "");
	ok(vsp_linux_current(lx, mem_read, NULL, 0xffff888000000000ULL,
			     &task) == -1, "unmapped per-CPU area%s", "");
	ok(vsp_linux_current(lx, mem_read, NULL, 0x1000, &task) == -1,
	   "per-CPU base not a kernel address%s", "");
	ok(vsp_linux_proc(lx, mem_read, NULL, 0, &p) == -1 && p.pid == -1 &&
	   p.comm[0] == '\0', "null task: everything unknown%s", "");

	/* A task, or an interrupt, by the preempt count (the need-resched
	 * bit and preemption disabled are still a task). */
	static const struct { uint32_t pc; int in_task; const char *what; } pcs[] = {
		{ 0x80000000, 1, "a task" },
		{ 0x80000002, 1, "a task with preemption off" },
		{ 0x00000200, 1, "a task with softirqs off" },
		{ 0x80000100, 0, "a softirq" },
		{ 0x80010000, 0, "a hard interrupt" },
		{ 0x80100000, 0, "an NMI" },
	};
	for (size_t i = 0; lx->have_preempt && i < sizeof pcs / sizeof pcs[0]; i++) {
		put32(PCPU + lx->preempt_off, pcs[i].pc);
		ok(vsp_linux_in_task(lx, mem_read, NULL, PCPU) == pcs[i].in_task,
		   "preempt count %#x: %s (%s)", pcs[i].pc, pcs[i].what, what);
	}
	ok(vsp_linux_in_task(lx, mem_read, NULL, 0x1000) == -1 &&
	   vsp_linux_in_task(lx, mem_read, NULL, 0xffff888000000000ULL) == -1,
	   "preempt count: no per-CPU area, unmapped: cannot tell (%s)", what);
}

static void test_percpu_base(void)
{
	ok(vsp_linux_percpu_base(PCPU, 0x7f0000000000ULL) == PCPU,
	   "gs_base in kernel mode%s", "");
	ok(vsp_linux_percpu_base(0x7f0000000000ULL, PCPU) == PCPU,
	   "before swapgs: the shadow base%s", "");
	ok(vsp_linux_percpu_base(0, 0) == 0, "neither: 0%s", "");
	ok(vsp_linux_percpu_base(0xff1100001f000000ULL, 0) ==
	   0xff1100001f000000ULL, "5-level paging direct map%s", "");
}

static void test_btf(void)
{
	char path[1024], raw[] = "/tmp/vsp-t_linux-btf.XXXXXX", err[256] = "";
	struct vsp_linux lx, lx2;
	struct vsp_linux fake = {
		.task_pid = 0x100, .task_tgid = 0x104, .task_comm = 0x200,
		.task_real_parent = 0x110, .task_cred = 0x220,
		.task_real_cred = 0x218, .cred_uid = 8, .cred_euid = 24,
		.cred_gid = 12, .current_off = 0x1fb80, .have_current = true,
		.preempt_off = 0x1fb40, .have_preempt = true };

	test_percpu_base();
	test_proc(&fake, "hand-made offsets");
	ok(vsp_linux_init(&lx, "/nonexistent/vmlinux", NULL, err,
			  sizeof(err)) == -1 && strstr(err, "no usable BTF"),
	   "missing BTF: %s", err);
	rig_cache_file("vmlinux", path, sizeof(path));
	if (access(path, R_OK)) {
		skip("no cached vmlinux");
		return;
	}
	ok(vsp_linux_init(&lx, path, NULL, err, sizeof(err)) == 0,
	   "BTF from the vmlinux ELF %s", err);
	ok(lx.task_tgid == lx.task_pid + 4 && lx.task_comm < lx.task_size &&
	   lx.task_real_cred + 8 == lx.task_cred && lx.cred_uid < lx.cred_euid &&
	   lx.have_current, "offsets are plausible%s", "");
	ok(lx.current_off != 0, "per-CPU current task from BTF's datasec%s",
	   "");
	ok(lx.have_preempt && lx.preempt_off != lx.current_off &&
	   lx.preempt_off < REGION - 4, "per-CPU preempt count from BTF's "
	   "datasec (%#llx)", (unsigned long long)lx.preempt_off);
	test_proc(&lx, "BTF offsets");

	/* The same BTF as a raw file, as /sys/kernel/btf/vmlinux gives it. */
	{
		struct btf *b = btf__parse(path, NULL);
		uint32_t sz = 0;
		const void *data = b ? btf__raw_data(b, &sz) : NULL;
		int fd = mkstemp(raw);

		if (data && fd >= 0 && write(fd, data, sz) == (ssize_t)sz) {
			close(fd);
			ok(vsp_linux_init(&lx2, raw, NULL, err, sizeof(err)) == 0 &&
			   !memcmp(&lx, &lx2, sizeof(lx)),
			   "raw BTF gives the same offsets %s", err);
		} else {
			ok(0, "writing raw BTF%s", "");
		}
		unlink(raw);
		btf__free(b);
	}

	/* A symbol table's per-CPU address is trusted first. */
	{
		static const char map[] =
			"0000000000012340 A current_task\n"
			"ffffffff81000000 T _text\n";
		struct vsp_symtab *t = vsp_sym_load_mem(map, sizeof(map) - 1,
							"m", err, sizeof(err));

		ok(t && vsp_linux_init(&lx2, path, t, err, sizeof(err)) == 0 &&
		   lx2.current_off == 0x12340, "current_task from symbols%s", "");
		vsp_sym_free(t);
	}
}

/* ------------------------------------------------------ KASLR */

struct kimg_mem {
	const struct vsp_kimg *img;
	int64_t slide;
	bool nop_entries;	/* ftrace has patched function entries */
	long reads;
};

/* The image as the running guest shows it at `slide`. */
static long kimg_mem_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	struct kimg_mem *k = ctx;
	size_t n;

	k->reads++;
	if (gva < 0xffffffff80000000ULL)
		return -1;
	n = vsp_kimg_read(k->img, gva - (uint64_t)k->slide, buf, len);
	if (k->nop_entries && n == 5 && ((uint8_t *)buf)[0] == 0xe8)
		memcpy(buf, "\x0f\x1f\x44\x00\x00", 5);
	return n ? (long)n : -1;
}

static void test_kaslr(void)
{
	char mp[1024], vp[1024], err[256] = "", msg[128];
	struct vsp_symtab *t;
	struct vsp_kimg *img;
	static const int64_t slides[] = { 0, 0x1e00000, 0x13600000, 0x2c000000 };
	uint64_t text;

	rig_cache_file("System.map", mp, sizeof(mp));
	rig_cache_file("vmlinux", vp, sizeof(vp));
	ok(vsp_kimg_open("/nonexistent", err, sizeof(err)) == NULL &&
	   strstr(err, "No such file"), "missing image: %s", err);
	if (access(mp, R_OK) || access(vp, R_OK)) {
		skip("no cached vmlinux/System.map");
		return;
	}
	t = vsp_sym_load(mp, err, sizeof(err));
	img = vsp_kimg_open(vp, err, sizeof(err));
	ok(t && img, "image and symbols %s", err);
	if (!t || !img)
		return;
	{
		char id[64];

		ok(vsp_kimg_build_id(img, id, sizeof(id)) == 0 &&
		   strlen(id) == 40, "build id %s", id);
	}
	vsp_sym_addr(t, "_text", &text);
	for (size_t i = 0; i < sizeof(slides) / sizeof(slides[0]); i++) {
		struct kimg_mem k = { img, slides[i], true, 0 };
		struct vsp_kaslr_stats st;
		int64_t found = -1;
		uint64_t rip = text + 0x123456 + (uint64_t)slides[i];

		/* With the paused rip as a hint. */
		int rc = vsp_kaslr_find(t, img, kimg_mem_read, &k, rip, &found,
					&st, err, sizeof(err));

		snprintf(msg, sizeof(msg), "slide %#llx found with a hint in %u reads",
			 (unsigned long long)slides[i], st.reads);
		ok(rc == 0 && found == slides[i] && st.reads <= 16 &&
		   (st.method & VSP_KASLR_BY_BANNER), "%s", msg);

		/* Without a hint: a scan of the whole range. */
		k.reads = 0;
		found = -1;
		rc = vsp_kaslr_find(t, img, kimg_mem_read, &k, 0, &found, &st,
				    err, sizeof(err));
		snprintf(msg, sizeof(msg), "slide %#llx found by scan (%u bases)",
			 (unsigned long long)slides[i], st.candidates);
		ok(rc == 0 && found == slides[i], "%s", msg);

		/* Without the image: ftrace NOPs at function entries. */
		found = -1;
		rc = vsp_kaslr_find(t, NULL, kimg_mem_read, &k, rip, &found,
				    &st, err, sizeof(err));
		snprintf(msg, sizeof(msg), "slide %#llx found from symbols alone",
			 (unsigned long long)slides[i]);
		ok(rc == 0 && found == slides[i] &&
		   st.method == VSP_KASLR_BY_FENTRY, "%s", msg);
	}
	/* The symbols' own slide does not confuse the search. */
	{
		struct kimg_mem k = { img, 0x1e00000, true, 0 };
		int64_t found = -1;

		vsp_sym_set_slide(t, 0x4000000);
		ok(vsp_kaslr_find(t, img, kimg_mem_read, &k, 0, &found, NULL,
				  err, sizeof(err)) == 0 && found == 0x1e00000,
		   "search ignores a stale slide on the symbols%s", "");
		vsp_sym_set_slide(t, 0);
	}
	/* A guest whose memory shows nothing of the kernel. */
	{
		struct kimg_mem k = { img, 0x1e00000, true, 0 };
		int64_t found = -1;

		ok(vsp_kaslr_find(t, img, mem_read, &k, 0, &found, NULL, err,
				  sizeof(err)) == -1 && strstr(err, "no kernel base"),
		   "nothing matches: %s", err);
	}
	vsp_kimg_free(img);
	vsp_sym_free(t);
}

int main(void)
{
	test_btf();
	test_kaslr();
	return done();
}
