#!/usr/bin/env python3
# mkseeds.py: writes the bytecode fuzzer's seed corpus (corpus/bytecode/).
#
# Each seed is a small hand-assembled program in fuzz_bytecode.c's input
# format: 10 pool-size bytes (0xff: the whole pool), the event kind, the
# instruction count, the instructions, then bytes for the events.  Opcode
# numbers are read from interp/opcodes.h, so the seeds follow the list.
import base64, os, re, struct, sys, zlib

here = os.path.dirname(os.path.abspath(__file__))
src = open(os.path.join(here, '../../interp/opcodes.h')).read()
ops = re.findall(r'^\s*OP\((\w+),', src, re.M)
OP = {n: i for i, n in enumerate(ops)}
DEFAULT = (1 << 24) - 1
F = {n: i for i, n in enumerate(re.findall(r'X\((\w+),', open(
    os.path.join(here, '../../base/event.h')).read()))}

def ins(op, a=0, b=0):
    return struct.pack('<Q', OP[op] | ((a & DEFAULT) << 8) | ((b & 0xffffffff) << 32))

def seed(name, code, kind=0, pools=b'\xff' * 10, tail=bytes(range(64))):
    data = pools + bytes([kind]) + struct.pack('<H', len(code)) + b''.join(code) + tail
    with open(os.path.join(here, 'corpus/bytecode', name), 'wb') as f:
        f.write(data)

os.makedirs(os.path.join(here, 'corpus/bytecode'), exist_ok=True)
seed('allow', [ins('ALLOW', DEFAULT)])
seed('deny-path', [ins('LDS', F['PATH']), ins('PUSHS', 1), ins('SCMP', 0, 0),
                   ins('JZ', 5), ins('DENY', 0, 13), ins('ALLOW', DEFAULT)])
seed('arith', [ins('LDI', F['ARG0']), ins('PUSHK', 3), ins('DIV'), ins('PUSHI', 0, -1),
               ins('SHL'), ins('PUSHK', 4), ins('MOD'), ins('NEG'), ins('BNOT'),
               ins('PUSHI', 0, 5), ins('MUL'), ins('RETV', 1)])
seed('strings', [ins('LDS', F['STR1']), ins('LOWER', 1), ins('BASENAME'), ins('DUP'),
                 ins('DIRNAME'), ins('PREFIX'), ins('POP'), ins('LDS', F['PATH']),
                 ins('LEN'), ins('PUSHI', 0, 4000), ins('CMP', 0, 4), ins('JNZ', 13),
                 ins('REDIR', 2, 7), ins('KILL', 3)])
seed('sets', [ins('LDI', F['ARG1']), ins('INI', 0), ins('LDS', F['COMM']), ins('INS', 0),
              ins('CMP', 0, 0), ins('JZ', 12), ins('LDS', F['PATH']), ins('GLOBS', 0),
              ins('LDS', F['STR0']), ins('GLOB', 9), ins('CMP', 0, 1), ins('JNZ', 13),
              ins('PAUSE', DEFAULT), ins('ALLOW', 0)])
seed('match', [ins('MATCHF', 0, 11), ins('LDS', F['STR2']), ins('MATCH', 1, 63), ins('CMP', 0, 0),
               ins('FIRE', 1, 2), ins('ARISE', 0), ins('JZ', 8), ins('LEARN', 2),
               ins('LDL', F['STACK']), ins('POP'), ins('LDB', F['EVENT_PARTIAL']), ins('JNZ', 13),
               ins('DENY', 0, 1), ins('ALLOW', DEFAULT)], kind=2)
seed('stack-deep', [ins('PUSHI', 0, i) for i in range(64)] + [ins('POP')] * 63 + [ins('RETV', DEFAULT)])
seed('bad-jump', [ins('JMP', 0), ins('ALLOW', DEFAULT)])
seed('small-pools', [ins('PUSHK', 3), ins('RETV', DEFAULT)], pools=b'\x01' * 10)

# ---- GDB stub transcripts (corpus/gdb/): fuzz_gdb.c's input format ----
def pkt(s):
    b = s.encode('latin-1') if isinstance(s, str) else s
    return b'$' + b + b'#' + ('%02x' % (sum(b) & 0xff)).encode()

def gdbseed(name, layer_backend, ops, stub):
    head = bytes([(0x80 if layer_backend else 0) | len(ops)]) + bytes(ops)
    with open(os.path.join(here, 'corpus/gdb', name), 'wb') as f:
        f.write(head + stub)

