/*
 * kinds.c: the tables of base/kinds.h, and their names for messages.
 */
#include <stdio.h>
#include <string.h>

#include "base/kinds.h"

const struct vsp_kind_info vsp_kinds[VSP_EV_KIND_COUNT] = {
#define VSP_KIND_ROW(id, nm, verdicts, groups) \
	[VSP_EV_##id] = { nm, verdicts, groups },
	VSP_EVENT_KIND_LIST(VSP_KIND_ROW)
#undef VSP_KIND_ROW
};

const char *const vsp_event_kind_name_list[VSP_EV_KIND_COUNT] = {
#define VSP_KIND_NAME(id, nm, verdicts, groups) [VSP_EV_##id] = nm,
	VSP_EVENT_KIND_LIST(VSP_KIND_NAME)
#undef VSP_KIND_NAME
};

static const char *const verdict_names[VSP_V_COUNT] = {
#define VSP_VERDICT_NAME(id, nm) [VSP_V_##id] = nm,
	VSP_VERDICT_LIST(VSP_VERDICT_NAME)
#undef VSP_VERDICT_NAME
};

static const char *const mode_names[VSP_MODE_COUNT] = {
#define VSP_MODE_NAME(id, nm) [VSP_MODE_##id] = nm,
	VSP_MODE_LIST(VSP_MODE_NAME)
#undef VSP_MODE_NAME
};

const char *vsp_event_kind_name(enum vsp_event_kind k)
{
	return (unsigned)k < VSP_EV_KIND_COUNT ? vsp_kinds[k].name : "unknown";
}

const char *vsp_verdict_name(enum vsp_verdict v)
{
	return (unsigned)v < VSP_V_COUNT ? verdict_names[v] : "none";
}

const char *vsp_mode_name(enum vsp_mode m)
{
	return (unsigned)m < VSP_MODE_COUNT ? mode_names[m] : "unset";
}

static int names_find(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

int vsp_event_kind_parse(const char *s, enum vsp_event_kind *out)
{
	int i = names_find(vsp_event_kind_name_list, VSP_EV_KIND_COUNT, s);

	if (i < 0)
		return -1;
	*out = (enum vsp_event_kind)i;
	return 0;
}

int vsp_mode_parse(const char *s, enum vsp_mode *out)
{
	int i = names_find(mode_names, VSP_MODE_COUNT, s);

	if (i < 0)
		return -1;
	*out = (enum vsp_mode)i;
	return 0;
}

static char *names_join(char *buf, size_t size, const char *const *names,
			int n, const char *conj)
{
	size_t len = 0;

	if (!size)
		return buf;
	buf[0] = '\0';
	for (int i = 0; i < n && len < size; i++) {
		const char *sep = i == 0 ? "" : i == n - 1 ? " " : ", ";
		int w = snprintf(buf + len, size - len, "%s%s%s%s", sep,
				 i && i == n - 1 ? conj : "",
				 i && i == n - 1 ? " " : "", names[i]);

		if (w < 0)
			break;
		len += (size_t)w;
	}
	return buf;
}

char *vsp_event_kind_names(char *buf, size_t size, const char *conj)
{
	return names_join(buf, size, vsp_event_kind_name_list,
			  VSP_EV_KIND_COUNT, conj);
}

char *vsp_mode_names(char *buf, size_t size, const char *conj)
{
	return names_join(buf, size, mode_names, VSP_MODE_COUNT, conj);
}
