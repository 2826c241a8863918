/*
 * profile.c: `vsp profile (--gdb HOST:PORT | IMAGE) [-o FILE]`.
 *
 * Writes the kernel's symbol table as a profile (vmi/kallsyms.h,
 * vsp_ksyms_write) that `vsp attach --profile` reads, so an attach need
 * not decode the running kernel again (it compares the kallsyms digest
 * written after the symbols instead); then the kernel's BTF, ORC tables
 * and tail jumps (vmi/kprofile.h), so it need not copy those either.  From a kernel image file (a
 * bzImage such as /boot/vmlinuz-X, or a vmlinux) nothing is booted: the
 * payload is decompressed (vmi/kimage.h) and the tables decoded from its
 * .rodata.  From a live guest the tables are copied from guest memory
 * through its GDB stub; the guest is stopped meanwhile and runs on after.
 * Either way the addresses are link-time, so the profile serves every boot
 * of that kernel whatever its KASLR slide; attach verifies it against the
 * running kernel before it places a trap.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "cli/commands.h"
#include "vmi/backend.h"
#include "vmi/gdb.h"
#include "vmi/kallsyms.h"
#include "vmi/kimage.h"
#include "vmi/kprofile.h"

static const char profile_help[] =
	"usage: vsp profile (--gdb HOST:PORT | IMAGE) [-o FILE] [--stats]\n\n"
	"Writes the guest kernel's symbols as a profile for 'vsp attach\n"
	"--profile': from a kernel image file (bzImage payloads compressed\n"
	"with gzip, bzip2, LZMA, XZ, LZ4 or zstd, or a vmlinux ELF) without\n"
	"booting it, or from a running guest through its GDB stub.  The\n"
	"symbols come from the kernel's own compressed kallsyms tables, with\n"
	"a digest of those tables that an attach compares with the running\n"
	"kernel instead of decoding them again; its BTF, ORC tables and the\n"
	"tail jumps of its text follow them, so that an attach copies none of\n"
	"it from the guest.\n\n"
	"  -g, --gdb HOST:PORT    read a running guest through its GDB stub\n"
	"  -o, --output FILE      where the profile goes (default -, stdout)\n"
	"      --symbols-only     the symbols and their digest alone (an attach\n"
	"                         then copies the rest from the guest when it\n"
	"                         needs it)\n"
	"  -s, --stats            print the time taken and the guest reads\n"
	"  -h, --help             show this help\n\n"
	"Exit status: 0 written, 2 usage or I/O error, 3 no symbol table found\n"
	"(or the guest could not be reached).\n";

struct pf_guest {
	struct vsp_backend be;
};

static long pf_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	struct pf_guest *g = ctx;
	return g->be.ops->read(&g->be, 0, gva, buf, len);
}

/* Lets a guest that is not yet in its kernel run until it is. */
static int pf_wait_kernel(struct pf_guest *g, struct vsp_regs *r)
{
	for (int i = 0; i < 600; i++) {
		if ((r->cr0 & 0x80000000u) && r->rip >= VSP_KASLR_LO)
			return 0;
		struct vsp_resume go = { .how = VSP_RESUME_CONTINUE };
		struct vsp_stop st = { .kind = VSP_STOP_TIMEOUT };
		int rc = g->be.ops->resume(&g->be, 0, &go);
		if (rc == 0)
			rc = g->be.ops->wait(&g->be, &st, 100);
		if (rc == 0 && st.kind == VSP_STOP_TIMEOUT) {
			rc = g->be.ops->interrupt(&g->be);
			for (int k = 0; rc == 0 && k < 20 && st.kind == VSP_STOP_TIMEOUT; k++)
				rc = g->be.ops->wait(&g->be, &st, 100);
		}
		if (rc < 0 || st.kind == VSP_STOP_EXITED || st.kind == VSP_STOP_TIMEOUT)
			return -1;
		if (g->be.ops->regs_get(&g->be, st.vcpu, r) < 0)
			return -1;
	}
	return -1;
}

/* The BTF, ORC tables and tail jumps, through `read`, into kp; a note on
 * what the kernel lacks, and with --stats what it took. */
