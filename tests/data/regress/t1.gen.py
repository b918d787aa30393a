import sys; sys.path.insert(0,'.')
from pcap import *
w=W(); c=Conn(w); c.hs()
c.c2s(REQ[:40])
# response captured before the request's tail (e.g. mirror port / merged capture ordering)
c.s2c(RESP, ack=c.cs+len(REQ)-40)
c.c2s(REQ[40:])
c.c2s(frame(1,b'hello',mask=b'abcd')); c.s2c(frame(1,b'world'))
w.write('t1.pcap')
