import sys; sys.path.insert(0,'.')
from pcap import *
w=W(); c=Conn(w); c.hs()
# server speaks first on a connection whose SYN was seen
c.s2c(frame(1,b'banner')+frame(2,b'\x00\x01')+frame(9,b''))
w.write('t10.pcap')
