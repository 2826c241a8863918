/*
 * t_repl.c: the command language of vsp repl (base/repl.h): every
 * command and alias found by its name, help per session, when typed text
 * is a whole command, and word splitting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/repl.h"
#include "tests/tap.h"

static bool incomplete(const char *s)
{
	return vsp_repl_incomplete(s, strlen(s));
}

int main(void)
{
	for (int i = 0; i < VSP_REPL_NCOMMANDS; i++) {
		const struct vsp_repl_command *c = &vsp_repl_commands[i];
		ok(c->name && c->usage && c->help && c->help[0], "command %d has name, usage and help", i);
		ok(c->where & VSP_REPL_BOTH, "%s works somewhere", c->name);
		if (i != VSP_REPL_DECIDE)
			ok(vsp_repl_lookup(c->name) == (enum vsp_repl_cmd)i, "%s found by its name", c->name);
	}
	ok(vsp_repl_lookup("{\"kind\":1}") == VSP_REPL_DECIDE, "a JSON line is an event to decide");
	ok(vsp_repl_lookup("?") == VSP_REPL_HELP, "? is help");
	ok(vsp_repl_lookup("exit") == VSP_REPL_QUIT && vsp_repl_lookup("detach") == VSP_REPL_QUIT, "exit, detach");
	ok(vsp_repl_lookup("mem") == VSP_REPL_MEM, "mem is x");
	ok(vsp_repl_lookup("cont") == VSP_REPL_CONTINUE, "cont");
	ok(vsp_repl_lookup("stat") == VSP_REPL_UNKNOWN, "no prefix matching");

	/* help: only the session's own commands. */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	vsp_repl_help(f, VSP_REPL_TRACE, NULL);
	fclose(f);
	ok(strstr(buf, "\n  next [N]") && !strstr(buf, "\n  regs"), "trace help: next, not regs");
	free(buf);
	f = open_memstream(&buf, &len);
	vsp_repl_help(f, VSP_REPL_LIVE, NULL);
	fclose(f);
	ok(strstr(buf, "\n  regs") && !strstr(buf, "\n  next"), "live help: regs, not next");
	free(buf);
	f = open_memstream(&buf, &len);
	ok(vsp_repl_help(f, VSP_REPL_TRACE, "nosuch") < 0, "help on no command fails");
	ok(vsp_repl_help(f, VSP_REPL_TRACE, "regs") == 0, "help on another session's command");
	fclose(f);
	ok(strstr(buf, "live guest only") != NULL, "says where it works");
	free(buf);

	/* Whole commands and ones that go on. */
	ok(!incomplete("status"), "a word is whole");
	ok(!incomplete(""), "nothing is whole");
	ok(incomplete("{\"kind\":\"syscall\","), "an open brace goes on");
	ok(!incomplete("{\"a\":[1,2]}"), "closed braces are whole");
	ok(incomplete("rule add x when path in [\"/a\","), "an open bracket goes on");
	ok(incomplete("rule add \"x"), "an open string goes on");
	ok(!incomplete("rule add \"a{\": on syscall openat : deny;"), "a brace inside a string counts for nothing");
	ok(!incomplete("rule add \"a\\\"{\": on syscall read : deny;"), "nor after an escaped quote");
	ok(incomplete("rule add \"x\":"), "a line ending in ':' goes on");
	ok(incomplete("rule add \"x\":  \t"), "blanks after the ':' too");
	ok(!incomplete("rule add \"x\": on syscall read # a comment:"), "a ':' in a comment does not");
	ok(!incomplete("rule add \"x\": on syscall read # {"), "a brace in a comment counts for nothing");
	ok(incomplete("rule add \"x\":\n on syscall openat"), "a rule on its second line goes on until ';'");
	ok(!incomplete("rule add \"x\":\n on syscall openat : deny;"), "and ends there");
	ok(!incomplete("rule add on syscall openat : deny"), "a one-line rule without ';' is whole");
	ok(!incomplete("rule del 3"), "rule del is whole");
	ok(!incomplete("}"), "a stray closing brace is whole");

	char line[] = "  load\ta.vsp  b.vsp\n";
	char *w[4];
	ok(vsp_repl_split(line, w, 4) == 3 && strcmp(w[0], "load") == 0 &&
	   strcmp(w[1], "a.vsp") == 0 && strcmp(w[2], "b.vsp") == 0, "split at blanks");
	char many[] = "a b c d e";
	ok(vsp_repl_split(many, w, 2) == 2, "split stops at max");
	return done();
}
