/*
 * libvspdl.so: a library no program links, for `on user "libvspdl.so":...`
 * on a module that a process maps late, by dlopen (progs-dyn/vsp_dlopen.c).
 */
long vsp_dl_gate(long x)
{
	return x * 2;
}
