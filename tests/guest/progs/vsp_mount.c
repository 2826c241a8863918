/*
 * vsp_mount: bind mounts by every route mount.t decides on.
 *
 *   vsp_mount bind SRC DST	mount(SRC, DST, NULL, MS_BIND): the kernel
 *				resolves SRC after security_sb_mount
 *   vsp_mount tree SRC DST	open_tree(SRC, OPEN_TREE_CLONE) and
 *				move_mount() of the clone onto DST, the
 *				mount API that never calls mount(2)
 *
 * Prints "VSP mount ROUTE SRC = 0" or "= -1 errno N".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif

static int by_tree(const char *src, const char *dst)
{
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE);

	if (fd < 0)
		return -1;
	int rc = (int)syscall(SYS_move_mount, fd, "", AT_FDCWD, dst,
			      MOVE_MOUNT_F_EMPTY_PATH);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 4 || (strcmp(argv[1], "bind") && strcmp(argv[1], "tree"))) {
		fprintf(stderr, "usage: vsp_mount bind|tree SRC DST\n");
		return 2;
	}
	int rc = strcmp(argv[1], "bind") == 0 ?
		mount(argv[2], argv[3], NULL, MS_BIND, NULL) :
		by_tree(argv[2], argv[3]);
	if (rc == 0)
		printf("VSP mount %s %s = 0\n", argv[1], argv[2]);
	else
		printf("VSP mount %s %s = -1 errno %d\n", argv[1], argv[2], errno);
	return rc == 0 ? 0 : 1;
}
