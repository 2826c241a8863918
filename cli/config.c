/*
 * config.c: `vsp attach --config FILE`, one guarded guest per file.
 *
 * The file is what vsp@NAME.service reads from /etc/vsp/guests/NAME.conf:
 * `key = value` lines, `#` comments, blank lines.  Each key is the name
 * of an attach option and becomes that option, placed before the ones on
 * the command line (so the command line wins); `policy` is repeated, one
 * file each.  Turning the file into options means one parser, one set of
 * checks and one set of messages for both ways of starting vsp.  Relative
 * paths are taken from the file's directory.  An unknown key, a missing
 * `=`, or a yes/no key with another value stops with FILE:LINE.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"

enum cfg_kind {
	CFG_VALUE,	/* --key=value */
	CFG_PATH,	/* --key=value, relative to the file */
	CFG_AUDIT,	/* a path unless -, journal or syslog... */
	CFG_BOOL,	/* yes: --key; no: nothing */
	CFG_POLICY,	/* a positional file */
};

static const struct cfg_key {
	const char *key;
	enum cfg_kind kind;
} cfg_keys[] = {
	{ "gdb", CFG_VALUE },
	{ "xen", CFG_VALUE },
	{ "qmp", CFG_PATH },
	{ "libvirt", CFG_VALUE },
	{ "libvirt-uri", CFG_VALUE },
	{ "symbols", CFG_PATH },
	{ "vmlinux", CFG_PATH },
	{ "policy", CFG_POLICY },
	{ "mode", CFG_VALUE },
	{ "on-partial", CFG_VALUE },
	{ "on-audit-error", CFG_VALUE },
	{ "on-monitor-death", CFG_VALUE },
	{ "audit", CFG_AUDIT },
	{ "audit-format", CFG_VALUE },
	{ "record", CFG_PATH },
	{ "vm", CFG_VALUE },
	{ "max-events", CFG_VALUE },
	{ "pin-paths", CFG_BOOL },
	{ "quiet", CFG_BOOL },
	{ "stats", CFG_VALUE },
	{ "metrics", CFG_VALUE },
	{ "metrics-file", CFG_PATH },
	{ "metrics-interval", CFG_VALUE },
};

static int cfg_push(struct vsp_cli_config *c, char *s)
{
	if (!s)
		return -1;
	if (c->argc + 1 >= c->cap) {
		int cap = c->cap ? c->cap * 2 : 16;
		char **v = realloc(c->argv, (size_t)cap * sizeof(*v));
		if (!v) {
			free(s);
			return -1;
		}
		c->argv = v;
		c->cap = cap;
	}
	c->argv[c->argc++] = s;
	c->argv[c->argc] = NULL;
	return 0;
}

static char *cfg_opt(const char *key, const char *val)
{
	size_t n = strlen(key) + (val ? strlen(val) + 1 : 0) + 3;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "--%s%s%s", key, val ? "=" : "", val ? val : "");
	return s;
}

static char *cfg_path(const char *dir, const char *val)
{
	if (val[0] == '/' || !dir)
		return strdup(val);
	size_t n = strlen(dir) + strlen(val) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s/%s", dir, val);
	return s;
}

static bool audit_is_path(const char *v)
{
	return strcmp(v, "-") != 0 && strcmp(v, "journal") != 0 &&
	       strcmp(v, "syslog") != 0 && strncmp(v, "syslog:", 7) != 0 &&
	       strncmp(v, "syslog+", 7) != 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
		     s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

/* One line; 0, or 2 after a FILE:LINE message. */
static int cfg_line(struct vsp_cli_config *c, const char *file, int lineno,
		    const char *dir, char *line, struct vsp_cli_config *pos)
{
	char *s = trim(line);
	if (!*s || *s == '#')
		return 0;
	char *eq = strchr(s, '=');
	if (!eq) {
		fprintf(stderr, "%s:%d: error: want 'key = value', not '%s'\n",
			file, lineno, s);
		return 2;
	}
	*eq = 0;
	char *key = trim(s), *val = trim(eq + 1);
	const struct cfg_key *k = NULL;
	for (size_t i = 0; i < sizeof(cfg_keys) / sizeof(cfg_keys[0]); i++)
		if (strcmp(key, cfg_keys[i].key) == 0)
			k = &cfg_keys[i];
	if (!k) {
		fprintf(stderr, "%s:%d: error: unknown key '%s'\n", file, lineno,
			key);
		return 2;
	}
	if (!*val) {
		fprintf(stderr, "%s:%d: error: '%s' needs a value\n", file,
			lineno, key);
		return 2;
	}
	int rc = 0;
	switch (k->kind) {
	case CFG_VALUE:
		rc = cfg_push(c, cfg_opt(key, val));
		break;
	case CFG_AUDIT:
		if (!audit_is_path(val)) {
			rc = cfg_push(c, cfg_opt(key, val));
			break;
		}
		/* fall through */
	case CFG_PATH: {
		char *p = cfg_path(dir, val);
		rc = p ? cfg_push(c, cfg_opt(key, p)) : -1;
		free(p);
		break;
	}
	case CFG_BOOL:
		if (strcmp(val, "yes") == 0 || strcmp(val, "true") == 0)
			rc = cfg_push(c, cfg_opt(key, NULL));
		else if (strcmp(val, "no") != 0 && strcmp(val, "false") != 0) {
			fprintf(stderr, "%s:%d: error: '%s' is yes or no, not '%s'\n",
				file, lineno, key, val);
			return 2;
		}
		break;
	case CFG_POLICY:
		rc = cfg_push(pos, cfg_path(dir, val));
		break;
	}
	if (rc < 0) {
		fprintf(stderr, "vsp: %s: %s\n", file, strerror(ENOMEM));
		return 2;
	}
	return 0;
}

int vsp_cli_config_read(const char *file, struct vsp_cli_config *c)
{
	struct vsp_cli_config pos = { 0 };
	char line[4096], *dir = NULL;
	int lineno = 0, status = 0;
	FILE *f = fopen(file, "r");

	if (!f) {
		fprintf(stderr, "vsp: cannot read %s: %s\n", file, strerror(errno));
		return 2;
	}
	const char *slash = strrchr(file, '/');
	if (slash)
		dir = strndup(file, (size_t)(slash - file ? slash - file : 1));
	/* A service's audit file outlives each run: append, never truncate. */
	if (cfg_push(c, strdup("--audit-append")) < 0)
		status = 2;
	while (!status && fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			fprintf(stderr, "%s:%d: error: line longer than %zu bytes\n",
				file, lineno, sizeof(line) - 2);
			status = 2;
			break;
		}
		status = cfg_line(c, file, lineno, dir, line, &pos);
	}
	if (!status && ferror(f)) {
		fprintf(stderr, "vsp: reading %s: %s\n", file, strerror(errno));
		status = 2;
	}
	fclose(f);
	free(dir);
	/* Policies after the options: getopt leaves them for the caller. */
	for (int i = 0; i < pos.argc; i++) {
		if (!status && cfg_push(c, pos.argv[i]) < 0)
			status = 2;
		else if (status)
			free(pos.argv[i]);
	}
	free(pos.argv);
	return status;
}

void vsp_cli_config_release(struct vsp_cli_config *c)
{
	for (int i = 0; i < c->argc; i++)
		free(c->argv[i]);
	free(c->argv);
	memset(c, 0, sizeof(*c));
}
