/*
 * extern.c: binding and calling extern functions (interp/extern.h).
 *
 * Load time: vsp_ext_resolve() confines libraries to the allowed
 * directories; vsp_ext_bind() prepares one libffi call interface per
 * declaration and either opens the libraries here (in process) or starts
 * the child that opens them (isolated) and reads back, per declaration,
 * whether its symbol was found.
 *
 * Decision time: vsp_ext_call() is ffi_call() on the bound symbol, with
 * the argument values in local arrays; or, isolated, one request written
 * to the child and one answer read back, both through a buffer allocated
 * at load, under a deadline (poll).
 *
 * The child protocol, on a SOCK_STREAM socket pair, native byte order:
 *   child, once:  per extern, u32 n and n bytes of error text (n 0: bound)
 *   request:      u32 extern index, u32 n, n bytes of arguments: an int or
 *                 bool as 8 bytes, a string as u32 length and its bytes
 *   answer:       i64 value (a string result: its length, negative when
 *                 failed), u32 n and n bytes of the string result
 */
#include <dlfcn.h>
#include <errno.h>
#include <ffi.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "interp/extern.h"

/* A prepared call interface: the libffi types of one declaration. */
struct ext_cif {
	ffi_cif cif;
	ffi_type *at[2 * VSP_EXT_MAX_ARGS + 2];
};

struct vsp_ext_host {
	bool isolate;
	uint32_t timeout_ms;
	void **libs;		/* in this process (or the child): dlopen handles */
	uint32_t nlibs;
	/* isolated */
	pid_t pid;		/* the child, or -1 */
	int fd;
	bool reported;		/* the child's report of its symbols was read */
	uint8_t *buf;		/* requests and answers */
	size_t cap;
	uint64_t calls, failures, restarts;
};

/* ---- resolving ------------------------------------------------------------ */

static bool within(const char *file, const char *dir)
{
	size_t n = strlen(dir);

	if (n && dir[n - 1] == '/')
		n--;
	return strncmp(file, dir, n) == 0 && file[n] == '/';
}

static bool allowed(const struct vsp_ext_opts *o, const char *real)
{
	static const char *const def[] = { VSP_EXT_DEFAULT_DIR };
	const char *const *dirs = o->ndirs ? o->dirs : def;
	size_t nd = o->ndirs ? o->ndirs : 1;

	for (size_t i = 0; i < nd; i++) {
		char rd[PATH_MAX];

		if (realpath(dirs[i], rd) && within(real, rd))
			return true;
	}
	return false;
}

int vsp_ext_resolve(const struct vsp_ext_opts *o, const char *lib,
		    const char *base, char **path, char *err, size_t errlen)
{
	static const char *const def[] = { VSP_EXT_DEFAULT_DIR };
	const char *const *dirs = o->ndirs ? o->dirs : def;
	size_t nd = o->ndirs ? o->ndirs : 1;
	char cand[PATH_MAX], real[PATH_MAX];
	bool found = false;

	*path = NULL;
	if (!strchr(lib, '/')) {
		for (size_t i = 0; i < nd && !found; i++) {
			if ((size_t)snprintf(cand, sizeof(cand), "%s/%s", dirs[i], lib) >=
			    sizeof(cand))
				continue;
			found = realpath(cand, real) != NULL;
		}
		if (!found) {
			snprintf(err, errlen,
				 "library \"%s\" not found in the extension directories (--extern-path)",
				 lib);
			return -1;
		}
	} else {
		if (lib[0] == '/' || !base || !base[0])
			snprintf(cand, sizeof(cand), "%s", lib);
		else
			snprintf(cand, sizeof(cand), "%s/%s", base, lib);
		if (!realpath(cand, real)) {
			snprintf(err, errlen, "cannot find library \"%s\": %s", lib,
				 strerror(errno));
			return -1;
		}
	}
	if (!allowed(o, real)) {
		snprintf(err, errlen,
			 "library \"%s\" is not in an extension directory (--extern-path): refused",
			 lib);
		return -1;
	}
	*path = strdup(real);
	if (!*path) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* ---- call interfaces ------------------------------------------------------ */

static int prep_cif(struct vsp_extern *x, char *err, size_t errlen)
{
	struct ext_cif *c = calloc(1, sizeof(*c));
	unsigned n = 0;
	ffi_type *rt;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < x->nargs; i++) {
		switch (x->args[i]) {
		case 'i': c->at[n++] = &ffi_type_sint64; break;
		case 'b': c->at[n++] = &ffi_type_uint8; break;
		default:
			c->at[n++] = &ffi_type_pointer;
			c->at[n++] = &ffi_type_uint64;	/* size_t */
		}
	}
	if (x->ret[0] == 's') {
		c->at[n++] = &ffi_type_pointer;
		c->at[n++] = &ffi_type_uint64;
		rt = &ffi_type_sint64;
	} else {
		rt = x->ret[0] == 'b' ? &ffi_type_uint8 : &ffi_type_sint64;
	}
	if (ffi_prep_cif(&c->cif, FFI_DEFAULT_ABI, n, rt, c->at) != FFI_OK) {
		snprintf(err, errlen, "libffi cannot prepare a call to '%s'", x->name);
		free(c);
		return -1;
	}
	x->cif = c;
	return 0;
}

