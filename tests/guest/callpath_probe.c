/*
 * callpath_probe.c: traps kernel functions in a live guest and prints the
 * call path vsp rebuilds at each trap, for the call-path tests
 * (tests/guest/callpath*.t) to hold against the kernel's own account.
 *
 * It drives the GDB backend directly (vmi/backend.h), not `vsp attach`, so
 * that it can place its traps just past each function's ftrace call site
 * (function + 5): the guest's function tracer then still runs at the entry
 * and records the kernel's own stack trace for the same call, which is the
 * truth the test compares with.  At each trap it reads the process context
 * (vmi/linux.h) and unwinds three times (vmi/unwind.h): by ORC, by
 * instruction analysis of the vmlinux code, and by instruction analysis of
 * the code read from guest memory (what vsp does with a System.map only),
 * and by the ORC tables read from guest memory with no vmlinux at all
 * (what `vsp attach --gdb` does with nothing else).  Before installing
 * traps it lets the guest boot, waits
 * for a marker line in the guest's console log, stops it and finds the
 * KASLR slide (vmi/kaslr.h) from the paused rip.
 *
 * Output, one record a line:
 *   SLIDE 0x...  method M  reads R
 *   ORCMEM entries N bytes B
 *   TAILMEM edges N bytes B
 *   HIT n FUNC PID COMM orc=PATH insn=PATH mem=PATH ppid=P uid=U euid=E
 *       morc=PATH
 *       [orc-partial] [insn-partial]
 *   DONE hits H skipped S  unwind_us_median U  reads_per_unwind X
 * PATH is "a<b<c" (innermost first); partial paths end in "<...".
 *
 * Built by the test scripts against libvsp.a; not part of vsp itself.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmi/backend.h"
#include "vmi/gdb.h"
#include "vmi/kaslr.h"
#include "vmi/linux.h"
#include "vmi/symbols.h"
#include "vmi/unwind.h"

#define PROBE_MAX_FUNCS 16
#define PROBE_MAX_HITS 4096

struct probe {
	struct vsp_backend be;
	struct vsp_symtab *syms;
	struct vsp_kimg *img;
	struct vsp_linux lx;
	struct vsp_unwinder *orc, *insn, *mem, *morc;
	uint64_t addr[PROBE_MAX_FUNCS];
	const char *name[PROBE_MAX_FUNCS];
	size_t nfuncs;
	uint32_t vcpu;
	uint64_t us[PROBE_MAX_HITS];
};

static long probe_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	struct probe *p = ctx;

	return p->be.ops->read(&p->be, p->vcpu, gva, buf, len);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void fmt_path(const struct vsp_callpath *cp, char *buf, size_t n)
{
	size_t at = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < cp->n && at + 1 < n; i++)
		at += (size_t)snprintf(buf + at, n - at, "%s%s", i ? "<" : "",
				       cp->names[i]);
	if (cp->partial && at + 1 < n)
		snprintf(buf + at, n - at, "<...");
}

/* Waits until the console log holds `text` (or the timeout passes). */
static int wait_log(const char *log, const char *text, int timeout_s)
{
	uint64_t end = now_us() + (uint64_t)timeout_s * 1000000;
	char line[4096];

	while (now_us() < end) {
		FILE *f = fopen(log, "r");

		if (f) {
			while (fgets(line, sizeof(line), f))
				if (strstr(line, text)) {
					fclose(f);
					return 0;
				}
			fclose(f);
		}
		usleep(50000);
	}
	return -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: callpath_probe --gdb HOST:PORT --symbols MAP --vmlinux ELF\n"
		"         --funcs F1,F2,... --log CONSOLE --ready TEXT [--comm C]\n"
		"         [--max N] [--at-entry]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct probe p;
	const char *target = NULL, *map = NULL, *elf = NULL, *funcs = NULL;
	const char *log = NULL, *ready = NULL, *comm = NULL;
	int max = 1000, nhits = 0, skipped = 0, restep = 0;
	bool at_entry = false;
	char err[256];
	struct vsp_regs r;
	struct vsp_stop st;
	struct vsp_resume go = { VSP_RESUME_CONTINUE, 0 };
	struct vsp_unwind_stats us;
	int64_t slide = 0;
	struct vsp_kaslr_stats ks;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--at-entry")) {
			at_entry = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--gdb")) target = v;
		else if (!strcmp(a, "--symbols")) map = v;
		else if (!strcmp(a, "--vmlinux")) elf = v;
		else if (!strcmp(a, "--funcs")) funcs = v;
		else if (!strcmp(a, "--log")) log = v;
		else if (!strcmp(a, "--ready")) ready = v;
		else if (!strcmp(a, "--comm")) comm = v;
		else if (!strcmp(a, "--max")) max = atoi(v);
		else usage();
	}
	if (!target || !map || !elf || !funcs || !log || !ready)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!(p.syms = vsp_sym_load(map, err, sizeof(err))) ||
	    !(p.img = vsp_kimg_open(elf, err, sizeof(err))) ||
	    vsp_linux_init(&p.lx, elf, p.syms, err, sizeof(err)) < 0) {
		fprintf(stderr, "probe: %s\n", err);
		return 2;
	}
	p.be.ops = &vsp_be_gdb_ops;
	if (p.be.ops->attach(&p.be, target) < 0) {
		fprintf(stderr, "probe: cannot attach to %s: %s\n", target,
			vsp_be_gdb_error(&p.be));
		return 3;
	}
	/* Let it boot to the marker, then stop it where it is. */
	p.be.ops->resume(&p.be, 0, &go);
	if (wait_log(log, ready, 120) < 0) {
		fprintf(stderr, "probe: no '%s' in %s\n", ready, log);
		goto out;
	}
	p.be.ops->interrupt(&p.be);
	do {
		if (p.be.ops->wait(&p.be, &st, 5000) < 0 ||
		    st.kind == VSP_STOP_EXITED) {
			fprintf(stderr, "probe: guest gone while stopping it\n");
			goto out;
		}
	} while (st.kind == VSP_STOP_TIMEOUT);
	p.vcpu = st.vcpu;
	p.be.ops->regs_get(&p.be, p.vcpu, &r);
	if (vsp_kaslr_find(p.syms, p.img, probe_read, &p, r.rip, &slide, &ks,
			   err, sizeof(err)) < 0) {
		fprintf(stderr, "probe: %s\n", err);
		goto out;
	}
	vsp_sym_set_slide(p.syms, slide);
	printf("SLIDE %#" PRIx64 " method %u reads %u rip %#" PRIx64 "\n",
	       (uint64_t)slide, ks.method, ks.reads, r.rip);
	{
		struct vsp_unwind_opts o = { .src = VSP_UNWIND_ORC };

		p.orc = vsp_unwind_new(p.syms, p.img, &o, err, sizeof(err));
		o.src = VSP_UNWIND_INSN;
		p.insn = vsp_unwind_new(p.syms, p.img, &o, err, sizeof(err));
		/* As with no vmlinux at all: code read from guest memory. */
		p.mem = vsp_unwind_new(p.syms, NULL, &o, err, sizeof(err));
		if (!p.orc || !p.insn || !p.mem) {
			fprintf(stderr, "probe: %s\n", err);
			goto out;
		}
		/* No vmlinux: the guest's own ORC tables and code. */
		struct vsp_unwind_orc_stats os;
		p.morc = vsp_unwind_new(p.syms, NULL, NULL, err, sizeof(err));
		if (!p.morc || vsp_unwind_orc_from_guest(p.morc, probe_read, &p,
							 &os, err,
							 sizeof(err)) != 0) {
			fprintf(stderr, "probe: ORC from guest memory: %s\n", err);
			goto out;
		}
		printf("ORCMEM entries %u bytes %" PRIu64 "\n", os.entries,
		       os.bytes);
		/* ... and the tail jumps from the guest's text, as vsp
		 * attach reads them without a vmlinux. */
		if (vsp_unwind_tails_from_guest(p.morc, probe_read, &p, &os, err,
						sizeof(err)) != 0 ||
		    vsp_unwind_tails_from_guest(p.mem, probe_read, &p, &os, err,
						sizeof(err)) != 0) {
			fprintf(stderr, "probe: tail jumps from guest memory: %s\n",
				err);
			goto out;
		}
		printf("TAILMEM edges %u bytes %" PRIu64 "\n", os.entries,
		       os.bytes);
	}
	for (char *s = strdup(funcs), *tok = strtok(s, ","); tok &&
	     p.nfuncs < PROBE_MAX_FUNCS; tok = strtok(NULL, ",")) {
		uint64_t a;

		if (vsp_sym_addr(p.syms, tok, &a) < 0) {
			fprintf(stderr, "probe: no symbol %s\n", tok);
			continue;
		}
		/* Past ftrace's call site, so the guest's tracer still runs. */
		p.addr[p.nfuncs] = at_entry ? a : a + 5;
		p.name[p.nfuncs] = tok;
		if (p.be.ops->trap_add(&p.be, p.addr[p.nfuncs]) < 0) {
			fprintf(stderr, "probe: cannot trap %s\n", tok);
			continue;
		}
		printf("TRAP %s %#" PRIx64 "\n", tok, p.addr[p.nfuncs]);
		p.nfuncs++;
	}
	while (nhits < max) {
		size_t f;
		uint64_t task, t0;
		struct vsp_proc pr = { 0 };
		struct vsp_callpath a, b, c, d;
		char pa[2048], pb[2048], pc[2048], pd[2048];

		if (p.be.ops->resume(&p.be, p.vcpu, &go) < 0)
			break;
		do {
			if (p.be.ops->wait(&p.be, &st, 2000) < 0)
				goto done;
		} while (st.kind == VSP_STOP_TIMEOUT);
		if (st.kind == VSP_STOP_EXITED)
			break;
		p.vcpu = st.vcpu;
		go = (struct vsp_resume){ VSP_RESUME_CONTINUE, 0 };
		if (st.kind != VSP_STOP_TRAP)
			continue;
		for (f = 0; f < p.nfuncs && p.addr[f] != st.addr; f++)
			;
		if (f == p.nfuncs)
			continue;
		p.be.ops->regs_get(&p.be, p.vcpu, &r);
		if (vsp_linux_current(&p.lx, probe_read, &p,
				      vsp_linux_percpu_base(r.gs_base,
							    r.kernel_gs_base),
				      &task) == 0)
			vsp_linux_proc(&p.lx, probe_read, &p, task, &pr);
		if (comm && strcmp(pr.comm, comm)) {
			if (getenv("PROBE_DEBUG"))
				fprintf(stderr, "skip %s pid %" PRId64 " comm '%s' gs %#" PRIx64 " kgs %#" PRIx64 "\n",
					p.name[f], pr.pid, pr.comm, r.gs_base, r.kernel_gs_base);
			skipped++;
		} else {
			t0 = now_us();
			vsp_unwind(p.orc, &r, probe_read, &p, &a);
			if (nhits < PROBE_MAX_HITS)
				p.us[nhits] = now_us() - t0;
			vsp_unwind(p.insn, &r, probe_read, &p, &b);
			vsp_unwind(p.mem, &r, probe_read, &p, &c);
			vsp_unwind(p.morc, &r, probe_read, &p, &d);
			fmt_path(&a, pa, sizeof(pa));
			fmt_path(&b, pb, sizeof(pb));
			fmt_path(&c, pc, sizeof(pc));
			fmt_path(&d, pd, sizeof(pd));
			printf("HIT %d %s %" PRId64 " %s orc=%s insn=%s mem=%s ppid=%"
			       PRId64 " uid=%" PRId64 " euid=%" PRId64 " morc=%s%s%s\n",
			       nhits, p.name[f], pr.pid,
			       pr.comm[0] ? pr.comm : "?", pa, pb, pc, pr.ppid,
			       pr.uid, pr.euid, pd, a.partial ? " orc-partial" : "",
			       b.partial ? " insn-partial" : "");
			nhits++;
		}
		/* Step over the trap (the instruction under it is not the
		 * ftrace NOP), then put it back. */
		if (at_entry) {
			go = (struct vsp_resume){ VSP_RESUME_AT, st.addr + 5 };
			continue;
		}
		p.be.ops->trap_del(&p.be, st.addr);
		/* A step can end before the instruction ran (a stop that
		 * was pending); step until rip has left the trap, or the
		 * next continue would report the same call twice. */
		for (int tries = 0; tries < 4; tries++) {
			go = (struct vsp_resume){ VSP_RESUME_STEP, 0 };
			if (p.be.ops->resume(&p.be, p.vcpu, &go) < 0)
				goto done;
			do {
				if (p.be.ops->wait(&p.be, &st, 2000) < 0)
					goto done;
			} while (st.kind == VSP_STOP_TIMEOUT);
			if (st.kind == VSP_STOP_EXITED)
				goto done;
			if (p.be.ops->regs_get(&p.be, p.vcpu, &r) < 0 ||
			    r.rip != p.addr[f])
				break;
			restep++;
		}
		p.be.ops->trap_add(&p.be, p.addr[f]);
		go = (struct vsp_resume){ VSP_RESUME_CONTINUE, 0 };
	}
done:
	vsp_unwind_stats(p.orc, &us);
	{
		int n = nhits < PROBE_MAX_HITS ? nhits : PROBE_MAX_HITS;

		qsort(p.us, (size_t)n, sizeof(p.us[0]), cmp_u64);
		printf("DONE hits %d skipped %d restep %d unwind_us_median %" PRIu64
		       " reads_per_unwind %.2f round_trips %" PRIu64 "\n",
		       nhits, skipped, restep, n ? p.us[n / 2] : 0,
		       us.unwinds ? (double)us.reads / (double)us.unwinds : 0.0,
		       p.be.round_trips);
	}
out:
	p.be.ops->detach(&p.be, false);
	vsp_unwind_free(p.morc);
	vsp_unwind_free(p.mem);
	vsp_unwind_free(p.insn);
	vsp_unwind_free(p.orc);
	vsp_kimg_free(p.img);
	vsp_sym_free(p.syms);
	return 0;
}
