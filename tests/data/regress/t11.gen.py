import sys; sys.path.insert(0,'.')
from pcap import *
w=W(); c=Conn(w); c.hs(); c.c2s(REQ); c.s2c(RESP)
c.s2c(frame(1,b'abc',fin=False)+frame(3,b'XYZ')+frame(0,b'def'))
w.write('t11.pcap')
