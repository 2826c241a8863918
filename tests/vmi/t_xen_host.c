/*
 * t_xen_host.c: the Xen backend on a host without Xen (vmi/xen.c).
 *
 * CI machines and developer laptops have no hypervisor: the backend must
 * say so in words, attach must fail with that message instead of crashing
 * or hanging, and every operation on a backend that never attached must
 * answer -ENOTCONN.  On a real Xen dom0 the "unavailable" checks are
 * skipped, since there the answer is rightly different.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/tap.h"
#include "vmi/backend.h"
#include "vmi/xen.h"

int main(void)
{
	const struct vsp_backend_ops *ops = &vsp_be_xen_ops;
	struct vsp_backend be = { .ops = &vsp_be_xen_ops };
	struct vsp_regs r;
	struct vsp_stop st;
	struct vsp_resume res = { VSP_RESUME_CONTINUE, 0 };
	char why[256] = "", buf[16];
	bool xen_host = access("/proc/xen", F_OK) == 0 ||
			access("/dev/xen/privcmd", F_OK) == 0;
	bool avail;
	int rc;

	ok(ops->name && strcmp(ops->name, "xen") == 0, "backend is named xen");
	ok(ops->attach && ops->trap_add && ops->trap_del && ops->read &&
	   ops->write && ops->regs_get && ops->regs_set && ops->wait &&
	   ops->resume && ops->interrupt && ops->detach,
	   "every operation is filled in");
#ifdef VSP_HAVE_XEN
	ok(ops->steps_over_traps, "the monitor may resume on a trap");
#endif

	avail = vsp_be_xen_available(why, sizeof(why));
	printf("# available: %s (%s)\n", avail ? "yes" : "no", why);
	if (!xen_host) {
		ok(!avail, "no Xen on this host: unavailable");
		ok(strlen(why) > 20 && (strstr(why, "/proc/xen") ||
					strstr(why, "without Xen support")),
		   "the reason names what is missing");
	} else {
		skip("this host runs Xen");
		skip("this host runs Xen");
	}
	/* A tiny buffer gets a cut, terminated reason. */
	memset(buf, 'x', sizeof(buf));
	vsp_be_xen_available(buf, 8);
	ok(memchr(buf, 0, 8) != NULL, "reason fits a small buffer");

	be.priv = (void *)&be;	/* attach must not trust what was there */
	rc = ops->attach(&be, "no-such-domain-for-vsp-tests");
	ok(rc < 0, "attach fails");
	ok(be.priv == NULL, "a failed attach leaves no state");
	printf("# attach: %d, %s\n", rc, vsp_be_xen_last_error());
	ok(strlen(vsp_be_xen_last_error()) > 0, "attach leaves a message");
	if (!xen_host)
		ok(strcmp(vsp_be_xen_last_error(), why) == 0 ||
		   strstr(vsp_be_xen_last_error(), "without Xen support"),
		   "attach's message is the availability reason");
	else
		skip("this host runs Xen");
	ok(!vsp_be_xen_stealth(&be, why, sizeof(why)) && why[0],
	   "no stealth claimed without a domain");

	ok(ops->trap_add(&be, 0xffffffff81000000ull) == -ENOTCONN,
	   "trap_add without a guest: -ENOTCONN");
	ok(ops->trap_del(&be, 0xffffffff81000000ull) == -ENOTCONN,
	   "trap_del without a guest: -ENOTCONN");
	ok(ops->read(&be, 0, 0xffffffff81000000ull, buf, 4) == -ENOTCONN,
	   "read without a guest: -ENOTCONN");
	ok(ops->write(&be, 0, 0xffffffff81000000ull, buf, 4) == -ENOTCONN,
	   "write without a guest: -ENOTCONN");
	ok(ops->regs_get(&be, 0, &r) == -ENOTCONN, "regs_get: -ENOTCONN");
	ok(ops->regs_set(&be, 0, &r) == -ENOTCONN, "regs_set: -ENOTCONN");
	ok(ops->wait(&be, &st, 0) == -ENOTCONN, "wait: -ENOTCONN");
	ok(ops->resume(&be, 0, &res) == -ENOTCONN, "resume: -ENOTCONN");
	ok(ops->interrupt(&be) == -ENOTCONN, "interrupt: -ENOTCONN");
	ops->detach(&be, false);
	ops->detach(&be, true);
	ok(be.priv == NULL, "detach without a guest is harmless, twice");

	return done();
}