static int pf_sections(struct vsp_kprof *kp, const struct vsp_symtab *t,
		       vsp_gread_fn read, void *ctx, const char *what,
		       bool stats, uint64_t rt0, const uint64_t *rt)
{
	char note[300], err[256];
	struct vsp_kprof_stats ks;
	uint64_t t0 = vsp_now_ns();
	if (vsp_kprof_collect(kp, t, read, ctx, &ks, note, sizeof note, err,
			      sizeof err) < 0) {
		fprintf(stderr, "vsp profile: %s: %s\n", what, err);
		return -1;
	}
	if (note[0])
		fprintf(stderr, "vsp profile: %s: %s\n", what, note);
	if (stats) {
		fprintf(stderr, "vsp profile: BTF %zu KiB, ORC %zu entries, %u tail "
			"jumps; %" PRIu64 " KiB copied in %.0f ms", kp->sec[
			VSP_KPROF_BTF].size >> 10, kp->sec[VSP_KPROF_ORC_IP].size /
			4, ks.tails, ks.bytes >> 10, (double)(vsp_now_ns() - t0) / 1e6);
		if (rt)
			fprintf(stderr, " and %" PRIu64 " round trips", *rt - rt0);
		fputc('\n', stderr);
	}
	return 0;
}

/* The kallsyms digest (vmi/kprofile.h) of the tables at `loc`, bound to
 * the symbol lines that will be written from `t`. */
static int pf_digest(struct vsp_kprof *kp, const struct vsp_symtab *t,
		     const struct vsp_ksyms_loc *loc, int64_t slide,
		     vsp_gread_fn read, void *ctx, const char *what)
{
	char *text = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f || vsp_ksyms_write(f, t, "", "") < 0 || fclose(f) != 0) {
		if (f)
			free(text);
		fprintf(stderr, "vsp profile: out of memory\n");
		return -1;
	}
	uint32_t crc = vsp_kprof_symbols_crc(text, len);
	free(text);
	if (vsp_kprof_digest_collect(kp, loc, t, slide, crc, read, ctx, err,
				     sizeof err) < 0) {
		fprintf(stderr, "vsp profile: %s: %s\n", what, err);
		return -1;
	}
	return 0;
}

static struct vsp_symtab *pf_from_gdb(const char *target, char *banner,
				      size_t bsize, bool stats,
				      struct vsp_kprof *kp, bool sections)
{
	struct pf_guest g;
	char err[256];
	memset(&g, 0, sizeof g);
	g.be.ops = &vsp_be_gdb_ops;
	uint64_t t0 = vsp_now_ns();
	if (g.be.ops->attach(&g.be, target) < 0) {
		fprintf(stderr, "vsp profile: cannot attach to %s: %s\n", target,
			g.be.priv ? vsp_be_gdb_error(&g.be) : "no connection");
		if (g.be.priv)
			g.be.ops->detach(&g.be, false);
		return NULL;
	}
	struct vsp_regs r;
	struct vsp_symtab *t = NULL;
	if (g.be.ops->regs_get(&g.be, 0, &r) < 0 || pf_wait_kernel(&g, &r) < 0) {
		fprintf(stderr, "vsp profile: the guest at %s did not reach its "
			"kernel\n", target);
		goto out;
	}
	struct vsp_ksyms_stats ks;
	t = vsp_ksyms_from_guest(pf_read, &g, r.rip, &ks, err, sizeof err);
	if (!t) {
		fprintf(stderr, "vsp profile: %s: %s\n", target, err);
		goto out;
	}
	uint64_t a;
	banner[0] = 0;
	if (vsp_sym_addr(t, "linux_banner", &a) == 0) {
		long n = pf_read(&g, a, banner, bsize - 1);
		banner[n > 0 ? (size_t)n : 0] = 0;
	}
	if (stats)
		fprintf(stderr, "vsp profile: %u symbols, KASLR slide 0x%" PRIx64
			"; %" PRIu64 " KiB copied from 0x%" PRIx64 " in %" PRIu64
			" round trips; %.0f ms in all\n", ks.loc.nsyms,
			(uint64_t)ks.slide, ks.bytes >> 10, ks.rodata,
			g.be.round_trips, (double)(vsp_now_ns() - t0) / 1e6);
	if (pf_digest(kp, t, &ks.loc, ks.slide, pf_read, &g, target) < 0 ||
	    (sections && pf_sections(kp, t, pf_read, &g, target, stats,
				     g.be.round_trips, &g.be.round_trips) < 0)) {
		vsp_sym_free(t);
		t = NULL;
	}
out:
	g.be.ops->detach(&g.be, false);
	return t;
}

