/*
 * json.c: the JSON writer (see json.h).
 */
#include "interp/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vsp_jbuf_init(struct vsp_jbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void vsp_jbuf_release(struct vsp_jbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void vsp_jbuf_raw(struct vsp_jbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 512;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void vsp_jbuf_cstr(struct vsp_jbuf *b, const char *s)
{
	vsp_jbuf_raw(b, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s, or 0 when it is not valid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		len = 2;
		cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3;
		cp = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void vsp_jbuf_str(struct vsp_jbuf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0;

	vsp_jbuf_raw(b, "\"", 1);
	while (i < n) {
		unsigned char c = u[i];
		size_t l = utf8_len(u + i, n - i);
		const char *esc = NULL;
		char tmp[8];

		if (l > 1) {
			i += l;
			run += l;
			continue;
		}
		if (l == 1 && c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
			i++;
			run++;
			continue;
		}
		vsp_jbuf_raw(b, s + i - run, run);
		run = 0;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\t': esc = "\\t"; break;
		case '\r': esc = "\\r"; break;
		default:
			snprintf(tmp, sizeof(tmp), "\\u%04x", c);
			esc = tmp;
		}
		vsp_jbuf_cstr(b, esc);
		i++;
	}
	vsp_jbuf_raw(b, s + i - run, run);
	vsp_jbuf_raw(b, "\"", 1);
}

bool vsp_utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t l = utf8_len(u + i, n - i);

		if (!l)
			return false;
		i += l;
	}
	return true;
}

void vsp_jbuf_bytes(struct vsp_jbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	char tmp[128];
	size_t i, k = 0;

	if (vsp_utf8_valid(s, n)) {
		vsp_jbuf_str(b, s, n);
		return;
	}
	vsp_jbuf_cstr(b, "{\"hex\":\"");
	for (i = 0; i < n; i++) {
		tmp[k++] = hex[u[i] >> 4];
		tmp[k++] = hex[u[i] & 15];
		if (k == sizeof tmp) {
			vsp_jbuf_raw(b, tmp, k);
			k = 0;
		}
	}
	vsp_jbuf_raw(b, tmp, k);
	vsp_jbuf_cstr(b, "\"}");
}

void vsp_jbuf_int(struct vsp_jbuf *b, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);

	vsp_jbuf_raw(b, tmp, (size_t)n);
}

void vsp_jbuf_uint(struct vsp_jbuf *b, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);

	vsp_jbuf_raw(b, tmp, (size_t)n);
}

void vsp_jbuf_key(struct vsp_jbuf *b, const char *key, bool *first)
{
	if (!*first)
		vsp_jbuf_raw(b, ",", 1);
	*first = false;
	vsp_jbuf_str(b, key, strlen(key));
	vsp_jbuf_raw(b, ":", 1);
}


void vsp_json_answer(FILE *out, const char *cmd, const char *text, size_t len)
{
	struct vsp_jbuf b;
	size_t cl = strlen(cmd), wl = strcspn(cmd, " ");
	bool ok = true, first = true;

	vsp_jbuf_init(&b);
	vsp_jbuf_raw(&b, "{\"command\":", 11);
	vsp_jbuf_str(&b, cmd, cl);
	vsp_jbuf_raw(&b, ",\"lines\":[", 10);
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
		const char *l = text + at;

		if ((n > cl && !memcmp(l, cmd, cl) && l[cl] == ':') ||
		    (n > wl && !memcmp(l, cmd, wl) && l[wl] == ':'))
			ok = false;
		if (!first)
			vsp_jbuf_raw(&b, ",", 1);
		first = false;
		vsp_jbuf_str(&b, l, n);
		at += n + (nl != NULL);
	}
	vsp_jbuf_raw(&b, "],\"ok\":", 7);
	vsp_jbuf_cstr(&b, ok ? "true" : "false");
	vsp_jbuf_raw(&b, "}\n", 2);
	if (!b.oom)
		fwrite(b.p, 1, b.len, out);
	vsp_jbuf_release(&b);
}