os.makedirs(os.path.join(here, 'corpus/gdb'), exist_ok=True)
hello = (b'+' + pkt('PacketSize=1000;qXfer:features:read+;swbreak+;QStartNoAckMode+') +
         b'+' + pkt('OK') + pkt('T05thread:01;swbreak:;'))
regs = struct.pack('<17Q', *range(1, 17), 0xffffffff81000000) + struct.pack('<7I', 0x246, 0x10, 0x18, 0, 0, 0, 0) + \
    struct.pack('<9Q', 0, 0xffff888000000000, 0, 0x80050033, 0, 0x1000, 0x3406f0, 0, 0xd01)
gregs = regs.hex()
mem = bytes(range(16)).hex()
# client: handshake, g, m (8 bytes), wait (forever), Z0
gdbseed('client-session', False, [0x00, 0x01 | 0x50, 0x02 | 0x30, 0x04, 0x08 | 0x10],
        hello + pkt(gregs) + pkt(mem[:16]) + b'O' + pkt('O48656c6c6f0a') + pkt('T05thread:02;hwbreak:;') + pkt('OK'))
gdbseed('client-rle', False, [0x00, 0x01 | 0x70, 0x02 | 0x40],
        hello + pkt('0*}0*" ') + pkt('ff*~*~*~') + pkt('E14'))
gdbseed('client-badsum', False, [0x06, 0x06, 0x07, 0x05],
        b'+$OK#00+$OK#00+$OK#9a' + pkt('}]}}}#') + b'%' + pkt('Stop:T05') + pkt('W00'))
gdbseed('client-exit', False, [0x00, 0x0a, 0x04, 0x04],
        hello + pkt('X09') + pkt('W01;process:1') + pkt('S0b'))
gdbseed('client-huge', False, [0x07, 0x07], b'$' + b'a' * 70000 + b'#00' + pkt('a*' + chr(126) * 3))
# backend: attach (handshake, thread list), regs_get, read, trap_add, resume, wait
attach = hello + b'+' + pkt('m01,02') + b'+' + pkt('l')
gdbseed('backend-session', True, [0x04, 0x02 | 0x30, 0x00 | 0x10, 0x08, 0x07, 0x04],
        b'+' + pkt('PacketSize=1000;swbreak+;QStartNoAckMode+') + b'+' + pkt('OK') +
        pkt('T05thread:01;') + pkt('m01,02') + pkt('l') + pkt(gregs) + pkt(mem) +
        pkt('OK') + pkt('T05thread:02;swbreak:;') + pkt(gregs) + pkt('OK'))
gdbseed('backend-ack', True, [0x04, 0x05, 0x06, 0x09], attach + b'+' + pkt(gregs[:300]) + b'+' + pkt('E01') + pkt('T02'))

# ---- a small guest for fuzz_guestmem.c (corpus/guestmem/) ----
TEXT, STACK, DATA = 0xffffffff81000000, 0xffffc90000004000, 0xffff888000100000
NOP5 = bytes.fromhex('0f1f440000')

def call(at, target):      # e8 rel32, 5 bytes at `at`
    return b'\xe8' + struct.pack('<i', target - (at + 5))

def jmp(at, target):
    return b'\xe9' + struct.pack('<i', target - (at + 5))

def put(buf, off, b):
    buf[off:off + len(b)] = b

text = bytearray(b'\xcc' * 4096)
# do_syscall_64: nop5; push rbp; mov rbp,rsp; nop; call x64_sys_call; pop rbp; ret
put(text, 0x000, NOP5 + b'\x55' + bytes.fromhex('4889e5') + b'\x90')
put(text, 0x00a, call(0x00a, 0x200) + b'\x5d\xc3')
# x64_sys_call: nop5; jmp __x64_sys_openat
put(text, 0x200, NOP5 + jmp(0x205, 0x400))
# __x64_sys_openat: nop5; push rbx; sub rsp,0x10; call do_sys_openat2; add rsp,0x10; pop rbx; ret
put(text, 0x400, NOP5 + b'\x53' + bytes.fromhex('4883ec10'))
put(text, 0x40a, call(0x40a, 0x600) + bytes.fromhex('4883c410') + b'\x5b\xc3')
# do_sys_openat2: nop5; push rbp; push r12; mov eax,1; pop r12; pop rbp; ret
put(text, 0x600, NOP5 + b'\x55' + bytes.fromhex('4154') + bytes.fromhex('b801000000') + bytes.fromhex('415c') + b'\x5d\xc3')
# commit_creds, thunk, xen_mc_flush: short functions
put(text, 0x800, NOP5 + b'\xc3')
put(text, 0xa00, bytes.fromhex('ffe0'))
put(text, 0xa80, NOP5 + b'\x55' + call(0xa86, 0xb20) + b'\x5d\xc3')
# hypercall_page entry 1 (mmu_update): mov eax,1; vmcall; ret
put(text, 0xb20, bytes.fromhex('b801000000') + bytes.fromhex('0f01c1') + b'\xc3')
# entry_SYSCALL_64_after_hwframe: push regs...; call do_syscall_64
put(text, 0xd00, b'\x90' * 16)
put(text, 0xd10, call(0xd10, 0x000) + b'\x90\x0f\x07')

