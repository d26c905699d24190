import sys,re,statistics as st
d={}
for l in open(sys.argv[1]):
    m=re.search(r'round=(\d+) (\S+) threads=(\d+) calls=\d+ nsPerCall=(\d+) callsPerSec=(\d+) allocBytesPerCall=(\d+)(?: cpuNsPerCall=(\d+))?',l)
    if not m: print('??',l); continue
    r,v,t,ns,cps,al,cpu=m.groups()
    d.setdefault((v,int(t)),[]).append((int(ns),int(cps),int(al),int(cpu or 0)))
for k in sorted(d, key=lambda k:(k[1],k[0])):
    xs=d[k]
    print('%-9s threads=%d n=%d median: ns/call %6d  calls/s %6d  B/call %5d  cpu ns/call %6d | ns %s | cpu %s' % (k[0],k[1],len(xs),st.median(x[0] for x in xs),st.median(x[1] for x in xs),st.median(x[2] for x in xs),st.median(x[3] for x in xs),[x[0] for x in xs],[x[3] for x in xs]))
