import struct, os, base64, hashlib
def ip_csum(h):
    s=0
    for i in range(0,len(h),2): s+= (h[i]<<8)+h[i+1]
    while s>>16: s=(s&0xffff)+(s>>16)
    return (~s)&0xffff
class W:
    def __init__(s): s.pk=[]; s.t=1_700_000_000.0
    def tcp(s, src, dst, sport, dport, seq, ack, flags, payload=b'', ts=None, snap=None):
        if ts is None: s.t+=0.001; ts=s.t
        fl=0
        for c,b in zip('FSRPAU',[1,2,4,8,16,32]):
            if c in flags: fl|=b
        tcp=struct.pack('!HHIIBBHHH',sport,dport,seq&0xffffffff,ack&0xffffffff,5<<4,fl,65535,0,0)+payload
        iph=struct.pack('!BBHHHBBH4s4s',0x45,0,20+len(tcp),1,0,64,6,0,bytes(map(int,src.split('.'))),bytes(map(int,dst.split('.'))))
        iph=iph[:10]+struct.pack('!H',ip_csum(iph))+iph[12:]
        eth=b'\x02'*6+b'\x04'*6+b'\x08\x00'
        pkt=eth+iph+tcp
        orig=len(pkt)
        if snap: pkt=pkt[:snap]
        s.pk.append((ts,pkt,orig))
    def write(s, path):
        with open(path,'wb') as f:
            f.write(struct.pack('<IHHiIII',0xa1b2c3d4,2,4,0,0,262144,1))
            for ts,p,o in s.pk:
                sec=int(ts); us=int(round((ts-sec)*1e6))
                f.write(struct.pack('<IIII',sec,us,len(p),o)); f.write(p)
KEY=b'dGhlIHNhbXBsZSBub25jZQ=='
ACC=base64.b64encode(hashlib.sha1(KEY+b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest())
REQ=b'GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: '+KEY+b'\r\nSec-WebSocket-Version: 13\r\n\r\n'
RESP=b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: '+ACC+b'\r\n\r\n'
def frame(op, payload, mask=None, fin=True, rsv1=False):
    b0=(0x80 if fin else 0)|(0x40 if rsv1 else 0)|op
    n=len(payload)
    m=0x80 if mask else 0
    if n<126: h=bytes([b0,m|n])
    elif n<65536: h=bytes([b0,m|126])+struct.pack('!H',n)
    else: h=bytes([b0,m|127])+struct.pack('!Q',n)
    if mask:
        h+=mask; payload=bytes(c^mask[i%4] for i,c in enumerate(payload))
    return h+payload
C=('10.0.0.1',40000); S=('10.0.0.2',8080)
class Conn:
    """helper: tracks seqs"""
    def __init__(s,w,c=C,sv=S,cisn=1000,sisn=5000):
        s.w=w; s.c=c; s.s=sv; s.cs=cisn+1; s.ss=sisn+1; s.cisn=cisn; s.sisn=sisn
    def hs(s):
        w=s.w; c=s.c; sv=s.s
        w.tcp(c[0],sv[0],c[1],sv[1],s.cisn,0,'S')
        w.tcp(sv[0],c[0],sv[1],c[1],s.sisn,s.cs,'SA')
        w.tcp(c[0],sv[0],c[1],sv[1],s.cs,s.ss,'A')
    def c2s(s,data,seq=None,flags='PA',ack=None,adv=True):
        q=s.cs if seq is None else seq
        s.w.tcp(s.c[0],s.s[0],s.c[1],s.s[1],q,s.ss if ack is None else ack,flags,data)
        if adv and seq is None: s.cs+=len(data)
    def s2c(s,data,seq=None,flags='PA',ack=None,adv=True):
        q=s.ss if seq is None else seq
        s.w.tcp(s.s[0],s.c[0],s.s[1],s.c[1],q,s.cs if ack is None else ack,flags,data)
        if adv and seq is None: s.ss+=len(data)