def q(v):
    return struct.pack('<Q', v & 0xffffffffffffffff)

data = bytearray(2048)
task = DATA + 0x200
cred = DATA + 0x400
put(data, 0x000, q(TEXT + 0x4))            # rbx: somewhere in text
put(data, 0x100, q(task))                  # per-CPU current_task
put(data, 0x200 + 0x10, struct.pack('<ii', 412, 400))
put(data, 0x200 + 0x20, b'cat\0')
put(data, 0x200 + 0x40, q(task))           # real_parent: itself
put(data, 0x200 + 0x48, q(cred) + q(cred))
put(data, 0x400 + 0x4, struct.pack('<I', 1000))
put(data, 0x400 + 0x8, struct.pack('<I', 1000))
put(data, 0x400 + 0x14, struct.pack('<I', 0))
# page tables at physical 0: one chain of present entries, a 2 MiB page
for lvl in range(4):
    put(data, 0x600 + lvl * 8, q(0x1000 * (lvl + 1) | 0x63 | (0x80 if lvl == 2 else 0)))

def guest(name, rip, rsp, stack_words, opt=0, opt2=0, holes=(0, 0, 0), orc=None):
    st = bytearray(2048)
    for i, w in enumerate(stack_words):
        put(st, rsp + 8 * i, q(w))
    head = struct.pack('<HHHBB', rip, rsp, rsp + 0x40, opt, opt2) + struct.pack('<3I', *holes)
    d, t = bytearray(data), bytearray(text)
    if orc:                     # (c0, c2, entries): ORC tables in the text
        c0, c2, ents = orc
        put(d, 2048 - 4, bytes([c0, len(ents), c2, 3]))
        at = 0x800 + c0 * 8 + (c2 & 3)
        for i, (ip, _) in enumerate(ents):
            put(t, at + 4 * i, struct.pack('<i', (TEXT + ip) - (TEXT + at + 4 * i)))
        at += 4 * len(ents) + (c2 >> 2 & 3) + (4 if c2 & 0x10 else 0) - (16 if c2 & 0x20 else 0)
        for i, (_, e) in enumerate(ents):
            put(t, at + 6 * i, e)
    with open(os.path.join(here, 'corpus/guestmem', name), 'wb') as f:
        f.write(head + bytes(st) + bytes(d) + bytes(t))

os.makedirs(os.path.join(here, 'corpus/guestmem'), exist_ok=True)
ret_do_syscall = TEXT + 0x00f            # after the call in do_syscall_64
ret_entry = TEXT + 0xd15
ret_openat = TEXT + 0x40f
# at __x64_sys_openat's entry: [ret into do_syscall_64] [saved rbp] [ret into entry]
guest('openat-entry', 0x400, 0x700, [ret_do_syscall, STACK + 0x7f0, ret_entry])
# inside do_sys_openat2 after two pushes: r12, rbp, ret openat, 16 bytes, rbx, ret do_syscall_64, rbp, ret entry
guest('openat2-body', 0x608, 0x6c0, [0, STACK + 0x7f0, ret_openat, 0, 0, 0, ret_do_syscall, STACK + 0x7f0, ret_entry], opt=0x20, opt2=0x83)
guest('holes', 0x400, 0x700, [ret_do_syscall, STACK + 0x7f0, ret_entry], opt=0x10, opt2=0x02,
      holes=(0x00f00000, 0x00008000, 0x00000100))
