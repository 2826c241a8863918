/*
 * t_xen_build.c: the Xen backend builds, links and fails cleanly without
 * libxen.
 *
 * The tree is built with VSP_HAVE_XEN wherever libxen-dev is installed, so
 * the other build would rot unseen.  This test compiles vmi/xen*.c again
 * with -UVSP_HAVE_XEN (warnings as errors), once with Xen's public headers
 * in reach and once pretending they are absent (VSP_XEN_NO_PUBLIC_HEADERS,
 * as on a machine without libxen-dev), checks that the objects call no
 * libxc, libxenevtchn, libxenforeignmemory or libxenstore function, links
 * a small program against them without any Xen library, and runs it:
 * attach must fail with the "built without Xen support" message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/tap.h"

static char root[1024], tmp[64], log_path[128];

/* Runs a shell command with output in the log; shows the log on failure. */
static int run(const char *cmd)
{
	char full[20000];
	int rc;

	snprintf(full, sizeof(full), "(%s) >%s 2>&1", cmd, log_path);
	rc = system(full);
	if (rc != 0) {
		FILE *f = fopen(log_path, "r");
		char line[512];

		printf("# failed: %s\n", cmd);
		while (f && fgets(line, sizeof(line), f))
			printf("#   %s", line);
		if (f)
			fclose(f);
	}
	return rc;
}

static int find_root(void)
{
	const char *b = getenv("BUILD");

	if (access("vmi/xen.c", R_OK) == 0 && getcwd(root, sizeof(root)))
		return 0;
	if (b) {
		snprintf(root, sizeof(root), "%s/..", b);
		if (chdir(root) == 0 && access("vmi/xen.c", R_OK) == 0 &&
		    getcwd(root, sizeof(root)))
			return 0;
	}
	return -1;
}

static const char *const files[] = { "xen", "xen_guest", "xen_loop", "xen_pt",
				     "xen_ring", "xen_hcall" };

static void variant(const char *cc, const char *tag, const char *defs)
{
	char cmd[8192], what[160];
	int good = 1;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(cmd, sizeof(cmd),
			 "%s -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror "
			 "-Wno-unused-parameter -I%s -UVSP_HAVE_XEN %s -c "
			 "%s/vmi/%s.c -o %s/%s_%s.o", cc, root, defs, root,
			 files[i], tmp, files[i], tag);
		good &= run(cmd) == 0;
	}
	snprintf(what, sizeof(what), "vmi/xen*.c compile -UVSP_HAVE_XEN %s",
		 defs);
	ok(good, "%s", what);
	snprintf(cmd, sizeof(cmd),
		 "nm -u %s/*_%s.o >%s/undef && ! grep -E ' (xc_|xenevtchn_|"
		 "xenforeignmemory_|xs_|xtl_)' %s/undef", tmp, tag, tmp, tmp);
	snprintf(what, sizeof(what), "%s objects call no Xen library", tag);
	ok(run(cmd) == 0, "%s", what);
}

static const char prog[] =
	"#include <errno.h>\n"
	"#include <stdio.h>\n"
	"#include <string.h>\n"
	"#include \"vmi/backend.h\"\n"
	"#include \"vmi/xen.h\"\n"
	"int main(void) {\n"
	"  struct vsp_backend be = { .ops = &vsp_be_xen_ops };\n"
	"  char why[256];\n"
	"  if (vsp_be_xen_available(why, sizeof why)) return 2;\n"
	"  if (!strstr(why, \"without Xen support\")) return 3;\n"
	"  if (vsp_be_xen_ops.attach(&be, \"1\") != -ENOSYS) return 4;\n"
	"  if (!strstr(vsp_be_xen_last_error(), \"without Xen\")) return 5;\n"
	"  if (vsp_be_xen_ops.read(&be, 0, 0, why, 1) != -ENOTCONN) return 6;\n"
	"  vsp_be_xen_ops.detach(&be, false);\n"
	"  puts(why);\n"
	"  return 0;\n"
	"}\n";

int main(void)
{
	const char *cc = getenv("CC") ? getenv("CC") : "cc";
	const char *build = getenv("BUILD");
	char cmd[16384], lib[1200];
	FILE *f;

	if (find_root() < 0) {
		printf("1..0 # SKIP source tree not found (run from the top "
		       "or set BUILD)\n");
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "/tmp/vsp-xenbuild-XXXXXX");
	if (!mkdtemp(tmp)) {
		printf("1..0 # SKIP cannot make a temporary directory\n");
		return 0;
	}
	snprintf(log_path, sizeof(log_path), "%s/log", tmp);
	printf("# compiler %s, tree %s\n", cc, root);

	variant(cc, "hdr", "");
	variant(cc, "nohdr", "-DVSP_XEN_NO_PUBLIC_HEADERS");

	if (build && build[0] == '/')
		snprintf(lib, sizeof(lib), "%.1000s/libvsp.a", build);
	else
		snprintf(lib, sizeof(lib), "%s/%.100s/libvsp.a", root,
			 build ? build : "build");
	snprintf(cmd, sizeof(cmd), "%s/main.c", tmp);
	f = fopen(cmd, "w");
	if (f) {
		fputs(prog, f);
		fclose(f);
	}
	if (access(lib, R_OK) != 0) {
		printf("ok %d - # SKIP no %s to link with\n", ++tap_n, lib);
		printf("ok %d - # SKIP nothing linked\n", ++tap_n);
	} else {
		/*
		 * The rest (catalog, unwinder) comes from the library and
		 * the project's other dependencies; no Xen library.  A
		 * library built with SAN=1 needs the sanitizer runtimes.
		 */
		snprintf(cmd, sizeof(cmd),
			 "%s -std=c11 -D_GNU_SOURCE -I%s -UVSP_HAVE_XEN "
			 "$(nm %s 2>/dev/null | grep -q __asan_ && "
			 "echo -fsanitize=address,undefined) "
			 "-o %s/prog %s/main.c %s/xen_nohdr.o %s/xen_guest_nohdr.o "
			 "%s/xen_pt_nohdr.o %s/xen_ring_nohdr.o "
			 "%s/xen_hcall_nohdr.o %s "
			 "$(pkg-config --libs capstone json-c libffi libbpf "
			 "2>/dev/null) -lm -lpthread",
			 cc, root, lib, tmp, tmp, tmp, tmp, tmp, tmp, tmp, lib);
		ok(run(cmd) == 0, "links with no Xen library");
		snprintf(cmd, sizeof(cmd), "%s/prog", tmp);
		ok(run(cmd) == 0,
		   "without libxen: unavailable, attach -ENOSYS with a message");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmp);
	return done();
}
