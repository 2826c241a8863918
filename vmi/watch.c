/*
 * watch.c: watchpoints, shadow copies and the changes a write made
 * (watch.h).
 */
#include "vmi/watch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errf.h"

void vsp_watch_init(struct vsp_watchset *ws)
{
	memset(ws, 0, sizeof(*ws));
}

/* Removes the range's watchpoints from the `from`-th on. */
static void wt_unplace_from(struct vsp_wrange *r, struct vsp_backend *be,
			    uint32_t from)
{
	for (uint32_t i = r->nwp; be && be->ops->watch_del && i-- > from;)
		be->ops->watch_del(be, r->wp_at[i], r->wp_len[i]);
	r->nwp = from;
}

static void wt_unplace(struct vsp_wrange *r, struct vsp_backend *be)
{
	wt_unplace_from(r, be, 0);
}

static void wt_free(struct vsp_wrange *r)
{
	free(r->shadow);
	free(r->wp_at);
	free(r->wp_len);
	memset(r, 0, sizeof(*r));
}

void vsp_watch_release(struct vsp_watchset *ws, struct vsp_backend *be)
{
	for (uint32_t i = ws->n; i-- > 0;) {
		wt_unplace(&ws->r[i], be);
		wt_free(&ws->r[i]);
	}
	ws->n = 0;
}

static int wt_add(struct vsp_wrange *r, struct vsp_backend *be, uint64_t at,
		  uint64_t len)
{
	int rc = be->ops->watch_add(be, at, len);
	if (rc == 0) {
		r->wp_at[r->nwp] = at;
		r->wp_len[r->nwp] = len;
		r->nwp++;
	}
	return rc;
}

/* The range's bytes seen at `at` (its address, or an alias): one
 * watchpoint; on a refusal, one per aligned 8 bytes.  On failure the
 * watchpoints this call placed go again. */
static int wt_arm(struct vsp_wrange *r, struct vsp_backend *be, uint64_t at,
		  char *why, size_t whylen)
{
	uint32_t from = r->nwp;
	int rc = wt_add(r, be, at, r->len);
	if (rc == 0)
		return 0;
	if (rc != -ENOSPC && rc != -EINVAL)
		return vsp_errf(why, whylen, "the stub refused the watchpoint (%s)",
				strerror(-rc));
	uint64_t a = at & ~7ull, end = at + r->len;
	uint32_t need = (uint32_t)((end - a + 7) / 8);
	for (; a < end; a += 8) {
		rc = wt_add(r, be, a, 8);
		if (rc < 0) {
			uint32_t took = r->nwp - from;
			wt_unplace_from(r, be, from);
			return vsp_errf(why, whylen, "it needs %u write watchpoints "
					"of 8 bytes and the hypervisor took %u",
					need, took);
		}
	}
	return 0;
}

int vsp_watch_place(struct vsp_watchset *ws, struct vsp_backend *be,
		    uint32_t vcpu, const struct vsp_event_key *k, uint64_t sym,
		    uint64_t addr, uint64_t len, char *why, size_t whylen)
{
	if (!be->ops->watch_add || !be->ops->watch_del)
		return vsp_errf(why, whylen, "the %s backend has no write "
				"watchpoints", be->ops->name);
	if (len == 0 || len > VSP_WATCH_MAX_BYTES || addr + len < addr)
		return vsp_errf(why, whylen, "%llu bytes is more than vsp watches "
				"in one object (%d)", (unsigned long long)len,
				VSP_WATCH_MAX_BYTES);
	if (ws->n == VSP_WATCH_MAX_RANGES)
		return vsp_errf(why, whylen, "more than %d watched objects",
				VSP_WATCH_MAX_RANGES);
	struct vsp_wrange *r = &ws->r[ws->n];
	memset(r, 0, sizeof(*r));
	r->key = k;
	r->sym = sym;
	r->addr = addr;
	r->len = len;
	r->shadow = malloc(len);
	/* Room for the watchpoints at the address and at an alias. */
	uint32_t maxwp = 2 * (uint32_t)((len + 15) / 8);
	r->wp_at = calloc(maxwp, sizeof(*r->wp_at));
	r->wp_len = calloc(maxwp, sizeof(*r->wp_len));
	if (!r->shadow || !r->wp_at || !r->wp_len) {
		wt_free(r);
		return vsp_errf(why, whylen, "out of memory");
	}
	long got = be->ops->read(be, vcpu, addr, r->shadow, len);
	if (got != (long)len) {
		wt_free(r);
		return vsp_errf(why, whylen, "its %llu bytes at 0x%llx cannot be "
				"read", (unsigned long long)len,
				(unsigned long long)addr);
	}
	if (wt_arm(r, be, addr, why, whylen) < 0) {
		wt_free(r);
		return -1;
	}
	ws->n++;
	return 0;
}