guest('loop', 0x600, 0x500, [ret_openat] * 40, opt=0x07)
guest('hypercall', 0xb20, 0x700, [TEXT + 0xa8b, STACK + 0x7f0, ret_entry], opt2=0x01)
# ORC tables in guest memory (6.4+ layout: sp_reg 5 = rsp, type 2 = call;
# bp_reg 1 = saved at the previous rsp + bp_off), at 0xbc0 in the text.
def orc_e(sp, bp_reg=0, bp=0):
    return struct.pack('<hhH', sp, bp, 5 | bp_reg << 4 | 2 << 8)
ORC = [(0x000, orc_e(8)), (0x006, orc_e(16, 1, -16)), (0x200, orc_e(8)),
       (0x400, orc_e(8)), (0x406, orc_e(16)), (0x600, orc_e(8)), (0xd00, orc_e(8))]
guest('orc-openat-entry', 0x400, 0x700, [ret_do_syscall, STACK + 0x7f0, ret_entry],
      opt=0x40, orc=(0x78, 0, ORC))
guest('orc-unsorted', 0x400, 0x700, [ret_do_syscall, STACK + 0x7f0, ret_entry],
      opt=0x40, orc=(0x78, 0, [ORC[0], ORC[3], ORC[2], ORC[1]] + ORC[4:]))
guest('orc-count', 0x400, 0x700, [ret_do_syscall, STACK + 0x7f0, ret_entry],
      opt=0x40, orc=(0x78, 0x40, ORC))
guest('orc-overlap', 0x400, 0x700, [ret_do_syscall, STACK + 0x7f0, ret_entry],
      opt=0x40, orc=(0x78, 0x20, ORC))
guest('orc-misaligned', 0x400, 0x700, [ret_do_syscall, STACK + 0x7f0, ret_entry],
      opt=0x40, orc=(0x78, 0x06, ORC))

# ---- scripted stops for fuzz_monitor.c (corpus/monitor/) ----
M_STACK, M_USER = 0xffffc90000010000, 0x7fff0000

def mstop(at, kind=0, rdi=0, rsp=0x1e00, rsi=0, rax=0, gs=0):
    return bytes([at, kind]) + struct.pack('<HH', rdi, rsp) + \
        bytes([rsi & 0xff, (rsi >> 8) & 0xff, (rsi >> 32) & 0xff, rax, 0, 0, gs, 1, 0])

def monitor(name, stops, fail=0, holes=0, strings=None, ptregs=None, stack_words=None):
    stack = bytearray(0x2000)
    put(stack, 0x1e00, q(0xffffffff81002400))          # return into do_syscall_64
    for off, words in (ptregs or {}).items():          # pt_regs per stop
        for field, v in words.items():
            put(stack, off + field, q(v))
    for off, w in (stack_words or []):
        put(stack, off, q(w))
    user = bytearray(0x1000)
    for off, s in (strings or {}).items():
        put(user, off, s)
    data = bytes([fail, len(stops)]) + b''.join(stops) + struct.pack('<Q', holes) + bytes(stack) + bytes(user)
    with open(os.path.join(here, 'corpus/monitor', name), 'wb') as f:
        f.write(data)

os.makedirs(os.path.join(here, 'corpus/monitor'), exist_ok=True)
strs = {0: b'/etc/shadow\0', 0x100: b'/home/u/x\0', 0x200: b'/tmp/evil\0', 0xff8: b'aaaaaaaa'}
regs = {0x000: {0x68: M_USER, 0x70: 0xffffff9c}, 0x200: {0x68: M_USER + 0x100}, 0x400: {0x70: M_USER + 0x200},
        0x600: {0x68: 19, 0x70: 1}, 0x800: {0x68: M_USER + 0xff8}}
# openat deny, openat redirect, getpid, hypercall mmu_update big count, execve kill
monitor('verdicts', [mstop(0, rdi=0x000), mstop(0, rdi=0x200), mstop(1), mstop(7, rsi=500), mstop(2, rdi=0x400)],
        strings=strs, ptregs=regs)
monitor('pause', [mstop(0, rdi=0x800), mstop(3, rdi=0x600), mstop(1)], strings=strs, ptregs=regs)
monitor('odd-stops', [mstop(0, kind=5, rdi=0x000), mstop(11, kind=6), mstop(0, kind=8 | 0x80, rdi=0x10), mstop(0, kind=7)],
        strings=strs, ptregs=regs, fail=0x80)
