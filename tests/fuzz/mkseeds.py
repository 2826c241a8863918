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
