package redisstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/redisstore"
)

func TestNewRefusesBadOptions(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	if _, err := redisstore.New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	for _, tc := range []struct {
		opt  redisstore.Option
		want string
	}{
		{redisstore.WithPrefix(""), `prefix ""`},
		{redisstore.WithPrefix("a{b"), `prefix "a{b"`},
		{redisstore.WithFleet("x}"), `fleet name "x}"`},
		{redisstore.WithPingEvery(0), "ping period 0s"},
		{redisstore.WithResyncEvery(-time.Second), "resync period -1s"},
	} {
		if _, err := redisstore.New(client, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New with a bad option: %v, want an error naming %s", err, tc.want)
		}
	}
}

func TestKeysShareTheFleetsHashTag(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	s, err := redisstore.New(client)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Key(fleet.KindVerdict, "payments@r1"); got != "{breakerbox}:verdict:payments@r1" {
		t.Errorf("Key = %q", got)
	}
	s, _ = redisstore.New(client, redisstore.WithFleet("checkout"))
	if got := s.RateKey("partner"); got != "{breakerbox:checkout}:rate:partner" {
		t.Errorf("RateKey = %q", got)
	}
	s, _ = redisstore.New(client, redisstore.WithPrefix("acme"), redisstore.WithFleet("checkout"))
	if got := s.Prefix(); got != "acme:checkout" {
		t.Errorf("Prefix = %q", got)
	}
}