monitor('failures', [mstop(0, rdi=0x000), mstop(1), mstop(0, rdi=0x200), mstop(7, rsi=5)], fail=0x3f,
        strings=strs, ptregs=regs, holes=0x0000ffff)
monitor('creds', [mstop(4, rsp=0x1000, gs=1), mstop(5, rdi=0x0), mstop(6, rax=0x10)], strings=strs, ptregs=regs,
        stack_words=[(0x1000, 0xffffffff81002400), (0x1008, 0xffffffff81003010)])
# 32-bit entries (int $0x80): arguments in bx cx dx si di bp
monitor('ia32', [mstop(12, rdi=0x000), mstop(13), mstop(12, rdi=0x200)], strings=strs,
        ptregs={0x000: {0x58: M_USER, 0x28: 0xffffff9c}, 0x200: {0x58: M_USER + 0x100}})

# ---- a process and its libc for fuzz_umod.c (corpus/umod/) ----
# Kernel page: mm, an arange root over two leaves, five VMAs, two files,
# dentries /lib/libc.so.6 and /prog; user pages: a tiny libc with
# DT_GNU_HASH, DT_HASH, system and __errno_location (6.1 offsets).
UK, UU = 0xffff888000000000, 0x7f0000000000

def umod_kernel():
    k = bytearray(4096)
    def p(a, v): put(k, a - UK, q(v))
    MM, ROOT, LA, LB = UK + 0x100, UK + 0x200, UK + 0x300, UK + 0x400
    VMA = lambda i: UK + 0x500 + i * 0x80
    FP, FL = UK + 0x800, UK + 0x840
    DR, DL, DC, DP = UK + 0x900, UK + 0x940, UK + 0x980, UK + 0x9c0
    NAMES = UK + 0xa00
    enc = lambda n, t: n | t << 3 | 2
    p(MM + 0x48, enc(ROOT, 3))
    p(ROOT + 8, 0x7effffffffff); p(ROOT + 80, enc(LA, 1)); p(ROOT + 88, enc(LB, 1)); k[ROOT + 240 - UK] = 1
    for i, v in enumerate((0x3fffff, 0x400fff, 0x401fff)): p(LA + 8 + 8 * i, v)
    p(LA + 136, VMA(0)); p(LA + 144, VMA(1)); k[LA + 248 - UK] = 3
    for i, v in enumerate((UU - 1, UU + 0xfff, UU + 0x1fff, UU + 0x2fff)): p(LB + 8 + 8 * i, v)
    p(LB + 136, VMA(2)); p(LB + 144, VMA(3)); p(LB + 152, VMA(4)); k[LB + 248 - UK] = 4
    for i, (s, e, pg, f) in enumerate(((0x400000, 0x401000, 0, FP), (0x401000, 0x402000, 1, FP),
                                       (UU, UU + 0x1000, 0, FL), (UU + 0x1000, UU + 0x2000, 1, FL),
                                       (UU + 0x2000, UU + 0x3000, 0, 0))):
        p(VMA(i), s); p(VMA(i) + 8, e); p(VMA(i) + 16, MM); p(VMA(i) + 32, 5); p(VMA(i) + 104, pg); p(VMA(i) + 112, f)
    p(FP + 24, DP); p(FL + 24, DC)
    for i, (d, par, name) in enumerate(((DR, DR, b'/'), (DL, DR, b'lib'), (DC, DL, b'libc.so.6'), (DP, DR, b'prog'))):
        put(k, NAMES + 0x20 * i - UK, name + b'\0'); p(d + 24, par); p(d + 40, NAMES + 0x20 * i)
    return k

def gnu_hash(s):
    h = 5381
    for c in s: h = (h * 33 + c) & 0xffffffff
    return h

