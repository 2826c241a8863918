#!/usr/bin/env python3
"""sinkrecv.py: a receiver for vsp's audit sinks, for the tests.

    sinkrecv.py udp|tcp PORTFILE OUT [SECONDS]
    sinkrecv.py unix|journal PATH OUT [SECONDS]

udp and tcp listen on 127.0.0.1 on a free port, written to PORTFILE once
listening; unix binds a datagram socket at PATH (a /dev/log stand-in);
journal binds one at PATH speaking journald's native protocol.  Each
message becomes one JSON line in OUT: syslog messages parsed as RFC 5424
(pri, version, timestamp, hostname, app, procid, msgid, sd, msg), TCP
framed by octet counting (RFC 6587), journal datagrams as their fields.
Stops after SECONDS (default 60) or on SIGTERM; a message that does not
parse is written as {"bad": "..."} so the test sees it.
"""
import json
import os
import re
import select
import signal
import socket
import struct
import sys
import time

RFC5424 = re.compile(
    rb'^<(\d{1,3})>(\d) (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]\\]|\\.)*\])+) ?(.*)$',
    re.S)
SDPARAM = re.compile(rb'(\S+?)="((?:[^"\\]|\\.)*)"')


def parse_syslog(data):
    m = RFC5424.match(data)
    if not m:
        return {"bad": data.decode("utf-8", "replace")}
    pri, ver, ts, host, app, pid, msgid, sd, msg = m.groups()
    params = {}
    sdid = None
    if sd != b'-':
        body = sd[1:-1]
        sdid = body.split(b' ', 1)[0].decode()
        for k, v in SDPARAM.findall(body):
            params[k.decode()] = re.sub(rb'\\(["\\\]])', rb'\1', v).decode()
    return {"pri": int(pri), "version": int(ver), "timestamp": ts.decode(),
            "hostname": host.decode(), "app": app.decode(),
            "procid": pid.decode(), "msgid": msgid.decode(), "sdid": sdid,
            "sd": params, "msg": msg.decode("utf-8", "replace")}


def parse_journal(data):
    """journald's native protocol: KEY=VALUE\\n, or KEY\\n<le64 size>VALUE\\n
    (sd_notify's messages are the first kind too)."""
    fields = {}
    i = 0
    while i < len(data):
        nl = data.find(b'\n', i)
        if nl < 0:
            nl = len(data)  # sd_notify's last line has no newline
        line = data[i:nl]
        if b'=' in line:
            k, v = line.split(b'=', 1)
            i = nl + 1
        else:
            k = line
            (size,) = struct.unpack_from('<Q', data, nl + 1)
            v = data[nl + 9:nl + 9 + size]
            i = nl + 9 + size + 1
        fields[k.decode()] = v.decode("utf-8", "replace")
    return fields


def main():
    mode, where, outpath = sys.argv[1:4]
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 60.0
    deadline = time.monotonic() + seconds
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    out = open(outpath, "a", buffering=1)

    def emit(obj):
        out.write(json.dumps(obj) + "\n")

    if mode in ("udp", "tcp"):
        kind = socket.SOCK_DGRAM if mode == "udp" else socket.SOCK_STREAM
        srv = socket.socket(socket.AF_INET, kind)
        srv.bind(("127.0.0.1", 0))
        if mode == "tcp":
            srv.listen(4)
        tmp = where + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(srv.getsockname()[1]))
        os.rename(tmp, where)
    else:
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        srv.bind(where)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    conns = {}
    while time.monotonic() < deadline:
        socks = [srv] + list(conns)
        r, _, _ = select.select(socks, [], [], 0.2)
        for s in r:
            if s is srv and mode == "tcp":
                c, _ = srv.accept()
                conns[c] = b''
                continue
            if s is srv:
                data = srv.recv(1 << 20)
                emit(parse_journal(data) if mode == "journal" else parse_syslog(data))
                continue
            chunk = s.recv(65536)
            if not chunk:
                if conns[s]:
                    emit({"bad": "connection closed mid-frame"})
                del conns[s]
                s.close()
                continue
            buf = conns[s] + chunk
            while True:
                m = re.match(rb'^(\d+) ', buf)
                if not m:
                    if buf and not re.match(rb'^\d*$', buf):
                        emit({"bad": "not octet-counted: " + buf[:40].decode("utf-8", "replace")})
                        buf = b''
                    break
                n = int(m.group(1))
                start = m.end()
                if len(buf) < start + n:
                    break
                emit(parse_syslog(buf[start:start + n]))
                buf = buf[start + n:]
            conns[s] = buf


if __name__ == "__main__":
    main()
