#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpora of fuzz_conn, fuzz_traceparent, fuzz_printer and fuzz_otlp_response
into corpus/.

    python3 test/fuzz/make_seeds.py      # rewrites corpus/{conn,...,otlp_response}/seed_*

The seeds are committed; rerun this after changing a target's input format. fuzz_conn's format
is described in fuzz_conn.c (data_record, next_record); fuzz_printer reads a struct span
(core/span.h), mirrored here with ctypes so the layout is the C compiler's; fuzz_otlp_response
reads a plan byte and a seed byte, then the receiver's answer (fuzz_otlp_response.c).
"""
import ctypes
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CAP_MAX = 1024
TP_IDS = 0x01


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed_" + name), "wb") as f:
        f.write(data)


# --- fuzz_conn --------------------------------------------------------------------------------

def data(payload, sock=0, pid=0, send=False, start=None, lenmode=0, extra=0, sendfile=False,
         step=1, ids=None, cap=None, db=False):
    """One data record. `start` (OBI_F_MSG_START) defaults to "payload looks like a start"."""
    if start is None:
        start = payload[:5] == b"HTTP/" or payload.split(b" ", 1)[0] in (
            b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT")
    op = (sock & 3) << 3 | (pid & 1) << 5 | (1 << 6 if send else 0) | (0x80 if start else 0)
    mode = lenmode | (4 if sendfile else 0) | (step & 15) << 4
    cap = len(payload) if cap is None else cap
    cap = min(cap, CAP_MAX)
    tail = payload[-8:]
    rec = struct.pack("<BBHHB", op, mode, cap, extra, len(tail) | (0x80 if db else 0)) + tail.ljust(8, b"\0")
    if ids:
        trace, span, parent, flags = ids
        rec += bytes([TP_IDS]) + trace + span + parent + bytes([flags])
    else:
        rec += b"\0"
    return rec + payload[:cap]


def close(sock=0):
    return bytes([5 | (sock & 3) << 3])


def proc_exit(pid=0):
    return bytes([6 | (pid & 1) << 5])


def sweep(seconds, idle_code):
    return bytes([7 | (idle_code & 31) << 3, seconds])


GET = b"GET /users/123?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: curl/7.88\r\n\r\n"
OK5 = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
REDIS_SET = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"
REDIS_GET = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
PG_STARTUP = (struct.pack(">II", 8 + 22, 196608) + b"user\0app\0database\0shop\0\0")


def h2_frame(ftype, flags, stream, payload):
    """One HTTP/2 frame (RFC 9113 4.1)."""
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(
        ">I", stream) + payload


H2_SETTINGS = h2_frame(4, 0, 0, b"")


def my_packet(seq, payload):
    """A MySQL packet: 3-byte little-endian length, sequence id, payload."""
    return struct.pack("<I", len(payload))[:3] + bytes([seq & 0xff]) + payload


MY_HANDSHAKE = my_packet(0, b"\x0a5.5.5-10.11.19-MariaDB\0\x01\0\0\0" + b"a" * 8 + b"\0"
                         + b"\xff\xf7\x08\x02\0\xff\x81\x15" + b"\0" * 10 + b"b" * 12
                         + b"\0mysql_native_password\0")
# HandshakeResponse41: PROTOCOL_41 | SECURE_CONNECTION | CONNECT_WITH_DB | PLUGIN_AUTH, user
# "app", 20 bytes of auth data, database "shop"
MY_RESPONSE = (struct.pack("<IIB", 0x00088208, 1 << 24, 45) + b"\0" * 23 + b"app\0\x14"
               + b"c" * 20 + b"shop\0")


def conn_seeds():
    ids = (bytes(range(1, 17)), bytes(range(17, 25)), bytes(8), 1)
    seeds = {
        "server_get": data(GET) + data(OK5, send=True),
        "client_get": data(GET, send=True, ids=ids) + data(OK5),
        "pipelined": data(GET * 3) + data(OK5 * 2, send=True) + data(OK5, send=True),
        "split_head": data(GET[:20]) + data(GET[20:], start=False) + data(OK5, send=True),
        "split_response": data(GET, send=True) + data(OK5[:10], start=True)
        + data(OK5[10:], start=False),
        "post_body": data(b"POST /api HTTP/1.1\r\nContent-Length: 300\r\n\r\n" + b"a" * 100)
        + data(b"b" * 200, start=False) + data(b"HTTP/1.1 201 Created\r\nContent-Length: 0"
                                                  b"\r\n\r\n", send=True),
        "chunked": data(GET) + data(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    b"5\r\nhello\r\n", send=True)
        + data(b"0\r\n\r\n", send=True, start=False),
        "chunked_tail_split": data(GET) + data(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                                               b"chunked\r\n\r\n3\r\nabc\r\n0\r", send=True)
        + data(b"\n\r\n", send=True, start=False),
        "until_close": data(b"GET / HTTP/1.0\r\n\r\n") + data(b"HTTP/1.0 200 OK\r\n\r\nbody",
                                                             send=True)
        + data(b"more", send=True, start=False) + close(),
        "truncated_head": data(b"GET /big HTTP/1.1\r\nX-Long: " + b"x" * 900, lenmode=3,
                               extra=17) + data(OK5, send=True),
        "head_request": data(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n")
        + data(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", send=True),
        "continue": data(b"POST /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        + data(b"HTTP/1.1 100 Continue\r\n\r\n", send=True) + data(b"abc", start=False)
        + data(b"HTTP/1.1 204 No Content\r\n\r\n", send=True),
        "sendfile": data(GET) + data(b"HTTP/1.1 200 OK\r\nContent-Length: 36864\r\n\r\n",
                                     send=True)
        + data(b"", sendfile=True, send=True, lenmode=3, extra=9),
        "unanswered_close": data(GET) + close(),
        "unanswered_exit": data(GET, pid=1, sock=2) + proc_exit(1),
        "sweep": data(GET) + sweep(200, 1),
        "two_conns": data(GET, sock=0) + data(GET, sock=1, pid=1) + data(OK5, sock=1, pid=1,
                                                                          send=True)
        + data(OK5, sock=0, send=True) + close(0) + close(1),
        "traceparent": data(b"GET / HTTP/1.1\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-"
                            b"b7ad6b7169203331-01\r\n\r\n") + data(OK5, send=True),
        "garbage": data(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", start=False)
        + data(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        # HTTP/2 (h2c prior knowledge): the preface, SETTINGS and a GET (static-table HPACK),
        # then the server's SETTINGS and a 200 with a 5-byte DATA frame
        "h2_get": data(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + H2_SETTINGS
                       + h2_frame(1, 5, 1, b"\x82\x86\x84\x41\x03abc"), start=True)
        + data(H2_SETTINGS + h2_frame(1, 4, 1, b"\x88") + h2_frame(0, 1, 1, b"hello"),
               send=True, start=False),
        "orphan_response": data(OK5, send=True, start=True) + data(GET) + data(OK5, send=True),
        "short_len": data(GET, lenmode=2, extra=30) + data(OK5, send=True),
        "redis_pipeline": data(REDIS_SET + REDIS_GET, send=True, start=False, db=True)
        + data(b"+OK\r\n$5\r\nhello\r\n"),
        "redis_server_error": data(REDIS_GET, start=False, db=True)
        + data(b"-WRONGTYPE Operation against a key\r\n", send=True) + close(),
        "redis_big_value": data(REDIS_GET, send=True, start=False, db=True)
        + data(b"$100000\r\n" + b"v" * 200, lenmode=3, extra=255)
        + data(b"v" * 100, start=False, lenmode=3, extra=255),
        "pg_session": data(PG_STARTUP, send=True, start=False, db=True)
        + data(b"R\0\0\0\x08\0\0\0\0Z\0\0\0\x05I")
        + data(b"Q\0\0\0\x1dSELECT * FROM t WHERE a = 1\0", send=True, start=False, db=True)
        + data(b"C\0\0\0\x0dSELECT 1\0Z\0\0\0\x05I"),
        "pg_extended": data(PG_STARTUP, send=True, start=False, db=True)
        + data(b"Z\0\0\0\x05I")
        + data(b"P\0\0\0\x1as1\0SELECT $1 FROM t\0\0\0B\0\0\0\x0e\0s1\0\0\0\0\0\0\0"
               b"E\0\0\0\x09\0\0\0\0\0S\0\0\0\x04", send=True, start=False, db=True)
        + data(b"1\0\0\0\x042\0\0\0\x04E\0\0\0\x0cCXX000\0\0Z\0\0\0\x05E") + close(),
        "mysql_session": data(MY_HANDSHAKE, start=False, db=True)
        + data(my_packet(1, MY_RESPONSE), send=True, start=False)
        + data(my_packet(2, b"\0\0\0\x02\0\0\0"))
        + data(my_packet(0, b"\x03SELECT v FROM t WHERE id = 1"), send=True, start=False,
               db=True)
        + data(my_packet(1, b"\x01") + my_packet(2, b"\x03def\0\0\0\x01v\0\x0c\x08\0"
                                                      b"\x0b\0\0\0\x03\0\0\0\0")
               + my_packet(3, b"\xfe\0\0\x02\0") + my_packet(4, b"\x03abc")
               + my_packet(5, b"\xfe\0\0\x02\0"))
        + data(my_packet(0, b"\x03SELECT * FROM nope"), send=True, start=False, db=True)
        + data(my_packet(1, b"\xff\x7a\x04#42S02Table 'shop.nope' doesn't exist")) + close(),
        "mysql_prepared": data(MY_HANDSHAKE, start=False, db=True)
        + data(my_packet(1, MY_RESPONSE), send=True, start=False)
        + data(my_packet(2, b"\0\0\0\x02\0\0\0"))
        + data(my_packet(0, b"\x16INSERT INTO t (a) VALUES (?)"), send=True, start=False,
               db=True)
        + data(my_packet(1, b"\0\x07\0\0\0\0\0\x01\0\0\0\0")
               + my_packet(2, b"\x03def\0\0\0\x01?\0\x0c\x3f\0\0\0\0\0\xfd\x80\0\0\0\0")
               + my_packet(3, b"\xfe\0\0\x02\0"))
        + data(my_packet(0, b"\x17\x07\0\0\0\0\x01\0\0\0\0\x01\x03\0\x05\0\0\0"),
               send=True, start=False, db=True)
        + data(my_packet(1, b"\0\x01\0\x02\0\0\0"))
        + data(my_packet(0, b"\x17\x63\0\0\0\0\x01\0\0\0"), send=True, start=False, db=True)
        + data(my_packet(1, b"\xff\xdb\x04#HY000Unknown prepared statement handler"))
        + data(my_packet(0, b"\x19\x07\0\0\0"), send=True, start=False, db=True)
        + data(my_packet(0, b"\x01"), send=True, start=False) + close(),
        "mysql_big_result": data(MY_HANDSHAKE, start=False, db=True)
        + data(my_packet(1, MY_RESPONSE), send=True, start=False)
        + data(my_packet(2, b"\0\0\0\x02\0\0\0"))
        + data(my_packet(0, b"\x03SELECT v FROM t"), send=True, start=False, db=True)
        + data(my_packet(1, b"\x01") + b"".join(my_packet(2 + i, b"\x03abc") for i in range(80)),
               lenmode=3, extra=200)
        + data(my_packet(90, b"\xfe\0\0\x22\0"), start=False),
    }
    many = b"".join(b"GET /p/%d HTTP/1.1\r\nHost: h\r\n\r\n" % i for i in range(35))
    seeds["pipeline_overflow"] = (data(many[:CAP_MAX]) + data(many[:CAP_MAX])
                                  + data(OK5 * 40, send=True, cap=CAP_MAX) + close())
    for name, blob in seeds.items():
        write("conn", name, blob)


# --- fuzz_traceparent -------------------------------------------------------------------------

def traceparent_seeds():
    seeds = {
        "valid": b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "valid_unsampled": b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
        "upper": b"00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",
        "zero_trace": b"00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "zero_parent": b"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "version_ff": b"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "future_version": b"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        "short": b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",
        "long": b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-011",
        "empty": b"",
        "ows": b" \t00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\t ",
        "version_cc": b"cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "version_cc_dot": b"cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01.x",
        "tracestate": b"foo=1 ,\tbar@v=a b,,k*/_-9=~",
        "tracestate_bad": b"foo=1,FOO=2,foo=3",
    }
    for name, blob in seeds.items():
        write("traceparent", name, blob)


# --- fuzz_printer -----------------------------------------------------------------------------

class SpanAddr(ctypes.Structure):
    _fields_ = [("family", ctypes.c_uint8), ("addr", ctypes.c_uint8 * 16),
                ("port", ctypes.c_uint16)]


class Span(ctypes.Structure):
    """core/span.h's struct span."""
    _fields_ = [("kind", ctypes.c_int), ("start_ns", ctypes.c_uint64),
                ("handler_ns", ctypes.c_uint64), ("end_ns", ctypes.c_uint64),
                ("method", ctypes.c_char * 16), ("path", ctypes.c_char * 256),
                ("route", ctypes.c_char * 256), ("host_header", ctypes.c_char * 128),
                ("user_agent", ctypes.c_char * 128), ("status", ctypes.c_uint16),
                ("error", ctypes.c_bool), ("req_body_size", ctypes.c_uint64),
                ("resp_body_size", ctypes.c_uint64), ("local", SpanAddr),
                ("remote", SpanAddr), ("pid", ctypes.c_uint32), ("tid", ctypes.c_uint32),
                ("service_name", ctypes.c_char * 128), ("language", ctypes.c_char * 16),
                ("trace_id", ctypes.c_uint8 * 16), ("span_id", ctypes.c_uint8 * 8),
                ("parent_id", ctypes.c_uint8 * 8), ("trace_flags", ctypes.c_uint8)]


