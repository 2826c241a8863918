/*
 * trace.c: reading JSON Lines traces (vmi/trace.h; the writer is in
 * vmi/trace_write.c).
 *
 * The reader turns one line into a struct vsp_event with json-c, checking
 * every known key's type and every integer's range (json-c clamps
 * out-of-range integers silently, so a small scanner looks at the number
 * tokens first).  String fields are answered lazily from the line's
 * "strings" object, exactly as a live backend answers them from guest
 * memory.  The line reader bounds a line's length without holding a huge
 * line whole.
 */
#include "vmi/trace.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "base/errf.h"
#include "base/hex.h"

void vsp_trace_event_init(struct vsp_trace_event *te)
{
	memset(te, 0, sizeof(*te));
}

void vsp_trace_event_release(struct vsp_trace_event *te)
{
	free(te->arena);
	memset(te, 0, sizeof(*te));
}

/*
 * Copies into the arena.  The arena is sized before any copy (see
 * reserve), so pointers handed out stay valid for the whole event.
 */
static const char *arena_copy(struct vsp_trace_event *te, const char *s,
			      size_t n)
{
	char *p = te->arena + te->arena_len;

	memcpy(p, s, n);
	p[n] = '\0';
	te->arena_len += n + 1;
	return p;
}

static int arena_reserve(struct vsp_trace_event *te, size_t need)
{
	if (need <= te->arena_cap)
		return 0;
	size_t cap = te->arena_cap ? te->arena_cap : 4096;
	while (cap < need)
		cap *= 2;
	char *p = realloc(te->arena, cap);
	if (!p)
		return -1;
	te->arena = p;
	te->arena_cap = cap;
	return 0;
}

/* A key of some object of the line, decoded, for the duplicate check. */
struct key_ref {
	uint32_t obj;		/* which object: numbered as they open */
	uint32_t off, len;	/* in the scratch buffer */
	uint32_t at;		/* byte offset in the line, for the message */
};

static int key_cmp(const void *a, const void *b, void *scratch)
{
	const struct key_ref *x = a, *y = b;
	const char *key_scratch = scratch;

	if (x->obj != y->obj)
		return x->obj < y->obj ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	int c = memcmp(key_scratch + x->off, key_scratch + y->off, x->len);
	if (c)
		return c;
	return x->at < y->at ? -1 : x->at > y->at;
}

/* Decodes the JSON string at s[i] (the opening quote) into out, well
 * enough to compare keys: escapes are folded, \uXXXX kept as its digits
 * with a marker byte so "\u0061" and "a" stay apart only when they differ.
 * Returns the index after the closing quote. */
static size_t scan_string(const char *s, size_t n, size_t i, char *out,
			  size_t *olen)
{
	size_t k = 0;

	for (i++; i < n && s[i] != '"'; i++) {
		char c = s[i];

		if (c == '\\' && i + 1 < n) {
			c = s[++i];
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u':
				if (i + 4 < n) {
					unsigned v = 0;
					int d;

					for (d = 1; d <= 4; d++) {
						char h = s[i + d];
						v = v * 16 + (unsigned)(h >= 'a' ? h - 'a' + 10 :
							h >= 'A' ? h - 'A' + 10 : h - '0');
					}
					i += 4;
					if (v < 0x80) {
						c = (char)v;
						break;
					}
					if (out) {	/* kept as a code point */
						out[k++] = '\xff';
						out[k++] = (char)(v >> 8);
						out[k++] = (char)v;
					}
					continue;
				}
				break;
			default:
				break;	/* \" \\ \/ are the byte itself */
			}
		}
		if (out)
			out[k++] = c;
	}
	if (olen)
		*olen = k;
	return i + 1;
}

/*
 * Checks what json-c would let pass silently, on the raw text: integers
 * outside int64 (json-c clamps them), integers with leading zeros (JSON
 * has none; said so rather than "out of range"), and a key twice in one
 * object (json-c keeps the last: a shadow "filename" would decide).  A
 * number with a fraction or exponent is left to the type checks.
 */
