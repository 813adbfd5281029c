package redisregions_test

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// quietLogger drops go-redis's own log lines (failed dials while a region
// is partitioned on purpose).
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	if os.Getenv("REDISREGIONS_TEST_LOG") == "" {
		redis.SetLogger(quietLogger{})
	}
	os.Exit(m.Run())
}
