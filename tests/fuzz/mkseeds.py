#!/usr/bin/env python3
# mkseeds.py: writes the bytecode fuzzer's seed corpus (corpus/bytecode/).
#
# Each seed is a small hand-assembled program in fuzz_bytecode.c's input
# format: 10 pool-size bytes (0xff: the whole pool), the event kind, the
# instruction count, the instructions, then bytes for the events.  Opcode
# numbers are read from interp/opcodes.h, so the seeds follow the list.
import os, re, struct, sys

here = os.path.dirname(os.path.abspath(__file__))
src = open(os.path.join(here, '../../interp/opcodes.h')).read()
ops = re.findall(r'^\s*OP\((\w+),', src, re.M)
OP = {n: i for i, n in enumerate(ops)}
DEFAULT = (1 << 24) - 1
F = {n: i for i, n in enumerate(re.findall(r'X\((\w+),', open(
    os.path.join(here, '../../interp/event.h')).read()))}

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