static int check_text(const char *s, size_t n, char *err, size_t errlen)
{
	uint32_t stack[64], nobj = 0;	/* object ids open; 0: an array */
	size_t depth = 0, i = 0, nkeys = 0, cap = 0, used = 0;
	struct key_ref *keys = NULL;
	char *scratch = NULL;
	int rc = 0;

	while (i < n) {
		char c = s[i];

		if (c == '"') {
			size_t j = scan_string(s, n, i, NULL, NULL), k = j, len;

			while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' ||
					 s[k] == '\n'))
				k++;
			if (k < n && s[k] == ':' && depth && stack[depth - 1]) {
				if (!scratch && !(scratch = malloc(3 * n + 1)))
					goto oom;
				if (nkeys == cap) {
					size_t nc = cap ? 2 * cap : 32;
					struct key_ref *nk = realloc(keys, nc * sizeof(*nk));
					if (!nk)
						goto oom;
					keys = nk;
					cap = nc;
				}
				scan_string(s, n, i, scratch + used, &len);
				keys[nkeys++] = (struct key_ref){ stack[depth - 1],
					(uint32_t)used, (uint32_t)len, (uint32_t)i };
				used += len;
			}
			i = j;
			continue;
		}
		if (c == '{' || c == '[') {
			if (depth == sizeof stack / sizeof *stack) {
				vsp_errf(err, errlen, "nested more than %zu deep at "
					 "byte %zu", depth, i + 1);
				rc = -1;
				goto out;
			}
			stack[depth++] = c == '{' ? ++nobj : 0;
			i++;
			continue;
		}
		if (c == '}' || c == ']') {
			if (depth)
				depth--;
			i++;
			continue;
		}
		if (c == '-' || (c >= '0' && c <= '9')) {
			size_t j = i + (c == '-'), d0 = j;
			bool frac = false;
			while (j < n && ((s[j] >= '0' && s[j] <= '9') ||
					 s[j] == '.' || s[j] == 'e' ||
					 s[j] == 'E' || s[j] == '+' ||
					 s[j] == '-')) {
				if (s[j] == '.' || s[j] == 'e' || s[j] == 'E')
					frac = true;
				j++;
			}
			if (j - d0 > 1 && s[d0] == '0' && s[d0 + 1] >= '0' &&
			    s[d0 + 1] <= '9') {
				vsp_errf(err, errlen,
					 "integer with a leading zero at byte %zu "
					 "(JSON numbers have none)", i + 1);
				rc = -1;
				goto out;
			}
			if (!frac) {
				char tmp[32];
				size_t len = j - i;
				bool range = len < sizeof(tmp);
				if (range) {
					memcpy(tmp, s + i, len);
					tmp[len] = '\0';
					errno = 0;
					(void)strtoll(tmp, NULL, 10);
					range = errno != ERANGE;
				}
				if (!range) {
					vsp_errf(err, errlen,
						 "integer out of the signed 64-bit range at byte %zu",
						 i + 1);
					rc = -1;
					goto out;
				}
			}
			i = j;
			continue;
		}
		i++;
	}
	if (nkeys > 1) {
		qsort_r(keys, nkeys, sizeof *keys, key_cmp, scratch);
		for (size_t k = 1; k < nkeys; k++) {
			const struct key_ref *a = &keys[k - 1], *b = &keys[k];

			if (a->obj == b->obj && a->len == b->len &&
			    !memcmp(scratch + a->off, scratch + b->off, a->len)) {
				vsp_errf(err, errlen, "key \"%.*s\" given twice "
					 "(at bytes %u and %u)", (int)(a->len > 40 ? 40 : a->len),
					 scratch + a->off, a->at + 1, b->at + 1);
				rc = -1;
				break;
			}
		}
	}
out:
	free(keys);
	free(scratch);
	return rc;
oom:
	vsp_errf(err, errlen, "out of memory");
	rc = -1;
	goto out;
}

static int get_int(json_object *o, const char *what, int64_t *out, char *err,
		   size_t errlen)
{
	if (json_object_get_type(o) != json_type_int) {
		vsp_errf(err, errlen, "%s: expected an integer, got %s", what,
			 json_type_to_name(json_object_get_type(o)));
		return -1;
	}
	*out = json_object_get_int64(o);
	return 0;
}

