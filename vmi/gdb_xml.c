/*
 * gdb_xml.c: the stub's target description (qXfer:features:read), read
 * for the number a register has in P packets (gdb.h).
 *
 * The description is the stub's, so untrusted: a document over 64 KiB, a
 * file name outside [A-Za-z0-9._-], an include more than one level deep or
 * a regnum over 4096 is an error, never a loop or an overrun.
 */
#include "vmi/gdb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads annex `annex` of the target description whole into *out (owned,
 * NUL-terminated, at most 64 KiB).  0, or an error. */
#define GDB_XML_MAX (64u << 10)
static int gdb_xml_read(struct vsp_gdb *g, const char *annex, char **out)
{
	char req[160];
	char *doc = NULL;
	size_t len = 0;
	int rc;

	if (strlen(annex) > 64 || strspn(annex, "abcdefghijklmnopqrstuvwxyz"
					  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
	    strlen(annex))
		return vsp_gdb_fail(g, -EPROTO, "target description names a file "
				"vsp will not ask for");
	for (;;) {
		snprintf(req, sizeof req, "qXfer:features:read:%s:%zx,%zx", annex,
			 len, (size_t)VSP_GDB_MAX_PACKET / 2);
		rc = vsp_gdb_request(g, req);
		if (rc < 0)
			break;
		char kind = g->pkt[0];
		size_t n = g->pkt_len ? g->pkt_len - 1 : 0;
		if ((kind != 'm' && kind != 'l') || len + n > GDB_XML_MAX) {
			rc = vsp_gdb_fail(g, -EPROTO, "target description: unexpected "
				      "reply '%.20s'", g->pkt);
			break;
		}
		char *nd = realloc(doc, len + n + 1);
		if (!nd) {
			rc = -ENOMEM;
			break;
		}
		doc = nd;
		memcpy(doc + len, g->pkt + 1, n);
		len += n;
		doc[len] = 0;
		if (kind == 'l' || n == 0) {
			*out = doc;
			return 0;
		}
	}
	free(doc);
	return rc;
}

/* The value of attribute `attr` in the element starting at `el` (up to its
 * '>'), copied into buf; false when absent. */
static bool gdb_xml_attr(const char *el, const char *attr, char *buf,
			 size_t n)
{
	const char *end = strchr(el, '>');
	size_t al = strlen(attr);

	for (const char *p = el; p && end && p < end; p++) {
		if (strncmp(p, attr, al) || p[al] != '=' ||
		    (p[al + 1] != '"' && p[al + 1] != '\''))
			continue;
		if (p > el && p[-1] != ' ' && p[-1] != '\t' && p[-1] != '\n')
			continue;
		const char *v = p + al + 2, *q = strchr(v, p[al + 1]);
		if (!q || q > end || (size_t)(q - v) >= n)
			return false;
		memcpy(buf, v, (size_t)(q - v));
		buf[q - v] = 0;
		return true;
	}
	return false;
}

/* Counts the registers of `doc` in order (following xi:include one level
 * deep), from *next; true when `name` was found, its number in *regno. */
static int gdb_xml_walk(struct vsp_gdb *g, const char *doc, const char *name,
			unsigned *next, unsigned *regno, int depth)
{
	char v[80];

	for (const char *p = strchr(doc, '<'); p; p = strchr(p + 1, '<')) {
		if (!strncmp(p, "<!--", 4)) {	/* QEMU comments registers out */
			p = strstr(p + 4, "-->");
			if (!p)
				break;
		} else if (!strncmp(p, "<xi:include", 11) && depth == 0 &&
		    gdb_xml_attr(p, "href", v, sizeof v)) {
			char *sub = NULL;
			int rc = gdb_xml_read(g, v, &sub);
			if (rc < 0)
				return rc;
			rc = gdb_xml_walk(g, sub, name, next, regno, depth + 1);
			free(sub);
			if (rc != 0)
				return rc;
		} else if (!strncmp(p, "<reg", 4) && (p[4] == ' ' || p[4] == '\t' ||
						       p[4] == '\n')) {
			if (gdb_xml_attr(p, "regnum", v, sizeof v)) {
				char *e;
				unsigned long r = strtoul(v, &e, 10);
				if (*e || r > 4096)
					return vsp_gdb_fail(g, -EPROTO, "target description: "
							"regnum '%s'", v);
				*next = (unsigned)r;
			}
			if (gdb_xml_attr(p, "name", v, sizeof v) && !strcmp(v, name)) {
				*regno = *next;
				return 1;
			}
			(*next)++;
		}
	}
	return 0;
}

int vsp_gdb_xml_regnum(struct vsp_gdb *g, const char *name, unsigned *regno)
{
	char *doc = NULL;
	unsigned next = 0;
	int rc = gdb_xml_read(g, "target.xml", &doc);

	if (rc < 0)
		return rc;
	rc = gdb_xml_walk(g, doc, name, &next, regno, 0);
	free(doc);
	if (rc == 0)
		return vsp_gdb_fail(g, -ENOTSUP, "the stub's target description has "
				"no register %s", name);
	return rc < 0 ? rc : 0;
}
