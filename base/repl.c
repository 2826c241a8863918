/*
 * repl.c: the command list of `vsp repl` and the lexical rules of its
 * input (see repl.h).
 */
#include "base/repl.h"

#include <stdlib.h>
#include <string.h>

static bool vsp_repl_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

const struct vsp_repl_command vsp_repl_commands[VSP_REPL_NCOMMANDS] = {
#define VSP_REPL_ROW(id, name, usage, where, help) \
	[VSP_REPL_##id] = { name, usage, help, where },
	VSP_REPL_COMMAND_LIST(VSP_REPL_ROW)
#undef VSP_REPL_ROW
};

static const struct {
	const char *alias;
	enum vsp_repl_cmd cmd;
} vsp_repl_aliases[] = {
	{ "?", VSP_REPL_HELP },
	{ "exit", VSP_REPL_QUIT },
	{ "detach", VSP_REPL_QUIT },
	{ "cont", VSP_REPL_CONTINUE },
	{ "mem", VSP_REPL_MEM },
	{ "traps", VSP_REPL_EVENTS },
};

enum vsp_repl_cmd vsp_repl_lookup(const char *word)
{
	if (word[0] == '{')
		return VSP_REPL_DECIDE;
	for (int i = 0; i < VSP_REPL_NCOMMANDS; i++)
		if (strcmp(word, vsp_repl_commands[i].name) == 0)
			return (enum vsp_repl_cmd)i;
	for (size_t i = 0; i < sizeof vsp_repl_aliases / sizeof vsp_repl_aliases[0]; i++)
		if (strcmp(word, vsp_repl_aliases[i].alias) == 0)
			return vsp_repl_aliases[i].cmd;
	return VSP_REPL_UNKNOWN;
}

static void vsp_repl_help_line(FILE *out, const struct vsp_repl_command *c)
{
	char head[64];
	snprintf(head, sizeof head, "%s%s%s", c->name, c->usage[0] ? " " : "",
		 c->usage);
	fprintf(out, "  %-30s %s\n", head, c->help);
}

int vsp_repl_help(FILE *out, unsigned where, const char *cmd)
{
	if (cmd) {
		enum vsp_repl_cmd c = vsp_repl_lookup(cmd);
		if (c == VSP_REPL_UNKNOWN) {
			fprintf(out, "help: no command '%s'\n", cmd);
			return -1;
		}
		vsp_repl_help_line(out, &vsp_repl_commands[c]);
		if (!(vsp_repl_commands[c].where & where))
			fprintf(out, "  (%s)\n", vsp_repl_elsewhere(c, where));
		return 0;
	}
	fprintf(out, "commands:\n");
	for (int i = 0; i < VSP_REPL_NCOMMANDS; i++)
		if (vsp_repl_commands[i].where & where)
			vsp_repl_help_line(out, &vsp_repl_commands[i]);
	return 0;
}

bool vsp_repl_action_json(char *line, char *name, size_t size)
{
	static const char *const acts[] = { "load", "reload", "rule", "pause",
		"continue", "cont", "step", "disasm", "quit", "exit", "detach" };
	char *p = line, *json = NULL;
	size_t i, wl;

	while (vsp_repl_blank(*p))
		p++;
	wl = 0;
	while (p[wl] && !vsp_repl_blank(p[wl]))
		wl++;
	for (i = 0; i < sizeof acts / sizeof acts[0]; i++)
		if (strlen(acts[i]) == wl && !strncmp(p, acts[i], wl))
			break;
	if (i == sizeof acts / sizeof acts[0])
		return false;
	const char *sub = NULL;
	if (wl == 4 && !strncmp(p, "rule", 4)) {
		/* rule add --json TEXT, rule del --json N */
		char *q = p + 4;
		while (vsp_repl_blank(*q))
			q++;
		sub = !strncmp(q, "add", 3) && vsp_repl_blank(q[3]) ? "rule add" :
		      !strncmp(q, "del", 3) && (!q[3] || vsp_repl_blank(q[3])) ?
		      "rule del" : NULL;
		if (!sub)
			return false;
		q += 3;
		while (vsp_repl_blank(*q))
			q++;
		if (!strncmp(q, "--json", 6) && (!q[6] || vsp_repl_blank(q[6])))
			json = q;
	} else {
		for (char *q = p + wl; *q && !json; q++)
			if (vsp_repl_blank(q[-1]) && !strncmp(q, "--json", 6) &&
			    (!q[6] || vsp_repl_blank(q[6])))
				json = q;
	}
	if (!json)
		return false;
	memset(json, ' ', 6);
	snprintf(name, size, "%s", sub ? sub : acts[i]);
	return true;
}

bool vsp_repl_take_json(char **w, int *n)
{
	bool found = false;
	int k = 1;

	for (int i = 1; i < *n; i++) {
		if (strcmp(w[i], "--json") == 0)
			found = true;
		else
			w[k++] = w[i];
	}
	*n = k;
	return found;
}

/* A JSON string of plain ASCII text (the command table's own). */
static void vsp_repl_json_text(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

void vsp_repl_help_json(FILE *out, unsigned where)
{
	bool first = true;

	fputs("{\"commands\":[", out);
	for (int i = 0; i < VSP_REPL_NCOMMANDS; i++) {
		if (!(vsp_repl_commands[i].where & where))
			continue;
		fputs(first ? "{\"name\":" : ",{\"name\":", out);
		first = false;
		vsp_repl_json_text(out, vsp_repl_commands[i].name);
		fputs(",\"usage\":", out);
		vsp_repl_json_text(out, vsp_repl_commands[i].usage);
		fputs(",\"help\":", out);
		vsp_repl_json_text(out, vsp_repl_commands[i].help);
		fputc('}', out);
	}
	fputs("]}\n", out);
}

const char *vsp_repl_elsewhere(enum vsp_repl_cmd c, unsigned where)
{
	(void)c;
	return where == VSP_REPL_LIVE ? "works on a trace only (vsp repl --trace)"
				      : "works on a live guest only (vsp repl --gdb|--xen)";
}

bool vsp_repl_incomplete(const char *text, size_t len)
{
	int depth = 0;
	bool str = false, comment = false;
	char last = 0;	/* the last byte outside comments and blanks */

	for (size_t i = 0; i < len; i++) {
		char ch = text[i];
		if (comment) {
			if (ch == '\n')
				comment = false;
			continue;
		}
		if (str) {
			if (ch == '\\' && i + 1 < len)
				i++;
			else if (ch == '"')
				str = false;
			last = ch;
			continue;
		}
		switch (ch) {
		case '"':
			str = true;
			break;
		case '#':
			comment = true;
			continue;
		case '{': case '[': case '(':
			depth++;
			break;
		case '}': case ']': case ')':
			depth--;
			break;
		}
		if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n')
			last = ch;
	}
	if (str || depth > 0 || last == ':')
		return true;
	/* A rule begun on one line and gone on to the next ends at its ';'. */
	size_t i = 0;
	while (i < len && (text[i] == ' ' || text[i] == '\t'))
		i++;
	bool rule_add = len - i >= 8 && strncmp(text + i, "rule", 4) == 0 &&
			(text[i + 4] == ' ' || text[i + 4] == '\t');
	if (rule_add) {
		i += 5;
		while (i < len && (text[i] == ' ' || text[i] == '\t'))
			i++;
		rule_add = len - i >= 3 && strncmp(text + i, "add", 3) == 0;
	}
	return rule_add && memchr(text, '\n', len) && last != ';';
}

int vsp_repl_split(char *line, char **w, int max)
{
	int n = 0;
	char *s = line;

	while (n < max) {
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (!*s)
			break;
		w[n++] = s;
		while (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			s++;
		if (*s)
			*s++ = 0;
	}
	return n;
}


const char *vsp_repl_rule_add(const char *line)
{
	while (vsp_repl_blank(*line))
		line++;
	if (strncmp(line, "rule", 4) != 0 || !vsp_repl_blank(line[4]))
		return NULL;
	line += 5;
	while (vsp_repl_blank(*line))
		line++;
	if (strncmp(line, "add", 3) != 0 || (line[3] && !vsp_repl_blank(line[3])))
		return NULL;
	return line + 3;
}

const char *vsp_repl_after(const char *line, const char *name)
{
	size_t n = strlen(name);

	while (vsp_repl_blank(*line))
		line++;
	if (strncmp(line, name, n) != 0 || (line[n] && !vsp_repl_blank(line[n])))
		return NULL;
	line += n;
	while (vsp_repl_blank(*line))
		line++;
	return line;
}

const char *vsp_repl_json_opt(const char *text, bool *json)
{
	*json = strncmp(text, "--json", 6) == 0 &&
		(!text[6] || vsp_repl_blank(text[6]));
	if (*json)
		text += 6;
	while (vsp_repl_blank(*text))
		text++;
	return text;
}

char *vsp_repl_rule_text(const char *text, unsigned seq)
{
	while (vsp_repl_blank(*text))
		text++;
	size_t len = strlen(text);
	while (len && vsp_repl_blank(text[len - 1]))
		len--;
	if (!len)
		return NULL;
	bool kw = strncmp(text, "rule", 4) == 0 &&
		  (vsp_repl_blank(text[4]) || text[4] == '"');
	bool named = kw || text[0] == '"';
	bool semi = text[len - 1] == ';';
	char head[48];
	if (kw)
		head[0] = 0;
	else if (named)
		snprintf(head, sizeof head, "rule ");
	else
		snprintf(head, sizeof head, "rule \"added-%u\": ", seq);
	size_t blen = strlen(head) + len + 2;
	char *body = malloc(blen);
	if (body)
		snprintf(body, blen, "%s%.*s%s", head, (int)len, text, semi ? "" : ";");
	return body;
}