def umod_libc(relocated):
    u = bytearray(8192)
    r = UU if relocated else 0
    put(u, 0, b'\x7fELF\x02\x01\x01' + bytes(9) + struct.pack('<HHIQQQIHHHHHH', 3, 62, 1, 0, 64, 0, 0, 64, 56, 2, 0, 0, 0))
    put(u, 64, struct.pack('<IIQQQQQQ', 1, 7, 0, 0, 0, 0x2000, 0x2000, 0x1000))
    put(u, 120, struct.pack('<IIQQQQQQ', 2, 6, 0x100, 0x100, 0x100, 0x100, 0x100, 8))
    dyn = [(0x6ffffef5, 0x300 + r), (4, 0x380 + r), (6, 0x400 + r), (5, 0x500 + r), (10, 0x40), (11, 24), (14, 1), (0, 0)]
    put(u, 0x100, b''.join(struct.pack('<qQ', t, v) for t, v in dyn))
    put(u, 0x300, struct.pack('<IIIIQI', 1, 1, 1, 6, 0xffffffffffffffff, 1) +
        struct.pack('<II', gnu_hash(b'system') & ~1, gnu_hash(b'__errno_location') | 1))
    put(u, 0x380, struct.pack('<IIIIII', 1, 3, 2, 0, 0, 1))
    strtab = b'\0libc.so.6\0system\0__errno_location\0'
    put(u, 0x400, bytes(24) + struct.pack('<IBBHQQ', strtab.index(b'system'), 0x12, 0, 1, 0x1000, 16) +
        struct.pack('<IBBHQQ', strtab.index(b'__errno_location'), 0x12, 0, 1, 0x1100, 17))
    put(u, 0x500, strtab)
    put(u, 0x1000, b'\xc3')
    put(u, 0x1100, b'\x48\x8b\x05' + struct.pack('<i', 0x1800 - 0x1107) + b'\x64\x48\x03\x04\x25\0\0\0\0\xc3')
    put(u, 0x1800, struct.pack('<q', -0x80 if relocated else 0))
    return u

def umod(name, opt=0, holes=0, relocated=True):
    with open(os.path.join(here, 'corpus/umod', name), 'wb') as f:
        f.write(bytes([opt]) + struct.pack('<I', holes) + bytes(umod_kernel()) + bytes(umod_libc(relocated)))

os.makedirs(os.path.join(here, 'corpus/umod'), exist_ok=True)
umod('by-name')
umod('by-path', opt=1)
umod('link-time', relocated=False)
umod('holes-kernel', holes=0x00000002)
umod('holes-user', holes=0x00010000)

