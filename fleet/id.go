package fleet

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
)

// defaultReplicaID returns "host:pid-xxxx".
func defaultReplicaID() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "replica"
	}
	return fmt.Sprintf("%s:%d-%s", h, os.Getpid(), randomToken(2))
}

// randomToken returns n random bytes in hex.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
