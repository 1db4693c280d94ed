//go:build !linux

package libfix

import "net"

// unread cannot tell here whether bytes wait in c's receive buffer.
func unread(net.Conn) bool { return false }
