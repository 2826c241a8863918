/*
 * vm.c: the interpreter, and the life cycle of compiled images.
 *
 * vsp_vm_run() executes one verified program (interp/program.h) on one
 * event and writes the decision.  It is the only code on the decision path
 * besides the dispatch and cache lookups of engine/policy.c, so it
 * allocates nothing, takes no locks and does no checks the verifier has
 * already made (operand ranges, stack depth and types, jump targets).
 *
 * The loop is one function with three macros in the manner of Lua's lvm.c:
 * vmfetch() reads the next instruction, vmcase(NAME) opens an opcode's
 * body and vmbreak ends it.  With GCC or Clang they build a computed-goto
 * interpreter (one indirect jump per opcode body, which predicts better);
 * building with -DVSP_VM_SWITCH=1 gives a plain switch for other compilers
 * or for comparison.
 *
 * Beside the bytecode loop, the same file holds its fused form:
 * vsp_vm_specialise() turns verified code whose every instruction falls
 * into a common shape (a field compared with a constant, under a mask or
 * not; set membership; a string compare; a matcher group; a call-path
 * set; each with its branch) into one operation per shape, and
 * vsp_vm_run_fused() runs them with the interpreter's semantics and step
 * count.  The engine picks one or the other per program at load.
 *
 * Strings on the stack are borrowed (ptr, len) views: of the event's
 * string cache (ev->strs, filled through the event's fetch callback, for
 * the fields this event's program reads and no others, before it runs),
 * of the image's string pool, of the argument itself (basename, dirname)
 * or of a per-policy scratch slot (lower).
 */
#include <stdlib.h>
#include <string.h>

#include "fastpath/match.h"
#include "interp/arith.h"
#include "interp/extern.h"
#include "interp/program.h"

#ifndef VSP_VM_SWITCH
#if defined(__GNUC__)
#define VSP_VM_SWITCH 0
#else
#define VSP_VM_SWITCH 1
#endif
#endif

static const char str_dot[] = ".", str_slash[] = "/";

static bool field_fetchable(enum vsp_field f)
{
	return (f >= VSP_F_STR0 && f <= VSP_F_STR5) || f == VSP_F_PATH ||
	       f == VSP_F_FUNC || (f >= VSP_F_RES_FIRST && f < VSP_F_COUNT);
}

static struct vsp_str cstr(const char *s)
{
	return (struct vsp_str){ s ? s : "", s ? (uint32_t)strlen(s) : 0 };
}

struct vsp_str vsp_vm_field_str(struct vsp_event *ev, enum vsp_field f)
{
	struct vsp_str s = { "", 0 };

	switch (f) {
	case VSP_F_EVENT_KIND:
		return cstr(vsp_event_kind_name(ev->kind));
	case VSP_F_EVENT_NAME:
		return cstr(ev->name);
	case VSP_F_VM:
		return cstr(ev->vm);
	case VSP_F_COMM:
		return (struct vsp_str){ ev->proc.comm,
			(uint32_t)strnlen(ev->proc.comm, sizeof(ev->proc.comm)) };
	default:
		break;
	}
	if (!field_fetchable(f))
		return s;
	if (f != VSP_F_FUNC || ev->fetch || (ev->strs_valid & VSP_FBIT(f)))
		return vsp_vm_fetch_str(ev, f);
	/* Kernel and user events name their function already. */
	s = cstr(ev->name);
	ev->strs[f].ptr = s.ptr;
	ev->strs[f].len = s.len;
	ev->strs_valid |= VSP_FBIT(f);
	return s;
}

int64_t vsp_vm_field_int(const struct vsp_event *ev, enum vsp_field f)
{
	switch (f) {
	case VSP_F_VCPU: return ev->vcpu;
	case VSP_F_PID: return ev->proc.pid;
	case VSP_F_TID: return ev->proc.tid;
	case VSP_F_PPID: return ev->proc.ppid;
	case VSP_F_UID: return ev->proc.uid;
	case VSP_F_EUID: return ev->proc.euid;
	case VSP_F_GID: return ev->proc.gid;
	case VSP_F_CR3: return (int64_t)ev->cr3;
	case VSP_F_NR: return ev->nr;
	case VSP_F_ARG0: case VSP_F_ARG1: case VSP_F_ARG2:
	case VSP_F_ARG3: case VSP_F_ARG4: case VSP_F_ARG5:
		return ev->args[f - VSP_F_ARG0];
	case VSP_F_ADDR: return (int64_t)ev->addr;
	case VSP_F_OFFSET: return (int64_t)ev->offset;
	case VSP_F_LEN: return (int64_t)ev->len;
	case VSP_F_VALUE: return (int64_t)ev->value;
	case VSP_F_OLD: return (int64_t)ev->old;
	case VSP_F_EVENT_PARTIAL: return ev->partial;
	default:
		/* Resolved integers: fetched before the program runs. */
		if (vsp_field_is_rint(f))
			return ev->rint[f - VSP_F_RINT_FIRST];
		return 0;
	}
}

