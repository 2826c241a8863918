/*
 * vsp_hello: a program for exec tests; prints "VSP hello" and exits 0.
 * The guest init copies it to /tmp/x, the path the example policies
 * redirect or deny.
 */
#include <stdio.h>

int main(void)
{
	puts("VSP hello");
	return 0;
}
