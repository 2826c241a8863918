/*
 * ast.c: freeing the syntax tree.
 *
 * The parser (lang/parser.y) allocates every node; the front end
 * (lang/front.c) gathers them into one struct vsp_unit; whoever loaded the
 * unit frees it here.  The pieces are exported so the parser's
 * %destructor clauses and error recovery release half-built items the same
 * way the unit does.
 */
#include <stdlib.h>
#include "lang/ast.h"

void vsp_expr_free(struct vsp_expr *e)
{
	size_t i;

	if (!e)
		return;
	switch (e->kind) {
	case VSP_E_STRING:
		free(e->u.str.ptr);
		break;
	case VSP_E_LIST:
		for (i = 0; i < e->u.list.n; i++)
			vsp_expr_free(e->u.list.items[i]);
		free(e->u.list.items);
		break;
	case VSP_E_NAME:
		free(e->u.name.id);
		break;
	case VSP_E_CALL:
		for (i = 0; i < e->u.call.n; i++)
			vsp_expr_free(e->u.call.args[i]);
		free(e->u.call.args);
		free(e->u.call.fn);
		break;
	case VSP_E_UNARY:
	case VSP_E_BINARY:
		vsp_expr_free(e->u.op.a);
		vsp_expr_free(e->u.op.b);
		break;
	case VSP_E_INT:
	case VSP_E_BOOL:
		break;
	}
	free(e);
}

void vsp_decl_free(struct vsp_decl *d)
{
	if (!d)
		return;
	free(d->name);
	vsp_expr_free(d->value);
	free(d->sval.ptr);
	free(d);
}

void vsp_action_release(struct vsp_action *a)
{
	if (!a)
		return;
	free(a->errno_name);
	vsp_expr_free(a->value);
	free(a->str);
	a->errno_name = NULL;
	a->value = NULL;
	a->str = NULL;
}

void vsp_event_ref_release(struct vsp_event_ref *ev)
{
	if (!ev)
		return;
	free(ev->name);
	free(ev->lib);
	ev->name = ev->lib = NULL;
}

void vsp_pathspec_release(struct vsp_pathspec *ps)
{
	size_t i, j;

	if (!ps)
		return;
	free(ps->profile);
	free(ps->profile_path);
	for (i = 0; i < ps->npatterns; i++) {
		free(ps->patterns[i].text);
		for (j = 0; j < ps->patterns[i].nframes; j++)
			free(ps->patterns[i].frames[j]);
		free(ps->patterns[i].frames);
	}
	free(ps->patterns);
	ps->profile = ps->profile_path = NULL;
	ps->patterns = NULL;
	ps->npatterns = 0;
}

void vsp_rule_free(struct vsp_rule *r)
{
	size_t i;

	if (!r)
		return;
	free(r->name);
	for (i = 0; i < r->ntags; i++)
		free(r->tags[i]);
	free(r->tags);
	for (i = 0; i < r->nevents; i++)
		vsp_event_ref_release(&r->events[i]);
	free(r->events);
	vsp_expr_free(r->when);
	vsp_pathspec_release(&r->arise);
	for (i = 0; i < r->nactions; i++)
		vsp_action_release(&r->actions[i]);
	free(r->actions);
	free(r);
}

void vsp_item_release(struct vsp_item *it)
{
	if (!it)
		return;
	switch (it->kind) {
	case VSP_I_HEADER:
		free(it->u.header.name);
		break;
	case VSP_I_IMPORT:
		free(it->u.import.path);
		break;
	case VSP_I_DECL:
		vsp_decl_free(it->u.decl);
		break;
	case VSP_I_DEFAULT:
		vsp_action_release(&it->u.def);
		break;
	case VSP_I_MODE:
		break;
	case VSP_I_RULE:
		vsp_rule_free(it->u.rule);
		break;
	case VSP_I_EXTERN:
		if (it->u.ext) {
			free(it->u.ext->name);
			free(it->u.ext->lib);
		}
		free(it->u.ext);
		break;
	}
}

void vsp_unit_free(struct vsp_unit *u)
{
	size_t i;

	if (!u)
		return;
	for (i = 0; i < u->nitems; i++)
		vsp_item_release(&u->items[i]);
	free(u->items);
	free(u->rules);
	free(u->decls);
	free(u->externs);
	for (i = 0; i < u->nsources; i++) {
		free(u->sources[i]->path);
		free(u->sources[i]->text);
		free(u->sources[i]);
	}
	free(u->sources);
	free(u);
}
