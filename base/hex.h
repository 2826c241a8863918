/*
 * hex.h: the value of one hexadecimal digit, for every reader of hex text
 * (GDB remote packets, {"hex":...} strings in traces).
 */
#ifndef VSP_BASE_HEX_H
#define VSP_BASE_HEX_H

/* 0-15, or -1 for a byte that is not a hex digit (either case). */
static inline int vsp_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
