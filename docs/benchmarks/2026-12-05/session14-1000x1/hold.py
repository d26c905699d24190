import socket, struct, sys, time
port, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
held = []
for i in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.9.%d.%d' % (i // 20000, 2 + (i // 250) % 250), 0))
    s.connect(('127.0.0.1', port))
    s.sendall(struct.pack('>I', 60) + b'x' * 60)
    held.append(s)
for s in held:
    got = b''
    while len(got) < 64:
        got += s.recv(64 - len(got))
open(ready, 'w').close()
time.sleep(600)
