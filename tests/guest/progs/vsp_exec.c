/*
 * vsp_exec: the guest-side probe for execve policies.
 *
 *   vsp_exec PATH
 * forks, execs PATH in the child and prints how the child ended:
 *   VSP exec PATH status N | signal N | err NAME
 * A redirect of /tmp/x to /bin/false shows as "status 1" from a program
 * that would otherwise print its own greeting and exit 0.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: vsp_exec PATH\n");
		return 2;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		printf("VSP exec %s err fork\n", argv[1]);
		return 1;
	}
	if (pid == 0) {
		char *args[] = { argv[1], NULL };
		char *env[] = { NULL };
		execve(argv[1], args, env);
		printf("VSP exec %s err %s\n", argv[1],
		       errno == EACCES ? "EACCES" :
		       errno == ENOENT ? "ENOENT" :
		       errno == EPERM ? "EPERM" : "E?");
		fflush(stdout);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st))
		printf("VSP exec %s signal %d\n", argv[1], WTERMSIG(st));
	else
		printf("VSP exec %s status %d\n", argv[1], WEXITSTATUS(st));
	fflush(stdout);
	return 0;
}
