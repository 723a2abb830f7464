"""The client's view of a VIP: HTTP requests through it, as the users of the service make.

The failover stopwatch measures the protocol (advert, VIP, elected); this measures what the
audience of a demo and the incident channel ask first: did the users notice? `http.py` makes
one request and classifies what came back; `runner.py` makes them at a steady rate and
publishes `cluster.events.ClientRequest`; `python -m haconsole.probe` prints them as JSON
lines (the namespace lab runs it inside its client namespace: a real client on the LAN).
"""