static int get_str(json_object *o, const char *what, const char **p,
		   size_t *n, char *err, size_t errlen)
{
	if (json_object_get_type(o) != json_type_string) {
		vsp_errf(err, errlen, "%s: expected a string, got %s", what,
			 json_type_to_name(json_object_get_type(o)));
		return -1;
	}
	*p = json_object_get_string(o);
	*n = (size_t)json_object_get_string_len(o);
	return 0;
}

/* A guest byte string: a JSON string, or {"hex":"..."} for bytes that are
 * not UTF-8 (vsp_jbuf_bytes).  The hex form is decoded in place into the
 * arena: *p points there. */
static int get_bytes(struct vsp_trace_event *te, json_object *o,
		     const char *what, const char **p, size_t *n, char *err,
		     size_t errlen)
{
	json_object *h;
	const char *s;
	size_t len, i;
	char *out;

	if (json_object_get_type(o) != json_type_object)
		return get_str(o, what, p, n, err, errlen);
	if (json_object_object_length(o) != 1 ||
	    !json_object_object_get_ex(o, "hex", &h) ||
	    json_object_get_type(h) != json_type_string) {
		vsp_errf(err, errlen, "%s: expected a string or {\"hex\":...}", what);
		return -1;
	}
	s = json_object_get_string(h);
	len = (size_t)json_object_get_string_len(h);
	if (len % 2) {
		vsp_errf(err, errlen, "%s: hex string of odd length %zu", what, len);
		return -1;
	}
	out = (char *)arena_copy(te, s, len);	/* room enough, then decoded */
	for (i = 0; i < len / 2; i++) {
		int hi = vsp_hexval((unsigned char)s[2 * i]),
		    lo = vsp_hexval((unsigned char)s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			vsp_errf(err, errlen, "%s: not a hex digit at %zu", what,
				 2 * i + (hi >= 0) + 1);
			return -1;
		}
		out[i] = (char)(hi << 4 | lo);
	}
	out[len / 2] = 0;
	*p = out;
	*n = len / 2;
	return 0;
}

static const struct vsp_trace_string *find_string(const struct vsp_trace_event *te,
						  const char *key)
{
	for (uint32_t i = 0; i < te->nstrings; i++)
		if (strcmp(te->strings[i].key, key) == 0)
			return &te->strings[i];
	return NULL;
}

/* Answers string fields from the line's "strings" object. */
static int trace_fetch(void *ctx, struct vsp_event *ev, enum vsp_field f,
		       struct vsp_str *out)
{
	struct vsp_trace_event *te = ctx;
	const struct vsp_trace_string *s = NULL;

	if (f == VSP_F_FUNC) {
		out->ptr = ev->name ? ev->name : "";
		out->len = (uint32_t)strlen(out->ptr);
		return 0;
	}
	if (f >= VSP_F_RES_FIRST && f < VSP_F_COUNT) {
		/* Absent: decided as the live monitor would with the read
		 * failed. */
		if (!(te->rhave & VSP_FBIT(f)))
			return -1;
		if (vsp_field_is_rint(f)) {
			ev->rint[f - VSP_F_RINT_FIRST] =
				te->rint[f - VSP_F_RINT_FIRST];
			*out = (struct vsp_str){ "", 0 };
		} else {
			*out = te->rstr[f];
		}
		return 0;
	}
	if (f >= VSP_F_STR0 && f <= VSP_F_STR5) {
		unsigned i = (unsigned)(f - VSP_F_STR0);
		if (te->call && te->call->has_proto && i < te->call->nargs)
			s = find_string(te, te->call->args[i].name);
		if (!s) {
			char key[8];
			snprintf(key, sizeof(key), "arg%u", i);
			s = find_string(te, key);
		}
	} else if (f == VSP_F_PATH) {
		int i = te->call ? vsp_call_path_arg(te->call) : -1;
		if (i >= 0)
			s = find_string(te, te->call->args[i].name);
		if (!s)
			s = find_string(te, "path");
	}
	if (!s)
		return -1;
	*out = s->val;
	return 0;
}