/* Opens every library once and finds every symbol, here: in the monitor,
 * or in the child.  errs[i] is set for each entry that failed. */
static int open_all(struct vsp_image *im, struct vsp_ext_host *h,
		    char (*errs)[VSP_EXT_ERR])
{
	int bad = 0;

	h->libs = calloc(im->nexterns, sizeof(*h->libs));
	if (!h->libs)
		return -1;
	for (uint32_t i = 0; i < im->nexterns; i++) {
		struct vsp_extern *x = &im->externs[i];
		void *lib = NULL, *sym;

		errs[i][0] = 0;
		for (uint32_t k = 0; k < i; k++)
			if (!strcmp(im->externs[k].path, x->path)) {
				lib = h->libs[k];
				break;
			}
		if (!lib) {
			lib = dlopen(x->path, RTLD_NOW | RTLD_LOCAL);
			if (!lib) {
				const char *e = dlerror();

				snprintf(errs[i], VSP_EXT_ERR, "cannot load library \"%s\": %s",
					 x->lib, e ? e : "unknown error");
				bad++;
				continue;
			}
			h->libs[i] = lib;
			h->nlibs = i + 1;
		}
		dlerror();
		sym = dlsym(lib, x->name);
		if (!sym) {
			snprintf(errs[i], VSP_EXT_ERR,
				 "symbol '%s' not found in library \"%s\"", x->name,
				 x->lib);
			bad++;
			continue;
		}
		/* POSIX: a dlsym result converts to a function pointer. */
		memcpy(&x->fn, &sym, sizeof(x->fn));
		x->bound = true;
	}
	return bad;
}

/* ---- calling in this process ---------------------------------------------- */

static bool call_here(const struct vsp_extern *x, const struct vsp_val *args,
		      char *slot, size_t cap, int64_t *ret)
{
	void *av[2 * VSP_EXT_MAX_ARGS + 2];
	int64_t iv[VSP_EXT_MAX_ARGS];
	uint8_t bv[VSP_EXT_MAX_ARGS];
	const char *pv[VSP_EXT_MAX_ARGS + 1];
	uint64_t lv[VSP_EXT_MAX_ARGS + 1];
	unsigned n = 0;
	ffi_arg rv = 0;

	for (unsigned i = 0; i < x->nargs; i++) {
		switch (x->args[i]) {
		case 'i':
			iv[i] = args[i].i;
			av[n++] = &iv[i];
			break;
		case 'b':
			bv[i] = args[i].i != 0;
			av[n++] = &bv[i];
			break;
		default:
			pv[i] = args[i].p ? args[i].p : "";
			lv[i] = args[i].len;
			av[n++] = &pv[i];
			av[n++] = &lv[i];
		}
	}
	if (x->ret[0] == 's') {
		pv[VSP_EXT_MAX_ARGS] = slot;
		lv[VSP_EXT_MAX_ARGS] = cap;
		av[n++] = &pv[VSP_EXT_MAX_ARGS];
		av[n++] = &lv[VSP_EXT_MAX_ARGS];
	}
	ffi_call(&((struct ext_cif *)x->cif)->cif, x->fn, &rv, av);
	if (x->ret[0] == 'b')
		*ret = (uint8_t)rv != 0;
	else
		*ret = (int64_t)rv;
	return true;
}

