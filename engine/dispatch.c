/*
 * dispatch.c: the event-to-program tables of engine/dispatch.h.
 *
 * Syscall and hypercall numbers are small and dense (a few hundred), so
 * arrays sized to the largest number any rule names cost one bounds check
 * and one load.  Named events go through a power-of-two table with linear
 * probing, filled to at most half, keyed by an FNV-1a hash of kind, name
 * and (user events) the library's base name, so "libc.so.6" in a policy
 * matches "/lib/x86_64-linux-gnu/libc.so.6" in an event.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/dispatch.h"

static const char *lib_base(const char *lib)
{
	const char *s;

	if (!lib)
		return "";
	s = strrchr(lib, '/');
	return s ? s + 1 : lib;
}

static uint64_t name_hash(uint32_t kind, const char *name, const char *lib)
{
	uint64_t h = 0xcbf29ce484222325ull ^ kind;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	h = (h ^ 0xff) * 0x100000001b3ull;
	for (const unsigned char *p = (const unsigned char *)lib; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return h ? h : 1;
}

static int fill_array(uint32_t **arr, uint32_t *n, const struct vsp_image *im,
		      enum vsp_event_kind kind)
{
	uint32_t max = 0;
	bool any = false;

	for (uint32_t i = 1; i < im->nprogs; i++)
		if (im->progs[i].key.kind == kind) {
			any = true;
			if (im->progs[i].key.nr > max)
				max = im->progs[i].key.nr;
		}
	if (!any)
		return 0;
	if (max > (1u << 20))	/* not a real number: the hash is safer */
		return -1;
	*arr = calloc((size_t)max + 1, sizeof(**arr));
	if (!*arr)
		return -1;
	*n = max + 1;
	for (uint32_t i = 1; i < im->nprogs; i++)
		if (im->progs[i].key.kind == kind && !(*arr)[im->progs[i].key.nr])
			(*arr)[im->progs[i].key.nr] = i;
	return 0;
}

int vsp_fp_dispatch_init(struct vsp_fp_dispatch *d, const struct vsp_image *im)
{
	uint32_t named = 0, size = 1;

	memset(d, 0, sizeof(*d));
	if (fill_array(&d->sys, &d->nsys, im, VSP_EV_SYSCALL) ||
	    fill_array(&d->hyp, &d->nhyp, im, VSP_EV_HYPERCALL))
		goto fail;
	for (uint32_t i = 1; i < im->nprogs; i++)
		if (im->progs[i].key.kind != VSP_EV_SYSCALL &&
		    im->progs[i].key.kind != VSP_EV_HYPERCALL && im->progs[i].key.name)
			named++;
	if (!named)
		return 0;
	while (size < 2 * named)
		size <<= 1;
	d->tab = calloc(size, sizeof(*d->tab));
	if (!d->tab)
		goto fail;
	d->mask = size - 1;
	for (uint32_t i = 1; i < im->nprogs; i++) {
		const struct vsp_event_key *k = &im->progs[i].key;
		const char *lib = lib_base(k->lib);
		uint64_t h;
		uint32_t at;

		if (k->kind == VSP_EV_SYSCALL || k->kind == VSP_EV_HYPERCALL || !k->name)
			continue;
		h = name_hash(k->kind, k->name, lib);
		for (at = (uint32_t)h & d->mask; d->tab[at].hash; at = (at + 1) & d->mask)
			;
		d->tab[at] = (struct vsp_fp_slot){ h, k->name, lib, k->kind, i };
	}
	return 0;
fail:
	vsp_fp_dispatch_release(d);
	return -1;
}

void vsp_fp_dispatch_release(struct vsp_fp_dispatch *d)
{
	free(d->sys);
	free(d->hyp);
	free(d->tab);
	memset(d, 0, sizeof(*d));
}

uint32_t vsp_fp_dispatch_find(const struct vsp_fp_dispatch *d,
			      const struct vsp_event *ev)
{
	const char *lib;
	uint64_t h;

	switch (ev->kind) {
	case VSP_EV_SYSCALL:
		return ev->nr < d->nsys ? d->sys[ev->nr] : 0;
	case VSP_EV_HYPERCALL:
		return ev->nr < d->nhyp ? d->hyp[ev->nr] : 0;
	default:
		break;
	}
	if (!d->tab || !ev->name)
		return 0;
	lib = ev->kind == VSP_EV_USER ? lib_base(ev->lib) : "";
	h = name_hash(ev->kind, ev->name, lib);
	for (uint32_t at = (uint32_t)h & d->mask; d->tab[at].hash; at = (at + 1) & d->mask) {
		const struct vsp_fp_slot *s = &d->tab[at];

		if (s->hash == h && s->kind == (uint32_t)ev->kind &&
		    !strcmp(s->name, ev->name) && !strcmp(s->lib, lib))
			return s->prog;
	}
	return 0;
}