int vsp_watch_alias(struct vsp_watchset *ws, struct vsp_backend *be,
		    uint32_t vcpu, uint32_t i, uint64_t alias, char *why,
		    size_t whylen)
{
	uint8_t buf[512];

	if (i >= ws->n)
		return vsp_errf(why, whylen, "no such object");
	struct vsp_wrange *r = &ws->r[i];
	if (r->alias)
		return vsp_errf(why, whylen, "the object has an alias watched");
	if (alias + r->len < alias)
		return vsp_errf(why, whylen, "the alias 0x%llx wraps",
				(unsigned long long)alias);
	/* The same bytes, or not the same object: a wrong alias would watch
	 * (and, under deny, write) somebody else's memory. */
	for (uint64_t off = 0; off < r->len; off += sizeof(buf)) {
		size_t n = r->len - off < sizeof(buf) ? (size_t)(r->len - off)
						      : sizeof(buf);
		if (be->ops->read(be, vcpu, alias + off, buf, n) != (long)n)
			return vsp_errf(why, whylen, "its alias at 0x%llx cannot "
					"be read", (unsigned long long)alias);
		if (memcmp(buf, r->shadow + off, n) != 0)
			return vsp_errf(why, whylen, "0x%llx does not hold its "
					"bytes", (unsigned long long)alias);
	}
	if (wt_arm(r, be, alias, why, whylen) < 0)
		return -1;
	r->alias = alias;
	return 0;
}

static uint64_t wt_le(const uint8_t *p, uint32_t n)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Compares range i with the guest: 1 changed (hit filled), 0 same, -1. */
static int wt_diff(struct vsp_watchset *ws, struct vsp_backend *be,
		   uint32_t vcpu, uint32_t i, struct vsp_whit *hit)
{
	struct vsp_wrange *r = &ws->r[i];
	uint8_t buf[512];
	uint64_t first = UINT64_MAX;
	uint32_t changed = 0;
	uint8_t now8[8], old8[8];

	for (uint64_t off = 0; off < r->len; off += sizeof(buf)) {
		size_t n = r->len - off < sizeof(buf) ? (size_t)(r->len - off)
						      : sizeof(buf);
		if (be->ops->read(be, vcpu, r->addr + off, buf, n) != (long)n)
			return -1;
		for (size_t j = 0; j < n; j++) {
			if (buf[j] == r->shadow[off + j])
				continue;
			if (first == UINT64_MAX)
				first = off + j;
			changed++;
		}
	}
	if (!changed)
		return 0;
	/* A table of 8-byte elements (NAME[LO..HI]): the whole element;
	 * else from the first changed byte up to the last one within 8. */
	bool table = r->key && r->key->lo >= 0;
	if (table)
		first -= (r->addr + first - r->sym) % 8;
	uint32_t len = r->len - first < 8 ? (uint32_t)(r->len - first) : 8;
	if (be->ops->read(be, vcpu, r->addr + first, now8, len) != (long)len)
		return -1;
	memcpy(old8, r->shadow + first, len);
	while (!table && len > 1 && now8[len - 1] == old8[len - 1])
		len--;
	hit->range = i;
	hit->addr = r->addr + first;
	hit->offset = hit->addr - r->sym;
	hit->len = len;
	hit->value = wt_le(now8, len);
	hit->old = wt_le(old8, len);
	hit->nchanged = changed;
	return 1;
}

int vsp_watch_hit(struct vsp_watchset *ws, struct vsp_backend *be,
		  uint32_t vcpu, uint64_t at, struct vsp_whit *hit)
{
	int rc;

	for (uint32_t i = 0; i < ws->n; i++) {
		const struct vsp_wrange *r = &ws->r[i];
		if (at < r->addr || at - r->addr >= r->len)
			continue;
		rc = wt_diff(ws, be, vcpu, i, hit);
		if (rc)
			return rc;
	}
	for (uint32_t i = 0; i < ws->n; i++) {
		const struct vsp_wrange *r = &ws->r[i];
		if (at >= r->addr && at - r->addr < r->len)
			continue;
		rc = wt_diff(ws, be, vcpu, i, hit);
		if (rc)
			return rc;
	}
	return 0;
}

int vsp_watch_accept(struct vsp_watchset *ws, struct vsp_backend *be,
		     uint32_t vcpu, const struct vsp_whit *hit)
{
	struct vsp_wrange *r = &ws->r[hit->range];
	/* Every change in the range stands, not only the first 8 bytes. */
	return be->ops->read(be, vcpu, r->addr, r->shadow, r->len) ==
	       (long)r->len ? 0 : -1;
}

int vsp_watch_restore(struct vsp_watchset *ws, struct vsp_backend *be,
		      uint32_t vcpu, const struct vsp_whit *hit)
{
	struct vsp_wrange *r = &ws->r[hit->range];
	uint8_t buf[512];

	/* Write back every byte that differs from the shadow, in runs. */
	for (uint64_t off = 0; off < r->len; off += sizeof(buf)) {
		size_t n = r->len - off < sizeof(buf) ? (size_t)(r->len - off)
						      : sizeof(buf);
		if (be->ops->read(be, vcpu, r->addr + off, buf, n) != (long)n)
			return -1;
		for (size_t j = 0; j < n;) {
			if (buf[j] == r->shadow[off + j]) {
				j++;
				continue;
			}
			size_t e = j;
			while (e < n && buf[e] != r->shadow[off + e])
				e++;
			if (be->ops->write(be, vcpu, r->addr + off + j,
					   r->shadow + off + j, e - j) !=
			    (long)(e - j))
				return -1;
			j = e;
		}
	}
	return 0;
}
