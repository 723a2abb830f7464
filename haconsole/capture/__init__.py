"""Frames off the wire: what a passive observer of a segment sees, decoded.

`frames` turns captured frames (any common link type) into VRRP, ARP and IPv6 neighbour
advertisement records, pure bytes in, values out; `pcap` reads capture files and the
pcap stream `tcpdump -w -` writes; `live` opens listen-only packet sockets, also inside
a network namespace. `haconsole watch` and the wire source share them.
"""