def span(**kw):
    s = Span()
    s.kind, s.start_ns = 1, 1763866501968000000
    s.handler_ns, s.end_ns = s.start_ns + 1000, s.start_ns + 20800173
    s.method, s.path, s.route = b"GET", b"/api/items/1", b"/api/items/*"
    s.host_header, s.user_agent = b"localhost:8080", b"curl/7.88.1"
    s.status, s.req_body_size, s.resp_body_size = 200, 0, 21
    s.local.family, s.local.port = 2, 8080
    s.local.addr[:4] = [127, 0, 0, 1]
    s.remote.family, s.remote.port = 2, 40650
    s.remote.addr[:4] = [127, 0, 0, 1]
    s.pid, s.tid = 11952, 11952
    s.service_name, s.language = b"demo-backend", b"python"
    s.trace_id[:] = range(1, 17)
    s.span_id[:] = range(1, 9)
    s.trace_flags = 1
    for k, v in kw.items():
        if isinstance(getattr(s, k), SpanAddr):
            getattr(s, k).family = v[0]
            getattr(s, k).addr[:] = v[1]
        else:
            setattr(s, k, v)
    return bytes(s)


def printer_seeds():
    v6 = (10, list(range(16)))
    mapped = (10, [0] * 10 + [0xff, 0xff, 10, 0, 0, 7])
    seeds = {
        "server": span(),
        "client": span(kind=2, status=404, error=True),
        "unanswered": span(status=0, error=True, end_ns=0),
        "ipv6": span(local=v6, remote=mapped, host_header=b"[::1]:8080"),
        "escapes": span(path=b'/a"b\\c\x01\x7f\xff\xc3\xa9\xe2\x82', user_agent=b"\tq\"\n",
                        method=b"G\xe9T"),
        "long_fields": span(path=b"/" + b"\x01" * 254, route=b"\xff" * 255,
                            host_header=b"\"" * 127, user_agent=b"\x1f" * 127,
                            service_name=b"\\" * 127, language=b"\x80" * 15),
        "times": span(start_ns=2**64 - 1, handler_ns=5, end_ns=3),
        "hours": span(end_ns=1763866501968000000 + 3725 * 10**9 + 5),
        "small_buffer": span() + bytes([3]),
    }
    for name, blob in seeds.items():
        write("printer", name, blob)