/* The bytes the arena needs for every string of the object, counted first. */
static size_t strings_size(json_object *root)
{
	size_t need = 0;

	json_object_object_foreach(root, key, val) {
		need += strlen(key) + 1;
		switch (json_object_get_type(val)) {
		case json_type_string:
			need += (size_t)json_object_get_string_len(val) + 1;
			break;
		case json_type_object:
		case json_type_array:
			/* Twice the text: a {"hex":..} inside is copied, then
			 * decoded into a copy of its own (resolved fields). */
			need += 2 * strlen(json_object_to_json_string_ext(val,
					JSON_C_TO_STRING_PLAIN)) + 1;
			break;
		default:
			break;
		}
	}
	return need;
}

/*
 * One resolved field `prefix` + key of an object: type-checked and kept.
 * Keys that name no resolved field are ignored, as unknown keys are.
 */
static int parse_resolved_key(struct vsp_trace_event *te, const char *prefix,
			      const char *key, json_object *val, char *err,
			      size_t errlen)
{
	char name[64];
	int f;

	snprintf(name, sizeof name, "%s%s", prefix, key);
	f = vsp_event_field_by_name(name);
	if (f < VSP_F_RES_FIRST)
		return 0;
	if (vsp_field_is_rint(f)) {
		if (get_int(val, name, &te->rint[f - VSP_F_RINT_FIRST], err,
			    errlen) < 0)
			return -1;
	} else {
		const char *s;
		size_t n;

		if (get_bytes(te, val, name, &s, &n, err, errlen) < 0)
			return -1;
		te->rstr[f].ptr = arena_copy(te, s, n);
		te->rstr[f].len = (uint32_t)n;
	}
	te->rhave |= VSP_FBIT(f);
	return 0;
}

/* "file":{...}, "sock":{...}, "parent":{...}: an object of resolved fields. */
static int parse_resolved(struct vsp_trace_event *te, const char *obj,
			  const char *prefix, json_object *o, char *err,
			  size_t errlen)
{
	if (json_object_get_type(o) != json_type_object) {
		vsp_errf(err, errlen, "%s: expected an object", obj);
		return -1;
	}
	json_object_object_foreach(o, key, val)
		if (parse_resolved_key(te, prefix, key, val, err, errlen) < 0)
			return -1;
	return 0;
}

static int parse_proc(struct vsp_trace_event *te, json_object *o, char *err,
		      size_t errlen)
{
	struct vsp_proc *p = &te->ev.proc;

	if (json_object_get_type(o) != json_type_object) {
		vsp_errf(err, errlen, "proc: expected an object");
		return -1;
	}
	json_object_object_foreach(o, key, val) {
		int64_t *dst = NULL;
		char what[32];
		snprintf(what, sizeof(what), "proc.%s", key);
		if (strcmp(key, "comm") == 0) {
			const char *s;
			size_t n;
			if (get_bytes(te, val, what, &s, &n, err, errlen) < 0)
				return -1;
			if (n >= sizeof(p->comm))
				n = sizeof(p->comm) - 1;
			memcpy(p->comm, s, n);
			p->comm[n] = '\0';
			continue;
		}
		if (strcmp(key, "parent") == 0) {
			if (parse_resolved(te, "proc.parent", "proc.parent.",
					   val, err, errlen) < 0)
				return -1;
			continue;
		}
		if (parse_resolved_key(te, "proc.", key, val, err, errlen) < 0)
			return -1;
		if (strcmp(key, "pid") == 0)
			dst = &p->pid;
		else if (strcmp(key, "tid") == 0)
			dst = &p->tid;
		else if (strcmp(key, "ppid") == 0)
			dst = &p->ppid;
		else if (strcmp(key, "uid") == 0)
			dst = &p->uid;
		else if (strcmp(key, "euid") == 0)
			dst = &p->euid;
		else if (strcmp(key, "gid") == 0)
			dst = &p->gid;
		if (dst && get_int(val, what, dst, err, errlen) < 0)
			return -1;
	}
	return 0;
}

