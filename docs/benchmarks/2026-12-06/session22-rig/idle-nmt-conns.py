import socket, struct, sys, time
port, n, flag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
import random
net = random.randint(1, 254)
socks = []
for i in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.%d.0.%d" % (net, 2 + i // 10000), 0))
    s.connect(("127.0.0.1", port))
    s.sendall(struct.pack(">iq", 8, i))
    got = b""
    while len(got) < 12:
        d = s.recv(12 - len(got))
        if not d: raise SystemExit("closed %d" % i)
        got += d
    socks.append(s)
open(flag, "w").close()
time.sleep(600)
