package serve

import (
	"net"
	"os"
)

// notify sends a state line ("READY=1", "STOPPING=1") to the service
// manager when it asked for it (systemd Type=notify sets NOTIFY_SOCKET).
// Without NOTIFY_SOCKET it does nothing; a failure is returned for logging.
func notify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' { // an abstract socket
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}
