import sys; sys.path.insert(0,'.')
from pcap import *
w=W(); c=Conn(w); c.hs(); c.c2s(REQ); c.s2c(RESP)
c.c2s(frame(1,b'hello',mask=b'abcd')); c.s2c(frame(1,b'world'))
# out-of-window RST (blind/injected, or answering a stale segment); the endpoints ignore it (RFC 5961)
c.s2c(b'', seq=c.ss+0x40000000, flags='R', ack=0)
c.c2s(frame(1,b'still here',mask=b'abcd')); c.s2c(frame(1,b'me too'))
w.write('t7.pcap')