static int parse_strings(struct vsp_trace_event *te, json_object *o,
			 char *err, size_t errlen)
{
	if (json_object_get_type(o) != json_type_object) {
		vsp_errf(err, errlen, "strings: expected an object");
		return -1;
	}
	json_object_object_foreach(o, key, val) {
		char what[64];
		const char *s;
		size_t n;
		snprintf(what, sizeof(what), "strings.%.40s", key);
		if (get_bytes(te, val, what, &s, &n, err, errlen) < 0)
			return -1;
		if (te->nstrings == VSP_TRACE_MAX_STRINGS) {
			vsp_errf(err, errlen, "strings: more than %d entries",
				 VSP_TRACE_MAX_STRINGS);
			return -1;
		}
		struct vsp_trace_string *ts = &te->strings[te->nstrings++];
		ts->key = arena_copy(te, key, strlen(key));
		ts->val.ptr = arena_copy(te, s, n);
		ts->val.len = (uint32_t)n;
	}
	return 0;
}

static int parse_stack(struct vsp_trace_event *te, json_object *o, char *err,
		       size_t errlen)
{
	if (json_object_get_type(o) != json_type_array) {
		vsp_errf(err, errlen, "stack: expected an array");
		return -1;
	}
	size_t n = json_object_array_length(o);
	if (n > VSP_TRACE_MAX_STACK) {
		vsp_errf(err, errlen, "stack: more than %d frames",
			 VSP_TRACE_MAX_STACK);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char what[32];
		const char *s;
		size_t len;
		snprintf(what, sizeof(what), "stack[%zu]", i);
		if (get_str(json_object_array_get_idx(o, i), what, &s, &len,
			    err, errlen) < 0)
			return -1;
		te->stack[i] = arena_copy(te, s, len);
	}
	te->ev.stack = te->stack;
	te->ev.nstack = (uint32_t)n;
	te->ev.has_stack = true;
	return 0;
}

static int parse_args(struct vsp_trace_event *te, json_object *o, char *err,
		      size_t errlen)
{
	if (json_object_get_type(o) != json_type_array) {
		vsp_errf(err, errlen, "args: expected an array");
		return -1;
	}
	size_t n = json_object_array_length(o);
	if (n > 6) {
		vsp_errf(err, errlen, "args: more than 6 arguments");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char what[16];
		snprintf(what, sizeof(what), "args[%zu]", i);
		if (get_int(json_object_array_get_idx(o, i), what,
			    &te->ev.args[i], err, errlen) < 0)
			return -1;
	}
	return 0;
}

