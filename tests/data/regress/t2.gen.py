import sys; sys.path.insert(0,'.')
from pcap import *
w=W()
# connection A, capture begins mid-connection (no SYN), WebSocket frames
a=Conn(w,cisn=100000,sisn=900000)
for i in range(3):
    a.c2s(frame(1,b'old%d'%i,mask=b'abcd')); a.s2c(frame(1,b'OLD%d'%i))
# A ends without the capture seeing the close (e.g. lost / outside capture); later same 4-tuple reused
b=Conn(w,cisn=7000000,sisn=3000000); b.hs(); b.c2s(REQ); b.s2c(RESP)
b.c2s(frame(1,b'new',mask=b'abcd')); b.s2c(frame(1,b'NEW'))
w.write('t2.pcap')