# kallsyms (fuzz_kallsyms.c): mode byte, then a 6.1-layout table with
# seqs_of_names, as scripts/kallsyms.c lays it out.
def ksyms_table(n, seqs=True, late=False):
    out = bytearray(b'\x07' * 64 + b'0\x001\x002\x003\x004\x005\x006\x007\x008\x009\x00')
    def al():
        while len(out) % 8:
            out.append(0)
    al()
    base = 0xffffffff81000000
    vals = [0x1000 * i if i < 2 else base + 0x40 * i for i in range(n)]
    offs = b''.join(struct.pack('<i', v if i < 2 else base - 1 - v) for i, v in enumerate(vals))
    if not late:
        out += offs; al(); out += struct.pack('<Q', base)
    out += struct.pack('<I', n); al()
    names = len(out)
    marks = []
    for i in range(n):
        if i % 256 == 0:
            marks.append(len(out) - names)
        nm = (b'T' if i >= 2 else b'A') + b'fn_%d' % i
        out.append(len(nm)); out += nm
    al()
    for m in marks:
        out += struct.pack('<I', m)
    if seqs:
        al()
        for i in range(n):
            out += struct.pack('>I', i)[1:]
    al()
    tt = len(out)
    idx = []
    for i in range(256):
        tok = bytes([i]) if 0x20 < i < 0x7f else bytes([0x61 + i % 26, 0x61 + i // 26 % 26])
        idx.append(len(out) - tt)
        out += tok + b'\0'
    al()
    for x in idx:
        out += struct.pack('<H', x)
    if late:
        al(); out += offs; al(); out += struct.pack('<Q', base)
    return bytes(out)

os.makedirs(os.path.join(here, 'corpus/kallsyms'), exist_ok=True)
for name, data in (('table-6.1', b'\0' + ksyms_table(300)),
                   ('table-6.4', b'\0' + ksyms_table(300, seqs=False, late=True)),
                   ('guest', b'\x01' + ksyms_table(600)),
                   ('bzimage-none', b'\x02' + bytes(0x202) + b'HdrS' + bytes(0x60))):
    with open(os.path.join(here, 'corpus/kallsyms', name), 'wb') as f:
        f.write(data)
# Mode 3: a profile's sections (vmi/kprofile.h), deflated and base64'd.
def kprof_sec(name, addr, data):
    z = zlib.compress(data)
    b = base64.b64encode(z).decode()
    lines = ['#=' + b[i:i + 76] for i in range(0, len(b), 76)]
    return '# section %s 0x%x %d zlib %d\n' % (name, addr, len(data), len(z)) + \
        '\n'.join(lines) + '\n'
kp = ('# vsp profile 1\nffffffff81000000 T fz_a\n' +
      kprof_sec('btf', 0xffffffff82000000, b'\x9f\xeb\x01\x00' + bytes(60)) +
      kprof_sec('orc_unwind_ip', 0xffffffff82100000, bytes(16)) +
      kprof_sec('orc_unwind', 0xffffffff82100010, bytes(24)) +
      kprof_sec('tails', 0, struct.pack('<QQ', 0xffffffff81000040, 0xffffffff81000000)))
digest = ('# vsp profile 1\nffffffff81000000 T _text\nffffffff81000100 T _etext\n'
          '# kallsyms-digest 1 nsyms 3 symbols 0x1a2b3c4d windows 3\n'
          '# kallsyms-window linux_banner 0xffffffff82000000 32 0x12345678\n'
          '# kallsyms-window offsets 0xffffffff82000200 512 0x9abcdef0\n'
          '# kallsyms-window relative_base 0xffffffff82000400 8 0x0\n')
for name, data in (('profile-sections', kp), ('profile-digest', digest),
                   ('profile-tails-bad', kprof_sec('tails', 0, struct.pack('<QQ', 0xffffffff81000080, 0xffffffff81000000)))):
    with open(os.path.join(here, 'corpus/kallsyms', name), 'wb') as f:
        f.write(b'\x03' + data.encode())
# A policy of 4,150 macros each using the one before (62 KB, under the
# fuzzer's -max_len): once wrote past the checker's stack of open macros.
def macro_chain(n):
    al = 'abcdefghijklmnopqrstuvwxyz0123456789'
    name = lambda i: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'[i // 1296] + al[i // 36 % 36] + al[i % 36]
    lines = ['macro %s=dfd==1;' % name(0)]
    lines += ['macro %s=%s;' % (name(i), name(i - 1)) for i in range(1, n)]
    lines.append('rule "x":on syscall openat when %s:deny EACCES;' % name(n - 1))
    return '\n'.join(lines) + '\n'

with open(os.path.join(here, 'corpus/policy', 'macro-chain.vsp'), 'w') as f:
    f.write(macro_chain(4150))

# ---- BTF for fuzz_btf.c (corpus/btf/): the kernel structs vsp reads,
# with the members it asks for at made-up offsets, raw as a kernel's .BTF.
class Btf:
    def __init__(self):
        self.types, self.strs, self.off = [], b'\0', {'': 0}

    def s(self, name):
        if name not in self.off:
            self.off[name] = len(self.strs)
            self.strs += name.encode() + b'\0'
        return self.off[name]

    def add(self, b):
        self.types.append(b)
        return len(self.types)

    def int_(self, name, size):
        return self.add(struct.pack('<IIII', self.s(name), 1 << 24, size, size * 8))

    def ptr(self):
        return self.add(struct.pack('<III', 0, 2 << 24, 0))

    def array(self, elem, idx, n):
        return self.add(struct.pack('<IIIIII', 0, 3 << 24, 0, elem, idx, n))

    def composite(self, name, size, members, union=False):
        kind = 5 if union else 4
        b = struct.pack('<III', self.s(name), (kind << 24) | len(members), size)
        for mn, mt, mo in members:
            b += struct.pack('<III', self.s(mn), mt, mo * 8)
        return self.add(b)

    def var(self, name, t):
        return self.add(struct.pack('<IIII', self.s(name), 14 << 24, t, 1))

    def datasec(self, name, size, vars):
        b = struct.pack('<III', self.s(name), (15 << 24) | len(vars), size)
        for t, off, sz in vars:
            b += struct.pack('<III', t, off, sz)
        return self.add(b)

    def blob(self):
        t = b''.join(self.types)
        return struct.pack('<HBBIIIII', 0xeB9F, 1, 0, 24, 0, len(t), len(t),
                           len(self.strs)) + t + self.strs

def kernel_btf(loop=False):
    b = Btf()
    u32, u64, char = b.int_('unsigned int', 4), b.int_('long unsigned int', 8), b.int_('char', 1)
    p = b.ptr()
    sizes = {u32: 4, u64: 8, char: 1, p: 8}
    def st(name, members, union=False):
        # members: (name, type) laid out one after another, each at its
        # natural alignment (8 at most)
        out, at = [], 0
        for mn, mt in members:
            al = min(sizes[mt], 8) if sizes[mt] in (1, 2, 4, 8) else 8
            at = (at + al - 1) & ~(al - 1)
            out.append((mn, mt, at))
            at += sizes[mt]
        at = (at + 7) & ~7
        sizes[None] = 0
        t = b.composite(name, max(at, 8), out, union)
        sizes[t] = max(at, 8)
        return t
    def arr(elem, n):
        t = b.array(elem, u32, n)
        sizes[t] = sizes[elem] * n
        return t
    lst = st('list_head', [('next', p), ('prev', p)])
    path = st('path', [('mnt', p), ('dentry', p)])
    hl = st('', [('hash', u32), ('len', u32)])
    qu = st('', [('', hl), ('hash_len', u64)], union=True)
    sizes[qu] = 8
    qstr = st('qstr', [('', qu), ('name', p)])
    st('cred', [('usage', u64), ('uid', u32), ('gid', u32), ('suid', u32),
                ('sgid', u32), ('euid', u32)])
    audit = st('', [('loginuid', u32), ('sessionid', u32)])
    if loop:
        # Anonymous members eight deep, each level thousands wide, all
        # the same struct: without a budget a member lookup never ends.
        fan = b.composite('fan', 8, [('', len(b.types) + 1, 0)] * 4000)
        b.composite('task_struct', 8, [('', fan, 0)] * 4000)
    else:
        st('task_struct', [('state', u64), ('tasks', lst), ('mm', p), ('pid', u32),
                           ('tgid', u32), ('real_parent', p), ('real_cred', p),
                           ('cred', p), ('comm', arr(char, 16)), ('fs', p),
                           ('', audit), ('cgroups', p)])
    mt = st('maple_tree', [('ma_lock', u32), ('ma_root', p)])
    st('mm_struct', [('mm_mt', mt), ('pgd', p), ('exe_file', p),
                     ('arg_start', u64), ('arg_end', u64)])
    st('maple_range_64', [('parent', p), ('pivot', arr(u64, 15)), ('slot', arr(p, 16))])
    meta = st('maple_metadata', [('end', char), ('gap', char)])
    st('maple_arange_64', [('parent', p), ('pivot', arr(u64, 9)), ('slot', arr(p, 10)),
                           ('gap', arr(u64, 10)), ('meta', meta)])
    st('vm_area_struct', [('vm_start', u64), ('vm_end', u64), ('vm_mm', p),
                          ('vm_flags', u64), ('vm_pgoff', u64), ('vm_file', p)])
    st('file', [('f_path', path), ('f_inode', p), ('f_flags', u32)])
    st('dentry', [('d_flags', u32), ('d_parent', p), ('d_name', qstr), ('d_inode', p),
                  ('d_iname', arr(char, 32)), ('d_sb', p)])
    vfsm = st('vfsmount', [('mnt_root', p), ('mnt_sb', p)])
    st('mount', [('mnt_parent', p), ('mnt_mountpoint', p), ('mnt', vfsm)])
    st('inode', [('i_mode', u32), ('i_uid', u32), ('i_gid', u32), ('i_ino', u64),
                 ('i_nlink', u32), ('i_sb', p)])
    st('super_block', [('s_dev', u32), ('s_type', p)])
    st('file_system_type', [('name', p)])
    st('fs_struct', [('users', u32), ('root', path), ('pwd', path)])
    st('linux_binprm', [('p', u64), ('mm', p), ('file', p), ('interp', p), ('argc', u32)])
    st('socket', [('state', u32), ('type', u32), ('sk', p)])
    st('sock_common', [('skc_daddr', u32), ('skc_rcv_saddr', u32), ('skc_dport', u32),
                       ('skc_num', u32), ('skc_family', u32)])
    st('msghdr', [('msg_name', p), ('msg_namelen', u32)])
    cur = b.var('current_task', p)
    b.datasec('.data..percpu', 0x20000, [(cur, 0x1fbc0, 8)])
    return b.blob()

os.makedirs(os.path.join(here, 'corpus/btf'), exist_ok=True)
with open(os.path.join(here, 'corpus/btf', 'kernel'), 'wb') as f:
    f.write(kernel_btf())
os.makedirs(os.path.join(here, 'regress/btf'), exist_ok=True)
with open(os.path.join(here, 'regress/btf', 'anonymous-members-fanned-out'), 'wb') as f:
    f.write(kernel_btf(loop=True))
