/*
 * catalog_hypercalls.c: the Xen hypercall table of the language (generated).
 *
 * Made by tools/gen-catalog.sh from <xen/xen.h> and the argument names of
 * Xen's public headers.  Do not edit: change the script and rerun it.
 * Hypercalls without a known prototype have arg0..arg4.
 */
#include "base/catalog.h"

const struct vsp_call vsp_hypercalls[] = {
	{ "set_trap_table", 0, 1, true, { { "traps", VSP_ARG_INT } } },
	{ "mmu_update", 1, 4, true, { { "req", VSP_ARG_INT }, { "count", VSP_ARG_INT }, { "pdone", VSP_ARG_INT }, { "foreigndom", VSP_ARG_INT } } },
	{ "set_gdt", 2, 2, true, { { "frame_list", VSP_ARG_INT }, { "entries", VSP_ARG_INT } } },
	{ "stack_switch", 3, 2, true, { { "ss", VSP_ARG_INT }, { "esp", VSP_ARG_INT } } },
	{ "set_callbacks", 4, 3, true, { { "event_address", VSP_ARG_INT }, { "failsafe_address", VSP_ARG_INT }, { "syscall_address", VSP_ARG_INT } } },
	{ "fpu_taskswitch", 5, 1, true, { { "set", VSP_ARG_INT } } },
	{ "sched_op_compat", 6, 2, true, { { "cmd", VSP_ARG_INT }, { "arg", VSP_ARG_INT } } },
	{ "platform_op", 7, 1, true, { { "op", VSP_ARG_INT } } },
	{ "set_debugreg", 8, 2, true, { { "reg", VSP_ARG_INT }, { "value", VSP_ARG_INT } } },
	{ "get_debugreg", 9, 1, true, { { "reg", VSP_ARG_INT } } },
	{ "update_descriptor", 10, 2, true, { { "ma", VSP_ARG_INT }, { "desc", VSP_ARG_INT } } },
	{ "memory_op", 12, 2, true, { { "cmd", VSP_ARG_INT }, { "arg", VSP_ARG_INT } } },
	{ "multicall", 13, 2, true, { { "call_list", VSP_ARG_INT }, { "nr_calls", VSP_ARG_INT } } },
	{ "update_va_mapping", 14, 3, true, { { "va", VSP_ARG_INT }, { "val", VSP_ARG_INT }, { "flags", VSP_ARG_INT } } },
	{ "set_timer_op", 15, 1, true, { { "timeout", VSP_ARG_INT } } },
	{ "event_channel_op_compat", 16, 1, true, { { "op", VSP_ARG_INT } } },
	{ "xen_version", 17, 2, true, { { "cmd", VSP_ARG_INT }, { "arg", VSP_ARG_INT } } },
	{ "console_io", 18, 3, true, { { "cmd", VSP_ARG_INT }, { "count", VSP_ARG_INT }, { "buffer", VSP_ARG_INT } } },
	{ "physdev_op_compat", 19, 1, true, { { "op", VSP_ARG_INT } } },
	{ "grant_table_op", 20, 3, true, { { "cmd", VSP_ARG_INT }, { "uop", VSP_ARG_INT }, { "count", VSP_ARG_INT } } },
	{ "vm_assist", 21, 2, true, { { "cmd", VSP_ARG_INT }, { "type", VSP_ARG_INT } } },
	{ "update_va_mapping_otherdomain", 22, 4, true, { { "va", VSP_ARG_INT }, { "val", VSP_ARG_INT }, { "flags", VSP_ARG_INT }, { "domid", VSP_ARG_INT } } },
	{ "iret", 23, 0, true, { { 0 } } },
	{ "vcpu_op", 24, 3, true, { { "cmd", VSP_ARG_INT }, { "vcpuid", VSP_ARG_INT }, { "arg", VSP_ARG_INT } } },
	{ "set_segment_base", 25, 2, true, { { "which", VSP_ARG_INT }, { "base", VSP_ARG_INT } } },
	{ "mmuext_op", 26, 4, true, { { "op", VSP_ARG_INT }, { "count", VSP_ARG_INT }, { "pdone", VSP_ARG_INT }, { "foreigndom", VSP_ARG_INT } } },
	{ "xsm_op", 27, 1, true, { { "op", VSP_ARG_INT } } },
	{ "nmi_op", 28, 2, true, { { "cmd", VSP_ARG_INT }, { "arg", VSP_ARG_INT } } },
	{ "sched_op", 29, 2, true, { { "cmd", VSP_ARG_INT }, { "arg", VSP_ARG_INT } } },
	{ "callback_op", 30, 2, true, { { "cmd", VSP_ARG_INT }, { "arg", VSP_ARG_INT } } },
	{ "xenoprof_op", 31, 2, true, { { "op", VSP_ARG_INT }, { "arg", VSP_ARG_INT } } },
	{ "event_channel_op", 32, 2, true, { { "cmd", VSP_ARG_INT }, { "arg", VSP_ARG_INT } } },
	{ "physdev_op", 33, 2, true, { { "cmd", VSP_ARG_INT }, { "arg", VSP_ARG_INT } } },
	{ "hvm_op", 34, 2, true, { { "op", VSP_ARG_INT }, { "arg", VSP_ARG_INT } } },
	{ "sysctl", 35, 1, true, { { "op", VSP_ARG_INT } } },
	{ "domctl", 36, 1, true, { { "op", VSP_ARG_INT } } },
	{ "kexec_op", 37, 2, true, { { "op", VSP_ARG_INT }, { "uarg", VSP_ARG_INT } } },
	{ "tmem_op", 38, 1, true, { { "ops", VSP_ARG_INT } } },
	{ "argo_op", 39, 5, true, { { "cmd", VSP_ARG_INT }, { "arg1", VSP_ARG_INT }, { "arg2", VSP_ARG_INT }, { "arg3", VSP_ARG_INT }, { "arg4", VSP_ARG_INT } } },
	{ "xenpmu_op", 40, 2, true, { { "op", VSP_ARG_INT }, { "arg", VSP_ARG_INT } } },
	{ "dm_op", 41, 3, true, { { "domid", VSP_ARG_INT }, { "nr_bufs", VSP_ARG_INT }, { "bufs", VSP_ARG_INT } } },
	{ "hypfs_op", 42, 5, true, { { "cmd", VSP_ARG_INT }, { "arg1", VSP_ARG_INT }, { "arg2", VSP_ARG_INT }, { "arg3", VSP_ARG_INT }, { "arg4", VSP_ARG_INT } } },
	{ "arch_0", 48, 5, false, { { "arg0", VSP_ARG_INT }, { "arg1", VSP_ARG_INT }, { "arg2", VSP_ARG_INT }, { "arg3", VSP_ARG_INT }, { "arg4", VSP_ARG_INT } } },
	{ "arch_1", 49, 5, false, { { "arg0", VSP_ARG_INT }, { "arg1", VSP_ARG_INT }, { "arg2", VSP_ARG_INT }, { "arg3", VSP_ARG_INT }, { "arg4", VSP_ARG_INT } } },
	{ "arch_2", 50, 5, false, { { "arg0", VSP_ARG_INT }, { "arg1", VSP_ARG_INT }, { "arg2", VSP_ARG_INT }, { "arg3", VSP_ARG_INT }, { "arg4", VSP_ARG_INT } } },
	{ "arch_3", 51, 5, false, { { "arg0", VSP_ARG_INT }, { "arg1", VSP_ARG_INT }, { "arg2", VSP_ARG_INT }, { "arg3", VSP_ARG_INT }, { "arg4", VSP_ARG_INT } } },
	{ "arch_4", 52, 5, false, { { "arg0", VSP_ARG_INT }, { "arg1", VSP_ARG_INT }, { "arg2", VSP_ARG_INT }, { "arg3", VSP_ARG_INT }, { "arg4", VSP_ARG_INT } } },
	{ "arch_5", 53, 5, false, { { "arg0", VSP_ARG_INT }, { "arg1", VSP_ARG_INT }, { "arg2", VSP_ARG_INT }, { "arg3", VSP_ARG_INT }, { "arg4", VSP_ARG_INT } } },
	{ "arch_6", 54, 5, false, { { "arg0", VSP_ARG_INT }, { "arg1", VSP_ARG_INT }, { "arg2", VSP_ARG_INT }, { "arg3", VSP_ARG_INT }, { "arg4", VSP_ARG_INT } } },
	{ "arch_7", 55, 5, false, { { "arg0", VSP_ARG_INT }, { "arg1", VSP_ARG_INT }, { "arg2", VSP_ARG_INT }, { "arg3", VSP_ARG_INT }, { "arg4", VSP_ARG_INT } } },
};
const size_t vsp_nhypercalls = sizeof vsp_hypercalls / sizeof vsp_hypercalls[0];
