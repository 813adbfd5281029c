package notify

import (
	"bufio"
	"net"
	"strings"
	"testing"
)

// newPlainSMTP starts a minimal SMTP server on loopback that offers no
// STARTTLS, and returns its address. It answers EHLO and QUIT and refuses
// everything else.
func newPlainSMTP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				write := func(s string) { _, _ = c.Write([]byte(s + "\r\n")) }
				write("220 test ESMTP")
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
					case "EHLO", "HELO":
						write("250-test\r\n250 8BITMIME")
					case "QUIT":
						write("221 bye")
						return
					default:
						write("502 not implemented")
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}
