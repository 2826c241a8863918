/*
 * complete.c: Tab in `vsp repl` (see complete.h).
 */
#include "cli/complete.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/kinds.h"
#include "base/repl.h"

/* File names: the directory part of the word is listed, directories end
 * in '/' so Tab goes on into them. */
static void complete_files(const char *word, struct vsp_edit_cands *c)
{
	const char *slash = strrchr(word, '/');
	char dir[4096];
	size_t dlen = slash ? (size_t)(slash - word) + 1 : 0;

	if (dlen >= sizeof dir)
		return;
	memcpy(dir, word, dlen);
	dir[dlen] = 0;
	DIR *d = opendir(dlen ? dir : ".");
	if (!d)
		return;
	struct dirent *de;
	unsigned seen = 0;
	while ((de = readdir(d)) && seen < 4096) {
		seen++;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_name[0] == '.' && word[dlen] != '.')
			continue;
		char full[8192];
		snprintf(full, sizeof full, "%s%s", dir, de->d_name);
		struct stat st;
		bool isdir = stat(full, &st) == 0 && S_ISDIR(st.st_mode);
		if (isdir)
			strncat(full, "/", sizeof full - strlen(full) - 1);
		vsp_edit_offer(c, full, (size_t)-1);
	}
	closedir(d);
}

static void complete_commands(unsigned where, struct vsp_edit_cands *c)
{
	for (int i = 0; i < VSP_REPL_NCOMMANDS; i++)
		if ((vsp_repl_commands[i].where & where) && i != VSP_REPL_DECIDE)
			vsp_edit_offer(c, vsp_repl_commands[i].name, (size_t)-1);
}

void vsp_repl_complete(void *ctx, const char *line, size_t *start,
		       struct vsp_edit_cands *c)
{
	const struct vsp_repl_complete *rc = ctx;
	size_t cur = strlen(line);
	char first[32];

	c->prefix = line + *start;
	c->plen = cur - *start;
	/* The command word, if the cursor is past it. */
	size_t i = 0;
	while (line[i] == ' ' || line[i] == '\t')
		i++;
	size_t k = 0;
	while (line[i] && line[i] != ' ' && line[i] != '\t' && k + 1 < sizeof first)
		first[k++] = line[i++];
	first[k] = 0;
	if (line + i >= line + cur || *start <= i - k) {
		complete_commands(rc->where, c);
		return;
	}
	enum vsp_repl_cmd cmd = vsp_repl_lookup(first);
	switch (cmd) {
	case VSP_REPL_LOAD:
		complete_files(c->prefix, c);
		break;
	case VSP_REPL_HELP:
		complete_commands(rc->where, c);
		break;
	case VSP_REPL_MODE:
		for (int m = 0; m < VSP_MODE_COUNT; m++)
			vsp_edit_offer(c, vsp_mode_name((enum vsp_mode)m), (size_t)-1);
		break;
	case VSP_REPL_STATUS: case VSP_REPL_RULES: case VSP_REPL_EVENTS:
	case VSP_REPL_STATS:
		vsp_edit_offer(c, "--json", (size_t)-1);
		break;
	default:
		break;
	}
}