static int parse_object(struct vsp_trace_event *te, json_object *root,
			char *err, size_t errlen)
{
	struct vsp_event *ev = &te->ev;
	const char *kind = NULL, *name = NULL;
	bool have_nr = false;
	int64_t v;

	json_object_object_foreach(root, key, val) {
		const char *s;
		size_t n;
		if (strcmp(key, "kind") == 0) {
			if (get_str(val, key, &s, &n, err, errlen) < 0)
				return -1;
			kind = arena_copy(te, s, n);
		} else if (strcmp(key, "name") == 0) {
			if (get_str(val, key, &s, &n, err, errlen) < 0)
				return -1;
			name = arena_copy(te, s, n);
		} else if (strcmp(key, "vm") == 0) {
			if (get_str(val, key, &s, &n, err, errlen) < 0)
				return -1;
			ev->vm = arena_copy(te, s, n);
		} else if (strcmp(key, "lib") == 0) {
			if (get_str(val, key, &s, &n, err, errlen) < 0)
				return -1;
			ev->lib = arena_copy(te, s, n);
		} else if (strcmp(key, "nr") == 0) {
			if (get_int(val, key, &v, err, errlen) < 0)
				return -1;
			if (v < 0 || v > UINT32_MAX) {
				vsp_errf(err, errlen, "nr: %" PRId64 " out of range", v);
				return -1;
			}
			ev->nr = (uint32_t)v;
			have_nr = true;
		} else if (strcmp(key, "seq") == 0 ||
			   strcmp(key, "time_ns") == 0) {
			if (get_int(val, key, &v, err, errlen) < 0)
				return -1;
			if (v < 0) {
				vsp_errf(err, errlen, "%s: %" PRId64 " is negative",
					 key, v);
				return -1;
			}
			*(key[0] == 's' ? &ev->seq : &ev->time_ns) = (uint64_t)v;
		} else if (strcmp(key, "vcpu") == 0) {
			if (get_int(val, key, &ev->vcpu, err, errlen) < 0)
				return -1;
		} else if (strcmp(key, "cr3") == 0) {
			if (get_int(val, key, &v, err, errlen) < 0)
				return -1;
			ev->cr3 = (uint64_t)v;
		} else if (strcmp(key, "addr") == 0 || strcmp(key, "len") == 0 ||
			   strcmp(key, "value") == 0 || strcmp(key, "old") == 0 ||
			   strcmp(key, "offset") == 0) {
			if (get_int(val, key, &v, err, errlen) < 0)
				return -1;
			uint64_t *dst = key[0] == 'a' ? &ev->addr :
					key[0] == 'l' ? &ev->len :
					key[0] == 'v' ? &ev->value :
					key[1] == 'l' ? &ev->old : &ev->offset;
			*dst = (uint64_t)v;
		} else if (strcmp(key, "partial") == 0) {
			if (json_object_get_type(val) != json_type_boolean) {
				vsp_errf(err, errlen, "partial: expected a boolean");
				return -1;
			}
			ev->partial = json_object_get_boolean(val);
		} else if (strcmp(key, "stack_partial") == 0) {
			if (json_object_get_type(val) != json_type_boolean) {
				return vsp_errf(err, errlen, "stack_partial: "
						"expected a boolean");
			}
			ev->stack_partial = json_object_get_boolean(val);
		} else if (strcmp(key, "args") == 0) {
			if (parse_args(te, val, err, errlen) < 0)
				return -1;
		} else if (strcmp(key, "strings") == 0) {
			if (parse_strings(te, val, err, errlen) < 0)
				return -1;
		} else if (strcmp(key, "proc") == 0) {
			if (parse_proc(te, val, err, errlen) < 0)
				return -1;
		} else if (strcmp(key, "stack") == 0) {
			if (parse_stack(te, val, err, errlen) < 0)
				return -1;
		} else if (strcmp(key, "flags") == 0) {
			if (parse_resolved_key(te, "", key, val, err, errlen) < 0)
				return -1;
		} else {
			static const char *const objs[] = {
				"file", "open", "exec", "mmap", "target", "sock",
				"new", "module", "bpf"
			};
			for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) {
				char prefix[16];

				if (strcmp(key, objs[i]) != 0)
					continue;
				snprintf(prefix, sizeof prefix, "%s.", objs[i]);
				if (parse_resolved(te, key, prefix, val, err,
						   errlen) < 0)
					return -1;
			}
		}
	}

	if (!kind) {
		vsp_errf(err, errlen, "missing key \"kind\"");
		return -1;
	}
	if (vsp_event_kind_parse(kind, &ev->kind) < 0) {
		char kinds[128];

		vsp_errf(err, errlen, "kind: \"%s\" is not %s", kind,
			 vsp_event_kind_names(kinds, sizeof kinds, "or"));
		return -1;
	}
	if (ev->kind == VSP_EV_USER && name)
		te->call = vsp_userfn_by_name(name);
	if (ev->kind == VSP_EV_SYSCALL || ev->kind == VSP_EV_HYPERCALL) {
		bool sys = ev->kind == VSP_EV_SYSCALL;
		if (name)
			te->call = sys ? vsp_syscall_by_name(name) :
					 vsp_hypercall_by_name(name);
		else if (have_nr)
			te->call = sys ? vsp_syscall_by_nr(ev->nr) :
					 vsp_hypercall_by_nr(ev->nr);
		if (!name && !have_nr) {
			vsp_errf(err, errlen, "missing key \"name\" (or \"nr\")");
			return -1;
		}
		if (te->call) {
			if (name && have_nr && te->call->nr != ev->nr) {
				vsp_errf(err, errlen,
					 "nr %u does not match %s %s (%u)", ev->nr,
					 kind, name, te->call->nr);
				return -1;
			}
			ev->nr = te->call->nr;
			if (!name)
				name = te->call->name;
		} else if (!name) {
			char num[24];
			snprintf(num, sizeof(num), "%u", ev->nr);
			name = arena_copy(te, num, strlen(num));
		}
	} else if (!name) {
		vsp_errf(err, errlen, "missing key \"name\"");
		return -1;
	} else if ((ev->kind == VSP_EV_FILE || ev->kind == VSP_EV_NET ||
		    ev->kind == VSP_EV_TASK) && !vsp_hook_by_name(ev->kind, name)) {
		vsp_errf(err, errlen, "name: \"%s\" is not a %s hook", name, kind);
		return -1;
	}
	ev->name = name;
	if (!ev->vm)
		ev->vm = "";
	return 0;
}

