#!/bin/sh
# lost-request.pcap and lost-101.pcap: samples/py-echo.pcap (Python websockets 17 echo on lo)
# with the one packet that carries the upgrade request (#4) or the 101 (#6) removed, as a
# capture that missed it would be. The truth is py-echo.expected.json (the senders' own log):
# every message there is still in the capture.
set -e
cd "$(dirname "$0")"
src=../../py-echo.pcap
[ "$(tshark -r $src -Y 'frame.number==4 && http.request.method==GET' | wc -l)" = 1 ]
[ "$(tshark -r $src -Y 'frame.number==6 && http.response.code==101' | wc -l)" = 1 ]
editcap -r $src lost-request.pcap 1-3 5-1000000
editcap -r $src lost-101.pcap 1-5 7-1000000