static struct vsp_symtab *pf_from_file(const char *path, char *banner,
				       size_t bsize, bool stats,
				       struct vsp_kprof *kp, bool sections)
{
	char err[256];
	uint8_t *elf;
	size_t len;
	const char *how;
	uint64_t t0 = vsp_now_ns();
	if (vsp_kimage_load(path, &elf, &len, &how, err, sizeof err) < 0) {
		fprintf(stderr, "vsp profile: %s\n", err);
		return NULL;
	}
	uint64_t t1 = vsp_now_ns();
	uint64_t ra;
	const uint8_t *rd;
	size_t rs;
	struct vsp_symtab *t = NULL;
	if (vsp_kimage_section(elf, len, ".rodata", &ra, &rd, &rs) < 0 || !rd) {
		fprintf(stderr, "vsp profile: %s: the vmlinux has no .rodata\n", path);
		goto out;
	}
	struct vsp_ksyms_loc loc;
	t = vsp_ksyms_decode(rd, rs, ra, &loc, err, sizeof err);
	if (!t) {
		fprintf(stderr, "vsp profile: %s: %s\n", path, err);
		goto out;
	}
	uint64_t a;
	banner[0] = 0;
	if (vsp_sym_addr(t, "linux_banner", &a) == 0 && a >= ra && a - ra < rs) {
		size_t n = rs - (size_t)(a - ra);
		n = n < bsize - 1 ? n : bsize - 1;
		memcpy(banner, rd + (a - ra), n);
		banner[n] = 0;
	}
	if (stats)
		fprintf(stderr, "vsp profile: %u symbols; %s payload unpacked to "
			"%zu MiB in %.0f ms, symbols decoded in %.0f ms\n",
			loc.nsyms, how, len >> 20, (double)(t1 - t0) / 1e6,
			(double)(vsp_now_ns() - t1) / 1e6);
	struct vsp_kimage_buf kb = { elf, len };
	if (pf_digest(kp, t, &loc, 0, vsp_kimage_gread, &kb, path) < 0 ||
	    (sections && pf_sections(kp, t, vsp_kimage_gread, &kb, path, stats,
				     0, NULL) < 0)) {
		vsp_sym_free(t);
		t = NULL;
	}
out:
	free(elf);
	return t;
}

int vsp_cmd_profile(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "gdb", required_argument, NULL, 'g' },
		{ "output", required_argument, NULL, 'o' },
		{ "stats", no_argument, NULL, 's' },
		{ "symbols-only", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *gdb = NULL, *output = "-";
	bool stats = false, symbols_only = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "g:o:sh", opts, NULL)) != -1) {
		switch (c) {
		case 'g':
			gdb = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 's':
			stats = true;
			break;
		case 'S':
			symbols_only = true;
			break;
		case 'h':
			fputs(profile_help, stdout);
			return 0;
		default:
			fputs(profile_help, stderr);
			return 2;
		}
	}
	if (!gdb == (optind >= argc) || optind + (gdb ? 0 : 1) < argc) {
		fprintf(stderr, "vsp profile: give one kernel image or --gdb "
			"HOST:PORT\n");
		return 2;
	}
	if (!gdb && vsp_cli_readable(argv + optind, 1))
		return 2;
	char banner[256], source[300];
	struct vsp_kprof kp = { 0 };
	struct vsp_symtab *t = gdb ? pf_from_gdb(gdb, banner, sizeof banner, stats,
						 &kp, !symbols_only)
				   : pf_from_file(argv[optind], banner, sizeof banner,
						  stats, &kp, !symbols_only);
	if (!t)
		return 3;
	snprintf(source, sizeof source, "%s%s", gdb ? "gdb " : "",
		 gdb ? gdb : argv[optind]);
	FILE *out = vsp_cli_open_out(output);
	int status = 0;
	if (!out) {
		status = 2;
	} else {
		if (vsp_ksyms_write(out, t, banner, source) < 0 ||
		    vsp_kprof_write(out, &kp) < 0 ||
		    (out != stdout ? fclose(out) : fflush(out)) != 0) {
			fprintf(stderr, "vsp profile: writing %s: %s\n", output,
				strerror(errno));
			status = 2;
		}
	}
	vsp_sym_free(t);
	vsp_kprof_free(&kp);
	return status;
}
