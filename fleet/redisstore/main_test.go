package redisstore_test

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// quietLogger drops go-redis's own log lines (reconnects, sentinel
// switches), which the fault and failover tests cause on purpose.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	if os.Getenv("REDISSTORE_TEST_LOG") == "" {
		redis.SetLogger(quietLogger{})
	}
	os.Exit(m.Run())
}
