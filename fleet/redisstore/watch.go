package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/breakerbox/breakerbox/fleet"
)

// ErrWatchLost is wrapped by the error Watch returns when its subscription
// is lost: the connection broke, the server stopped answering pings, or
// the subscription was dropped. The caller watches again; the new Watch
// starts with a Resync.
var ErrWatchLost = errors.New("redisstore: watch lost")

// Watch subscribes to the fleet's hint channel ("{prefix}:hints", classic
// PUBLISH/SUBSCRIBE) and sends fn a hint for every change a Store of the
// fleet makes, until ctx ends, the Store is closed or the subscription is
// lost; it returns the reason (ctx.Err() when ctx ended, fleet.ErrClosed
// after Close, an error wrapping ErrWatchLost otherwise).
//
// It sends Resync once subscribed, again whenever the subscription is
// confirmed anew (go-redis may resubscribe on its own after a reconnect:
// hints sent meanwhile are lost), and every WithResyncEvery period, since
// expiry sends no hint. With no traffic it pings the server every
// WithPingEvery period through the subscription and returns when two
// periods pass without an answer.
//
// fn runs on Watch's goroutine and must not block.
func (s *Store) Watch(ctx context.Context, fn func(fleet.Hint)) error {
	if err := s.check("hint", "watch"); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ps := s.client.Subscribe(ctx) // no channel yet: no connection yet
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ps.Close()
		return fleet.ErrClosed
	}
	s.watches[ps] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watches, ps)
		s.mu.Unlock()
		// Closing waits for a dial in progress (go-redis holds the
		// subscription's lock while it dials): never make the caller wait.
		go ps.Close()
	}()
	// A blocked read does not see ctx's cancellation (only its deadline):
	// closing the subscription ends it.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()

	// why names the reason Watch ends, in the order that matters: the
	// caller's ctx, then Close, then the lost subscription.
	why := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return fleet.ErrClosed
		}
		return fmt.Errorf("%w: %w", ErrWatchLost, err)
	}

	subCtx, cancel := context.WithTimeout(ctx, 2*s.cfg.pingEvery)
	err := s.run(subCtx, func(ctx context.Context) error { return ps.Subscribe(ctx, s.channel) })
	cancel()
	if err != nil {
		return why(err)
	}

	nextResync := s.nextResync(time.Now())
	unanswered := 0 // receive timeouts since the server last said anything
	for {
		msg, err := ps.ReceiveTimeout(ctx, s.cfg.pingEvery)
		if err != nil {
			if !isTimeout(err) || ctx.Err() != nil {
				return why(err)
			}
			unanswered++
			if unanswered >= 2 {
				return why(fmt.Errorf("no answer from the server for %v", time.Duration(unanswered)*s.cfg.pingEvery))
			}
			pingCtx, cancel := context.WithTimeout(ctx, s.cfg.pingEvery)
			err = s.run(pingCtx, func(ctx context.Context) error { return ps.Ping(ctx) })
			cancel()
			if err != nil {
				return why(err)
			}
		} else {
			unanswered = 0
			switch m := msg.(type) {
			case *redis.Subscription:
				if m.Kind != "subscribe" {
					return why(fmt.Errorf("%s from %q", m.Kind, m.Channel))
				}
				// The first confirmation, or go-redis resubscribed after
				// a reconnect: either way, hints may have been missed.
				fn(fleet.Hint{Resync: true})
			case *redis.Message:
				fn(parseHint(m.Payload))
			case *redis.Pong:
			}
		}
		if now := time.Now(); !nextResync.IsZero() && !now.Before(nextResync) {
			fn(fleet.Hint{Resync: true})
			nextResync = s.nextResync(now)
		}
	}
}

// nextResync is when Watch next sends a periodic Resync, jittered; zero
// when they are off.
func (s *Store) nextResync(now time.Time) time.Time {
	if s.cfg.resyncEvery <= 0 {
		return time.Time{}
	}
	j := 1 + s.cfg.resyncJitter*(2*rand.Float64()-1)
	return now.Add(time.Duration(float64(s.cfg.resyncEvery) * j))
}

// parseHint reads "kind:key"; anything else (a foreign publisher on the
// channel) becomes a Resync, which is always safe.
func parseHint(payload string) fleet.Hint {
	kind, key, ok := strings.Cut(payload, ":")
	if !ok || kind == "" || key == "" {
		return fleet.Hint{Resync: true}
	}
	return fleet.Hint{Kind: fleet.Kind(kind), Key: key}
}

// isTimeout reports a read that timed out (the connection is still good).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