# --- fuzz_otlp_response ----------------------------------------------------------------------

def answer(raw, max_read=7, vary=False, reset=False, msg_size=0, seed=0x5a):
    """plan: max_read indexes (1, 2, 3, 7, 16, 100, 4096, any); msg_size indexes the decoder's
    buffer sizes (256, 0, 1, 2, 7, 16, 64, 1024)."""
    plan = max_read | (8 if vary else 0) | (16 if reset else 0) | msg_size << 5
    return bytes([plan, seed]) + raw


def pb_len(field, payload):
    return bytes([field << 3 | 2, len(payload)]) + payload


def partial_success(rejected, message):
    """Export{Trace,Metrics}ServiceResponse { partial_success { rejected, message } }"""
    return pb_len(1, bytes([0x08, rejected]) + pb_len(2, message))


def otlp_response_seeds():
    ps = partial_success(3, b"3 spans without a name were dropped")
    seeds = {
        "ok_length": answer(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n"
                            b"Content-Length: 0\r\n\r\n"),
        "ok_partial": answer(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(ps) + ps, max_read=4),
        "chunked": answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"5;name=value\r\nhello\r\n6 ; x\r\n world\r\n0\r\n"
                          b"Trailer-Field: t\r\nX-Checksum: 1\r\n\r\n", max_read=3, vary=True),
        "retry_seconds": answer(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 120\r\n"
                                b"Content-Length: 11\r\n\r\nunavailable", max_read=0),
        "retry_date": answer(b"HTTP/1.1 503 Service Unavailable\r\n"
                             b"Retry-After: Wed, 21 Oct 2037 07:28:00 GMT\r\n"
                             b"Content-Length: 0\r\n\r\n", max_read=5, vary=True),
        "retry_rfc850": answer(b"HTTP/1.1 429 Too Many Requests\r\n"
                               b"Retry-After: Sunday, 06-Nov-94 08:49:37 GMT\r\n"
                               b"Content-Length: 0\r\n\r\n", max_read=6),
        "retry_asctime": answer(b"HTTP/1.1 429 Too Many Requests\r\n"
                                b"Retry-After: Sun Nov  6 08:49:37 2094\r\n"
                                b"Connection: close\r\n\r\n"),
        "continue": answer(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
                           b"Content-Length: 2\r\n\r\n{}", max_read=1),
        "rejected_partial": answer(b"HTTP/1.1 400 Bad Request\r\n"
                                   b"Content-Type: application/x-protobuf\r\n"
                                   b"Content-Length: %d\r\n\r\n" % len(ps) + ps,
                                   max_read=2, vary=True, msg_size=5),
        "until_close": answer(b"HTTP/1.0 200 OK\r\nContent-Type: application/x-protobuf"
                              b"\r\n\r\n" + ps, max_read=4, msg_size=3),
        "keep_alive_10": answer(b"HTTP/1.0 204 No Content\r\nConnection: keep-alive\r\n\r\n"),
        "truncated": answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part",
                            max_read=3, vary=True),
        "truncated_chunk": answer(b"HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n"
                                  b"\r\n10\r\nabc", reset=True),
        "long_line": answer(b"HTTP/1.1 200 OK\r\nX-Long: " + b"x" * 8200 + b"\r\n\r\n",
                            max_read=5),
        "body_only": answer(ps, msg_size=1),
        "bad_chunk_size": answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 b"zz\r\nabc\r\n0\r\n\r\n", max_read=2),
        "bad_length": answer(b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n0123456789"),
        "not_http": answer(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", max_read=1),
        # past OTLP_RESPONSE_MAX (64 KiB): the body kept is cut there
        "big_body": answer(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 66000\r\n\r\n"
                           + b"e" * 66000, max_read=6, vary=True),
    }
    for name, blob in seeds.items():
        write("otlp_response", name, blob)


if __name__ == "__main__":
    conn_seeds()
    traceparent_seeds()
    printer_seeds()
    otlp_response_seeds()
