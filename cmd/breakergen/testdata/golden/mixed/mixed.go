// Package mixed exercises breakergen on an interface with every kind of
// method: variadic parameters, types from other packages, several results,
// an embedded interface and defaults given on the interface.
package mixed

import (
	"context"
	"io"
	"net/http"
	"time"
)

// Closer is embedded in Store.
type Closer interface {
	Close() error
}

// Item is stored.
type Item struct{ Key string }

//breakerbox:guard prefix=store. policy=store timeout=1500ms fallback=stale,empty ctx=background
type Store interface {
	Closer

	// Get takes its name from the prefix (store.get) and the interface's
	// defaults.
	Get(ctx context.Context, key string) (*Item, error)

	// Put overrides the defaults.
	//
	//breakerbox:guard name=store.write timeout=0 fallback=queue
	Put(ctx context.Context, items ...Item) error

	//breakerbox:guard name=store.scan policy=scan
	Scan(ctx context.Context, prefix string, limit int) (items []Item, next string, err error) // named results

	Stat(key string, ctx context.Context) (int64, time.Time, http.Header, error) //breakerbox:guard name=store.stat

	// URLFor is named by the prefix as store.urlFor.
	URLFor(ctx context.Context, key string, ttl time.Duration) (string, error)

	// Reader is not guarded.
	//
	//breakerbox:guard skip
	Reader(key string) io.Reader

	//breakerbox:guard skip
	Watch(ctx context.Context, keys ...string)
}
