package soak

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// Which process holds a connection that sio-serve logged: its log gives
// the client's address; /proc/net/tcp gives the socket's inode, and
// /proc/PID/fd who has it open. The soak counts early closes of
// subscribers only: a publisher that is done after 2 s closes its
// connection as it should.

// socketInode returns the inode of the TCP socket on the loopback
// address with local port local and remote port remote.
func socketInode(local, remote int) (uint64, bool) {
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		want := fmt.Sprintf(":%04X", local)
		wantRemote := fmt.Sprintf(":%04X", remote)
		for sc.Scan() {
			fl := strings.Fields(sc.Text())
			if len(fl) < 10 || !strings.HasSuffix(fl[1], want) || !strings.HasSuffix(fl[2], wantRemote) {
				continue
			}
			if ino, err := strconv.ParseUint(fl[9], 10, 64); err == nil && ino != 0 {
				f.Close()
				return ino, true
			}
		}
		f.Close()
	}
	return 0, false
}

// hasSocket reports whether process pid has the socket inode open.
func hasSocket(pid int, inode uint64) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	want := fmt.Sprintf("socket:[%d]", inode)
	for _, e := range ents {
		if l, err := os.Readlink(dir + "/" + e.Name()); err == nil && l == want {
			return true
		}
	}
	return false
}

// clientRole says whether the client at addr (as sio-serve logged it) of
// server s is a subscriber ("sub"), a publisher ("pub"), or unknown
// ("?"). A client behind one of the run's proxies is seen at the proxy's
// address: it has the role of that proxy.
func (r *run) clientRole(s *server, addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "?"
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "?"
	}
	inode, ok := socketInode(port, s.getPort())
	if !ok {
		return "?"
	}
	r.mu.Lock()
	roles := make(map[int]string, len(r.roles))
	for pid, role := range r.roles {
		roles[pid] = role
	}
	r.mu.Unlock()
	for pid, role := range roles {
		if hasSocket(pid, inode) {
			return role
		}
	}
	if hasSocket(os.Getpid(), inode) {
		sp, pp := s.proxies()
		switch {
		case sp != nil && pp == nil:
			return "sub"
		case pp != nil && sp == nil:
			return "pub"
		}
	}
	return "?"
}