/* ---- the child ------------------------------------------------------------ */

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;

	while (n) {
		ssize_t r = read(fd, b, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The child's loop: decode, call, answer; ends when the monitor goes. */
static __attribute__((noreturn)) void child_main(struct vsp_image *im,
						 struct vsp_ext_host *h, int fd)
{
	static char errs[64][VSP_EXT_ERR];
	char (*ev)[VSP_EXT_ERR] = im->nexterns <= 64 ? errs : calloc(im->nexterns, VSP_EXT_ERR);
	static char slot[VSP_VM_SLOT_SIZE];

	if (!ev || open_all(im, h, ev) < 0)
		_exit(1);
	for (uint32_t i = 0; i < im->nexterns; i++) {
		uint32_t n = (uint32_t)strlen(ev[i]);

		if (write_all(fd, &n, 4) || write_all(fd, ev[i], n))
			_exit(1);
	}
	for (;;) {
		uint32_t hd[2];
		struct vsp_val args[VSP_EXT_MAX_ARGS];
		const struct vsp_extern *x;
		size_t at = 0;
		int64_t ret = 0;
		uint32_t sn = 0;

		if (read_all(fd, hd, sizeof(hd)) || hd[0] >= im->nexterns ||
		    hd[1] > h->cap || read_all(fd, h->buf, hd[1]))
			_exit(0);
		x = &im->externs[hd[0]];
		if (!x->bound)
			_exit(1);
		for (unsigned i = 0; i < x->nargs; i++) {
			if (x->args[i] == 's') {
				uint32_t len;

				if (at + 4 > hd[1])
					_exit(1);
				memcpy(&len, h->buf + at, 4);
				at += 4;
				if (len > hd[1] - at)
					_exit(1);
				args[i].p = (const char *)h->buf + at;
				args[i].len = len;
				at += len;
			} else {
				if (at + 8 > hd[1])
					_exit(1);
				memcpy(&args[i].i, h->buf + at, 8);
				at += 8;
			}
		}
		call_here(x, args, slot, sizeof(slot), &ret);
		if (x->ret[0] == 's' && ret > 0)
			sn = ret > (int64_t)sizeof(slot) ? (uint32_t)sizeof(slot) : (uint32_t)ret;
		if (write_all(fd, &ret, 8) || write_all(fd, &sn, 4) ||
		    write_all(fd, slot, sn))
			_exit(0);
	}
}

static void host_kill(struct vsp_ext_host *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	h->pid = -1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads n bytes before the deadline (monotonic ms). */
static int read_by(int fd, void *p, size_t n, uint64_t deadline)
{
	uint8_t *b = p;

	while (n) {
		struct pollfd pf = { fd, POLLIN, 0 };
		uint64_t t = now_ms();
		int r;

		if (t >= deadline)
			return -1;
		r = poll(&pf, 1, (int)(deadline - t));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		ssize_t got = read(fd, b, n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		b += got;
		n -= (size_t)got;
	}
	return 0;
}

/* Starts a child (which opens the libraries and then reports); 0 or -1. */
static int host_spawn(struct vsp_image *im, struct vsp_ext_host *h)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* The child keeps only its socket and the standard streams:
		 * not the monitor's connection to the guest, its audit file or
		 * a trace; it ends with the monitor. */
		int fd = sv[1];

		if (fd != 3) {
			if (dup2(fd, 3) < 0)
				_exit(1);
			fd = 3;
		}
		close_range(4, ~0u, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(0);
		signal(SIGINT, SIG_IGN);	/* the monitor decides when it ends */
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		child_main(im, h, fd);
	}
	close(sv[1]);
	h->pid = pid;
	h->fd = sv[0];
	h->reported = false;
	return 0;
}

/*
 * Reads the child's per-extern report into errs (NULL: a restart, where
 * only success matters) within wait_ms.  Returns the number of entries not
 * bound, or -1; a child that fails is killed.
 */
static int host_report(struct vsp_image *im, struct vsp_ext_host *h,
		       char (*errs)[VSP_EXT_ERR], uint32_t wait_ms)
{
	uint64_t deadline = now_ms() + wait_ms;
	int bad = 0;

	for (uint32_t i = 0; i < im->nexterns; i++) {
		char tmp[VSP_EXT_ERR];
		uint32_t n;

		if (read_by(h->fd, &n, 4, deadline) || n >= VSP_EXT_ERR ||
		    read_by(h->fd, tmp, n, deadline)) {
			host_kill(h);
			return -1;
		}
		tmp[n] = 0;
		if (errs)
			memcpy(errs[i], tmp, n + 1);
		im->externs[i].bound = n == 0;
		bad += n != 0;
	}
	h->reported = true;
	if (bad && !errs)
		host_kill(h);
	return bad;
}

/* ---- the interface -------------------------------------------------------- */

int vsp_ext_bind(struct vsp_image *im, const struct vsp_ext_opts *o,
		 char (*errs)[VSP_EXT_ERR])
{
	struct vsp_ext_host *h;
	int bad = 0;

	if (!im->nexterns)
		return 0;
	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(errs[0], VSP_EXT_ERR, "out of memory");
		return -1;
	}
	h->isolate = o->isolate;
	h->timeout_ms = o->timeout_ms ? o->timeout_ms : 100;
	h->pid = -1;
	h->fd = -1;
	im->ext_host = h;
	for (uint32_t i = 0; i < im->nexterns; i++) {
		errs[i][0] = 0;
		if (prep_cif(&im->externs[i], errs[i], VSP_EXT_ERR))
			bad++;
	}
	if (bad)
		return bad;
	if (!h->isolate) {
		bad = open_all(im, h, errs);
		if (bad < 0)
			snprintf(errs[0], VSP_EXT_ERR, "out of memory");
		return bad;
	}
	h->cap = 16 + (size_t)VSP_EXT_MAX_ARGS * (VSP_EXT_STR_MAX + 8);
	if (h->cap < VSP_VM_SLOT_SIZE + 12)
		h->cap = VSP_VM_SLOT_SIZE + 12;
	h->buf = malloc(h->cap);
	if (!h->buf) {
		snprintf(errs[0], VSP_EXT_ERR, "out of memory");
		return -1;
	}
	bad = host_spawn(im, h) ? -1 : host_report(im, h, errs, 10000);
	if (bad < 0)
		snprintf(errs[0], VSP_EXT_ERR,
			 "cannot start the extension process: %s", strerror(errno));
	return bad;
}

/* One request to the child and its answer, under the time budget.  A
 * failure leaves no child: the next call starts one. */
static bool call_child(const struct vsp_image *im, struct vsp_ext_host *h,
		       const struct vsp_extern *x, const struct vsp_val *args,
		       char *slot, int64_t *ret)
{
	uint32_t idx = (uint32_t)(x - im->externs), sn;
	size_t at = 8;
	uint64_t deadline;

	h->calls++;
	if (h->pid <= 0) {
		h->restarts++;
		if (host_spawn((struct vsp_image *)im, h))
			goto fail_keep;
	}
	if (!h->reported &&
	    host_report((struct vsp_image *)im, h, NULL, VSP_EXT_START_MS) != 0)
		goto fail;
	for (unsigned i = 0; i < x->nargs; i++) {
		if (x->args[i] == 's') {
			uint32_t len = args[i].len;

			if (len > VSP_EXT_STR_MAX)
				goto fail_keep;
			memcpy(h->buf + at, &len, 4);
			if (len)
				memcpy(h->buf + at + 4, args[i].p, len);
			at += 4 + len;
		} else {
			memcpy(h->buf + at, &args[i].i, 8);
			at += 8;
		}
	}
	memcpy(h->buf, &idx, 4);
	memcpy(h->buf + 4, &(uint32_t){ (uint32_t)(at - 8) }, 4);
	deadline = now_ms() + h->timeout_ms;
	if (write_all(h->fd, h->buf, at) || read_by(h->fd, ret, 8, deadline) ||
	    read_by(h->fd, &sn, 4, deadline) || sn > VSP_VM_SLOT_SIZE ||
	    read_by(h->fd, slot ? slot : (char *)h->buf, sn, deadline))
		goto fail;
	return true;
fail:
	/* A new child starts now, so that it is ready by the next call. */
	host_kill(h);
	h->restarts++;
	if (host_spawn((struct vsp_image *)im, h))
		h->restarts--;
fail_keep:
	h->failures++;
	return false;
}

int vsp_ext_bind_local(struct vsp_extern *x, void (*fn)(void), char *err,
		       size_t errlen)
{
	if (!x->cif && prep_cif(x, err, errlen))
		return -1;
	x->fn = fn;
	x->bound = fn != NULL;
	return 0;
}

bool vsp_ext_call(const struct vsp_image *im, const struct vsp_extern *x,
		  const struct vsp_val *args, char *slot, struct vsp_val *out)
{
	struct vsp_ext_host *h = im->ext_host;
	int64_t ret = 0;
	bool ok;

	out->i = 0;
	out->p = "";
	out->len = 0;
	if (!x->bound)
		return false;
	if (h && h->isolate)
		ok = call_child(im, h, x, args, slot, &ret);
	else
		ok = call_here(x, args, slot, VSP_VM_SLOT_SIZE, &ret);
	if (!ok)
		return false;
	if (x->ret[0] != 's') {
		out->i = ret;
		return true;
	}
	if (ret < 0)
		return false;
	out->p = slot;
	out->len = ret > VSP_VM_SLOT_SIZE ? VSP_VM_SLOT_SIZE : (uint32_t)ret;
	return true;
}

void vsp_ext_release(struct vsp_image *im)
{
	struct vsp_ext_host *h = im->ext_host;

	for (uint32_t i = 0; i < im->nexterns; i++) {
		free(im->externs[i].cif);
		im->externs[i].cif = NULL;
		im->externs[i].bound = false;
	}
	if (!h)
		return;
	host_kill(h);
	for (uint32_t i = 0; i < h->nlibs; i++)
		if (h->libs[i])
			dlclose(h->libs[i]);
	free(h->libs);
	free(h->buf);
	free(h);
	im->ext_host = NULL;
}

void vsp_ext_counts(const struct vsp_image *im, uint64_t *calls,
		    uint64_t *failures, uint64_t *restarts)
{
	const struct vsp_ext_host *h = im->ext_host;

	*calls = h ? h->calls : 0;
	*failures = h ? h->failures : 0;
	*restarts = h ? h->restarts : 0;
}
