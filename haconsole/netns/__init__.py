"""Real labs in Linux network namespaces: `haconsole lab --netns`, the netns tests and
the failover benchmark. topology.py builds namespaces/bridge/veth, lab.py runs nginx and
the engines (haconsole agents or keepalived), confgen.py writes keepalived.conf, cli.py
is the command."""