#define FETCHED_FIELDS                                                     \
	(VSP_FBIT(VSP_F_STR0) | VSP_FBIT(VSP_F_STR1) | VSP_FBIT(VSP_F_STR2) | \
	 VSP_FBIT(VSP_F_STR3) | VSP_FBIT(VSP_F_STR4) | VSP_FBIT(VSP_F_STR5) | \
	 VSP_FBIT(VSP_F_PATH) | VSP_FBIT(VSP_F_FUNC) | VSP_FMASK_RESOLVED)

/*
 * Every string the program can read is fetched before it runs, so whether
 * a decision is partial (and what event.partial says) depends on the
 * event and the policy only: not on which branch ran, nor on whether the
 * answer came from the decision cache, whose key needs them all anyway.
 */
static void fetch_all(const struct vsp_prog *pr, struct vsp_event *ev)
{
	vsp_fmask want = pr->reads & FETCHED_FIELDS & ~ev->strs_valid;

	while (want) {
		unsigned f = vsp_fmask_ctz(want);

		want &= want - 1;
		vsp_vm_field_str(ev, f);
	}
}

static int str_cmp(const struct vsp_val *a, const struct vsp_val *b)
{
	uint32_t n = a->len < b->len ? a->len : b->len;
	int c = n ? memcmp(a->p, b->p, n) : 0;

	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

static bool cmp_result(enum vsp_cmp k, int c)
{
	switch (k) {
	case VSP_CMP_EQ: return c == 0;
	case VSP_CMP_NE: return c != 0;
	case VSP_CMP_LT: return c < 0;
	case VSP_CMP_LE: return c <= 0;
	case VSP_CMP_GT: return c > 0;
	case VSP_CMP_GE: return c >= 0;
	default: return false;
	}
}

static void basename_of(struct vsp_val *v)
{
	uint32_t end = v->len, start;

	if (end == 0) {
		v->p = str_dot, v->len = 1;
		return;
	}
	while (end > 0 && v->p[end - 1] == '/')
		end--;
	if (end == 0) {
		v->p = str_slash, v->len = 1;
		return;
	}
	start = end;
	while (start > 0 && v->p[start - 1] != '/')
		start--;
	v->p += start;
	v->len = end - start;
}

static void dirname_of(struct vsp_val *v)
{
	uint32_t end = v->len;

	while (end > 0 && v->p[end - 1] == '/')
		end--;
	if (end == 0) {
		if (v->len == 0)
			v->p = str_dot;
		else
			v->p = str_slash;
		v->len = 1;
		return;
	}
	while (end > 0 && v->p[end - 1] != '/')
		end--;
	if (end == 0) {
		v->p = str_dot, v->len = 1;
		return;
	}
	while (end > 0 && v->p[end - 1] == '/')
		end--;
	if (end == 0) {
		v->p = str_slash, v->len = 1;
		return;
	}
	v->len = end;
}

static bool in_stack(const struct vsp_event *ev, const struct vsp_val *s)
{
	if (!ev->has_stack || !ev->stack)
		return false;
	for (uint32_t i = 0; i < ev->nstack; i++) {
		const char *f = ev->stack[i];

		if (f && strlen(f) == s->len && memcmp(f, s->p, s->len) == 0)
			return true;
	}
	return false;
}

static bool arises(const struct vsp_pathset *ps, const struct vsp_event *ev)
{
	if (!ev->has_stack || !ev->stack || ev->nstack == 0)
		return false;	/* no call path matches no pattern */
	return vsp_fp_pathset_match(ps, ev->stack + 1, ev->nstack - 1);
}

#if VSP_VM_SWITCH
#define vmdispatch(o) switch (o)
#define vmcase(l) case VSP_OPC_##l:
#define vmbreak break
#else
#define vmdispatch(o) goto *vm_labels[o];
#define vmcase(l) L_##l:
#define vmbreak                 \
	do {                    \
		vmfetch();      \
		vmdispatch(op); \
	} while (0)
#endif

/* -DVSP_VM_TRACE=1 prints every instruction executed, for debugging. */
#ifndef VSP_VM_TRACE
#define VSP_VM_TRACE 0
#endif
#if VSP_VM_TRACE
#include <stdio.h>
#define vmtrace() fprintf(stderr, "vm: %5u  %s\n", pc - 1, vsp_opinfo[op].name)
#else
#define vmtrace() ((void)0)
#endif

#define vmfetch()                         \
	do {                              \
		in = code[pc++];          \
		op = VSP_INS_OP(in);      \
		steps++;                  \
		vmtrace();                \
	} while (0)

#define TOP (sp[-1])
#define NXT (sp[-2])
#define PUSH_INT(v) (sp->i = (v), sp->p = NULL, sp->len = 0, sp++)
/* NXT op TOP into NXT (interp/arith.h); an operation without a value
 * (x / 0, a shift count outside 0..63) gives 0 and flags the decision. */
#define VM_ARITH(op)                                             \
	do {                                                     \
		if (!vsp_arith(VSP_OPC_##op, NXT.i, TOP.i, &NXT.i)) { \
			NXT.i = 0;                               \
			out->flagged = true;                     \
		}                                                \
		sp--;                                            \
	} while (0)

void vsp_vm_run(const struct vsp_image *im, const struct vsp_prog *pr,
		struct vsp_vm_scratch *sc, struct vsp_event *ev,
		struct vsp_decision *out)
{
#if !VSP_VM_SWITCH
#define VSP_VM_LABEL(nm, k, po, pu) [VSP_OPC_##nm] = &&L_##nm,
	static const void *const vm_labels[VSP_OPC_COUNT] = {
		VSP_OPCODE_LIST(VSP_VM_LABEL)
	};
#undef VSP_VM_LABEL
#endif
	struct vsp_val stack[VSP_VM_STACK];
	struct vsp_val *sp = stack;
	const vsp_insn *code = pr->code;
	uint32_t pc = 0;
	uint64_t steps = 0;
	vsp_insn in;
	unsigned op;

	out->verdict = VSP_V_NONE;
	out->rule = -1;
	out->value = 0;
	out->redirect = (struct vsp_str){ NULL, 0 };
	out->nfired = out->fired_dropped = 0;
	out->nlearn = 0;
	out->flagged = false;
	out->cached = false;
	sc->gen++;
	sc->ext_failed = false;
	fetch_all(pr, ev);

	for (;;) {
		vmfetch();
		vmdispatch(op) {
		vmcase(PUSHI) {
			PUSH_INT(VSP_INS_SB(in));
			vmbreak;
		}
		vmcase(PUSHK) {
			PUSH_INT(im->ints[VSP_INS_A(in)]);
			vmbreak;
		}
		vmcase(PUSHB) {
			PUSH_INT(VSP_INS_B(in));
			vmbreak;
		}
		vmcase(PUSHS) {
			const struct vsp_str *s = &im->strs[VSP_INS_A(in)];

			sp->p = s->ptr, sp->len = s->len, sp->i = 0, sp++;
			vmbreak;
		}
		vmcase(LDI) {
			PUSH_INT(vsp_vm_field_int(ev, VSP_INS_A(in)));
			vmbreak;
		}
		vmcase(LDB) {
			PUSH_INT(ev->partial);
			vmbreak;
		}
		vmcase(LDS) {
			struct vsp_str s = vsp_vm_field_str(ev, VSP_INS_A(in));

			sp->p = s.ptr, sp->len = s.len, sp->i = 0, sp++;
			vmbreak;
		}
		vmcase(LDL) {
			PUSH_INT(VSP_INS_A(in));
			vmbreak;
		}
		vmcase(POP) {
			sp--;
			vmbreak;
		}
		vmcase(DUP) {
			*sp = TOP;
			sp++;
			vmbreak;
		}
		vmcase(NOT) {
			TOP.i = !TOP.i;
			vmbreak;
		}
		vmcase(NEG) {
			vsp_arith(VSP_OPC_NEG, TOP.i, 0, &TOP.i);
			vmbreak;
		}
		vmcase(BNOT) {
			vsp_arith(VSP_OPC_BNOT, TOP.i, 0, &TOP.i);
			vmbreak;
		}
		vmcase(ADD) {
			VM_ARITH(ADD);
			vmbreak;
		}
		vmcase(SUB) {
			VM_ARITH(SUB);
			vmbreak;
		}
		vmcase(MUL) {
			VM_ARITH(MUL);
			vmbreak;
		}
		vmcase(DIV) {
			VM_ARITH(DIV);
			vmbreak;
		}
		vmcase(MOD) {
			VM_ARITH(MOD);
			vmbreak;
		}
		vmcase(BAND) {
			VM_ARITH(BAND);
			vmbreak;
		}
		vmcase(BOR) {
			VM_ARITH(BOR);
			vmbreak;
		}
		vmcase(BXOR) {
			VM_ARITH(BXOR);
			vmbreak;
		}
		vmcase(SHL) {
			VM_ARITH(SHL);
			vmbreak;
		}
		vmcase(SHR) {
			VM_ARITH(SHR);
			vmbreak;
		}
		vmcase(CMP) {
			int64_t a = NXT.i, b = TOP.i;

			NXT.i = cmp_result(VSP_INS_B(in), (a > b) - (a < b));
			NXT.p = NULL, NXT.len = 0;
			sp--;
			vmbreak;
		}
		vmcase(SCMP) {
			NXT.i = cmp_result(VSP_INS_B(in), str_cmp(&NXT, &TOP));
			NXT.p = NULL, NXT.len = 0;
			sp--;
			vmbreak;
		}
		vmcase(PREFIX) {
			NXT.i = NXT.len >= TOP.len &&
				(TOP.len == 0 || memcmp(NXT.p, TOP.p, TOP.len) == 0);
			sp--;
			vmbreak;
		}
		vmcase(SUFFIX) {
			NXT.i = NXT.len >= TOP.len &&
				(TOP.len == 0 ||
				 memcmp(NXT.p + NXT.len - TOP.len, TOP.p, TOP.len) == 0);
			sp--;
			vmbreak;
		}
		vmcase(CONTAINS) {
			NXT.i = TOP.len == 0 ||
				memmem(NXT.p, NXT.len, TOP.p, TOP.len) != NULL;
			sp--;
			vmbreak;
		}
		vmcase(LEN) {
			TOP.i = TOP.len;
			vmbreak;
		}
		vmcase(LOWER) {
			char *d = sc->slots[VSP_INS_A(in)];
			uint32_t n = TOP.len;

			if (n > VSP_VM_SLOT_SIZE) {
				n = VSP_VM_SLOT_SIZE;
				out->flagged = true;
			}
			for (uint32_t i = 0; i < n; i++) {
				unsigned char ch = (unsigned char)TOP.p[i];

				d[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
			}
			TOP.p = d, TOP.len = n;
			vmbreak;
		}
		vmcase(BASENAME) {
			basename_of(&TOP);
			vmbreak;
		}
		vmcase(DIRNAME) {
			dirname_of(&TOP);
			vmbreak;
		}
		vmcase(INI) {
			TOP.i = vsp_fp_iset_has(im->isets[VSP_INS_A(in)], TOP.i);
			vmbreak;
		}
		vmcase(INS) {
			TOP.i = vsp_fp_sset_has(im->ssets[VSP_INS_A(in)], TOP.p,
						TOP.len);
			vmbreak;
		}
		vmcase(INL) {
			NXT.i = in_stack(ev, &NXT);
			sp--;
			vmbreak;
		}
		vmcase(GLOB) {
			const struct vsp_str *g = &im->strs[VSP_INS_A(in)];

			TOP.i = vsp_glob_match(g->ptr, g->len, TOP.p, TOP.len);
			vmbreak;
		}
		vmcase(GLOBS) {
			const struct vsp_globlist *gl = &im->globlists[VSP_INS_A(in)];
			bool hit = false;

			for (uint32_t i = 0; i < gl->n && !hit; i++)
				hit = vsp_glob_match(gl->globs[i].ptr, gl->globs[i].len,
						     TOP.p, TOP.len);
			TOP.i = hit;
			vmbreak;
		}
		vmcase(MATCH) {
			uint64_t m = vsp_fp_matcher_run(im->matchers[VSP_INS_A(in)],
							TOP.p, TOP.len);

			TOP.i = (m >> VSP_INS_B(in)) & 1;
			vmbreak;
		}
		vmcase(MATCHF) {
			uint32_t a = VSP_INS_A(in);

			if (sc->memo_gen[a] != sc->gen) {
				struct vsp_str s = vsp_vm_field_str(ev, im->mfield[a]);

				sc->memo[a] = vsp_fp_matcher_run(im->matchers[a],
								 s.ptr, s.len);
				sc->memo_gen[a] = sc->gen;
			}
			PUSH_INT((sc->memo[a] >> VSP_INS_B(in)) & 1);
			vmbreak;
		}
		vmcase(ARISE) {
			PUSH_INT(arises(im->pathsets[VSP_INS_A(in)], ev));
			vmbreak;
		}
		vmcase(XCALL) {
			const struct vsp_extern *x = &im->externs[VSP_INS_A(in)];
			struct vsp_val r;

			sp -= x->nargs;
			if (!vsp_ext_call(im, x, sp,
					  x->ret[0] == 's' ? sc->slots[VSP_INS_B(in)] : NULL,
					  &r)) {
				ev->partial = true;
				sc->ext_failed = true;
			}
			*sp++ = r;
			steps += x->cost - 1;	/* vmfetch() counted one */
			vmbreak;
		}
		vmcase(JMP) {
			pc = VSP_INS_A(in);
			vmbreak;
		}
		vmcase(JZ) {
			sp--;
			if (!sp->i)
				pc = VSP_INS_A(in);
			vmbreak;
		}
		vmcase(JNZ) {
			sp--;
			if (sp->i)
				pc = VSP_INS_A(in);
			vmbreak;
		}
		vmcase(FIRE) {
			if (out->nfired < VSP_MAX_FIRED)
				out->fired[out->nfired++] = (struct vsp_fired){
					VSP_INS_A(in), VSP_INS_B(in) };
			else
				out->fired_dropped++;
			vmbreak;
		}
		vmcase(LEARN) {
			if (out->nlearn < VSP_MAX_LEARN)
				out->learn_rule[out->nlearn++] = VSP_INS_A(in);
			vmbreak;
		}
		vmcase(ALLOW) {
			out->verdict = VSP_V_ALLOW;
			goto decided;
		}
		vmcase(DENY) {
			out->verdict = VSP_V_DENY;
			out->value = VSP_INS_SB(in);
			goto decided;
		}
		vmcase(RETV) {
			out->verdict = VSP_V_RETURN;
			out->value = TOP.i;
			goto decided;
		}
		vmcase(REDIR) {
			const struct vsp_str *s = &im->strs[VSP_INS_B(in)];

			out->verdict = VSP_V_REDIRECT;
			out->redirect = *s;
			goto decided;
		}
		vmcase(RETS) {
			/* The string in the decision's redirect, for `eval`. */
			out->verdict = VSP_V_RETURN;
			out->redirect = (struct vsp_str){ TOP.p, TOP.len };
			goto decided;
		}
		vmcase(KILL) {
			out->verdict = VSP_V_KILL;
			goto decided;
		}
		vmcase(PAUSE) {
			out->verdict = VSP_V_PAUSE;
			goto decided;
		}
#if VSP_VM_SWITCH
		default:
			/* Unreachable for verified code; stay safe anyway. */
			out->verdict = VSP_V_ALLOW;
			goto decided;
#endif
		}
	}
decided:
	if (VSP_INS_A(in) != VSP_RULE_DEFAULT)
		out->rule = (int32_t)VSP_INS_A(in);
	out->partial = ev->partial;
	out->steps = steps > UINT32_MAX ? UINT32_MAX : (uint32_t)steps;
}

int vsp_vm_scratch_init(struct vsp_vm_scratch *s, const struct vsp_image *im)
{
	memset(s, 0, sizeof(*s));
	s->nslots = im->nslots;
	if (s->nslots) {
		s->slots = calloc(s->nslots, sizeof(*s->slots));
		if (!s->slots)
			goto fail;
	}
	s->nmemo = im->nmatchers;
	if (s->nmemo) {
		s->memo = calloc(s->nmemo, sizeof(*s->memo));
		s->memo_gen = calloc(s->nmemo, sizeof(*s->memo_gen));
		if (!s->memo || !s->memo_gen)
			goto fail;
	}
	return 0;
fail:
	vsp_vm_scratch_release(s);
	return -1;
}

void vsp_vm_scratch_release(struct vsp_vm_scratch *s)
{
	free(s->slots);
	free(s->memo);
	free(s->memo_gen);
	memset(s, 0, sizeof(*s));
}

void vsp_image_free(struct vsp_image *im)
{
	if (!im)
		return;
	for (uint32_t i = 0; i < im->nstrs; i++)
		free((char *)im->strs[i].ptr);
	free(im->strs);
	free(im->ints);
	for (uint32_t i = 0; i < im->nisets; i++)
		vsp_fp_iset_free(im->isets[i]);
	free(im->isets);
	for (uint32_t i = 0; i < im->nssets; i++)
		vsp_fp_sset_free(im->ssets[i]);
	free(im->ssets);
	for (uint32_t i = 0; i < im->nglobs; i++)
		free(im->globlists[i].globs);
	free(im->globlists);
	for (uint32_t i = 0; i < im->nmatchers; i++)
		vsp_fp_matcher_free(im->matchers[i]);
	free(im->matchers);
	free(im->mfield);
	for (uint32_t i = 0; i < im->npathsets; i++)
		vsp_fp_pathset_free(im->pathsets[i]);
	free(im->pathsets);
	for (uint32_t i = 0; i < im->nfiles; i++)
		free(im->files[i]);
	free(im->files);
	vsp_ext_release(im);
	for (uint32_t i = 0; i < im->nexterns; i++) {
		free(im->externs[i].name);
		free(im->externs[i].lib);
		free(im->externs[i].path);
	}
	free(im->externs);
	for (uint32_t i = 0; i < im->nprogs; i++) {
		struct vsp_prog *pr = &im->progs[i];

		free(pr->code);
		free(pr->pos);
		free(pr->sites);
		free(pr->fops);
		free((char *)pr->key.name);
		free((char *)pr->key.lib);
	}
	free(im->progs);
	for (uint32_t i = 0; i < im->nrules; i++) {
		struct vsp_rule_info *r = &im->rules[i];

		free((char *)r->name);
		for (uint32_t t = 0; t < r->ntags; t++)
			free((char *)r->tags[t]);
		free((char **)r->tags);
		free((char *)r->profile);
	}
	free(im->rules);
	for (uint32_t i = 0; i < im->neffects; i++)
		free((char *)im->effects[i].text);
	free(im->effects);
	free(im->effect_counter);
	for (uint32_t i = 0; i < im->ncounters; i++)
		free(im->counters[i]);
	free(im->counters);
	free(im);
}

/* ---- fused programs ------------------------------------------------------ */

/* Where an integer field lives in the event, when it is a plain 8-byte
 * word; -1 for the others (read through vsp_vm_field_int). */
int vsp_vm_field_offset(enum vsp_field f)
{
	switch (f) {
	case VSP_F_VCPU: return (int)offsetof(struct vsp_event, vcpu);
	case VSP_F_PID: return (int)offsetof(struct vsp_event, proc.pid);
	case VSP_F_TID: return (int)offsetof(struct vsp_event, proc.tid);
	case VSP_F_PPID: return (int)offsetof(struct vsp_event, proc.ppid);
	case VSP_F_UID: return (int)offsetof(struct vsp_event, proc.uid);
	case VSP_F_EUID: return (int)offsetof(struct vsp_event, proc.euid);
	case VSP_F_GID: return (int)offsetof(struct vsp_event, proc.gid);
	case VSP_F_CR3: return (int)offsetof(struct vsp_event, cr3);
	case VSP_F_ARG0: case VSP_F_ARG1: case VSP_F_ARG2:
	case VSP_F_ARG3: case VSP_F_ARG4: case VSP_F_ARG5:
		return (int)(offsetof(struct vsp_event, args) +
			     (size_t)(f - VSP_F_ARG0) * sizeof(int64_t));
	case VSP_F_ADDR: return (int)offsetof(struct vsp_event, addr);
	case VSP_F_OFFSET: return (int)offsetof(struct vsp_event, offset);
	case VSP_F_LEN: return (int)offsetof(struct vsp_event, len);
	case VSP_F_VALUE: return (int)offsetof(struct vsp_event, value);
	case VSP_F_OLD: return (int)offsetof(struct vsp_event, old);
	default: return -1;
	}
}

/* The integer an instruction pushes, when it pushes a constant. */
static bool const_int(const struct vsp_image *im, vsp_insn in, int64_t *v)
{
	if (VSP_INS_OP(in) == VSP_OPC_PUSHI) {
		*v = VSP_INS_SB(in);
		return true;
	}
	if (VSP_INS_OP(in) == VSP_OPC_PUSHK) {
		*v = im->ints[VSP_INS_A(in)];
		return true;
	}
	return false;
}

static bool is_branch(vsp_insn in)
{
	return VSP_INS_OP(in) == VSP_OPC_JZ || VSP_INS_OP(in) == VSP_OPC_JNZ;
}

/* A shape of `len` instructions ends in its branch: the fused operation
 * jumps where it does, the other way when `inv` (a NOT before it).
 * Returns len, or 0 when no shape matched. */
static uint32_t shape_end(struct vsp_fop *f, const vsp_insn *c, uint32_t pc,
			  uint32_t len, bool inv)
{
	if (!len)
		return 0;
	f->jump_if = (VSP_INS_OP(c[pc + len - 1]) == VSP_OPC_JNZ) != inv;
	f->target = VSP_INS_A(c[pc + len - 1]);
	f->steps = (uint16_t)len;
	return len;
}

/*
 * Recognises the shape that starts at pc: returns its length in
 * instructions and fills f (target still a pc), or 0 when no shape fits.
 * Shapes end at their branch, so a jump into the middle of one is caught
 * by the caller.
 */
static uint32_t shape_at(const struct vsp_image *im, const vsp_insn *c,
			 uint32_t pc, uint32_t n, struct vsp_fop *f)
{
	unsigned op = VSP_INS_OP(c[pc]);
	uint32_t left = n - pc;

	memset(f, 0, sizeof(*f));
	f->mask = -1;
	if (op == VSP_OPC_LDI) {
		enum vsp_field fld = VSP_INS_A(c[pc]);
		int off = vsp_vm_field_offset(fld);
		uint32_t len = 0;

		f->field = (uint8_t)fld;
		f->kind = off >= 0 ? VSP_FOP_TEST : VSP_FOP_TESTX;
		f->off = (uint16_t)(off >= 0 ? off : 0);
		if (left >= 6 && const_int(im, c[pc + 1], &f->mask) &&
		    VSP_INS_OP(c[pc + 2]) == VSP_OPC_BAND &&
		    const_int(im, c[pc + 3], &f->k) &&
		    VSP_INS_OP(c[pc + 4]) == VSP_OPC_CMP && is_branch(c[pc + 5])) {
			f->cmp = (uint8_t)VSP_INS_B(c[pc + 4]);
			len = 6;
		} else if (left >= 4 && const_int(im, c[pc + 1], &f->k) &&
			   VSP_INS_OP(c[pc + 2]) == VSP_OPC_CMP && is_branch(c[pc + 3])) {
			f->mask = -1;
			f->cmp = (uint8_t)VSP_INS_B(c[pc + 2]);
			len = 4;
		} else if (left >= 3 && VSP_INS_OP(c[pc + 1]) == VSP_OPC_INI &&
			   is_branch(c[pc + 2])) {
			f->kind = VSP_FOP_ISET;
			f->a = VSP_INS_A(c[pc + 1]);
			len = 3;
		}
		return shape_end(f, c, pc, len, false);
	}
	if (op == VSP_OPC_LDS) {
		uint32_t len = 0;

		f->field = (uint8_t)VSP_INS_A(c[pc]);
		if (left >= 4 && VSP_INS_OP(c[pc + 1]) == VSP_OPC_PUSHS &&
		    is_branch(c[pc + 3])) {
			unsigned t = VSP_INS_OP(c[pc + 2]);

			f->a = VSP_INS_A(c[pc + 1]);
			len = 4;
			if (t == VSP_OPC_SCMP) {
				f->kind = VSP_FOP_SCMP;
				f->cmp = (uint8_t)VSP_INS_B(c[pc + 2]);
			} else if (t == VSP_OPC_PREFIX) {
				f->kind = VSP_FOP_PREFIX;
			} else if (t == VSP_OPC_SUFFIX) {
				f->kind = VSP_FOP_SUFFIX;
			} else {
				len = 0;
			}
		} else if (left >= 3 && VSP_INS_OP(c[pc + 1]) == VSP_OPC_INS &&
			   is_branch(c[pc + 2])) {
			f->kind = VSP_FOP_SSET;
			f->a = VSP_INS_A(c[pc + 1]);
			len = 3;
		}
		return shape_end(f, c, pc, len, false);
	}
	if (op == VSP_OPC_MATCHF || op == VSP_OPC_ARISE) {
		/* `not (x matches ...)` and `must arise from` put a NOT
		 * before the branch: the fused test branches the other way. */
		bool inv = left >= 3 && VSP_INS_OP(c[pc + 1]) == VSP_OPC_NOT;
		uint32_t br = inv ? 2 : 1;

		if (left < br + 1 || !is_branch(c[pc + br]))
			return 0;
		f->kind = op == VSP_OPC_MATCHF ? VSP_FOP_MATCHF : VSP_FOP_ARISE;
		f->a = VSP_INS_A(c[pc]);
		f->b = VSP_INS_B(c[pc]);
		return shape_end(f, c, pc, br + 1, inv);
	}
	f->steps = 1;
	f->a = VSP_INS_A(c[pc]);
	switch (op) {
	case VSP_OPC_JMP:
		f->kind = VSP_FOP_JMP;
		f->target = VSP_INS_A(c[pc]);
		return 1;
	case VSP_OPC_FIRE:
		f->kind = VSP_FOP_FIRE;
		f->b = VSP_INS_B(c[pc]);
		return 1;
	case VSP_OPC_LEARN:
		f->kind = VSP_FOP_LEARN;
		return 1;
	case VSP_OPC_ALLOW: case VSP_OPC_KILL: case VSP_OPC_PAUSE:
		f->kind = VSP_FOP_VERDICT;
		f->b = op == VSP_OPC_ALLOW ? VSP_V_ALLOW :
		       op == VSP_OPC_KILL ? VSP_V_KILL : VSP_V_PAUSE;
		return 1;
	case VSP_OPC_DENY:
		f->kind = VSP_FOP_VERDICT;
		f->b = VSP_V_DENY;
		f->k = VSP_INS_SB(c[pc]);
		return 1;
	case VSP_OPC_REDIR:
		f->kind = VSP_FOP_VERDICT;
		f->b = VSP_V_REDIRECT;
		f->k = VSP_INS_B(c[pc]);	/* string pool index */
		return 1;
	default:
		break;
	}
	/* A constant return value: PUSHI or PUSHK, then RETV. */
	if (left >= 2 && const_int(im, c[pc], &f->k) &&
	    VSP_INS_OP(c[pc + 1]) == VSP_OPC_RETV) {
		f->kind = VSP_FOP_VERDICT;
		f->b = VSP_V_RETURN;
		f->a = VSP_INS_A(c[pc + 1]);
		f->steps = 2;
		return 2;
	}
	return 0;
}

/*
 * Instructions that cost more than a cache lookup: a glob tested one by
 * one, a list of globs, a shared matcher (a DFA pass over the string
 * whose tables, for a long list, do not stay in the CPU's cache), a
 * substring search, a lowered copy, a search of the stack.  A call-path
 * set is left out: its key, the whole stack, rarely fits the cache's key
 * and costs about what the set's walk does.
 */
static bool costly_op(unsigned op)
{
	return op == VSP_OPC_GLOB || op == VSP_OPC_GLOBS || op == VSP_OPC_MATCH ||
	       op == VSP_OPC_MATCHF || op == VSP_OPC_INL || op == VSP_OPC_CONTAINS ||
	       op == VSP_OPC_LOWER || op == VSP_OPC_XCALL;
}

int vsp_vm_specialise(const struct vsp_image *im, struct vsp_prog *pr)
{
	uint32_t n = pr->ncode, nf = 0, *at;
	struct vsp_fop *f;
	bool ok = true;

	free(pr->fops);
	pr->fops = NULL;
	pr->nfops = 0;
	pr->costly = false;
	for (uint32_t pc = 0; pc < n; pc++)
		pr->costly |= costly_op(VSP_INS_OP(pr->code[pc]));
	if (!pr->verified || n == 0)
		return 0;
	/* at[pc]: the fused index a shape starting at pc gets, else UINT32_MAX */
	at = malloc((size_t)n * sizeof(*at));
	f = malloc((size_t)n * sizeof(*f));
	if (!at || !f) {
		free(at);
		free(f);
		return -1;
	}
	for (uint32_t pc = 0; pc < n; pc++)
		at[pc] = UINT32_MAX;
	for (uint32_t pc = 0; pc < n && ok;) {
		uint32_t len = shape_at(im, pr->code, pc, n, &f[nf]);

		if (!len) {
			ok = false;
			break;
		}
		at[pc] = nf++;
		pc += len;
	}
	/* Every jump must land on the start of a shape. */
	for (uint32_t i = 0; ok && i < nf; i++) {
		if (f[i].kind > VSP_FOP_JMP)
			continue;
		if (f[i].target >= n || at[f[i].target] == UINT32_MAX)
			ok = false;
		else
			f[i].target = at[f[i].target];
	}
	free(at);
	if (!ok) {
		free(f);
		return 0;
	}
	pr->fops = f;
	pr->nfops = nf;
	return 0;
}

static inline bool cmp_int(unsigned k, int64_t a, int64_t b)
{
	switch (k) {
	case VSP_CMP_EQ: return a == b;
	case VSP_CMP_NE: return a != b;
	case VSP_CMP_LT: return a < b;
	case VSP_CMP_LE: return a <= b;
	case VSP_CMP_GT: return a > b;
	default: return a >= b;
	}
}

void vsp_vm_run_fused(const struct vsp_image *im, const struct vsp_prog *pr,
		      struct vsp_vm_scratch *sc, struct vsp_event *ev,
		      struct vsp_decision *out)
{
	const struct vsp_fop *ops = pr->fops;
	uint32_t i = 0, steps = 0;

	out->nfired = out->fired_dropped = 0;
	out->nlearn = 0;
	out->flagged = false;
	out->cached = false;
	sc->gen++;
	if (pr->reads & FETCHED_FIELDS)
		fetch_all(pr, ev);
	for (;;) {
		const struct vsp_fop *o = &ops[i];
		bool t;

		steps += o->steps;
		switch ((enum vsp_fop_kind)o->kind) {
		case VSP_FOP_TEST: {
			int64_t v;

			memcpy(&v, (const char *)ev + o->off, sizeof(v));
			t = cmp_int(o->cmp, v & o->mask, o->k);
			break;
		}
		case VSP_FOP_TESTX:
			t = cmp_int(o->cmp, vsp_vm_field_int(ev, o->field) & o->mask, o->k);
			break;
		case VSP_FOP_ISET:
			t = vsp_fp_iset_has(im->isets[o->a], vsp_vm_field_int(ev, o->field));
			break;
		case VSP_FOP_SCMP: {
			struct vsp_str s = vsp_vm_field_str(ev, o->field);
			const struct vsp_str *k = &im->strs[o->a];
			struct vsp_val x = { 0, s.ptr, s.len }, y = { 0, k->ptr, k->len };

			t = cmp_result(o->cmp, str_cmp(&x, &y));
			break;
		}
		case VSP_FOP_PREFIX: {
			struct vsp_str s = vsp_vm_field_str(ev, o->field);
			const struct vsp_str *k = &im->strs[o->a];

			t = s.len >= k->len && (k->len == 0 || !memcmp(s.ptr, k->ptr, k->len));
			break;
		}
		case VSP_FOP_SUFFIX: {
			struct vsp_str s = vsp_vm_field_str(ev, o->field);
			const struct vsp_str *k = &im->strs[o->a];

			t = s.len >= k->len &&
			    (k->len == 0 || !memcmp(s.ptr + s.len - k->len, k->ptr, k->len));
			break;
		}
		case VSP_FOP_SSET: {
			struct vsp_str s = vsp_vm_field_str(ev, o->field);

			t = vsp_fp_sset_has(im->ssets[o->a], s.ptr, s.len);
			break;
		}
		case VSP_FOP_MATCHF: {
			uint32_t a = o->a;

			if (sc->memo_gen[a] != sc->gen) {
				struct vsp_str s = vsp_vm_field_str(ev, im->mfield[a]);

				sc->memo[a] = vsp_fp_matcher_run(im->matchers[a], s.ptr, s.len);
				sc->memo_gen[a] = sc->gen;
			}
			t = (sc->memo[a] >> o->b) & 1;
			break;
		}
		case VSP_FOP_ARISE:
			t = arises(im->pathsets[o->a], ev);
			break;
		case VSP_FOP_JMP:
			i = o->target;
			continue;
		case VSP_FOP_FIRE:
			if (out->nfired < VSP_MAX_FIRED)
				out->fired[out->nfired++] = (struct vsp_fired){ o->a, o->b };
			else
				out->fired_dropped++;
			i++;
			continue;
		case VSP_FOP_LEARN:
			if (out->nlearn < VSP_MAX_LEARN)
				out->learn_rule[out->nlearn++] = o->a;
			i++;
			continue;
		default:	/* VSP_FOP_VERDICT */
			out->verdict = (enum vsp_verdict)o->b;
			out->rule = o->a != VSP_RULE_DEFAULT ? (int32_t)o->a : -1;
			out->value = o->b == VSP_V_REDIRECT ? 0 : o->k;
			out->redirect = o->b == VSP_V_REDIRECT ? im->strs[o->k]
							       : (struct vsp_str){ NULL, 0 };
			out->partial = ev->partial;
			out->steps = steps;
			return;
		}
		i = t == (bool)o->jump_if ? o->target : i + 1;
	}
}
