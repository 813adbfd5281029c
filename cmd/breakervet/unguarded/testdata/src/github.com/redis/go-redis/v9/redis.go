// Package redis is a stub of github.com/redis/go-redis/v9 for the
// analyzer's tests: commands live on an embedded unexported type, as in
// go-redis.
package redis

import "context"

type StringCmd struct{}

func (c *StringCmd) Err() error { return nil }

type Cmder interface{}

type cmdable func(ctx context.Context, cmd Cmder) error

func (c cmdable) Get(ctx context.Context, key string) *StringCmd { return nil }

func (c cmdable) Set(ctx context.Context, key string, v any) *StringCmd { return nil }

type Cmdable interface {
	Get(ctx context.Context, key string) *StringCmd
	Pipeline() Pipeliner
}

type Pipeliner interface {
	Get(ctx context.Context, key string) *StringCmd
	Exec(ctx context.Context) ([]Cmder, error)
}

type UniversalClient interface {
	Cmdable
	Close() error
}

type Options struct{ Addr string }

type Client struct{ cmdable }

func NewClient(o *Options) *Client { return &Client{} }

func (c *Client) Close() error { return nil }

func (c *Client) Pipeline() Pipeliner { return nil }

func (c *Client) Pipelined(ctx context.Context, fn func(Pipeliner) error) ([]Cmder, error) {
	return nil, nil
}
