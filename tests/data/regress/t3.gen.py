import sys; sys.path.insert(0,'.')
from pcap import *
w=W(); c=Conn(w); c.hs(); c.c2s(REQ); c.s2c(RESP)
f1=frame(1,b'A'*100,mask=b'abcd'); f2=frame(1,b'B'*100,mask=b'abcd')
s1=c.cs; c.cs+=len(f1); s2=c.cs; c.cs+=len(f2)
# capture order (e.g. merged from two interfaces / multiqueue NIC): seg2, ACK of both, seg1
c.c2s(f2, seq=s2)
c.s2c(b'', flags='A', ack=c.cs)
c.c2s(f1, seq=s1)
c.s2c(frame(1,b'world'))
w.write('t3.pcap')