int vsp_trace_parse(struct vsp_trace_event *te, const char *line, size_t len,
		    char *err, size_t errlen)
{
	struct json_tokener *tok;
	json_object *root;
	int rc = -1;

	memset(&te->ev, 0, sizeof(te->ev));
	te->call = NULL;
	te->nstrings = 0;
	te->rhave = 0;
	te->arena_len = 0;
	te->ev.vcpu = 0;

	if (check_text(line, len, err, errlen) < 0)
		return -1;
	tok = json_tokener_new();
	if (!tok) {
		vsp_errf(err, errlen, "out of memory");
		return -1;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
				    JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, line, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	if (!root || jerr != json_tokener_success) {
		if (jerr == json_tokener_continue)
			vsp_errf(err, errlen, "truncated JSON");
		else
			vsp_errf(err, errlen, "invalid JSON: %s",
				 json_tokener_error_desc(jerr));
		goto out_tok;
	}
	if (tok->char_offset < (int)len) {
		size_t i = (size_t)tok->char_offset;
		while (i < len && (line[i] == ' ' || line[i] == '\t' ||
				   line[i] == '\r'))
			i++;
		if (i < len) {
			vsp_errf(err, errlen, "trailing bytes after the JSON object");
			goto out_root;
		}
	}
	if (json_object_get_type(root) != json_type_object) {
		vsp_errf(err, errlen, "expected a JSON object, got %s",
			 json_type_to_name(json_object_get_type(root)));
		goto out_root;
	}
	size_t need = strings_size(root) + 64;
	json_object *strs, *stk;
	if (json_object_object_get_ex(root, "strings", &strs) &&
	    json_object_get_type(strs) == json_type_object)
		need += strings_size(strs);
	if (json_object_object_get_ex(root, "stack", &stk) &&
	    json_object_get_type(stk) == json_type_array)
		for (size_t i = 0; i < json_object_array_length(stk); i++) {
			json_object *f = json_object_array_get_idx(stk, i);
			if (json_object_get_type(f) == json_type_string)
				need += (size_t)json_object_get_string_len(f) + 1;
		}
	if (arena_reserve(te, need) < 0) {
		vsp_errf(err, errlen, "out of memory");
		goto out_root;
	}
	rc = parse_object(te, root, err, errlen);
	te->ev.fetch = trace_fetch;
	te->ev.fetch_ctx = te;
out_root:
	json_object_put(root);
out_tok:
	json_tokener_free(tok);
	return rc;
}

/* --- line reader --------------------------------------------------- */

void vsp_line_reader_init(struct vsp_line_reader *r, FILE *in)
{
	memset(r, 0, sizeof(*r));
	r->in = in;
}

void vsp_line_reader_release(struct vsp_line_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}

int vsp_line_read(struct vsp_line_reader *r, const char **line, size_t *len)
{
	size_t n = 0;
	int c;

	if (!r->buf) {
		r->cap = 4096;
		r->buf = malloc(r->cap);
		if (!r->buf)
			return -1;
	}
	for (;;) {
		c = getc(r->in);
		if (c == EOF) {
			if (ferror(r->in))
				return -1;
			if (n == 0)
				return 0;
			break;
		}
		if (c == '\n')
			break;
		if (n + 1 >= VSP_TRACE_MAX_LINE) {
			/* Count the rest of the line without keeping it. */
			while ((c = getc(r->in)) != EOF && c != '\n')
				n++;
			r->lineno++;
			*len = n + 1;
			return -1;
		}
		if (n + 1 >= r->cap) {
			char *p = realloc(r->buf, r->cap * 2);
			if (!p)
				return -1;
			r->buf = p;
			r->cap *= 2;
		}
		r->buf[n++] = (char)c;
	}
	r->buf[n] = '\0';
	r->lineno++;
	*line = r->buf;
	*len = n;
	return 1;
}
